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
	pending := b.owner.pending
	b.owner.mu.Unlock()
	if pending == nil {
		return b.Batch.Write()
	}
	return b.Batch.Replay(pending)
}
