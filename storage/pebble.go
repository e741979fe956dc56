package storage

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ethereum/go-ethereum/ethdb"
)

// kvdb is an ethdb.KeyValueStore over pebble/v2 with the options of
// go-ethereum's ethdb/pebble (v1.17.10), which takes only a path. Opening
// pebble here lets the store run on any vfs.FS (pebble's crash-testing
// memory file system in tests) and turns pebble's fatal commit errors, which
// go-ethereum's logger panics on, into errors: a full disk is reported, the
// process goes on.
type kvdb struct {
	db           *pebble.DB
	writeOptions *pebble.WriteOptions

	mu     sync.RWMutex // guards closed against Close
	closed bool
	// broken is the fatal error a commit hit: pebble's commit pipeline is
	// unusable after one, so every later write fails at once rather than
	// waiting on it forever.
	broken atomic.Pointer[error]
}

// fatalError is what pebble's Logger.Fatalf panics with.
type fatalError struct{ msg string }

func (e *fatalError) Error() string { return e.msg }

type pebbleLogger struct{}

func (pebbleLogger) Infof(string, ...interface{})  {}
func (pebbleLogger) Errorf(string, ...interface{}) {}

// Fatalf must not return: pebble's state is inconsistent after the errors
// it calls it for. The commits this store makes recover the panic (see
// apply); one in a background goroutine (a MANIFEST write) ends the process,
// and the atomic seal batch plus the journal recover it at restart.
func (pebbleLogger) Fatalf(format string, args ...interface{}) {
	panic(&fatalError{msg: fmt.Sprintf("pebble: "+format, args...)})
}

// openPebble opens the pebble database at dir on fs.
func openPebble(fs vfs.FS, dir string, cacheMB, handles int, readonly bool) (*kvdb, error) {
	cacheMB, handles = max(cacheMB, 16), max(handles, 16)
	// go-ethereum's sizing: four memtables in half of the cache.
	memTableNumber := 4
	memTableSize := cacheMB * 1024 * 1024 / 2 / memTableNumber
	cache := pebble.NewCache(int64(cacheMB) * 1024 * 1024)
	defer cache.Unref()
	opt := &pebble.Options{
		FS:                          fs,
		Cache:                       cache,
		MaxOpenFiles:                handles,
		MemTableSize:                uint64(memTableSize),
		MemTableStopWritesThreshold: memTableNumber * 2,
		CompactionConcurrencyRange:  func() (int, int) { return 1, runtime.NumCPU() },
		Levels: [7]pebble.LevelOptions{
			{FilterPolicy: bloom.FilterPolicy(10)},
			{FilterPolicy: bloom.FilterPolicy(10)},
			{FilterPolicy: bloom.FilterPolicy(10)},
			{FilterPolicy: bloom.FilterPolicy(10)},
			{FilterPolicy: bloom.FilterPolicy(10)},
			{FilterPolicy: bloom.FilterPolicy(10)},
			{},
		},
		TargetFileSizes: [7]int64{
			16 << 20, 4 << 20, 8 << 20, 16 << 20, 32 << 20, 64 << 20, 128 << 20,
		},
		ReadOnly:              readonly,
		Logger:                pebbleLogger{},
		WALBytesPerSync:       5 * ethdb.IdealBatchSize,
		L0CompactionThreshold: 2,
		FormatMajorVersion:    pebble.FormatFlushableIngest, // go-ethereum's formatMinV2
	}
	opt.Experimental.ReadSamplingMultiplier = -1
	opt.Experimental.L0CompactionConcurrency = 1
	opt.Experimental.CompactionDebtConcurrency = 1 << 28
	db, err := pebble.Open(dir, opt)
	if err != nil {
		return nil, err
	}
	// Writes are asynchronous, as in go-ethereum: the store syncs the WAL
	// once per sealed block (SyncKeyValue).
	return &kvdb{db: db, writeOptions: pebble.NoSync}, nil
}

// apply commits b, recovering pebble's fatal commit error.
func (d *kvdb) apply(b *pebble.Batch, opts *pebble.WriteOptions) (err error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return pebble.ErrClosed
	}
	if broken := d.broken.Load(); broken != nil {
		return *broken
	}
	defer func() {
		if r := recover(); r != nil {
			fe, ok := r.(*fatalError)
			if !ok {
				panic(r)
			}
			// Not ErrDiskFull even when space ran out: freeing space does not
			// repair this instance, a restart (which replays the WAL) does.
			err = fmt.Errorf("database unusable until restart: %v", classify(fe))
			d.broken.Store(&err)
		}
	}()
	return d.db.Apply(b, opts)
}

// classify wraps ErrDiskFull around a fatal error caused by a full disk
// (pebble formats the cause into its message, so the errno is lost).
func classify(fe *fatalError) error {
	if strings.Contains(fe.msg, syscall.ENOSPC.Error()) || strings.Contains(fe.msg, syscall.EDQUOT.Error()) {
		return fmt.Errorf("%w: %s", ErrDiskFull, fe.msg)
	}
	return fe
}

func (d *kvdb) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	return d.db.Close()
}

func (d *kvdb) Has(key []byte) (bool, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return false, pebble.ErrClosed
	}
	_, closer, err := d.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return true, closer.Close()
}

func (d *kvdb) Get(key []byte) ([]byte, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, pebble.ErrClosed
	}
	dat, closer, err := d.db.Get(key)
	if err != nil {
		return nil, err
	}
	ret := append([]byte{}, dat...)
	return ret, closer.Close()
}

func (d *kvdb) Put(key, value []byte) error {
	b := d.db.NewBatch()
	defer b.Close()
	if err := b.Set(key, value, nil); err != nil {
		return err
	}
	return d.apply(b, d.writeOptions)
}

func (d *kvdb) Delete(key []byte) error {
	b := d.db.NewBatch()
	defer b.Close()
	if err := b.Delete(key, nil); err != nil {
		return err
	}
	return d.apply(b, d.writeOptions)
}

func (d *kvdb) DeleteRange(start, end []byte) error {
	if end == nil {
		end = ethdb.MaximumKey
	}
	b := d.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(start, end, nil); err != nil {
		return err
	}
	return d.apply(b, d.writeOptions)
}

func (d *kvdb) NewBatch() ethdb.Batch { return &kvBatch{b: d.db.NewBatch(), db: d} }

func (d *kvdb) NewBatchWithSize(size int) ethdb.Batch {
	return &kvBatch{b: d.db.NewBatchWithSize(size), db: d}
}

func (d *kvdb) Stat() (string, error) { return d.db.Metrics().String(), nil }

func (d *kvdb) Compact(start, limit []byte) error {
	if limit == nil {
		limit = ethdb.MaximumKey
	}
	return d.db.Compact(context.Background(), start, limit, true)
}

// SyncKeyValue makes every write so far durable: a sync-mode log entry
// flushes and fsyncs the WAL, and everything before it.
func (d *kvdb) SyncKeyValue() error {
	b := d.db.NewBatch()
	defer b.Close()
	b.LogData(nil, nil)
	return d.apply(b, pebble.Sync)
}

func (d *kvdb) NewIterator(prefix, start []byte) ethdb.Iterator {
	iter, err := d.db.NewIter(&pebble.IterOptions{
		LowerBound: append(append([]byte{}, prefix...), start...),
		UpperBound: upperBound(prefix),
	})
	if err != nil {
		return &errIterator{err: err}
	}
	iter.First()
	return &kvIterator{iter: iter, moved: true}
}

func upperBound(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if c := prefix[i]; c != 0xff {
			limit := append([]byte{}, prefix[:i+1]...)
			limit[i] = c + 1
			return limit
		}
	}
	return nil
}

type kvBatch struct {
	b    *pebble.Batch
	db   *kvdb
	size int
}

func (b *kvBatch) Put(key, value []byte) error {
	b.size += len(key) + len(value)
	return b.b.Set(key, value, nil)
}

func (b *kvBatch) Delete(key []byte) error {
	b.size += len(key)
	return b.b.Delete(key, nil)
}

func (b *kvBatch) DeleteRange(start, end []byte) error {
	if end == nil {
		end = ethdb.MaximumKey
	}
	b.size += len(start) + len(end)
	return b.b.DeleteRange(start, end, nil)
}

func (b *kvBatch) ValueSize() int { return b.size }
func (b *kvBatch) Write() error   { return b.db.apply(b.b, b.db.writeOptions) }
func (b *kvBatch) Close()         { b.b.Close() }

func (b *kvBatch) Reset() {
	b.b.Reset()
	b.size = 0
}

func (b *kvBatch) Replay(w ethdb.KeyValueWriter) error {
	reader := b.b.Reader()
	for {
		kind, k, v, ok, err := reader.Next()
		if !ok || err != nil {
			return err
		}
		switch kind {
		case pebble.InternalKeyKindSet:
			err = w.Put(k, v)
		case pebble.InternalKeyKindDelete:
			err = w.Delete(k)
		case pebble.InternalKeyKindRangeDelete:
			rd, ok := w.(ethdb.KeyValueRangeDeleter)
			if !ok {
				return errors.New("ethdb.KeyValueWriter does not implement DeleteRange")
			}
			err = rd.DeleteRange(k, v)
		default:
			return fmt.Errorf("unhandled operation, keytype: %v", kind)
		}
		if err != nil {
			return err
		}
	}
}

type kvIterator struct {
	iter     *pebble.Iterator
	moved    bool
	released bool
}

func (it *kvIterator) Next() bool {
	if it.moved {
		it.moved = false
		return it.iter.Valid()
	}
	return it.iter.Next()
}

func (it *kvIterator) Error() error  { return it.iter.Error() }
func (it *kvIterator) Key() []byte   { return it.iter.Key() }
func (it *kvIterator) Value() []byte { return it.iter.Value() }

func (it *kvIterator) Release() {
	if !it.released {
		it.iter.Close()
		it.released = true
	}
}

type errIterator struct{ err error }

func (it *errIterator) Next() bool    { return false }
func (it *errIterator) Error() error  { return it.err }
func (it *errIterator) Key() []byte   { return nil }
func (it *errIterator) Value() []byte { return nil }
func (it *errIterator) Release()      {}
