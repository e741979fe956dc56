package sequencer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/storage"
)

// crashPoint is the disk as a crash at one write left it.
type crashPoint struct {
	fs    *vfs.MemFS
	name  string                   // the phase and the write the crash came before
	heads map[uint64]common.Hash   // sealed blocks the producer had written by then
	pre   map[common.Hash]struct{} // txs whose receipts were out by then
}

// TestCrashAtEveryWritePoint runs a sequencer on pebble's crash-testing
// memory file system and takes a crash image before every write (and sync,
// create, remove) of mini-block journal appends and of block seals: once
// keeping only what was synced (a power cut) and once keeping everything
// written (kill -9). Every image must open, hold a whole block as its head
// with its whole state, keep every tx whose receipt was returned, and go on
// producing: the restarted sequencer seals each of those txs exactly once.
func TestCrashAtEveryWritePoint(t *testing.T) {
	t.Run("serial seal", func(t *testing.T) { crashAtEveryWritePoint(t, false) })
	// A started sequencer writes the state on its loop, then the block on
	// another goroutine while the next block executes.
	t.Run("pipelined seal", func(t *testing.T) { crashAtEveryWritePoint(t, true) })
}

func crashAtEveryWritePoint(t *testing.T, pipelined bool) {
	mem := vfs.NewCrashableMem()
	var (
		mu     sync.Mutex
		points []crashPoint
		phase  string
		writes int
		on     atomic.Bool
		pre    = map[common.Hash]struct{}{}
		heads  = map[uint64]common.Hash{}
		rng    = rand.New(rand.NewPCG(1, 2))
		modes  = []struct {
			name string
			cfg  vfs.CrashCloneCfg
		}{
			{"power cut", vfs.CrashCloneCfg{}},                                 // only synced data survives
			{"kill -9", vfs.CrashCloneCfg{UnsyncedDataPercent: 100, RNG: rng}}, // the OS keeps every write
			{"partial", vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rng}},  // some unsynced blocks survive
		}
	)
	// notePreconfirmed adds the txs of every published mini-block: the feed
	// carries a mini-block after its journal append returned and before any
	// of its receipts is returned.
	var published *chain.Subscription[*chain.MiniBlock]
	notePreconfirmed := func() {
		for {
			select {
			case mb := <-published.C():
				for _, tx := range mb.Txs {
					pre[tx.Hash()] = struct{}{}
				}
			default:
				return
			}
		}
	}
	inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if !on.Load() || op.Kind.ReadOrWrite() != errorfs.OpIsWrite {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		notePreconfirmed()
		writes++
		for _, m := range modes {
			points = append(points, crashPoint{
				fs:    mem.CrashClone(m.cfg),
				name:  fmt.Sprintf("%s/write %d (%s %s)/%s", phase, writes, opName(op.Kind), op.Path, m.name),
				heads: copyMap(heads),
				pre:   copyMap(pre),
			})
		}
		return nil
	})
	const dir = "/data"
	e := newEnvOf(t, chain.DefaultConfig(), storage.Config{Dir: dir, FS: errorfs.Wrap(mem, inj), MinFreeMB: -1}, func(*Config) {})
	published = e.seq.MiniBlocks(1024)
	defer published.Unsubscribe()
	if pipelined {
		e.seq.ctx, e.seq.pipelined = context.Background(), true
	}
	genesis := e.store.Genesis()
	nonce := 0
	send := func(n int) {
		for i := 0; i < n; i++ {
			if err := e.seq.SendTransaction(e.tx(i%3, uint64(nonce/3), gwei, 10*gwei)); err != nil {
				t.Fatal(err)
			}
			nonce++
		}
	}
	step := func(name string, advance time.Duration) {
		mu.Lock()
		phase = name
		mu.Unlock()
		e.clock.advance(advance)
		on.Store(true)
		e.seq.Step(true)
		if err := e.seq.waitPersisted(); err != nil {
			t.Fatal(err)
		}
		on.Store(false)
		mu.Lock()
		notePreconfirmed()
		head := e.store.CurrentHeader()
		heads[head.Number.Uint64()] = head.Hash()
		mu.Unlock()
	}
	heads[0] = genesis.Hash()
	send(3)
	step("first journal append of block 1", 10*time.Millisecond)
	send(3)
	step("second journal append of block 1", 10*time.Millisecond)
	send(3)
	step("journal append and seal of block 1", time.Second)
	send(3)
	step("first journal append of block 2", 10*time.Millisecond)
	step("seal of block 2", time.Second)
	if got := e.store.CurrentHeader().Number.Uint64(); got != 2 {
		t.Fatalf("producer sealed up to block %d, want 2", got)
	}
	if len(pre) != 12 {
		t.Fatalf("producer preconfirmed %d txs, want 12", len(pre))
	}
	if len(points) < 3*10 {
		t.Fatalf("only %d crash points", len(points))
	}
	t.Logf("%d crash images", len(points))
	for _, p := range points {
		checkRecovery(t, p, dir)
	}
}

// checkRecovery opens a crash image, checks it and restarts production on it.
func checkRecovery(t *testing.T, p crashPoint, dir string) {
	t.Helper()
	g, _, err := chain.Genesis(chain.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	log := zerolog.Nop()
	store, err := storage.Open(storage.Config{Dir: dir, FS: p.fs, MinFreeMB: -1}, g, log)
	if err != nil {
		t.Fatalf("%s: store does not open: %v", p.name, err)
	}
	defer store.Close()
	head := store.CurrentHeader()
	n := head.Number.Uint64()
	// The head is a block the producer sealed: a whole one, never a torn
	// one. A power cut may lose the newest seal only if its sync had not
	// returned (it is then absent from heads).
	if want, ok := p.heads[n]; ok && head.Hash() != want {
		t.Fatalf("%s: head %d is %s, the producer sealed %s", p.name, n, head.Hash(), want)
	}
	for m := range p.heads {
		if m > n+1 {
			t.Fatalf("%s: recovered head %d but block %d was durable", p.name, n, m)
		}
	}
	if err := store.VerifyState(head.Root); err != nil {
		t.Fatalf("%s: state of head %d: %v", p.name, n, err)
	}
	clock := &fakeClock{now: time.Unix(1_800_000_100, 0)}
	cfg := DefaultConfig()
	cfg.Eager = false
	s, err := New(cfg, store, clock, log)
	if err != nil {
		t.Fatalf("%s: sequencer does not restart: %v", p.name, err)
	}
	clock.advance(time.Second)
	s.Step(true) // re-executes the journal and seals it
	clock.advance(time.Second)
	s.Step(true)
	newHead := store.CurrentHeader()
	if err := store.VerifyState(newHead.Root); err != nil {
		t.Fatalf("%s: state of block %d sealed after restart: %v", p.name, newHead.Number, err)
	}
	if newHead.Number.Uint64() <= n {
		t.Fatalf("%s: no block sealed after restart (head %d)", p.name, n)
	}
	seen := map[common.Hash]uint64{}
	for i := uint64(1); i <= newHead.Number.Uint64(); i++ {
		b := store.BlockByNumber(i)
		if b == nil {
			t.Fatalf("%s: block %d missing", p.name, i)
		}
		for _, tx := range b.Transactions() {
			if at, dup := seen[tx.Hash()]; dup {
				t.Fatalf("%s: tx %s in blocks %d and %d", p.name, tx.Hash(), at, i)
			}
			seen[tx.Hash()] = i
		}
	}
	for h := range p.pre {
		if _, ok := seen[h]; !ok {
			t.Fatalf("%s: preconfirmed tx %s lost (chain holds %d txs)", p.name, h, len(seen))
		}
	}
}

// opName names the write operations a store makes.
func opName(k errorfs.OpKind) string {
	switch k {
	case errorfs.OpCreate:
		return "create"
	case errorfs.OpRemove:
		return "remove"
	case errorfs.OpRename:
		return "rename"
	case errorfs.OpReuseForWrite:
		return "reuse"
	case errorfs.OpMkdirAll:
		return "mkdir"
	case errorfs.OpFileWrite, errorfs.OpFileWriteAt:
		return "write"
	case errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
		return "sync"
	case errorfs.OpFileClose:
		return "close"
	}
	return fmt.Sprintf("op %d", k)
}

func copyMap[K comparable, V any](m map[K]V) map[K]V {
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
