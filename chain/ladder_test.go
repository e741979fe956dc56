package chain

import (
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
)

var (
	proverA = common.HexToAddress("0xa")
	proverB = common.HexToAddress("0xb")
)

func blockHash(n uint64) common.Hash { return common.BigToHash(new(big.Int).SetUint64(n + 1000)) }

func att(n uint64) Attestation { return Attestation{Number: n, BlockHash: blockHash(n)} }

func stages(changes []FinalityChange) []string {
	var out []string
	for _, c := range changes {
		out = append(out, string(c.Stage)+" "+big.NewInt(int64(c.Block.Number)).String())
	}
	return out
}

func sameStages(t *testing.T, got []FinalityChange, want ...string) {
	t.Helper()
	g := stages(got)
	if len(g) != len(want) {
		t.Fatalf("changes %v, want %v", g, want)
	}
	for i := range g {
		if g[i] != want[i] {
			t.Fatalf("changes %v, want %v", g, want)
		}
	}
}

func TestLadderQuorumWindowAndOrder(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l, err := NewLadder(LadderConfig{Provers: []common.Address{proverA, proverB}, Quorum: 2, Window: 10 * time.Second}, FinalityHeads{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for n := uint64(1); n <= 3; n++ {
		l.Sealed(n, blockHash(n), now)
	}
	// Attestations arrive out of order; block 1 waits for its second one.
	for _, a := range []struct {
		n      uint64
		signer common.Address
	}{{2, proverA}, {2, proverB}, {1, proverA}, {3, proverB}} {
		if err := l.Attest(att(a.n), a.signer); err != nil {
			t.Fatal(err)
		}
	}
	sameStages(t, l.Advance(now), "safe 1", "safe 2", "safe 3")
	if h := l.Heads(); h.Proven.Number != 0 {
		t.Fatalf("proven head %d with block 1 attested once", h.Proven.Number)
	}
	if err := l.Attest(att(1), proverB); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	sameStages(t, l.Advance(now), "proven 1", "proven 2")
	if n, ok := l.Unproven(); !ok || n != 3 {
		t.Fatalf("unproven %d %v, want block 3", n, ok)
	}
	// The window counts from the proof.
	if got := l.NextFinalization(); !got.Equal(now.Add(10 * time.Second)) {
		t.Fatalf("next finalization %v, want %v", got, now.Add(10*time.Second))
	}
	sameStages(t, l.Advance(now.Add(9*time.Second)))
	sameStages(t, l.Advance(now.Add(10*time.Second)), "finalized 1", "finalized 2")
	if b := l.Block(1); b != nil {
		t.Fatal("a finalized block stayed in the ladder")
	}
	h := l.Heads()
	if h.Finalized != (BlockID{2, blockHash(2)}) || h.Sealed.Number != 3 || h.Safe.Number != 3 {
		t.Fatalf("heads %+v", h)
	}
	if h.StageOf(2) != StageFinalized || h.StageOf(3) != StageSafe {
		t.Fatalf("stages %s %s", h.StageOf(2), h.StageOf(3))
	}
}

func TestLadderRefusesAttestations(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l, err := NewLadder(LadderConfig{Provers: []common.Address{proverA}, Quorum: 1}, FinalityHeads{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Sealed(1, blockHash(1), now)
	if err := l.Attest(att(1), proverB); !errors.Is(err, ErrNotProver) {
		t.Fatalf("unknown signer: %v", err)
	}
	if err := l.Attest(att(2), proverA); !errors.Is(err, ErrUnknownBlock) {
		t.Fatalf("unknown block: %v", err)
	}
	other := att(1)
	other.BlockHash = blockHash(7)
	if err := l.Attest(other, proverA); !errors.Is(err, ErrAttestedOther) {
		t.Fatalf("other block: %v", err)
	}
	sameStages(t, l.Advance(now))
	if _, err := NewLadder(LadderConfig{Provers: []common.Address{proverA}, Quorum: 2}, FinalityHeads{}, nil); err == nil {
		t.Fatal("a quorum above the provers was accepted")
	}
}

func TestLadderFullNodeSafeIsItsOwn(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l, _ := NewLadder(LadderConfig{Provers: []common.Address{proverA}, Quorum: 1, SelfVerified: true}, FinalityHeads{}, nil)
	l.Sealed(1, blockHash(1), now)
	if err := l.Attest(att(1), proverA); err != nil {
		t.Fatal(err)
	}
	// Proven needs safe, and safe on a full node is its own re-execution.
	sameStages(t, l.Advance(now))
	l.Verified(1, blockHash(1), now)
	sameStages(t, l.Advance(now), "safe 1", "proven 1", "finalized 1")
}

func TestLadderDisputeHaltsFinality(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l, _ := NewLadder(LadderConfig{Provers: []common.Address{proverA}, Quorum: 1, Window: time.Second}, FinalityHeads{}, nil)
	for n := uint64(1); n <= 4; n++ {
		l.Sealed(n, blockHash(n), now)
	}
	for _, n := range []uint64{1, 2} {
		if err := l.Attest(att(n), proverA); err != nil {
			t.Fatal(err)
		}
	}
	sameStages(t, l.Advance(now), "safe 1", "safe 2", "proven 1", "proven 2")
	if !l.Dispute(Dispute{Number: 2, Hash: blockHash(2), Reason: "state root"}) {
		t.Fatal("dispute not taken")
	}
	if l.Dispute(Dispute{Number: 3, Hash: blockHash(3)}) {
		t.Fatal("a later dispute replaced the first")
	}
	// Even an attestation of a later block does not move anything past it.
	for _, n := range []uint64{3, 4} {
		if err := l.Attest(att(n), proverA); err != nil {
			t.Fatal(err)
		}
	}
	sameStages(t, l.Advance(now.Add(time.Hour)), "finalized 1")
	h := l.Heads()
	if h.Finalized.Number != 1 || h.Dispute == nil || h.Dispute.Number != 2 {
		t.Fatalf("heads %+v", h)
	}
	for n, want := range map[uint64]Stage{1: StageFinalized, 2: StageDisputed, 4: StageDisputed} {
		if got := h.StageOf(n); got != want {
			t.Errorf("stage of %d: %s, want %s", n, got, want)
		}
	}
	if _, ok := l.Unproven(); ok {
		t.Fatal("a disputed chain asks for attestations")
	}
	if !l.NextFinalization().IsZero() {
		t.Fatal("a disputed block waits for finalization")
	}
}

func TestLadderResumes(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	cfg := LadderConfig{Provers: []common.Address{proverA}, Quorum: 1, Window: time.Minute}
	l, _ := NewLadder(cfg, FinalityHeads{}, nil)
	l.Sealed(1, blockHash(1), now)
	_ = l.Attest(att(1), proverA)
	l.Advance(now)
	saved := []*BlockFinality{l.Block(1)}
	r, err := NewLadder(cfg, l.Heads(), saved)
	if err != nil {
		t.Fatal(err)
	}
	sameStages(t, r.Advance(now.Add(time.Minute)), "finalized 1")
}

func TestLadderPreconfirmationTimes(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l, _ := NewLadder(LadderConfig{Provers: []common.Address{proverA}, Quorum: 1, Window: time.Minute}, FinalityHeads{}, nil)
	// Block 1's first two mini-blocks come before it seals, the third after.
	if l.Preconfirmed(1, 0, 2, now) || l.Preconfirmed(1, 2, 0, now) || l.Preconfirmed(1, 2, 3, now.Add(10*time.Millisecond)) {
		t.Fatal("an unsealed block's record changed")
	}
	if got := l.PendingPreconfirmedAt(1, 4); got != ms(now.Add(10*time.Millisecond)) {
		t.Fatalf("pending tx 4 preconfirmed at %d", got)
	}
	l.Sealed(1, blockHash(1), now.Add(time.Second))
	if l.PendingPreconfirmedAt(1, 0) != 0 {
		t.Fatal("a sealed block's mini-blocks are still pending")
	}
	if !l.Preconfirmed(1, 5, 1, now.Add(20*time.Millisecond)) {
		t.Fatal("a sealed block's late mini-block did not change its record")
	}
	b := l.Block(1)
	for i, want := range map[uint64]time.Time{0: now, 1: now, 2: now.Add(10 * time.Millisecond), 4: now.Add(10 * time.Millisecond), 5: now.Add(20 * time.Millisecond)} {
		if got := b.PreconfirmedAt(i); got != ms(want) {
			t.Errorf("tx %d preconfirmed at %d, want %d", i, got, ms(want))
		}
	}
	if b.PreconfirmedAt(6) != 0 {
		t.Error("a tx no mini-block carried has a preconfirmation time")
	}
	// A node whose heads stall keeps the mini-blocks of the newest blocks only.
	for n := uint64(2); n < 2+2*preconfBlocks; n++ {
		l.Preconfirmed(n, 0, 1, now)
	}
	if len(l.preconf) != preconfBlocks || l.PendingPreconfirmedAt(2, 0) != 0 || l.PendingPreconfirmedAt(1+2*preconfBlocks, 0) == 0 {
		t.Fatalf("held mini-blocks of %d blocks", len(l.preconf))
	}
	// Records persisted before preconfirmation times existed still decode.
	type v0 struct {
		Number                          uint64
		Hash                            common.Hash
		Sealed, Safe, Proven, Finalized uint64
		Verified                        bool
		Attesters                       []common.Address
		OutputRoot                      common.Hash
	}
	old, err := rlp.EncodeToBytes(&v0{Number: 7, Hash: blockHash(7), Sealed: 1, Attesters: []common.Address{proverA}})
	if err != nil {
		t.Fatal(err)
	}
	var rec BlockFinality
	if err := rlp.DecodeBytes(old, &rec); err != nil || rec.Number != 7 || rec.Attesters[0] != proverA || rec.Preconfirmed != nil {
		t.Fatalf("old record decoded to %+v, %v", rec, err)
	}
}

func TestLadderSafeWaitsForDA(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, selfVerified := range []bool{false, true} {
		l, _ := NewLadder(LadderConfig{Provers: []common.Address{proverA}, Quorum: 1, Window: time.Second, SelfVerified: selfVerified, RequireDA: true}, FinalityHeads{}, nil)
		for n := uint64(1); n <= 3; n++ {
			l.Verified(n, blockHash(n), now)
			if err := l.Attest(att(n), proverA); err != nil {
				t.Fatal(err)
			}
		}
		sameStages(t, l.Advance(now))
		l.Available(2, now.Add(time.Millisecond))
		sameStages(t, l.Advance(now), "safe 1", "safe 2", "proven 1", "proven 2")
		if b := l.Block(2); b.Available != ms(now.Add(time.Millisecond)) || l.Block(3).Available != 0 || l.Heads().Available != 2 {
			t.Fatalf("availability: block 2 %d, block 3 %d, head %d", b.Available, l.Block(3).Available, l.Heads().Available)
		}
		// A block sealed after its blob was confirmed is available at once.
		l.Available(4, now)
		l.Sealed(4, blockHash(4), now)
		if l.Block(4).Available == 0 {
			t.Fatal("block 4 sealed after its blob was confirmed is not available")
		}
		sameStages(t, l.Advance(now), "safe 3", "proven 3")
	}
}

// TestLadderOnL1: anchored on L1, a block is proven only under an output
// root on L1, and finalized only once that output's L1 block is finalized
// and L1's clock passed the proposal's time plus the oracle's window; a
// deleted output finalizes nothing; the record keeps the L1 output.
func TestLadderOnL1(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l, err := NewLadder(LadderConfig{Provers: []common.Address{proverA}, Quorum: 1, L1: true}, FinalityHeads{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for n := uint64(1); n <= 4; n++ {
		l.Sealed(n, blockHash(n), now)
		if err := l.Attest(att(n), proverA); err != nil {
			t.Fatal(err)
		}
	}
	sameStages(t, l.Advance(now), "safe 1", "safe 2", "safe 3", "safe 4")
	if got := l.Attested(); got != 4 {
		t.Fatalf("attested through %d, want 4: what a proposer may post", got)
	}
	// An output at block 2 covers blocks 1 and 2.
	out2 := L1Output{Index: 0, L2Block: 2, Root: common.Hash{2}, L1Block: 50, L1Time: 1000, Window: 12}
	l.L1Output(out2)
	sameStages(t, l.Advance(now.Add(time.Hour)), "proven 1", "proven 2")
	if b := l.Block(1); b.L1 == nil || *b.L1 != out2 {
		t.Fatalf("block 1's L1 output %+v, want %+v", b.L1, out2)
	}
	// Our clock means nothing: L1's finalized block and time decide.
	l.L1Head(49, 1011)
	sameStages(t, l.Advance(now.Add(time.Hour)))
	l.L1Head(50, 1011)
	sameStages(t, l.Advance(now))
	l.L1Head(49, 1012) // both only ever move forward
	sameStages(t, l.Advance(now), "finalized 1", "finalized 2")
	// An output at block 4 that a challenger deletes proves 3 and 4, but
	// finalizes neither; its replacement does.
	l.L1Output(L1Output{Index: 1, L2Block: 4, Root: common.Hash{4}, L1Block: 60, L1Time: 1100, Window: 12})
	sameStages(t, l.Advance(now), "proven 3", "proven 4")
	l.L1Deleted(1)
	l.L1Head(100, 5000)
	sameStages(t, l.Advance(now))
	l.L1Output(L1Output{Index: 1, L2Block: 4, Root: common.Hash{4}, L1Block: 101, L1Time: 5001, Window: 12})
	l.L1Head(101, 5013)
	sameStages(t, l.Advance(now), "finalized 3", "finalized 4")
	if b := l.Heads(); b.Finalized.Number != 4 {
		t.Fatalf("finalized head %d, want 4", b.Finalized.Number)
	}
	// The record survives its encoding (a restart reads it back).
	enc, err := rlp.EncodeToBytes(&BlockFinality{Number: 3, L1: &out2})
	if err != nil {
		t.Fatal(err)
	}
	var dec BlockFinality
	if err := rlp.DecodeBytes(enc, &dec); err != nil || dec.L1 == nil || *dec.L1 != out2 {
		t.Fatalf("decoded %+v (%v)", dec.L1, err)
	}
}

// anchoredLadder is an L1-anchored ladder with blocks 1..n sealed, attested
// and safe.
func anchoredLadder(t *testing.T, n uint64, now time.Time) *Ladder {
	t.Helper()
	l, err := NewLadder(LadderConfig{Provers: []common.Address{proverA}, Quorum: 1, L1: true}, FinalityHeads{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= n; i++ {
		l.Sealed(i, blockHash(i), now)
		if err := l.Attest(att(i), proverA); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// outputDispute is the dispute an output at index of block n causes.
func outputDispute(n, index uint64) Dispute {
	return Dispute{Number: n, Hash: blockHash(n), Reason: "bad output", Output: &L1Output{Index: index, L2Block: n, Root: common.Hash{0xba, 0xd}}}
}

// TestLadderOutputDisputeLifted: a dispute an output on L1 caused halts
// finality until L1 deletes that output; then the blocks move on under the
// output posted again. Outputs the node checked while disputed and L1
// deleted with it prove nothing.
func TestLadderOutputDisputeLifted(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := anchoredLadder(t, 5, now)
	l.L1Output(L1Output{Index: 0, L2Block: 1, Root: common.Hash{1}, L1Block: 10, L1Time: 100, Window: 12})
	l.L1Output(L1Output{Index: 1, L2Block: 2, Root: common.Hash{2}, L1Block: 11, L1Time: 101, Window: 12})
	if !l.Dispute(outputDispute(3, 2)) {
		t.Fatal("the output's dispute does not halt finality")
	}
	l.L1Output(L1Output{Index: 3, L2Block: 4, Root: common.Hash{4}, L1Block: 13, L1Time: 103, Window: 12}) // after the bad one
	l.L1Head(20, 200)
	sameStages(t, l.Advance(now), "safe 1", "safe 2", "proven 1", "proven 2", "finalized 1", "finalized 2")
	if h := l.Heads(); h.Dispute == nil || h.Dispute.Number != 3 || h.StageOf(4) != StageDisputed || l.Attested() != 2 {
		t.Fatalf("disputed heads %+v, attested %d", h, l.Attested())
	}
	lifted := l.L1Deleted(2)
	if len(lifted) != 1 || lifted[0].Number != 3 || lifted[0].Output.Index != 2 {
		t.Fatalf("lifted %+v, want the dispute of block 3", lifted)
	}
	if h := l.Heads(); h.Dispute != nil || len(h.Later) != 0 || h.StageOf(3) == StageDisputed {
		t.Fatalf("heads after the deletion %+v", h)
	}
	// Safe goes on; proven waits for an output: the one of block 4 went
	// with the bad one.
	sameStages(t, l.Advance(now), "safe 3", "safe 4", "safe 5")
	if got := l.Attested(); got != 5 {
		t.Fatalf("attested through %d, want 5: the proposer posts again", got)
	}
	l.L1Output(L1Output{Index: 2, L2Block: 3, Root: common.Hash{3}, L1Block: 30, L1Time: 300, Window: 12})
	l.L1Output(L1Output{Index: 3, L2Block: 5, Root: common.Hash{5}, L1Block: 31, L1Time: 301, Window: 12})
	sameStages(t, l.Advance(now), "proven 3", "proven 4", "proven 5")
	l.L1Head(31, 313)
	sameStages(t, l.Advance(now), "finalized 3", "finalized 4", "finalized 5")
	// Heard again (a restarted watcher reads L1 from its start), the old
	// output of a finalized block is history.
	if l.Dispute(outputDispute(3, 2)) || l.Heads().Dispute != nil {
		t.Fatalf("an old output disputes finalized block 3: %+v", l.Heads().Dispute)
	}
}

// TestLadderDisputesByCause: a fraud proof's dispute is never lifted by a
// deletion; lifting an output's dispute leaves any other that stands.
func TestLadderDisputesByCause(t *testing.T) {
	fraud := func(n uint64) Dispute { return Dispute{Number: n, Hash: blockHash(n), Reason: "state root"} }
	for _, tc := range []struct {
		name     string
		disputes []Dispute
		deleted  uint64 // L1Deleted(deleted)
		lifted   int    // disputes lifted
		want     uint64 // the block the standing dispute halts at, 0 for none
		final    uint64 // finalized head after
	}{
		{"fraud proof stays", []Dispute{fraud(3)}, 0, 0, 3, 2},
		{"output lifted", []Dispute{outputDispute(3, 2)}, 2, 1, 0, 6},
		{"output before the deleted index stays", []Dispute{outputDispute(3, 2)}, 3, 0, 3, 2},
		{"older fraud proof, later output of a lower block", []Dispute{fraud(4), outputDispute(2, 1)}, 1, 1, 4, 3},
		{"output, then a fraud proof of a later block", []Dispute{outputDispute(2, 1), fraud(4)}, 1, 1, 4, 3},
		{"fraud proof and output of one block", []Dispute{outputDispute(3, 2), fraud(3)}, 0, 1, 3, 2},
		{"two outputs, the later deleted", []Dispute{outputDispute(4, 3), outputDispute(2, 1)}, 3, 1, 2, 1},
		{"two outputs, both deleted", []Dispute{outputDispute(4, 3), outputDispute(2, 1)}, 1, 2, 0, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1_700_000_000, 0)
			l := anchoredLadder(t, 6, now)
			for _, d := range tc.disputes {
				l.Dispute(d)
			}
			// Persisted and resumed, every dispute is still there.
			enc, err := rlp.EncodeToBytes(l.Heads())
			if err != nil {
				t.Fatal(err)
			}
			var heads FinalityHeads
			if err := rlp.DecodeBytes(enc, &heads); err != nil {
				t.Fatal(err)
			}
			if got := 1 + len(heads.Later); heads.Dispute == nil || got != len(tc.disputes) {
				t.Fatalf("persisted %d disputes (%+v), want %d", got, heads, len(tc.disputes))
			}
			var open []*BlockFinality
			for n := uint64(1); n <= 6; n++ {
				open = append(open, l.Block(n))
			}
			l, err = NewLadder(LadderConfig{Provers: []common.Address{proverA}, Quorum: 1, L1: true}, heads, open)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(l.L1Deleted(tc.deleted)); got != tc.lifted {
				t.Fatalf("lifted %d disputes, want %d", got, tc.lifted)
			}
			h := l.Heads()
			switch {
			case tc.want == 0 && h.Dispute != nil:
				t.Fatalf("dispute %+v stands, want none", h.Dispute)
			case tc.want != 0 && (h.Dispute == nil || h.Dispute.Number != tc.want):
				t.Fatalf("dispute %+v, want block %d", h.Dispute, tc.want)
			}
			for i := uint64(0); i < 6; i++ {
				l.L1Output(L1Output{Index: i, L2Block: i + 1, Root: common.Hash{byte(i)}, L1Block: 10 + i, L1Time: 100, Window: 12})
			}
			l.L1Head(20, 200)
			l.Advance(now)
			if got := l.Heads().Finalized.Number; got != tc.final {
				t.Fatalf("finalized head %d, want %d", got, tc.final)
			}
		})
	}
}

// TestDisputeEncoding: heads persisted before disputes named their cause
// decode as a fraud proof's dispute; an output's survives its encoding.
func TestDisputeEncoding(t *testing.T) {
	type v0dispute struct {
		Number          uint64
		Hash, StateRoot common.Hash
		Reason          string
		At              uint64
	}
	type v0heads struct {
		Sealed, Safe, Proven, Finalized BlockID
		Dispute                         *v0dispute `rlp:"nil"`
		Available                       uint64     `rlp:"optional"`
	}
	old, err := rlp.EncodeToBytes(&v0heads{Finalized: BlockID{2, blockHash(2)}, Dispute: &v0dispute{Number: 3, Reason: "state root"}, Available: 4})
	if err != nil {
		t.Fatal(err)
	}
	var h FinalityHeads
	if err := rlp.DecodeBytes(old, &h); err != nil || h.Dispute == nil || h.Dispute.Number != 3 || h.Dispute.Output != nil || h.Available != 4 || h.Later != nil {
		t.Fatalf("old heads decoded to %+v (%v)", h, err)
	}
	l, err := NewLadder(LadderConfig{Provers: []common.Address{proverA}, Quorum: 1, L1: true}, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.L1Deleted(0); l.Heads().Dispute == nil {
		t.Fatal("an old (fraud proof) dispute was lifted by a deletion")
	}
	d := outputDispute(5, 7)
	enc, err := rlp.EncodeToBytes(&d)
	if err != nil {
		t.Fatal(err)
	}
	var dec Dispute
	if err := rlp.DecodeBytes(enc, &dec); err != nil || dec.Output == nil || *dec.Output != *d.Output {
		t.Fatalf("decoded %+v (%v)", dec, err)
	}
}
