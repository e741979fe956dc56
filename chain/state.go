package chain

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
)

// StateAt opens the state of a sealed root for reading (and throw-away writes
// by calls).
func StateAt(db state.Database, root common.Hash) (*state.StateDB, error) {
	st, err := state.New(root, db)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", root, err)
	}
	return st, nil
}

// StateWithOverlay opens the state of a sealed root as seen through the
// mini-block overlay reader r.
func StateWithOverlay(db state.Database, root common.Hash, r state.Reader) (*state.StateDB, error) {
	st, err := state.NewWithReader(root, db, r)
	if err != nil {
		return nil, fmt.Errorf("state %s with overlay: %w", root, err)
	}
	return st, nil
}

// CachedReader returns a reader of the state at root that keeps every
// account and slot it reads (go-ethereum's reader with a cache, which
// block processing shares between its prefetcher and the processor), for a
// sealed state that many reads go to. Its memory grows with what is read
// until the reader is dropped. Without such a reader, db's plain one.
func CachedReader(db state.Database, root common.Hash) (state.Reader, error) {
	if c, ok := db.(interface {
		ReadersWithCacheStats(common.Hash) (state.Reader, state.Reader, error)
	}); ok {
		r, _, err := c.ReadersWithCacheStats(root)
		return r, err
	}
	return db.Reader(root)
}
