// Command logchain writes the chain the eth_getLogs bench (bench/logs.sh)
// imports into meganode and geth: post-merge from genesis (every fork up to
// Prague at block 0 and time 0), -blocks blocks of four transactions each,
// every block holding exactly ten logs from two emitter contracts:
//
//	token A, Transfer(from, to, value): 7 logs, exactly one to Target
//	token A, Approval(owner, spender, value): 1 log, spender Target
//	token B, Transfer(from, to, value): 2 logs, one to Target
//
// So address A with topics [Transfer, null, Target] matches one log per
// block, 1 in 10 of all logs, and address A with [Transfer] seven. The
// emitters sit in the genesis alloc, so logs start at block 1. It writes
// genesis.json, chain.rlp (as `geth export` does) and logs.json, which names
// the addresses and topics for the bench.
//
//	go run ./tools/logchain -blocks 10000 -out /tmp/logchain
package main

import (
	"crypto/ecdsa"
	"encoding/json"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus/beacon"
	"github.com/ethereum/go-ethereum/consensus/ethash"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
)

// emitterCode logs one LOG3(topic0, caller, to) per calldata word after the
// first, topic0 being the first word and the data the block number:
//
//	for i := 32; i < calldatasize; i += 32 { mstore(0, number); log3(0, 32, cd[0], caller, cd[i]) }
var emitterCode = common.FromHex("6020" + "5b" + "36" + "81" + "10" + "15" + "601f" + "57" + // 02: loop; exit to 1f when !(i < cds)
	"43600052" + // mstore(0, number)
	"8035" + "33" + "600035" + "60206000" + "a3" + // log3(0, 32, cd[0], caller, cd[i])
	"602001" + "6002" + "56" + // i += 32; jump loop
	"5b00") // 1f: stop

var (
	TransferTopic = crypto.Keccak256Hash([]byte("Transfer(address,address,uint256)"))
	ApprovalTopic = crypto.Keccak256Hash([]byte("Approval(address,address,uint256)"))
	TokenA        = common.HexToAddress("0x000000000000000000000000000000000000a11a")
	TokenB        = common.HexToAddress("0x000000000000000000000000000000000000b22b")
	Target        = common.HexToAddress("0x7a76e70000000000000000000000000000007a76")
)

var keys = func() []*ecdsa.PrivateKey {
	out := make([]*ecdsa.PrivateKey, 4)
	for i := range out {
		out[i], _ = crypto.ToECDSA(crypto.Keccak256([]byte(fmt.Sprintf("meganode logchain key %d", i))))
	}
	return out
}()

// Meta is logs.json: what the bench queries and what it must find.
type Meta struct {
	Blocks        uint64         `json:"blocks"`
	TokenA        common.Address `json:"tokenA"`
	TokenB        common.Address `json:"tokenB"`
	Target        common.Hash    `json:"target"` // Target as a topic
	TransferTopic common.Hash    `json:"transferTopic"`
	ApprovalTopic common.Hash    `json:"approvalTopic"`
	LogsPerBlock  int            `json:"logsPerBlock"`
	// Per block: A Transfer to Target, and A Transfer to anyone.
	TargetPerBlock    int `json:"targetPerBlock"`
	TransfersPerBlock int `json:"transfersPerBlock"`
}

func u64(v uint64) *uint64 { return &v }

// Config is post-merge from genesis up to Prague: what both geth's import
// and meganode's (go-ethereum's block processor under the genesis rules)
// accept.
func Config() *params.ChainConfig {
	zero := big.NewInt(0)
	return &params.ChainConfig{
		ChainID: big.NewInt(1337), HomesteadBlock: zero, EIP150Block: zero, EIP155Block: zero, EIP158Block: zero,
		ByzantiumBlock: zero, ConstantinopleBlock: zero, PetersburgBlock: zero, IstanbulBlock: zero, MuirGlacierBlock: zero,
		BerlinBlock: zero, LondonBlock: zero, ArrowGlacierBlock: zero, GrayGlacierBlock: zero, MergeNetsplitBlock: zero,
		TerminalTotalDifficulty: zero,
		ShanghaiTime:            u64(0), CancunTime: u64(0), PragueTime: u64(0),
		DepositContractAddress: common.HexToAddress("0x00000000219ab540356cBB839Cbe05303d7705Fa"),
		BlobScheduleConfig:     &params.BlobScheduleConfig{Cancun: params.DefaultCancunBlobConfig, Prague: params.DefaultPragueBlobConfig},
	}
}

func word(a common.Address) []byte { return common.LeftPadBytes(a[:], 32) }

// other is a recipient that is never Target, different in every log.
func other(block uint64, i int) []byte {
	return word(common.BytesToAddress(crypto.Keccak256([]byte(fmt.Sprintf("logchain %d %d", block, i)))))
}

func calldata(topic common.Hash, tos ...[]byte) []byte {
	out := append([]byte{}, topic[:]...)
	for _, t := range tos {
		out = append(out, t...)
	}
	return out
}

// Generate builds the genesis and n blocks.
func Generate(n int) (*core.Genesis, []*types.Block, error) {
	config := Config()
	alloc := core.SystemContractAllocs()
	delete(alloc, params.BuilderDepositAddress)
	delete(alloc, params.BuilderExitAddress)
	for _, k := range keys {
		alloc[crypto.PubkeyToAddress(k.PublicKey)] = types.Account{Balance: new(big.Int).Mul(big.NewInt(1_000_000), big.NewInt(params.Ether))}
	}
	alloc[TokenA] = types.Account{Code: emitterCode, Balance: new(big.Int)}
	alloc[TokenB] = types.Account{Code: emitterCode, Balance: new(big.Int)}
	genesis := &core.Genesis{Config: config, GasLimit: 30_000_000, Difficulty: new(big.Int), Alloc: alloc, ExtraData: []byte("meganode logchain"),
		BaseFee: big.NewInt(params.InitialBaseFee)}
	signer := types.LatestSigner(config)
	nonces := make([]uint64, len(keys))
	target := word(Target)
	var genErr error
	_, chain, _ := core.GenerateChainWithGenesis(genesis, beacon.New(ethash.NewFaker()), n, func(i int, b *core.BlockGen) {
		num := b.Number().Uint64()
		send := func(from int, to common.Address, data []byte) {
			if genErr != nil {
				return
			}
			tx, err := types.SignNewTx(keys[from], signer, &types.DynamicFeeTx{ChainID: config.ChainID, Nonce: nonces[from], To: &to, Gas: 100_000,
				GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(50 * params.GWei), Data: data})
			if err != nil {
				genErr = fmt.Errorf("block %d: %w", num, err)
				return
			}
			b.AddTx(tx)
			nonces[from]++
		}
		send(0, TokenA, calldata(TransferTopic, target, other(num, 0), other(num, 1), other(num, 2)))
		send(1, TokenA, calldata(TransferTopic, other(num, 3), other(num, 4), other(num, 5)))
		send(2, TokenA, calldata(ApprovalTopic, target))
		send(3, TokenB, calldata(TransferTopic, target, other(num, 6)))
	})
	if genErr != nil {
		return nil, nil, genErr
	}
	return genesis, chain, nil
}

func main() {
	out := flag.String("out", "logchain", "directory to write genesis.json, chain.rlp and logs.json into")
	n := flag.Int("blocks", 10_000, "blocks after genesis")
	flag.Parse()
	if err := write(*out, *n); err != nil {
		fmt.Fprintln(os.Stderr, "logchain:", err)
		os.Exit(1)
	}
}

func write(dir string, n int) error {
	genesis, chain, err := Generate(n)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	g, err := json.MarshalIndent(genesis, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "genesis.json"), append(g, '\n'), 0o644); err != nil {
		return err
	}
	m, _ := json.MarshalIndent(Meta{Blocks: uint64(n), TokenA: TokenA, TokenB: TokenB, Target: common.BytesToHash(word(Target)),
		TransferTopic: TransferTopic, ApprovalTopic: ApprovalTopic, LogsPerBlock: 10, TargetPerBlock: 1, TransfersPerBlock: 7}, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "logs.json"), append(m, '\n'), 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "chain.rlp"))
	if err != nil {
		return err
	}
	defer f.Close()
	for _, b := range chain {
		if err := rlp.Encode(f, b); err != nil {
			return err
		}
	}
	fmt.Printf("wrote %d blocks to %s (genesis %s, head %s)\n", len(chain), dir, genesis.ToBlock().Hash(), chain[len(chain)-1].Hash())
	return f.Close()
}
