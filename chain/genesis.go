package chain

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"os"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
)

// CREATE2DeployerAddress is the deterministic deployment proxy forge scripts
// use to deploy with a salt.
var CREATE2DeployerAddress = params.DeterministicFactoryAddress

// Genesis returns the devnet genesis: the system contracts the forks through
// Osaka call into, the CREATE2 deployer, Multicall3, the L2-to-L1 message
// passer (chain.MessagePasser) and the dev accounts, each
// funded with cfg.AccountFunds.
func Genesis(cfg Config) (*core.Genesis, []DevAccount, error) {
	if err := cfg.Check(); err != nil {
		return nil, nil, err
	}
	accounts, err := DeriveAccounts(cfg.Mnemonic, cfg.Accounts)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Custom != nil {
		return customGenesis(cfg, accounts)
	}
	alloc := types.GenesisAlloc{}
	maps.Copy(alloc, core.SystemContractAllocs())
	// The Amsterdam builder queues are not part of a chain that stops at Osaka.
	delete(alloc, params.BuilderDepositAddress)
	delete(alloc, params.BuilderExitAddress)
	alloc[Multicall3Address] = types.Account{Nonce: 1, Code: common.FromHex(multicall3Code), Balance: common.Big0}
	alloc[MessagePasser] = types.Account{Nonce: 1, Code: MessagePasserCode(), Balance: common.Big0}
	for _, a := range accounts {
		alloc[a.Address] = types.Account{Balance: new(big.Int).Set(cfg.AccountFunds)}
	}
	for i := 0; i < cfg.StateAccounts; i++ {
		alloc[StateAccount(i)] = types.Account{Balance: big.NewInt(params.Ether)}
	}
	if _, ok := alloc[CREATE2DeployerAddress]; !ok {
		return nil, nil, fmt.Errorf("genesis lacks the CREATE2 deployer at %s", CREATE2DeployerAddress)
	}
	g := &core.Genesis{
		Config:     cfg.ChainConfig(),
		GasLimit:   cfg.GasLimit,
		Timestamp:  cfg.GenesisTime,
		BaseFee:    big.NewInt(params.InitialBaseFee),
		Difficulty: big.NewInt(0),
		Coinbase:   cfg.Coinbase,
		Alloc:      alloc,
	}
	if f := cfg.Fork; f != nil {
		g.Number, g.ParentHash, g.Timestamp = f.Number, f.ParentHash, f.Time
		if f.BaseFee != nil {
			g.BaseFee = new(big.Int).Set(f.BaseFee)
		}
	}
	return g, accounts, nil
}

// customGenesis is cfg.Custom, with the dev accounts funded on a dev chain
// where the file's alloc leaves them out.
func customGenesis(cfg Config, accounts []DevAccount) (*core.Genesis, []DevAccount, error) {
	if cfg.Fork != nil {
		return nil, nil, errors.New("a forked chain takes its state from the remote node, not a genesis file")
	}
	if err := CheckGenesis(cfg.Custom); err != nil {
		return nil, nil, err
	}
	g := *cfg.Custom
	if !cfg.DevAccounts {
		return &g, accounts, nil
	}
	g.Alloc = maps.Clone(cfg.Custom.Alloc)
	if g.Alloc == nil {
		g.Alloc = types.GenesisAlloc{}
	}
	for _, a := range accounts {
		if _, ok := g.Alloc[a.Address]; !ok {
			g.Alloc[a.Address] = types.Account{Balance: new(big.Int).Set(cfg.AccountFunds)}
		}
	}
	return &g, accounts, nil
}

// CheckGenesis refuses a genesis this node cannot run: a chain before the
// merge or without EIP-1559 fees from its first block, or one whose active
// forks need system contracts its alloc lacks (go-ethereum would reject
// its first block).
func CheckGenesis(g *core.Genesis) error {
	c := g.Config
	switch {
	case c == nil:
		return errors.New("genesis has no chain config")
	case c.ChainID == nil || c.ChainID.Sign() <= 0:
		return errors.New("genesis config: chainId must be positive")
	case c.LondonBlock == nil || c.LondonBlock.Sign() != 0:
		return errors.New("genesis config: londonBlock must be 0 (a rollup's blocks carry EIP-1559 fees from the first)")
	case c.TerminalTotalDifficulty == nil || c.TerminalTotalDifficulty.Sign() != 0:
		return errors.New("genesis config: terminalTotalDifficulty must be 0 (the chain is post-merge from genesis; blocks come from the sequencer)")
	case c.Clique != nil || c.Ethash != nil:
		return errors.New("genesis config: clique and ethash are proof-of-work/authority engines; a sequencer makes this chain's blocks")
	case c.ShanghaiTime == nil || *c.ShanghaiTime > g.Timestamp:
		return errors.New("genesis config: shanghaiTime must be at or before the genesis timestamp")
	case g.GasLimit < params.TxGas:
		return fmt.Errorf("genesis gasLimit %d below the %d a transfer needs", g.GasLimit, params.TxGas)
	}
	for name, t := range map[string]*uint64{"amsterdamTime": c.AmsterdamTime, "bogotaTime": c.BogotaTime, "ubtTime": c.UBTTime} {
		if t != nil {
			return fmt.Errorf("genesis config: %s is set, but this node runs the forks through Osaka (and its BPO forks) only", name)
		}
	}
	if err := c.CheckConfigForkOrder(); err != nil {
		return fmt.Errorf("genesis config: %w", err)
	}
	if c.IsPrague(new(big.Int).SetUint64(g.Number), g.Timestamp) {
		for _, sc := range []struct {
			addr common.Address
			name string
		}{
			{params.WithdrawalQueueAddress, "EIP-7002 withdrawal request"},
			{params.ConsolidationQueueAddress, "EIP-7251 consolidation request"},
		} {
			if len(g.Alloc[sc.addr].Code) == 0 {
				return fmt.Errorf("genesis alloc: Prague is active at genesis but the %s contract at %s has no code (every Prague block calls it; go-ethereum's dev genesis includes it)", sc.name, sc.addr)
			}
		}
	}
	return nil
}

// StateAccount is the i-th of Config.StateAccounts: an address nobody holds
// the key of, derived from i.
func StateAccount(i int) common.Address {
	return common.BytesToAddress(crypto.Keccak256(binary.BigEndian.AppendUint64([]byte("meganode state account"), uint64(i))))
}

// ReadGenesisFile reads a genesis.json in go-ethereum's format.
func ReadGenesisFile(path string) (*core.Genesis, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	g := new(core.Genesis)
	if err := json.Unmarshal(data, g); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if g.Config == nil {
		return nil, fmt.Errorf("%s: no chain config", path)
	}
	return g, nil
}
