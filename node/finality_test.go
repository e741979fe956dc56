package node

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rlp"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/p2p"
	"github.com/meganode/meganode/rpc"
)

// waitStage waits on a finality subscription until block n reaches stage.
func waitStage(t *testing.T, name string, sub *chain.Subscription[*chain.FinalityChange], stage chain.Stage, n uint64) chain.FinalityChange {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case c := <-sub.C():
			if c.Stage == stage && c.Block.Number >= n {
				return *c
			}
		case err := <-sub.Err():
			t.Fatalf("%s finality: %v", name, err)
		case <-timeout:
			t.Fatalf("%s: block %d did not become %s", name, n, stage)
		}
	}
}

type finalityNode struct {
	name string
	fin  rpc.FinalityReader
	url  string
}

func finalityNodes(d *Devnet) []finalityNode {
	return []finalityNode{
		{"sequencer", d.Finality(), d.RPCAddr()},
		{"replica", d.ReplicaNode().Finality(), d.ReplicaNode().RPCAddr()},
		{"fullnode", d.FullNodeRole().Finality(), d.FullNodeRole().RPCAddr()},
	}
}

func TestDevnetFinalizesTransactions(t *testing.T) {
	cfg := DefaultConfig()
	cfg.FinalityWindow = 300 * time.Millisecond
	d := startDevnet(t, cfg)
	nodes := finalityNodes(d)
	subs := make([]*chain.Subscription[*chain.FinalityChange], len(nodes))
	for i, n := range nodes {
		subs[i] = n.fin.FinalityChanges(1024)
	}
	tx := signedTxs(t, d)[0]
	if err := d.Sequencer().SendTransaction(tx); err != nil {
		t.Fatal(err)
	}
	head := waitHead(t, "sequencer", d.Sequencer().Heads(16), 1)
	_, _, num, _ := d.Store().Transaction(tx.Hash())
	for i, n := range nodes {
		c := waitStage(t, n.name, subs[i], chain.StageFinalized, num)
		if c.Block.Proven == 0 || c.Block.Finalized < c.Block.Proven+uint64(cfg.FinalityWindow.Milliseconds()) {
			t.Errorf("%s: block %d finalized at %d, proven at %d: the window was not waited", n.name, c.Block.Number, c.Block.Finalized, c.Block.Proven)
		}
		client, err := gethrpc.Dial("http://" + n.url)
		if err != nil {
			t.Fatal(err)
		}
		var f rpc.Finality
		if err := client.Call(&f, "mega_getFinality", tx.Hash()); err != nil {
			t.Fatalf("%s mega_getFinality: %v", n.name, err)
		}
		if f.Stage != chain.StageFinalized || uint64(f.BlockNumber) != num || f.TransactionHash == nil || f.Timestamps["finalized"] == 0 || f.OutputRoot == nil {
			t.Errorf("%s: finality of the tx %+v", n.name, f)
		}
		// The embedded DA server took the block before it became safe.
		if a := f.Timestamps["available"]; a == 0 || f.Timestamps["safe"] < a {
			t.Errorf("%s: safe at %d, DA blob confirmed at %d", n.name, f.Timestamps["safe"], a)
		}
		// Nodes that follow mini-blocks know when the tx was preconfirmed;
		// a full node only sees sealed blocks.
		pre, sealed := f.Timestamps["preconfirmed"], f.Timestamps["sealed"]
		if seesMinis := n.name != "fullnode"; seesMinis != (pre != 0) || pre > sealed {
			t.Errorf("%s: preconfirmed at %d, sealed at %d", n.name, pre, sealed)
		}
		var out rpc.OutputResponse
		if err := client.Call(&out, "optimism_outputAtBlock", hexutil.EncodeUint64(num)); err != nil {
			t.Fatal(err)
		}
		if out.OutputRoot != *f.OutputRoot {
			t.Errorf("%s: output root %s, attested %s", n.name, out.OutputRoot, *f.OutputRoot)
		}
		var blk map[string]any
		if err := client.Call(&blk, "eth_getBlockByNumber", "finalized", false); err != nil {
			t.Fatal(err)
		}
		if blk["number"] == nil {
			t.Fatalf("%s: no finalized block", n.name)
		}
		client.Close()
	}
	if head.Number.Uint64() < 1 || d.ProverNode().Stats().Attested == 0 {
		t.Fatalf("prover attested nothing: %+v", d.ProverNode().Stats())
	}
}

func TestFaultyRootDisputedEverywhere(t *testing.T) {
	cfg := DefaultConfig()
	cfg.FinalityWindow = 200 * time.Millisecond
	cfg.Sequencer.FaultyRootAt = 3
	d := startDevnet(t, cfg)
	nodes := finalityNodes(d)
	subs := make([]*chain.Subscription[*chain.FinalityChange], len(nodes))
	for i, n := range nodes {
		subs[i] = n.fin.FinalityChanges(1024)
	}
	for i, n := range nodes {
		c := waitStage(t, n.name, subs[i], chain.StageDisputed, 3)
		if c.Block.Number != 3 {
			t.Fatalf("%s: disputed block %d, want 3", n.name, c.Block.Number)
		}
	}
	if s := d.ProverNode().Stats(); s.Disputed == 0 {
		t.Fatalf("the prover published no fraud proof: %+v", s)
	}
	// The sequencer goes on sealing on its faulty block; nothing at or after
	// block 3 is ever proven or finalized, on any node.
	waitHead(t, "sequencer", d.Sequencer().Heads(16), 6)
	for _, n := range nodes {
		h := n.fin.FinalityHeads()
		if h.Dispute == nil || h.Dispute.Number != 3 || h.Proven.Number >= 3 || h.Finalized.Number >= 3 {
			t.Errorf("%s heads %+v", n.name, h)
		}
		if h.StageOf(5) != chain.StageDisputed {
			t.Errorf("%s: block 5 is %s, want disputed", n.name, h.StageOf(5))
		}
		client, err := gethrpc.Dial("http://" + n.url)
		if err != nil {
			t.Fatal(err)
		}
		var f rpc.Finality
		if err := client.Call(&f, "mega_getFinality", "0x2"); err != nil {
			t.Fatal(err)
		}
		if f.Dispute == nil || uint64(f.Dispute.BlockNumber) != 3 {
			t.Errorf("%s: mega_getFinality(2) shows no dispute: %+v", n.name, f)
		}
		var fin map[string]any
		if err := client.Call(&fin, "eth_getBlockByNumber", "finalized", false); err != nil {
			t.Fatal(err)
		}
		if num, err := hexutil.DecodeUint64(fin["number"].(string)); err != nil || num >= 3 {
			t.Errorf("%s: finalized block %d (%v), at or after the disputed one", n.name, num, err)
		}
		client.Close()
		resp, err := http.Get("http://" + n.url + "/ready")
		if err != nil {
			t.Fatal(err)
		}
		var ready struct{ Status, Reason string }
		json.NewDecoder(resp.Body).Decode(&ready)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || ready.Status != "degraded" || !strings.Contains(ready.Reason, "block 3") {
			t.Errorf("%s /ready: %d %+v", n.name, resp.StatusCode, ready)
		}
	}
	if err := d.FullNodeRole().FullNode().Healthy(); err == nil || !strings.Contains(err.Error(), "block 3") {
		t.Errorf("full node health %v, want block 3 refused", err)
	}
}

func TestFinalityRefusesGarbage(t *testing.T) {
	d := startDevnet(t, DefaultConfig())
	fin := d.fin
	fin.Deliver(p2p.Attestations, []byte{0xc1, 0xff}, nil, common.Address{})
	fin.Deliver(p2p.FraudProofs, []byte("junk"), nil, common.Address{})
	// A fraud proof whose block the sequencer never signed.
	junk, _ := rlp.EncodeToBytes(&chain.FraudProof{SignedBlock: []byte{1, 2, 3}, Witness: []byte{0xc0}})
	fin.Deliver(p2p.FraudProofs, junk, nil, common.Address{})
	deadline := time.Now().Add(10 * time.Second)
	for fin.refused.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := fin.refused.Load(); got < 3 {
		t.Fatalf("refused %d of 3 garbage messages", got)
	}
	if err := fin.Healthy(); err != nil {
		t.Fatalf("garbage raised an alert: %v", err)
	}
	client, err := gethrpc.Dial("http://" + d.RPCAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var f rpc.Finality
	err = client.Call(&f, "mega_getFinality", map[string]int{"x": 1})
	var rerr gethrpc.Error
	if !errors.As(err, &rerr) || rerr.ErrorCode() != -32602 {
		t.Fatalf("mega_getFinality({}): %v, want invalid params", err)
	}
}
