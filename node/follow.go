package node

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"

	"github.com/meganode/meganode/fullnode"
	"github.com/meganode/meganode/p2p"
	"github.com/meganode/meganode/prover"
	"github.com/meganode/meganode/replica"
	"github.com/meganode/meganode/rpc"
	"github.com/meganode/meganode/sequencer"
)

// follower is a follower role's own part as the shared wiring drives it:
// the replica's diff application and overlay, the full node's re-execution
// and safe head, the prover's stateless checks. The same part runs over p2p
// in a process of its own (wireFollower) and over the devnet's memNet.
type follower struct {
	kinds    []p2p.Kind   // the sequencer's messages it follows
	provider p2p.Provider // answers peers' range requests; nil: none
	deliver  deliverFunc  // hands it a message opened elsewhere (memNet, DA)
	start    func(network)
	follow   func(context.Context, *p2p.Subscription)
	stop     func()
	// A follower with a store (replica, full node) also keeps a finality
	// ladder, reads DA and serves its chain; the prover does none of these.
	verifies  bool // its heads are re-executed (full node)
	witnesses bool // DA derivation hands it witnesses too
	heads     headFeed
	minis     miniFeed // nil without mini-blocks
	healthy   func() error
	backend   rpc.Backend // its reads: Latest and Feeds
}

// network is what a follower's loop uses of its transport: gap fetches and,
// for the prover, publishing.
type network interface {
	Publish(ctx context.Context, kind p2p.Kind, data []byte) error
	FetchAny(ctx context.Context, kind p2p.Kind, from, count uint64) ([]p2p.Message, error)
}

// newFollower builds a replica or full-node role around the part build
// makes over the role's store: it forwards transactions to
// cfg.SequencerURL and serves its own chain, finality and DA index.
func newFollower(cfg RoleConfig, name string, log zerolog.Logger, build func(*Role) (follower, error)) (*Role, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	fwd, err := forwarder(cfg.SequencerURL)
	if err != nil {
		return nil, err
	}
	r := &Role{Name: name, log: log}
	if err := r.openStore(cfg); err != nil {
		return nil, err
	}
	fail := func(err error) (*Role, error) {
		r.Stop(context.Background())
		return nil, err
	}
	f, err := build(r)
	if err != nil {
		return fail(err)
	}
	if err := r.wireFollower(cfg, f, nil); err != nil {
		return fail(err)
	}
	if err := r.maybeWatchOutputs(cfg.L1, log); err != nil {
		return fail(err)
	}
	if err := r.maybePropose(cfg.L1, log); err != nil {
		return fail(err)
	}
	b := f.backend
	b.Chain, b.Forward = r.store, fwd
	if cfg.DA.URL != "" {
		b.DA = r.store
	}
	if err := r.newRPC(cfg.RPC, r.backend(b), r.ready(f.healthy)); err != nil {
		return fail(err)
	}
	return r, nil
}

// wireFollower adds what every follower role runs around its part, started
// in this order and stopped in reverse: the p2p node (accepting f.kinds
// signed by the sequencer, plus extra), the part's loop, DA derivation or
// the DA check, gossip, the finality ladder. A follower with a store keeps
// a ladder when provers are configured and reads DA with cfg.DA.URL.
func (r *Role) wireFollower(cfg RoleConfig, f follower, extra map[p2p.Kind][]common.Address) error {
	var derive func(context.Context) func()
	if r.store != nil {
		cfg.Finality.RequireDA = cfg.DA.URL != ""
		fc := cfg.Finality
		fc.L1 = cfg.L1.anchorsOnL1()
		if err := r.addFinality(fc, cfg.SequencerAddress, f.verifies); err != nil {
			return err
		}
		var err error
		if derive, err = r.fromDA(cfg, f); err != nil {
			return err
		}
	}
	signers := map[p2p.Kind][]common.Address{}
	for _, kind := range f.kinds {
		signers[kind] = []common.Address{cfg.SequencerAddress}
	}
	for kind, s := range extra {
		signers[kind] = s
	}
	r.finalitySigners(cfg.Finality, signers)
	gossip := r.store == nil || !cfg.DA.SyncFrom // --sync-from-da: DA alone feeds the part
	derived := func() {}
	follow, cancel := context.WithCancel(context.Background())
	r.then(func(ctx context.Context) error {
		if err := r.startP2P(ctx, cfg, signers, f.provider); err != nil {
			return err
		}
		// With peers up and nothing following yet: an empty store in snap
		// mode fetches a recent block's state, and the part starts there.
		if r.store != nil {
			if err := r.syncState(ctx, cfg.P2P.Sync); err != nil {
				return err
			}
		}
		f.start(r.net)
		if derive != nil {
			derived = derive(follow)
		}
		if gossip {
			for _, kind := range f.kinds {
				sub, err := r.net.Subscribe(kind)
				if err != nil {
					return err
				}
				f.follow(follow, sub)
			}
		}
		return r.startFinality(follow, f.heads, f.minis)
	}, func(context.Context) error {
		cancel()
		derived()
		if r.fin != nil {
			r.fin.Stop()
		}
		f.stop()
		if r.net == nil {
			return nil
		}
		return r.net.Close()
	})
	return nil
}

// replicaPart builds the replica over the role's store.
func (r *Role) replicaPart(cfg replica.Config) (follower, error) {
	rep, err := replica.New(cfg, r.store, r.log)
	if err != nil {
		return follower{}, err
	}
	r.rep = rep
	r.gauge("meganode_miniblock_head", "Mini-blocks sealed so far (the next one's number) as this node sees it.", func() float64 { return float64(rep.MiniBlockCount()) })
	r.counter("meganode_replica_miniblocks_applied_total", "Mini-blocks applied to the overlay.", func() uint64 { return rep.Stats().MiniBlocks })
	r.counter("meganode_replica_blocks_applied_total", "Sealed blocks whose state diff was applied.", func() uint64 { return rep.Stats().Blocks })
	r.counter("meganode_replica_refused_total", "Blocks and mini-blocks refused (bad root, receipts, encoding).", func() uint64 { return rep.Stats().Refused })
	r.counter("meganode_replica_fetched_total", "Messages fetched over request-response to fill gaps.", func() uint64 { return rep.Stats().Fetched })
	return follower{
		kinds: []p2p.Kind{p2p.MiniBlocks, p2p.Blocks}, provider: rep.Provider(), deliver: rep.Deliver,
		start: func(n network) { rep.Start(n) }, follow: rep.Follow, stop: rep.Stop,
		heads: rep.Heads, minis: rep.MiniBlocks, healthy: rep.Healthy, backend: rpc.Backend{Latest: rep, Feeds: rep, DevFollower: cfg.Dev},
	}, nil
}

// fullNodePart builds the full node over the role's store.
func (r *Role) fullNodePart(cfg fullnode.Config) (follower, error) {
	full, err := fullnode.New(cfg, r.store, r.log)
	if err != nil {
		return follower{}, err
	}
	r.full = full
	r.counter("meganode_fullnode_verified_blocks_total", "Blocks re-executed and found to match.", func() uint64 { return full.Stats().Verified })
	r.counter("meganode_fullnode_refused_blocks_total", "Blocks that failed verification.", func() uint64 { return full.Stats().Refused })
	r.counter("meganode_fullnode_forced_blocks_total", "Blocks derived in place of the sequencer's because it broke a deposit rule, and its later blocks derived again on that chain (forced inclusion).", func() uint64 { return full.Stats().Forced })
	r.gauge("meganode_fullnode_alert", "1 once a block failed verification (see /ready for which).", func() float64 {
		if full.Healthy() != nil {
			return 1
		}
		return 0
	})
	ro := &readOnly{store: r.store}
	return follower{
		kinds: []p2p.Kind{p2p.Blocks, p2p.Witnesses}, deliver: func(kind p2p.Kind, payload, _ []byte) { full.Deliver(kind, payload) },
		start: func(n network) { full.Start(n) }, follow: full.Follow, stop: full.Stop,
		verifies: true, witnesses: true, heads: full.Heads, healthy: full.Healthy, backend: rpc.Backend{Latest: ro, Feeds: ro, DevFollower: cfg.Dev},
	}, nil
}

// proverPart drives pv, whose metrics go to r's registry.
func (r *Role) proverPart(pv *prover.Prover) follower {
	r.counter("meganode_prover_attested_total", "Blocks verified and attested.", func() uint64 { return pv.Stats().Attested })
	r.counter("meganode_prover_fraud_proofs_total", "Blocks found invalid; a fraud proof was published.", func() uint64 { return pv.Stats().Disputed })
	r.counter("meganode_prover_unverifiable_total", "Blocks whose witness did not allow a verdict.", func() uint64 { return pv.Stats().Unverifiable })
	r.counter("meganode_prover_deferred_total", "Blocks left for later because the prover was behind (fetched again in turn).", func() uint64 { return pv.Stats().Deferred })
	r.counter("meganode_prover_refused_deposits_total", "Blocks not attested: their deposit cursor is not the L1's block, or older than the sequencing window allows.", func() uint64 { return pv.Stats().RefusedDeposits })
	return follower{
		kinds: []p2p.Kind{p2p.Blocks, p2p.Witnesses}, provider: pv.Provider(), deliver: pv.Deliver,
		start: func(n network) { pv.Start(n) }, follow: pv.Follow, stop: pv.Stop,
	}
}

// The sequencer and replicas list the deposits of the block being built.
var (
	_ rpc.PendingDepositReader = (*sequencer.Sequencer)(nil)
	_ rpc.PendingDepositReader = (*replica.Replica)(nil)
)
