package node

import (
	"context"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/l1"
	"github.com/meganode/meganode/storage"
)

// oneL1Block is a deposit source with one confirmed L1 block of deposits.
type oneL1Block struct {
	once  sync.Once
	group chain.L1Deposits
}

func (s *oneL1Block) Since(after chain.L1Origin) ([]chain.L1Deposits, chain.L1Origin, error) {
	if after.Number >= s.group.Origin.Number {
		return nil, after, nil
	}
	return []chain.L1Deposits{s.group}, s.group.Origin, nil
}

// TestDevnetRolesFollowDeposits: a block that starts with deposits (a
// transfer with a mint, and a creation that logs) is applied by the
// replica, re-executed by the full node and attested by the prover, with
// the same receipts and cursor everywhere and no dispute.
func TestDevnetRolesFollowDeposits(t *testing.T) {
	alice, bob := common.HexToAddress("0xa11ce"), common.HexToAddress("0xb0b")
	origin := chain.L1Origin{Number: 40, Hash: common.HexToHash("0x40")}
	src := &oneL1Block{group: chain.L1Deposits{Origin: origin, Deposits: []*chain.Deposit{
		{SourceHash: common.Hash{1}, From: alice, To: &bob, Mint: big.NewInt(params.Ether), Value: big.NewInt(params.GWei), Gas: 100_000},
		// constructor: LOG0 of 32 zero bytes
		{SourceHash: common.Hash{2}, From: alice, Mint: new(big.Int), Value: new(big.Int), Gas: 200_000, Data: common.FromHex("60206000a0")},
	}}}
	cfg := DefaultConfig()
	cfg.FinalityWindow = 300 * time.Millisecond
	cfg.Sequencer.Deposits = src
	d := startDevnet(t, cfg)
	rep, full := d.ReplicaNode(), d.FullNodeRole()
	repHeads, fullHeads := rep.Replica().Heads(64), full.FullNode().Heads(64)
	finSub := d.FullNodeRole().Finality().(interface {
		FinalityChanges(int) *chain.Subscription[*chain.FinalityChange]
	}).FinalityChanges(1024)
	// Block 1 opened as the devnet started: its first mini-block has them.
	tx := signedTxs(t, d)[0]
	if err := d.Sequencer().SendTransaction(tx); err != nil {
		t.Fatal(err)
	}
	waitHead(t, "replica", repHeads, 2)
	waitHead(t, "full node", fullHeads, 2)
	var with uint64
	for n := uint64(1); n <= 2; n++ {
		if o, _ := d.Store().L1Origin(n); o == origin && with == 0 {
			with = n
		}
	}
	if with == 0 {
		t.Fatal("no sequencer block took the deposits")
	}
	h := d.Store().GetHeaderByNumber(with)
	want, wantR := d.Store().Deposits(h.Hash(), with)
	if len(want) != 2 {
		t.Fatalf("sequencer block %d holds %d deposits, want 2", with, len(want))
	}
	for name, s := range map[string]*storage.Store{"replica": rep.Store(), "full node": full.Store()} {
		if got := s.GetHeaderByNumber(with); got == nil || got.Hash() != h.Hash() {
			t.Fatalf("%s block %d = %v, sequencer's %s", name, with, got, h.Hash())
		}
		ds, rs := s.Deposits(h.Hash(), with)
		if len(ds) != 2 || rs[1].ContractAddress != wantR[1].ContractAddress || len(rs[1].Logs) != 1 || rs[1].CumulativeGasUsed != wantR[1].CumulativeGasUsed {
			t.Fatalf("%s deposits of block %d: %d, receipts %+v", name, with, len(ds), rs)
		}
		if o, _ := s.L1Origin(with); o != origin {
			t.Fatalf("%s cursor of block %d %+v, want %+v", name, with, o, origin)
		}
		if r := s.Receipts(h.Hash(), with); len(r) > 0 && r[0].TransactionIndex != 2 {
			t.Fatalf("%s: the block's first tx has index %d, want 2 (after the deposits)", name, r[0].TransactionIndex)
		}
		st, err := chain.StateAt(s.StateDatabase(), h.Root)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.GetBalance(bob).Uint64(); got != params.GWei {
			t.Fatalf("%s: bob's balance %d, want the deposit's value", name, got)
		}
	}
	waitStage(t, "full node", finSub, chain.StageFinalized, with)
	if s := d.ProverNode().Stats(); s.Attested == 0 || s.Disputed != 0 || s.Unverifiable != 0 {
		t.Fatalf("prover %+v: want the deposit block attested, nothing disputed or unverifiable", s)
	}
}

// TestDevnetEmbeddedL1: a devnet with its embedded L1 deploys the
// contracts, and ETH sent to the portal over the L1's JSON-RPC (as cast
// send would) is minted on L2 to the sender.
func TestDevnetEmbeddedL1(t *testing.T) {
	cfg := DefaultConfig()
	cfg.L1 = L1Config{Embedded: true, BlockTime: 100 * time.Millisecond}
	d := startDevnet(t, cfg)
	url, addrs := d.L1()
	if url == "" || addrs.Portal == (common.Address{}) {
		t.Fatalf("devnet L1 %q portal %s", url, addrs.Portal)
	}
	ctx := context.Background()
	c, err := ethclient.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id, err := c.ChainID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	user := d.Accounts()[3]
	before := l2Balance(t, d, user.Address)
	nonce, err := c.PendingNonceAt(ctx, user.Address)
	if err != nil {
		t.Fatal(err)
	}
	tx := types.MustSignNewTx(user.Key, types.LatestSignerForChainID(id), &types.DynamicFeeTx{ChainID: id, Nonce: nonce, To: &addrs.Portal,
		Value: big.NewInt(params.Ether), Gas: 150_000, GasFeeCap: big.NewInt(100 * params.GWei), GasTipCap: big.NewInt(params.GWei)})
	if err := c.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	heads := d.Sequencer().Heads(64)
	defer heads.Unsubscribe()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case <-heads.C():
		case <-deadline:
			t.Fatalf("no deposit on L2 after 20 s: balance %s, was %s", l2Balance(t, d, user.Address), before)
		}
		if got := l2Balance(t, d, user.Address); got.Cmp(new(big.Int).Add(before, big.NewInt(params.Ether))) == 0 {
			break
		}
	}
	// Safe is anchored on L1: a block is safe once the DA inbox on L1 records
	// the blob holding it, never before.
	lc, err := l1.NewClient(ctx, c, addrs)
	if err != nil {
		t.Fatal(err)
	}
	for {
		safe := d.Finality().FinalityHeads().Safe.Number
		head, err := c.BlockNumber(ctx)
		if err != nil {
			t.Fatal(err)
		}
		records, err := lc.BlobRecords(ctx, 0, head)
		if err != nil {
			t.Fatal(err)
		}
		var recorded uint64
		for _, r := range records {
			recorded = max(recorded, r.Last)
		}
		if safe > recorded {
			t.Fatalf("block %d is safe, the L1 inbox records blocks up to %d only", safe, recorded)
		}
		if safe > 0 {
			return
		}
		select {
		case <-heads.C():
		case <-deadline:
			t.Fatal("no block became safe")
		}
	}
}

func l2Balance(t *testing.T, d *Devnet, a common.Address) *big.Int {
	t.Helper()
	st, err := chain.StateAt(d.Store().StateDatabase(), d.Store().CurrentHeader().Root)
	if err != nil {
		t.Fatal(err)
	}
	return st.GetBalance(a).ToBig()
}

// censor is a sequencer's deposit source that leaves out the first
// deposit of every L1 block and still moves the cursor over it: a
// censoring sequencer. It reads the devnet's own feed, set once built.
type censor struct {
	mu  sync.Mutex
	src *l1.DepositFeed
}

func (c *censor) Since(after chain.L1Origin) ([]chain.L1Deposits, chain.L1Origin, error) {
	c.mu.Lock()
	src := c.src
	c.mu.Unlock()
	if src == nil {
		return nil, after, nil
	}
	gs, through, err := src.Since(after)
	out := make([]chain.L1Deposits, 0, len(gs))
	for _, g := range gs {
		out = append(out, chain.L1Deposits{Origin: g.Origin, Deposits: g.Deposits[1:]})
	}
	return out, through, err
}

// TestFullNodeCatchesACensoringSequencer: the full node checks each block's
// deposits against the L1's logs over the blocks its cursor moved; a block
// that leaves one out is replaced by the block the rules force, with the
// deposit in, and the node says so.
func TestFullNodeCatchesACensoringSequencer(t *testing.T) {
	cen := &censor{}
	d := censoredDevnet(t, func(cfg *Config) { cfg.Sequencer.Deposits = cen })
	cen.mu.Lock()
	cen.src = d.l1.feed
	cen.mu.Unlock()
	forcedIn(t, d, "the L1 logged 1")
}

// TestSequencingWindowForcesDeposits: a sequencer that takes no deposit and
// never moves its cursor breaks no rule until the sequencing window passes;
// then the full node forces the deposit in, and goes on re-deriving the
// sequencer's later blocks on its own chain.
func TestSequencingWindowForcesDeposits(t *testing.T) {
	d := censoredDevnet(t, func(cfg *Config) {
		cfg.L1.CensorDeposits = true
		cfg.L1.SequencingWindow = 2 * time.Second
	})
	forcedIn(t, d, "which the sequencing window requires")
	// The devnet's prover reads the same L1: the blocks whose cursor the
	// window left behind get no attestation.
	if n := d.prover.Stats().RefusedDeposits; n == 0 {
		t.Fatal("the prover attested every block of a sequencer that never moved its cursor")
	}
	if h := d.Finality().FinalityHeads(); h.Proven.Number >= d.FullNodeRole().Store().CurrentHeader().Number.Uint64() {
		t.Fatalf("proven head %d reached the censored chain's head", h.Proven.Number)
	}
}

func censoredDevnet(t *testing.T, edit func(*Config)) *Devnet {
	t.Helper()
	cfg := DefaultConfig()
	cfg.RPC.Port = 0
	cfg.L1 = L1Config{Embedded: true, BlockTime: 200 * time.Millisecond}
	edit(&cfg)
	d, err := NewDevnet(cfg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// forcedIn starts d, deposits 1 ETH to 0x1234 and waits for the full node
// to force it in: the full node's state has it, the sequencer's does not,
// Healthy names why, and the full node keeps following the sequencer's
// height on its own chain.
func forcedIn(t *testing.T, d *Devnet, why string) {
	t.Helper()
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Stop(context.Background()) })
	url, addrs := d.L1()
	ctx := context.Background()
	c, err := ethclient.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lc, err := l1.NewClient(ctx, c, addrs)
	if err != nil {
		t.Fatal(err)
	}
	opts := lc.Transactor(d.Accounts()[4].Key)
	opts.Value = big.NewInt(params.Ether)
	to := common.HexToAddress("0x1234")
	r, err := lc.Deposit(ctx, opts, l1.DepositArgs{To: to, Value: big.NewInt(params.Ether), GasLimit: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	fn, fstore := d.FullNodeRole().FullNode(), d.FullNodeRole().Store()
	heads := fn.Heads(64)
	waitUntil(t, "the full node forcing the deposit in", heads, func() bool { return fn.Stats().Forced > 0 })
	herr := fn.Healthy()
	if herr == nil || !strings.Contains(herr.Error(), why) || !strings.Contains(herr.Error(), "replaced by the block the deposit rules force") {
		t.Fatalf("full node health %v, want the forced block named with %q", herr, why)
	}
	forced := fstore.CurrentHeader()
	st, err := chain.StateAt(fstore.StateDatabase(), forced.Root)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.GetBalance(to).ToBig(); got.Cmp(big.NewInt(params.Ether)) != 0 {
		t.Fatalf("full node: %s holds %s after the forced block, want 1 ETH", to, got)
	}
	if got := l2Balance(t, d, to); got.Sign() != 0 {
		t.Fatalf("the censoring sequencer shows %s for %s", got, to)
	}
	if seqBlock := d.Store().GetHeaderByNumber(forced.Number.Uint64()); seqBlock == nil || seqBlock.Hash() == forced.Hash() || seqBlock.Time != forced.Time {
		t.Fatalf("sequencer's block %d %v, the forced one %s at time %d", forced.Number, seqBlock, forced.Hash(), forced.Time)
	}
	// The replica checks the same rules but does not execute: it stops at
	// the block before, and says why.
	rep := d.ReplicaNode()
	waitUntil(t, "the replica halting at the block that broke the rule", heads, func() bool { return rep.Replica().Healthy() != nil })
	if rerr := rep.Replica().Healthy(); !strings.Contains(rerr.Error(), "breaks the deposit rules") || !strings.Contains(rerr.Error(), why) {
		t.Fatalf("replica health %v, want the deposit rule named with %q", rerr, why)
	}
	if n := rep.Store().CurrentHeader().Number.Uint64(); n != forced.Number.Uint64()-1 {
		t.Fatalf("replica at block %d, want %d (before the block that broke the rule)", n, forced.Number.Uint64()-1)
	}
	// The sequencer's later blocks build on the block replaced: each is
	// derived again on the forced chain.
	next := forced.Number.Uint64() + 3
	waitUntil(t, "the full node re-deriving the sequencer's later blocks", heads, func() bool {
		return fstore.CurrentHeader().Number.Uint64() >= next
	})
	if n := fn.Stats().Forced; n < 4 {
		t.Fatalf("%d forced blocks after block %d, want every block from %d", n, next, forced.Number)
	}
	t.Logf("deposit in L1 block %d forced in at L2 block %d (%s): %v", r.BlockNumber, forced.Number, forced.Hash(), herr)
}
