package node

import (
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/storage"
)

// TestOutputDisputeLiftedByDeletion drives a tracker's L1 events by hand
// (what its loop does with them): a bad output read in one pass over L1
// disputes its block at the pass's end, is persisted and degrades health;
// its deletion lifts it, says so and clears the alert. A restarted node is
// disputed from its heads until it reads the deletion; a pass that reads
// both the bad output and its deletion (a watcher reading the oracle's
// history again) disputes nothing.
func TestOutputDisputeLiftedByDeletion(t *testing.T) {
	g, _, err := chain.Genesis(chain.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(zerolog.NewTestWriter(t))
	dir := t.TempDir()
	store, err := storage.Open(storage.Config{Dir: dir, MinFreeMB: -1}, g, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	for range 3 {
		parent := store.CurrentHeader()
		b, err := chain.NewFaultyBlockBuilder(g.Config, store, store.StateDatabase(), parent, parent.Root,
			chain.NextHeader(g.Config, parent, parent.Time+1, g.GasLimit, common.Address{}), false)
		if err != nil {
			t.Fatal(err)
		}
		sb, err := b.Seal()
		if err != nil {
			t.Fatal(err)
		}
		if err := store.WriteSealed(sb, 0); err != nil {
			t.Fatal(err)
		}
	}
	cfg := FinalityConfig{Provers: []common.Address{{1}}, Quorum: 1, L1: true}
	bad := chain.L1Output{Index: 1, L2Block: 2, Root: common.HexToHash("0xbad"), L1Block: 7, L1Time: 100, Window: 12}
	view := chain.L1View{Head: chain.L1Block{Number: 8, Time: 110}}
	newT := func() (*tracker, *chain.Subscription[*chain.FinalityChange]) {
		t.Helper()
		tr, err := newTracker(cfg, store, common.Address{}, false, log)
		if err != nil {
			t.Fatal(err)
		}
		tr.catchUp()
		return tr, tr.FinalityChanges(64)
	}
	next := func(sub *chain.Subscription[*chain.FinalityChange]) *chain.FinalityChange {
		select {
		case c := <-sub.C():
			return c
		default:
			return nil
		}
	}

	tr, sub := newT()
	tr.handle(trackerEvent{l1Output: &bad})
	if err := tr.Healthy(); err != nil || tr.FinalityHeads().Dispute != nil {
		t.Fatalf("disputed before the pass over L1 ended: %v", err)
	}
	tr.handle(trackerEvent{l1Head: &view})
	if c := next(sub); c == nil || c.Stage != chain.StageDisputed || c.Block.Number != 2 {
		t.Fatalf("change %+v, want block 2 disputed", c)
	}
	if err := tr.Healthy(); err == nil || !strings.Contains(err.Error(), "block 2 ") || !strings.Contains(err.Error(), "output 1 on L1") {
		t.Fatalf("health %v, want block 2 disputed by output 1", err)
	}
	if h, err := store.FinalityHeads(); err != nil || h.Dispute == nil || h.Dispute.Output == nil || h.Dispute.Output.Index != 1 {
		t.Fatalf("persisted heads %+v (%v), want output 1's dispute", h, err)
	}

	// Restarted before the deletion: disputed at once, from its heads.
	tr, sub = newT()
	if err := tr.Healthy(); err == nil {
		t.Fatal("restarted node is healthy with the bad output on L1")
	}
	// A deletion of a later index lifts nothing.
	later := uint64(2)
	tr.handle(trackerEvent{l1Deleted: &later})
	if tr.Healthy() == nil || next(sub) != nil {
		t.Fatal("a deletion after the output lifted its dispute")
	}
	deleted := uint64(1)
	tr.handle(trackerEvent{l1Deleted: &deleted})
	if c := next(sub); c == nil || c.Stage != chain.StageResumed || c.Block.Number != 2 {
		t.Fatalf("change %+v, want finality resumed at block 2", c)
	}
	if err := tr.Healthy(); err != nil {
		t.Fatalf("health after the deletion: %v", err)
	}
	if h, err := store.FinalityHeads(); err != nil || h.Dispute != nil || len(h.Later) != 0 {
		t.Fatalf("persisted heads %+v (%v), want no dispute", h, err)
	}

	// Restarted again, the watcher reads the bad output and its deletion
	// in one pass: nothing is disputed, nothing streamed.
	tr, sub = newT()
	tr.handle(trackerEvent{l1Output: &bad})
	tr.handle(trackerEvent{l1Deleted: &deleted})
	tr.handle(trackerEvent{l1Head: &view})
	if c := next(sub); c != nil || tr.Healthy() != nil || tr.FinalityHeads().Dispute != nil || tr.disputes.Load() != 0 {
		t.Fatalf("history read again: change %+v, health %v, heads %+v", c, tr.Healthy(), tr.FinalityHeads())
	}
}
