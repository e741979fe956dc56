// Command mkchain writes a small chain that crosses every Ethereum fork from
// Frontier to BPO2 — proof-of-work blocks, the merge, then the timestamp
// forks — as genesis.json and chain.rlp (what `geth export` writes). Each
// block carries the transaction types its fork allows: legacy without and
// with EIP-155, access lists, dynamic fees, blobs and set-code, plus a
// contract that writes storage and logs, a revert and withdrawals. The
// import and the geth differential test run on it.
//
//	go run ./tools/mkchain -out rpc/testdata/chain
package main

import (
	"crypto/ecdsa"
	"encoding/json"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"

	"github.com/holiman/uint256"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus/beacon"
	"github.com/ethereum/go-ethereum/consensus/ethash"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
)

// Blocks are 10 s apart (GenerateChain's default), so fork at block n means
// time 10n for the timestamp forks.
const (
	mergeBlock = 10
	blocks     = 18
)

func u64(v uint64) *uint64 { return &v }

// Config is the chain's configuration: one block-numbered fork per block up
// to London, the merge at block 10, then Shanghai, Cancun, Prague, Osaka,
// BPO1 and BPO2 at blocks 11 to 16.
func Config() *params.ChainConfig {
	return &params.ChainConfig{
		ChainID:                 big.NewInt(1337),
		HomesteadBlock:          big.NewInt(1),
		EIP150Block:             big.NewInt(2),
		EIP155Block:             big.NewInt(3),
		EIP158Block:             big.NewInt(3),
		ByzantiumBlock:          big.NewInt(4),
		ConstantinopleBlock:     big.NewInt(5),
		PetersburgBlock:         big.NewInt(5),
		IstanbulBlock:           big.NewInt(6),
		MuirGlacierBlock:        big.NewInt(6),
		BerlinBlock:             big.NewInt(7),
		LondonBlock:             big.NewInt(8),
		ArrowGlacierBlock:       big.NewInt(8),
		GrayGlacierBlock:        big.NewInt(8),
		MergeNetsplitBlock:      big.NewInt(mergeBlock),
		TerminalTotalDifficulty: new(big.Int).Lsh(common.Big1, 64), // the real value is set once the chain is generated
		ShanghaiTime:            u64(110),
		CancunTime:              u64(120),
		PragueTime:              u64(130),
		OsakaTime:               u64(140),
		BPO1Time:                u64(150),
		BPO2Time:                u64(160),
		DepositContractAddress:  common.HexToAddress("0x00000000219ab540356cBB839Cbe05303d7705Fa"),
		Ethash:                  new(params.EthashConfig),
		BlobScheduleConfig: &params.BlobScheduleConfig{
			Cancun: params.DefaultCancunBlobConfig,
			Prague: params.DefaultPragueBlobConfig,
			BPO1:   params.DefaultBPO1BlobConfig,
			BPO2:   params.DefaultBPO2BlobConfig,
		},
	}
}

// keys are fixed so the chain is the same on every run.
var keys = func() []*ecdsa.PrivateKey {
	out := make([]*ecdsa.PrivateKey, 3)
	for i := range out {
		out[i], _ = crypto.ToECDSA(crypto.Keccak256([]byte(fmt.Sprintf("meganode mkchain key %d", i))))
	}
	return out
}()

// loggerCode stores the first calldata word in slot 0 and logs it under
// topic keccak("set"); calldata starting 0xff reverts.
var loggerCode = func() []byte {
	c := common.FromHex("6000356000" + "1a" + "60ff14" + "603f57") // JUMPI(63, BYTE(0, CALLDATALOAD(0)) == 0xff)
	c = append(c, common.FromHex("6000356000"+"55")...)            // SSTORE(0, CALLDATALOAD(0))
	c = append(c, common.FromHex("6000356000"+"52")...)            // MSTORE(0, CALLDATALOAD(0))
	c = append(c, 0x7f)
	c = append(c, crypto.Keccak256([]byte("set"))...)
	c = append(c, common.FromHex("60206000a1"+"00")...) // LOG1(0, 32, topic); STOP
	return append(c, common.FromHex("5b600080fd")...)   // 63: JUMPDEST; REVERT(0, 0)
}()

func deployCode(runtime []byte) []byte {
	return append(common.FromHex(fmt.Sprintf("60%02x80600b6000396000f3", len(runtime))), runtime...)
}

func main() {
	out := flag.String("out", "rpc/testdata/chain", "directory to write genesis.json and chain.rlp into")
	flag.Parse()
	if err := write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "mkchain:", err)
		os.Exit(1)
	}
}

// Generate builds the genesis and the chain.
func Generate() (*core.Genesis, []*types.Block, error) {
	config := Config()
	alloc := core.SystemContractAllocs()
	delete(alloc, params.BuilderDepositAddress)
	delete(alloc, params.BuilderExitAddress)
	for _, k := range keys {
		alloc[crypto.PubkeyToAddress(k.PublicKey)] = types.Account{Balance: new(big.Int).Mul(big.NewInt(1000), big.NewInt(params.Ether))}
	}
	genesis := &core.Genesis{Config: config, GasLimit: 30_000_000, Difficulty: new(big.Int).Set(params.MinimumDifficulty), Alloc: alloc, ExtraData: []byte("meganode mkchain")}
	addr := func(i int) common.Address { return crypto.PubkeyToAddress(keys[i].PublicKey) }
	logger := crypto.CreateAddress(addr(0), 0)
	nonces := make([]uint64, len(keys))
	var genErr error
	_, chain, _ := core.GenerateChainWithGenesis(genesis, beacon.New(ethash.NewFaker()), blocks, func(i int, b *core.BlockGen) {
		n := b.Number()
		signer := types.MakeSigner(config, n, b.Timestamp())
		send := func(from int, tx types.TxData) {
			if genErr != nil {
				return
			}
			signed, err := types.SignNewTx(keys[from], signer, tx)
			if err != nil {
				genErr = fmt.Errorf("block %d: %w", n, err)
				return
			}
			b.AddTx(signed)
			nonces[from]++
		}
		legacy := func(from int, to *common.Address, gas uint64, data []byte) {
			send(from, &types.LegacyTx{Nonce: nonces[from], To: to, Gas: gas, GasPrice: big.NewInt(50 * params.GWei), Value: big.NewInt(int64(n.Uint64())), Data: data})
		}
		word := common.BigToHash(n).Bytes()
		switch {
		case i == 0:
			legacy(0, nil, 200_000, deployCode(loggerCode))
		case !config.IsBerlin(n):
			legacy(1, &logger, 100_000, word)
		case !config.IsLondon(n):
			send(1, &types.AccessListTx{ChainID: config.ChainID, Nonce: nonces[1], To: &logger, Gas: 100_000, GasPrice: big.NewInt(50 * params.GWei), Data: word,
				AccessList: types.AccessList{{Address: logger, StorageKeys: []common.Hash{{}}}}})
		default:
			send(1, &types.DynamicFeeTx{ChainID: config.ChainID, Nonce: nonces[1], To: &logger, Gas: 100_000, GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(50 * params.GWei), Data: word})
		}
		to := addr(2)
		legacy(0, &to, params.TxGas, nil)
		if i%3 == 2 { // a call that reverts
			legacy(2, &logger, 100_000, []byte{0xff})
		}
		if config.IsShanghai(n, b.Timestamp()) {
			b.AddWithdrawal(&types.Withdrawal{Validator: uint64(i), Address: addr(2), Amount: 1_000_000})
		}
		if config.IsCancun(n, b.Timestamp()) && i%2 == 0 {
			hash := common.Hash{0x01, byte(i)}
			send(0, &types.BlobTx{ChainID: uint256.MustFromBig(config.ChainID), Nonce: nonces[0], To: logger, Gas: 100_000,
				GasTipCap: uint256.NewInt(params.GWei), GasFeeCap: uint256.NewInt(50 * params.GWei), BlobFeeCap: uint256.NewInt(params.GWei),
				BlobHashes: []common.Hash{hash}, Data: word})
		}
		if config.IsPrague(n, b.Timestamp()) && i == blocks-3 {
			// Account 2 delegates to the logger (EIP-7702); account 1 calls it.
			auth, err := types.SignSetCode(keys[2], types.SetCodeAuthorization{ChainID: *uint256.MustFromBig(config.ChainID), Address: logger, Nonce: nonces[2] + 0})
			if err != nil {
				genErr = err
				return
			}
			send(1, &types.SetCodeTx{ChainID: uint256.MustFromBig(config.ChainID), Nonce: nonces[1], To: addr(1), Gas: 100_000,
				GasTipCap: uint256.NewInt(params.GWei), GasFeeCap: uint256.NewInt(50 * params.GWei), AuthList: []types.SetCodeAuthorization{auth}})
			nonces[2]++ // the authorization bumps the authority's nonce
		}
		if config.IsPrague(n, b.Timestamp()) && i == blocks-2 {
			delegated := addr(2)
			send(1, &types.DynamicFeeTx{ChainID: config.ChainID, Nonce: nonces[1], To: &delegated, Gas: 100_000, GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(50 * params.GWei), Data: word})
		}
	})
	if genErr != nil {
		return nil, nil, genErr
	}
	// The terminal total difficulty is what the proof-of-work blocks add up to.
	td := new(big.Int).Set(genesis.Difficulty)
	for _, b := range chain[:mergeBlock-1] {
		td.Add(td, b.Difficulty())
	}
	config.TerminalTotalDifficulty = td
	return genesis, chain, nil
}

func write(dir string) error {
	genesis, chain, err := Generate()
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
