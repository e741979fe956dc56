package node

import (
	"math/big"
	"testing"
	"time"

	"github.com/holiman/uint256"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/meganode/meganode/chain"
)

// waitRewound waits for a rewind event to block n on a heads feed.
func waitRewound(t *testing.T, name string, sub *chain.Subscription[*chain.Head], n uint64) *chain.Head {
	t.Helper()
	defer sub.Unsubscribe()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case h := <-sub.C():
			if h.Rewound && h.Header.Number.Uint64() == n {
				return h
			}
		case err := <-sub.Err():
			t.Fatalf("%s heads: %v", name, err)
		case <-timeout:
			t.Fatalf("%s did not go back to block %d", name, n)
		}
	}
}

// TestDevnetRolesFollowDevMethods runs the devnet's replica, full node and
// prover through what tests do to a dev chain: automined blocks with state
// edits and an impersonated sender, a revert (a reorg every role follows,
// its removed logs announced) and blocks after it, which every role holds
// with the sequencer's hashes and which finalize with no fraud alarm.
func TestDevnetRolesFollowDevMethods(t *testing.T) {
	cfg := DefaultConfig()
	cfg.FinalityWindow = 300 * time.Millisecond
	cfg.Sequencer.Mining = chain.MineAuto
	d := startDevnet(t, cfg)
	seq := d.Sequencer()
	rep, full := d.ReplicaNode(), d.FullNodeRole()
	snap, err := seq.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	repHeads, fullHeads := rep.Replica().Heads(256), full.FullNode().Heads(256)
	repBack, fullBack := rep.Replica().Heads(256), full.FullNode().Heads(256)
	seqHeads := seq.Heads(256)

	// Blocks 1-4: three transfers and a deployment that logs, then an edit
	// and a send from an impersonated account funded by it.
	for _, tx := range signedTxs(t, d) {
		if err := seq.SendTransaction(tx); err != nil {
			t.Fatal(err)
		}
	}
	whale := common.HexToAddress("0x00000000000000000000000000000000000a11ce")
	if err := seq.Edit([]chain.DevEdit{chain.BalanceEdit(whale, uint256.NewInt(params.Ether))}); err != nil {
		t.Fatal(err)
	}
	if err := seq.Impersonate(whale, true); err != nil {
		t.Fatal(err)
	}
	config := d.Store().ChainConfig()
	to := common.HexToAddress("0xbeef")
	tx, err := chain.Impersonate(types.LatestSigner(config), types.NewTx(&types.DynamicFeeTx{ChainID: config.ChainID, To: &to, Gas: params.TxGas,
		GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(10 * params.GWei), Value: big.NewInt(3)}), whale)
	if err != nil {
		t.Fatal(err)
	}
	if err := seq.SendTransaction(tx); err != nil {
		t.Fatal(err)
	}
	top := waitHead(t, "sequencer", seqHeads, 5)
	for name, sub := range map[string]*chain.Subscription[*chain.Head]{"replica": repHeads, "fullnode": fullHeads} {
		if h := waitHead(t, name, sub, 5); h.Hash() != d.Store().GetHeaderByNumber(5).Hash() {
			t.Fatalf("%s holds another block 5", name)
		}
	}
	if top.Number.Uint64() != 5 {
		t.Fatalf("sequencer head %d, want 5", top.Number)
	}

	ok, err := seq.Revert(snap)
	if err != nil || !ok {
		t.Fatalf("revert: %v %v", ok, err)
	}
	for name, sub := range map[string]*chain.Subscription[*chain.Head]{"replica": repBack, "fullnode": fullBack} {
		h := waitRewound(t, name, sub, 0)
		// signedTxs' deployment logs once in its constructor; transfers none.
		if len(h.Removed) != 1 {
			t.Fatalf("%s announced %d removed logs, want 1", name, len(h.Removed))
		}
		for _, l := range h.Removed {
			if !l.Removed {
				t.Fatalf("%s: a removed log without removed: true", name)
			}
		}
	}
	for _, s := range []interface{ CurrentHeader() *types.Header }{d.Store(), rep.Store(), full.Store()} {
		if n := s.CurrentHeader().Number.Uint64(); n != 0 {
			t.Fatalf("a role's head is %d after the revert, want 0", n)
		}
	}

	// After the revert: an edit and a transfer, followed and finalized by all.
	fin := d.Finality().FinalityChanges(1024)
	repHeads, fullHeads = rep.Replica().Heads(64), full.FullNode().Heads(64)
	seqHeads = seq.Heads(64)
	if err := seq.Edit([]chain.DevEdit{chain.NonceEdit(whale, 9)}); err != nil {
		t.Fatal(err)
	}
	if err := seq.SendTransaction(signedTxs(t, d)[0]); err != nil {
		t.Fatal(err)
	}
	want := waitHead(t, "sequencer", seqHeads, 1)
	for name, sub := range map[string]*chain.Subscription[*chain.Head]{"replica": repHeads, "fullnode": fullHeads} {
		if h := waitHead(t, name, sub, 1); h.Hash() != want.Hash() {
			t.Fatalf("%s holds block 1 %s, the sequencer %s", name, h.Hash(), want.Hash())
		}
	}
	waitStage(t, "sequencer", fin, chain.StageFinalized, 1)
	if err := d.ready(func() error { return nil })(); err != nil {
		t.Fatalf("a role raised an alarm: %v", err)
	}
	if s := d.ProverNode().Stats(); s.Disputed != 0 {
		t.Fatalf("the prover disputed %d dev blocks", s.Disputed)
	}
	if s := full.FullNode().Stats(); s.Refused != 0 {
		t.Fatalf("the full node refused %d dev blocks", s.Refused)
	}
	if err := full.FullNode().Healthy(); err != nil {
		t.Fatal(err)
	}
}
