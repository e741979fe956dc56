package storage

import (
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// cacheEntry is a cached block with n txs (only its index is counted).
func cacheEntry(n int) *cachedBlock {
	c := &cachedBlock{block: types.NewBlockWithHeader(&types.Header{}), index: make(map[common.Hash]int, n)}
	for i := range n {
		c.index[common.Hash{byte(i), byte(i >> 8)}] = i
	}
	return c
}

func TestBlockCacheBoundsTxs(t *testing.T) {
	c := newBlockCache(8, 10)
	for i := range 3 {
		c.Add(common.Hash{byte(i)}, cacheEntry(4))
	}
	// 12 txs > 10: the oldest block went.
	if _, ok := c.Get(common.Hash{0}); ok {
		t.Fatal("oldest block still cached over the tx bound")
	}
	for i := 1; i < 3; i++ {
		if _, ok := c.Get(common.Hash{byte(i)}); !ok {
			t.Fatalf("block %d evicted", i)
		}
	}
	if c.txs != 8 {
		t.Fatalf("txs counted %d, want 8", c.txs)
	}
	// A block larger than the bound still stays, alone.
	c.Add(common.Hash{9}, cacheEntry(20))
	if _, ok := c.Get(common.Hash{9}); !ok || c.lru.Len() != 1 || c.txs != 20 {
		t.Fatalf("large block: cached %v, %d blocks, %d txs", ok, c.lru.Len(), c.txs)
	}
	// Adding the same block again does not count it twice.
	c.Add(common.Hash{9}, cacheEntry(20))
	if c.txs != 20 {
		t.Fatalf("re-added block counted twice: %d txs", c.txs)
	}
}

func TestBlockCacheBoundsBlocks(t *testing.T) {
	c := newBlockCache(2, 100)
	for i := range 3 {
		c.Add(common.Hash{byte(i)}, cacheEntry(1))
	}
	if _, ok := c.Get(common.Hash{0}); ok || c.lru.Len() != 2 || c.txs != 2 {
		t.Fatalf("block bound: oldest cached %v, %d blocks, %d txs", ok, c.lru.Len(), c.txs)
	}
}
