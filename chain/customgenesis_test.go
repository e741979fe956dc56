package chain

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
)

var predeploy = common.HexToAddress("0x00000000000000000000000000000000000c0de1")

// devGenesis is go-ethereum's --dev genesis (every fork through Osaka, the
// system contracts), as a user would export it, with one predeploy.
func devGenesis() *core.Genesis {
	faucet := common.HexToAddress("0x00000000000000000000000000000000000fa0c7")
	g := core.DeveloperGenesisBlock(30_000_000, &faucet)
	g.Config.ChainID = big.NewInt(777)
	g.Config.BogotaTime = nil
	g.Alloc[predeploy] = types.Account{Code: common.FromHex("0x60005460005260206000f3"), Balance: big.NewInt(0)}
	return g
}

func TestCheckGenesis(t *testing.T) {
	if err := CheckGenesis(devGenesis()); err != nil {
		t.Fatalf("geth's dev genesis refused: %v", err)
	}
	zero := uint64(0)
	for _, c := range []struct {
		name string
		edit func(*core.Genesis)
		want string
	}{
		{"no config", func(g *core.Genesis) { g.Config = nil }, "no chain config"},
		{"chain id 0", func(g *core.Genesis) { g.Config.ChainID = big.NewInt(0) }, "chainId must be positive"},
		{"pre-London", func(g *core.Genesis) { g.Config.LondonBlock = big.NewInt(5) }, "londonBlock must be 0"},
		{"proof of work", func(g *core.Genesis) { g.Config.TerminalTotalDifficulty = nil }, "terminalTotalDifficulty must be 0"},
		{"clique", func(g *core.Genesis) { g.Config.Clique = &params.CliqueConfig{Period: 1} }, "clique and ethash"},
		{"pre-Shanghai", func(g *core.Genesis) {
			g.Config.ShanghaiTime, g.Config.CancunTime, g.Config.PragueTime, g.Config.OsakaTime = nil, nil, nil, nil
		}, "shanghaiTime"},
		{"Amsterdam", func(g *core.Genesis) { g.Config.AmsterdamTime = &zero }, "amsterdamTime is set"},
		{"Prague without its queue", func(g *core.Genesis) { delete(g.Alloc, params.WithdrawalQueueAddress) }, "EIP-7002 withdrawal request contract"},
		{"tiny gas limit", func(g *core.Genesis) { g.GasLimit = 100 }, "gasLimit 100"},
	} {
		g := devGenesis()
		c.edit(g)
		if err := CheckGenesis(g); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
}

// A custom genesis is used as given by every role; a dev chain adds its
// funded dev accounts where the file has none.
func TestCustomGenesis(t *testing.T) {
	file := devGenesis()
	held, _ := DeriveAccounts(DefaultMnemonic, 1)
	file.Alloc[held[0].Address] = types.Account{Balance: big.NewInt(7)}
	cfg := DefaultConfig()
	cfg.Custom, cfg.ChainID, cfg.GasLimit = file, 777, file.GasLimit

	g, accounts, err := Genesis(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Alloc) != len(file.Alloc) || g.ToBlock().Hash() != file.ToBlock().Hash() {
		t.Fatal("a role changed the genesis file's alloc")
	}
	if cfg.ChainConfig().ChainID.Uint64() != 777 || len(accounts) != cfg.Accounts {
		t.Fatalf("chain id %d, %d accounts", cfg.ChainConfig().ChainID, len(accounts))
	}

	cfg.DevAccounts = true
	g, accounts, err = Genesis(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Alloc[accounts[0].Address].Balance; got.Int64() != 7 {
		t.Fatalf("dev account the file funds has %s, want the file's 7", got)
	}
	if got := g.Alloc[accounts[1].Address].Balance; got.Cmp(cfg.AccountFunds) != 0 {
		t.Fatalf("dev account the file leaves out has %s, want %s", got, cfg.AccountFunds)
	}
	if len(file.Alloc) != len(devGenesis().Alloc)+1 {
		t.Fatal("the dev chain's accounts went into the caller's genesis")
	}
	if len(g.Alloc[predeploy].Code) == 0 {
		t.Fatal("the predeploy is gone")
	}

	cfg.Fork = &ForkPoint{Number: 5}
	if _, _, err := Genesis(cfg); err == nil {
		t.Fatal("a forked chain accepted a genesis file")
	}
}

// A follower handed block 1 of another genesis refuses it naming both
// genesis hashes, whatever the rest of the block.
func TestBlockOfAnotherGenesis(t *testing.T) {
	mine, theirs := devGenesis(), devGenesis()
	theirs.Alloc[common.HexToAddress("0x0ddba11")] = types.Account{Balance: big.NewInt(1)}
	parent, other := mine.ToBlock().Header(), theirs.ToBlock().Hash()
	block := types.NewBlockWithHeader(&types.Header{ParentHash: other, Number: big.NewInt(1)})
	err := CheckBody(mine.Config, parent, block, nil)
	if !errors.Is(err, ErrBadBlock) {
		t.Fatalf("got %v, want ErrBadBlock", err)
	}
	for _, want := range []string{other.Hex(), parent.Hash().Hex(), "the sequencer runs another genesis"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
