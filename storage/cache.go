package storage

import (
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/lru"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
)

// Recent blocks stay decoded in memory, at most blockCacheSize of them and
// at most blockCacheTxs txs in all (about 1 KB of heap each with receipt and
// index): a block can hold tens of thousands of txs, and without the cache
// every receipt lookup would decode and derive the whole block again. The
// newest block always stays.
const (
	blockCacheSize = 64
	blockCacheTxs  = 100_000
)

// cachedBlock is a decoded block with its derived receipts and a tx index.
// Entries are shared by readers and never modified after they are built.
type cachedBlock struct {
	block    *types.Block
	once     sync.Once
	receipts types.Receipts
	index    map[common.Hash]int
	deps     *depositsRecord // the block's deposits, set with receipts
}

func newCachedBlock(b *types.Block, receipts types.Receipts, deps *depositsRecord) *cachedBlock {
	c := &cachedBlock{block: b, index: make(map[common.Hash]int, len(b.Transactions())), deps: deps}
	for i, tx := range b.Transactions() {
		c.index[tx.Hash()] = i
	}
	if receipts != nil {
		c.receipts = receipts
		c.once.Do(func() {})
	}
	return c
}

// cachedByHash returns the cached entry of a block, loading it on a miss.
func (s *Store) cachedByHash(hash common.Hash, number uint64) *cachedBlock {
	if c, ok := s.blocks.Get(hash); ok {
		return c
	}
	b := rawdb.ReadBlock(s.kv, hash, number)
	if b == nil {
		return nil
	}
	c := newCachedBlock(b, nil, nil)
	s.blocks.Add(hash, c)
	return c
}

// receiptsOf derives the entry's receipts once.
func (s *Store) receiptsOf(c *cachedBlock) types.Receipts {
	c.once.Do(func() {
		c.receipts = s.blockReceipts(c)
	})
	return c.receipts
}

// blockCache is an LRU of decoded blocks bounded by blocks and by txs.
type blockCache struct {
	mu     sync.Mutex
	lru    lru.BasicLRU[common.Hash, *cachedBlock]
	txs    int
	maxTxs int
}

func newBlockCache(maxBlocks, maxTxs int) *blockCache {
	return &blockCache{lru: lru.NewBasicLRU[common.Hash, *cachedBlock](maxBlocks), maxTxs: maxTxs}
}

// Get returns a cached block and marks it recently used.
func (c *blockCache) Get(hash common.Hash) (*cachedBlock, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Get(hash)
}

// Add caches a block, evicting the least recently used ones over the bounds.
func (c *blockCache) Add(hash common.Hash, b *cachedBlock) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.lru.Peek(hash); ok {
		c.txs -= len(old.index)
	}
	if _, ev, evicted := c.lru.Add3(hash, b); evicted {
		c.txs -= len(ev.index)
	}
	c.txs += len(b.index)
	for c.txs > c.maxTxs && c.lru.Len() > 1 {
		_, ev, _ := c.lru.RemoveOldest()
		c.txs -= len(ev.index)
	}
}

// Remove drops a block from the cache.
func (c *blockCache) Remove(hash common.Hash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.lru.Peek(hash); ok {
		c.txs -= len(old.index)
		c.lru.Remove(hash)
	}
}
