package eigenda

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common/hexutil"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/chain/progress"
)

// Index lists the blobs the sequencer posted, in block order, from the one
// holding block from.
type Index interface {
	Commitments(ctx context.Context, from uint64, limit int) ([]*chain.DACommitment, error)
}

// headIndex is an index that also knows the chain's head: derivation's
// progress then counts to it rather than to the last blob listed so far.
type headIndex interface {
	Head(ctx context.Context) (uint64, error)
}

// RPCIndex reads a node's mega_getDACommitments.
type RPCIndex struct{ c *gethrpc.Client }

// DialIndex connects to the JSON-RPC endpoint at url.
func DialIndex(url string) (*RPCIndex, error) {
	c, err := gethrpc.Dial(url)
	if err != nil {
		return nil, fmt.Errorf("DA index at %s: %w", url, err)
	}
	return &RPCIndex{c: c}, nil
}

// Close drops the connection.
func (i *RPCIndex) Close() { i.c.Close() }

// Commitments calls mega_getDACommitments(from, limit).
func (i *RPCIndex) Commitments(ctx context.Context, from uint64, limit int) ([]*chain.DACommitment, error) {
	var cs []*chain.DACommitment
	if err := i.c.CallContext(ctx, &cs, "mega_getDACommitments", hexutil.Uint64(from), hexutil.Uint64(limit)); err != nil {
		return nil, err
	}
	return cs, nil
}

// Head returns the newest block of the node serving the index.
func (i *RPCIndex) Head(ctx context.Context) (uint64, error) {
	var n hexutil.Uint64
	err := i.c.CallContext(ctx, &n, "eth_blockNumber")
	return uint64(n), err
}

// Apply takes a blob's blocks (from the node's next block on) in order. An
// error stops derivation at that blob, which is tried again later.
type Apply func(ctx context.Context, c *chain.DACommitment, blocks []BlobBlock) error

// DeriveConfig sets the pace of derivation.
type DeriveConfig struct {
	Poll    time.Duration // wait when caught up with the index, default 1 s
	Backoff time.Duration // wait after a failure, doubled up to 30 s; default 1 s
	// After is the timer both wait on; tests inject it.
	After func(time.Duration) <-chan time.Time
	// Progress is where catching up with the index reports, from the
	// first block derived to the newest the index lists.
	Progress progress.Options
}

// DeriveStats counts derivation's work.
type DeriveStats struct {
	Blobs, Blocks, Bytes, Failures uint64
	Next                           uint64 // the next block to derive
}

// Deriver rebuilds the chain from DA: it reads the commitment index, gets
// each blob from the DA layer, decodes it and hands its blocks to the node,
// which checks the sequencer's signatures and every root as for gossip.
type Deriver struct {
	cfg    DeriveConfig
	client Client
	index  Index
	apply  Apply
	log    zerolog.Logger

	next                           atomic.Uint64
	blobs, blocks, bytes, failures atomic.Uint64

	// Catching up: the meter counts blocks from start to the newest the
	// index listed; nil when caught up. Only Run's goroutine uses them.
	meter *progress.Meter
	start uint64
	begun bool // past the first step
}

// catchUpBlobs is the backlog of blobs, once derivation caught up, that
// counts as falling behind again and is reported as progress.
const catchUpBlobs = 8

// NewDeriver derives from block from on.
func NewDeriver(cfg DeriveConfig, client Client, index Index, from uint64, apply Apply, log zerolog.Logger) *Deriver {
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	d := &Deriver{cfg: cfg, client: client, index: index, apply: apply, log: log.With().Str("component", "derive").Logger()}
	d.next.Store(from)
	return d
}

// SkipTo moves the next block to derive up to from when it is below it;
// before Run only.
func (d *Deriver) SkipTo(from uint64) {
	if d.next.Load() < from {
		d.next.Store(from)
	}
}

// Stats returns the counters.
func (d *Deriver) Stats() DeriveStats {
	return DeriveStats{Blobs: d.blobs.Load(), Blocks: d.blocks.Load(), Bytes: d.bytes.Load(), Failures: d.failures.Load(), Next: d.next.Load()}
}

// Run derives until ctx ends.
func (d *Deriver) Run(ctx context.Context) {
	backoff := d.cfg.Backoff
	for {
		progressed, err := d.step(ctx)
		wait := d.cfg.Poll
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			d.failures.Add(1)
			d.log.Warn().Err(err).Uint64("next", d.next.Load()).Dur("retry_in", backoff).Msg("derivation from DA failed")
			wait = backoff
			backoff = min(2*backoff, 30*time.Second)
		default:
			backoff = d.cfg.Backoff
		}
		if progressed && err == nil {
			continue
		}
		if err == nil && d.meter != nil {
			d.meter.Done() // caught up: live blobs are not progress
			d.meter = nil
			d.log.Info().Uint64("next", d.next.Load()).Msg("derivation caught up with the index")
		}
		select {
		case <-ctx.Done():
			return
		case <-d.cfg.After(wait):
		}
	}
}

// step derives the blobs the index lists from the next block on; it
// reports whether it derived any.
func (d *Deriver) step(ctx context.Context) (bool, error) {
	next := d.next.Load()
	cs, err := d.index.Commitments(ctx, next, 64)
	if err != nil {
		return false, fmt.Errorf("read the commitment index: %w", err)
	}
	progressed := false
	if n := len(cs); n > 0 && cs[n-1].Last >= next && (d.meter != nil || !d.begun || n >= catchUpBlobs) {
		if d.meter == nil {
			d.start = next
			d.meter = d.cfg.Progress.Start(d.log, "derive from DA", "blocks", 0)
		}
		last := cs[n-1].Last
		if h, ok := d.index.(headIndex); ok {
			if head, err := h.Head(ctx); err == nil {
				last = max(last, head)
			}
		}
		d.meter.SetTotal(max(last+1-d.start, d.meter.Snapshot().Total))
	}
	d.begun = true
	for _, c := range cs {
		if c.Last < next {
			continue
		}
		if c.First > next {
			return progressed, fmt.Errorf("the index has no blob holding block %d (next blob starts at %d)", next, c.First)
		}
		blob, err := d.client.Get(ctx, c.Commitment)
		if err != nil {
			return progressed, fmt.Errorf("blob %d (blocks %d-%d): %w", c.Seq, c.First, c.Last, err)
		}
		blocks, err := DecodeBlob(blob)
		if err != nil {
			return progressed, fmt.Errorf("blob %d (blocks %d-%d): %w", c.Seq, c.First, c.Last, err)
		}
		if blocks[0].Number != c.First || blocks[len(blocks)-1].Number != c.Last {
			return progressed, fmt.Errorf("blob %d holds blocks %d-%d, the index says %d-%d", c.Seq, blocks[0].Number, blocks[len(blocks)-1].Number, c.First, c.Last)
		}
		blocks = blocks[next-c.First:]
		if err := d.apply(ctx, c, blocks); err != nil {
			if errors.Is(err, context.Canceled) {
				return progressed, err
			}
			return progressed, fmt.Errorf("apply blob %d (blocks %d-%d): %w", c.Seq, next, c.Last, err)
		}
		d.blobs.Add(1)
		d.blocks.Add(uint64(len(blocks)))
		d.bytes.Add(uint64(len(blob)))
		next = c.Last + 1
		d.next.Store(next)
		progressed = true
		if d.meter != nil {
			d.meter.Set(next - d.start)
		}
		d.log.Debug().Uint64("seq", c.Seq).Uint64("last", c.Last).Int("bytes", len(blob)).Msg("derived blob")
	}
	return progressed, nil
}
