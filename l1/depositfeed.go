package l1

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/meganode/meganode/chain"
)

// DepositFeedConfig configures a DepositFeed.
type DepositFeedConfig struct {
	// Confirmations is how many L1 blocks must follow one before its
	// deposits are taken (op-node's --verifier.l1-confs for the sequencer:
	// a reorg shallower than this never reaches an L2 block). Default 0.
	Confirmations uint64
	// StartBlock is the first L1 block scanned: the portal's deployment.
	StartBlock uint64
	// Poll is how often the L1 head is read, default 1 s.
	Poll time.Duration
	// MaxRange bounds the L1 blocks of one eth_getLogs call, default 2,000.
	MaxRange uint64
}

// DepositFeed follows an L1's portal and keeps the deposits of confirmed
// L1 blocks in memory, for the sequencer to take (Since) without waiting
// on the L1. Run polls; Poll is one round of it.
type DepositFeed struct {
	b      FeedBackend
	portal common.Address
	cfg    DepositFeedConfig
	log    zerolog.Logger

	mu      sync.Mutex
	blocks  []chain.L1Deposits // L1 blocks with deposits, oldest first
	head    chain.L1Origin     // the newest confirmed L1 block scanned
	scanned bool               // head is set
	err     error              // the last poll's failure, nil after a good one
	// trail is the scanned blocks' hashes (every poll's head), to find where
	// a reorg forked. asked is a cursor Since could not tell from them,
	// waiting for the next poll to look it up; checked is the last one it
	// found canonical.
	trail   trail
	checked chain.L1Origin
	asked   chain.L1Origin
}

// FeedBackend is what a DepositFeed reads of the L1: ethclient.Client is
// one (it connects on the first call, so a feed can be built before the L1
// answers).
type FeedBackend interface {
	ethereum.LogFilterer
	HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error)
}

// NewDepositFeed is a feed of the portal at portal on b.
func NewDepositFeed(b FeedBackend, portal common.Address, cfg DepositFeedConfig, log zerolog.Logger) *DepositFeed {
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.MaxRange == 0 {
		cfg.MaxRange = 2000
	}
	return &DepositFeed{b: b, portal: portal, cfg: cfg, log: log.With().Str("component", "l1-deposits").Logger()}
}

// Since returns the deposits of the scanned L1 blocks after after, one
// group per L1 block, and the newest confirmed L1 block scanned. Before
// the first good poll it returns nothing and after itself, and so it does
// for a cursor whose block the feed has not read (an L2 chain's cursor
// after a restart) until the next poll has looked it up. A cursor a reorg
// replaced is a *CursorReorgedError (ErrCursorReorged): its L2 block took
// deposits the L1 no longer has.
func (f *DepositFeed) Since(after chain.L1Origin) ([]chain.L1Deposits, chain.L1Origin, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.reorgedLocked(after); err != nil {
		return nil, after, err
	}
	if !f.scanned || f.head.Number <= after.Number {
		return nil, after, nil
	}
	if !f.knownLocked(after) {
		f.asked = after
		return nil, after, nil
	}
	i := len(f.blocks)
	for i > 0 && f.blocks[i-1].Origin.Number > after.Number {
		i--
	}
	return append([]chain.L1Deposits(nil), f.blocks[i:]...), f.head, nil
}

// hashAtLocked is the hash of the scanned block at height n, if the feed
// remembers it.
func (f *DepositFeed) hashAtLocked(n uint64) (common.Hash, bool) {
	if f.scanned && f.head.Number == n {
		return f.head.Hash, true
	}
	if h, ok := f.trail.hashAt(n); ok {
		return h, true
	}
	i := sort.Search(len(f.blocks), func(i int) bool { return f.blocks[i].Origin.Number >= n })
	if i < len(f.blocks) && f.blocks[i].Origin.Number == n {
		return f.blocks[i].Origin.Hash, true
	}
	if f.checked.Number == n && f.checked.Hash != (common.Hash{}) {
		return f.checked.Hash, true
	}
	return common.Hash{}, false
}

// knownLocked reports whether o is a scanned block the feed remembers (the
// zero cursor, before any L1 block, always is).
func (f *DepositFeed) knownLocked(o chain.L1Origin) bool {
	if o == (chain.L1Origin{}) {
		return true
	}
	h, ok := f.hashAtLocked(o.Number)
	return ok && h == o.Hash
}

// reorgedLocked is a *CursorReorgedError when o is known not to be
// canonical, from memory.
func (f *DepositFeed) reorgedLocked(o chain.L1Origin) error {
	if o == (chain.L1Origin{}) {
		return nil
	}
	if h, ok := f.hashAtLocked(o.Number); ok && h != o.Hash {
		return &CursorReorgedError{Cursor: o, Now: h}
	}
	if f.trail.isOrphaned(o) {
		return &CursorReorgedError{Cursor: o}
	}
	return nil
}

// Head is the newest confirmed L1 block scanned, and whether there is one.
func (f *DepositFeed) Head() (chain.L1Origin, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.head, f.scanned
}

// Err is why the last poll failed, nil when it did not: /ready reports it.
func (f *DepositFeed) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Run polls until ctx ends. A failing L1 is logged and retried; blocks go
// on without new deposits meanwhile.
func (f *DepositFeed) Run(ctx context.Context) {
	poll(ctx, f.cfg.Poll, f.log, "L1 unreachable: no new deposits until it answers", "L1 answers again", f.Poll)
}

// Poll scans the L1 blocks confirmed since the last poll, at most MaxRange
// of them per log query.
func (f *DepositFeed) Poll(ctx context.Context) error {
	err := f.poll(ctx)
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
	return err
}

func (f *DepositFeed) poll(ctx context.Context) error {
	latest, err := f.b.HeaderByNumber(ctx, nil)
	if err != nil {
		return fmt.Errorf("L1 head: %w", err)
	}
	tip := latest.Number.Uint64()
	if err := f.lookUpAsked(ctx); err != nil {
		return err
	}
	for rollbacks := 0; ; {
		f.mu.Lock()
		prev, scanned := f.head, f.scanned
		f.mu.Unlock()
		from := f.cfg.StartBlock
		if scanned {
			from = prev.Number + 1
		}
		scan := tip >= f.cfg.Confirmations && tip-f.cfg.Confirmations >= from
		var to uint64
		var deposits []*Deposit
		var end *types.Header
		if scan {
			// The range's last header is read before and after its logs: a
			// reorg in between changes it, and the logs may mix two chains.
			to = min(tip-f.cfg.Confirmations, from+f.cfg.MaxRange-1)
			before, err := f.b.HeaderByNumber(ctx, new(big.Int).SetUint64(to))
			if err != nil {
				return fmt.Errorf("L1 header %d: %w", to, err)
			}
			if deposits, err = readDeposits(ctx, f.b, f.portal, from, to); err != nil {
				return err
			}
			if end, err = f.b.HeaderByNumber(ctx, new(big.Int).SetUint64(to)); err != nil {
				return fmt.Errorf("L1 header %d: %w", to, err)
			}
			if end.Hash() != before.Hash() {
				f.log.Debug().Uint64("l1_block", to).Msg("L1 changed during a deposit scan; read again next poll")
				return nil
			}
		}
		// The block the range follows must still be the L1's, read after
		// the range: otherwise the range is another branch's, and the
		// blocks scanned since the fork are gone.
		if scanned {
			ok, err := canonical(ctx, f.b, prev)
			if err != nil {
				return err
			}
			if !ok {
				if rollbacks++; rollbacks > 3 {
					return errors.New("the L1 keeps reorganising during the deposit scan")
				}
				if err := f.rollback(ctx, tip, prev); err != nil {
					return err
				}
				continue
			}
		}
		if !scan {
			return nil
		}
		groups, err := groupDeposits(deposits)
		if err != nil {
			return err
		}
		head := chain.L1Origin{Number: to, Hash: end.Hash()}
		f.mu.Lock()
		f.blocks = append(f.blocks, groups...)
		f.head, f.scanned = head, true
		f.trail.add(head)
		f.mu.Unlock()
		for _, g := range groups {
			f.log.Info().Uint64("l1_block", g.Origin.Number).Int("deposits", len(g.Deposits)).Msg("deposits confirmed on L1")
		}
		if to == tip-f.cfg.Confirmations {
			return nil // the next poll checks the new head
		}
	}
}

// rollback drops what the feed read above the newest scanned block still
// canonical (the start block when none is), for the next round of poll to
// read again: old is the scanned head that is no longer the L1's. The
// deposits read again are new ones, their source hashes naming the new
// blocks.
func (f *DepositFeed) rollback(ctx context.Context, tip uint64, old chain.L1Origin) error {
	f.mu.Lock()
	origins := make([]chain.L1Origin, len(f.blocks))
	for i, g := range f.blocks {
		origins[i] = g.Origin
	}
	cands := f.trail.candidates(origins)
	f.mu.Unlock()
	fork, found, err := forkPoint(ctx, f.b, tip, cands)
	if err != nil {
		return err
	}
	from := f.cfg.StartBlock
	if found {
		from = fork.Number + 1
	}
	f.mu.Lock()
	i := len(f.blocks)
	for i > 0 && f.blocks[i-1].Origin.Number >= from {
		i--
	}
	dropped := f.blocks[i:]
	f.blocks = f.blocks[:i:i] // Since's copies keep the dropped groups they hold
	f.trail.rollback(from)
	for _, g := range dropped {
		f.trail.orphan(g.Origin)
	}
	f.trail.orphan(old)
	if f.checked != (chain.L1Origin{}) && f.checked.Number >= from {
		f.trail.orphan(f.checked)
		f.checked = chain.L1Origin{}
	}
	f.head, f.scanned = fork, found
	f.mu.Unlock()
	n := 0
	for _, g := range dropped {
		n += len(g.Deposits)
	}
	f.log.Warn().Str("l1_blocks", fmt.Sprintf("%d..%d", from, old.Number)).Stringer("orphaned_head", old.Hash).
		Uint64("fork", fork.Number).Stringer("fork_hash", fork.Hash).Int("dropped_deposits", n).Int("dropped_deposit_blocks", len(dropped)).
		Msg("L1 reorg: deposits of these L1 blocks re-read")
	return nil
}

// lookUpAsked asks the L1 whether the cursor Since could not tell is
// canonical, for Since's next answer.
func (f *DepositFeed) lookUpAsked(ctx context.Context) error {
	f.mu.Lock()
	o := f.asked
	f.asked = chain.L1Origin{}
	f.mu.Unlock()
	if o == (chain.L1Origin{}) {
		return nil
	}
	ok, err := canonical(ctx, f.b, o)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if ok {
		f.checked = o
	} else {
		f.trail.orphan(o)
	}
	return nil
}

// groupDeposits groups deposits, in log order, by their L1 block.
func groupDeposits(ds []*Deposit) ([]chain.L1Deposits, error) {
	var out []chain.L1Deposits
	for _, d := range ds {
		o := chain.L1Origin{Number: d.L1BlockNumber, Hash: d.L1BlockHash}
		n := len(out)
		switch {
		case n > 0 && out[n-1].Origin == o:
		case n > 0 && out[n-1].Origin.Number >= o.Number:
			return nil, errors.New("L1 logs out of order or from two blocks of one height")
		default:
			out = append(out, chain.L1Deposits{Origin: o})
			n++
		}
		out[n-1].Deposits = append(out[n-1].Deposits, &d.Deposit)
	}
	return out, nil
}

// poll runs step every period until ctx ends, logging a failure once (as
// failing) until a step succeeds again (as recovered).
func poll(ctx context.Context, period time.Duration, log zerolog.Logger, failing, recovered string, step func(context.Context) error) {
	t := time.NewTicker(period)
	defer t.Stop()
	down := false
	for {
		err := step(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil && !down:
			log.Warn().Err(err).Msg(failing)
		case err == nil && down:
			log.Info().Msg(recovered)
		}
		down = err != nil
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Between returns the deposits of the L1 blocks after after through
// through, in log order, for a follower's check of a block's deposits, once
// the feed has read the L1 that far (false before, or while the L1 does
// not answer). An error (a *CursorReorgedError) means through, or after, is
// not the L1's block at its height.
func (f *DepositFeed) Between(after, through chain.L1Origin) ([]*chain.Deposit, bool, error) {
	f.mu.Lock()
	err := f.reorgedLocked(through)
	if err == nil {
		err = f.reorgedLocked(after)
	}
	if err != nil {
		f.mu.Unlock()
		return nil, false, err
	}
	if !f.scanned || f.head.Number < through.Number {
		f.mu.Unlock()
		return nil, false, nil
	}
	var out []*chain.Deposit
	for _, g := range f.blocks {
		if g.Origin.Number > after.Number && g.Origin.Number <= through.Number {
			out = append(out, g.Deposits...)
		}
	}
	known := f.knownLocked(through)
	f.mu.Unlock()
	if !known {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h, err := f.b.HeaderByNumber(ctx, new(big.Int).SetUint64(through.Number))
		if err != nil {
			return nil, false, nil // asked again with the block
		}
		if h.Hash() != through.Hash {
			return nil, false, &CursorReorgedError{Cursor: through, Now: h.Hash()}
		}
	}
	return out, true, nil
}
