package l1

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sort"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/meganode/meganode/chain"
)

// ErrCursorReorged says an L1 cursor (an L2 block's L1Origin) is no longer
// the L1's block at its height: a reorg deeper than the confirmations
// replaced it. CursorReorgedError carries the numbers.
var ErrCursorReorged = errors.New("L1 cursor reorged out")

// CursorReorgedError is ErrCursorReorged for one cursor.
type CursorReorgedError struct {
	Cursor chain.L1Origin
	// Now is the L1's block at Cursor.Number, zero when it is not known
	// (the L1 is lower, or the feed has not read that block again).
	Now common.Hash
}

func (e *CursorReorgedError) Error() string {
	if e.Now == (common.Hash{}) {
		return fmt.Sprintf("L1 cursor %d (%s) is no longer the L1's block at that height: reorged out", e.Cursor.Number, e.Cursor.Hash)
	}
	return fmt.Sprintf("L1 cursor %d is %s, the L1's block there is %s: reorged out", e.Cursor.Number, e.Cursor.Hash, e.Now)
}

func (e *CursorReorgedError) Unwrap() error { return ErrCursorReorged }

// headerReader is what a reorg check reads of the L1.
type headerReader interface {
	HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error)
}

// trailKeep bounds a trail's lists: at one entry per poll, about a quarter
// of an hour of a 1 s L1 and three hours of mainnet.
const trailKeep = 1024

// trail remembers L1 blocks a scan read, to find the newest of them still
// canonical after a reorg (op-node finds its reset point the same way,
// walking back over the blocks it knows until one is still the L1's).
// Not safe for concurrent use: its owner's lock guards it.
type trail struct {
	known    []chain.L1Origin // read and canonical when read, by number, at most trailKeep
	orphaned []chain.L1Origin // dropped by the latest rollback or found not canonical since
}

// add remembers o as read, in place of another block at its height.
func (t *trail) add(o chain.L1Origin) {
	i := sort.Search(len(t.known), func(i int) bool { return t.known[i].Number >= o.Number })
	switch {
	case i < len(t.known) && t.known[i].Number == o.Number:
		t.known[i] = o
	default:
		t.known = slices.Insert(t.known, i, o)
		if len(t.known) > trailKeep {
			t.known = slices.Delete(t.known, 0, 1)
		}
	}
	t.orphaned = slices.DeleteFunc(t.orphaned, func(x chain.L1Origin) bool { return x == o })
}

// hashAt is the hash of the block read at height n, if the trail has one.
func (t *trail) hashAt(n uint64) (common.Hash, bool) {
	i := sort.Search(len(t.known), func(i int) bool { return t.known[i].Number >= n })
	if i < len(t.known) && t.known[i].Number == n {
		return t.known[i].Hash, true
	}
	return common.Hash{}, false
}

// isOrphaned reports whether o is known not to be canonical.
func (t *trail) isOrphaned(o chain.L1Origin) bool { return slices.Contains(t.orphaned, o) }

// orphan records o as not canonical.
func (t *trail) orphan(o chain.L1Origin) {
	if !t.isOrphaned(o) {
		t.orphaned = append(t.orphaned, o)
		if len(t.orphaned) > trailKeep {
			t.orphaned = slices.Delete(t.orphaned, 0, 1)
		}
	}
}

// rollback forgets the blocks from height n up, as orphaned now. What was
// orphaned before is forgotten: a reorg back may have made it canonical
// again, and the owner asks the L1 again for what it no longer knows.
func (t *trail) rollback(n uint64) {
	i := sort.Search(len(t.known), func(i int) bool { return t.known[i].Number >= n })
	t.orphaned = append([]chain.L1Origin(nil), t.known[i:]...)
	t.known = t.known[:i]
}

// candidates is the trail's blocks and more (the blocks of a scan's
// records), by number.
func (t *trail) candidates(more []chain.L1Origin) []chain.L1Origin {
	out := append(append([]chain.L1Origin(nil), t.known...), more...)
	slices.SortStableFunc(out, func(a, b chain.L1Origin) int { return cmp.Compare(a.Number, b.Number) })
	return slices.Compact(out)
}

// canonical reports whether o is the L1's block at its height (false when
// the L1 has none there).
func canonical(ctx context.Context, b headerReader, o chain.L1Origin) (bool, error) {
	h, err := b.HeaderByNumber(ctx, new(big.Int).SetUint64(o.Number))
	if errors.Is(err, ethereum.NotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("L1 header %d: %w", o.Number, err)
	}
	return h.Hash() == o.Hash, nil
}

// forkPoint is the newest of cands (by number) still canonical, read
// newest first (those above tip are gone without asking), and whether one
// is.
func forkPoint(ctx context.Context, b headerReader, tip uint64, cands []chain.L1Origin) (chain.L1Origin, bool, error) {
	for i := len(cands) - 1; i >= 0; i-- {
		if cands[i].Number > tip {
			continue
		}
		ok, err := canonical(ctx, b, cands[i])
		if err != nil {
			return chain.L1Origin{}, false, err
		}
		if ok {
			return cands[i], true, nil
		}
	}
	return chain.L1Origin{}, false, nil
}
