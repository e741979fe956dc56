package node

import (
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

// A node keeps the attestations it counted across a restart and serves them
// to a peer that rejoins with an empty data directory, which then reaches
// finalized from them alone (the prover's own cache is gone in this case:
// every node restarted since the blocks were attested).
func TestAttestationsOutliveARestart(t *testing.T) {
	const blocks = 3
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
	// Empty blocks one second apart: every store seals the same ones.
	seal := func(s *storage.Store) {
		t.Helper()
		for i := 0; i < blocks; i++ {
			parent := s.CurrentHeader()
			header := chain.NextHeader(g.Config, parent, parent.Time+1, g.GasLimit, common.Address{})
			b, err := chain.NewBlockBuilder(g.Config, s, s.StateDatabase(), parent, header)
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
	}
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	prover := crypto.PubkeyToAddress(key.PublicKey)
	chainID := g.Config.ChainID.Uint64()
	cfg := FinalityConfig{Provers: []common.Address{prover}, Quorum: 1}
	var noHeads chain.Feed[*chain.Head]

	dir := t.TempDir()
	a := open(dir)
	seal(a)
	ta, err := newTracker(cfg, a, common.Address{}, false, log)
	if err != nil {
		t.Fatal(err)
	}
	changes := ta.FinalityChanges(64)
	ta.Start(noHeads.Subscribe, nil, nil)
	for n := uint64(1); n <= blocks; n++ {
		h := a.GetHeaderByNumber(n)
		passer, err := chain.MessagePasserRoot(a.StateDatabase(), h.Root)
		if err != nil {
			t.Fatal(err)
		}
		payload, err := rlp.EncodeToBytes(&chain.Attestation{Number: n, BlockHash: h.Hash(), StateRoot: h.Root, OutputRoot: chain.OutputRoot(h.Root, passer, h.Hash())})
		if err != nil {
			t.Fatal(err)
		}
		data, err := p2p.Seal(key, p2p.Attestations, chainID, payload)
		if err != nil {
			t.Fatal(err)
		}
		ta.inbox <- trackerEvent{kind: p2p.Attestations, payload: payload, data: data, signer: prover}
	}
	waitStage(t, "attested node", changes, chain.StageFinalized, blocks)
	ta.Stop()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	// Restarted: nothing in memory, the store answers.
	a = open(dir)
	tb, err := newTracker(cfg, a, common.Address{}, false, log)
	if err != nil {
		t.Fatal(err)
	}
	if msgs, err := tb.Provider(nil).Range(p2p.Attestations, 1, blocks); err != nil || len(msgs) != blocks {
		t.Fatalf("restarted node serves %d attestations (%v), want %d", len(msgs), err, blocks)
	}
	if msgs, _ := tb.Provider(nil).Range(p2p.Attestations, blocks+1, 1); len(msgs) != 0 {
		t.Fatalf("restarted node serves %d attestations of an unattested block", len(msgs))
	}

	// A node with an empty data directory: the same blocks, no finality.
	c := open("")
	seal(c)
	mem := newMemNet(chainID)
	mem.publisher(prover, tb.Provider(nil), p2p.Attestations)
	tc, err := newTracker(cfg, c, common.Address{}, false, log)
	if err != nil {
		t.Fatal(err)
	}
	// Each reading is seconds later, so it asks at its second tick.
	var now atomic.Int64
	now.Store(time.Now().Unix())
	tc.clock = func() time.Time { return time.Unix(now.Add(3), 0) }
	rejoined := tc.FinalityChanges(64)
	tc.Start(noHeads.Subscribe, nil, mem)
	defer tc.Stop()
	waitStage(t, "rejoined node", rejoined, chain.StageFinalized, blocks)
	// It keeps what it fetched, for the next node that asks.
	if msgs, _ := tc.Provider(nil).Range(p2p.Attestations, 1, blocks); len(msgs) != blocks {
		t.Fatalf("rejoined node serves %d attestations, want %d", len(msgs), blocks)
	}
}
