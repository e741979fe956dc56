package rpc

import (
	"bytes"
	"encoding/json"
	"math/big"
	"testing"

	"github.com/holiman/uint256"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
)

// The decoders of JSON-RPC params that this package owns (the rest are
// go-ethereum's, reached through the whole server in FuzzServe): each
// target decodes arbitrary bytes, runs what a method does next with the
// value short of executing, and wants an error, never a panic; values that
// have an encoding must survive it.

func FuzzRawTransaction(f *testing.F) {
	key, _ := crypto.ToECDSA(crypto.Keccak256([]byte("meganode rpc fuzz")))
	cfg := params.MergedTestChainConfig
	signer := types.LatestSigner(cfg)
	to := common.HexToAddress("0xbeef")
	for _, data := range []types.TxData{
		&types.LegacyTx{Nonce: 1, To: &to, Gas: params.TxGas, GasPrice: big.NewInt(params.GWei), Value: big.NewInt(1)},
		&types.AccessListTx{ChainID: cfg.ChainID, Nonce: 2, To: &to, Gas: 30_000, GasPrice: big.NewInt(params.GWei), AccessList: types.AccessList{{Address: to, StorageKeys: []common.Hash{{1}}}}},
		&types.DynamicFeeTx{ChainID: cfg.ChainID, Nonce: 3, Gas: 100_000, GasFeeCap: big.NewInt(params.GWei), Data: []byte{0x60, 0x00}},
		&types.SetCodeTx{ChainID: uint256.MustFromBig(cfg.ChainID), Nonce: 4, To: to, Gas: 60_000, GasFeeCap: uint256.NewInt(params.GWei), AuthList: []types.SetCodeAuthorization{{Address: to, Nonce: 5}}},
	} {
		raw, err := types.MustSignNewTx(key, signer, data).MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	head := &types.Header{Number: big.NewInt(1), GasLimit: chain.DefaultGasLimit, BaseFee: big.NewInt(params.GWei), Time: 1, Difficulty: new(big.Int)}
	f.Fuzz(func(t *testing.T, raw []byte) {
		tx := new(types.Transaction)
		if err := tx.UnmarshalBinary(raw); err != nil {
			return
		}
		enc, err := tx.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded tx does not encode: %v", err)
		}
		back := new(types.Transaction)
		if err := back.UnmarshalBinary(enc); err != nil || back.Hash() != tx.Hash() {
			t.Fatalf("tx changes through its encoding (%v)", err)
		}
		// What admission does next (sequencer.Pool.Add).
		_, _ = chain.ValidateTx(cfg, signer, tx, head)
	})
}

func FuzzFilterCriteria(f *testing.F) {
	for _, s := range []string{
		`{"fromBlock":"0x1","toBlock":"latest","address":"0x000000000000000000000000000000000000beef","topics":["0x0000000000000000000000000000000000000000000000000000000000000001",null,["0x0000000000000000000000000000000000000000000000000000000000000002",null]]}`,
		`{"blockHash":"0x0000000000000000000000000000000000000000000000000000000000000003","address":["0x000000000000000000000000000000000000beef"]}`,
		`{"fromBlock":"pending","toBlock":"safe","cursor":"0x000000000000000100000002"}`,
		`{"fromBlock":"earliest","topics":[[],[null]]}`,
	} {
		f.Add([]byte(s))
	}
	log := &types.Log{Address: common.HexToAddress("0xbeef"), Topics: []common.Hash{{1}, {2}}}
	bloom := types.CreateBloom(&types.Receipt{Logs: []*types.Log{log}})
	f.Fuzz(func(t *testing.T, data []byte) {
		var crit CursorFilter
		if err := json.Unmarshal(data, &crit); err != nil {
			return
		}
		if crit.BlockHash != nil && (crit.FromBlock != nil || crit.ToBlock != nil) {
			t.Fatal("blockHash taken with a range")
		}
		if len(crit.Topics) > 4 {
			t.Fatalf("%d topic positions taken", len(crit.Topics))
		}
		if crit.matches(log) && !crit.bloomMatches(bloom) {
			t.Fatal("the bloom rules out a log the filter matches")
		}
		if crit.Cursor != "" {
			if c, err := parseLogCursor(crit.Cursor); err == nil {
				if back, err := parseLogCursor(c.String()); err != nil || back != c {
					t.Fatalf("cursor %q changes through String: %v", crit.Cursor, err)
				}
			}
		}
	})
}

func FuzzBlockNumberOrHash(f *testing.F) {
	for _, s := range []string{`"latest"`, `"pending"`, `"safe"`, `"finalized"`, `"earliest"`, `"0x10"`, `16`,
		`"0x0000000000000000000000000000000000000000000000000000000000000001"`,
		`{"blockHash":"0x0000000000000000000000000000000000000000000000000000000000000001","requireCanonical":true}`,
		`{"blockNumber":"0x5"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var n gethrpc.BlockNumber
		if json.Unmarshal(data, &n) == nil {
			text, err := n.MarshalText()
			if err != nil {
				t.Fatal(err)
			}
			var back gethrpc.BlockNumber
			if err := json.Unmarshal(append(append([]byte{'"'}, text...), '"'), &back); err != nil || back != n {
				t.Fatalf("block number %s changes through its text: %v", text, err)
			}
		}
		var bnh gethrpc.BlockNumberOrHash
		if json.Unmarshal(data, &bnh) == nil {
			_, hasHash := bnh.Hash()
			_, hasNumber := bnh.Number()
			if hasHash == hasNumber {
				t.Fatalf("block %s names a hash and a number, or neither", data)
			}
		}
	})
}

func FuzzStateOverride(f *testing.F) {
	for _, s := range []string{
		`{"0x000000000000000000000000000000000000beef":{"balance":"0x1","nonce":"0x2","code":"0x6000","state":{"0x0000000000000000000000000000000000000000000000000000000000000001":"0x0000000000000000000000000000000000000000000000000000000000000002"}}}`,
		`{"0x000000000000000000000000000000000000beef":{"stateDiff":{"0x0000000000000000000000000000000000000000000000000000000000000001":"0x0000000000000000000000000000000000000000000000000000000000000002"}}}`,
		`{"0x0000000000000000000000000000000000000001":{"movePrecompileToAddress":"0x000000000000000000000000000000000000beef"}}`,
		`{"0x000000000000000000000000000000000000beef":{"state":{},"stateDiff":{}}}`,
	} {
		f.Add([]byte(s))
	}
	db := state.NewDatabaseForTesting()
	f.Fuzz(func(t *testing.T, data []byte) {
		var o StateOverride
		if err := json.Unmarshal(data, &o); err != nil {
			return
		}
		st, err := state.New(types.EmptyRootHash, db)
		if err != nil {
			t.Fatal(err)
		}
		_ = o.apply(st)
		_, _ = o.toChain(true)
	})
}

func FuzzSimulateOpts(f *testing.F) {
	for _, s := range []string{
		`{"blockStateCalls":[{"blockOverrides":{"number":"0x10","time":"0x20","baseFeePerGas":"0x1"},"stateOverrides":{"0x000000000000000000000000000000000000beef":{"balance":"0xde0b6b3a7640000"}},"calls":[{"from":"0x000000000000000000000000000000000000beef","to":"0x0000000000000000000000000000000000000001","value":"0x1"}]}],"traceTransfers":true,"validation":true}`,
		`{"blockStateCalls":[{"calls":[{"input":"0x6000","gas":"0x5208"}]},{"blockOverrides":{"withdrawals":[{"index":"0x0","validatorIndex":"0x1","address":"0x000000000000000000000000000000000000beef","amount":"0x2"}]}}],"returnFullTransactions":true}`,
		`{"blockStateCalls":[{"blockOverrides":{"numbr":"0x1"}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var opts simOpts
		if err := json.Unmarshal(data, &opts); err != nil {
			return
		}
		for _, b := range opts.BlockStateCalls {
			if _, err := b.toChain(); err != nil {
				return
			}
			for _, c := range b.Calls {
				if c.check() == nil {
					_ = c.callMsg()
				}
			}
		}
	})
}

func FuzzTransactionArgs(f *testing.F) {
	for _, s := range []string{
		`{"from":"0x000000000000000000000000000000000000beef","to":"0x0000000000000000000000000000000000000001","gas":"0x5208","maxFeePerGas":"0x2","maxPriorityFeePerGas":"0x1","value":"0x1","input":"0x00"}`,
		`{"gasPrice":"0x1","data":"0x01","input":"0x02","accessList":[{"address":"0x000000000000000000000000000000000000beef","storageKeys":[]}]}`,
		`{"authorizationList":[{"chainId":"0x1","address":"0x000000000000000000000000000000000000beef","nonce":"0x0","yParity":"0x0","r":"0x1","s":"0x1"}],"type":"0x4"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var a TransactionArgs
		if err := json.Unmarshal(data, &a); err != nil || a.check() != nil {
			return
		}
		m := a.callMsg()
		if a.Input != nil && !bytes.Equal(m.Data, *a.Input) {
			t.Fatal("call data is not the input")
		}
	})
}
