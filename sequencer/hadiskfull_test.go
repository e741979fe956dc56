package sequencer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/storage"
)

// spaceFence is a memFence whose log is on a disk that can fill, measured
// as HA measures its raft directory.
type spaceFence struct {
	*memFence
	space *storage.Space
}

func (f *spaceFence) CheckSpace() error { return f.space.Check() }
func (f *spaceFence) DiskFull() error   { return f.space.Err() }

func (f *spaceFence) Commit(data []byte) error {
	if err := f.space.Err(); err != nil {
		return err
	}
	return f.memFence.Commit(data)
}

func raftDisk(t *testing.T) (*fullDisk, *storage.Space) {
	disk := newFullDisk()
	if err := disk.mem.MkdirAll("/raft", 0o700); err != nil {
		t.Fatal(err)
	}
	return disk, storage.NewSpace(disk.fs(), "/raft", testMinFreeMB, zerolog.New(zerolog.NewTestWriter(t)))
}

// A leader whose raft log's disk fills admits nothing (the store's disk-full
// error), commits nothing, reports it as unhealthy and cannot lead again
// until space is back; it is not halted, and once deposed it follows the new
// leader's blocks.
func TestHALeaderRaftDiskFull(t *testing.T) {
	var log []Entry
	a, fa := haEnv(t, &log)
	disk, sp := raftDisk(t)
	a.seq.SetFence(&spaceFence{memFence: fa, space: sp})
	b, fb := haEnv(t, &log)
	if err := a.seq.Lead(nil); err != nil {
		t.Fatal(err)
	}
	a.send(a.tx(0, 0, 1, 10*gwei))
	a.tick()
	if len(log) != 1 {
		t.Fatalf("%d raft entries, want 1", len(log))
	}

	disk.set(true)
	a.tick()
	a.tick()
	if len(log) != 1 {
		t.Fatalf("%d raft entries committed on a full disk, want 1", len(log))
	}
	err := a.seq.SendTransaction(a.tx(1, 0, 1, 10*gwei))
	if !errors.Is(err, storage.ErrDiskFull) || !strings.Contains(err.Error(), "not admitting transactions") || !strings.Contains(err.Error(), "--datadir.min-free") {
		t.Fatalf("admission on a full raft disk: %v, want the disk-full error", err)
	}
	if err := a.seq.diskFull(); !errors.Is(err, storage.ErrDiskFull) {
		t.Fatalf("diskFull (/ready's reason) on a full raft disk: %v, want disk full", err)
	}
	if _, txs, _ := a.seq.PendingBlock(); len(txs) != 1 {
		t.Fatalf("%d txs preconfirmed, want the committed 1", len(txs))
	}

	// HA hands over; the full candidate cannot be made to lead meanwhile.
	if err := a.seq.StepDown(errors.New("transferring leadership: disk full")); err != nil {
		t.Fatal(err)
	}
	fa.leader, fb.leader = "b", "b"
	if err := b.seq.Lead(fb.Committed()); err != nil {
		t.Fatal(err)
	}
	b.send(b.tx(1, 0, 1, 10*gwei))
	b.tick()
	b.clock.advance(time.Second)
	b.seq.Step(true)
	a.seq.Follow(log)
	if ha, hb := a.store.CurrentHeader(), b.store.CurrentHeader(); hb.Number.Uint64() != 1 || ha.Hash() != hb.Hash() {
		t.Fatalf("new leader sealed %v %s, the full standby %v %s", hb.Number, hb.Hash(), ha.Number, ha.Hash())
	}
	if n := len(b.store.BlockByNumber(1).Transactions()); n != 2 {
		t.Fatalf("block 1 has %d txs, want 2 (the preconfirmed one and the new leader's)", n)
	}
	if err := a.seq.Lead(fa.Committed()); !errors.Is(err, storage.ErrDiskFull) || a.seq.Leading() {
		t.Fatalf("Lead on a full raft disk: %v (leading %v), want a disk-full refusal", err, a.seq.Leading())
	}
	if err := a.seq.failure(); err != nil {
		t.Fatalf("a full disk halted the candidate: %v", err)
	}

	// Space back: it leads again when asked.
	disk.set(false)
	if err := b.seq.StepDown(errors.New("leadership transfer requested")); err != nil {
		t.Fatal(err)
	}
	if err := a.seq.Lead(fa.Committed()); err != nil {
		t.Fatalf("Lead once space is back: %v", err)
	}
	a.send(a.tx(0, 1, 1, 10*gwei))
	a.tick()
	if len(log) != 5 { // 2 mini-blocks and a seal of block 1 before, b's empty one, this one
		t.Fatalf("%d raft entries, want 5", len(log))
	}
}

// A standby whose data directory fills holds the sealed block the store
// refused, and every entry after it, instead of halting; once space is back
// it writes them and has the leader's blocks.
func TestHAStandbyHoldsSealOnFullDisk(t *testing.T) {
	var log []Entry
	a, _ := haEnv(t, &log)
	disk := newFullDisk()
	b := newEnvOf(t, chain.DefaultConfig(), storage.Config{Dir: "/data", FS: disk.fs(), MinFreeMB: testMinFreeMB}, func(c *Config) { c.HA = true })
	b.seq.SetFence(&memFence{log: &log, head: func() uint64 { return b.store.CurrentHeader().Number.Uint64() }, leader: "a"})
	if err := a.seq.Lead(nil); err != nil {
		t.Fatal(err)
	}
	seal := func() {
		a.send(a.tx(0, a.store.CurrentHeader().Number.Uint64(), 1, 10*gwei))
		a.tick()
		a.clock.advance(time.Second)
		a.seq.Step(true)
	}
	seal()
	disk.set(true)
	b.seq.Follow(log)
	if err := b.seq.failure(); err != nil {
		t.Fatalf("a full disk halted the standby: %v", err)
	}
	if n := b.store.CurrentHeader().Number.Uint64(); n != 0 || !b.seq.holding() {
		t.Fatalf("standby head %d on a full disk (holding %v), want 0 and a held block", n, b.seq.holding())
	}
	seal()
	b.seq.Follow(log)
	if n := b.store.CurrentHeader().Number.Uint64(); n != 0 || b.seq.failure() != nil {
		t.Fatalf("standby head %d (%v) on a full disk, want 0 and not halted", n, b.seq.failure())
	}
	if err := b.seq.Lead(nil); !errors.Is(err, storage.ErrDiskFull) {
		t.Fatalf("Lead of a full standby: %v, want disk full", err)
	}

	disk.set(false)
	b.seq.Follow(log)
	if b.seq.holding() {
		t.Fatal("standby still holds a block once space is back")
	}
	for n := uint64(1); n <= 2; n++ {
		if ha, hb := a.store.BlockByNumber(n), b.store.BlockByNumber(n); hb == nil || ha.Hash() != hb.Hash() {
			t.Fatalf("block %d: standby has %v, leader %s", n, hb, ha.Hash())
		}
	}
	if err := b.store.VerifyState(b.store.CurrentHeader().Root); err != nil {
		t.Fatal(err)
	}
}

// flakyStable fails its next write with ENOSPC.
type flakyStable struct {
	raft.StableStore
	fail bool
}

func (s *flakyStable) SetUint64(key []byte, val uint64) error {
	if s.fail {
		s.fail = false
		return &os.PathError{Op: "write", Path: "raft.db", Err: syscall.ENOSPC}
	}
	return s.StableStore.SetUint64(key, val)
}

// The raft log refuses appends below the minimum free space, before bolt
// writes; the term and vote are written whatever the space, in the
// ballast's room when a write hits ENOSPC; a commit is refused before raft.
func TestRaftStoresOnFullDisk(t *testing.T) {
	disk, sp := raftDisk(t)
	bolt, err := raftboltdb.NewBoltStore(filepath.Join(t.TempDir(), "raft.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer bolt.Close()
	logs := &spaceLogStore{LogStore: bolt, space: sp}
	entry := func(i uint64) *raft.Log {
		return &raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: []byte{byte(i)}}
	}
	if err := logs.StoreLogs([]*raft.Log{entry(1)}); err != nil {
		t.Fatal(err)
	}
	disk.set(true)
	if err := logs.StoreLog(entry(2)); !errors.Is(err, storage.ErrDiskFull) {
		t.Fatalf("append on a full disk: %v, want disk full", err)
	}
	if last, _ := bolt.LastIndex(); last != 1 {
		t.Fatalf("last raft index %d after a refused append, want 1", last)
	}
	h := &HA{space: sp}
	if err := h.Commit([]byte{1}); !errors.Is(err, storage.ErrDiskFull) {
		t.Fatalf("commit on a full disk: %v, want disk full", err)
	}
	if _, _, failures, _ := h.Stats(); failures != 1 {
		t.Fatalf("%d commit failures counted, want 1", failures)
	}

	stable := &spaceStableStore{StableStore: &flakyStable{StableStore: bolt, fail: true}, space: sp}
	if _, err := disk.mem.Stat("/raft/ballast"); err != nil {
		t.Fatalf("no raft ballast: %v", err)
	}
	if err := stable.SetUint64([]byte("CurrentTerm"), 7); err != nil {
		t.Fatalf("term write on a full disk: %v", err)
	}
	if v, err := bolt.GetUint64([]byte("CurrentTerm")); err != nil || v != 7 {
		t.Fatalf("term %d (%v), want 7", v, err)
	}
	if _, err := disk.mem.Stat("/raft/ballast"); err == nil {
		t.Fatal("the ballast was not released for the term write")
	}

	disk.set(false)
	if err := logs.StoreLog(entry(2)); err != nil {
		t.Fatalf("append once space is back: %v", err)
	}
	if _, err := disk.mem.Stat("/raft/ballast"); err != nil {
		t.Fatalf("the ballast was not written again: %v", err)
	}
}

// A standby whose data or raft directory is full answers sends like any
// standby, with the retryable not-leader error naming the leader (nothing
// pooled), while /ready's reason still says disk full. A raft leader that
// is handing over for its full disk still refuses with the disk-full error.
func TestHAStandbyOnFullDiskAnswersNotLeader(t *testing.T) {
	for _, tc := range []struct {
		name   string
		raft   bool   // the raft directory fills, not the data directory
		leader string // the raft leader the fence knows
	}{
		{name: "data directory", leader: "a"},
		{name: "raft directory", raft: true, leader: "a"},
		{name: "during an election", leader: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log []Entry
			var b *env
			disk := newFullDisk()
			if tc.raft {
				b = newEnvWith(t, "", func(c *Config) { c.HA = true })
			} else {
				b = newEnvOf(t, chain.DefaultConfig(), storage.Config{Dir: "/data", FS: disk.fs(), MinFreeMB: testMinFreeMB}, func(c *Config) { c.HA = true })
			}
			f := &memFence{log: &log, head: func() uint64 { return b.store.CurrentHeader().Number.Uint64() }, leader: tc.leader}
			if tc.raft {
				if err := disk.mem.MkdirAll("/raft", 0o700); err != nil {
					t.Fatal(err)
				}
				sp := storage.NewSpace(disk.fs(), "/raft", testMinFreeMB, zerolog.New(zerolog.NewTestWriter(t)))
				b.seq.SetFence(&spaceFence{memFence: f, space: sp})
			} else {
				b.seq.SetFence(f)
			}
			disk.set(true)
			if err := b.seq.checkSpace(); !errors.Is(err, storage.ErrDiskFull) {
				t.Fatalf("space check of the full standby: %v, want disk full", err)
			}

			wantNotLeader := func(what string, err error) {
				t.Helper()
				var nl *chain.NotLeaderError
				if !errors.As(err, &nl) || nl.Leader != tc.leader || errors.Is(err, storage.ErrDiskFull) {
					t.Fatalf("%s to a full standby: %v, want a not-leader error naming leader %q", what, err, tc.leader)
				}
				if code := nl.ErrorCode(); code != chain.CodeNotLeader {
					t.Fatalf("%s: code %d, want %d", what, code, chain.CodeNotLeader)
				}
			}
			wantNotLeader("SendTransaction", b.seq.SendTransaction(b.tx(0, 0, 1, 10*gwei)))
			for i, err := range b.seq.SendTransactions([]*types.Transaction{b.tx(0, 0, 1, 10*gwei), b.tx(1, 0, 1, 10*gwei)}) {
				wantNotLeader(fmt.Sprintf("SendTransactions[%d]", i), err)
			}
			_, _, err := b.seq.SubmitAwait(b.tx(0, 0, 1, 10*gwei), true)
			wantNotLeader("SubmitAwait", err)
			if pending, queued := b.seq.Pool().Stats(); pending+queued != 0 {
				t.Fatalf("the full standby pooled %d txs, want 0", pending+queued)
			}
			if err := b.seq.diskFull(); !errors.Is(err, storage.ErrDiskFull) {
				t.Fatalf("diskFull (/ready's reason) of the full standby: %v, want disk full", err)
			}

			// Elected, or still the raft leader while it hands over: the
			// disk-full error, since no standby may have taken over yet.
			f.leads = true
			if err := b.seq.SendTransaction(b.tx(0, 0, 1, 10*gwei)); !errors.Is(err, storage.ErrDiskFull) || !strings.Contains(err.Error(), "not admitting transactions: disk full") {
				t.Fatalf("send to a full raft leader that does not produce: %v, want the disk-full error", err)
			}
			f.leads = false

			// Space back: still a standby, still not-leader.
			disk.set(false)
			if err := b.seq.checkSpace(); err != nil {
				t.Fatalf("space check once freed: %v", err)
			}
			wantNotLeader("SendTransaction once space is back", b.seq.SendTransaction(b.tx(0, 0, 1, 10*gwei)))
			if err := b.seq.diskFull(); err != nil {
				t.Fatalf("diskFull once space is back: %v", err)
			}
		})
	}
}
