package node

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/fullnode"
	"github.com/meganode/meganode/l1"
	"github.com/meganode/meganode/p2p"
	"github.com/meganode/meganode/prover"
	"github.com/meganode/meganode/replica"
	"github.com/meganode/meganode/rpc"
	"github.com/meganode/meganode/sequencer"
	"github.com/meganode/meganode/storage"
)

// P2PConfig is a role's network setup.
type P2PConfig struct {
	Listen  []string // multiaddrs, default /ip4/127.0.0.1/tcp/0
	Peers   []string // static peers and bootnodes: multiaddrs ending in /p2p/<id>
	KeyFile string   // node identity, created on first start
	// Sync is how a replica or full node with an empty data directory
	// joins: SyncFull (replay from genesis, the default) or SyncSnap.
	Sync string
}

// RoleConfig configures one role of a network whose roles run as separate
// processes.
type RoleConfig struct {
	Config
	P2P              P2PConfig
	SequencerKey     *ecdsa.PrivateKey // sequencer: signs what it publishes
	SequencerAddress common.Address    // replica, full node: who must have signed what they receive
	SequencerURL     string            // replica, full node: where transactions are forwarded
	Replica          replica.Config
	FullNode         fullnode.Config
	// Finality: the provers a sequencer, replica or full node believes; with
	// none the node keeps no finality ladder (safe and finalized name its
	// sealed head).
	Finality  FinalityConfig
	ProverKey *ecdsa.PrivateKey // prover: signs attestations and fraud proofs
	// HA, for a sequencer, makes it one candidate of a raft-elected HA set
	// sharing SequencerKey; nil runs a lone sequencer.
	HA *sequencer.HAConfig
	// Admin is the admin listener of an HA candidate, which alone serves
	// the ha_ methods that change the group (DESIGN.md §16).
	Admin  rpc.AdminConfig
	Prover prover.Config
	DA     DAConfig
}

// DefaultRoleConfig returns the defaults of every role.
func DefaultRoleConfig() RoleConfig {
	return RoleConfig{Config: DefaultConfig(), Replica: replica.DefaultConfig(), FullNode: fullnode.DefaultConfig(), Prover: prover.DefaultConfig(),
		Finality: FinalityConfig{Quorum: 1, Window: 10 * time.Minute}, Admin: rpc.DefaultAdminConfig()}
}

// Role is one role running as its own process: its store, its p2p node, its
// RPC server, started in dependency order and stopped in reverse.
type Role struct {
	Name     string
	log      zerolog.Logger
	store    *storage.Store
	genesis  common.Hash // the prover's, which has no store
	net      *p2p.Node
	rpc      *rpc.Server
	admin    *rpc.AdminServer // HA candidates only
	registry *prometheus.Registry
	seq      *sequencer.Sequencer
	rep      *replica.Replica
	full     *fullnode.FullNode
	prover   *prover.Prover
	fin      *tracker
	batcher  *sequencer.Batcher
	starts   []func(context.Context) error
	stops    []func(context.Context) error
	stopOnce sync.Once
	stopErr  error
}

// Store returns the role's store.
func (r *Role) Store() *storage.Store { return r.store }

// RPCAddr is the address the RPC server listens on.
func (r *Role) RPCAddr() string { return r.rpc.Addr() }

// AdminAddr is the address the admin listener listens on, "" without one.
func (r *Role) AdminAddr() string {
	if r.admin == nil {
		return ""
	}
	return r.admin.Addr()
}

// P2PAddrs are the multiaddrs other nodes dial to reach this one.
func (r *Role) P2PAddrs() []string { return r.net.Addrs() }

// Replica returns the replica of a replica role.
func (r *Role) Replica() *replica.Replica { return r.rep }

// FullNode returns the verifier of a full-node role.
func (r *Role) FullNode() *fullnode.FullNode { return r.full }

// Prover returns the prover of a prover role.
func (r *Role) Prover() *prover.Prover { return r.prover }

// Finality returns the role's finality ladder, or nil.
func (r *Role) Finality() rpc.FinalityReader {
	if r.fin == nil {
		return nil
	}
	return r.fin
}

// addFinality gives the role a finality ladder when provers are configured.
func (r *Role) addFinality(cfg FinalityConfig, sequencer common.Address, verifies bool) error {
	if len(cfg.Provers) == 0 {
		return nil
	}
	t, err := newTracker(cfg, r.store, sequencer, verifies, r.log)
	if err != nil {
		return err
	}
	r.fin = t
	heads := func(pick func(chain.FinalityHeads) chain.BlockID) func() float64 {
		return func() float64 { return float64(pick(t.FinalityHeads()).Number) }
	}
	r.gauge("meganode_finality_safe_block", "Newest safe block on this node.", heads(func(h chain.FinalityHeads) chain.BlockID { return h.Safe }))
	r.gauge("meganode_finality_proven_block", "Newest block a quorum of provers attested.", heads(func(h chain.FinalityHeads) chain.BlockID { return h.Proven }))
	r.gauge("meganode_finality_finalized_block", "Newest finalized block.", heads(func(h chain.FinalityHeads) chain.BlockID { return h.Finalized }))
	r.gauge("meganode_finality_disputed", "1 while a dispute halts finality: a valid fraud proof convicted a block, or an output on L1 disagrees until L1 deletes it (see /ready for which).", func() float64 {
		if t.Healthy() != nil {
			return 1
		}
		return 0
	})
	r.counter("meganode_finality_attestations_total", "Prover attestations checked and counted.", t.attestations.Load)
	r.counter("meganode_finality_refused_total", "Attestations and fraud proofs refused (wrong block, roots, signature or proof).", t.refused.Load)
	return nil
}

// finalitySigners adds the prover kinds to a role's p2p signers.
func (r *Role) finalitySigners(cfg FinalityConfig, signers map[p2p.Kind][]common.Address) {
	if r.fin != nil {
		signers[p2p.Attestations] = cfg.Provers
		signers[p2p.FraudProofs] = cfg.Provers
	}
}

// startFinality follows attestations and fraud proofs over p2p and the
// role's heads and mini-blocks (nil for a full node).
func (r *Role) startFinality(ctx context.Context, heads headFeed, minis miniFeed) error {
	if r.fin == nil {
		return nil
	}
	for _, kind := range []p2p.Kind{p2p.Attestations, p2p.FraudProofs} {
		sub, err := r.net.Subscribe(kind)
		if err != nil {
			return err
		}
		r.fin.Follow(ctx, sub)
	}
	r.fin.Start(heads, minis, r.net)
	return nil
}

// ready is the role's readiness with its finality's: a valid fraud proof
// degrades it.
func (r *Role) ready(base func() error) func() error {
	return func() error {
		var fin error
		if r.fin != nil {
			fin = r.fin.Healthy()
		}
		return errors.Join(base(), fin)
	}
}

func (r *Role) backend(b rpc.Backend) rpc.Backend {
	if r.fin != nil {
		b.Finality = r.fin
	}
	return b
}

// Start starts every part, dependencies first.
func (r *Role) Start(ctx context.Context) error {
	for _, start := range r.starts {
		if err := start(ctx); err != nil {
			// Every stop is safe on a part that never started.
			return errors.Join(err, r.Stop(ctx))
		}
	}
	return nil
}

// Stop stops every started part in reverse and closes the store; idempotent.
func (r *Role) Stop(ctx context.Context) error {
	r.stopOnce.Do(func() {
		var errs []error
		for _, stop := range r.stops {
			errs = append(errs, stop(ctx))
		}
		r.stopErr = errors.Join(errs...)
	})
	return r.stopErr
}

// then registers a part: start runs after the earlier parts', stop before
// theirs.
func (r *Role) then(start, stop func(context.Context) error) {
	r.starts = append(r.starts, start)
	r.stops = append([]func(context.Context) error{stop}, r.stops...)
}

func (r *Role) openStore(cfg RoleConfig) error {
	genesis, _, err := chain.Genesis(cfg.Chain)
	if err != nil {
		return fmt.Errorf("genesis: %w", err)
	}
	sc := cfg.Storage
	sc.Progress = cfg.Progress
	sc.NoSync = r.Name != RoleSequencer // followers fetch again what they lose
	store, err := storage.Open(sc, genesis, r.log)
	if err != nil {
		return err
	}
	r.store = store
	r.stops = append(r.stops, func(context.Context) error { return store.Close() })
	r.registry = processRegistry()
	r.headGauge()
	return nil
}

// headGauge exports the role's sealed head and its state-history backlog.
func (r *Role) headGauge() {
	r.gauge("meganode_head_block", "Number of the newest block in this node's store.", func() float64 {
		return float64(r.store.CurrentHeader().Number.Uint64())
	})
	r.gauge("meganode_state_history_unindexed", "State-history records (path scheme) not yet indexed for reads of old blocks.", func() float64 {
		return float64(r.store.HistoryUnindexed())
	})
}

func (r *Role) gauge(name, help string, f func() float64) {
	r.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

func (r *Role) counter(name, help string, f func() uint64) {
	r.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(f()) }))
}

// genesisHash is the hash of the role's genesis block: the stored one, or
// for a role without a store (the prover) the one its genesis makes.
func (r *Role) genesisHash() common.Hash {
	if r.store != nil {
		return r.store.Genesis().Hash()
	}
	return r.genesis
}

// startP2P starts the p2p node; it is closed by Stop.
func (r *Role) startP2P(ctx context.Context, cfg RoleConfig, signers map[p2p.Kind][]common.Address, provider p2p.Provider) error {
	if r.fin != nil {
		provider = r.fin.Provider(provider)
	}
	n, err := p2p.New(ctx, p2p.Config{
		ChainID: cfg.Chain.ChainID, Genesis: r.genesisHash(), Listen: cfg.P2P.Listen, KeyFile: cfg.P2P.KeyFile, Peers: cfg.P2P.Peers,
		Signers: signers, Provider: provider, State: r.stateProvider(),
	}, r.log)
	if err != nil {
		return err
	}
	r.net = n
	r.counter("meganode_p2p_rejected_messages_total", "Gossip messages that failed validation (bad signature, size, version or encoding).", n.Rejected)
	r.gauge("meganode_p2p_peers", "Connected peers.", func() float64 { return float64(len(n.Peers())) })
	r.log.Info().Strs("addrs", n.Addrs()).Msg("p2p listening")
	return nil
}

// stateProvider serves state sync from the role's store; nil without one.
func (r *Role) stateProvider() p2p.StateProvider {
	if r.store == nil {
		return nil
	}
	return r.store
}

// newRPC builds the role's RPC server, started after every other part.
func (r *Role) newRPC(cfg rpc.Config, b rpc.Backend, ready func() error) error {
	server, err := r.rpcServer(cfg, b, ready)
	if err != nil {
		return err
	}
	r.then(server.Start, server.Stop)
	return nil
}

// rpcServer builds the role's RPC server with its /metrics.
func (r *Role) rpcServer(cfg rpc.Config, b rpc.Backend, ready func() error) (*rpc.Server, error) {
	cfg.Role = r.Name
	server, err := rpc.NewServer(cfg, b, ready, r.log)
	if err != nil {
		return nil, err
	}
	server.Handle("/metrics", promhttp.HandlerFor(r.registry, promhttp.HandlerOpts{}))
	server.Instrument(r.registry)
	r.rpc = server
	return server, nil
}

// forwarder returns the client transactions are forwarded with: url is one
// sequencer, or a comma-separated HA set.
func forwarder(url string) (rpc.Forwarder, error) {
	if url == "" {
		return nil, errors.New("a sequencer URL is needed to forward transactions (--sequencer.url)")
	}
	f := &failover{}
	for _, u := range strings.Split(url, ",") {
		c, err := gethrpc.DialOptions(context.Background(), strings.TrimSpace(u))
		if err != nil {
			return nil, fmt.Errorf("sequencer URL %q: %w", u, err)
		}
		f.clients = append(f.clients, c)
	}
	if len(f.clients) == 1 {
		return f.clients[0], nil
	}
	return f, nil
}

// failover forwards to the candidates of a sequencer HA set: it starts with
// the one that last took a call and moves on when a candidate is down or
// answers that it is not the leader. Forwarded calls are transaction
// submissions, which are safe to send twice (the nonce admits one).
type failover struct {
	clients []*gethrpc.Client
	next    atomic.Int32
}

func (f *failover) CallContext(ctx context.Context, result interface{}, method string, args ...interface{}) error {
	start := int(f.next.Load())
	var err error
	for i := range f.clients {
		n := (start + i) % len(f.clients)
		err = f.clients[n].CallContext(ctx, result, method, args...)
		var rpcErr gethrpc.Error
		if err == nil || errors.As(err, &rpcErr) && rpcErr.ErrorCode() != chain.CodeNotLeader || ctx.Err() != nil {
			f.next.Store(int32(n))
			return err
		}
	}
	return err
}

// NewSequencer builds the sequencer role: it produces blocks, serves the RPC
// (reads of its own head and transaction admission) and publishes every
// mini-block and sealed block, signed with cfg.SequencerKey, over p2p.
func NewSequencer(cfg RoleConfig, log zerolog.Logger) (*Role, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if cfg.SequencerKey == nil {
		return nil, errors.New("the sequencer needs its signing key")
	}
	r := &Role{Name: "sequencer", log: log}
	if err := r.openStore(cfg); err != nil {
		return nil, err
	}
	// A chain made by `meganode import` continues here once its blocks
	// carry what followers fetch of them.
	if _, err := r.store.FillBundles(); err != nil {
		r.Stop(context.Background())
		return nil, err
	}
	if cfg.HA != nil && cfg.DA.URL != "" {
		r.Stop(context.Background())
		return nil, errors.New("an HA sequencer set cannot post to DA yet: run the candidates without --da.url")
	}
	if cfg.L1.Embedded {
		r.Stop(context.Background())
		return nil, errors.New("an embedded L1 is for the devnet: give the sequencer --l1.url")
	}
	feed, err := depositFeed(cfg.L1, log)
	if err != nil {
		r.Stop(context.Background())
		return nil, err
	}
	if cfg.Sequencer.Dev && cfg.HA != nil {
		r.Stop(context.Background())
		return nil, errors.New("--dev excludes --ha: a dev chain's reverts and edits are not replicated by raft")
	}
	seqCfg := cfg.Sequencer
	seqCfg.GasLimit, seqCfg.Coinbase = cfg.Chain.GasLimit, cfg.Chain.Coinbase
	seqCfg.HA = cfg.HA != nil
	if feed != nil {
		seqCfg.Deposits = feed
		r.runFeed(feed)
	}
	seq, err := sequencer.New(seqCfg, r.store, nil, log)
	if err != nil {
		r.Stop(context.Background())
		return nil, err
	}
	r.seq = seq
	r.sequencerMetrics(seq, cfg.HA != nil)
	var ha *sequencer.HA
	if cfg.HA != nil {
		hcfg := *cfg.HA
		if hcfg.MinFreeMB == 0 {
			hcfg.MinFreeMB = cfg.Storage.MinFreeMB // the raft log counts as full as the chain does
		}
		ha, err = sequencer.NewHA(hcfg, seq, func() int {
			if r.net == nil {
				return 0
			}
			return len(r.net.Peers())
		}, log)
		if err != nil {
			r.Stop(context.Background())
			return nil, err
		}
	}
	pub := sequencer.NewPublisher(seq, r.store, cfg.SequencerKey, log)
	addr := crypto.PubkeyToAddress(cfg.SequencerKey.PublicKey)
	cfg.Finality.RequireDA = cfg.DA.URL != ""
	cfg.Finality.L1 = cfg.L1.anchorsOnL1()
	if err := r.addFinality(cfg.Finality, addr, false); err != nil {
		r.Stop(context.Background())
		return nil, err
	}
	if err := r.maybeWatchOutputs(cfg.L1, log); err != nil {
		r.Stop(context.Background())
		return nil, err
	}
	if err := r.maybePropose(cfg.L1, log); err != nil {
		r.Stop(context.Background())
		return nil, err
	}
	signers := map[p2p.Kind][]common.Address{p2p.MiniBlocks: {addr}, p2p.Blocks: {addr}, p2p.Witnesses: {addr}, p2p.DACommitments: {addr}}
	r.finalitySigners(cfg.Finality, signers)
	var batcher *sequencer.Batcher
	if cfg.DA.URL != "" {
		client, err := cfg.DA.client()
		if err != nil {
			r.Stop(context.Background())
			return nil, err
		}
		batcher = r.addBatcher(client, pub)
	}
	fins := []*tracker{r.fin}
	if batcher != nil && cfg.L1.BatcherKey != nil {
		if cfg.L1.URL == "" || cfg.L1.DAInbox == (common.Address{}) {
			r.Stop(context.Background())
			return nil, errors.New("--l1.batcher-key needs --l1.url and --l1.da-inbox")
		}
		client, err := ethclient.Dial(cfg.L1.URL)
		if err != nil {
			r.Stop(context.Background())
			return nil, fmt.Errorf("L1 %s: %w", cfg.L1.URL, err)
		}
		r.addRecorder(client, l1.Addresses{Portal: cfg.L1.Portal, DAInbox: cfg.L1.DAInbox}, cfg.L1.BatcherKey, l1.InboxConfig{StartBlock: cfg.L1.StartBlock, Poll: cfg.L1.Poll}, fins, log)
		fins = nil // safe once recorded on L1
	}
	follow, cancel := context.WithCancel(context.Background())
	r.then(func(ctx context.Context) error {
		if err := r.startP2P(ctx, cfg, signers, pub.Provider()); err != nil {
			return err
		}
		if cfg.HA != nil {
			// A new HA candidate in snap mode joins from a recent block's
			// state; the raft log brings what came after it.
			before, unfinished := r.store.CurrentHeader().Hash(), r.store.Syncing()
			if err := r.syncState(ctx, cfg.P2P.Sync); err != nil {
				return err
			}
			if unfinished || r.store.CurrentHeader().Hash() != before {
				if err := seq.Reopen(); err != nil {
					return err
				}
			}
		}
		pub.Start(r.net)
		if batcher != nil {
			if err := startBatcher(follow, batcher, pub, r.net, fins...); err != nil {
				return err
			}
		}
		return r.startFinality(follow, seq.Heads, seq.MiniBlocks)
	}, func(context.Context) error {
		cancel()
		if r.fin != nil {
			r.fin.Stop()
		}
		if batcher != nil {
			batcher.Stop()
		}
		pub.Stop()
		if r.net == nil {
			return nil
		}
		return r.net.Close()
	})
	r.then(seq.Start, seq.Stop)
	ready := seq.Healthy
	if ha != nil {
		r.then(ha.Start, ha.Stop)
		r.haMetrics(ha, seq)
		ready = func() error {
			if err := seq.Healthy(); err != nil {
				return err
			}
			if !seq.Leading() {
				return fmt.Errorf("standby sequencer: %w", &chain.NotLeaderError{Leader: ha.Leader()})
			}
			return nil
		}
	}
	r.counter("meganode_sequencer_published_total", "Messages the sequencer published.", func() uint64 { s, _ := pub.Published(); return s })
	r.counter("meganode_sequencer_publish_failures_total", "Messages the sequencer failed to publish.", func() uint64 { _, f := pub.Published(); return f })
	backend := r.backend(rpc.Backend{Chain: r.store, Latest: seq, Txs: seq, Feeds: seq, Pool: seq.Pool()})
	if seqCfg.Dev { // --dev: the dev methods, and the dev accounts unlocked
		_, accounts, err := chain.Genesis(cfg.Chain)
		if err != nil {
			r.Stop(context.Background())
			return nil, err
		}
		backend.Dev, backend.DevChain = accounts, seq
	}
	if batcher != nil {
		backend.DA = r.store
	}
	if ha != nil {
		backend.HA = ha
	}
	if err := r.newRPC(cfg.RPC, backend, r.ready(ready)); err != nil {
		r.Stop(context.Background())
		return nil, err
	}
	if ha != nil {
		admin, err := rpc.NewAdminServer(cfg.Admin, ha, log)
		if err != nil {
			r.Stop(context.Background())
			return nil, err
		}
		r.admin = admin
		r.then(admin.Start, admin.Stop)
		ha.SetRPCCheck(r.probeRPC)
	}
	log.Info().Stringer("signer", addr).Msg("sequencer signing key")
	return r, nil
}

// NewReplica builds a replica role: it follows the sequencer's gossip,
// applies state diffs, serves reads and subscriptions from its own state and
// forwards transactions to cfg.SequencerURL.
func NewReplica(cfg RoleConfig, log zerolog.Logger) (*Role, error) {
	rules, err := depositRules(cfg.L1, log)
	if err != nil {
		return nil, err
	}
	if rules != nil {
		cfg.Replica.Deposits, cfg.Replica.Window = rules.feed, rules.window
	}
	return newFollower(cfg, RoleReplica, log, func(r *Role) (follower, error) {
		rules.run(r)
		return r.replicaPart(cfg.Replica)
	})
}

// probeRPC asks the role's own RPC server for /health, as a client would.
func (r *Role) probeRPC() error {
	addr := r.rpc.Addr()
	if addr == "" {
		return errors.New("rpc not listening")
	}
	client := http.Client{Timeout: 200 * time.Millisecond}
	resp, err := client.Get("http://" + addr + "/health")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/health answered %s", resp.Status)
	}
	return nil
}

func (r *Role) haMetrics(ha *sequencer.HA, seq *sequencer.Sequencer) {
	r.gauge("meganode_ha_leader", "1 while this candidate leads and produces blocks.", func() float64 {
		if seq.Leading() {
			return 1
		}
		return 0
	})
	r.counter("meganode_ha_commits_total", "Mini-blocks and seals committed to raft.", func() uint64 { n, _, _, _ := ha.Stats(); return n })
	r.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "meganode_ha_commit_seconds_total", Help: "Time spent waiting for raft commits."},
		func() float64 { _, d, _, _ := ha.Stats(); return d.Seconds() }))
	r.counter("meganode_ha_commit_failures_total", "Raft commits that failed (lost leadership).", func() uint64 { _, _, n, _ := ha.Stats(); return n })
	r.counter("meganode_ha_transfers_total", "Leadership transfers this candidate started.", func() uint64 { _, _, _, n := ha.Stats(); return n })
}

// NewFullNode builds a full-node role: it re-executes every sealed block
// with its witness, advances its verified (safe) head, serves reads of the
// verified chain and forwards transactions to cfg.SequencerURL.
func NewFullNode(cfg RoleConfig, log zerolog.Logger) (*Role, error) {
	rules, err := depositRules(cfg.L1, log)
	if err != nil {
		return nil, err
	}
	if rules != nil {
		cfg.FullNode.Deposits, cfg.FullNode.Window = rules.feed, rules.window
	}
	return newFollower(cfg, RoleFullNode, log, func(r *Role) (follower, error) {
		rules.run(r)
		return r.fullNodePart(cfg.FullNode)
	})
}

// NewProver builds a prover role: it follows the sequencer's blocks and
// witnesses, verifies each statelessly and publishes an attestation or a
// fraud proof signed with cfg.ProverKey. It keeps no chain state; its RPC
// serves /health, /ready and /metrics.
func NewProver(cfg RoleConfig, log zerolog.Logger) (*Role, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if cfg.ProverKey == nil {
		return nil, errors.New("the prover needs its signing key")
	}
	genesis, _, err := chain.Genesis(cfg.Chain)
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	block, err := storage.GenesisBlock(genesis, cfg.Progress, log)
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	r := &Role{Name: RoleProver, log: log, registry: processRegistry(), genesis: block.Hash()}
	if k := cfg.L1.ChallengeSenderKey; k != nil {
		if cfg.L1.URL == "" || cfg.L1.OutputOracle == (common.Address{}) {
			return nil, errors.New("--l1.challenger-key needs --l1.url and --l1.output-oracle")
		}
		client, err := ethclient.Dial(cfg.L1.URL)
		if err != nil {
			return nil, fmt.Errorf("L1 %s: %w", cfg.L1.URL, err)
		}
		if err := r.addChallenger(client, l1.Addresses{OutputOracle: cfg.L1.OutputOracle}, cfg.L1.StartBlock, cfg.ProverKey, k, &cfg.Prover, log); err != nil {
			return nil, err
		}
	}
	rules, err := depositRules(cfg.L1, log)
	if err != nil {
		return nil, err
	}
	if rules != nil {
		cfg.Prover.Deposits, cfg.Prover.Window = rules.feed, rules.window // no attestation for a cursor the L1 refuses
		rules.run(r)
	}
	pv, err := prover.New(cfg.Prover, cfg.Chain.ChainConfig(), cfg.ProverKey, 1, log)
	if err != nil {
		return nil, err
	}
	r.prover = pv
	provers := cfg.Finality.Provers
	if !slices.Contains(provers, pv.Address()) {
		provers = append(slices.Clone(provers), pv.Address())
	}
	if err := r.wireFollower(cfg, r.proverPart(pv), map[p2p.Kind][]common.Address{p2p.Attestations: provers, p2p.FraudProofs: provers}); err != nil {
		return nil, err
	}
	if err := r.newRPC(cfg.RPC, rpc.Backend{}, nil); err != nil {
		r.Stop(context.Background())
		return nil, err
	}
	log.Info().Stringer("signer", pv.Address()).Msg("prover signing key")
	return r, nil
}
