package rpc_test

import (
	"bytes"
	"context"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/rpc"
	"github.com/meganode/meganode/sequencer"
	"github.com/meganode/meganode/storage"
)

// oneL1Block is a deposit source with one confirmed L1 block of deposits.
type oneL1Block chain.L1Deposits

func (s *oneL1Block) Since(after chain.L1Origin) ([]chain.L1Deposits, chain.L1Origin, error) {
	if after.Number >= s.Origin.Number {
		return nil, after, nil
	}
	return []chain.L1Deposits{chain.L1Deposits(*s)}, s.Origin, nil
}

// newDepositNode is a chain whose block 1 starts with two deposits (a
// transfer with a mint, a creation whose constructor logs) and then holds a
// transfer; block 2 is open.
func newDepositNode(t *testing.T) string {
	t.Helper()
	return newDepositNodeAt(t, 100, 1)
}

// newDepositNodeAt is newDepositNode after steps mini-block ticks of 10 ms,
// with head the sealed head they give.
func newDepositNodeAt(t *testing.T, steps int, head uint64) string {
	t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(t))
	g, accts, err := chain.Genesis(chain.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	store, err := storage.Open(storage.Config{}, g, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	alice, bob := common.HexToAddress("0x00000000000000000000000000000000000a11ce"), common.HexToAddress("0x0000000000000000000000000000000000000b0b")
	src := &oneL1Block{Origin: chain.L1Origin{Number: 9, Hash: common.HexToHash("0x09")}, Deposits: []*chain.Deposit{
		{SourceHash: common.HexToHash("0x01"), From: alice, To: &bob, Mint: big.NewInt(params.Ether), Value: big.NewInt(params.GWei), Gas: 100_000},
		{SourceHash: common.HexToHash("0x02"), From: alice, Mint: new(big.Int), Value: new(big.Int), Gas: 200_000, Data: common.FromHex("60206000a0")},
	}}
	clock := &fixedClock{now: time.Unix(1_800_000_000, 0)}
	cfg := sequencer.DefaultConfig()
	cfg.Eager, cfg.Deposits = false, src
	seq, err := sequencer.New(cfg, store, clock, log)
	if err != nil {
		t.Fatal(err)
	}
	to := common.HexToAddress("0x000000000000000000000000000000000000beef")
	tx := types.MustSignNewTx(accts[0].Key, types.LatestSigner(g.Config), &types.DynamicFeeTx{ChainID: g.Config.ChainID, To: &to, Gas: params.TxGas, GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(10 * params.GWei), Value: big.NewInt(1)})
	if err := seq.SendTransaction(tx); err != nil {
		t.Fatal(err)
	}
	for range steps {
		clock.now = clock.now.Add(10 * time.Millisecond)
		seq.Step(true)
	}
	if n := store.CurrentHeader().Number.Uint64(); n != head {
		t.Fatalf("head %d, want %d", n, head)
	}
	srvCfg := rpc.DefaultConfig()
	srvCfg.Port = 0
	srv, err := rpc.NewServer(srvCfg, rpc.Backend{Chain: store, Latest: seq, Txs: seq, Feeds: seq, Pool: seq.Pool()}, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(context.Background()) })
	return "http://" + srv.Addr()
}

// TestDepositsGolden: deposits are served where transactions and receipts
// are, first in their block, in op-geth's shapes (testdata/deposits/).
func TestDepositsGolden(t *testing.T) {
	depositsGolden(t, newDepositNode(t), "testdata/deposits/deposits.io")
}

// TestPendingDepositsGolden: before block 1 is sealed, its preconfirmed
// deposits are in the pending block, first, and found by hash, as the
// sealed block lists them (testdata/deposits/pending.io).
func TestPendingDepositsGolden(t *testing.T) {
	depositsGolden(t, newDepositNodeAt(t, 10, 0), "testdata/deposits/pending.io")
}

func depositsGolden(t *testing.T, url, file string) {
	t.Helper()
	var out bytes.Buffer
	reqs, want := readExchanges(t, file)
	if len(reqs) == 0 {
		t.Fatal("no exchanges")
	}
	for i, req := range reqs {
		got := post(t, url, req)
		if !*update && got != want[i] {
			t.Errorf("request %s\n got: %s\nwant: %s", req, got, want[i])
		}
		out.WriteString(">> " + req + "\n<< " + got + "\n")
	}
	if *update {
		if err := os.WriteFile(file, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
