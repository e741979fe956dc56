package sequencer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/eigenda"
	"github.com/meganode/meganode/p2p"
	"github.com/meganode/meganode/storage"
)

// BatcherConfig sets how sealed blocks go to the DA layer.
type BatcherConfig struct {
	MaxBlobSize int           // default eigenda.MaxBlobSize
	MaxBlocks   int           // blocks per blob at most, default 256
	Timeout     time.Duration // one post, default 5 min (a real disperser confirms in minutes)
	Backoff     time.Duration // first wait after a failed post, doubled up to MaxBackoff
	MaxBackoff  time.Duration
	// After is the timer the backoff waits on; tests inject it.
	After func(time.Duration) <-chan time.Time
}

// DefaultBatcherConfig is the batcher's default configuration.
func DefaultBatcherConfig() BatcherConfig {
	return BatcherConfig{MaxBlobSize: eigenda.MaxBlobSize, MaxBlocks: 256, Timeout: 5 * time.Minute, Backoff: time.Second, MaxBackoff: time.Minute, After: time.After}
}

// BatcherStats counts the batcher's work.
type BatcherStats struct {
	Blobs, Bytes, Failures, Unavailable uint64
	Posted                              uint64 // highest block in a posted blob
}

// Batcher posts every sealed block, with its witness, to the DA layer: it
// packs the sequencer's signed block and witness messages of the blocks not
// posted yet into one compressed blob (eigenda.EncodeBlob) up to the blob
// cap, posts it, records the commitment in the store (so a restart resumes
// after the last posted block) and streams it. It runs beside the
// sequencer and never holds it up: while the DA layer fails, blocks wait in
// the store and go out, all of them, once it answers again.
type Batcher struct {
	cfg    BatcherConfig
	client eigenda.Client
	seq    *Sequencer
	store  *storage.Store
	msgs   p2p.Provider // signed block and witness messages by number
	log    zerolog.Logger
	feed   chain.Feed[*chain.DACommitment]

	blobs, bytes, failures, unavailable, posted atomic.Uint64

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewBatcher builds the batcher of pub's sequencer; Start runs it.
func NewBatcher(cfg BatcherConfig, client eigenda.Client, pub *Publisher, log zerolog.Logger) *Batcher {
	def := DefaultBatcherConfig()
	if cfg.MaxBlobSize <= 0 || cfg.MaxBlobSize > eigenda.MaxBlobSize {
		cfg.MaxBlobSize = def.MaxBlobSize
	}
	if cfg.MaxBlocks <= 0 {
		cfg.MaxBlocks = def.MaxBlocks
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = def.Timeout
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = def.Backoff
	}
	if cfg.MaxBackoff < cfg.Backoff {
		cfg.MaxBackoff = max(def.MaxBackoff, cfg.Backoff)
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	return &Batcher{cfg: cfg, client: client, seq: pub.seq, store: pub.store, msgs: pub.Provider(), log: log.With().Str("component", "batcher").Logger()}
}

// Stats returns the counters.
func (b *Batcher) Stats() BatcherStats {
	return BatcherStats{Blobs: b.blobs.Load(), Bytes: b.bytes.Load(), Failures: b.failures.Load(), Unavailable: b.unavailable.Load(), Posted: b.posted.Load()}
}

// Commitments streams every posted blob.
func (b *Batcher) Commitments(buffer int) *chain.Subscription[*chain.DACommitment] {
	return b.feed.Subscribe(buffer)
}

// Start posts in the background until Stop.
func (b *Batcher) Start() error {
	last, err := b.store.LastPosted()
	if err != nil {
		return err
	}
	if last != nil {
		b.posted.Store(last.Last)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	heads := b.seq.Heads(64)
	b.wg.Add(1)
	go b.loop(ctx, heads, last)
	return nil
}

// Stop ends posting; a post in flight is abandoned and redone on restart.
func (b *Batcher) Stop() {
	if b.cancel != nil {
		b.cancel()
		b.wg.Wait()
	}
}

func (b *Batcher) loop(ctx context.Context, heads *chain.Subscription[*chain.Head], last *chain.DACommitment) {
	defer b.wg.Done()
	defer func() { heads.Unsubscribe() }()
	backoff := b.cfg.Backoff
	var retry <-chan time.Time
	for {
		if retry == nil {
			next, err := b.postPending(ctx, last)
			last = next
			switch {
			case err == nil:
				backoff = b.cfg.Backoff
			case ctx.Err() != nil:
				return
			default:
				b.failures.Add(1)
				if errors.Is(err, eigenda.ErrUnavailable) {
					b.unavailable.Add(1)
				}
				b.log.Warn().Err(err).Dur("retry_in", backoff).Uint64("posted", b.posted.Load()).
					Uint64("head", b.store.CurrentHeader().Number.Uint64()).Msg("DA post failed; blocks wait in the store")
				retry = b.cfg.After(backoff)
				backoff = min(2*backoff, b.cfg.MaxBackoff)
			}
		}
		select {
		case <-ctx.Done():
			return
		case h := <-heads.C():
			if h.Rewound {
				// A dev chain went back: the store dropped the records of
				// blobs holding later blocks; post again from the last kept.
				kept, err := b.store.LastPosted()
				if err != nil {
					b.log.Error().Err(err).Msg("read the last posted blob after a revert")
				}
				last = kept
				if kept == nil {
					b.posted.Store(0)
				} else {
					b.posted.Store(kept.Last)
				}
			}
		case <-heads.Err():
			heads.Unsubscribe()
			heads = b.seq.Heads(64)
		case <-retry:
			retry = nil
		}
	}
}

// postPending posts blobs until every sealed block is posted, returning the
// newest posted blob.
func (b *Batcher) postPending(ctx context.Context, last *chain.DACommitment) (*chain.DACommitment, error) {
	for {
		from := uint64(1)
		seq := uint64(1)
		if last != nil {
			from, seq = last.Last+1, last.Seq+1
		}
		head := b.store.CurrentHeader().Number.Uint64()
		if from > head {
			return last, nil
		}
		blocks, blob, err := b.pack(from, min(head, from+uint64(b.cfg.MaxBlocks)-1))
		if err != nil {
			return last, err
		}
		pctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
		commitment, err := b.client.Put(pctx, blob)
		cancel()
		if err != nil {
			return last, fmt.Errorf("post blocks %d-%d (%d bytes): %w", from, blocks[len(blocks)-1].Number, len(blob), err)
		}
		end := blocks[len(blocks)-1].Number
		h := b.store.GetHeaderByNumber(end)
		if h == nil {
			return last, fmt.Errorf("block %d left the store", end)
		}
		c := &chain.DACommitment{Seq: seq, First: from, Last: end, LastHash: h.Hash(), Commitment: commitment, Size: uint64(len(blob)), Posted: uint64(time.Now().UnixMilli())}
		if err := b.store.WriteDACommitment(c); err != nil {
			return last, fmt.Errorf("record DA commitment: %w", err)
		}
		b.blobs.Add(1)
		b.bytes.Add(uint64(len(blob)))
		b.posted.Store(end)
		b.feed.Send(c)
		b.log.Debug().Uint64("first", from).Uint64("last", end).Int("bytes", len(blob)).Msg("posted blob")
		last = c
	}
}

// pack encodes blocks from..to, fewer when the blob would exceed the cap.
func (b *Batcher) pack(from, to uint64) ([]eigenda.BlobBlock, []byte, error) {
	var blocks []eigenda.BlobBlock
	raw := 0
	for n := from; n <= to; n++ {
		bb, err := b.blobBlock(n)
		if err != nil {
			return nil, nil, err
		}
		// Compression at least halves these messages; stop collecting
		// well before the cap could be reached.
		if len(blocks) > 0 && raw+len(bb.Block)+len(bb.Witness) > 2*b.cfg.MaxBlobSize {
			break
		}
		raw += len(bb.Block) + len(bb.Witness)
		blocks = append(blocks, bb)
	}
	for {
		blob, err := eigenda.EncodeBlob(blocks)
		if err != nil {
			return nil, nil, err
		}
		if len(blob) <= b.cfg.MaxBlobSize {
			return blocks, blob, nil
		}
		if len(blocks) == 1 {
			return nil, nil, fmt.Errorf("block %d alone compresses to %d bytes, above the %d-byte blob cap", blocks[0].Number, len(blob), b.cfg.MaxBlobSize)
		}
		blocks = blocks[:len(blocks)*2/3]
	}
}

// blobBlock returns block n's signed block and witness messages.
func (b *Batcher) blobBlock(n uint64) (eigenda.BlobBlock, error) {
	bb := eigenda.BlobBlock{Number: n}
	for _, kind := range []p2p.Kind{p2p.Blocks, p2p.Witnesses} {
		msgs, err := b.msgs.Range(kind, n, 1)
		if err != nil || len(msgs) == 0 {
			return bb, fmt.Errorf("no signed %s message of block %d: %v", kind, n, err)
		}
		env, err := p2p.Envelope(msgs[0])
		if err != nil {
			return bb, err
		}
		if kind == p2p.Blocks {
			bb.Block = env
		} else {
			bb.Witness = env
		}
	}
	return bb, nil
}
