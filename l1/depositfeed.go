package l1

import (
	"context"
	"errors"
	"fmt"
	"math/big"
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
// the first good poll it returns nothing and after itself.
func (f *DepositFeed) Since(after chain.L1Origin) ([]chain.L1Deposits, chain.L1Origin, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.scanned || f.head.Number <= after.Number {
		return nil, after, nil
	}
	i := len(f.blocks)
	for i > 0 && f.blocks[i-1].Origin.Number > after.Number {
		i--
	}
	return append([]chain.L1Deposits(nil), f.blocks[i:]...), f.head, nil
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
	if tip < f.cfg.Confirmations {
		return nil
	}
	confirmed := tip - f.cfg.Confirmations
	f.mu.Lock()
	from := f.cfg.StartBlock
	if f.scanned {
		from = f.head.Number + 1
	}
	f.mu.Unlock()
	if confirmed < from {
		if confirmed+1 < from {
			return fmt.Errorf("L1 head %d is below the scanned block %d: the L1 was reset or reorganised deeper than the confirmations (%d)", tip, from-1, f.cfg.Confirmations)
		}
		return nil
	}
	for from <= confirmed {
		to := min(confirmed, from+f.cfg.MaxRange-1)
		deposits, err := readDeposits(ctx, f.b, f.portal, from, to)
		if err != nil {
			return err
		}
		end, err := f.b.HeaderByNumber(ctx, new(big.Int).SetUint64(to))
		if err != nil {
			return fmt.Errorf("L1 header %d: %w", to, err)
		}
		groups, err := groupDeposits(deposits)
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.blocks = append(f.blocks, groups...)
		f.head, f.scanned = chain.L1Origin{Number: to, Hash: end.Hash()}, true
		f.mu.Unlock()
		for _, g := range groups {
			f.log.Info().Uint64("l1_block", g.Origin.Number).Int("deposits", len(g.Deposits)).Msg("deposits confirmed on L1")
		}
		from = to + 1
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
// not answer). An error means through is not the L1's block at its height.
func (f *DepositFeed) Between(after, through chain.L1Origin) ([]*chain.Deposit, bool, error) {
	f.mu.Lock()
	if !f.scanned || f.head.Number < through.Number {
		f.mu.Unlock()
		return nil, false, nil
	}
	var out []*chain.Deposit
	known := through == f.head
	for _, g := range f.blocks {
		if g.Origin.Number > after.Number && g.Origin.Number <= through.Number {
			out = append(out, g.Deposits...)
		}
		if g.Origin.Number == through.Number {
			if g.Origin.Hash != through.Hash {
				f.mu.Unlock()
				return nil, false, fmt.Errorf("L1 cursor %d is %s, the L1's block there is %s", through.Number, through.Hash, g.Origin.Hash)
			}
			known = true
		}
	}
	f.mu.Unlock()
	if !known {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h, err := f.b.HeaderByNumber(ctx, new(big.Int).SetUint64(through.Number))
		if err != nil {
			return nil, false, nil // asked again with the block
		}
		if h.Hash() != through.Hash {
			return nil, false, fmt.Errorf("L1 cursor %d is %s, the L1's block there is %s", through.Number, through.Hash, h.Hash())
		}
	}
	return out, true, nil
}
