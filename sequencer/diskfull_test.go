package sequencer

import (
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/storage"
)

// fullDisk is a memory file system that can run out of space: while full,
// every write but a removal fails with ENOSPC and the free space it reports
// is below the store's minimum.
type fullDisk struct {
	mem  *vfs.MemFS
	full atomic.Bool
	// fillOn, when set, fills the disk just before the first write whose
	// path contains it (the disk fills between the store's space check and
	// that write).
	fillOn atomic.Pointer[string]
	// untilBallast makes a full disk accept writes again once the store
	// deleted its ballast file (the space it held is what the write needs).
	untilBallast bool
}

const (
	testMinFreeMB = 8
	roomy         = 1 << 30
)

func newFullDisk() *fullDisk {
	d := &fullDisk{mem: vfs.NewMem()}
	d.set(false)
	return d
}

func (d *fullDisk) set(full bool) {
	d.full.Store(full)
	avail := uint64(roomy)
	if full {
		avail = testMinFreeMB << 19 // half the minimum
	}
	d.mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: avail, TotalBytes: 2 * roomy})
}

func (d *fullDisk) fs() vfs.FS {
	return errorfs.Wrap(d.mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind.ReadOrWrite() != errorfs.OpIsWrite || op.Kind == errorfs.OpRemove || op.Kind == errorfs.OpFileClose {
			return nil
		}
		if p := d.fillOn.Load(); p != nil && strings.Contains(op.Path, *p) {
			d.fillOn.Store(nil)
			d.set(true)
		}
		if !d.full.Load() {
			return nil
		}
		if d.untilBallast {
			if _, err := d.mem.Stat("/data/ballast"); err != nil {
				return nil
			}
		}
		return &os.PathError{Op: "write", Path: op.Path, Err: syscall.ENOSPC}
	}))
}

func TestDiskFullPausesAndResumes(t *testing.T) {
	disk := newFullDisk()
	e := newEnvOf(t, chain.DefaultConfig(), storage.Config{Dir: "/data", FS: disk.fs(), MinFreeMB: testMinFreeMB}, func(*Config) {})
	var waits []<-chan chain.TxOutcome
	send := func(from int, nonce uint64) {
		t.Helper()
		ch, cancel, err := e.seq.SubmitAwait(e.tx(from, nonce, gwei, 10*gwei), false)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cancel)
		waits = append(waits, ch)
	}
	refused := func(what string) {
		t.Helper()
		err := e.seq.SendTransaction(e.tx(2, 0, gwei, 10*gwei))
		if !errors.Is(err, storage.ErrDiskFull) || !strings.Contains(err.Error(), "not admitting transactions: disk full") {
			t.Fatalf("%s: admission error %v, want one wrapping storage.ErrDiskFull", what, err)
		}
		if err := e.store.DiskFull(); !errors.Is(err, storage.ErrDiskFull) {
			t.Fatalf("%s: store disk-full state %v", what, err)
		}
	}
	preconfirmed := func() int {
		_, txs, _ := e.seq.PendingBlock()
		return len(txs)
	}

	// The disk fills between the step's space check and the journal append:
	// the append fails, the executed txs get no receipt and stay unpublished.
	send(0, 0)
	send(1, 0)
	journal := "journal"
	disk.fillOn.Store(&journal)
	e.tick()
	if n := preconfirmed(); n != 0 {
		t.Fatalf("%d txs preconfirmed although their journal append failed", n)
	}
	for i, ch := range waits {
		select {
		case out := <-ch:
			t.Fatalf("tx %d resolved during the pause: %+v", i, out)
		default:
		}
	}
	refused("after a failed journal append")

	// Paused: more steps, past the block time, neither publish nor seal.
	e.clock.advance(2 * time.Second)
	e.tick()
	e.tick()
	if n := e.store.CurrentHeader().Number.Uint64(); n != 0 {
		t.Fatalf("block %d sealed while the disk is full", n)
	}
	refused("while paused")

	// Space is freed: the next step resumes by itself.
	disk.set(false)
	e.tick()
	if err := e.store.DiskFull(); err != nil {
		t.Fatalf("still full after space was freed: %v", err)
	}
	// The held txs are journaled and published first, then the block that
	// was due during the pause seals with them.
	for i, ch := range waits {
		select {
		case out := <-ch:
			if out.Receipt == nil {
				t.Fatalf("tx %d: outcome %+v, want a receipt", i, out)
			}
		default:
			t.Fatalf("tx %d not resolved after the pause", i)
		}
	}
	if head := e.store.CurrentHeader(); head.Number.Uint64() != 1 || len(e.store.BlockByNumber(1).Transactions()) != 2 {
		t.Fatalf("head %d after resuming, want block 1 with the 2 held txs", head.Number)
	}
	if err := e.seq.SendTransaction(e.tx(2, 0, gwei, 10*gwei)); err != nil {
		t.Fatalf("admission after the pause: %v", err)
	}
	e.tick()
	if n := preconfirmed(); n != 1 {
		t.Fatalf("%d txs preconfirmed in block 2, want 1", n)
	}
	if txs, err := e.store.Journaled(2); err != nil || len(txs) != 1 {
		t.Fatalf("journal of block 2 holds %d txs (%v), want 1", len(txs), err)
	}

	// A measured shortage pauses before anything is written.
	disk.set(true)
	disk.full.Store(false) // writes would still succeed: the check alone stops them
	e.tick()
	refused("below the minimum free space")
	disk.set(false)
	e.tick()
	if err := e.seq.SendTransaction(e.tx(2, 1, gwei, 10*gwei)); err != nil {
		t.Fatalf("admission after space came back: %v", err)
	}
	e.clock.advance(time.Second)
	e.tick()
	if head := e.store.CurrentHeader(); head.Number.Uint64() != 2 || len(e.store.BlockByNumber(2).Transactions()) != 2 {
		t.Fatalf("head %d, want block 2 with 2 txs", head.Number)
	}
}

// TestDiskFullBallast: a pebble write that hits ENOSPC is retried after the
// ballast file is deleted, so the seal completes instead of leaving pebble
// unusable; the store then counts as full until space is freed.
func TestDiskFullBallast(t *testing.T) {
	disk := newFullDisk()
	disk.untilBallast = true
	e := newEnvOf(t, chain.DefaultConfig(), storage.Config{Dir: "/data", FS: disk.fs(), MinFreeMB: testMinFreeMB}, func(*Config) {})
	if _, err := disk.mem.Stat("/data/ballast"); err != nil {
		t.Fatalf("no ballast file: %v", err)
	}
	if err := e.seq.SendTransaction(e.tx(0, 0, gwei, 10*gwei)); err != nil {
		t.Fatal(err)
	}
	e.tick()
	// The disk fills while the block is written.
	wal := "chaindata"
	disk.fillOn.Store(&wal)
	e.clock.advance(time.Second)
	e.tick()
	head := e.store.CurrentHeader()
	if head.Number.Uint64() != 1 || len(e.store.BlockByNumber(1).Transactions()) != 1 {
		t.Fatalf("head %d: the seal did not complete", head.Number)
	}
	if _, err := disk.mem.Stat("/data/ballast"); err == nil {
		t.Fatal("ballast still there after an ENOSPC")
	}
	if err := e.seq.SendTransaction(e.tx(0, 1, gwei, 10*gwei)); !errors.Is(err, storage.ErrDiskFull) {
		t.Fatalf("admission error %v after the ballast went, want disk full", err)
	}
	disk.set(false)
	e.tick()
	if err := e.seq.SendTransaction(e.tx(0, 1, gwei, 10*gwei)); err != nil {
		t.Fatalf("admission after space came back: %v", err)
	}
	if _, err := disk.mem.Stat("/data/ballast"); err != nil {
		t.Fatalf("ballast not written again: %v", err)
	}
}

// TestDiskFullHoldsSeal: the disk fills during the step that seals a block;
// the store refuses the block before writing any of it, the sequencer holds
// it (its txs stay preconfirmed and journaled) and writes it once space is
// back.
func TestDiskFullHoldsSeal(t *testing.T) {
	disk := newFullDisk()
	disk.untilBallast = true // the journal append that fills the disk succeeds on the ballast's space
	e := newEnvOf(t, chain.DefaultConfig(), storage.Config{Dir: "/data", FS: disk.fs(), MinFreeMB: testMinFreeMB}, func(*Config) {})
	if err := e.seq.SendTransaction(e.tx(0, 0, gwei, 10*gwei)); err != nil {
		t.Fatal(err)
	}
	e.tick()
	if err := e.seq.SendTransaction(e.tx(1, 0, gwei, 10*gwei)); err != nil {
		t.Fatal(err)
	}
	journal := "journal"
	disk.fillOn.Store(&journal)
	e.clock.advance(time.Second)
	e.tick()
	if _, txs, _ := e.seq.PendingBlock(); len(txs) != 2 {
		t.Fatalf("%d txs preconfirmed, want 2", len(txs))
	}
	if n := e.store.CurrentHeader().Number.Uint64(); n != 0 {
		t.Fatalf("block %d written on a full disk", n)
	}
	if e.seq.heldSeal == nil {
		t.Fatal("no sealed block held")
	}
	if txs, err := e.store.Journaled(1); err != nil || len(txs) != 2 {
		t.Fatalf("journal of the held block holds %d txs (%v), want 2", len(txs), err)
	}
	if err := e.seq.SendTransaction(e.tx(2, 0, gwei, 10*gwei)); !errors.Is(err, storage.ErrDiskFull) {
		t.Fatalf("admission error %v with a held block, want disk full", err)
	}
	e.tick()
	if n := e.store.CurrentHeader().Number.Uint64(); n != 0 {
		t.Fatalf("block %d written on a full disk", n)
	}
	disk.set(false)
	e.tick()
	head := e.store.CurrentHeader()
	if head.Number.Uint64() != 1 || len(e.store.BlockByNumber(1).Transactions()) != 2 {
		t.Fatalf("head %d after space came back, want block 1 with 2 txs", head.Number)
	}
	if err := e.store.VerifyState(head.Root); err != nil {
		t.Fatal(err)
	}
	if txs, _ := e.store.Journaled(1); len(txs) != 0 {
		t.Fatalf("journal of the written block still holds %d txs", len(txs))
	}
	if err := e.seq.SendTransaction(e.tx(2, 0, gwei, 10*gwei)); err != nil {
		t.Fatalf("admission after the held block was written: %v", err)
	}
	e.clock.advance(time.Second)
	e.tick()
	if head := e.store.CurrentHeader(); head.Number.Uint64() != 2 || len(e.store.BlockByNumber(2).Transactions()) != 1 {
		t.Fatalf("head %d, want block 2 with 1 tx", head.Number)
	}
}
