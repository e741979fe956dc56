package sequencer

import (
	"math/big"
	"strings"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/params"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/l1"
	"github.com/meganode/meganode/storage"
)

// fakeL1 is a DepositSource over a list of L1 blocks with deposits.
type fakeL1 struct {
	mu     sync.Mutex
	blocks []chain.L1Deposits
	head   chain.L1Origin
	asked  []chain.L1Origin // the cursors Since was called with
	gone   chain.L1Origin   // a cursor reorged out of the L1
}

func (f *fakeL1) Since(after chain.L1Origin) ([]chain.L1Deposits, chain.L1Origin, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, after)
	if after == f.gone && after != (chain.L1Origin{}) {
		return nil, after, &l1.CursorReorgedError{Cursor: after}
	}
	var out []chain.L1Deposits
	for _, b := range f.blocks {
		if b.Origin.Number > after.Number {
			out = append(out, b)
		}
	}
	return out, f.head, nil
}

func (f *fakeL1) add(number uint64, ds ...*chain.Deposit) chain.L1Origin {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := chain.L1Origin{Number: number, Hash: common.BigToHash(big.NewInt(int64(number)))}
	if len(ds) > 0 {
		f.blocks = append(f.blocks, chain.L1Deposits{Origin: o, Deposits: ds})
	}
	f.head = o
	return o
}

func deposit(src byte, to common.Address, mint int64, gas uint64) *chain.Deposit {
	return &chain.Deposit{SourceHash: common.Hash{src}, From: common.HexToAddress("0xa11ce"), To: &to,
		Mint: big.NewInt(mint), Value: big.NewInt(mint), Gas: gas}
}

// TestDepositsRunFirst: the deposits of confirmed L1 blocks run at the start
// of the next block the sequencer opens, travel in its first mini-block and
// its sealed bundle with the cursor, are stored, and are not taken again.
func TestDepositsRunFirst(t *testing.T) {
	l1 := &fakeL1{}
	bob, carol := common.HexToAddress("0xb0b"), common.HexToAddress("0xca201")
	o5 := l1.add(5, deposit(1, bob, 7, 50_000), deposit(2, carol, 3, 50_000))
	e := newEnvWith(t, "", func(c *Config) { c.Deposits = l1 })
	minis, blocks := e.seq.MiniBlocks(1000), e.seq.Blocks(10)
	if err := e.seq.SendTransaction(e.tx(0, 0, gwei, 10*gwei)); err != nil {
		t.Fatal(err)
	}
	e.tick()
	mb := <-minis.C()
	if mb.Index != 0 || len(mb.Deposits) != 2 || len(mb.DepositReceipts) != 2 || len(mb.Txs) != 1 {
		t.Fatalf("first mini-block: index %d, %d deposits, %d deposit receipts, %d txs; want 0, 2, 2, 1", mb.Index, len(mb.Deposits), len(mb.DepositReceipts), len(mb.Txs))
	}
	if mb.DepositReceipts[0].BlockHash != chain.PreconfBlockHash || mb.Receipts[0].TransactionIndex != 2 {
		t.Fatalf("preconfirmed deposit receipt block hash %s, tx index %d; want the sentinel and 2", mb.DepositReceipts[0].BlockHash, mb.Receipts[0].TransactionIndex)
	}
	if mb.GasUsed != 2*params.TxGas+params.TxGas {
		t.Fatalf("first mini-block gas %d, want the deposits' and the tx's %d", mb.GasUsed, 3*params.TxGas)
	}
	st, _, err := e.seq.LatestState()
	if err != nil {
		t.Fatal(err)
	}
	if got := st.GetBalance(bob).Uint64(); got != 7 {
		t.Fatalf("bob's balance after the deposit %d, want 7", got)
	}
	for range 99 {
		e.tick()
	}
	m := <-blocks.C()
	b := m.Bundle
	if len(b.Deposits) != 2 || b.L1Origin != o5 {
		t.Fatalf("sealed bundle: %d deposits, cursor %+v; want 2 and %+v", len(b.Deposits), b.L1Origin, o5)
	}
	if err := chain.CheckBodyWithDeposits(e.cfg, e.store.GetHeaderByNumber(0), b.Block, b.Receipts, b.Deposits, b.DepositReceipts); err != nil {
		t.Fatalf("sealed block fails the followers' body check: %v", err)
	}
	if d, r, _, n, i := e.store.Deposit(b.Deposits[1].Hash()); d == nil || n != 1 || i != 1 || r.Status != 1 {
		t.Fatalf("stored deposit: %v block %d index %d", d, n, i)
	}
	// Block 2 asks from block 1's cursor and takes nothing again; a new L1
	// block without deposits still moves the cursor.
	o6 := l1.add(6)
	for range 100 {
		e.tick()
	}
	l1.mu.Lock()
	asked := append([]chain.L1Origin(nil), l1.asked...)
	l1.mu.Unlock()
	if len(asked) < 2 || asked[0] != (chain.L1Origin{}) || asked[1] != o5 {
		t.Fatalf("cursors asked %+v, want zero then %+v", asked, o5)
	}
	b2, err := e.store.Bundle(2)
	if err != nil || b2 == nil {
		t.Fatalf("block 2: %v", err)
	}
	if len(b2.Deposits) != 0 || b2.L1Origin != o5 {
		t.Fatalf("block 2: %d deposits cursor %+v, want none and %+v (opened before L1 block 6)", len(b2.Deposits), b2.L1Origin, o5)
	}
	for range 100 {
		e.tick()
	}
	if o, _ := e.store.L1Origin(3); o != o6 {
		t.Fatalf("block 3 cursor %+v, want the empty L1 block 6 %+v", o, o6)
	}
}

// TestDepositsOfAnL1BlockGoInWhole: an L1 block's deposits that no longer
// fit in the block wait, all of them, for the next one, and the cursor
// stops before them. The rule is a transaction's: the deposits' gas limits
// must fit in the gas the block has left.
func TestDepositsOfAnL1BlockGoInWhole(t *testing.T) {
	l1 := &fakeL1{}
	bob := common.HexToAddress("0xb0b")
	ccfg := chain.DefaultConfig()
	ccfg.GasLimit = 1_000_000
	limit := ccfg.GasLimit
	// A creation whose code loops uses all its gas.
	spin := &chain.Deposit{SourceHash: common.Hash{9}, From: bob, Mint: new(big.Int), Value: new(big.Int), Gas: limit/2 + 1, Data: common.FromHex("5b600056")}
	o1 := l1.add(1, spin)
	o2 := l1.add(2, deposit(2, bob, 1, limit/4), deposit(3, bob, 1, limit/4))
	e := newEnvOf(t, ccfg, storage.Config{}, func(c *Config) { c.Deposits, c.GasLimit = l1, limit })
	if got := e.store.CurrentHeader().GasLimit; got != limit {
		t.Fatalf("genesis gas limit %d, want %d", got, limit)
	}
	for range 200 {
		e.tick()
	}
	b1, _ := e.store.Bundle(1)
	b2, _ := e.store.Bundle(2)
	if b1 == nil || b2 == nil {
		t.Fatal("blocks 1 and 2 not sealed")
	}
	if len(b1.Deposits) != 1 || b1.L1Origin != o1 {
		t.Fatalf("block 1: %d deposits, cursor %+v; want 1 and %+v", len(b1.Deposits), b1.L1Origin, o1)
	}
	if len(b2.Deposits) != 2 || b2.L1Origin != o2 {
		t.Fatalf("block 2: %d deposits, cursor %+v; want 2 and %+v", len(b2.Deposits), b2.L1Origin, o2)
	}
}

// TestStandbyRunsTheLeadersDeposits: a standby never reads the L1 (its own
// source here has nothing); it runs the deposits of the leader's first
// mini-block entry and seals the leader's hashes.
func TestStandbyRunsTheLeadersDeposits(t *testing.T) {
	var log []Entry
	l1 := &fakeL1{}
	bob := common.HexToAddress("0xb0b")
	o3 := l1.add(3, deposit(1, bob, 5, 50_000))
	a := newEnvWith(t, "", func(c *Config) { c.HA, c.Deposits = true, l1 })
	a.seq.SetFence(&memFence{log: &log, head: func() uint64 { return a.store.CurrentHeader().Number.Uint64() }, leader: "a"})
	b := newEnvWith(t, "", func(c *Config) { c.HA, c.Deposits = true, &fakeL1{} })
	b.seq.SetFence(&memFence{log: &log, head: func() uint64 { return b.store.CurrentHeader().Number.Uint64() }, leader: "a"})
	if err := a.seq.Lead(nil); err != nil {
		t.Fatal(err)
	}
	for range 200 {
		a.tick()
	}
	b.seq.Follow(log)
	if a.store.CurrentHeader().Number.Uint64() != 2 {
		t.Fatalf("leader at block %d, want 2", a.store.CurrentHeader().Number)
	}
	var with uint64
	for n := uint64(1); n <= 2; n++ {
		ba, _ := a.store.Bundle(n)
		if len(ba.Deposits) == 1 && ba.L1Origin == o3 {
			with = n
		}
		if ha, hb := a.store.GetHeaderByNumber(n), b.store.GetHeaderByNumber(n); hb == nil || ha.Hash() != hb.Hash() {
			t.Fatalf("block %d: standby %v, leader %s", n, hb, ha.Hash())
		}
	}
	if with == 0 {
		t.Fatal("no leader block took the deposit")
	}
	if o, _ := b.store.L1Origin(with); o != o3 {
		t.Fatalf("standby's cursor of block %d %+v, want %+v", with, o, o3)
	}
}

// TestDepositsStopOnAReorgedCursor: once the L1 source reports the chain's
// cursor reorged out, blocks go on without deposits and keep that cursor
// (the rewind that would re-derive them is not done yet), and the log says
// why, once.
func TestDepositsStopOnAReorgedCursor(t *testing.T) {
	src := &fakeL1{}
	bob := common.HexToAddress("0xb0b")
	o5 := src.add(5, deposit(1, bob, 7, 50_000))
	e := newEnvWith(t, "", func(c *Config) { c.Deposits = src })
	for range 100 {
		e.tick()
	}
	if o, _ := e.store.L1Origin(1); o != o5 {
		t.Fatalf("block 1 cursor %+v, want %+v", o, o5)
	}
	src.mu.Lock()
	src.gone = o5
	src.mu.Unlock()
	src.add(6, deposit(2, bob, 9, 50_000))
	for range 300 {
		e.tick()
	}
	for n := uint64(2); n <= 4; n++ {
		b, err := e.store.Bundle(n)
		if err != nil || b == nil {
			t.Fatalf("block %d not sealed after the reorg (%v): production stopped", n, err)
		}
		if len(b.Deposits) != 0 || b.L1Origin != o5 {
			t.Fatalf("block %d: %d deposits, cursor %+v; want none and still %+v", n, len(b.Deposits), b.L1Origin, o5)
		}
	}
	const msg = "L1 reorg replaced the chain's L1 cursor"
	if n := strings.Count(e.logs.String(), msg); n != 1 {
		t.Fatalf("%q logged %d times, want once:\n%s", msg, n, e.logs.String())
	}
	// The L1 goes back to the branch of the cursor: deposits resume.
	src.mu.Lock()
	src.gone = chain.L1Origin{}
	src.mu.Unlock()
	for range 200 {
		e.tick()
	}
	var got int
	for n := uint64(5); n <= e.store.CurrentHeader().Number.Uint64(); n++ {
		if b, _ := e.store.Bundle(n); b != nil {
			got += len(b.Deposits)
		}
	}
	if got != 1 || !strings.Contains(e.logs.String(), "deposits resume") {
		t.Fatalf("after the cursor is canonical again: %d deposits taken, want L1 block 6's one", got)
	}
}
