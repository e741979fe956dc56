package p2p

import (
	"sync"
)

// Cache keeps the newest wire messages of each kind by number and serves
// them to range requests, falling back to another Provider (a store) for
// what it no longer holds. It is safe for concurrent use.
type Cache struct {
	mu       sync.Mutex
	size     uint64
	msgs     map[Kind]map[uint64][]byte
	newest   map[Kind]uint64
	fallback Provider
}

// NewCache keeps size messages per kind; fallback may be nil.
func NewCache(size uint64, fallback Provider) *Cache {
	return &Cache{size: size, msgs: make(map[Kind]map[uint64][]byte), newest: make(map[Kind]uint64), fallback: fallback}
}

// Add records the wire bytes of kind's message number.
func (c *Cache) Add(kind Kind, number uint64, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.msgs[kind]
	if !ok {
		m = make(map[uint64][]byte)
		c.msgs[kind] = m
	}
	m[number] = data
	if number > c.newest[kind] {
		c.newest[kind] = number
	}
	// Evict the oldest once over size: numbers are mostly consecutive, so
	// dropping everything size behind the newest keeps the map bounded.
	if uint64(len(m)) > c.size {
		for n := range m {
			if n+c.size <= c.newest[kind] {
				delete(m, n)
			}
		}
	}
}

// Truncate forgets kind's messages from number on (a dev chain went back
// before them).
func (c *Cache) Truncate(kind Kind, from uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for n := range c.msgs[kind] {
		if n >= from {
			delete(c.msgs[kind], n)
		}
	}
	if c.newest[kind] >= from {
		c.newest[kind] = from - min(from, 1)
	}
}

// Range answers a range request from the cache, then from the fallback.
func (c *Cache) Range(kind Kind, from, count uint64) ([][]byte, error) {
	var out [][]byte
	c.mu.Lock()
	for n := from; n < from+count; n++ {
		data, ok := c.msgs[kind][n]
		if !ok {
			break
		}
		out = append(out, data)
	}
	c.mu.Unlock()
	if uint64(len(out)) == count || c.fallback == nil {
		return out, nil
	}
	rest, err := c.fallback.Range(kind, from+uint64(len(out)), count-uint64(len(out)))
	if err != nil && len(out) == 0 {
		return nil, err
	}
	return append(out, rest...), nil
}
