package sequencer

import (
	"errors"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/meganode/meganode/chain"
)

// memFence is a raft group in memory: a shared committed log, and a switch
// that makes the next commits fail as a deposed leader's do.
type memFence struct {
	log    *[]Entry
	head   func() uint64
	fail   error
	leader string
	leads  bool // this candidate is the raft leader
}

func (f *memFence) Commit(data []byte) error {
	if f.fail != nil {
		return f.fail
	}
	e, err := DecodeEntry(data)
	if err != nil {
		return err
	}
	*f.log = append(*f.log, e)
	return nil
}

func (f *memFence) Committed() []Entry {
	var out []Entry
	for _, e := range *f.log {
		if e.Block() > f.head() {
			out = append(out, e)
		}
	}
	return out
}

func (f *memFence) Leader() string { return f.leader }

func (f *memFence) IsLeader() bool { return f.leads }

func haEnv(t *testing.T, log *[]Entry) (*env, *memFence) {
	e := newEnvWith(t, "", func(c *Config) { c.HA = true })
	f := &memFence{log: log, head: func() uint64 { return e.store.CurrentHeader().Number.Uint64() }, leader: "a"}
	e.seq.SetFence(f)
	return e, f
}

func (e *env) send(tx *types.Transaction) {
	e.t.Helper()
	if err := e.seq.SendTransaction(tx); err != nil {
		e.t.Fatal(err)
	}
}

func TestStandbyRefusesAndFollows(t *testing.T) {
	var log []Entry
	a, _ := haEnv(t, &log)
	b, _ := haEnv(t, &log)
	var nl *chain.NotLeaderError
	if err := a.seq.SendTransaction(a.tx(0, 0, 1, 10*gwei)); !errors.As(err, &nl) || nl.Leader != "a" {
		t.Fatalf("standby admitted a tx: %v", err)
	}
	if err := a.seq.Lead(nil); err != nil {
		t.Fatal(err)
	}
	minis := b.seq.MiniBlocks(16)
	a.send(a.tx(0, 0, 1, 10*gwei))
	a.send(a.tx(1, 0, 1, 10*gwei))
	a.tick()
	a.send(a.tx(0, 1, 1, 10*gwei))
	a.tick()
	if len(log) != 2 {
		t.Fatalf("%d raft entries after two mini-blocks, want 2", len(log))
	}
	b.seq.Follow(log)
	if got, want := b.seq.MiniBlockCount(), a.seq.MiniBlockCount(); got != want {
		t.Fatalf("standby at mini-block %d, leader %d", got, want)
	}
	for i := range 2 {
		mb := <-minis.C()
		if mb.Number != uint64(i) || len(mb.Receipts) != 2-i {
			t.Fatalf("standby mini-block %d has %d receipts", mb.Number, len(mb.Receipts))
		}
	}
	// The standby's pending block is the leader's, receipt for receipt.
	_, ta, ra := a.seq.PendingBlock()
	_, tb, rb := b.seq.PendingBlock()
	if len(ta) != 3 || len(tb) != 3 {
		t.Fatalf("pending txs: leader %d, standby %d", len(ta), len(tb))
	}
	for i := range ra {
		if ra[i].CumulativeGasUsed != rb[i].CumulativeGasUsed || ta[i].Hash() != tb[i].Hash() {
			t.Fatalf("receipt %d differs", i)
		}
	}
	// A sealed block on the leader seals to the same hash on the standby.
	a.clock.advance(time.Second)
	a.seq.Step(true)
	b.seq.Follow(log)
	ha, hb := a.store.CurrentHeader(), b.store.CurrentHeader()
	if ha.Number.Uint64() != 1 || ha.Hash() != hb.Hash() {
		t.Fatalf("leader sealed %v %s, standby %v %s", ha.Number, ha.Hash(), hb.Number, hb.Hash())
	}
	// Applying the log again changes nothing.
	b.seq.Follow(log)
	if b.store.CurrentHeader().Hash() != ha.Hash() || b.seq.MiniBlockCount() != a.seq.MiniBlockCount() {
		t.Fatal("re-applied entries moved the standby")
	}
}

func TestDeposedLeaderPublishesNothingUncommitted(t *testing.T) {
	var log []Entry
	a, fa := haEnv(t, &log)
	b, fb := haEnv(t, &log)
	if err := a.seq.Lead(nil); err != nil {
		t.Fatal(err)
	}
	a.send(a.tx(0, 0, 1, 10*gwei))
	a.tick() // committed
	b.seq.Follow(log)
	published := a.seq.MiniBlocks(16)
	// Deposed: the next commit fails; the tx it executed is refused with a
	// retryable error, a queued one too, and the view goes back to what was
	// committed.
	fa.fail = errors.New("leadership lost")
	waitExecuted, cancel, err := a.seq.SubmitAwait(a.tx(0, 1, 1, 10*gwei), false)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	waitQueued, cancel2, err := a.seq.SubmitAwait(a.tx(1, 5, 1, 10*gwei), false)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel2()
	a.tick()
	if a.seq.Leading() {
		t.Fatal("a leader whose commit failed still produces")
	}
	var nl *chain.NotLeaderError
	for _, ch := range []<-chan chain.TxOutcome{waitExecuted, waitQueued} {
		out := <-ch
		if !errors.As(out.Dropped, &nl) {
			t.Fatalf("outcome %+v, want a not-leader drop", out)
		}
	}
	select {
	case mb := <-published.C():
		t.Fatalf("deposed leader published mini-block %d", mb.Number)
	default:
	}
	if _, txs, _ := a.seq.PendingBlock(); len(txs) != 1 || a.seq.MiniBlockCount() != 1 {
		t.Fatalf("deposed leader's view has %d txs, %d mini-blocks; want the committed 1 and 1", len(txs), a.seq.MiniBlockCount())
	}
	// The standby takes over mid-block and continues it; the old leader
	// follows without sending the mini-block it had already published.
	fb.leader, fa.leader = "b", "b"
	if err := b.seq.Lead(fb.Committed()); err != nil {
		t.Fatal(err)
	}
	b.send(b.tx(0, 1, 1, 10*gwei))
	b.tick()
	b.clock.advance(time.Second)
	b.seq.Step(true)
	a.seq.Follow(log)
	if ha, hb := a.store.CurrentHeader(), b.store.CurrentHeader(); hb.Number.Uint64() != 1 || ha.Hash() != hb.Hash() {
		t.Fatalf("new leader sealed %v %s, old leader %v %s", hb.Number, hb.Hash(), ha.Number, ha.Hash())
	}
	if n := len(b.store.BlockByNumber(1).Transactions()); n != 2 {
		t.Fatalf("block 1 has %d txs, want 2", n)
	}
	for mb := range drain(published) {
		if mb.Number < 1 {
			t.Fatalf("old leader sent mini-block %d again", mb.Number)
		}
	}
}

func drain(s *chain.Subscription[*chain.MiniBlock]) map[*chain.MiniBlock]bool {
	out := map[*chain.MiniBlock]bool{}
	for {
		select {
		case mb := <-s.C():
			out[mb] = true
		default:
			return out
		}
	}
}

func TestFollowRefusesDivergence(t *testing.T) {
	var log []Entry
	a, _ := haEnv(t, &log)
	if err := a.seq.Lead(nil); err != nil {
		t.Fatal(err)
	}
	a.send(a.tx(0, 0, 1, 10*gwei))
	a.tick()
	a.clock.advance(time.Second)
	a.seq.Step(true)
	var forged []Entry
	for _, e := range log {
		if e.Seal != nil {
			s := *e.Seal
			s.Hash[0] ^= 1
			e = Entry{Seal: &s}
		}
		forged = append(forged, e)
	}
	b, _ := haEnv(t, &forged)
	b.seq.Follow(forged)
	if err := b.seq.failure(); !errors.Is(err, chain.ErrBadBlock) {
		t.Fatalf("standby halted with %v, want a bad block", err)
	}
	if b.store.CurrentHeader().Number.Uint64() != 0 {
		t.Fatal("diverging block stored")
	}
	if err := b.seq.Lead(nil); err == nil {
		t.Fatal("a standby that diverged was allowed to lead")
	}
}
