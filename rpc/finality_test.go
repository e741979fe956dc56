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
