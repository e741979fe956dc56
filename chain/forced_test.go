package chain

import (
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// TestForcedBlock: the forced block keeps the template's header fields and
// the transactions that still apply, runs the due deposits first, leaves
// out a transaction a deposit made invalid, is the same block each time it
// is derived, and re-executes as any block with deposits does.
func TestForcedBlock(t *testing.T) {
	c := newTestChain(t)
	parent := c.CurrentHeader()
	coinbase, to := addr("0xc0ffee"), addr("0x1234")
	h := NextHeader(c.config, parent, parent.Time+7, DefaultGasLimit-1, coinbase)
	h.MixDigest, h.Extra = common.Hash{9}, []byte("seq")
	b, err := NewBlockBuilder(c.config, c, c.db, parent, h)
	if err != nil {
		t.Fatal(err)
	}
	keep, stale := c.transfer(t, 0, 0, to, 100), c.transfer(t, 1, 0, to, 200)
	for _, tx := range []*types.Transaction{keep, stale} {
		if _, err := b.ApplyTx(tx); err != nil {
			t.Fatal(err)
		}
	}
	template, err := b.Seal()
	if err != nil {
		t.Fatal(err)
	}
	// The deposit comes from account 1: its nonce moves, so the template's
	// tx of account 1 at nonce 0 no longer applies.
	bob := addr("0xb0b")
	d := &Deposit{SourceHash: common.Hash{1}, From: c.accts[1].Address, To: &bob, Mint: ether(1), Value: ether(1), Gas: 100_000}
	cursor := L1Origin{Number: 12, Hash: common.Hash{0x12}}
	opts := ForcedOptions{Template: template.Block, Deposits: []*Deposit{d}, Cursor: cursor}
	res, err := ForcedBlock(c.config, c, c.db, parent, opts)
	if err != nil {
		t.Fatal(err)
	}
	got := res.Block.Header()
	switch {
	case got.Time != h.Time || got.Coinbase != coinbase || got.GasLimit != h.GasLimit || got.MixDigest != h.MixDigest || string(got.Extra) != "seq":
		t.Fatalf("forced header %+v does not keep the template's fields", got)
	case got.ParentHash != parent.Hash() || got.Number.Uint64() != 1:
		t.Fatalf("forced block %d on %s, want 1 on %s", got.Number, got.ParentHash, parent.Hash())
	case res.Block.Hash() == template.Block.Hash():
		t.Fatal("the forced block is the template")
	case len(res.Deposits) != 1 || res.Deposits[0] != d || res.L1Origin != cursor:
		t.Fatalf("deposits %v cursor %+v, want the one deposit through %+v", res.Deposits, res.L1Origin, cursor)
	case len(res.Block.Transactions()) != 1 || res.Block.Transactions()[0].Hash() != keep.Hash():
		t.Fatalf("txs %v, want only %s", res.Block.Transactions(), keep.Hash())
	case len(res.Dropped) != 1 || res.Dropped[0].Hash != stale.Hash() || res.Dropped[0].Reason == nil:
		t.Fatalf("dropped %+v, want %s with a reason", res.Dropped, stale.Hash())
	}
	again, err := ForcedBlock(c.config, c, c.db, parent, opts)
	if err != nil || again.Block.Hash() != res.Block.Hash() {
		t.Fatalf("derived again: %v (%v), want %s", again.Block.Hash(), err, res.Block.Hash())
	}
	replayed, err := ReplayWith(c.config, c, c.db, parent, res.Block, ReplayOptions{Deposits: res.Deposits})
	if err != nil || replayed.Block.Hash() != res.Block.Hash() {
		t.Fatalf("the forced block does not re-execute: %v", err)
	}
	st, err := StateAt(c.db, res.Block.Root())
	if err != nil {
		t.Fatal(err)
	}
	if st.GetBalance(bob).ToBig().Cmp(ether(1)) != 0 || st.GetBalance(to).Uint64() != 100 {
		t.Fatalf("balances bob %s, to %s: want 1 ether and 100 wei", st.GetBalance(bob), st.GetBalance(to))
	}

	// A template of another height or an old time is no template.
	for name, tc := range map[string]func(*types.Header){
		"height": func(h *types.Header) { h.Number.SetUint64(2) },
		"time":   func(h *types.Header) { h.Time = parent.Time },
	} {
		bad := types.CopyHeader(template.Block.Header())
		tc(bad)
		_, err := ForcedBlock(c.config, c, c.db, parent, ForcedOptions{Template: types.NewBlockWithHeader(bad)})
		if !errors.Is(err, ErrBadBlock) {
			t.Errorf("template with a wrong %s: %v, want ErrBadBlock", name, err)
		}
	}
}
