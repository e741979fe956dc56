package storage_test

import (
	"math/big"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/storage"
)

// TestDepositsStored writes a block that starts with two deposits (one
// logs, by creating a contract that logs in its constructor) and a
// transaction, reopens the store, and reads everything back as RPC would:
// receipts numbered after the deposits, deposits by hash, the cursor, and
// a rewind that takes it all away.
func TestDepositsStored(t *testing.T) {
	dir := t.TempDir()
	log := zerolog.New(zerolog.NewTestWriter(t))
	g, accts, err := chain.Genesis(chain.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	s, err := storage.Open(storage.Config{Dir: dir}, g, log)
	if err != nil {
		t.Fatal(err)
	}
	parent := s.CurrentHeader()
	header := chain.NextHeader(g.Config, parent, parent.Time+1, g.GasLimit, common.Address{})
	b, err := chain.NewBlockBuilder(g.Config, s, s.StateDatabase(), parent, header)
	if err != nil {
		t.Fatal(err)
	}
	alice, bob := common.HexToAddress("0xa11ce"), common.HexToAddress("0xb0b")
	// constructor: LOG0 of 32 zero bytes, deploy nothing
	logInit := common.FromHex("60206000a0")
	deposits := []*chain.Deposit{
		{SourceHash: common.HexToHash("0x01"), From: alice, To: &bob, Mint: big.NewInt(1e18), Value: big.NewInt(5), Gas: 100_000},
		{SourceHash: common.HexToHash("0x02"), From: alice, Mint: new(big.Int), Value: new(big.Int), Gas: 200_000, Data: logInit},
	}
	for _, d := range deposits {
		if _, err := b.ApplyDeposit(d); err != nil {
			t.Fatal(err)
		}
	}
	to := common.HexToAddress("0xbeef")
	tx := types.MustSignNewTx(accts[0].Key, types.LatestSigner(g.Config), &types.DynamicFeeTx{ChainID: g.Config.ChainID, To: &to, Gas: params.TxGas, GasFeeCap: big.NewInt(params.GWei * 10), Value: big.NewInt(42)})
	if _, err := b.ApplyTx(tx); err != nil {
		t.Fatal(err)
	}
	origin := chain.L1Origin{Number: 12, Hash: common.HexToHash("0x12")}
	b.SetL1Origin(origin)
	sb, err := b.Seal()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WriteSealed(sb, 3); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = storage.Open(storage.Config{Dir: dir}, g, log); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	bh := sb.Block.Hash()

	r := s.Receipts(bh, 1)
	deps, drs := s.Deposits(bh, 1)
	if len(r) != 1 || len(deps) != 2 || len(drs) != 2 {
		t.Fatalf("got %d receipts, %d deposits, %d deposit receipts; want 1, 2, 2", len(r), len(deps), len(drs))
	}
	if r[0].TransactionIndex != 2 || r[0].GasUsed != params.TxGas || r[0].CumulativeGasUsed != drs[1].CumulativeGasUsed+params.TxGas {
		t.Fatalf("tx receipt index %d gas %d cumulative %d: not numbered after the deposits (cumulative %d)", r[0].TransactionIndex, r[0].GasUsed, r[0].CumulativeGasUsed, drs[1].CumulativeGasUsed)
	}
	if drs[1].TransactionIndex != 1 || drs[1].BlockHash != bh || drs[1].TxHash != deposits[1].Hash() || len(drs[1].Logs) != 1 || drs[1].Logs[0].Index != 0 || drs[1].Logs[0].TxIndex != 1 {
		t.Fatalf("deposit receipt not derived: %+v", drs[1].Receipt)
	}
	if drs[1].ContractAddress == (common.Address{}) {
		t.Fatal("creation deposit's receipt has no contract address")
	}
	d, dr, dbh, n, idx := s.Deposit(deposits[1].Hash())
	if d == nil || d.SourceHash != deposits[1].SourceHash || dr != drs[1] || dbh != bh || n != 1 || idx != 1 {
		t.Fatalf("deposit lookup: %v %v %s %d %d", d, dr, dbh, n, idx)
	}
	if got, _, _, _ := s.Transaction(deposits[0].Hash()); got != nil {
		t.Fatal("a deposit hash looked up as a signed transaction")
	}
	if o, err := s.L1Origin(1); err != nil || o != origin {
		t.Fatalf("L1 origin %+v (%v), want %+v", o, err, origin)
	}
	m, err := s.BlockMessage(1)
	if err != nil || len(m.Bundle.Deposits) != 2 || len(m.Bundle.DepositReceipts) != 2 || m.Bundle.L1Origin != origin {
		t.Fatalf("block message lacks the deposits: %v", err)
	}
	if err := chain.CheckBodyWithDeposits(g.Config, s.GetHeaderByNumber(0), m.Bundle.Block, m.Bundle.Receipts, m.Bundle.Deposits, m.Bundle.DepositReceipts); err != nil {
		t.Fatalf("stored bundle fails the body check: %v", err)
	}

	removed, err := s.Rewind(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || len(removed[0].Receipts) != 3 || len(removed[0].Receipts[1].Logs) != 1 {
		t.Fatalf("rewind removed %+v, want one block with 3 receipts, the deposit's log second", removed)
	}
	if d, _, _, _, _ := s.Deposit(deposits[0].Hash()); d != nil {
		t.Fatal("deposit still found after the rewind")
	}
	if o, _ := s.L1Origin(1); o != (chain.L1Origin{}) {
		t.Fatalf("cursor of a rewound block: %+v", o)
	}
}

// TestForcedKept: which sequencer block a forced block replaced survives a
// reopen; any other block is not a forced one.
func TestForcedKept(t *testing.T) {
	dir := t.TempDir()
	log := zerolog.New(zerolog.NewTestWriter(t))
	g, _, err := chain.Genesis(chain.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	s, err := storage.Open(storage.Config{Dir: dir}, g, log)
	if err != nil {
		t.Fatal(err)
	}
	ours, seq := common.Hash{1}, common.Hash{2}
	if err := s.WriteForced(ours, seq); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = storage.Open(storage.Config{Dir: dir}, g, log); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, ok := s.Forced(ours); !ok || got != seq {
		t.Fatalf("forced %s: %s %v, want %s", ours, got, ok, seq)
	}
	if _, ok := s.Forced(seq); ok {
		t.Fatal("the sequencer's block reads as a forced one")
	}
}
