package node

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/l1"
	"github.com/meganode/meganode/prover"
	"github.com/meganode/meganode/storage"
)

// L1Config is the L1 a sequencer takes deposits from (docs/l1.md).
type L1Config struct {
	// URL is the L1's JSON-RPC (anvil, geth); empty: no L1 (a devnet with
	// Embedded runs its own).
	URL string
	// Portal is the portal's address on that L1. A devnet given URL and no
	// portal deploys the contracts there from its first dev account.
	Portal common.Address
	// Confirmations: L1 blocks that must follow a deposit's before the
	// sequencer takes it (OP's sequencer confirmation depth). Default 0.
	Confirmations uint64
	// StartBlock is the first L1 block read for deposits: the portal's
	// deployment block.
	StartBlock uint64
	// Poll is how often the L1 head is read, default 1 s.
	Poll time.Duration
	// OutputOracle and ProposerKey make a node (a full node, or a devnet
	// that deployed its contracts) post output roots to the oracle from
	// that key's account, of blocks its ladder proved (sealed, without one).
	OutputOracle common.Address
	ProposerKey  *ecdsa.PrivateKey
	// DAInbox: a follower reads DA commitments from its records (not from
	// the sequencer's mega_getDACommitments) and counts a block safe once
	// its blob is recorded there; with BatcherKey a sequencer that posts to
	// DA records each blob in it, and only then counts it safe itself.
	DAInbox    common.Address
	BatcherKey *ecdsa.PrivateKey
	// ChallengeSenderKey makes a prover an L1 challenger (its prover key
	// must be in the oracle's challenger set): it deletes outputs on
	// OutputOracle that disagree with its attestations, from this account.
	ChallengeSenderKey *ecdsa.PrivateKey

	// SequencingWindow, for a full node reading the portal: a block's
	// deposit cursor may not be older than the L1 block this long before
	// the block, and a block that breaks a deposit rule is replaced by the
	// block that forces the deposits in (l1.Window, docs/l1.md). Zero: such
	// a block is only refused.
	SequencingWindow time.Duration
	// CensorDeposits (devnet only, fault injection) makes the sequencer
	// take no deposit and never move its cursor: a censoring sequencer.
	CensorDeposits bool

	// Embedded (devnet only) runs an in-process L1 (go-ethereum's simulated
	// backend, chain id 1337, the dev accounts funded) with the contracts
	// deployed, its JSON-RPC on RPC.Port+4 and a block every BlockTime.
	Embedded  bool
	BlockTime time.Duration // default 1 s
}

// Check validates the configuration.
func (c L1Config) Check() error {
	switch {
	case c.Embedded && c.URL != "":
		return errors.New("an embedded L1 and --l1.url exclude each other")
	case c.Poll < 0 || c.BlockTime < 0 || c.SequencingWindow < 0:
		return errors.New("L1 poll interval, block time and sequencing window must not be negative")
	}
	return nil
}

// L1URL is the devnet's L1 JSON-RPC and its contracts (empty without one).
func (d *Devnet) L1() (string, l1.Addresses) {
	if d.l1 == nil {
		return "", l1.Addresses{}
	}
	return d.l1.url, d.l1.addrs
}

// depositFeed is the deposit source of cfg's L1, or nil without one. The
// client connects on its first call, so the L1 need not be up yet.
func depositFeed(cfg L1Config, log zerolog.Logger) (*l1.DepositFeed, error) {
	if cfg.URL == "" || (cfg.Portal == (common.Address{}) && cfg.ProposerKey != nil) {
		return nil, nil // no L1, or one it only proposes to
	}
	if cfg.Portal == (common.Address{}) {
		return nil, errors.New("--l1.url needs --l1.portal, the portal's address on that L1 (meganode l1 deploy prints it)")
	}
	client, err := ethclient.Dial(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("L1 %s: %w", cfg.URL, err)
	}
	return l1.NewDepositFeed(client, cfg.Portal, feedConfig(cfg), log), nil
}

func feedConfig(cfg L1Config) l1.DepositFeedConfig {
	poll := cfg.Poll
	if poll == 0 {
		poll = time.Second
	}
	return l1.DepositFeedConfig{Confirmations: cfg.Confirmations, StartBlock: cfg.StartBlock, Poll: poll}
}

// window is the forced-inclusion rule over feed, nil when cfg has none.
func window(cfg L1Config, feed *l1.DepositFeed) chain.DepositWindow {
	if feed == nil || cfg.SequencingWindow <= 0 {
		return nil
	}
	return l1.NewWindow(feed, cfg.SequencingWindow)
}

// l1Rules are what a follower checks blocks' deposits with: the portal's
// feed and the sequencing window (nil without one).
type l1Rules struct {
	feed   *l1.DepositFeed
	window chain.DepositWindow
}

// depositRules reads cfg's L1 for a follower's deposit checks, or nil
// without --l1.url and --l1.portal.
func depositRules(cfg L1Config, log zerolog.Logger) (*l1Rules, error) {
	if cfg.URL == "" || cfg.Portal == (common.Address{}) {
		return nil, nil
	}
	feed, err := depositFeed(cfg, log)
	if err != nil {
		return nil, err
	}
	return &l1Rules{feed: feed, window: window(cfg, feed)}, nil
}

// run polls the feed while r runs; nothing without rules.
func (x *l1Rules) run(r *Role) {
	if x != nil {
		r.runFeed(x.feed)
	}
}

// censoring is a deposit source that takes nothing and never moves the
// cursor (--dev.censor-deposits).
type censoring struct{}

func (censoring) Since(after chain.L1Origin) ([]chain.L1Deposits, chain.L1Origin, error) {
	return nil, after, nil
}

// runFeed polls feed between the role's start and stop.
func (r *Role) runFeed(feed *l1.DepositFeed) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	r.then(func(context.Context) error {
		go func() { defer close(done); feed.Run(ctx) }()
		return nil
	}, func(context.Context) error { cancel(); <-done; return nil })
	r.gauge("meganode_l1_deposit_head", "Newest confirmed L1 block read for deposits.", func() float64 {
		h, _ := feed.Head()
		return float64(h.Number)
	})
}

// devL1 is a devnet's L1: its embedded one, or the one at cfg.L1.URL with
// the contracts deployed there when no portal is named.
type devL1 struct {
	embedded *l1.Embedded
	url      string
	backend  l1.Backend
	addrs    l1.Addresses
	start    uint64 // the deployment's L1 block
	feed     *l1.DepositFeed
	// The proposer's and the batcher's keys, set when the devnet deployed
	// the contracts: on the embedded L1 two funded accounts after the dev
	// accounts (so a user's own L1 transactions never race them for a
	// nonce), on another L1 the first dev account.
	proposer, batcher *ecdsa.PrivateKey
	// challengeSender pays for the in-process prover's challenges.
	challengeSender *ecdsa.PrivateKey
}

// openDevL1 starts the devnet's L1 side; nil when it has none. The
// in-process prover's key, when there is one, is the oracle's challenger.
func openDevL1(cfg Config, accounts []chain.DevAccount, prover *ecdsa.PrivateKey, log zerolog.Logger) (*devL1, error) {
	c := cfg.L1
	if !c.Embedded && c.URL == "" {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := &devL1{url: c.URL, addrs: l1.Addresses{Portal: c.Portal}}
	var backend l1.Backend
	if c.Embedded {
		ecfg := l1.DefaultEmbeddedConfig()
		ecfg.Mnemonic, ecfg.Accounts = cfg.Chain.Mnemonic, len(accounts)+3
		ecfg.BlockTime = c.BlockTime
		if ecfg.BlockTime == 0 {
			ecfg.BlockTime = time.Second
		}
		port := 0
		if cfg.RPC.Port != 0 {
			port = cfg.RPC.Port + 4
		}
		ecfg.HTTPAddr = net.JoinHostPort(cfg.RPC.Addr, strconv.Itoa(port))
		e, err := l1.NewEmbedded(ecfg)
		if err != nil {
			return nil, err
		}
		d.embedded, d.url, backend = e, e.HTTPURL(), e.Client()
	} else {
		client, err := ethclient.DialContext(ctx, c.URL)
		if err != nil {
			return nil, fmt.Errorf("L1 %s: %w", c.URL, err)
		}
		backend = client
	}
	if d.addrs.Portal == (common.Address{}) {
		if len(accounts) == 0 {
			d.close()
			return nil, errors.New("deploying the L1 contracts needs a dev account")
		}
		id, err := backend.ChainID(ctx)
		if err != nil {
			d.close()
			return nil, fmt.Errorf("L1 %s chain id: %w", d.url, err)
		}
		head, err := backend.HeaderByNumber(ctx, nil)
		if err != nil {
			d.close()
			return nil, fmt.Errorf("L1 %s head: %w", d.url, err)
		}
		dcfg := l1.DefaultConfig()
		deployer := accounts[0]
		d.proposer, d.batcher, d.challengeSender = deployer.Key, deployer.Key, deployer.Key
		if d.embedded != nil {
			n := len(accounts)
			d.proposer, d.batcher, d.challengeSender = d.embedded.Accounts[n].Key, d.embedded.Accounts[n+1].Key, d.embedded.Accounts[n+2].Key
		}
		dcfg.Proposer, dcfg.Batcher = crypto.PubkeyToAddress(d.proposer.PublicKey), crypto.PubkeyToAddress(d.batcher.PublicKey)
		if prover != nil {
			dcfg.Challengers = []common.Address{crypto.PubkeyToAddress(prover.PublicKey)}
		}
		// Every block gets an output, so a withdrawal can be proven as soon
		// as its block is: a devnet's L1 is free.
		dcfg.SubmissionInterval = 1
		dcfg.FinalizationPeriod, dcfg.ProofMaturityDelay = cfg.FinalityWindow.Truncate(time.Second), cfg.FinalityWindow.Truncate(time.Second)
		dep, err := l1.Deploy(ctx, backend, bind.NewKeyedTransactor(deployer.Key, id), dcfg)
		if err != nil {
			d.close()
			return nil, fmt.Errorf("deploy the L1 contracts on %s: %w", d.url, err)
		}
		d.addrs = dep.Addresses
		c.StartBlock = head.Number.Uint64()
		log.Info().Str("l1", d.url).Stringer("portal", d.addrs.Portal).Stringer("output_oracle", d.addrs.OutputOracle).
			Stringer("da_inbox", d.addrs.DAInbox).Msg("deployed the L1 contracts")
	}
	d.backend, d.start = backend, c.StartBlock
	fc := feedConfig(c)
	if c.Embedded && c.Poll == 0 {
		fc.Poll = 100 * time.Millisecond // in process: a poll is a function call
	}
	d.feed = l1.NewDepositFeed(backend, d.addrs.Portal, fc, log)
	return d, nil
}

func (d *devL1) close() error {
	if d.embedded != nil {
		return d.embedded.Close()
	}
	return nil
}

// maybePropose adds a proposer when cfg names an oracle and a key.
func (r *Role) maybePropose(cfg L1Config, log zerolog.Logger) error {
	if cfg.ProposerKey == nil {
		return nil
	}
	if cfg.URL == "" || cfg.OutputOracle == (common.Address{}) {
		return errors.New("--l1.proposer-key needs --l1.url and --l1.output-oracle")
	}
	client, err := ethclient.Dial(cfg.URL)
	if err != nil {
		return fmt.Errorf("L1 %s: %w", cfg.URL, err)
	}
	r.addProposer(client, l1.Addresses{Portal: cfg.Portal, OutputOracle: cfg.OutputOracle}, cfg.ProposerKey, log)
	return nil
}

// storeOutputs is a role's output source: the output root preimage of a
// block its store holds and, when it keeps a ladder, a quorum of its
// provers attested.
type storeOutputs struct {
	store *storage.Store
	fin   *tracker
}

func (s storeOutputs) Output(n uint64) (l1.OutputRootProof, bool, error) {
	h := s.store.GetHeaderByNumber(n)
	if h == nil {
		return l1.OutputRootProof{}, false, nil
	}
	if s.fin != nil && s.fin.Attested() < n { // proven, but for the L1 output this makes
		return l1.OutputRootProof{}, false, nil
	}
	passer, err := chain.MessagePasserRoot(s.store.StateDatabase(), h.Root)
	if err != nil {
		return l1.OutputRootProof{}, false, err
	}
	return l1.OutputRootProof{StateRoot: h.Root, MessagePasserStorageRoot: passer, LatestBlockhash: h.Hash()}, true, nil
}

// runOnL1 runs f with a client of the L1 at backend between the role's
// start and stop. The client is made once the L1 answers (it may not yet).
func (r *Role) runOnL1(backend l1.Backend, addrs l1.Addresses, f func(ctx context.Context, c *l1.Client)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	r.then(func(context.Context) error {
		go func() {
			defer close(done)
			for {
				c, err := l1.NewClient(ctx, backend, addrs)
				if err == nil {
					f(ctx, c)
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
			}
		}()
		return nil
	}, func(context.Context) error { cancel(); <-done; return nil })
}

// addProposer runs a proposer of the role's outputs to oracle on backend
// between the role's start and stop.
func (r *Role) addProposer(backend l1.Backend, addrs l1.Addresses, key *ecdsa.PrivateKey, log zerolog.Logger) {
	src := storeOutputs{store: r.store, fin: r.fin}
	var proposer atomic.Pointer[l1.Proposer]
	r.runOnL1(backend, addrs, func(ctx context.Context, c *l1.Client) {
		p := l1.NewProposer(c, key, src, l1.ProposerConfig{}, log)
		proposer.Store(p)
		p.Run(ctx)
	})
	stats := func() l1.ProposerStats {
		if p := proposer.Load(); p != nil {
			return p.Stats()
		}
		return l1.ProposerStats{}
	}
	r.counter("meganode_l1_outputs_proposed_total", "Output roots this node posted to the L1 oracle.", func() uint64 { return stats().Proposed })
	r.gauge("meganode_l1_output_block", "L2 block of the newest output root this node posted.", func() float64 { return float64(stats().Latest) })
	r.gauge("meganode_l1_output_gas", "L1 gas of the newest output proposal.", func() float64 { return float64(stats().Gas) })
}

// addRecorder records the role's posted DA blobs in the L1 inbox between
// its start and stop; each recorded blob makes its blocks available (safe)
// on fins.
func (r *Role) addRecorder(backend l1.Backend, addrs l1.Addresses, key *ecdsa.PrivateKey, cfg l1.InboxConfig, fins []*tracker, log zerolog.Logger) {
	recorded := func(c *chain.DACommitment, rc *types.Receipt) {
		if err := r.store.MarkDARecorded(c.Seq, rc.BlockNumber.Uint64(), rc.TxHash); err != nil {
			log.Warn().Err(err).Uint64("blob", c.Seq).Msg("note the DA blob's L1 inbox record")
		}
		for _, fin := range fins {
			if fin != nil {
				fin.Available(c.Last)
			}
		}
	}
	var rec atomic.Pointer[l1.InboxRecorder]
	r.runOnL1(backend, addrs, func(ctx context.Context, c *l1.Client) {
		x := l1.NewInboxRecorder(c, key, r.store, cfg, recorded, log)
		rec.Store(x)
		x.Run(ctx)
	})
	stats := func() l1.InboxStats {
		if x := rec.Load(); x != nil {
			return x.Stats()
		}
		return l1.InboxStats{}
	}
	r.counter("meganode_l1_blobs_recorded_total", "DA blobs this node recorded in the L1 inbox.", func() uint64 { return stats().Recorded })
	r.gauge("meganode_l1_blob_record_gas", "L1 gas of the newest DA inbox record.", func() float64 { return float64(stats().Gas) })
}

// inboxIndex is a follower's DA index read from the L1 inbox, or nil when
// cfg names none.
func inboxIndex(cfg L1Config, log zerolog.Logger) (*l1.InboxIndex, error) {
	if cfg.URL == "" || cfg.DAInbox == (common.Address{}) {
		return nil, nil
	}
	client, err := ethclient.Dial(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("L1 %s: %w", cfg.URL, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := l1.NewClient(ctx, client, l1.Addresses{DAInbox: cfg.DAInbox})
	if err != nil {
		return nil, err
	}
	return l1.NewInboxIndex(c, l1.InboxConfig{StartBlock: cfg.StartBlock, Confirmations: cfg.Confirmations, Poll: cfg.Poll}, log), nil
}

// trackers fans what an output watcher reads out to several ladders.
type trackers []*tracker

func (ts trackers) L1Output(o chain.L1Output) {
	for _, t := range ts {
		t.L1Output(o)
	}
}

func (ts trackers) L1Deleted(i uint64) {
	for _, t := range ts {
		t.L1Deleted(i)
	}
}

func (ts trackers) L1Head(v chain.L1View) {
	for _, t := range ts {
		t.L1Head(v)
	}
}

// addOutputWatcher anchors fins on the L1 oracle between the role's start
// and stop.
func (r *Role) addOutputWatcher(backend l1.Backend, addrs l1.Addresses, cfg l1.InboxConfig, fins []*tracker, log zerolog.Logger) {
	var ts trackers
	for _, f := range fins {
		if f != nil {
			ts = append(ts, f)
		}
	}
	if len(ts) == 0 {
		return
	}
	r.runOnL1(backend, addrs, func(ctx context.Context, c *l1.Client) {
		l1.NewOutputWatcher(c, cfg, ts, log).Run(ctx)
	})
}

// anchorsOnL1 reports whether a role watches an output oracle.
func (c L1Config) anchorsOnL1() bool { return c.URL != "" && c.OutputOracle != (common.Address{}) }

// maybeWatchOutputs anchors the role's ladder on cfg's oracle, if any.
func (r *Role) maybeWatchOutputs(cfg L1Config, log zerolog.Logger) error {
	if !cfg.anchorsOnL1() || r.fin == nil {
		return nil
	}
	client, err := ethclient.Dial(cfg.URL)
	if err != nil {
		return fmt.Errorf("L1 %s: %w", cfg.URL, err)
	}
	r.addOutputWatcher(client, l1.Addresses{Portal: cfg.Portal, OutputOracle: cfg.OutputOracle, DAInbox: cfg.DAInbox},
		l1.InboxConfig{StartBlock: cfg.StartBlock, Poll: cfg.Poll}, []*tracker{r.fin}, log)
	return nil
}

// addChallenger runs an L1 challenger for a prover between the role's start
// and stop: it watches the oracle and deletes outputs that disagree with
// the prover's attestations, and outputs of blocks it convicted. It sets
// the prover's hooks that tell it.
func (r *Role) addChallenger(backend l1.Backend, addrs l1.Addresses, start uint64, proverKey, sender *ecdsa.PrivateKey, pcfg *prover.Config, log zerolog.Logger) error {
	ctx, cancel := context.WithCancel(context.Background())
	cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
	c, err := l1.NewClient(cctx, backend, addrs)
	ccancel()
	if err != nil {
		cancel()
		return err
	}
	x := l1.NewChallenger(c, proverKey, sender, log)
	w := l1.NewOutputWatcher(c, l1.InboxConfig{StartBlock: start, Poll: 200 * time.Millisecond}, x, log)
	var wg sync.WaitGroup
	r.then(func(context.Context) error {
		wg.Add(2)
		go func() { defer wg.Done(); x.Run(ctx) }()
		go func() { defer wg.Done(); w.Run(ctx) }()
		return nil
	}, func(context.Context) error { cancel(); wg.Wait(); return nil })
	r.counter("meganode_l1_outputs_challenged_total", "Output roots on L1 this node's prover challenged (and so deleted).", x.Challenged)
	r.counter("meganode_l1_blocks_challenged_total", "Of those, outputs of blocks the prover made a fraud proof of, deleted with challengeBlock.", x.BlocksChallenged)
	pcfg.Attested = func(a *chain.Attestation) { x.Attested(a.Number, a.OutputRoot) }
	pcfg.Convicted = func(c prover.Conviction) {
		x.Fraud(l1.FraudClaim{Header: c.Header, Claimed: c.Verdict.StateRoot, PasserRoots: c.PasserRoots})
	}
	return nil
}
