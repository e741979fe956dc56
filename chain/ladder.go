package chain

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// Stage is a block's or transaction's rung on the finality ladder
// (docs/finality.md).
type Stage string

const (
	StagePreconfirmed Stage = "preconfirmed" // in a mini-block, not yet in a sealed block
	StageSealed       Stage = "sealed"       // in a block the sequencer signed
	StageSafe         Stage = "safe"         // re-executed: by this full node, or by a configured prover
	StageProven       Stage = "proven"       // a quorum of configured provers attested it
	StageFinalized    Stage = "finalized"    // proven, and the challenge window passed without a valid fraud proof
	StageDisputed     Stage = "disputed"     // at or after a disputed block: never finalizes while the dispute stands (a fraud proof's, for good)
	// StageResumed is no block's stage but a change: a dispute caused by
	// an output on L1 was lifted when L1 deleted that output.
	StageResumed Stage = "resumed"
)

// BlockFinality is one block's progress on this node. Times are unix
// milliseconds when this node saw the block reach each stage, 0 until then.
type BlockFinality struct {
	Number     uint64
	Hash       common.Hash
	Sealed     uint64
	Safe       uint64
	Proven     uint64
	Finalized  uint64
	Verified   bool             // re-executed by this node (full nodes)
	Attesters  []common.Address // configured provers whose attestation this node checked
	OutputRoot common.Hash      // the attested output root
	// Preconfirmed are the mini-blocks that preconfirmed the block's txs, as
	// far as this node saw them (sequencers and replicas).
	Preconfirmed []Preconfirmation `rlp:"optional"`
	// Available is when this node saw the block's DA blob confirmed.
	Available uint64 `rlp:"optional"`
	// L1 is the output root on L1 that covers the block (LadderConfig.L1):
	// set when the block is proven, the one it finalized under after.
	L1 *L1Output `rlp:"optional"`
}

// L1Output is an output root the L1 oracle holds, which this node checked
// against its own block: it covers every block after the previous output's
// up to L2Block.
type L1Output struct {
	Index   uint64
	L2Block uint64
	Root    common.Hash
	L1Block uint64      // the L1 block holding the proposal
	L1Tx    common.Hash // the proposal's transaction
	L1Time  uint64      // the proposal's L1 time (seconds): its window starts here
	Window  uint64      // the oracle's FINALIZATION_PERIOD_SECONDS
}

// Preconfirmation is one mini-block's share of a block: Count txs from
// index First, preconfirmed at unix millisecond At (the sequencer's clock).
type Preconfirmation struct {
	First, Count, At uint64
}

// PreconfirmedAt returns when the tx at index i of the block was
// preconfirmed, 0 if this node did not see it.
func (b *BlockFinality) PreconfirmedAt(i uint64) uint64 {
	return preconfirmedAt(b.Preconfirmed, i)
}

func preconfirmedAt(marks []Preconfirmation, i uint64) uint64 {
	for _, m := range slices.Backward(marks) { // the newest mini-block wins
		if i >= m.First && i < m.First+m.Count {
			return m.At
		}
	}
	return 0
}

func (b *BlockFinality) clone() *BlockFinality {
	cp := *b
	cp.Attesters = slices.Clone(b.Attesters)
	cp.Preconfirmed = slices.Clone(b.Preconfirmed)
	if b.L1 != nil {
		o := *b.L1
		cp.L1 = &o
	}
	return &cp
}

// Dispute records the block a valid fraud proof convicts, or the block an
// output root on L1 disagrees with.
type Dispute struct {
	Number    uint64
	Hash      common.Hash
	StateRoot common.Hash // the state root the block really gives
	Reason    string
	At        uint64 // unix ms when this node checked the proof
	// Output is the output on L1 whose root is not this node's for the
	// block, nil for a fraud proof. Such a dispute is the proposer's fault,
	// not the block's: it is lifted once L1 deletes the output (L1Deleted).
	Output *L1Output `rlp:"optional"`
}

// outputCaused reports whether the dispute comes from an output on L1.
func (d *Dispute) outputCaused() bool { return d.Output != nil }

// BlockID names a block.
type BlockID struct {
	Number uint64
	Hash   common.Hash
}

// FinalityHeads are the newest block at each stage, on this node.
type FinalityHeads struct {
	Sealed, Safe, Proven, Finalized BlockID
	Dispute                         *Dispute `rlp:"nil"`
	// Available is the newest block whose data (and every earlier block's)
	// this node saw confirmed on the DA layer.
	Available uint64 `rlp:"optional"`
	// Later are the other disputes that stand, after Dispute in order (a
	// later block, or an output's dispute of the block a fraud proof
	// convicts): lifting an output's dispute leaves the next one halting.
	Later []Dispute `rlp:"optional"`
}

// FinalityChange is a block reaching a stage (or the chain being disputed).
type FinalityChange struct {
	Stage Stage
	Block BlockFinality
}

// LadderConfig sets who may attest and how long fraud proofs may arrive.
type LadderConfig struct {
	Provers []common.Address // keys whose attestations count
	Quorum  int              // attestations from distinct provers a block needs to be proven
	Window  time.Duration    // challenge window, counted from when a block is proven
	// SelfVerified: this node re-executes every block (a full node), so a
	// block is safe once it verified it; other nodes take a prover's
	// attestation as the re-execution.
	SelfVerified bool
	// RequireDA: a block is safe only once its DA blob is confirmed.
	RequireDA bool
	// L1 anchors the ladder on an L1 (DESIGN.md §15): a block is proven
	// only once an output root on L1 that this node checked covers it, and
	// finalized only once that output's L1 block is finalized on L1 and L1's
	// clock passed its time plus the oracle's window; Window is then unused.
	L1 bool
}

// Check validates the configuration.
func (c LadderConfig) Check() error {
	switch {
	case len(c.Provers) == 0:
		return errors.New("finality: at least one prover address is needed")
	case c.Quorum < 1 || c.Quorum > len(c.Provers):
		return fmt.Errorf("finality: quorum %d must be between 1 and the %d prover(s)", c.Quorum, len(c.Provers))
	case c.Window < 0:
		return fmt.Errorf("finality: negative challenge window %v", c.Window)
	}
	return nil
}

// Ladder moves blocks up the finality stages as this node learns about them:
// sealed blocks, its own re-execution, prover attestations, fraud proofs and
// the clock. It is a pure state machine: the caller feeds it, supplies the
// time and persists what changed. Heads only move forward over contiguous
// blocks, and never to or past a disputed block.
type Ladder struct {
	cfg    LadderConfig
	heads  FinalityHeads
	blocks map[uint64]*BlockFinality // above the finalized head
	// preconf holds the mini-blocks of blocks not sealed yet.
	preconf map[uint64][]Preconfirmation
	// L1 anchoring: the checked outputs (by L2 block), the newest finalized
	// L1 block and L1's newest time (seconds).
	outputs         []L1Output
	l1Final, l1Time uint64
	// disputes are every dispute that stands, in disputeOrder; the first
	// halts finality and is heads.Dispute, the rest heads.Later.
	disputes []Dispute
}

// Bounds on the mini-blocks a ladder holds for blocks it has not sealed:
// a sequencer seals about 100 a block.
const (
	preconfBlocks   = 8
	preconfPerBlock = 4096
)

// NewLadder resumes a ladder from its persisted heads and the records of the
// blocks above the finalized head.
func NewLadder(cfg LadderConfig, heads FinalityHeads, open []*BlockFinality) (*Ladder, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	l := &Ladder{cfg: cfg, heads: heads, blocks: make(map[uint64]*BlockFinality), preconf: make(map[uint64][]Preconfirmation)}
	if heads.Dispute != nil {
		l.disputes = append([]Dispute{*heads.Dispute}, heads.Later...)
		slices.SortStableFunc(l.disputes, disputeOrder)
	}
	l.syncDisputes()
	for _, b := range open {
		if b.Number > heads.Finalized.Number {
			cp := *b
			l.blocks[b.Number] = &cp
		}
	}
	return l, nil
}

// Heads returns the heads.
func (l *Ladder) Heads() FinalityHeads {
	h := l.heads
	if h.Dispute != nil {
		d := *h.Dispute
		h.Dispute = &d
	}
	h.Later = slices.Clone(h.Later)
	return h
}

// Block returns the record of a block above the finalized head, or nil.
func (l *Ladder) Block(n uint64) *BlockFinality {
	if b, ok := l.blocks[n]; ok {
		return b.clone()
	}
	return nil
}

// Preconfirmed records a mini-block of block n: count txs from index first,
// preconfirmed at at. It reports whether a sealed block's record changed
// (and needs persisting); marks of blocks not sealed yet wait for Sealed.
func (l *Ladder) Preconfirmed(n, first, count uint64, at time.Time) bool {
	if count == 0 || n <= l.heads.Finalized.Number {
		return false
	}
	m := Preconfirmation{First: first, Count: count, At: ms(at)}
	if b, ok := l.blocks[n]; ok {
		if len(b.Preconfirmed) >= preconfPerBlock {
			return false
		}
		b.Preconfirmed = append(b.Preconfirmed, m)
		return true
	}
	if _, ok := l.preconf[n]; !ok && len(l.preconf) >= preconfBlocks {
		// A node that seals nothing (its heads feed stalled) keeps only
		// the newest blocks' mini-blocks.
		oldest := n
		for k := range l.preconf {
			oldest = min(oldest, k)
		}
		if oldest == n {
			return false
		}
		delete(l.preconf, oldest)
	}
	if len(l.preconf[n]) < preconfPerBlock {
		l.preconf[n] = append(l.preconf[n], m)
	}
	return false
}

// PendingPreconfirmedAt returns when the tx at index i of block n, not
// sealed yet, was preconfirmed; 0 if this node did not see it.
func (l *Ladder) PendingPreconfirmedAt(n, i uint64) uint64 {
	return preconfirmedAt(l.preconf[n], i)
}

func ms(t time.Time) uint64 { return uint64(t.UnixMilli()) }

// Sealed records a block this node holds; a different block at a height
// already known replaces it (the sequencer restarted its open block).
func (l *Ladder) Sealed(n uint64, hash common.Hash, now time.Time) {
	if n <= l.heads.Finalized.Number {
		return
	}
	if b, ok := l.blocks[n]; ok && b.Hash == hash {
		return
	}
	l.blocks[n] = &BlockFinality{Number: n, Hash: hash, Sealed: ms(now), Preconfirmed: l.preconf[n]}
	if n <= l.heads.Available {
		l.blocks[n].Available = ms(now)
	}
	for k := range l.preconf {
		if k <= n {
			delete(l.preconf, k)
		}
	}
	if n > l.heads.Sealed.Number || l.heads.Sealed.Hash != hash && n == l.heads.Sealed.Number {
		l.heads.Sealed = BlockID{n, hash}
	}
}

// Rewind forgets every block after n (a dev chain went back to block n,
// hash): each head above it comes down to it, which had reached that
// stage already.
func (l *Ladder) Rewind(n uint64, hash common.Hash) {
	DropAbove(l.blocks, n)
	DropAbove(l.preconf, n)
	for _, id := range []*BlockID{&l.heads.Sealed, &l.heads.Safe, &l.heads.Proven, &l.heads.Finalized} {
		if id.Number > n {
			*id = BlockID{Number: n, Hash: hash}
		}
	}
	l.heads.Available = min(l.heads.Available, n)
	l.disputes = slices.DeleteFunc(l.disputes, func(d Dispute) bool { return d.Number > n })
	l.syncDisputes()
}

// Verified records this node's own re-execution of a block.
func (l *Ladder) Verified(n uint64, hash common.Hash, now time.Time) {
	l.Sealed(n, hash, now)
	if b, ok := l.blocks[n]; ok && b.Hash == hash {
		b.Verified = true
	}
}

// Available records that blocks up to last are confirmed on the DA layer
// (blobs are contiguous from block 1).
func (l *Ladder) Available(last uint64, now time.Time) {
	if last <= l.heads.Available {
		return
	}
	for n := l.heads.Available + 1; n <= last; n++ {
		if b, ok := l.blocks[n]; ok && b.Available == 0 {
			b.Available = ms(now)
		}
	}
	l.heads.Available = last
}

// Errors Attest refuses an attestation with.
var (
	ErrNotProver     = errors.New("not a configured prover")
	ErrUnknownBlock  = errors.New("attested block is not known here")
	ErrAttestedOther = errors.New("attestation names another block than this node's")
)

// Attest counts a prover's attestation, which the caller checked against
// this node's own block and state (hash, state root, output root).
func (l *Ladder) Attest(a Attestation, signer common.Address) error {
	if !slices.Contains(l.cfg.Provers, signer) {
		return fmt.Errorf("%w: %s", ErrNotProver, signer)
	}
	if a.Number <= l.heads.Finalized.Number {
		return nil // already final; nothing to add
	}
	b, ok := l.blocks[a.Number]
	switch {
	case !ok:
		return fmt.Errorf("%w: block %d", ErrUnknownBlock, a.Number)
	case b.Hash != a.BlockHash:
		return fmt.Errorf("%w: block %d is %s here, attested %s", ErrAttestedOther, a.Number, b.Hash, a.BlockHash)
	}
	if !slices.Contains(b.Attesters, signer) {
		b.Attesters = append(b.Attesters, signer)
	}
	b.OutputRoot = a.OutputRoot
	return nil
}

// Dispute halts finality at the disputed block: it and every later block
// stay below finalized while the dispute stands, which for a fraud proof is
// for good. Every dispute is kept (each once); the lowest block's halts,
// at one block a fraud proof's before an output's. Dispute reports whether
// d is now the halting one. An output's dispute of a block this node
// finalized already is history: L1 deleted that output before the one the
// block finalized under (the oracle deletes no finalized output).
func (l *Ladder) Dispute(d Dispute) bool {
	if d.outputCaused() && d.Number <= l.heads.Finalized.Number {
		return false
	}
	for _, x := range l.disputes {
		if x.Number == d.Number && x.outputCaused() == d.outputCaused() && (!d.outputCaused() || x.Output.Index == d.Output.Index) {
			return false
		}
	}
	if d.Output != nil {
		o := *d.Output
		d.Output = &o
	}
	i, _ := slices.BinarySearchFunc(l.disputes, d, disputeOrder)
	l.disputes = slices.Insert(l.disputes, i, d)
	l.syncDisputes()
	return i == 0
}

// disputeOrder sorts disputes by block, a fraud proof's first, then by
// output index.
func disputeOrder(a, b Dispute) int {
	if c := cmpUint(a.Number, b.Number); c != 0 {
		return c
	}
	switch {
	case !a.outputCaused() && !b.outputCaused():
		return 0
	case !a.outputCaused():
		return -1
	case !b.outputCaused():
		return 1
	}
	return cmpUint(a.Output.Index, b.Output.Index)
}

// syncDisputes sets the heads' disputes from l.disputes.
func (l *Ladder) syncDisputes() {
	l.heads.Dispute, l.heads.Later = nil, nil
	if len(l.disputes) > 0 {
		d := l.disputes[0]
		l.heads.Dispute = &d
		l.heads.Later = slices.Clone(l.disputes[1:])
	}
}

// halted reports whether block n is at or after the disputed block.
func (l *Ladder) halted(n uint64) bool {
	return l.heads.Dispute != nil && n >= l.heads.Dispute.Number
}

// L1Output records an output root on L1 that the caller checked against
// this node's block (one that disagrees is a dispute, not an output).
func (l *Ladder) L1Output(o L1Output) {
	i, found := slices.BinarySearchFunc(l.outputs, o.L2Block, func(x L1Output, n uint64) int { return cmpUint(x.L2Block, n) })
	if found {
		l.outputs[i] = o
		return
	}
	l.outputs = slices.Insert(l.outputs, i, o)
}

// L1Deleted forgets the outputs from index on: a challenger deleted them on
// L1. Blocks they made proven stay proven; they finalize only under a new
// output. The disputes those outputs caused are lifted and returned, in
// order; a fraud proof's stays. Once no dispute halts it, finality goes on
// at the next Advance, under the outputs posted again.
func (l *Ladder) L1Deleted(index uint64) []Dispute {
	l.outputs = slices.DeleteFunc(l.outputs, func(o L1Output) bool { return o.Index >= index })
	var lifted []Dispute
	l.disputes = slices.DeleteFunc(l.disputes, func(d Dispute) bool {
		if d.outputCaused() && d.Output.Index >= index {
			lifted = append(lifted, d)
			return true
		}
		return false
	})
	l.syncDisputes()
	return lifted
}

// L1Head records the L1's newest finalized block and its newest time.
func (l *Ladder) L1Head(finalized, time uint64) {
	l.l1Final, l.l1Time = max(l.l1Final, finalized), max(l.l1Time, time)
}

// covering is the output that covers block n: the oldest at or after it.
func (l *Ladder) covering(n uint64) *L1Output {
	i, _ := slices.BinarySearchFunc(l.outputs, n, func(x L1Output, n uint64) int { return cmpUint(x.L2Block, n) })
	if i == len(l.outputs) {
		return nil
	}
	o := l.outputs[i]
	return &o
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Advance moves the heads as far as the records and the clock allow and
// returns every stage reached, in order. Records at or below the new
// finalized head leave the ladder; the caller has them in the changes.
func (l *Ladder) Advance(now time.Time) []FinalityChange {
	var out []FinalityChange
	t := ms(now)
	reach := func(head *BlockID, stage Stage, ok func(*BlockFinality) bool, stamp func(*BlockFinality)) {
		for {
			n := head.Number + 1
			b, found := l.blocks[n]
			if !found || l.halted(n) || !ok(b) {
				return
			}
			stamp(b)
			*head = BlockID{n, b.Hash}
			out = append(out, FinalityChange{Stage: stage, Block: *b.clone()})
		}
	}
	reach(&l.heads.Safe, StageSafe, func(b *BlockFinality) bool {
		if l.cfg.RequireDA && b.Number > l.heads.Available {
			return false
		}
		if l.cfg.SelfVerified {
			return b.Verified
		}
		return len(b.Attesters) > 0
	}, func(b *BlockFinality) { b.Safe = t })
	reach(&l.heads.Proven, StageProven, func(b *BlockFinality) bool {
		return b.Number <= l.heads.Safe.Number && len(b.Attesters) >= l.cfg.Quorum && (!l.cfg.L1 || l.covering(b.Number) != nil)
	}, func(b *BlockFinality) {
		b.Proven = t
		if l.cfg.L1 {
			b.L1 = l.covering(b.Number)
		}
	})
	reach(&l.heads.Finalized, StageFinalized, func(b *BlockFinality) bool {
		if b.Number > l.heads.Proven.Number {
			return false
		}
		if !l.cfg.L1 {
			return t >= b.Proven+uint64(l.cfg.Window.Milliseconds())
		}
		o := l.covering(b.Number)
		return o != nil && o.L1Block <= l.l1Final && l.l1Time >= o.L1Time+o.Window
	}, func(b *BlockFinality) {
		b.Finalized = t
		if l.cfg.L1 {
			b.L1 = l.covering(b.Number)
		}
	})
	for len(l.outputs) > 1 && l.outputs[0].L2Block < l.heads.Finalized.Number {
		l.outputs = l.outputs[1:] // every block it covers is final
	}
	for n := range l.blocks {
		if n <= l.heads.Finalized.Number {
			delete(l.blocks, n)
		}
	}
	return out
}

// NextFinalization is when the next proven block's challenge window ends, or
// the zero time when no block is waiting for it.
func (l *Ladder) NextFinalization() time.Time {
	n := l.heads.Finalized.Number + 1
	b, ok := l.blocks[n]
	if !ok || b.Proven == 0 || l.halted(n) || l.cfg.L1 { // on L1's clock, not this one's
		return time.Time{}
	}
	return time.UnixMilli(int64(b.Proven + uint64(l.cfg.Window.Milliseconds())))
}

// Attested is the newest block up to which every block is safe with a
// quorum of attestations (or proven): what a proposer may post to L1,
// which anchored proving then waits for.
func (l *Ladder) Attested() uint64 {
	n := l.heads.Proven.Number
	for ; n < l.heads.Safe.Number; n++ {
		b, ok := l.blocks[n+1]
		if !ok || l.halted(n+1) || len(b.Attesters) < l.cfg.Quorum {
			break
		}
	}
	return n
}

// Unproven returns the lowest block this node holds that has fewer
// attestations than the quorum, if any: what to ask provers for again.
func (l *Ladder) Unproven() (uint64, bool) {
	for n := l.heads.Proven.Number + 1; n <= l.heads.Sealed.Number; n++ {
		if l.halted(n) {
			break
		}
		if b, ok := l.blocks[n]; ok && len(b.Attesters) < l.cfg.Quorum {
			return n, true
		}
	}
	return 0, false
}

// StageOf returns the stage of block n given the heads (n at most the sealed
// head; callers handle preconfirmed blocks).
func (h FinalityHeads) StageOf(n uint64) Stage {
	switch {
	case h.Dispute != nil && n >= h.Dispute.Number:
		return StageDisputed
	case n <= h.Finalized.Number:
		return StageFinalized
	case n <= h.Proven.Number:
		return StageProven
	case n <= h.Safe.Number:
		return StageSafe
	}
	return StageSealed
}
