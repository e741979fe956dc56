// Package node assembles meganode's roles into a process. It is the only
// package that knows every other one: it builds the store, the sequencer and
// the RPC server from one Config, starts them dependencies first and stops
// them in reverse.
package node

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/chain/progress"
	"github.com/meganode/meganode/eigenda"
	"github.com/meganode/meganode/fullnode"
	"github.com/meganode/meganode/l1"
	"github.com/meganode/meganode/p2p"
	"github.com/meganode/meganode/prover"
	"github.com/meganode/meganode/replica"
	"github.com/meganode/meganode/rpc"
	"github.com/meganode/meganode/sequencer"
	"github.com/meganode/meganode/storage"
)

// Roles a devnet runs in one process; the sequencer is always among them.
const (
	RoleSequencer = "sequencer"
	RoleReplica   = "replica"
	RoleFullNode  = "fullnode"
	RoleProver    = "prover"
)

// Config is a devnet's whole configuration.
type Config struct {
	Chain     chain.Config
	Storage   storage.Config
	Sequencer sequencer.Config
	RPC       rpc.Config
	// Roles the devnet runs: the sequencer serves RPC.Port, an in-process
	// replica RPC.Port+1 and a full node RPC.Port+2 (ephemeral when 0); an
	// in-process prover attests every block, and every role keeps a
	// finality ladder believing it.
	Roles []string
	// FinalityWindow is the devnet's challenge window.
	FinalityWindow time.Duration
	// DA: the sequencer posts every block to DA.URL; with EmbeddedDA and no
	// URL the devnet runs its own DA server (in memory, or under the data
	// directory) on RPC.Port+3. Needs a follower or a prover among Roles.
	DA         DAConfig
	EmbeddedDA bool
	// Fork forks the devnet from another chain (--fork-url): the sequencer
	// runs alone, in memory, reading what it never wrote from that chain.
	Fork ForkConfig
	// L1 is where deposits come from (docs/l1.md): a real L1, or for a
	// devnet an embedded one.
	L1 L1Config
	// Progress is where long work reports: a large genesis, the imported
	// blocks a sequencer re-executes, catching up from DA.
	Progress progress.Options
	// GenesisTime, when set, is the devnet's genesis timestamp unless its
	// data directory holds a chain (meganode devnet gives its start time, as
	// anvil's, or a --state file's, StateFileGenesisTime); nil keeps
	// Chain.GenesisTime. Other roles keep Chain.GenesisTime.
	GenesisTime *uint64
}

// DefaultConfig returns the devnet defaults.
func DefaultConfig() Config {
	return Config{
		Chain:      chain.DefaultConfig(),
		Sequencer:  sequencer.DefaultConfig(),
		RPC:        rpc.DefaultConfig(),
		Roles:      []string{RoleSequencer, RoleReplica, RoleFullNode, RoleProver},
		EmbeddedDA: true,
		// Short, so a deposit finalizes within seconds on a devnet.
		FinalityWindow: 2 * time.Second,
	}
}

// SequencerPublicDefaults are the RPC limits of a sequencer run as its own
// process, whose public port takes transactions while replicas serve the
// reads: heavy calls never hold every CPU (the production loop keeps one:
// at most NumCPU-1 at once, and as many per client IP), and few websocket
// connections per client (subscriptions belong on replicas). A flood of
// eth_call at the gas cap, traces, all-history logs, batch bombs and
// websockets then leaves the mini-block interval near its period (bench
// attack, docs/benchmarks.md "Under attack"). The devnet keeps c's.
func SequencerPublicDefaults(c Config) Config {
	n := max(1, runtime.NumCPU()-1)
	c.RPC.Limits.Concurrency, c.RPC.Limits.ConcurrencyPerIP = n, n
	c.RPC.Limits.Nice = 10
	c.RPC.WS.MaxConnsPerIP, c.RPC.WS.MaxConns = 64, 1024
	return c
}

// Check validates every part.
func (c Config) Check() error {
	if err := c.Chain.Check(); err != nil {
		return fmt.Errorf("chain: %w", err)
	}
	if err := c.Sequencer.Check(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, r := range c.Roles {
		switch {
		case r != RoleSequencer && r != RoleReplica && r != RoleFullNode && r != RoleProver:
			return fmt.Errorf("role %q: want %s, %s, %s or %s", r, RoleSequencer, RoleReplica, RoleFullNode, RoleProver)
		case seen[r]:
			return fmt.Errorf("role %q named twice", r)
		}
		seen[r] = true
	}
	if len(c.Roles) > 0 && !seen[RoleSequencer] {
		return errors.New("a devnet's roles must include the sequencer: replicas and full nodes follow it in process")
	}
	if c.FinalityWindow < 0 {
		return fmt.Errorf("finality window %v is negative", c.FinalityWindow)
	}
	if err := c.L1.Check(); err != nil {
		return err
	}
	return c.RPC.Check()
}

func (c Config) has(role string) bool { return slices.Contains(c.Roles, role) }

// Devnet is every role in one process: the sequencer with its storage and
// RPC, and optionally a replica and a full node, each with its own store and
// RPC, fed by an in-memory transport that checks signatures as gossip does.
type Devnet struct {
	Role
	accounts []chain.DevAccount
	replica  *Role
	fullnode *Role
	prover   *prover.Prover
	mem      *memNet
	da       *eigenda.Server
	daURL    string
	l1       *devL1
}

// subStorage is the storage of an in-process role: a subdirectory, or memory.
func subStorage(cfg storage.Config, name string) storage.Config {
	if cfg.Dir != "" {
		cfg.Dir = filepath.Join(cfg.Dir, name)
	}
	cfg.NoSync = true // followers fetch again what they lose
	return cfg
}

// nextPort is the RPC port of the role after base (ephemeral stays ephemeral).
func nextPort(cfg rpc.Config, offset int) rpc.Config {
	if cfg.Port != 0 {
		cfg.Port += offset
	}
	return cfg
}

// NewDevnet builds a devnet; it starts nothing and releases what it opened
// on failure.
func NewDevnet(cfg Config, log zerolog.Logger) (*Devnet, error) {
	cfg.Sequencer.Dev = true // a devnet is a dev chain
	cfg.Chain.DevAccounts = true
	cfg.Storage.Progress = cfg.Progress
	var (
		fork    *chain.Fork
		forking *devFork
	)
	if cfg.Fork.URL != "" {
		if len(cfg.Roles) != 1 || cfg.Roles[0] != RoleSequencer {
			return nil, errors.New("a forked devnet runs the sequencer alone (--roles sequencer): its followers and provers cannot read the forked chain's state")
		}
		if cfg.Storage.Dir != "" {
			return nil, errors.New("a forked devnet is kept in memory: no --datadir")
		}
		point, id, src, err := openFork(cfg.Fork)
		if err != nil {
			return nil, err
		}
		if !cfg.Fork.KeepChainID {
			cfg.Chain.ChainID = id
		}
		forking = &devFork{chain: cfg.Chain, log: log, cfg: cfg.Fork, point: point, src: src}
		cfg.Chain.Fork, fork = point, chain.NewFork(src)
		log.Info().Str("url", cfg.Fork.URL).Uint64("block", point.Number).Stringer("hash", point.Hash).Uint64("chain_id", cfg.Chain.ChainID).Msg("forked")
	}
	if cfg.Fork.URL == "" && cfg.Chain.Custom == nil {
		cfg.Chain.GenesisTime = devGenesisTime(cfg)
	}
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	genesis, accounts, err := chain.Genesis(cfg.Chain)
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	d := &Devnet{Role: Role{Name: "devnet", log: log}, accounts: accounts}
	fail := func(err error) (*Devnet, error) {
		d.Stop(context.Background())
		return nil, err
	}
	seqStorage := cfg.Storage
	seqStorage.Preimages = true // a dev chain lists its state (anvil_dumpState, --state)
	seqStorage.Fork = fork
	store, err := storage.Open(seqStorage, genesis, log)
	if err != nil {
		return nil, err
	}
	d.store, d.registry = store, processRegistry()
	d.headGauge()
	d.stops = append(d.stops, func(context.Context) error { return store.Close() })
	if cfg.Fork.URL != "" && (cfg.L1.Embedded || cfg.L1.URL != "") {
		return fail(errors.New("a forked devnet takes no deposits: run it without an L1 (--l1.embedded=false)"))
	}
	var proverKey *ecdsa.PrivateKey
	if cfg.has(RoleProver) {
		if proverKey, err = crypto.GenerateKey(); err != nil {
			return fail(err)
		}
	}
	if d.l1, err = openDevL1(cfg, accounts, proverKey, log); err != nil {
		return fail(err)
	}
	seqCfg := cfg.Sequencer
	if d.l1 != nil {
		dl := d.l1
		d.stops = append(d.stops, func(context.Context) error { return dl.close() })
		if seqCfg.Deposits == nil { // a test may give the sequencer its own
			seqCfg.Deposits = dl.feed
		}
		if cfg.L1.CensorDeposits {
			seqCfg.Deposits = censoring{}
		}
	}
	seqCfg.GasLimit, seqCfg.Coinbase = cfg.Chain.GasLimit, cfg.Chain.Coinbase
	// Alone, the sequencer has no follower, prover or DA layer to read a
	// block's witness: it records none (debug_executionWitness says so).
	seqCfg.NoWitness = !cfg.has(RoleReplica) && !cfg.has(RoleFullNode) && !cfg.has(RoleProver)
	seq, err := sequencer.New(seqCfg, store, nil, log)
	if err != nil {
		return fail(err)
	}
	d.seq = seq
	d.sequencerMetrics(seq, false)
	if forking != nil {
		forking.seq = seq
		d.stops = append(d.stops, func(context.Context) error { forking.mu.Lock(); defer forking.mu.Unlock(); forking.close(); return nil })
	}
	var fin FinalityConfig
	if cfg.has(RoleReplica) || cfg.has(RoleFullNode) || cfg.has(RoleProver) {
		key, err := crypto.GenerateKey()
		if err != nil {
			return fail(err)
		}
		seqAddr := crypto.PubkeyToAddress(key.PublicKey)
		pub := sequencer.NewPublisher(seq, store, key, log)
		mem := newMemNet(cfg.Chain.ChainID)
		mem.publisher(seqAddr, pub.Provider(), p2p.MiniBlocks, p2p.Blocks, p2p.Witnesses, p2p.DACommitments)
		d.mem = mem
		d.then(func(context.Context) error { pub.Start(mem); return nil }, func(context.Context) error { pub.Stop(); return nil })
		if cfg.has(RoleProver) {
			if fin, err = d.inProcessProver(cfg, proverKey, mem, log); err != nil {
				return fail(err)
			}
			fin.RequireDA = cfg.DA.URL != "" || cfg.EmbeddedDA
			fin.L1 = d.l1 != nil && d.l1.proposer != nil // it proposes to an oracle it deployed
		}
		open := func(c storage.Config, log zerolog.Logger) (*storage.Store, error) {
			return storage.Open(c, genesis, log)
		}
		if cfg.has(RoleReplica) {
			if d.replica, err = d.inProcess(RoleReplica, cfg, fin, seqAddr, open, mem, log); err != nil {
				return fail(err)
			}
		}
		if cfg.has(RoleFullNode) {
			if d.fullnode, err = d.inProcess(RoleFullNode, cfg, fin, seqAddr, open, mem, log); err != nil {
				return fail(err)
			}
		}
		if err := d.addFinality(fin, seqAddr, false); err != nil {
			return fail(err)
		}
		d.memFinality(&d.Role, mem, seq.Heads, seq.MiniBlocks)
		if err := d.addDA(cfg, pub, mem); err != nil {
			return fail(err)
		}
	}
	if d.l1 != nil {
		d.runFeed(d.l1.feed)
		if d.l1.proposer != nil {
			d.addProposer(d.l1.backend, d.l1.addrs, d.l1.proposer, log)
			fins := []*tracker{d.fin}
			for _, r := range []*Role{d.replica, d.fullnode} {
				if r != nil {
					fins = append(fins, r.fin)
				}
			}
			// The embedded L1 never reorganizes: its head is final.
			d.addOutputWatcher(d.l1.backend, d.l1.addrs, l1.InboxConfig{StartBlock: d.l1.start, Poll: 200 * time.Millisecond, HeadIsFinal: d.l1.embedded != nil}, fins, log)
		}
	}
	d.then(seq.Start, seq.Stop)
	backend := d.backend(rpc.Backend{Chain: store, Latest: seq, Txs: seq, Feeds: seq, Pool: seq.Pool(), Dev: accounts, DevChain: seq})
	if d.batcher != nil {
		backend.DA = store
	}
	if forking != nil {
		backend.Fork = forking
	}
	if err := d.newRPC(cfg.RPC, backend, d.ready(seq.Healthy)); err != nil {
		return fail(err)
	}
	return d, nil
}

// addDA posts the devnet's blocks to its DA layer: cfg.DA.URL, or an
// embedded server. Every in-process ladder learns of each posted blob.
func (d *Devnet) addDA(cfg Config, pub *sequencer.Publisher, mem *memNet) error {
	url := cfg.DA.URL
	if url == "" && !cfg.EmbeddedDA {
		return nil
	}
	if url == "" {
		dir := ""
		if cfg.Storage.Dir != "" {
			dir = filepath.Join(cfg.Storage.Dir, "da")
		}
		db, err := storage.OpenKV(dir, 0)
		if err != nil {
			return err
		}
		d.da = eigenda.NewServer(db, eigenda.DefaultMemConfig(), d.log)
		port := 0
		if cfg.RPC.Port != 0 {
			port = cfg.RPC.Port + 3
		}
		if err := d.da.Listen(net.JoinHostPort(cfg.RPC.Addr, strconv.Itoa(port))); err != nil {
			db.Close()
			return err
		}
		d.stops = append(d.stops, func(context.Context) error { return db.Close() }) // after the batcher stopped
		d.then(func(context.Context) error { return nil }, d.da.Close)
		url = "http://" + d.da.Addr()
	}
	d.daURL = url
	client, err := DAConfig{URL: url, Mode: cfg.DA.Mode}.client()
	if err != nil {
		return err
	}
	b := d.addBatcher(client, pub)
	fins := []*tracker{d.fin}
	for _, r := range []*Role{d.replica, d.fullnode} {
		if r != nil {
			fins = append(fins, r.fin)
		}
	}
	if dl := d.l1; dl != nil && dl.batcher != nil {
		// Safe once recorded on L1, not when DA took it.
		d.addRecorder(dl.backend, dl.addrs, dl.batcher, l1.InboxConfig{StartBlock: dl.start, Poll: 200 * time.Millisecond}, fins, d.log)
		fins = nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.then(func(context.Context) error { return startBatcher(ctx, b, pub, mem, fins...) }, func(context.Context) error { cancel(); b.Stop(); return nil })
	return nil
}

// DAURL is the DA layer the devnet posts to, "" without one.
func (d *Devnet) DAURL() string { return d.daURL }

// inProcessProver adds a prover fed by mem and returns the finality
// configuration that believes it.
func (d *Devnet) inProcessProver(cfg Config, key *ecdsa.PrivateKey, mem *memNet, log zerolog.Logger) (FinalityConfig, error) {
	pcfg := prover.DefaultConfig()
	pcfg.Dev = true
	if dl := d.l1; dl != nil {
		pcfg.Deposits = dl.feed // no attestation for a cursor the L1 refuses
		pcfg.Window = window(cfg.L1, dl.feed)
	}
	if dl := d.l1; dl != nil && dl.challengeSender != nil {
		if err := d.addChallenger(dl.backend, dl.addrs, dl.start, key, dl.challengeSender, &pcfg, log.With().Str("node", RoleProver).Logger()); err != nil {
			return FinalityConfig{}, err
		}
	}
	pv, err := prover.New(pcfg, cfg.Chain.ChainConfig(), key, 1, log.With().Str("node", RoleProver).Logger())
	if err != nil {
		return FinalityConfig{}, err
	}
	d.prover = pv
	f := d.proverPart(pv)
	mem.publisher(pv.Address(), f.provider, p2p.Attestations, p2p.FraudProofs)
	d.memFollow(f, mem)
	return FinalityConfig{Provers: []common.Address{pv.Address()}, Quorum: 1, Window: cfg.FinalityWindow}, nil
}

// memFollow feeds an in-process follower's part from mem and starts it with
// the devnet's parts.
func (d *Devnet) memFollow(f follower, mem *memNet) {
	for _, kind := range f.kinds {
		mem.subscribe(kind, func(m p2p.Message) { f.deliver(m.Kind, m.Payload, m.Data) })
	}
	d.then(func(context.Context) error { f.start(mem); return nil }, func(context.Context) error { f.stop(); return nil })
}

// memFinality feeds an in-process role's finality ladder from mem and
// starts it with the devnet's parts.
func (d *Devnet) memFinality(r *Role, mem *memNet, heads headFeed, minis miniFeed) {
	if r.fin == nil {
		return
	}
	t := r.fin
	for _, kind := range []p2p.Kind{p2p.Attestations, p2p.FraudProofs} {
		// Fraud proofs are kept for a restart; attestations are not, as
		// before (the devnet's own prover serves them).
		mem.subscribe(kind, func(m p2p.Message) {
			var data []byte
			if m.Kind == p2p.FraudProofs {
				data = m.Data
			}
			t.Deliver(m.Kind, m.Payload, data, m.Signer)
		})
	}
	d.then(func(context.Context) error { t.Start(heads, minis, mem); return nil }, func(context.Context) error { t.Stop(); return nil })
}

// inProcess adds a replica or a full node fed by mem; transactions sent to
// its RPC go straight to the sequencer.
func (d *Devnet) inProcess(name string, cfg Config, fin FinalityConfig, seqAddr common.Address, open func(storage.Config, zerolog.Logger) (*storage.Store, error), mem *memNet, log zerolog.Logger) (*Role, error) {
	log = log.With().Str("node", name).Logger()
	store, err := open(subStorage(cfg.Storage, name), log)
	if err != nil {
		return nil, err
	}
	r := &Role{Name: name, log: log, store: store, registry: prometheus.NewRegistry()}
	r.headGauge()
	d.stops = append(d.stops, func(context.Context) error { return store.Close() }) // after everything else
	var f follower
	offset := 1 // its RPC port after the devnet's
	switch name {
	case RoleReplica:
		rcfg := replica.DefaultConfig()
		rcfg.PreconfHash = cfg.Sequencer.PreconfHash
		rcfg.Dev = true
		if d.l1 != nil {
			rcfg.Deposits = d.l1.feed // every block's deposits checked against the L1
			rcfg.Window = window(cfg.L1, d.l1.feed)
		}
		f, err = r.replicaPart(rcfg)
	case RoleFullNode:
		fcfg := fullnode.DefaultConfig()
		fcfg.Dev = true
		if d.l1 != nil {
			fcfg.Deposits = d.l1.feed // every block's deposits checked against the L1
			fcfg.Window = window(cfg.L1, d.l1.feed)
		}
		f, err = r.fullNodePart(fcfg)
		offset = 2
	}
	if err != nil {
		return nil, err
	}
	d.memFollow(f, mem)
	if err := r.addFinality(fin, seqAddr, f.verifies); err != nil {
		return nil, err
	}
	d.memFinality(r, mem, f.heads, f.minis)
	backend := f.backend
	backend.Chain, backend.Txs = store, d.seq
	server, err := r.rpcServer(nextPort(cfg.RPC, offset), r.backend(backend), r.ready(f.healthy))
	if err != nil {
		return nil, err
	}
	d.then(server.Start, server.Stop)
	return r, nil
}

// Accounts returns the prefunded dev accounts.
func (d *Devnet) Accounts() []chain.DevAccount { return d.accounts }

// Sequencer returns the sequencer.
func (d *Devnet) Sequencer() *sequencer.Sequencer { return d.seq }

// ReplicaNode returns the in-process replica, or nil.
func (d *Devnet) ReplicaNode() *Role { return d.replica }

// ProverNode returns the in-process prover, or nil.
func (d *Devnet) ProverNode() *prover.Prover { return d.prover }

// FullNodeRole returns the in-process full node, or nil.
func (d *Devnet) FullNodeRole() *Role { return d.fullnode }

// devGenesisTime is the devnet's genesis timestamp: the one of the chain its
// data directory holds (the genesis must hash as it did), else
// cfg.GenesisTime, else Chain.GenesisTime. Its in-process followers are
// built from the same cfg.Chain, so they make the same genesis.
func devGenesisTime(cfg Config) uint64 {
	// Read from the directory's chain database alone: opening the store
	// here would recover and journal its state before the real open (an
	// error is the real open's to report).
	if h, err := storage.StoredGenesis(cfg.Storage); err == nil && h != nil {
		return h.Time
	}
	if cfg.GenesisTime != nil {
		return *cfg.GenesisTime
	}
	return cfg.Chain.GenesisTime
}

// StateFileGenesisTime is the genesis timestamp of the chain a meganode
// state file holds, for Config.GenesisTime: a devnet started with it makes
// the same genesis and rebuilds the file's blocks. Nil when path does not
// exist or is not meganode's (anvil's files are merged into any genesis).
func StateFileGenesisTime(path string) (*uint64, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	st, err := chain.DecodeDevState(data)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	if st.Genesis == nil {
		return nil, nil
	}
	t := uint64(0) // written before devnets took their start time
	if st.GenesisTime != nil {
		t = uint64(*st.GenesisTime)
	}
	return &t, nil
}

// LoadStateFile loads a state file written by SaveStateFile (or by anvil's
// --state) when path exists: the devnet starts where it was saved.
func (d *Devnet) LoadStateFile(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	st, err := chain.DecodeDevState(data)
	if err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	n, err := d.seq.LoadState(st)
	if err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	d.log.Info().Str("file", path).Int("blocks", n).Int("accounts", len(st.Accounts)).Msg("loaded state file")
	return nil
}

// SaveStateFile writes the devnet's state file (plain JSON, as anvil's
// --state), replacing path atomically.
func (d *Devnet) SaveStateFile(path string) error {
	st, err := d.seq.DumpState()
	if err != nil {
		return err
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	return os.Rename(tmp, path)
}
