package storage

import (
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/meganode/meganode/chain"
)

// ErrStateUnavailable means a block's state is older than the state history
// a path-scheme store keeps (go-ethereum's "historical state is not
// available").
var ErrStateUnavailable = errors.New("historical state is not available")

// withHistory is the path scheme's state database for readers: a state the
// diff layers and the disk layer no longer hold is read from the indexed
// state history. Writes (Commit) go to the live database only.
type withHistory struct {
	state.Database
	historic state.Database
}

func (d *withHistory) Reader(root common.Hash) (state.Reader, error) {
	r, err := d.Database.Reader(root)
	if err == nil {
		return r, nil
	}
	if r, herr := d.historic.Reader(root); herr == nil {
		return r, nil
	}
	return nil, fmt.Errorf("%w: state %s (%v)", ErrStateUnavailable, root, err)
}

func (d *withHistory) OpenTrie(root common.Hash) (state.Trie, error) {
	t, err := d.Database.OpenTrie(root)
	if err == nil {
		return t, nil
	}
	if t, herr := d.historic.OpenTrie(root); herr == nil {
		return t, nil
	}
	return nil, fmt.Errorf("%w: state %s (%v)", ErrStateUnavailable, root, err)
}

func (d *withHistory) OpenStorageTrie(stateRoot common.Hash, address common.Address, root common.Hash, tr state.Trie) (state.Trie, error) {
	t, err := d.Database.OpenStorageTrie(stateRoot, address, root, tr)
	if err == nil {
		return t, nil
	}
	if t, herr := d.historic.OpenStorageTrie(stateRoot, address, root, tr); herr == nil {
		return t, nil
	}
	return nil, fmt.Errorf("%w: storage of %s at state %s (%v)", ErrStateUnavailable, address, stateRoot, err)
}

// hasState reports whether root's state is live (a diff layer or the disk
// layer; in the hash scheme, any state written).
func (s *Store) hasState(root common.Hash) bool {
	_, err := s.state.Reader(root)
	return err == nil
}

// recoverState re-applies, after an unclean stop of a path-scheme store,
// the state diffs of the blocks above the newest one whose state pathdb
// has on disk (its disk layer, or the diff layers journaled by a clean
// stop). Every sealed block keeps its diff, so nothing is executed again.
func (s *Store) recoverState() error {
	first, head := s.genesis.NumberU64(), s.head.Number.Uint64()
	var base *types.Header
	for n := head; ; n-- {
		h := s.headerByNumber(n)
		if h == nil {
			return fmt.Errorf("state recovery: block %d missing", n)
		}
		if s.hasState(h.Root) {
			base = h
			break
		}
		if n == first {
			return fmt.Errorf("state recovery: no block from %d to %d has its state on disk", first, head)
		}
	}
	from := base.Number.Uint64()
	start := time.Now()
	s.log.Warn().Uint64("state", from).Uint64("head", head).Msg("the state on disk is behind the blocks (unclean stop): applying the blocks above it again")
	meter := s.progress.Start(s.log, "state recovery", "blocks", head-from)
	defer meter.Done()
	parent := base
	for n := from + 1; n <= head; n++ {
		h := s.headerByNumber(n)
		rec, err := s.bundleRecord(n)
		if err != nil {
			return fmt.Errorf("state recovery: %w", err)
		}
		if h == nil || rec == nil || rec.Diff == nil {
			return fmt.Errorf("state recovery: block %d or its state diff missing", n)
		}
		if _, err := chain.ApplyDiff(s.config, s.state, parent, h, rec.Diff); err != nil {
			return fmt.Errorf("state recovery: block %d: %w", n, err)
		}
		parent = h
		meter.Add(1)
	}
	meter.Done()
	s.log.Info().Uint64("from", from+1).Uint64("to", head).Dur("elapsed", time.Since(start)).Msg("state recovered")
	return nil
}

// rewindState makes the state of a rewind's target live: a diff layer or
// the disk layer already is; an older one is recovered from the state
// history (pathdb reverts the disk layer block by block).
func (s *Store) rewindState(target *types.Header) error {
	if s.scheme != PathScheme || s.hasState(target.Root) {
		return nil
	}
	ok, err := s.triedb.Recoverable(target.Root)
	if err != nil {
		return fmt.Errorf("rewind to block %d: %w", target.Number, err)
	}
	if !ok {
		return fmt.Errorf("rewind to block %d: %w: its state is older than the state history kept", target.Number, ErrStateUnavailable)
	}
	if err := s.triedb.Recover(target.Root); err != nil {
		return fmt.Errorf("rewind to block %d: recover its state: %w", target.Number, err)
	}
	return nil
}

// HistoryUnindexed is how many state-history records pathdb has yet to
// index for reads (0 in the hash scheme): after a large genesis or a long
// unclean stop it counts down in the background.
func (s *Store) HistoryUnindexed() uint64 {
	if s.scheme != PathScheme {
		return 0
	}
	n, _, err := s.triedb.IndexProgress()
	if err != nil {
		return 0
	}
	return n
}
