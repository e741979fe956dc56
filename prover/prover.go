// Package prover checks the sequencer's blocks statelessly: each sealed
// block is re-executed over its witness alone with go-ethereum's
// core.ExecuteStateless, out of order and several at a time. A block that
// re-executes to its header's roots gets a signed attestation {number, block
// hash, state root, output root}; one that does not gets a fraud proof (the
// sequencer's signed block and the witness that give the other root), which
// every node re-checks before it believes it. The prover keeps no state: its
// memory is the blocks in flight, bounded by Config.
package prover

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/p2p"
)

// Config tunes the prover.
type Config struct {
	Workers int           // blocks verified at once, default the number of CPUs
	Pending int           // blocks and witnesses held waiting for their pair, default 16
	GapWait time.Duration // how long a missing block or witness stays missing before it is requested
	Clock   func() time.Time
	// Dev checks a dev chain: blocks with state edits or impersonated
	// senders re-execute with them, reverts are followed. On any other
	// chain such a block does not re-execute and is disputed.
	Dev bool
	// Attested, when set, hears each attestation the prover published (an
	// L1 challenger compares output roots on L1 with them).
	Attested func(*chain.Attestation)
	// Convicted, when set, hears each block the prover made a fraud proof
	// of (an L1 challenger deletes the outputs of such a block).
	Convicted func(Conviction)
	// Deposits, when set, is the L1 the prover checks each block's cursor
	// against before attesting it: the cursor must be the L1's block and,
	// with Window, as new as the sequencing window requires at the block's
	// time. A block that breaks either gets no attestation (the rules that
	// need the parent's cursor are the full nodes' and replicas': the
	// prover keeps no chain).
	Deposits chain.DepositChecker
	Window   chain.DepositWindow
}

// Conviction is a block the prover made a fraud proof of, with what an L1
// challenge of its output needs.
type Conviction struct {
	Header  *types.Header // as the sequencer signed it
	Verdict chain.Verdict // StateRoot: what re-execution gave (zero if nothing)
	// PasserRoots are the message passer storage roots the block's output
	// may have been computed with: the sequencer's Merkle proof of the
	// passer account, sent with the witness, checked against the header's
	// state root (the state the sequencer holds and a proposer reads) and
	// against the re-executed root (fault injection commits the real state
	// under a wrong header root). Those the proof does not prove are left
	// out; none when it proves neither.
	PasserRoots []common.Hash
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Workers: runtime.GOMAXPROCS(0), Pending: 16, GapWait: 500 * time.Millisecond}
}

// Network is where the prover publishes and asks for what it missed (a
// *p2p.Node).
type Network interface {
	Publish(ctx context.Context, kind p2p.Kind, data []byte) error
	FetchAny(ctx context.Context, kind p2p.Kind, from, count uint64) ([]p2p.Message, error)
}

// Stats counts what the prover did.
type Stats struct {
	Attested, Disputed, Unverifiable, Deferred uint64
	RefusedDeposits                            uint64 // blocks not attested for a cursor the L1 rules refuse
	VerifyNanos                                uint64 // time spent verifying, all blocks
}

// blockItem is a block waiting for its turn: only its number and hash are
// decoded; the compressed wire message it came in (which a fraud proof
// carries) is opened again when the block is checked, so a held block costs
// its compressed size.
type blockItem struct {
	number uint64
	hash   common.Hash
	signed []byte
	rewind bool // a dev chain went back to this block
}

type event struct {
	kind   p2p.Kind
	data   []byte
	item   *blockItem
	w      *chain.WitnessMessage
	result *result
	done   bool // a fetch of kind ended
}

type job struct {
	block *blockItem
	w     *chain.WitnessMessage
	epoch uint64
}

type result struct {
	number uint64
	hash   common.Hash
	epoch  uint64
	retry  *job // checked again once the L1 its deposit check needs is read
}

// recentMessages is how many of its attestations and fraud proofs the prover
// keeps for range requests.
const recentMessages = 8192

// Prover is one prover.
type Prover struct {
	cfg     Config
	log     zerolog.Logger
	config  *params.ChainConfig
	chainID uint64
	key     *ecdsa.PrivateKey
	net     Network
	cache   *p2p.Cache
	inbox   chan event
	jobs    chan job

	// Loop-owned.
	blocks    map[uint64]*blockItem
	witnesses map[uint64]*chain.WitnessMessage
	busy      map[uint64]bool
	notBefore map[uint64]time.Time   // blocks waiting for the L1: not checked again before
	done      map[uint64]common.Hash // checked above next
	next      uint64                 // lowest block not yet checked
	seen      uint64                 // highest block number seen
	epoch     uint64                 // dev chain reverts so far: older jobs' results are stale
	gapSince  time.Time
	fetching  map[p2p.Kind]bool

	attested, disputed, unverifiable, deferred, verifyNanos atomic.Uint64
	refusedDeposits                                         atomic.Uint64

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New builds a prover that signs with key; Start runs it. from is the first
// block it checks (1 for a new chain).
func New(cfg Config, config *params.ChainConfig, key *ecdsa.PrivateKey, from uint64, log zerolog.Logger) (*Prover, error) {
	if cfg.Workers < 1 || cfg.Pending < 1 || cfg.GapWait <= 0 {
		return nil, fmt.Errorf("prover: workers %d, pending %d and gap wait %v must be positive", cfg.Workers, cfg.Pending, cfg.GapWait)
	}
	if key == nil {
		return nil, errors.New("prover: a signing key is needed")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if from == 0 {
		from = 1
	}
	return &Prover{
		cfg: cfg, log: log.With().Str("role", "prover").Logger(), config: config, chainID: config.ChainID.Uint64(), key: key,
		cache: p2p.NewCache(recentMessages, nil), inbox: make(chan event, 256), jobs: make(chan job),
		blocks: make(map[uint64]*blockItem), witnesses: make(map[uint64]*chain.WitnessMessage),
		busy: make(map[uint64]bool), notBefore: make(map[uint64]time.Time), done: make(map[uint64]common.Hash), fetching: make(map[p2p.Kind]bool),
		next: from, seen: from - 1,
	}, nil
}

// Address is the prover's signing address, which nodes configure as a prover.
func (p *Prover) Address() common.Address { return crypto.PubkeyToAddress(p.key.PublicKey) }

// Provider serves the prover's recent attestations and fraud proofs.
func (p *Prover) Provider() p2p.Provider { return p.cache }

// Stats returns the counters.
func (p *Prover) Stats() Stats {
	return Stats{Attested: p.attested.Load(), Disputed: p.disputed.Load(), Unverifiable: p.unverifiable.Load(), Deferred: p.deferred.Load(), RefusedDeposits: p.refusedDeposits.Load(), VerifyNanos: p.verifyNanos.Load()}
}

// Deliver hands the prover a validated block or witness message: its
// payload and the signed wire bytes it came in.
func (p *Prover) Deliver(kind p2p.Kind, payload, data []byte) {
	p.inbox <- decode(kind, payload, data)
}

func decode(kind p2p.Kind, payload, data []byte) event {
	ev := event{kind: kind}
	switch kind {
	case p2p.Blocks:
		if h, err := chain.BlockMessageHeader(payload); err == nil {
			ev.item = &blockItem{number: h.Number.Uint64(), hash: h.Hash(), signed: data, rewind: chain.BlockMessageRewind(payload)}
		}
	case p2p.Witnesses:
		w := new(chain.WitnessMessage)
		if err := rlp.DecodeBytes(payload, w); err == nil {
			ev.w = w
		}
	}
	return ev
}

// openBlock opens a held block's wire message again and decodes its block.
func (p *Prover) openBlock(item *blockItem) (*chain.BlockMessage, error) {
	payload, _, err := p2p.Open(item.signed, p2p.Blocks, p.chainID)
	if err != nil {
		return nil, err
	}
	m := new(chain.BlockMessage)
	if err := rlp.DecodeBytes(payload, m); err != nil {
		return nil, err
	}
	if m.Bundle == nil || m.Bundle.Block == nil || m.Bundle.Block.Hash() != item.hash {
		return nil, errors.New("block message does not hold the block it was held as")
	}
	return m, nil
}

// Follow pumps sub's messages into the prover until ctx ends.
func (p *Prover) Follow(ctx context.Context, sub *p2p.Subscription) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		sub.Pump(ctx, func(m p2p.Message) bool {
			select {
			case p.inbox <- decode(m.Kind, m.Payload, m.Data):
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
}

// Start runs the loop and the workers, publishing on net.
func (p *Prover) Start(net Network) {
	p.net = net
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	for range p.cfg.Workers {
		p.wg.Add(1)
		go p.work(ctx)
	}
	p.wg.Add(1)
	go p.loop(ctx)
}

// Stop ends the loop and the workers.
func (p *Prover) Stop() {
	if p.cancel != nil {
		p.cancel()
		p.wg.Wait()
	}
}

func (p *Prover) loop(ctx context.Context) {
	defer p.wg.Done()
	tick := time.NewTicker(p.cfg.GapWait / 2)
	defer tick.Stop()
	for {
		var send chan job
		j, ready := p.ready()
		if ready {
			send = p.jobs
		}
		select {
		case <-ctx.Done():
			return
		case ev := <-p.inbox:
			p.handle(ev)
		case send <- j:
			p.busy[j.w.Number] = true
			delete(p.blocks, j.w.Number)
			delete(p.witnesses, j.w.Number)
		case <-tick.C:
			p.fillGaps(ctx)
		}
	}
}

func (p *Prover) handle(ev event) {
	switch {
	case ev.done:
		p.fetching[ev.kind] = false
	case ev.result != nil && ev.result.epoch != p.epoch:
		// Checked before a revert: the block is no longer the chain's.
	case ev.result != nil && ev.result.retry != nil:
		j := ev.result.retry
		delete(p.busy, ev.result.number)
		p.blocks[ev.result.number], p.witnesses[ev.result.number] = j.block, j.w
		p.notBefore[ev.result.number] = p.cfg.Clock().Add(p.cfg.GapWait)
	case ev.result != nil:
		delete(p.busy, ev.result.number)
		delete(p.notBefore, ev.result.number)
		p.done[ev.result.number] = ev.result.hash
		for {
			if _, ok := p.done[p.next]; !ok {
				break
			}
			delete(p.done, p.next)
			p.next++
		}
	case ev.item != nil && ev.item.rewind:
		p.rewind(ev.item)
	case ev.item != nil:
		n := ev.item.number
		if p.checked(n) {
			return
		}
		p.saw(n)
		if p.room(n, len(p.blocks)) {
			p.blocks[n] = ev.item
		}
	case ev.w != nil:
		n := ev.w.Number
		if p.checked(n) {
			return
		}
		p.saw(n)
		if p.room(n, len(p.witnesses)) {
			p.witnesses[n] = ev.w
		}
	case ev.kind == p2p.Blocks || ev.kind == p2p.Witnesses:
		p.log.Error().Str("kind", string(ev.kind)).Msg("malformed message from the sequencer")
	}
}

// rewind follows a dev chain back to block item: blocks after it are
// checked again as the chain makes them anew.
func (p *Prover) rewind(item *blockItem) {
	n := item.number
	if !p.cfg.Dev {
		p.log.Error().Uint64("block", n).Msg("rewind from a sequencer of a chain that is not a dev chain; ignored")
		return
	}
	chain.DropAbove(p.blocks, n)
	chain.DropAbove(p.witnesses, n)
	chain.DropAbove(p.done, n)
	// A block being checked finishes; its result is for the old chain and
	// the block is checked again when it comes back.
	p.epoch++
	chain.DropAbove(p.busy, n)
	p.next = min(p.next, n+1)
	p.seen = n
	p.cache.Truncate(p2p.Attestations, n+1)
	p.cache.Truncate(p2p.FraudProofs, n+1)
}

func (p *Prover) checked(n uint64) bool {
	_, done := p.done[n]
	return n < p.next || done || p.busy[n]
}

func (p *Prover) saw(n uint64) {
	if n > p.seen {
		p.seen = n
	}
}

// room says whether block n may be held: always when it is among the
// Pending lowest unchecked blocks. A block further ahead is left for later
// and fetched again when its turn comes, so memory stays bounded however far
// behind the prover falls.
func (p *Prover) room(n uint64, held int) bool {
	if held < p.cfg.Pending && n < p.next+uint64(4*p.cfg.Pending) {
		return true
	}
	p.deferred.Add(1)
	p.log.Debug().Uint64("block", n).Uint64("next", p.next).Msg("prover behind; block left for later")
	return false
}

// ready returns the lowest block that has its witness and is not being
// checked.
func (p *Prover) ready() (job, bool) {
	best, found := job{}, false
	now := p.cfg.Clock()
	for n, b := range p.blocks {
		w, ok := p.witnesses[n]
		if !ok || p.busy[n] || (found && n >= best.w.Number) || now.Before(p.notBefore[n]) {
			continue
		}
		if w.Hash != b.hash {
			continue // a witness of another block at this height: wait for the right one
		}
		best, found = job{block: b, w: w, epoch: p.epoch}, true
	}
	return best, found
}

// fillGaps asks peers for the lowest unchecked block and witness once they
// have been missing for GapWait.
func (p *Prover) fillGaps(ctx context.Context) {
	now := p.cfg.Clock()
	n := p.next
	if p.seen < n || p.busy[n] {
		p.gapSince = time.Time{}
		return
	}
	_, hasBlock := p.blocks[n]
	_, hasWitness := p.witnesses[n]
	if hasBlock && hasWitness {
		p.gapSince = time.Time{}
		return
	}
	if p.gapSince.IsZero() {
		p.gapSince = now
		return
	}
	if now.Sub(p.gapSince) < p.cfg.GapWait {
		return
	}
	p.gapSince = now
	// Ask for no more than there is room for: what does not fit is dropped.
	room := func(held int) uint64 { return min(p.seen-n+1, uint64(max(1, p.cfg.Pending-held))) }
	if !hasBlock {
		p.fetch(ctx, p2p.Blocks, n, room(len(p.blocks)))
	}
	if !hasWitness {
		p.fetch(ctx, p2p.Witnesses, n, room(len(p.witnesses)))
	}
}

func (p *Prover) fetch(ctx context.Context, kind p2p.Kind, from, count uint64) {
	if p.net == nil || p.fetching[kind] {
		return
	}
	p.fetching[kind] = true
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		msgs, err := p.net.FetchAny(ctx, kind, from, count)
		if err != nil && len(msgs) == 0 {
			p.log.Debug().Err(err).Str("kind", string(kind)).Uint64("from", from).Msg("fetch failed; will ask again")
		}
		for _, m := range append(msgs, p2p.Message{}) {
			ev := event{kind: kind, done: true}
			if m.Data != nil {
				ev = decode(kind, m.Payload, m.Data)
			}
			select {
			case p.inbox <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
}

func (p *Prover) work(ctx context.Context) {
	defer p.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-p.jobs:
			res := &result{number: j.w.Number, hash: j.w.Hash, epoch: j.epoch}
			if p.check(ctx, j) {
				res.retry = &j
			}
			select {
			case p.inbox <- event{result: res}:
			case <-ctx.Done():
				return
			}
		}
	}
}

// check verifies one block and publishes the attestation or fraud proof.
// It reports whether the block waits for the L1 and is to be checked again.
func (p *Prover) check(ctx context.Context, j job) bool {
	num, hash := j.block.number, j.block.hash
	log := p.log.With().Uint64("block", num).Stringer("hash", hash).Logger()
	start := time.Now()
	m, err := p.openBlock(j.block)
	if err != nil {
		p.unverifiable.Add(1)
		log.Error().Err(err).Msg("held block message no longer opens: nothing attested or disputed")
		return false
	}
	block := m.Bundle.Block
	var cursorErr error // checked first, so a block that waits for the L1 is not executed twice
	if p.cfg.Deposits != nil {
		if cursorErr = p.checkCursor(m.Bundle); errors.Is(cursorErr, chain.ErrL1Behind) {
			return true
		}
	}
	var v *chain.Verdict
	v, err = chain.VerifyWithDeposits(p.config, block, j.w.Witness, p.cfg.Dev, m.Edits, m.Bundle.Deposits)
	p.verifyNanos.Add(uint64(time.Since(start)))
	if err != nil {
		p.unverifiable.Add(1)
		log.Warn().Err(err).Msg("block not verified: nothing attested or disputed")
		return false
	}
	if !v.Valid {
		p.disputed.Add(1)
		log.Error().Stringer("state_root", v.StateRoot).Stringer("header_root", block.Root()).Str("reason", v.Reason).
			Msg("the sequencer signed an invalid block; publishing a fraud proof")
		p.publish(ctx, p2p.FraudProofs, num, &chain.FraudProof{SignedBlock: j.block.signed, Witness: j.w.Witness})
		if p.cfg.Convicted != nil {
			p.cfg.Convicted(Conviction{Header: block.Header(), Verdict: *v, PasserRoots: passerRoots(j.w.PasserProof, block.Root(), v.StateRoot)})
		}
		return false
	}
	passerRoot, err := chain.StorageRootFromProof(v.StateRoot, chain.MessagePasser, j.w.PasserProof)
	if err != nil {
		p.unverifiable.Add(1)
		log.Warn().Err(err).Msg("block verified but its message passer proof is not: nothing attested")
		return false
	}
	if cursorErr != nil {
		p.refusedDeposits.Add(1)
		log.Error().Err(cursorErr).Msg("the block breaks the deposit rules: not attested")
		return false
	}
	a := &chain.Attestation{Number: num, BlockHash: hash, StateRoot: v.StateRoot, OutputRoot: chain.OutputRoot(v.StateRoot, passerRoot, hash)}
	if p.publish(ctx, p2p.Attestations, num, a) {
		p.attested.Add(1)
		if p.cfg.Attested != nil {
			p.cfg.Attested(a)
		}
		log.Debug().Dur("took", time.Since(start)).Stringer("output_root", a.OutputRoot).Msg("attested block")
	}
	return false
}

// checkCursor checks the rules of a block's deposit cursor that need no
// parent: the cursor is the L1's block, and no deposit the window makes due
// lies beyond it.
func (p *Prover) checkCursor(b *chain.BlockBundle) error {
	to, num := b.L1Origin, b.Block.NumberU64()
	if p.cfg.Window != nil {
		need, ready, err := p.cfg.Window.Required(b.Block.Time())
		switch {
		case err != nil || !ready:
			return chain.ErrL1Behind
		case need.Number > to.Number:
			// Moved over L1 blocks without deposits, the block would be the
			// same (full nodes keep it): only deposits left behind count.
			ds, ready, err := p.cfg.Deposits.Between(to, need)
			switch {
			case err != nil:
				return fmt.Errorf("%w: block %d %w: %v", chain.ErrBadBlock, num, chain.ErrDepositRule, err)
			case !ready:
				return chain.ErrL1Behind
			case len(ds) > 0:
				return fmt.Errorf("%w: block %d %w: its L1 cursor %d is older than L1 block %d, which the sequencing window requires at L2 time %d, and leaves %d deposits behind", chain.ErrBadBlock, num, chain.ErrDepositRule, to.Number, need.Number, b.Block.Time(), len(ds))
			}
		}
	}
	if to == (chain.L1Origin{}) {
		return nil
	}
	if _, ready, err := p.cfg.Deposits.Between(to, to); err != nil {
		return fmt.Errorf("%w: block %d %w: %v", chain.ErrBadBlock, num, chain.ErrDepositRule, err)
	} else if !ready {
		return chain.ErrL1Behind
	}
	return nil
}

// passerRoots returns the message passer storage roots proof proves in the
// state of each of roots, once each.
func passerRoots(proof [][]byte, roots ...common.Hash) []common.Hash {
	var out []common.Hash
	for _, root := range roots {
		if root == (common.Hash{}) {
			continue
		}
		if r, err := chain.StorageRootFromProof(root, chain.MessagePasser, proof); err == nil && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

func (p *Prover) publish(ctx context.Context, kind p2p.Kind, number uint64, msg any) bool {
	payload, err := rlp.EncodeToBytes(msg)
	if err == nil {
		var data []byte
		if data, err = p2p.Seal(p.key, kind, p.chainID, payload); err == nil {
			p.cache.Add(kind, number, data)
			err = p.net.Publish(ctx, kind, data)
		}
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		// Peers that missed it ask for it by number.
		p.log.Error().Err(err).Str("kind", string(kind)).Uint64("number", number).Msg("publish failed; kept for range requests")
	}
	return err == nil
}
