package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/eigenda"
	"github.com/meganode/meganode/p2p"
	"github.com/meganode/meganode/sequencer"
	"github.com/meganode/meganode/storage"
)

// DAConfig is how a role uses the DA layer (docs/eigenda.md).
type DAConfig struct {
	URL  string       // eigenda-proxy (or `meganode da`) URL; empty: no DA
	Mode eigenda.Mode // commitment mode, default standard
	// SyncFrom: a replica or full node derives the chain from DA (blobs
	// listed by the index) instead of following gossip.
	SyncFrom bool
	IndexURL string // mega_getDACommitments endpoint; default the sequencer URL
}

func (c DAConfig) client() (*eigenda.HTTPClient, error) {
	cfg := eigenda.DefaultHTTPConfig(c.URL)
	if c.Mode != "" {
		cfg.Mode = c.Mode
	}
	return eigenda.NewHTTPClient(cfg)
}

// addBatcher posts the sequencer's blocks to DA and serves the index.
func (r *Role) addBatcher(client eigenda.Client, pub *sequencer.Publisher) *sequencer.Batcher {
	client = timedDA{client, r.histogram("meganode_da_post_duration_seconds", "Time of one successful blob post to DA.", daBuckets)}
	b := sequencer.NewBatcher(sequencer.DefaultBatcherConfig(), client, pub, r.log)
	r.batcher = b
	r.counter("meganode_da_blobs_total", "Blobs posted to DA.", func() uint64 { return b.Stats().Blobs })
	r.counter("meganode_da_bytes_total", "Bytes posted to DA.", func() uint64 { return b.Stats().Bytes })
	r.counter("meganode_da_failures_total", "Failed DA posts (retried with backoff).", func() uint64 { return b.Stats().Failures })
	r.counter("meganode_da_unavailable_total", "DA posts answered 503 (disperser unavailable).", func() uint64 { return b.Stats().Unavailable })
	r.gauge("meganode_da_posted_block", "Newest block posted to DA.", func() float64 { return float64(b.Stats().Posted) })
	return b
}

// startBatcher starts b and gossips every commitment it records.
func startBatcher(ctx context.Context, b *sequencer.Batcher, pub *sequencer.Publisher, net sequencer.Gossip, fins ...*tracker) error {
	sub := b.Commitments(256)
	if err := b.Start(); err != nil {
		sub.Unsubscribe()
		return err
	}
	go func() {
		defer func() { sub.Unsubscribe() }()
		for {
			select {
			case <-ctx.Done():
				return
			case c := <-sub.C():
				pub.PublishDA(ctx, net, c)
				for _, fin := range fins {
					if fin != nil {
						fin.Available(c.Last)
					}
				}
			case <-sub.Err():
				// Nodes that missed commitments read the index.
				sub.Unsubscribe()
				sub = b.Commitments(256)
			}
		}
	}()
	return nil
}

// deliverFunc hands a role a message that arrived signed by the sequencer.
type deliverFunc func(kind p2p.Kind, payload, data []byte)

// fromDA returns nil for a role without a DA layer; otherwise a func that
// starts, until ctx ends, deriving the chain from DA (--sync-from-da) or,
// for a role that follows gossip, checking that every block it holds is in
// a DA blob (what makes it safe), and returns a func that waits for the end.
func (r *Role) fromDA(cfg RoleConfig, f follower) (func(ctx context.Context) (wait func()), error) {
	if cfg.DA.URL == "" {
		if cfg.DA.SyncFrom {
			return nil, errors.New("--sync-from-da needs --da.url")
		}
		return nil, nil
	}
	deliver := f.deliver
	if !cfg.DA.SyncFrom {
		deliver = nil
	}
	var index eigenda.Index
	closeIndex := func() {}
	if ix, err := inboxIndex(cfg.L1, r.log); err != nil {
		return nil, err
	} else if ix != nil {
		index = ix // commitments from L1, not from a node's RPC
	} else {
		url := cfg.DA.IndexURL
		if url == "" {
			url = cfg.SequencerURL
		}
		rpcIndex, err := eigenda.DialIndex(url)
		if err != nil {
			return nil, err
		}
		index, closeIndex = rpcIndex, rpcIndex.Close
	}
	d, err := derivation(cfg, index, r.store, deliver, f.witnesses, f.heads, f.healthy, r)
	if err != nil {
		closeIndex()
		return nil, err
	}
	return func(ctx context.Context) func() {
		// A node that joined by state sync derives from the block after
		// its synced one, and checks the blobs from its first header on:
		// it holds no block before (the blobs of those are not checked,
		// nor listed in its DA index).
		if deliver != nil {
			d.SkipTo(r.store.CurrentHeader().Number.Uint64() + 1)
		} else {
			d.SkipTo(r.store.FirstHeader())
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer closeIndex()
			d.Run(ctx)
		}()
		return func() { <-done }
	}, nil
}

// derivation builds the deriver of a replica or full node: each blob's
// blocks (and, with witnesses, their witnesses) are checked against the
// sequencer's key and handed to the role; a blob is done when the role's
// head reaches its last block, which must be the block the index names.
// With a nil deliver the role follows gossip and the blob's blocks must be
// the ones it already holds.
func derivation(cfg RoleConfig, index eigenda.Index, store *storage.Store, deliver deliverFunc, witnesses bool, heads headFeed, healthy func() error, r *Role) (*eigenda.Deriver, error) {
	client, err := cfg.DA.client()
	if err != nil {
		return nil, err
	}
	chainID := store.ChainConfig().ChainID.Uint64()
	open := func(env []byte, kind p2p.Kind) ([]byte, []byte, error) {
		data := p2p.Wrap(env)
		payload, signer, err := p2p.Open(data, kind, chainID)
		if err != nil {
			return nil, nil, err
		}
		if signer != cfg.SequencerAddress {
			return nil, nil, fmt.Errorf("%w: %s message signed by %s, not the sequencer %s", p2p.ErrWrongKey, kind, signer, cfg.SequencerAddress)
		}
		return payload, data, nil
	}
	apply := func(ctx context.Context, c *chain.DACommitment, blocks []eigenda.BlobBlock) error {
		if err := healthy(); err != nil {
			return err
		}
		sub := heads(len(blocks) + 16)
		defer sub.Unsubscribe()
		for _, bb := range blocks {
			if deliver == nil {
				break
			}
			if witnesses {
				payload, data, err := open(bb.Witness, p2p.Witnesses)
				if err != nil {
					return fmt.Errorf("witness of block %d: %w", bb.Number, err)
				}
				deliver(p2p.Witnesses, payload, data)
			}
			payload, data, err := open(bb.Block, p2p.Blocks)
			if err != nil {
				return fmt.Errorf("block %d: %w", bb.Number, err)
			}
			deliver(p2p.Blocks, payload, data)
		}
		for store.CurrentHeader().Number.Uint64() < c.Last {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-sub.C():
			case <-sub.Err():
				sub.Unsubscribe()
				sub = heads(16)
			}
			if err := healthy(); err != nil {
				return err
			}
		}
		if h := store.GetHeaderByNumber(c.Last); h == nil || h.Hash() != c.LastHash {
			return fmt.Errorf("block %d derived from blob %d is not the block the index names (%s)", c.Last, c.Seq, c.LastHash)
		}
		if deliver == nil {
			for _, bb := range blocks {
				payload, _, err := open(bb.Block, p2p.Blocks)
				if err != nil {
					return fmt.Errorf("block %d: %w", bb.Number, err)
				}
				h, err := chain.BlockMessageHeader(payload)
				if err != nil {
					return fmt.Errorf("block %d in blob %d: %w", bb.Number, c.Seq, err)
				}
				if mine := store.GetHeaderByNumber(bb.Number); mine == nil || mine.Hash() != h.Hash() {
					return fmt.Errorf("blob %d holds block %d %s, not the block this node holds", c.Seq, bb.Number, h.Hash())
				}
			}
		}
		if err := store.WriteDACommitment(c); err != nil {
			return err
		}
		if r.fin != nil {
			r.fin.Available(c.Last)
		}
		return nil
	}
	from := store.CurrentHeader().Number.Uint64() + 1
	if deliver == nil {
		last, err := store.LastPosted()
		if err != nil {
			return nil, err
		}
		from = 1
		if last != nil {
			from = last.Last + 1
		}
	}
	d := eigenda.NewDeriver(eigenda.DeriveConfig{Progress: cfg.Progress}, client, index, from, apply, r.log)
	r.counter("meganode_da_derived_blobs_total", "Blobs read from DA: derived (--sync-from-da) or checked against the blocks this node holds.", func() uint64 { return d.Stats().Blobs })
	r.counter("meganode_da_derived_blocks_total", "Blocks in the blobs read from DA.", func() uint64 { return d.Stats().Blocks })
	r.counter("meganode_da_derive_failures_total", "Failed reads or checks of DA blobs (retried with backoff).", func() uint64 { return d.Stats().Failures })
	return d, nil
}
