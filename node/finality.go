package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/p2p"
	"github.com/meganode/meganode/storage"
)

// FinalityConfig is who a node believes about finality.
type FinalityConfig struct {
	Provers []common.Address // prover keys whose attestations count
	Quorum  int              // distinct provers a block needs to be proven, default 1
	Window  time.Duration    // challenge window after a block is proven
	// RequireDA: a block is safe only once its DA blob is confirmed (set
	// for nodes that use a DA layer).
	RequireDA bool
	// L1: proven and finalized are anchored on the L1's output oracle
	// (set for nodes that watch one, chain.LadderConfig.L1).
	L1 bool
}

// fetcher asks peers for messages by number (a *p2p.Node).
type fetcher interface {
	FetchAny(ctx context.Context, kind p2p.Kind, from, count uint64) ([]p2p.Message, error)
}

// earlyLimit bounds the attestations kept for blocks this node does not
// hold yet.
const earlyLimit = 4096

type trackerEvent struct {
	head     *chain.Head
	kind     p2p.Kind
	payload  []byte
	data     []byte // the signed wire message, relayed to peers that ask
	signer   common.Address
	fetchEnd bool
	// available: blocks up to this one are confirmed on the DA layer.
	available uint64
	// What the L1 output watcher read.
	l1Output  *chain.L1Output
	l1Deleted *uint64
	l1Head    *chain.L1View
}

// tracker runs one node's finality ladder: it takes the node's sealed (or,
// on a full node, verified) heads, checks prover attestations against the
// node's own blocks and state, re-checks fraud proofs, lets the challenge
// window pass, persists every change and streams it to subscribers. It
// serves rpc.FinalityReader.
type tracker struct {
	log      zerolog.Logger
	store    *storage.Store
	config   *params.ChainConfig
	chainID  uint64
	sequence common.Address // who signs the blocks a fraud proof carries
	verifies bool           // a full node: its heads are its own re-executions
	clock    func() time.Time
	net      fetcher
	inbox    chan trackerEvent

	mu     sync.RWMutex
	ladder *chain.Ladder
	l1     *chain.L1View // what the L1 watcher last read, nil without one
	feed   chain.Feed[*chain.FinalityChange]

	// Loop-owned.
	outputs  []chain.L1Output // L1 outputs of blocks this node does not hold yet
	early    map[uint64][]trackerEvent
	proofs   map[common.Hash]bool // fraud-proven block hashes already checked
	fetching bool
	askedAt  time.Time
	// An output's dispute found while the watcher's read of L1 is under
	// way (its logs came, its L1Head has not) waits for the read to end: a
	// deletion in the same read, as when a restarted watcher reads the
	// oracle's history again, lifts it before anyone sees it.
	reading   bool
	contested []chain.Dispute
	// dirty: the ladder's disputes changed with no change to stream.
	dirty bool

	// The attestations this node counted and the fraud proofs it believed
	// are kept in the store, which outlives a restart of this node: a peer
	// rejoining with an empty data directory, after every node it knows
	// restarted, still finds them, and this node is disputed again at once.

	attestations, refused, disputes atomic.Uint64
	alert                           atomic.Pointer[error]

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newTracker(cfg FinalityConfig, store *storage.Store, sequencer common.Address, verifies bool, log zerolog.Logger) (*tracker, error) {
	if cfg.Quorum == 0 {
		cfg.Quorum = 1
	}
	heads, err := store.FinalityHeads()
	if err != nil {
		return nil, err
	}
	open, err := store.OpenFinality(heads.Finalized.Number)
	if err != nil {
		return nil, err
	}
	ladder, err := chain.NewLadder(chain.LadderConfig{Provers: cfg.Provers, Quorum: cfg.Quorum, Window: cfg.Window, SelfVerified: verifies, RequireDA: cfg.RequireDA, L1: cfg.L1}, heads, open)
	if err != nil {
		return nil, err
	}
	t := &tracker{
		log: log.With().Str("component", "finality").Logger(), store: store, config: store.ChainConfig(),
		chainID: store.ChainConfig().ChainID.Uint64(), sequence: sequencer, verifies: verifies, clock: time.Now,
		inbox: make(chan trackerEvent, 1024), ladder: ladder,
		early: make(map[uint64][]trackerEvent), proofs: make(map[common.Hash]bool),
	}
	if d := heads.Dispute; d != nil {
		t.raise(d)
	}
	if err := t.reload(); err != nil {
		return nil, err
	}
	return t, nil
}

// reload checks again the fraud proofs this node believed before it
// restarted. The heads kept the dispute already, unless a power cut lost
// their unsynced write after the proof's synced one: the proof then
// disputes its block again here, before the node serves anything, as it did
// before the restart. A proof no longer valid (a fixed verifier) is logged
// and left out.
func (t *tracker) reload() error {
	blocks, err := t.store.FraudProofBlocks()
	if err != nil {
		return err
	}
	for _, n := range blocks {
		msgs, err := t.store.FraudProofs(n)
		if err != nil {
			return err
		}
		for _, data := range msgs {
			// A proof convinces on its own (the sequencer's signature and
			// re-execution), so its prover need not be configured still.
			payload, signer, err := p2p.Open(data, p2p.FraudProofs, t.chainID)
			if err != nil {
				t.log.Warn().Err(err).Uint64("block", n).Msg("kept fraud proof no longer opens")
				continue
			}
			if t.fraud(trackerEvent{kind: p2p.FraudProofs, payload: payload, signer: signer}) {
				t.log.Warn().Uint64("block", n).Stringer("prover", signer).Msg("fraud proof kept from before the restart checked again: finality stays halted")
			}
		}
	}
	return nil
}

// Provider serves the attestations and fraud proofs this node checked to
// peers' range requests from its store, and other kinds from fallback.
func (t *tracker) Provider(fallback p2p.Provider) p2p.Provider {
	return relayProvider{store: t.store, fallback: fallback}
}

type relayProvider struct {
	store    *storage.Store
	fallback p2p.Provider
}

func (p relayProvider) Range(kind p2p.Kind, from, count uint64) ([][]byte, error) {
	switch kind {
	case p2p.Attestations:
		return kept(p.store.Attestations, from, count)
	case p2p.FraudProofs:
		return kept(p.store.FraudProofs, from, count)
	}
	if p.fallback == nil {
		return nil, nil
	}
	return p.fallback.Range(kind, from, count)
}

// kept answers with every kept message of blocks from on, up to count
// messages (a block may have one per prover), stopping at the first block
// with none: the asker then tries another peer for it.
func kept(load func(uint64) ([][]byte, error), from, count uint64) ([][]byte, error) {
	var out [][]byte
	for n := from; n < from+count && uint64(len(out)) < count; n++ {
		msgs, err := load(n)
		if err != nil {
			return out, err
		}
		if len(msgs) == 0 {
			break
		}
		out = append(out, msgs...)
	}
	return out[:min(uint64(len(out)), count)], nil
}

// Healthy is nil while no dispute halts finality: a valid fraud proof
// convicted a block, or an output on L1 disagrees with one (until L1
// deletes it).
func (t *tracker) Healthy() error {
	if err := t.alert.Load(); err != nil {
		return *err
	}
	return nil
}

// raise sets the alert to the dispute that halts finality, nil for none.
func (t *tracker) raise(d *chain.Dispute) {
	var err error
	switch {
	case d == nil:
		t.alert.Store(nil)
		return
	case d.Output != nil:
		err = fmt.Errorf("finality halted: block %d (%s) disputed by output %d on L1: %s", d.Number, d.Hash, d.Output.Index, d.Reason)
	default:
		err = fmt.Errorf("%w: block %d (%s) disputed by a valid fraud proof: %s", chain.ErrBadBlock, d.Number, d.Hash, d.Reason)
	}
	t.alert.Store(&err)
}

// FinalityHeads returns the node's heads.
func (t *tracker) FinalityHeads() chain.FinalityHeads {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.ladder.Heads()
}

// BlockFinality returns what the node knows of block n's finality, or nil
// for a block it does not hold.
func (t *tracker) BlockFinality(n uint64) (*chain.BlockFinality, error) {
	t.mu.RLock()
	b := t.ladder.Block(n)
	t.mu.RUnlock()
	if b != nil {
		return b, nil
	}
	return t.store.BlockFinality(n)
}

// FinalityChanges streams every stage a block reaches, and disputes.
func (t *tracker) FinalityChanges(buffer int) *chain.Subscription[*chain.FinalityChange] {
	return t.feed.Subscribe(buffer)
}

// Available tells the tracker that blocks up to last are confirmed on the DA
// layer.
func (t *tracker) Available(last uint64) {
	t.inbox <- trackerEvent{available: last}
}

// Attested is the newest block through which every block is safe with a
// quorum of attestations: a proposer's limit.
func (t *tracker) Attested() uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.ladder.Attested()
}

// L1Output, L1Deleted and L1Head take what an l1.OutputWatcher read.
func (t *tracker) L1Output(o chain.L1Output) { t.inbox <- trackerEvent{l1Output: &o} }
func (t *tracker) L1Deleted(index uint64)    { t.inbox <- trackerEvent{l1Deleted: &index} }
func (t *tracker) L1Head(v chain.L1View)     { t.inbox <- trackerEvent{l1Head: &v} }

// L1View is what the node last read of the L1 its ladder is anchored on;
// false when it is not anchored or has not read it yet.
func (t *tracker) L1View() (chain.L1View, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.l1 == nil {
		return chain.L1View{}, false
	}
	return *t.l1, true
}

// Deliver hands the tracker a validated attestation or fraud proof: its
// payload, and the signed wire message it came in (kept for peers and
// restarts; nil keeps nothing).
func (t *tracker) Deliver(kind p2p.Kind, payload, data []byte, signer common.Address) {
	t.inbox <- trackerEvent{kind: kind, payload: payload, data: data, signer: signer}
}

// Follow pumps a subscription of attestations or fraud proofs into the
// tracker until ctx ends.
func (t *tracker) Follow(ctx context.Context, sub *p2p.Subscription) {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		sub.Pump(ctx, func(m p2p.Message) bool {
			select {
			case t.inbox <- trackerEvent{kind: m.Kind, payload: m.Payload, data: m.Data, signer: m.Signer}:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
}

// headFeed subscribes to the blocks a role adds to its store.
type headFeed func(buffer int) *chain.Subscription[*chain.Head]

// miniFeed subscribes to the mini-blocks a role preconfirms or applies.
type miniFeed func(buffer int) *chain.Subscription[*chain.MiniBlock]

// Start catches the ladder up with the store and follows the role's heads
// and, when minis is not nil, its mini-blocks (for preconfirmation times).
// net, when not nil, is asked for attestations the node missed.
func (t *tracker) Start(heads headFeed, minis miniFeed, net fetcher) {
	t.net = net
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	sub := heads(256)
	var miniSub *chain.Subscription[*chain.MiniBlock] // nil on a full node
	if minis != nil {
		// Before Start returns, so no mini-block sealed after it is missed.
		miniSub = minis(1024)
	}
	t.catchUp()
	t.wg.Add(1)
	go t.loop(ctx, heads, sub, minis, miniSub)
}

// PreconfirmedAt returns when this node saw the tx at index i of block n
// preconfirmed (unix ms), 0 if it did not.
func (t *tracker) PreconfirmedAt(n, i uint64) uint64 {
	t.mu.RLock()
	b := t.ladder.Block(n)
	at := t.ladder.PendingPreconfirmedAt(n, i)
	t.mu.RUnlock()
	if b == nil {
		b, _ = t.store.BlockFinality(n)
	}
	if b != nil {
		at = b.PreconfirmedAt(i)
	}
	return at
}

// preconfirmed records a mini-block's txs and reports the block to persist
// if its record is already sealed.
func (t *tracker) preconfirmed(mb *chain.MiniBlock) []uint64 {
	if len(mb.Receipts) == 0 {
		return nil
	}
	t.mu.Lock()
	changed := t.ladder.Preconfirmed(mb.BlockNumber, uint64(mb.Receipts[0].TransactionIndex), uint64(len(mb.Receipts)), time.UnixMicro(int64(mb.TimestampMicros)))
	t.mu.Unlock()
	if changed {
		return []uint64{mb.BlockNumber}
	}
	return nil
}

// catchUp records the blocks the store holds above the ladder's sealed head.
func (t *tracker) catchUp() {
	t.mu.Lock()
	from := t.ladder.Heads().Sealed.Number + 1
	head := t.store.CurrentHeader().Number.Uint64()
	now := t.clock()
	var touched []uint64
	for n := from; n <= head; n++ {
		if h := t.store.GetHeaderByNumber(n); h != nil {
			t.seal(n, h.Hash(), now)
			touched = append(touched, n)
		}
	}
	t.mu.Unlock()
	t.commit(touched, nil)
}

// Stop ends the loop.
func (t *tracker) Stop() {
	if t.cancel != nil {
		t.cancel()
		t.wg.Wait()
	}
}

func (t *tracker) seal(n uint64, hash common.Hash, now time.Time) {
	if t.verifies {
		t.ladder.Verified(n, hash, now)
	} else {
		t.ladder.Sealed(n, hash, now)
	}
}

// attestationWait is how long the lowest unproven block waits before the
// node asks peers for its attestations (missed gossip, a restart).
const attestationWait = 2 * time.Second

func (t *tracker) loop(ctx context.Context, subscribe headFeed, heads *chain.Subscription[*chain.Head], subscribeMinis miniFeed, minis *chain.Subscription[*chain.MiniBlock]) {
	defer t.wg.Done()
	defer func() { heads.Unsubscribe() }()
	if minis != nil {
		defer func() { minis.Unsubscribe() }()
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		var touched []uint64
		select {
		case <-ctx.Done():
			return
		case h := <-heads.C():
			n := h.Header.Number.Uint64()
			t.mu.Lock()
			if h.Rewound {
				t.ladder.Rewind(n, h.Header.Hash())
				chain.DropAbove(t.early, n)
			} else {
				t.seal(n, h.Header.Hash(), t.clock())
			}
			t.mu.Unlock()
			touched = append(touched, n)
			touched = append(touched, t.replayEarly(n)...)
			if len(t.outputs) > 0 {
				t.checkOutputs()
			}
		case err := <-heads.Err():
			// The store has every head the feed dropped.
			t.log.Warn().Err(err).Msg("head feed dropped; catching up from the store")
			heads.Unsubscribe()
			heads = subscribe(256)
			t.catchUp()
		case mb := <-minis.C():
			touched = t.preconfirmed(mb)
		case err := <-minis.Err():
			// Only preconfirmation times are lost; the blocks still come.
			t.log.Warn().Err(err).Msg("mini-block feed dropped; some preconfirmation times are unknown")
			minis.Unsubscribe()
			minis = subscribeMinis(1024)
		case ev := <-t.inbox:
			if ev.fetchEnd {
				t.fetching = false
				break
			}
			touched = t.handle(ev)
		case <-tick.C:
			t.askAgain(ctx)
		}
		t.commit(touched, nil)
	}
}

// commit advances the ladder, persists what changed and streams it.
func (t *tracker) commit(touched []uint64, extra []*chain.FinalityChange) {
	t.mu.Lock()
	changes := t.ladder.Advance(t.clock())
	heads := t.ladder.Heads()
	records := make(map[uint64]*chain.BlockFinality)
	for _, n := range touched {
		if b := t.ladder.Block(n); b != nil {
			records[n] = b
		}
	}
	for i := range changes {
		b := changes[i].Block
		records[b.Number] = &b
	}
	t.mu.Unlock()
	if len(records) == 0 && len(changes) == 0 && len(extra) == 0 && !t.dirty {
		return
	}
	t.dirty = false
	list := make([]*chain.BlockFinality, 0, len(records))
	for _, b := range records {
		list = append(list, b)
	}
	if err := t.store.WriteFinality(heads, list); err != nil {
		t.log.Error().Err(err).Msg("persist finality")
	}
	for i := range changes {
		t.feed.Send(&changes[i])
		if changes[i].Stage == chain.StageFinalized {
			t.log.Debug().Uint64("block", changes[i].Block.Number).Msg("finalized")
		}
	}
	for _, c := range extra {
		t.feed.Send(c)
	}
}

func (t *tracker) handle(ev trackerEvent) []uint64 {
	switch {
	case ev.l1Output != nil:
		t.reading = true
		t.outputs = append(t.outputs, *ev.l1Output)
		t.checkOutputs()
		return nil
	case ev.l1Deleted != nil:
		t.reading = true
		t.l1Deleted(*ev.l1Deleted)
		return nil
	case ev.l1Head != nil:
		t.mu.Lock()
		t.ladder.L1Head(ev.l1Head.Finalized.Number, ev.l1Head.Head.Time)
		t.l1 = ev.l1Head
		t.mu.Unlock()
		t.reading = false
		t.settle()
		return nil
	}
	if ev.available > 0 {
		t.mu.Lock()
		from, sealed := t.ladder.Heads().Available+1, t.ladder.Heads().Sealed.Number
		t.ladder.Available(ev.available, t.clock())
		t.mu.Unlock()
		var touched []uint64
		for n := from; n <= min(ev.available, sealed); n++ {
			touched = append(touched, n)
		}
		return touched
	}
	switch ev.kind {
	case p2p.Attestations:
		a := new(chain.Attestation)
		if err := rlp.DecodeBytes(ev.payload, a); err != nil {
			t.refused.Add(1)
			t.log.Warn().Err(err).Stringer("prover", ev.signer).Msg("malformed attestation")
			return nil
		}
		return t.attest(a, ev)
	case p2p.FraudProofs:
		t.fraud(ev)
	}
	return nil
}

// checkOutputs checks the L1 outputs of blocks this node now holds against
// its own output roots: a match anchors the ladder, a mismatch is a
// dispute (the proposer claims a state this node's block does not have),
// and finality halts there. Outputs of blocks not held yet wait.
func (t *tracker) checkOutputs() {
	kept := t.outputs[:0]
	for _, o := range t.outputs {
		h := t.store.GetHeaderByNumber(o.L2Block)
		if h == nil {
			kept = append(kept, o)
			continue
		}
		passer, err := chain.MessagePasserRoot(t.store.StateDatabase(), h.Root)
		if err != nil {
			t.log.Warn().Err(err).Uint64("block", o.L2Block).Msg("no state to check an L1 output against")
			kept = append(kept, o)
			continue
		}
		mine := chain.OutputRoot(h.Root, passer, h.Hash())
		if mine == o.Root {
			t.mu.Lock()
			t.ladder.L1Output(o)
			t.mu.Unlock()
			continue
		}
		t.contested = append(t.contested, chain.Dispute{Number: o.L2Block, Hash: h.Hash(), StateRoot: h.Root, At: uint64(t.clock().UnixMilli()), Output: &o,
			Reason: fmt.Sprintf("output root %s on L1 (index %d, L1 block %d, tx %s) is not this node's %s", o.Root, o.Index, o.L1Block, o.L1Tx, mine)})
	}
	t.outputs = kept
	t.settle()
}

// settle disputes the blocks of the contested outputs once the watcher's
// read of L1 has ended.
func (t *tracker) settle() {
	if t.reading {
		return
	}
	for i := range t.contested {
		d := &t.contested[i]
		t.mu.Lock()
		first := t.ladder.Dispute(*d)
		t.mu.Unlock()
		if !first {
			t.dirty = true // kept behind the halting dispute
			continue
		}
		t.disputes.Add(1)
		t.raise(d)
		t.log.Error().Uint64("block", d.Number).Uint64("output_index", d.Output.Index).Str("reason", d.Reason).
			Msg("an output root on L1 disagrees with this node: finality halted at its block until L1 deletes the output")
		t.commit(nil, []*chain.FinalityChange{{Stage: chain.StageDisputed, Block: chain.BlockFinality{Number: d.Number, Hash: d.Hash}}})
	}
	t.contested = nil
}

// l1Deleted forgets the outputs from index on, which a challenger deleted
// on L1, and lifts the disputes they caused: the proposer's fault, not the
// blocks'. Finality goes on under the outputs posted again, unless another
// dispute (a fraud proof's, an output's still on L1) halts it.
func (t *tracker) l1Deleted(index uint64) {
	t.outputs = slices.DeleteFunc(t.outputs, func(o chain.L1Output) bool { return o.Index >= index })
	t.contested = slices.DeleteFunc(t.contested, func(d chain.Dispute) bool { return d.Output.Index >= index })
	t.mu.Lock()
	lifted := t.ladder.L1Deleted(index)
	halt := t.ladder.Heads().Dispute
	t.mu.Unlock()
	if len(lifted) == 0 {
		return
	}
	t.raise(halt)
	var changes []*chain.FinalityChange
	for _, d := range lifted {
		ev := t.log.Warn().Uint64("output_index", d.Output.Index).Uint64("block", d.Number).Stringer("hash", d.Hash)
		if halt != nil {
			ev.Uint64("halted_at", halt.Number).Msg("output deleted on L1: the dispute of its block is lifted; another dispute still halts finality")
		} else {
			ev.Msg("output deleted on L1: the dispute of its block is lifted, finality resumes")
		}
		changes = append(changes, &chain.FinalityChange{Stage: chain.StageResumed, Block: chain.BlockFinality{Number: d.Number, Hash: d.Hash}})
	}
	t.commit(nil, changes)
}

// attest checks an attestation against this node's block and state and
// counts it; one for a block the node does not hold yet waits for it.
func (t *tracker) attest(a *chain.Attestation, ev trackerEvent) []uint64 {
	h := t.store.GetHeaderByNumber(a.Number)
	if h == nil {
		if len(t.early) < earlyLimit {
			t.early[a.Number] = append(t.early[a.Number], ev)
		}
		return nil
	}
	err := t.checkAttestation(h.Root, h.Hash(), a)
	if err == nil {
		t.mu.Lock()
		// The store may hold the block before its head event reaches the
		// loop: record it now (recording it again later changes nothing).
		t.seal(a.Number, h.Hash(), t.clock())
		err = t.ladder.Attest(*a, ev.signer)
		t.mu.Unlock()
	}
	if err != nil {
		t.refused.Add(1)
		t.log.Warn().Err(err).Uint64("block", a.Number).Stringer("prover", ev.signer).Msg("attestation refused")
		return nil
	}
	t.attestations.Add(1)
	if ev.data != nil {
		if err := t.store.AddAttestation(a.Number, ev.data); err != nil {
			t.log.Warn().Err(err).Uint64("block", a.Number).Msg("attestation not kept for peers")
		}
	}
	return []uint64{a.Number}
}

func (t *tracker) checkAttestation(root, hash common.Hash, a *chain.Attestation) error {
	if a.BlockHash != hash {
		return fmt.Errorf("%w: block %d is %s here, attested %s", chain.ErrAttestedOther, a.Number, hash, a.BlockHash)
	}
	if a.StateRoot != root {
		return fmt.Errorf("attested state root %s, header says %s", a.StateRoot, root)
	}
	passer, err := chain.MessagePasserRoot(t.store.StateDatabase(), root)
	if err != nil {
		return fmt.Errorf("no state of block %d to check the output root against: %w", a.Number, err)
	}
	if want := chain.OutputRoot(root, passer, hash); want != a.OutputRoot {
		return fmt.Errorf("attested output root %s, this node computes %s", a.OutputRoot, want)
	}
	return nil
}

func (t *tracker) replayEarly(head uint64) []uint64 {
	var touched []uint64
	for n, evs := range t.early {
		if n > head {
			continue
		}
		delete(t.early, n)
		for _, ev := range evs {
			touched = append(touched, t.handle(ev)...)
		}
	}
	return touched
}

// fraud re-checks a fraud proof: the block must carry the sequencer's
// signature and re-execute, over the proof's witness, to another result.
// A valid one is kept in the store and halts finality at that block for
// good. It reports whether this proof disputed a block first (its block,
// or one before it, was not disputed yet).
func (t *tracker) fraud(ev trackerEvent) bool {
	fp := new(chain.FraudProof)
	err := rlp.DecodeBytes(ev.payload, fp)
	var m chain.BlockMessage
	if err == nil {
		var payload []byte
		if payload, err = p2p.OpenFrom(fp.SignedBlock, p2p.Blocks, t.chainID, t.sequence); err == nil {
			err = rlp.DecodeBytes(payload, &m)
		}
	}
	if err == nil && (m.Bundle == nil || m.Bundle.Block == nil) {
		err = errors.New("no block in the signed message")
	}
	if err != nil {
		t.refused.Add(1)
		t.log.Warn().Err(err).Stringer("prover", ev.signer).Msg("fraud proof refused")
		return false
	}
	block := m.Bundle.Block
	if t.proofs[block.Hash()] {
		return false
	}
	v, err := chain.CheckFraudProof(t.config, block, fp.Witness, m.Bundle.Deposits)
	if err != nil {
		t.refused.Add(1)
		t.log.Warn().Err(err).Stringer("prover", ev.signer).Msg("fraud proof refused")
		return false
	}
	t.proofs[block.Hash()] = true
	if ev.data != nil {
		// Before the dispute is persisted: a restart finds the proof even
		// when the heads' write is lost.
		if err := t.store.AddFraudProof(v.Number, ev.data); err != nil {
			t.log.Error().Err(err).Uint64("block", v.Number).Msg("fraud proof not kept: a restart forgets it unless a prover sends it again")
		}
	}
	d := &chain.Dispute{Number: v.Number, Hash: v.BlockHash, StateRoot: v.StateRoot, Reason: v.Reason, At: uint64(t.clock().UnixMilli())}
	t.mu.Lock()
	first := t.ladder.Dispute(*d)
	t.mu.Unlock()
	if !first {
		// Kept behind the halting dispute (an output's, which a deletion
		// may lift; then this one halts).
		t.dirty = true
		return false
	}
	t.disputes.Add(1)
	t.raise(d)
	t.log.Error().Uint64("block", d.Number).Stringer("hash", d.Hash).Stringer("state_root", d.StateRoot).Str("reason", d.Reason).
		Stringer("prover", ev.signer).Msg("valid fraud proof: finality halted before this block")
	t.commit(nil, []*chain.FinalityChange{{Stage: chain.StageDisputed, Block: chain.BlockFinality{Number: d.Number, Hash: d.Hash}}})
	return true
}

// askAgain fetches attestations, and a fraud proof, of the lowest unproven
// block once it has waited attestationWait: gossip lost on the way or sent
// while this node was down.
func (t *tracker) askAgain(ctx context.Context) {
	t.mu.RLock()
	n, ok := t.ladder.Unproven()
	sealed := t.ladder.Heads().Sealed.Number
	t.mu.RUnlock()
	now := t.clock()
	if !ok || t.net == nil || t.fetching {
		t.askedAt = time.Time{}
		return
	}
	if t.askedAt.IsZero() {
		t.askedAt = now
		return
	}
	if now.Sub(t.askedAt) < attestationWait {
		return
	}
	t.askedAt, t.fetching = now, true
	count := min(sealed-n+1, p2p.MaxRange)
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		msgs, _ := t.net.FetchAny(ctx, p2p.Attestations, n, count)
		// The block may wait for no attestation ever: a fraud proof this
		// node missed convicts it.
		proofs, _ := t.net.FetchAny(ctx, p2p.FraudProofs, n, 1)
		for _, m := range append(append(msgs, proofs...), p2p.Message{}) {
			ev := trackerEvent{fetchEnd: true}
			if m.Data != nil {
				ev = trackerEvent{kind: m.Kind, payload: m.Payload, data: m.Data, signer: m.Signer}
			}
			select {
			case t.inbox <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
}
