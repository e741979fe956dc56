package l1

import (
	"context"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/meganode/meganode/chain"
)

// DefaultSequencingWindow is how long, in L2 time, a deposit may wait
// before the rules force it in (docs/l1.md "Forced inclusion"): an hour,
// the order of OP's sequencer drift (30 min) and window (3,600 L1 blocks).
const DefaultSequencingWindow = time.Hour

// Window answers the forced-inclusion rule from a DepositFeed's L1: the
// oldest deposit cursor an L2 block of time t may carry is the newest
// confirmed L1 block whose timestamp is at or before t − size. Every node
// that has read the L1 that far gets the same answer, so a block that
// breaks it is refused, and replaced, by all of them alike.
type Window struct {
	feed *DepositFeed
	size uint64 // seconds

	mu      sync.Mutex
	headers map[uint64]*types.Header // confirmed L1 headers read, bounded
	last    *types.Header            // the newest answer: the next search starts there
}

// maxWindowHeaders bounds the headers a Window keeps.
const maxWindowHeaders = 4096

// NewWindow is the rule of size over feed's L1. A size under a second is
// taken as one second.
func NewWindow(feed *DepositFeed, size time.Duration) *Window {
	return &Window{feed: feed, size: max(uint64(size/time.Second), 1), headers: make(map[uint64]*types.Header)}
}

// Size is the window.
func (w *Window) Size() time.Duration { return time.Duration(w.size) * time.Second }

// Required returns the oldest cursor an L2 block of time t may carry: the
// newest confirmed L1 block at or before t − size, or the zero cursor when
// no L1 block the feed reads is that old (the rule asks nothing yet). It is
// false while the feed has not confirmed an L1 block of time t − size or
// later: the L1 that decides may still come. An error: the L1 failed.
func (w *Window) Required(t uint64) (chain.L1Origin, bool, error) {
	if t < w.size {
		return chain.L1Origin{}, true, nil
	}
	target := t - w.size
	head, ok := w.feed.Head()
	if !ok {
		return chain.L1Origin{}, false, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w.mu.Lock()
	defer w.mu.Unlock()
	top, err := w.header(ctx, head.Number)
	if err != nil {
		return chain.L1Origin{}, false, err
	}
	if top.Hash() != head.Hash {
		// The feed followed an L1 reorg: the headers kept may be of the
		// branch it left.
		clear(w.headers)
		w.last = nil
		if top, err = w.header(ctx, head.Number); err != nil {
			return chain.L1Origin{}, false, err
		}
	}
	if top.Time < target {
		return chain.L1Origin{}, false, nil
	}
	lo := w.feed.cfg.StartBlock
	first, err := w.header(ctx, lo)
	if err != nil {
		return chain.L1Origin{}, false, err
	}
	if first.Time > target {
		return chain.L1Origin{}, true, nil
	}
	// Search (lo, hi] for the last header at or before target: from the
	// previous answer forward in doubling steps (blocks come in time order,
	// so consecutive L2 blocks move it a step or two), then by halves.
	hi := head.Number
	if w.last != nil && w.last.Number.Uint64() >= lo && w.last.Number.Uint64() <= hi && w.last.Time <= target {
		lo = w.last.Number.Uint64()
		for step := uint64(1); lo+step < hi; step *= 2 {
			h, err := w.header(ctx, lo+step)
			if err != nil {
				return chain.L1Origin{}, false, err
			}
			if h.Time > target {
				hi = lo + step
				break
			}
			lo += step
		}
	}
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		h, err := w.header(ctx, mid)
		if err != nil {
			return chain.L1Origin{}, false, err
		}
		if h.Time <= target {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	found, err := w.header(ctx, lo)
	if err != nil {
		return chain.L1Origin{}, false, err
	}
	w.last = found
	return chain.L1Origin{Number: lo, Hash: found.Hash()}, true, nil
}

// header reads L1 header n (confirmed, so kept), with w.mu held.
func (w *Window) header(ctx context.Context, n uint64) (*types.Header, error) {
	if h, ok := w.headers[n]; ok {
		return h, nil
	}
	h, err := w.feed.b.HeaderByNumber(ctx, new(big.Int).SetUint64(n))
	if err != nil {
		return nil, fmt.Errorf("L1 header %d: %w", n, err)
	}
	if len(w.headers) >= maxWindowHeaders {
		clear(w.headers)
	}
	w.headers[n] = h
	return h, nil
}
