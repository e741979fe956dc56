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
