package l1

import (
	"math/big"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/meganode/meganode/chain"
)

// TestWindowRequired: the cursor a block of L2 time t must carry is the
// newest confirmed L1 block at or before t − window, nothing while no L1
// block is that old, and undecided until a confirmed L1 block is at least
// that new; answers do not depend on the order they are asked in.
func TestWindowRequired(t *testing.T) {
	e := newEnv(t, nil)
	f := NewDepositFeed(e.l1.Client(), e.dep.Addresses.Portal, DepositFeedConfig{Confirmations: 1}, zerolog.New(zerolog.NewTestWriter(t)))
	// L1 blocks 10 s apart after the deployment.
	for range 12 {
		e.advance(10 * time.Second)
	}
	if err := f.Poll(e.ctx); err != nil {
		t.Fatal(err)
	}
	head, _ := f.Head()
	type block struct {
		n    uint64
		time uint64
	}
	var blocks []block
	for n := uint64(0); n <= head.Number; n++ {
		h, err := e.l1.Client().HeaderByNumber(e.ctx, new(big.Int).SetUint64(n))
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, block{n, h.Time})
	}
	// want is the rule computed over every header read above.
	want := func(target uint64) (uint64, bool) {
		var n uint64
		found := false
		for _, b := range blocks {
			if b.time <= target {
				n, found = b.n, true
			}
		}
		return n, found
	}
	const size = 30
	w := NewWindow(f, size*time.Second)
	if w.Size() != 30*time.Second {
		t.Fatalf("size %v", w.Size())
	}
	top := blocks[len(blocks)-1].time
	// In time order, then backwards, then jumping about.
	var ts []uint64
	for t := blocks[1].time - 2*size; t <= top+size; t += 3 {
		ts = append(ts, t)
	}
	for i := len(ts) - 1; i >= 0; i -= 2 {
		ts = append(ts, ts[i])
	}
	ts = append(ts, ts[len(ts)/3], ts[2*len(ts)/3], ts[1])
	for _, lt := range ts {
		got, ok, err := w.Required(lt)
		if err != nil || !ok {
			t.Fatalf("t=%d: %v %v", lt, ok, err)
		}
		n, found := want(lt - size)
		switch {
		case lt < size || !found:
			if got != (chain.L1Origin{}) {
				t.Fatalf("t=%d: required %+v, want nothing", lt, got)
			}
		case got.Number != n:
			t.Fatalf("t=%d: required L1 block %d, want %d", lt, got.Number, n)
		case got.Hash != headHash(t, e, n):
			t.Fatalf("t=%d: required hash %s, not L1 block %d's", lt, got.Hash, n)
		}
	}
	// No L1 block the feed reads (from its start block on) is that old:
	// the rule asks nothing.
	late := NewDepositFeed(e.l1.Client(), e.dep.Addresses.Portal, DepositFeedConfig{Confirmations: 1, StartBlock: blocks[3].n}, zerolog.New(zerolog.NewTestWriter(t)))
	if err := late.Poll(e.ctx); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := NewWindow(late, size*time.Second).Required(blocks[3].time + size - 1); !ok || err != nil || got != (chain.L1Origin{}) {
		t.Fatalf("before the start block: %+v %v %v, want nothing", got, ok, err)
	}
	if got, ok, err := NewWindow(late, size*time.Second).Required(blocks[3].time + size); !ok || err != nil || got.Number != blocks[3].n {
		t.Fatalf("at the start block: %+v %v %v, want L1 block %d", got, ok, err, blocks[3].n)
	}
	// Past the newest confirmed L1 block's time, the L1 still to come
	// decides: not ready.
	if _, ok, err := w.Required(top + size + 1); ok || err != nil {
		t.Fatalf("beyond the confirmed L1: ready %v (%v), want not ready", ok, err)
	}
	e.advance(10 * time.Second)
	e.advance(10 * time.Second)
	if err := f.Poll(e.ctx); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := w.Required(top + size + 1); !ok || err != nil || got.Number != head.Number {
		t.Fatalf("once the L1 moved: %+v %v %v, want L1 block %d", got, ok, err, head.Number)
	}
}
