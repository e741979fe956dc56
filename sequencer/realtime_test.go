package sequencer

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/meganode/meganode/chain"
)

func TestSubmitAwaitResolvesAtMiniBlock(t *testing.T) {
	e := newEnv(t, "")
	tx := e.tx(0, 0, gwei, 10*gwei)
	ch, cancel, err := e.seq.SubmitAwait(tx, true)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	select {
	case out := <-ch:
		t.Fatalf("outcome before any mini-block: %+v", out)
	default:
	}
	e.tick()
	select {
	case out := <-ch:
		if out.Dropped != nil || out.Tx.Hash() != tx.Hash() || out.BlockNumber != 1 || out.Index != 0 || out.Receipt.Status != 1 {
			t.Fatalf("outcome %+v", out)
		}
		if out.Receipt.BlockHash != chain.PreconfBlockHash {
			t.Fatalf("receipt block hash %s, want the preconfirmation sentinel", out.Receipt.BlockHash)
		}
	default:
		t.Fatal("no outcome after the mini-block sealed")
	}
}

func TestSubmitAwaitRefusesNonceGapWithoutPooling(t *testing.T) {
	e := newEnv(t, "")
	if err := e.seq.SendTransaction(e.tx(0, 0, gwei, 10*gwei)); err != nil {
		t.Fatal(err)
	}
	gapped := e.tx(0, 5, gwei, 10*gwei)
	_, _, err := e.seq.SubmitAwait(gapped, true)
	var gap *chain.NonceGapError
	if !errors.As(err, &gap) || gap.Expected != 1 || gap.Got != 5 {
		t.Fatalf("err %v, want a nonce gap expecting 1", err)
	}
	if e.seq.PooledTx(gapped.Hash()) != nil {
		t.Fatal("gapped tx was pooled")
	}
	// Without the flag the same tx is queued, as eth_sendRawTransaction does.
	if err := e.seq.SendTransaction(gapped); err != nil || e.seq.PooledTx(gapped.Hash()) == nil {
		t.Fatalf("plain send of a future nonce: %v", err)
	}
	e.seq.waitMu.Lock()
	n := len(e.seq.waiters)
	e.seq.waitMu.Unlock()
	if n != 0 {
		t.Fatalf("%d waiters left registered after a refused submission", n)
	}
}

func TestSubmitAwaitReportsReplacement(t *testing.T) {
	e := newEnv(t, "")
	// Nonce 1 waits behind a missing nonce 0, so it can still be replaced.
	first := e.tx(0, 1, gwei, 10*gwei)
	ch, cancel, err := e.seq.SubmitAwait(first, false)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	if err := e.seq.SendTransaction(e.tx(0, 1, 2*gwei, 20*gwei)); err != nil {
		t.Fatal(err)
	}
	select {
	case out := <-ch:
		if out.Dropped == nil || !strings.Contains(out.Dropped.Error(), "replaced") {
			t.Fatalf("outcome %+v, want dropped as replaced", out)
		}
	default:
		t.Fatal("replacement did not wake the waiter")
	}
}

func TestPendingTxFeed(t *testing.T) {
	e := newEnv(t, "")
	sub := e.seq.PendingTxs(4)
	defer sub.Unsubscribe()
	tx := e.tx(0, 0, gwei, 10*gwei)
	if err := e.seq.SendTransaction(tx); err != nil {
		t.Fatal(err)
	}
	if got := <-sub.C(); got.Hash() != tx.Hash() {
		t.Fatalf("pending feed sent %s", got.Hash())
	}
	if err := e.seq.SendTransaction(tx); err == nil {
		t.Fatal("duplicate admitted")
	}
	select {
	case got := <-sub.C():
		t.Fatalf("refused tx %s reached the pending feed", got.Hash())
	default:
	}
}

func TestEagerSealingOnlyWhenIdle(t *testing.T) {
	e := newEnv(t, "")
	e.seq.cfg.Eager, e.seq.cfg.EagerMaxTxs = true, 4
	sub := e.seq.MiniBlocks(1000)
	defer sub.Unsubscribe()
	start := e.seq.MiniBlockCount()

	// A lone tx is sealed by the step its arrival triggers, without a tick.
	if err := e.seq.SendTransaction(e.tx(0, 0, gwei, 10*gwei)); err != nil {
		t.Fatal(err)
	}
	e.seq.Step(false)
	if got := e.seq.MiniBlockCount(); got != start+1 {
		t.Fatalf("lone tx: %d mini-blocks sealed, want 1", got-start)
	}
	// A burst above the threshold waits for the tick and lands in one.
	for i := 0; i < 5; i++ {
		if err := e.seq.SendTransaction(e.tx(1+i, 0, gwei, 10*gwei)); err != nil {
			t.Fatal(err)
		}
	}
	e.seq.Step(false)
	if got := e.seq.MiniBlockCount(); got != start+1 {
		t.Fatalf("burst sealed eagerly: %d mini-blocks", got-start)
	}
	e.tick()
	if got := e.seq.MiniBlockCount(); got != start+2 {
		t.Fatalf("tick sealed %d mini-blocks, want 1", got-start-1)
	}
	// The interval after a loaded one still batches ...
	if err := e.seq.SendTransaction(e.tx(0, 1, gwei, 10*gwei)); err != nil {
		t.Fatal(err)
	}
	e.seq.Step(false)
	if got := e.seq.MiniBlockCount(); got != start+2 {
		t.Fatal("sealed eagerly right after a loaded interval")
	}
	e.tick()
	// ... and a quiet interval restores eager sealing.
	e.tick()
	if err := e.seq.SendTransaction(e.tx(0, 2, gwei, 10*gwei)); err != nil {
		t.Fatal(err)
	}
	before := e.seq.MiniBlockCount()
	e.seq.Step(false)
	if e.seq.MiniBlockCount() != before+1 {
		t.Fatal("not eager again after a quiet interval")
	}
	var txs int
	for n := e.seq.MiniBlockCount() - start; n > 0; n-- {
		txs += len((<-sub.C()).Txs)
	}
	if txs != 8 {
		t.Fatalf("%d txs in mini-blocks, want 8", txs)
	}
}

// A light steady load stays eager: the txs per interval are counted over
// wall-clock intervals, also while every mini-block is sealed eagerly.
func TestEagerStaysEagerUnderLightLoad(t *testing.T) {
	e := newEnv(t, "")
	e.seq.cfg.Eager, e.seq.cfg.EagerMaxTxs = true, 4
	for i := 0; i < 20; i++ { // one tx every 3 ms: at most 4 per 10 ms
		if err := e.seq.SendTransaction(e.tx(0, uint64(i), gwei, 10*gwei)); err != nil {
			t.Fatal(err)
		}
		before := e.seq.MiniBlockCount()
		e.seq.Step(false)
		if e.seq.MiniBlockCount() != before+1 {
			t.Fatalf("tx %d waited for the interval instead of sealing at once", i)
		}
		e.clock.advance(3 * time.Millisecond)
	}
}
