package sequencer

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethdb/memorydb"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/eigenda"
	"github.com/meganode/meganode/p2p"
)

// sealBlocks runs production steps until n more blocks are sealed.
func (e *env) sealBlocks(n uint64) {
	e.t.Helper()
	want := e.store.CurrentHeader().Number.Uint64() + n
	for e.store.CurrentHeader().Number.Uint64() < want {
		e.tick()
	}
}

type retryTimer struct {
	armed chan time.Duration
	fire  chan time.Time
}

func (r *retryTimer) after(d time.Duration) <-chan time.Time {
	r.armed <- d
	return r.fire
}

func nextCommitment(t *testing.T, sub *chain.Subscription[*chain.DACommitment]) *chain.DACommitment {
	t.Helper()
	select {
	case c := <-sub.C():
		return c
	case <-time.After(30 * time.Second):
		t.Fatal("no blob posted")
		return nil
	}
}

// The batcher posts every sealed block with its witness, keeps them while DA
// answers 503 (block production goes on), posts them all once DA is back,
// and resumes after the last posted block when restarted.
func TestBatcherPostsEveryBlockThroughOutages(t *testing.T) {
	e := newEnv(t, t.TempDir())
	key := mustKey(t)
	pub := NewPublisher(e.seq, e.store, key, zerolog.Nop())
	da := eigenda.NewServer(memorydb.New(), eigenda.DefaultMemConfig(), zerolog.Nop())
	hs := httptest.NewServer(da)
	defer hs.Close()
	client, err := eigenda.NewHTTPClient(eigenda.DefaultHTTPConfig(hs.URL))
	if err != nil {
		t.Fatal(err)
	}
	timer := &retryTimer{armed: make(chan time.Duration, 8), fire: make(chan time.Time)}
	cfg := DefaultBatcherConfig()
	cfg.After = timer.after
	start := func() (*Batcher, *chain.Subscription[*chain.DACommitment]) {
		b := NewBatcher(cfg, client, pub, zerolog.Nop())
		sub := b.Commitments(64)
		if err := b.Start(); err != nil {
			t.Fatal(err)
		}
		return b, sub
	}

	for i := range 3 {
		if err := e.seq.SendTransaction(e.tx(0, uint64(i), gwei, 10*gwei)); err != nil {
			t.Fatal(err)
		}
		e.sealBlocks(1)
	}
	b, sub := start()
	c := nextCommitment(t, sub)
	if c.Seq != 1 || c.First != 1 || c.Last != 3 || c.LastHash != e.store.GetHeaderByNumber(3).Hash() {
		t.Fatalf("first blob %+v", c)
	}
	// The blob holds the sequencer's signed messages of blocks 1-3.
	blob, err := client.Get(context.Background(), c.Commitment)
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := eigenda.DecodeBlob(blob)
	if err != nil || len(blocks) != 3 {
		t.Fatalf("blob: %d blocks, %v", len(blocks), err)
	}
	chainID := e.cfg.ChainID.Uint64()
	for _, bb := range blocks {
		payload, signer, err := p2p.Open(p2p.Wrap(bb.Block), p2p.Blocks, chainID)
		if err != nil || signer != crypto.PubkeyToAddress(key.PublicKey) {
			t.Fatalf("block %d message: signer %s, %v", bb.Number, signer, err)
		}
		var m chain.BlockMessage
		if err := rlp.DecodeBytes(payload, &m); err != nil || m.Bundle.Block.Hash() != e.store.GetHeaderByNumber(bb.Number).Hash() || m.Bundle.StateDiff == nil {
			t.Fatalf("block %d in the blob: %v", bb.Number, err)
		}
		if _, _, err := p2p.Open(p2p.Wrap(bb.Witness), p2p.Witnesses, chainID); err != nil {
			t.Fatalf("witness %d: %v", bb.Number, err)
		}
	}

	// DA down: production goes on, nothing is posted, nothing is lost.
	mc := da.Config()
	mc.PutReturnsFailoverError = true
	da.SetConfig(mc)
	e.sealBlocks(2)
	if d := <-timer.armed; d != cfg.Backoff {
		t.Fatalf("first retry after %v, want %v", d, cfg.Backoff)
	}
	e.sealBlocks(1)
	if s := b.Stats(); s.Unavailable == 0 || s.Posted != 3 {
		t.Fatalf("while DA is down: %+v", s)
	}
	mc.PutReturnsFailoverError = false
	da.SetConfig(mc)
	timer.fire <- time.Now()
	c = nextCommitment(t, sub)
	if c.Seq != 2 || c.First != 4 || c.Last < 6 {
		t.Fatalf("blob after the outage %+v", c)
	}
	b.Stop()

	// Restarted, it resumes after the last posted block.
	e.sealBlocks(1)
	b, sub = start()
	defer b.Stop()
	for c.Last < e.store.CurrentHeader().Number.Uint64() {
		next := nextCommitment(t, sub)
		if next.Seq != c.Seq+1 || next.First != c.Last+1 {
			t.Fatalf("blob %+v after %+v", next, c)
		}
		c = next
	}
	all, err := e.store.DACommitments(1, 100)
	if err != nil || all[0].First != 1 {
		t.Fatalf("recorded %v, %v", all, err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].First != all[i-1].Last+1 || all[i].Seq != all[i-1].Seq+1 {
			t.Fatalf("recorded blobs not contiguous: %+v after %+v", all[i], all[i-1])
		}
	}
}
