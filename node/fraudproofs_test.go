package node

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/p2p"
	"github.com/meganode/meganode/storage"
)

// A node keeps the fraud proof it believed: restarted on the same store it
// is disputed at once, before anything arrives, even when the heads' write
// that recorded the dispute was lost, and it serves the proof to a peer,
// which fetches it for the block it is stuck on and is disputed too.
func TestFraudProofsOutliveARestart(t *testing.T) {
	g, _, err := chain.Genesis(chain.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(zerolog.NewTestWriter(t))
	open := func(dir string) *storage.Store {
		t.Helper()
		s, err := storage.Open(storage.Config{Dir: dir, MinFreeMB: -1}, g, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	// Empty blocks one second apart, so every store seals the same ones;
	// faulty seals a wrong state root, as --dev.faulty-root-at does.
	seal := func(s *storage.Store, faulty bool) {
		t.Helper()
		parent := s.CurrentHeader()
		header := chain.NextHeader(g.Config, parent, parent.Time+1, g.GasLimit, common.Address{})
		b, err := chain.NewFaultyBlockBuilder(g.Config, s, s.StateDatabase(), parent, parent.Root, header, faulty)
		if err != nil {
			t.Fatal(err)
		}
		sb, err := b.Seal()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.WriteSealed(sb, 0); err != nil {
			t.Fatal(err)
		}
	}
	seqKey, _ := crypto.GenerateKey()
	proverKey, _ := crypto.GenerateKey()
	sequencer, prover := crypto.PubkeyToAddress(seqKey.PublicKey), crypto.PubkeyToAddress(proverKey.PublicKey)
	chainID := g.Config.ChainID.Uint64()
	cfg := FinalityConfig{Provers: []common.Address{prover}, Quorum: 1}
	var noHeads chain.Feed[*chain.Head]
	sealMsg := func(key any, kind p2p.Kind, v any) (payload, data []byte) {
		t.Helper()
		payload, err := rlp.EncodeToBytes(v)
		if err != nil {
			t.Fatal(err)
		}
		k := proverKey
		if key == "sequencer" {
			k = seqKey
		}
		if data, err = p2p.Seal(k, kind, chainID, payload); err != nil {
			t.Fatal(err)
		}
		return payload, data
	}

	// The peer holds block 1 and the bad block 2 (a sequencer's store); the
	// fraud proof is built from its block 2 as a prover builds one.
	c := open("")
	seal(c, false)
	seal(c, true)
	m, err := c.BlockMessage(2)
	if err != nil || m == nil {
		t.Fatalf("block message 2: %v", err)
	}
	witness := m.Bundle.Witness
	m.Bundle.Witness = nil
	_, signedBlock := sealMsg("sequencer", p2p.Blocks, m)
	fpPayload, fpData := sealMsg("prover", p2p.FraudProofs, &chain.FraudProof{SignedBlock: signedBlock, Witness: witness})
	h1 := c.GetHeaderByNumber(1)
	passer, err := chain.MessagePasserRoot(c.StateDatabase(), h1.Root)
	if err != nil {
		t.Fatal(err)
	}
	attPayload, attData := sealMsg("prover", p2p.Attestations, &chain.Attestation{Number: 1, BlockHash: h1.Hash(), StateRoot: h1.Root, OutputRoot: chain.OutputRoot(h1.Root, passer, h1.Hash())})

	// The node holds block 1 (a follower refuses block 2), proves it and
	// believes the fraud proof of block 2.
	dir := t.TempDir()
	a := open(dir)
	seal(a, false)
	ta, err := newTracker(cfg, a, sequencer, false, log)
	if err != nil {
		t.Fatal(err)
	}
	changes := ta.FinalityChanges(64)
	ta.Start(noHeads.Subscribe, nil, nil)
	ta.Deliver(p2p.Attestations, attPayload, attData, prover)
	ta.Deliver(p2p.FraudProofs, fpPayload, fpData, prover)
	// In the order they were delivered.
	waitStage(t, "node", changes, chain.StageFinalized, 1)
	waitStage(t, "node", changes, chain.StageDisputed, 2)
	ta.Stop()
	want := ta.FinalityHeads()
	if want.Dispute == nil || want.Dispute.Number != 2 || want.Finalized.Number != 1 {
		t.Fatalf("heads before the restart %+v, want block 1 finalized and block 2 disputed", want)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	restart := func(name string) *tracker {
		t.Helper()
		a = open(dir)
		tr, err := newTracker(cfg, a, sequencer, false, log)
		if err != nil {
			t.Fatal(err)
		}
		// Nothing started, nothing delivered: the store alone disputes it.
		if err := tr.Healthy(); err == nil || !strings.Contains(err.Error(), "block 2") {
			t.Fatalf("%s: health %v, want block 2 disputed", name, err)
		}
		h := tr.FinalityHeads()
		if h.Dispute == nil || h.Dispute.Number != 2 || h.Dispute.Hash != want.Dispute.Hash || h.Finalized != want.Finalized || h.StageOf(2) != chain.StageDisputed {
			t.Fatalf("%s: heads %+v, want %+v", name, h, want)
		}
		if msgs, err := tr.Provider(nil).Range(p2p.FraudProofs, 2, 1); err != nil || len(msgs) != 1 || string(msgs[0]) != string(fpData) {
			t.Fatalf("%s: serves %d fraud proofs of block 2 (%v), want the one it believed", name, len(msgs), err)
		}
		if msgs, _ := tr.Provider(nil).Range(p2p.FraudProofs, 1, 1); len(msgs) != 0 {
			t.Fatalf("%s: serves %d fraud proofs of block 1", name, len(msgs))
		}
		return tr
	}
	tb := restart("restarted node")
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	// A power cut lost the heads' unsynced write, not the proof's synced
	// one: the proof, checked again, disputes the block again and the
	// heads are written with it.
	a = open(dir)
	lost := want
	lost.Dispute = nil
	if err := a.WriteFinality(lost, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	tb = restart("node restarted without the dispute in its heads")
	if tb.disputes.Load() != 1 {
		t.Fatalf("the kept proof disputed %d blocks, want 1", tb.disputes.Load())
	}
	if h, err := a.FinalityHeads(); err != nil || h.Dispute == nil || h.Dispute.Number != 2 {
		t.Fatalf("persisted heads %+v (%v), want the dispute written again", h, err)
	}
	// The proof arriving again changes nothing (what the loop would do
	// with it, run here).
	if tb.fraud(trackerEvent{kind: p2p.FraudProofs, payload: fpPayload, data: fpData, signer: prover}) {
		t.Fatal("the proof disputed its block again")
	}
	if tb.disputes.Load() != 1 || tb.refused.Load() != 0 {
		t.Fatalf("after the proof came again: %d disputes, %d refused; want 1 and 0", tb.disputes.Load(), tb.refused.Load())
	}

	// The peer holding the bad block asks for what its lowest unproven
	// blocks miss: block 1's attestation, then block 2's fraud proof.
	mem := newMemNet(chainID)
	mem.publisher(prover, tb.Provider(nil), p2p.Attestations, p2p.FraudProofs)
	tc, err := newTracker(cfg, c, sequencer, false, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.Healthy(); err != nil {
		t.Fatalf("peer disputed before it asked: %v", err)
	}
	// Each reading is seconds later, so it asks at its second tick.
	var now atomic.Int64
	now.Store(time.Now().Unix())
	tc.clock = func() time.Time { return time.Unix(now.Add(3), 0) }
	peer := tc.FinalityChanges(64)
	tc.Start(noHeads.Subscribe, nil, mem)
	defer tc.Stop()
	waitStage(t, "peer", peer, chain.StageDisputed, 2)
	if err := tc.Healthy(); err == nil || !strings.Contains(err.Error(), "block 2") {
		t.Fatalf("peer health %v, want block 2 disputed", err)
	}
	if msgs, _ := tc.Provider(nil).Range(p2p.FraudProofs, 2, 1); len(msgs) != 1 {
		t.Fatalf("peer serves %d fraud proofs of block 2, want the one it fetched", len(msgs))
	}
}
