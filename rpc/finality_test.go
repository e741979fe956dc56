package rpc

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/storage"
)

// ladderReader serves a bare chain.Ladder that the test feeds by hand.
type ladderReader struct {
	l    *chain.Ladder
	feed chain.Feed[*chain.FinalityChange]
}

func (r *ladderReader) FinalityHeads() chain.FinalityHeads { return r.l.Heads() }
func (r *ladderReader) BlockFinality(n uint64) (*chain.BlockFinality, error) {
	return r.l.Block(n), nil
}
func (r *ladderReader) FinalityChanges(n int) *chain.Subscription[*chain.FinalityChange] {
	return r.feed.Subscribe(n)
}
func (r *ladderReader) PreconfirmedAt(n, i uint64) uint64 {
	if b := r.l.Block(n); b != nil {
		return b.PreconfirmedAt(i)
	}
	return r.l.PendingPreconfirmedAt(n, i)
}

// serve starts another server over the env's store with backend and
// returns a client of it; both end with the test.
func (e *wsEnv) serve(backend Backend) *gethrpc.Client {
	e.t.Helper()
	cfg := DefaultConfig()
	cfg.Port = 0
	srv, err := NewServer(cfg, backend, nil, zerolog.Nop())
	if err != nil {
		e.t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { srv.Stop(context.Background()) })
	client, err := gethrpc.Dial("http://" + srv.Addr())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(client.Close)
	return client
}

// A tx's preconfirmation time is the time of the mini-block that carried it,
// both while its block is open and after it seals.
func TestGetFinalityPreconfirmedTime(t *testing.T) {
	e := newWSEnv(t, nil)
	ladder, err := chain.NewLadder(chain.LadderConfig{Provers: []common.Address{{1}}, Quorum: 1}, chain.FinalityHeads{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := e.serve(Backend{Chain: e.store, Latest: e.seq, Txs: e.seq, Feeds: e.seq, Finality: &ladderReader{l: ladder}})
	minis, heads := e.seq.MiniBlocks(256), e.seq.Heads(4)
	defer minis.Unsubscribe()
	defer heads.Unsubscribe()

	e.tick() // an empty mini-block first, so the tx is not at the block's start
	tx := e.transfer(0, 0, 1e9)
	if err := e.seq.SendTransaction(tx); err != nil {
		t.Fatal(err)
	}
	e.tick()
	var at time.Time
	for len(minis.C()) > 0 {
		mb := <-minis.C()
		if len(mb.Receipts) > 0 {
			at = time.UnixMicro(int64(mb.TimestampMicros))
			ladder.Preconfirmed(mb.BlockNumber, uint64(mb.Receipts[0].TransactionIndex), uint64(len(mb.Receipts)), at)
		}
	}
	if at.IsZero() {
		t.Fatal("no mini-block carried the tx")
	}
	get := func(stage chain.Stage) Finality {
		t.Helper()
		var f Finality
		if err := client.Call(&f, "mega_getFinality", tx.Hash()); err != nil {
			t.Fatal(err)
		}
		if f.Stage != stage || f.Timestamps["preconfirmed"] != hexutil.Uint64(at.UnixMilli()) {
			t.Fatalf("finality %+v, want stage %s preconfirmed at %d", f, stage, at.UnixMilli())
		}
		return f
	}
	get(chain.StagePreconfirmed)

	for len(heads.C()) == 0 {
		e.tick()
	}
	h := <-heads.C()
	ladder.Sealed(h.Header.Number.Uint64(), h.Header.Hash(), e.clock.now)
	if f := get(chain.StageSealed); f.Timestamps["sealed"] == 0 {
		t.Fatalf("sealed block without a sealed time: %+v", f)
	}
}

// l1Ladder is a ladder reader anchored on an L1 the test describes.
type l1Ladder struct {
	ladderReader
	view *chain.L1View
}

func (r *l1Ladder) L1View() (chain.L1View, bool) {
	if r.view == nil {
		return chain.L1View{}, false
	}
	return *r.view, true
}

// originChain is a store whose blocks have the L1 origins the test gives.
type originChain struct {
	*storage.Store
	origins map[uint64]chain.L1Origin
}

func (c originChain) L1Origin(n uint64) (chain.L1Origin, error) { return c.origins[n], nil }

// optimism_syncStatus names the L1 blocks the node last read (op-node's
// current_l1, head_l1, safe_l1, finalized_l1) and each L2 block's L1
// origin with its sequence number; all zero before the L1 was read.
func TestSyncStatusL1(t *testing.T) {
	e := newWSEnv(t, nil)
	heads := e.seq.Heads(16)
	defer heads.Unsubscribe()
	for sealed := 0; sealed < 5; {
		e.tick()
		for len(heads.C()) > 0 {
			<-heads.C()
			sealed++
		}
	}
	ladder, err := chain.NewLadder(chain.LadderConfig{Provers: []common.Address{{1}}, Quorum: 1}, chain.FinalityHeads{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// L1 block 7 is the origin of L2 blocks 1–2, block 9 of 3 on.
	o7, o9 := chain.L1Origin{Number: 7, Hash: common.Hash{7}}, chain.L1Origin{Number: 9, Hash: common.Hash{9}}
	origins := map[uint64]chain.L1Origin{1: o7, 2: o7}
	head := e.store.CurrentHeader().Number.Uint64()
	for n := uint64(3); n <= head; n++ {
		origins[n] = o9
	}
	fin := &l1Ladder{ladderReader: ladderReader{l: ladder}}
	client := e.serve(Backend{Chain: originChain{e.store, origins}, Latest: e.seq, Txs: e.seq, Feeds: e.seq, Finality: fin})
	status := func() SyncStatus {
		t.Helper()
		var st SyncStatus
		if err := client.Call(&st, "optimism_syncStatus"); err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := status()
	if st.HeadL1 != (L1BlockRef{}) || st.CurrentL1 != (L1BlockRef{}) {
		t.Fatalf("L1 fields before the L1 was read: %+v %+v", st.HeadL1, st.CurrentL1)
	}
	if st.UnsafeL2.Number != head || st.UnsafeL2.L1Origin != (BlockIDJSON{Hash: o9.Hash, Number: 9}) || st.UnsafeL2.SequenceNumber != head-3 {
		t.Fatalf("unsafe_l2 %+v: want block %d of origin 9, sequence number %d", st.UnsafeL2, head, head-3)
	}
	if st.SafeL2.Number != 0 || st.SafeL2.L1Origin != (BlockIDJSON{}) || st.SafeL2.SequenceNumber != 0 {
		t.Fatalf("safe_l2 %+v: want genesis, no origin", st.SafeL2)
	}

	fin.view = &chain.L1View{
		Current:   chain.L1Block{Number: 12, Hash: common.Hash{12}, ParentHash: common.Hash{11}, Time: 1200},
		Head:      chain.L1Block{Number: 12, Hash: common.Hash{12}, ParentHash: common.Hash{11}, Time: 1200},
		Safe:      chain.L1Block{Number: 10, Hash: common.Hash{10}, Time: 1000},
		Finalized: chain.L1Block{Number: 4, Hash: common.Hash{4}, Time: 400},
	}
	st = status()
	if st.HeadL1 != (L1BlockRef{Hash: common.Hash{12}, Number: 12, ParentHash: common.Hash{11}, Time: 1200}) || st.CurrentL1 != st.HeadL1 ||
		st.SafeL1.Number != 10 || st.FinalizedL1.Number != 4 || st.CurrentL1Finalized != st.FinalizedL1 {
		t.Fatalf("L1 fields %+v / %+v / %+v / %+v, want the view's", st.CurrentL1, st.HeadL1, st.SafeL1, st.FinalizedL1)
	}
	var out struct {
		BlockRef L2BlockRef `json:"blockRef"`
	}
	if err := client.Call(&out, "optimism_outputAtBlock", hexutil.Uint64(2)); err != nil {
		t.Fatal(err)
	}
	if out.BlockRef.L1Origin.Number != 7 || out.BlockRef.SequenceNumber != 1 {
		t.Fatalf("block 2's ref %+v: want origin 7, sequence number 1", out.BlockRef)
	}
}
