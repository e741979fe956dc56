package node

import (
	"context"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/ethclient/gethclient"
	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/contracts"
	"github.com/meganode/meganode/l1"
	"github.com/meganode/meganode/rpc"
)

// TestDevnetWithdrawal: a withdrawal started on L2 at the message passer
// is proven on the devnet's embedded L1 against the output root the devnet
// proposed for its block (proven by the in-process prover first), and
// finalized after the window: the target's L1 balance gets the value.
func TestDevnetWithdrawal(t *testing.T) {
	cfg := DefaultConfig()
	cfg.FinalityWindow = time.Second // also the oracle's window and the proof maturity delay
	cfg.L1 = L1Config{Embedded: true, BlockTime: 200 * time.Millisecond}
	d := startDevnet(t, cfg)
	ctx := context.Background()
	url, addrs := d.L1()
	ec, err := ethclient.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	lc, err := l1.NewClient(ctx, ec, addrs)
	if err != nil {
		t.Fatal(err)
	}
	accts := d.Accounts()
	user, target, relayer := accts[2], common.HexToAddress("0x000000000000000000000000000000000000dead"), accts[8]

	// The portal pays withdrawals out of what was deposited: deposit 2 ETH.
	opts := lc.Transactor(relayer.Key)
	opts.Value = big.NewInt(2 * params.Ether)
	if _, err := lc.Deposit(ctx, opts, l1.DepositArgs{To: relayer.Address, GasLimit: 100_000}); err != nil {
		t.Fatal(err)
	}

	// On L2: initiateWithdrawal(target, 100000, "") with 1 ETH.
	a, err := l1.LoadArtifact(contracts.MessagePasser)
	if err != nil {
		t.Fatal(err)
	}
	input, err := a.ABI.Pack("initiateWithdrawal", target, big.NewInt(100_000), []byte{})
	if err != nil {
		t.Fatal(err)
	}
	config := d.Store().ChainConfig()
	tx := types.MustSignNewTx(user.Key, types.LatestSigner(config), &types.DynamicFeeTx{ChainID: config.ChainID, To: &chain.MessagePasser,
		Value: big.NewInt(params.Ether), Gas: 200_000, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(10 * params.GWei), Data: input})
	heads := d.Sequencer().Heads(64)
	if err := d.Sequencer().SendTransaction(tx); err != nil {
		t.Fatal(err)
	}
	var block uint64
	waitUntil(t, "the withdrawal sealed", heads, func() bool {
		_, _, block, _ = d.Store().Transaction(tx.Hash())
		return block != 0
	})
	h := d.Store().GetHeaderByNumber(block)
	var w *l1.Withdrawal
	for _, r := range d.Store().Receipts(h.Hash(), block) {
		if r.TxHash == tx.Hash() && r.Status == 1 && len(r.Logs) == 1 {
			w, _, err = l1.WithdrawalFromLog(r.Logs[0])
		}
	}
	if w == nil || err != nil {
		t.Fatalf("no MessagePassed log in block %d: %v", block, err)
	}

	// The devnet proposes an output for every proven block.
	var index uint64
	var out *l1.Output
	waitUntil(t, "an output root on L1 covering the withdrawal's block", heads, func() bool {
		var err error
		if index, err = lc.L2OutputIndexAfter(ctx, block); err != nil {
			return false
		}
		out, err = lc.L2Output(ctx, index)
		return err == nil
	})
	oh := d.Store().GetHeaderByNumber(out.L2BlockNumber)
	l2, err := gethrpc.Dial("http://" + d.RPCAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	res, err := gethclient.New(l2).GetProof(ctx, chain.MessagePasser, []string{w.StorageSlot().Hex()}, oh.Number)
	if err != nil {
		t.Fatal(err)
	}
	pre := l1.OutputRootProof{StateRoot: oh.Root, MessagePasserStorageRoot: res.StorageHash, LatestBlockhash: oh.Hash()}
	if pre.Root() != out.OutputRoot {
		t.Fatalf("output %d on L1 %s, the devnet's block %d gives %s", index, out.OutputRoot, out.L2BlockNumber, pre.Root())
	}
	proof := make([][]byte, len(res.StorageProof[0].Proof))
	for i, p := range res.StorageProof[0].Proof {
		proof[i] = common.FromHex(p)
	}
	if _, err := lc.ProveWithdrawal(ctx, lc.Transactor(relayer.Key), w, index, pre, proof); err != nil {
		t.Fatalf("prove on L1: %v", err)
	}
	// Finalizing waits for the maturity delay and the output's window on
	// L1's clock; until then it reverts.
	waitUntil(t, "the withdrawal finalized on L1", heads, func() bool {
		_, err := lc.FinalizeWithdrawal(ctx, lc.Transactor(relayer.Key), w)
		return err == nil
	})
	if got, err := ec.BalanceAt(ctx, target, nil); err != nil || got.Cmp(big.NewInt(params.Ether)) != 0 {
		t.Fatalf("target's L1 balance %s (%v), want 1 ETH", got, err)
	}
	// mega_getFinality names the output on L1 the withdrawal's block
	// finalized under.
	var f rpc.Finality
	waitUntil(t, "the withdrawal's block finalized on L1", heads, func() bool {
		return l2.Call(&f, "mega_getFinality", tx.Hash()) == nil && f.Stage == chain.StageFinalized
	})
	if f.L1 == nil || uint64(f.L1.L2BlockNumber) < block || f.L1.L1BlockNumber == 0 || f.L1.TransactionHash == (common.Hash{}) || uint64(f.L1.FinalizesAt) < uint64(f.L1.L1Timestamp) {
		t.Fatalf("finality of the withdrawal: L1 output %+v, want the output covering block %d", f.L1, block)
	}
}

// waitUntil checks cond after each sealed block (heads) until it holds.
func waitUntil(t *testing.T, what string, heads *chain.Subscription[*chain.Head], cond func() bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for !cond() {
		select {
		case <-heads.C():
		case err := <-heads.Err():
			t.Fatalf("%s: heads: %v", what, err)
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestDevnetBadOutputDisputed: an output root on L1 that disagrees with the
// chain (posted with the proposer's key, as a faulty proposer would) is a
// dispute on every node of the devnet: finality halts below its block, the
// ladder says why and /ready is degraded. The in-process prover deletes the
// output on L1; the proposer's fault is not the blocks', so every node lifts
// the dispute, is ready again, and finalizes past the block under the output
// the devnet's proposer posts again.
func TestDevnetBadOutputDisputed(t *testing.T) {
	cfg := DefaultConfig()
	// The oracle's window (this) must leave the challenger time, on L1's
	// clock: an L1 block a second.
	cfg.FinalityWindow = 20 * time.Second
	cfg.L1 = L1Config{Embedded: true, BlockTime: time.Second}
	d := startDevnet(t, cfg)
	ctx := context.Background()
	url, addrs := d.L1()
	ec, err := ethclient.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	lc, err := l1.NewClient(ctx, ec, addrs)
	if err != nil {
		t.Fatal(err)
	}
	// The devnet's proposer is the account after its dev accounts.
	keys, err := chain.DeriveAccounts(cfg.Chain.Mnemonic, len(d.Accounts())+1)
	if err != nil {
		t.Fatal(err)
	}
	proposer := keys[len(d.Accounts())].Key
	nodes := finalityNodes(d)
	subs := make([]*chain.Subscription[*chain.FinalityChange], len(nodes))
	for i, n := range nodes {
		subs[i] = n.fin.FinalityChanges(4096)
	}
	heads := d.Sequencer().Heads(64)
	var bad, index uint64
	bogus := common.HexToHash("0xbad")
	waitUntil(t, "a bad output root on L1", heads, func() bool {
		next, err := lc.NextBlockNumber(ctx)
		if err != nil {
			return false
		}
		if index, err = lc.NextOutputIndex(ctx); err != nil {
			return false
		}
		if _, err := lc.ProposeL2Output(ctx, lc.Transactor(proposer), bogus, next, common.Hash{}, 0); err != nil {
			return false // the devnet's own proposer took that block first, or it is not due yet
		}
		bad = next
		return true
	})
	for i, n := range nodes {
		waitStage(t, n.name, subs[i], chain.StageDisputed, bad)
		h := n.fin.FinalityHeads()
		if h.Dispute == nil || h.Dispute.Number != bad || h.Finalized.Number >= bad || !strings.Contains(h.Dispute.Reason, bogus.Hex()) ||
			h.Dispute.Output == nil || h.Dispute.Output.Index != index {
			t.Fatalf("%s: dispute %+v, finalized %d; want the dispute of output %d at block %d, finality below it", n.name, h.Dispute, h.Finalized.Number, index, bad)
		}
		if status, reason := readyAt(t, n.url); status != http.StatusServiceUnavailable || !strings.Contains(reason, fmt.Sprintf("block %d ", bad)) {
			t.Fatalf("%s /ready while disputed: %d %q", n.name, status, reason)
		}
	}
	// The in-process prover, one of the oracle's challengers, deletes it on
	// L1 with its signed challenge: every node lifts the dispute.
	for i, n := range nodes {
		c := waitStage(t, n.name, subs[i], chain.StageResumed, bad)
		if c.Block.Number != bad {
			t.Fatalf("%s: resumed at block %d, want %d", n.name, c.Block.Number, bad)
		}
		if h := n.fin.FinalityHeads(); h.Dispute != nil {
			t.Fatalf("%s: dispute %+v stands after the deletion", n.name, h.Dispute)
		}
		if status, reason := readyAt(t, n.url); status != http.StatusOK {
			t.Fatalf("%s /ready after the deletion: %d %q", n.name, status, reason)
		}
	}
	if o, err := lc.L2Output(ctx, index); err == nil && o.OutputRoot == bogus {
		t.Fatal("a node resumed while the bad output is on L1")
	}
	// The devnet's proposer posts the block's right output, and the blocks
	// finalize under it after the oracle's window.
	for i, n := range nodes {
		waitFinalizedPast(t, n.name, subs[i], bad, 90*time.Second)
	}
	if o, err := lc.L2Output(ctx, index); err != nil || o.OutputRoot == bogus || o.L2BlockNumber != bad {
		t.Fatalf("output %d on L1 after the deletion: %+v (%v), want block %d's right root", index, o, err, bad)
	}
}

// waitFinalizedPast waits, up to timeout, until a finality subscription
// finalizes a block after n (the oracle's window is long here) with no
// dispute on the way.
func waitFinalizedPast(t *testing.T, name string, sub *chain.Subscription[*chain.FinalityChange], n uint64, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case c := <-sub.C():
			switch {
			case c.Stage == chain.StageDisputed:
				t.Fatalf("%s: block %d disputed again", name, c.Block.Number)
			case c.Stage == chain.StageFinalized && c.Block.Number > n:
				if c.Block.L1 == nil || c.Block.L1.Root == common.HexToHash("0xbad") {
					t.Fatalf("%s: block %d finalized under %+v", name, c.Block.Number, c.Block.L1)
				}
				return
			}
		case err := <-sub.Err():
			t.Fatalf("%s finality: %v", name, err)
		case <-deadline:
			t.Fatalf("%s: nothing after block %d finalized", name, n)
		}
	}
}

// TestDevnetBadBlockOutputChallenged: the sequencer seals a block with a
// wrong state root and a proposer posts the output root that block's header
// gives (the header's state root, the message passer root of the state the
// sequencer holds, the block's hash). The output agrees with the bad block,
// so no attestation disagrees with it; the in-process prover, which made
// the block's fraud proof, deletes it on L1 with challengeBlock, and every
// node stays disputed at that block.
func TestDevnetBadBlockOutputChallenged(t *testing.T) {
	const bad = 3
	cfg := DefaultConfig()
	cfg.FinalityWindow = 20 * time.Second // on L1's clock: time for the challenge
	cfg.L1 = L1Config{Embedded: true, BlockTime: time.Second}
	cfg.Sequencer.FaultyRootAt = bad
	d := startDevnet(t, cfg)
	ctx := context.Background()
	url, addrs := d.L1()
	ec, err := ethclient.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	lc, err := l1.NewClient(ctx, ec, addrs)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := chain.DeriveAccounts(cfg.Chain.Mnemonic, len(d.Accounts())+1)
	if err != nil {
		t.Fatal(err)
	}
	proposer := keys[len(d.Accounts())].Key
	heads := d.Sequencer().Heads(64)
	waitUntil(t, "the sequencer's bad block", heads, func() bool { return d.Store().GetHeaderByNumber(bad) != nil })
	h := d.Store().GetHeaderByNumber(bad)
	m, err := d.Store().BlockMessage(bad)
	if err != nil || m == nil || m.Bundle.StateDiff == nil {
		t.Fatalf("block message %d: %v", bad, err)
	}
	if m.Bundle.StateDiff.Root == h.Root {
		t.Fatal("the faulty block's header has the state root it commits")
	}
	passer, err := chain.MessagePasserRoot(d.Store().StateDatabase(), m.Bundle.StateDiff.Root)
	if err != nil {
		t.Fatal(err)
	}
	root := l1.OutputRoot(h.Root, passer, h.Hash())
	// The devnet's proposer stops below the bad block (never attested);
	// this one posts it once it is due.
	var index uint64
	waitUntil(t, "the bad block's output on L1", heads, func() bool {
		next, err := lc.NextBlockNumber(ctx)
		if err != nil || next != bad {
			return false
		}
		if index, err = lc.NextOutputIndex(ctx); err != nil {
			return false
		}
		// Not due yet on L1's clock, until it is.
		_, err = lc.ProposeL2Output(ctx, lc.Transactor(proposer), root, bad, common.Hash{}, 0)
		return err == nil
	})
	waitUntil(t, "the bad block's output deleted on L1", heads, func() bool {
		next, err := lc.NextOutputIndex(ctx)
		return err == nil && next <= index
	})
	for _, name := range []string{"meganode_l1_blocks_challenged_total", "meganode_l1_outputs_challenged_total"} {
		if got := counterValue(t, d, name); got != 1 {
			t.Errorf("%s = %v, want 1", name, got)
		}
	}
	for _, n := range finalityNodes(d) {
		if h := n.fin.FinalityHeads(); h.Dispute == nil || h.Dispute.Number != bad || h.Finalized.Number >= bad {
			t.Fatalf("%s after the challenge: %+v", n.name, h)
		}
	}
}

// counterValue reads a counter of the devnet's registry.
func counterValue(t *testing.T, d *Devnet, name string) float64 {
	t.Helper()
	families, err := d.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.Metric) == 1 {
			return f.Metric[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}
