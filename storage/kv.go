package storage

import (
	"fmt"

	"github.com/ethereum/go-ethereum/ethdb"
	"github.com/ethereum/go-ethereum/ethdb/memorydb"
	"github.com/ethereum/go-ethereum/ethdb/pebble"
)

// OpenKV opens a plain pebble key-value store at dir (for the DA server's
// blobs), in memory when dir is empty.
func OpenKV(dir string, cacheMB int) (ethdb.KeyValueStore, error) {
	if dir == "" {
		return memorydb.New(), nil
	}
	if cacheMB == 0 {
		cacheMB = 64
	}
	db, err := pebble.New(dir, cacheMB, 64, "meganode/da/", false)
	if err != nil {
		return nil, fmt.Errorf("open pebble at %s: %w", dir, err)
	}
	return db, nil
}
