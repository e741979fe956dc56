package storage

import (
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/lru"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
)

// blockCacheSize is how many recent blocks stay decoded in memory. A block
// can hold tens of thousands of txs: without the cache every receipt lookup
// would decode and derive the whole block again.
const blockCacheSize = 64

// cachedBlock is a decoded block with its derived receipts and a tx index.
// Entries are shared by readers and never modified after they are built.
type cachedBlock struct {
	block    *types.Block
	once     sync.Once
	receipts types.Receipts
	index    map[common.Hash]int
}

func newCachedBlock(b *types.Block, receipts types.Receipts) *cachedBlock {
	c := &cachedBlock{block: b, index: make(map[common.Hash]int, len(b.Transactions()))}
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
	c := newCachedBlock(b, nil)
	s.blocks.Add(hash, c)
	return c
}

// receiptsOf derives the entry's receipts once.
func (s *Store) receiptsOf(c *cachedBlock) types.Receipts {
	c.once.Do(func() {
		c.receipts = rawdb.ReadReceipts(s.kv, c.block.Hash(), c.block.NumberU64(), c.block.Time(), s.config)
	})
	return c.receipts
}

func newBlockCache() *lru.Cache[common.Hash, *cachedBlock] {
	return lru.NewCache[common.Hash, *cachedBlock](blockCacheSize)
}
