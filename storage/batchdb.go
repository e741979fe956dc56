package storage

import (
	"sync"

	"github.com/ethereum/go-ethereum/ethdb"
)

// deferredDB routes every batch that the trie and code databases write into
// one pending batch, so that a sealed block's state commits atomically with
// the block itself. Outside a Capture the batches write straight through.
type deferredDB struct {
	ethdb.Database
	mu      sync.Mutex
	pending ethdb.Batch
	onWrite func(bytes int) // counts what batches write, for progress
	// ancient is where the path scheme keeps its state history: a
	// directory, "" for in memory; nil for none.
	ancient *string
}

// AncientDatadir is the directory of the path scheme's state history.
func (d *deferredDB) AncientDatadir() (string, error) {
	if d.ancient == nil {
		return d.Database.AncientDatadir()
	}
	return *d.ancient, nil
}

// setOnWrite makes every batch written call f with its size; nil stops it.
func (d *deferredDB) setOnWrite(f func(bytes int)) {
	d.mu.Lock()
	d.onWrite = f
	d.mu.Unlock()
}

// capture makes batch writes land in b until release is called.
func (d *deferredDB) capture(b ethdb.Batch) (release func()) {
	d.mu.Lock()
	d.pending = b
	d.mu.Unlock()
	return func() {
		d.mu.Lock()
		d.pending = nil
		d.mu.Unlock()
	}
}

func (d *deferredDB) NewBatch() ethdb.Batch {
	return &deferredBatch{Batch: d.Database.NewBatch(), owner: d}
}

func (d *deferredDB) NewBatchWithSize(size int) ethdb.Batch {
	return &deferredBatch{Batch: d.Database.NewBatchWithSize(size), owner: d}
}

type deferredBatch struct {
	ethdb.Batch
	owner *deferredDB
}

func (b *deferredBatch) Write() error {
	b.owner.mu.Lock()
	pending, onWrite := b.owner.pending, b.owner.onWrite
	b.owner.mu.Unlock()
	if onWrite != nil {
		onWrite(b.Batch.ValueSize())
	}
	if pending == nil {
		return b.Batch.Write()
	}
	return b.Batch.Replay(pending)
}
