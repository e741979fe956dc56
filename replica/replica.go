// Package replica follows the sequencer without executing transactions: it
// applies each mini-block's state changes to a streaming overlay (the
// "latest" state) and each sealed block's state diff to its own trie,
// recomputing the state root and refusing a block whose root or receipts do
// not match its header. Gaps in the mini-block numbering, or sealed blocks
// it missed, are fetched from peers. On a full disk (storage.ErrDiskFull) it
// pauses, serving what it has, and resumes by itself once there is space.
package replica

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/p2p"
	"github.com/meganode/meganode/storage"
)

// Config tunes the replica.
type Config struct {
	PreconfHash common.Hash   // blockHash of preconfirmed receipts, default all-ones
	GapWait     time.Duration // how long a gap may stay open before it is requested, default 100ms
	Clock       func() time.Time
	// Dev follows a dev chain: its reverts (rewinds) are followed; a
	// replica of any other chain refuses them.
	Dev bool
	// Deposits, when set, is the L1 every sealed block's deposits and
	// cursor are checked against (chain.CheckDeposits), with Window the
	// sequencing window. A block that breaks a rule halts the replica at
	// its parent: the block's preconfirmed state is dropped, the last good
	// block is served and Healthy says why. A replica does not execute, so
	// it does not derive the block the rules force (a full node does).
	Deposits chain.DepositChecker
	Window   chain.DepositWindow
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{PreconfHash: chain.PreconfBlockHash, GapWait: 100 * time.Millisecond}
}

// Network is where the replica asks for what it missed (a *p2p.Node).
type Network interface {
	FetchAny(ctx context.Context, kind p2p.Kind, from, count uint64) ([]p2p.Message, error)
}

// Stats counts what the replica did.
type Stats struct {
	MiniBlocks, Blocks, Refused, Fetched uint64
}

// event is a message for the loop: a received or fetched message, or the end
// of a fetch.
type event struct {
	kind    p2p.Kind
	payload []byte
	data    []byte // wire bytes, kept to serve peers
	fetched bool
	done    bool // the fetch of kind ended; count is how many it brought
	count   int
}

// Replica is one replica's chain follower. The loop goroutine owns the
// buffers; readers see an atomically published view.
type Replica struct {
	cfg    Config
	log    zerolog.Logger
	store  *storage.Store
	config *params.ChainConfig
	net    Network
	cache  *p2p.Cache
	inbox  chan event

	// Loop-owned.
	minis     map[uint64]*chain.MiniBlock
	blocks    map[uint64]*chain.BlockMessage
	nextMini  uint64
	seenBlock uint64    // highest block number any message mentioned
	gapSince  time.Time // when the oldest unresolved gap opened, zero if none
	fetching  map[p2p.Kind]bool
	held      *heldBlock // the open block, sealed before all its mini-blocks arrived
	l1Wait    bool       // the next block waits for the L1 its deposit check needs
	// stalled is the next block, verified, that the store refused for a
	// full disk: sealed blocks wait until it is written (checkGaps tries
	// again each tick), later ones are dropped and fetched again after.
	stalled *heldBlock

	view     atomic.Pointer[view]
	miniFeed chain.Feed[*chain.MiniBlock]
	headFeed chain.Feed[*chain.Head]
	txFeed   chain.Feed[*types.Transaction]

	miniBlocks, sealed, refused, fetched atomic.Uint64
	failed                               atomic.Pointer[error]
	broken                               atomic.Pointer[error] // the sequencer broke a deposit rule
	paused                               atomic.Pointer[error] // disk full, for /ready
	lastRefusal                          atomic.Pointer[string]

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// heldBlock is a sealed block waiting for its last mini-blocks, so that the
// miniBlocks stream has no gap when gossip brings the block first.
type heldBlock struct {
	msg   *chain.BlockMessage
	sb    *chain.SealedBlock // verified
	data  []byte
	since time.Time
	asked time.Time // when the missing mini-blocks were last asked for
}

// view is a consistent snapshot of the replica's head.
type view struct {
	sealed    *types.Header
	pending   *chain.PendingBlock
	txCount   int
	deposits  int // the first mini-block's, ahead of txCount in tx indexes
	gasUsed   uint64
	logCount  uint   // the block's logs so far, the deposits' included
	miniCount uint64 // mini-blocks applied in the chain: the next one's number
	miniIndex uint64 // mini-blocks applied in the pending block
	overlay   *chain.Overlay
	base      state.Reader
	reader    state.Reader
}

// New builds a replica on store; Start runs it.
func New(cfg Config, store *storage.Store, log zerolog.Logger) (*Replica, error) {
	if cfg.GapWait <= 0 {
		return nil, fmt.Errorf("replica: gap wait %v must be positive", cfg.GapWait)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	r := &Replica{
		cfg:      cfg,
		log:      log.With().Str("role", "replica").Logger(),
		store:    store,
		config:   store.ChainConfig(),
		cache:    p2p.NewCache(8192, nil),
		inbox:    make(chan event, 4096),
		minis:    make(map[uint64]*chain.MiniBlock),
		blocks:   make(map[uint64]*chain.BlockMessage),
		fetching: make(map[p2p.Kind]bool),
	}
	if store.Syncing() {
		// A state sync cut short: the node finishes it before Start, and
		// Reopen opens the pending block then (no state to open it on now).
		r.view.Store(&view{sealed: store.CurrentHeader(), miniCount: store.MiniBlockCount()})
		return r, nil
	}
	if err := r.openBlock(store.CurrentHeader(), store.MiniBlockCount()); err != nil {
		return nil, err
	}
	return r, nil
}

// Reopen opens the pending block on the store's head again, after a state
// sync made another block the head; before Start only.
func (r *Replica) Reopen() error {
	return r.openBlock(r.store.CurrentHeader(), r.store.MiniBlockCount())
}

// Provider serves the messages this replica applied to its peers' range
// requests.
func (r *Replica) Provider() p2p.Provider { return r.cache }

// Stats returns the counters.
func (r *Replica) Stats() Stats {
	return Stats{MiniBlocks: r.miniBlocks.Load(), Blocks: r.sealed.Load(), Refused: r.refused.Load(), Fetched: r.fetched.Load()}
}

// LastRefusal describes the newest block or mini-block the replica refused.
func (r *Replica) LastRefusal() string {
	if s := r.lastRefusal.Load(); s != nil {
		return *s
	}
	return ""
}

// Healthy is nil while the replica can follow the chain. On a full disk it
// wraps storage.ErrDiskFull until the replica writes blocks again.
func (r *Replica) Healthy() error {
	if err := r.broken.Load(); err != nil {
		return *err
	}
	if err := r.failed.Load(); err != nil {
		return *err
	}
	if err := r.paused.Load(); err != nil {
		return *err
	}
	return nil
}

// Deliver hands the replica a validated message (a gossiped one).
func (r *Replica) Deliver(kind p2p.Kind, payload, data []byte) {
	r.inbox <- event{kind: kind, payload: payload, data: data}
}

// Start runs the loop and asks peers for every sealed block after the
// stored head (catch-up after a restart). net may be nil (no gap filling).
func (r *Replica) Start(net Network) {
	r.net = net
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(1)
	go r.loop(ctx)
	r.inbox <- event{kind: p2p.Blocks, done: true, count: p2p.MaxRange} // as if a full fetch ended: ask for more
}

// Stop ends the loop and waits for fetches in flight.
func (r *Replica) Stop() {
	if r.cancel != nil {
		r.cancel()
		r.wg.Wait()
	}
}

// Follow pumps sub's messages into the replica until ctx ends.
func (r *Replica) Follow(ctx context.Context, sub *p2p.Subscription) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		sub.Pump(ctx, func(m p2p.Message) bool {
			select {
			case r.inbox <- event{kind: m.Kind, payload: m.Payload, data: m.Data}:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
}

func (r *Replica) loop(ctx context.Context) {
	defer r.wg.Done()
	tick := time.NewTicker(r.cfg.GapWait / 2)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-r.inbox:
			r.handle(ctx, ev)
		case <-tick.C:
			r.checkGaps(ctx)
		}
	}
}

func (r *Replica) handle(ctx context.Context, ev event) {
	if ev.done {
		r.fetching[ev.kind] = false
		if ev.kind == p2p.Blocks && ev.count == p2p.MaxRange && r.stalled == nil {
			r.fetch(ctx, p2p.Blocks, r.head()+1, p2p.MaxRange) // catching up: keep going
		}
		return
	}
	if ev.fetched {
		r.fetched.Add(1)
	}
	switch ev.kind {
	case p2p.MiniBlocks:
		mb := new(chain.MiniBlock)
		if err := rlp.DecodeBytes(ev.payload, mb); err != nil {
			r.refuse(fmt.Sprintf("malformed mini-block: %v", err))
			return
		}
		r.onMiniBlock(mb, ev.data)
	case p2p.Blocks:
		m := new(chain.BlockMessage)
		if err := rlp.DecodeBytes(ev.payload, m); err != nil || m.Bundle == nil || m.Bundle.Block == nil {
			r.refuse(fmt.Sprintf("malformed block message: %v", err))
			return
		}
		r.onBlock(m, ev.data)
	}
}

func (r *Replica) head() uint64 { return r.view.Load().sealed.Number.Uint64() }

func (r *Replica) onBlock(m *chain.BlockMessage, data []byte) {
	if r.broken.Load() != nil {
		return // halted at the block before the one that broke a rule
	}
	v := r.view.Load()
	num, head := m.Bundle.Block.NumberU64(), v.sealed.Number.Uint64()
	if m.Rewind && num <= head {
		r.rewind(m)
		return
	}
	switch {
	case num <= head || (num == head+1 && (r.held != nil || r.stalled != nil)):
		return // known, or held verified: another one is a copy or forged
	case num > head+1 && r.stalled != nil:
		r.seen(num) // not buffered for a pause of unknown length: fetched after it
		return
	case num > head+1:
		r.blocks[num] = m
		r.seen(num)
		return
	}
	sb, err := r.verifyBlock(m)
	switch {
	case errors.Is(err, chain.ErrL1Behind):
		r.blocks[num], r.l1Wait = m, true // checked again on a tick
		r.seen(num)
		return
	case errors.Is(err, chain.ErrDepositRule):
		r.halt(err)
		return
	case errors.Is(err, chain.ErrLocalState):
		r.fail(err) // this node's database, not the message
		return
	}
	if err != nil {
		r.refuse(err.Error())
		return
	}
	// The open block sealed before the replica saw all its mini-blocks
	// (gossip topics do not keep their order): hold it until they come, so
	// that subscribers get every mini-block. Only a block the replica was
	// following live is held: one it saw no mini-block of (catching up,
	// deriving from DA) is applied at once.
	if r.nextMini < m.MiniBlockCount && (v.miniIndex > 0 || r.minisOf(num)) {
		r.held = &heldBlock{msg: m, sb: sb, data: data, since: r.cfg.Clock()}
		return
	}
	r.seal(m, sb, data)
	r.drainMinis()
}

// minisOf reports whether a mini-block of block num is buffered.
func (r *Replica) minisOf(num uint64) bool {
	for _, mb := range r.minis {
		if mb.BlockNumber == num {
			return true
		}
	}
	return false
}

// seal stores the next block, verified, then applies the later blocks that
// arrived first.
func (r *Replica) seal(m *chain.BlockMessage, sb *chain.SealedBlock, data []byte) {
	if err := r.commitBlock(m, sb, data); err != nil {
		return
	}
	for {
		next, ok := r.blocks[r.head()+1]
		if !ok {
			break
		}
		delete(r.blocks, r.head()+1)
		sb, err := r.verifyBlock(next)
		if errors.Is(err, chain.ErrL1Behind) {
			r.blocks[r.head()+1], r.l1Wait = next, true
			break
		} else if errors.Is(err, chain.ErrDepositRule) {
			r.halt(err)
			return
		} else if err != nil {
			r.refuse(err.Error())
			break
		}
		if r.commitBlock(next, sb, nil) != nil {
			break
		}
	}
	for n := range r.blocks {
		if n <= r.head() {
			delete(r.blocks, n)
		}
	}
}

func (r *Replica) onMiniBlock(mb *chain.MiniBlock, data []byte) {
	if r.broken.Load() != nil {
		return
	}
	v := r.view.Load()
	head := v.sealed.Number.Uint64()
	switch {
	case mb.BlockNumber <= head:
		return // its block is sealed already
	case mb.BlockNumber > head+1 && r.stalled != nil:
		r.seen(mb.BlockNumber - 1) // as a block after the pause: fetched after it
		return
	case mb.Number < r.nextMini:
		// A restarted sequencer re-executes its journal and numbers the open
		// block's mini-blocks again from its start: start the block over.
		if mb.BlockNumber == head+1 && mb.Index == 0 && mb.Number == v.miniCount-v.miniIndex && v.miniIndex > 0 {
			r.log.Warn().Uint64("block", mb.BlockNumber).Uint64("miniblock", mb.Number).Msg("sequencer restarted the open block; following its new mini-blocks")
			if err := r.openBlock(v.sealed, mb.Number); err != nil {
				r.fail(err)
				return
			}
			r.nextMini = mb.Number
			r.minis = map[uint64]*chain.MiniBlock{mb.Number: mb}
			r.drainMinis()
		}
		return
	}
	r.minis[mb.Number] = mb
	r.cache.Add(p2p.MiniBlocks, mb.Number, data)
	r.seen(mb.BlockNumber - 1)
	r.drainMinis()
}

// drainMinis applies buffered mini-blocks in order while they belong to the
// open block, and the held block once they are all there.
func (r *Replica) drainMinis() {
	for {
		mb, ok := r.minis[r.nextMini]
		if ok && mb.BlockNumber == r.head()+1 {
			delete(r.minis, r.nextMini)
			if err := r.applyMini(r.view.Load(), mb); err != nil {
				r.refuse(err.Error())
				return
			}
			r.nextMini++
			continue
		}
		if h := r.held; h != nil && r.nextMini >= h.msg.MiniBlockCount {
			r.held = nil
			r.seal(h.msg, h.sb, h.data)
			continue
		}
		break // missing, or for a later block: wait for the sealed one
	}
	for n, mb := range r.minis {
		if n < r.nextMini || mb.BlockNumber <= r.head() {
			delete(r.minis, n)
		}
	}
	if len(r.minis) == 0 && len(r.blocks) == 0 && r.held == nil && r.seenBlock <= r.head() {
		r.gapSince = time.Time{}
	} else if r.gapSince.IsZero() {
		r.gapSince = r.cfg.Clock()
	}
}

func (r *Replica) seen(block uint64) {
	if block > r.seenBlock {
		r.seenBlock = block
	}
	if block > r.head() && r.gapSince.IsZero() {
		r.gapSince = r.cfg.Clock()
	}
}

// checkGaps asks peers for what has been missing longer than GapWait:
// sealed blocks first (they carry the state), then mini-blocks.
func (r *Replica) checkGaps(ctx context.Context) {
	if r.stalled != nil && !r.retryStalled() {
		return
	}
	if r.l1Wait {
		r.l1Wait = false
		if m, ok := r.blocks[r.head()+1]; ok && r.held == nil {
			delete(r.blocks, r.head()+1)
			r.onBlock(m, nil) // waits again while the L1 is behind
			return
		}
	}
	if h := r.held; h != nil {
		r.checkHeld(ctx, h)
		return
	}
	if r.gapSince.IsZero() || r.cfg.Clock().Sub(r.gapSince) < r.cfg.GapWait {
		return
	}
	head := r.head()
	if r.seenBlock > head || len(r.blocks) > 0 {
		r.fetch(ctx, p2p.Blocks, head+1, min(max(r.seenBlock, head+1)-head, p2p.MaxRange))
		return
	}
	lowest := uint64(0)
	for n := range r.minis {
		if lowest == 0 || n < lowest {
			lowest = n
		}
	}
	if lowest > r.nextMini {
		r.fetch(ctx, p2p.MiniBlocks, r.nextMini, min(lowest-r.nextMini, p2p.MaxRange))
	}
}

// checkHeld asks peers for the held block's missing mini-blocks after
// GapWait, and again each GapWait, and gives up on them after heldGiveUp
// GapWaits: the block is
// applied and the miniBlocks stream skips what never came (its subscribers
// are told by the RPC hub).
func (r *Replica) checkHeld(ctx context.Context, h *heldBlock) {
	waited := r.cfg.Clock().Sub(h.since)
	switch {
	case waited >= heldGiveUp*r.cfg.GapWait:
		r.log.Warn().Uint64("block", h.msg.Bundle.Block.NumberU64()).Uint64("from", r.nextMini).Uint64("to", h.msg.MiniBlockCount-1).
			Msg("mini-blocks of a sealed block never arrived; applying the block without them")
		r.held = nil
		r.seal(h.msg, h.sb, h.data)
		r.drainMinis()
	case waited >= r.cfg.GapWait && r.cfg.Clock().Sub(h.asked) >= r.cfg.GapWait:
		// Asked again each GapWait: an answer can come back short (a busy
		// peer, a request that timed out).
		if r.fetch(ctx, p2p.MiniBlocks, r.nextMini, min(h.msg.MiniBlockCount-r.nextMini, p2p.MaxRange)) {
			h.asked = r.cfg.Clock()
		}
	}
}

// retryStalled writes the block the store refused for a full disk once it
// has space again, then the blocks buffered after it; the gap logic fetches
// the rest. It reports whether the pause is over.
func (r *Replica) retryStalled() bool {
	if r.store.CheckSpace() != nil {
		return false
	}
	s := r.stalled
	r.stalled = nil
	r.seal(s.msg, s.sb, s.data)
	if r.stalled != nil {
		return false
	}
	r.drainMinis()
	return true
}

// heldGiveUp is how many GapWaits a sealed block waits for its mini-blocks.
const heldGiveUp = 10

// fetch asks peers for a range in the background; the messages come back
// through the inbox like gossip, then an event that ends the fetch. It
// returns false when one of kind is still running.
func (r *Replica) fetch(ctx context.Context, kind p2p.Kind, from, count uint64) bool {
	if r.net == nil || r.fetching[kind] {
		return false
	}
	r.fetching[kind] = true
	r.gapSince = r.cfg.Clock() // wait another GapWait before asking again
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		msgs, err := r.net.FetchAny(ctx, kind, from, count)
		if err != nil && len(msgs) == 0 {
			r.log.Debug().Err(err).Str("kind", string(kind)).Uint64("from", from).Msg("range request found nothing")
		}
		for _, m := range msgs {
			select {
			case r.inbox <- event{kind: kind, payload: m.Payload, data: m.Data, fetched: true}:
			case <-ctx.Done():
				return
			}
		}
		select {
		case r.inbox <- event{kind: kind, done: true, count: len(msgs)}:
		case <-ctx.Done():
		}
	}()
	return true
}

// verifyBlock checks the next sealed block against its header and applies
// its diff to the trie database (nothing is stored yet).
func (r *Replica) verifyBlock(m *chain.BlockMessage) (*chain.SealedBlock, error) {
	parent := r.store.CurrentHeader()
	b := m.Bundle
	if prev := r.store.MiniBlockCount(); m.MiniBlockCount < prev {
		return nil, fmt.Errorf("%w: block %d ends at mini-block count %d, below %d", chain.ErrBadBlock, b.Block.NumberU64(), m.MiniBlockCount, prev)
	}
	if err := chain.CheckBodyWithDeposits(r.config, parent, b.Block, b.Receipts, b.Deposits, b.DepositReceipts); err != nil {
		return nil, err
	}
	cursor := b.L1Origin
	if r.cfg.Deposits != nil {
		from, err := r.store.L1Origin(parent.Number.Uint64())
		if err != nil {
			return nil, fmt.Errorf("%w: %w", chain.ErrLocalState, err)
		}
		if err := chain.CheckDeposits(r.cfg.Deposits, r.cfg.Window, from, b); errors.Is(err, chain.ErrDepositRule) {
			// A cursor the rules move over L1 blocks without deposits
			// leaves the block as it is (the full node keeps it too).
			c, ds, ferr := chain.ForcedCursor(r.cfg.Deposits, r.cfg.Window, from, b)
			if ferr != nil {
				return nil, ferr
			}
			if !chain.SameDeposits(ds, b.Deposits) {
				return nil, err
			}
			cursor = c
		} else if err != nil {
			return nil, err
		}
	}
	sb, err := chain.ApplyDiff(r.config, r.store.StateDatabase(), parent, b.Block.Header(), b.StateDiff)
	if err != nil {
		return nil, err
	}
	sb.Block, sb.Receipts = b.Block, b.Receipts
	sb.Deposits, sb.DepositReceipts, sb.L1Origin = b.Deposits, b.DepositReceipts, cursor
	return sb, nil
}

// commitBlock stores a verified block and opens the next one. A full disk
// stalls the block (nothing of it was written: it is written again once
// there is space); any other error halts the replica.
func (r *Replica) commitBlock(m *chain.BlockMessage, sb *chain.SealedBlock, data []byte) error {
	prev := r.store.MiniBlockCount()
	if err := r.store.WriteSealed(sb, m.MiniBlockCount); err != nil {
		if !errors.Is(err, storage.ErrDiskFull) {
			r.fail(err)
			return err
		}
		r.stalled = &heldBlock{msg: m, sb: sb, data: data, since: r.cfg.Clock()}
		if r.paused.Load() == nil {
			err = fmt.Errorf("replica paused: %w", err)
			r.paused.Store(&err)
			r.log.Error().Err(err).Uint64("block", sb.Block.NumberU64()).Msg("data directory full: pausing until space is freed")
		}
		return err
	}
	if r.paused.Swap(nil) != nil {
		r.log.Info().Uint64("block", sb.Block.NumberU64()).Msg("data directory has space again: applying sealed blocks")
	}
	if data != nil {
		r.cache.Add(p2p.Blocks, sb.Block.NumberU64(), data)
	}
	h := sb.Block.Header()
	if err := r.openBlock(h, m.MiniBlockCount); err != nil {
		r.fail(err)
		return err
	}
	r.sealed.Add(1)
	r.log.Debug().Uint64("block", h.Number.Uint64()).Stringer("hash", sb.Block.Hash()).Int("txs", len(sb.Block.Transactions())).Msg("applied sealed block")
	r.headFeed.Send(&chain.Head{Header: h, MiniBlockCount: m.MiniBlockCount - prev, MiniBlockOffset: prev})
	return nil
}

// openBlock publishes an empty pending block on top of sealed.
func (r *Replica) openBlock(sealed *types.Header, miniCount uint64) error {
	// Every read of the latest state until the next block goes to this
	// root: its accounts and slots are decoded from the trie once.
	base, err := chain.CachedReader(r.store.StateDatabase(), sealed.Root)
	if err != nil {
		return fmt.Errorf("state reader at %s: %w", sealed.Root, err)
	}
	pb := chain.NewPendingBlock(chain.NextHeader(r.config, sealed, sealed.Time+1, sealed.GasLimit, sealed.Coinbase))
	r.view.Store(&view{sealed: sealed, pending: pb, miniCount: miniCount, base: base, reader: base})
	r.nextMini = miniCount
	return nil
}

// applyMini adds a mini-block of the open block to the overlay.
func (r *Replica) applyMini(v *view, mb *chain.MiniBlock) error {
	if mb.Index != v.miniIndex {
		return fmt.Errorf("%w: mini-block %d has index %d in block %d, expected %d", chain.ErrBadBlock, mb.Number, mb.Index, mb.BlockNumber, v.miniIndex)
	}
	pb := v.pending
	if v.miniIndex == 0 {
		pb = chain.NewPendingBlock(chain.NextHeader(r.config, v.sealed, mb.BlockTimestamp, v.sealed.GasLimit, v.sealed.Coinbase))
	}
	if err := chain.DeriveMiniBlock(r.config, mb, pb.Header.BaseFee, r.cfg.PreconfHash, uint(v.deposits+v.txCount), v.logCount, v.gasUsed); err != nil {
		return err
	}
	if len(mb.Deposits) > 0 {
		pb.SetDeposits(mb.Deposits, mb.DepositReceipts)
	}
	pb.Append(mb.Txs, mb.Receipts)
	logs, deposits := v.logCount, v.deposits+len(mb.Deposits)
	for _, rc := range mb.DepositReceipts {
		logs += uint(len(rc.Logs))
	}
	for _, rc := range mb.Receipts {
		logs += uint(len(rc.Logs))
	}
	overlay := v.overlay.Push(mb.StateChanges)
	r.view.Store(&view{
		sealed: v.sealed, pending: pb,
		txCount: v.txCount + len(mb.Txs), deposits: deposits, gasUsed: v.gasUsed + mb.GasUsed, logCount: logs,
		miniCount: mb.Number + 1, miniIndex: v.miniIndex + 1,
		overlay: overlay, base: v.base, reader: overlay.Reader(v.base),
	})
	r.miniBlocks.Add(1)
	r.miniFeed.Send(mb)
	return nil
}

// rewind follows a dev chain back to block m (evm_revert): when this
// replica's chain holds that block, every later block and mini-block goes,
// and subscribers get the removed logs and the new head.
func (r *Replica) rewind(m *chain.BlockMessage) {
	if !r.cfg.Dev {
		r.refuse(fmt.Sprintf("rewind to block %d from a sequencer of a chain that is not a dev chain", m.Bundle.Block.NumberU64()))
		return
	}
	num, hash := m.Bundle.Block.NumberU64(), m.Bundle.Block.Hash()
	if h := r.store.GetHeaderByNumber(num); h == nil || h.Hash() != hash {
		r.log.Warn().Uint64("block", num).Stringer("hash", hash).Msg("rewind to a block this replica does not hold; ignored")
		return
	}
	v := r.view.Load()
	_, pending := v.pending.Txs(v.txCount)
	removed, err := r.store.Rewind(num)
	if err != nil {
		r.fail(err)
		return
	}
	var logs []*types.Log
	for _, rb := range removed {
		logs = chain.AppendRemovedLogs(logs, rb.Receipts)
	}
	logs = chain.AppendRemovedLogs(logs, pending)
	r.held, r.stalled = nil, nil // the next block that comes is written or stalls again
	r.paused.Store(nil)
	clear(r.blocks)
	clear(r.minis)
	r.seenBlock = num
	r.gapSince = time.Time{}
	count := r.store.MiniBlockCount()
	r.cache.Truncate(p2p.Blocks, num+1)
	r.cache.Truncate(p2p.MiniBlocks, count)
	h := r.store.CurrentHeader()
	if err := r.openBlock(h, count); err != nil {
		r.fail(err)
		return
	}
	r.log.Info().Uint64("block", num).Int("removed_blocks", len(removed)).Msg("followed the dev chain back")
	r.headFeed.Send(&chain.Head{Header: h, MiniBlockOffset: count, Rewound: true, Removed: logs})
}

// halt stops following the sequencer at its block that broke a deposit
// rule: the block's preconfirmed state is dropped (reads see the last good
// block), nothing later is applied, and Healthy names the block and rule.
func (r *Replica) halt(err error) {
	v := r.view.Load()
	err = fmt.Errorf("replica halted at block %d: the sequencer's next block %w", v.sealed.Number, err)
	r.broken.Store(&err)
	r.refused.Add(1)
	r.held, r.l1Wait = nil, false
	clear(r.blocks)
	clear(r.minis)
	if oerr := r.openBlock(v.sealed, r.store.MiniBlockCount()); oerr != nil {
		r.fail(oerr)
	}
	r.log.Error().Err(err).Msg("the sequencer broke a deposit rule; serving the last good block")
}

func (r *Replica) refuse(reason string) {
	r.refused.Add(1)
	r.lastRefusal.Store(&reason)
	r.log.Error().Str("reason", reason).Msg("refused message from the sequencer")
}

func (r *Replica) fail(err error) {
	err = fmt.Errorf("replica halted: %w", err)
	r.failed.Store(&err)
	r.log.Error().Err(err).Msg("replica cannot follow the chain")
}

// The read side: rpc.LatestReader and rpc.Feeds from the replica's own state.

// LatestOverlay is the newest state as the sealed root and the mini-block
// overlay over it (eth_getProof at latest), with the block it belongs to.
func (r *Replica) LatestOverlay() (common.Hash, *chain.Overlay, *types.Header) {
	v := r.view.Load()
	return v.sealed.Root, v.overlay, v.pending.Header
}

// LatestState opens the newest mini-block state with the pending header.
func (r *Replica) LatestState() (*state.StateDB, *types.Header, error) {
	v := r.view.Load()
	st, err := chain.StateWithOverlay(r.store.StateDatabase(), v.sealed.Root, v.reader)
	if err != nil {
		return nil, nil, err
	}
	if v.txCount == 0 {
		return st, v.sealed, nil // as the sequencer: the block of the state read
	}
	return st, v.pending.Header, nil
}

// PendingBlock returns the block in progress as far as mini-blocks built it.
func (r *Replica) PendingBlock() (*types.Header, types.Transactions, []*types.Receipt) {
	v := r.view.Load()
	return v.pending.Block(v.txCount, v.gasUsed)
}

// PendingDeposits returns the deposits of the block in progress, as its
// first mini-block preconfirmed them.
func (r *Replica) PendingDeposits() ([]*chain.Deposit, []*chain.DepositReceipt) {
	return r.view.Load().pending.Deposits()
}

// PendingTx returns a preconfirmed tx with its receipt, block number and index.
func (r *Replica) PendingTx(hash common.Hash) (*types.Transaction, *types.Receipt, uint64, uint64, bool) {
	v := r.view.Load()
	return v.pending.Lookup(hash, v.txCount)
}

// PendingNonce is the account's nonce after the newest mini-block (a
// replica has no pool: txs waiting at the sequencer are not counted).
func (r *Replica) PendingNonce(addr common.Address) (uint64, error) {
	acct, err := r.view.Load().reader.Account(addr)
	if err != nil || acct == nil {
		return 0, err
	}
	return acct.Nonce, nil
}

// PooledTx is always nil: the pool is the sequencer's.
func (r *Replica) PooledTx(common.Hash) *types.Transaction { return nil }

// MiniBlockCount is the number of mini-blocks applied in the chain.
func (r *Replica) MiniBlockCount() uint64 { return r.view.Load().miniCount }

// MiniBlocks subscribes to applied mini-blocks.
func (r *Replica) MiniBlocks(n int) *chain.Subscription[*chain.MiniBlock] {
	return r.miniFeed.Subscribe(n)
}

// Heads subscribes to applied sealed blocks.
func (r *Replica) Heads(n int) *chain.Subscription[*chain.Head] { return r.headFeed.Subscribe(n) }

// PendingTxs never fires: a replica sees txs once they are in a mini-block.
func (r *Replica) PendingTxs(n int) *chain.Subscription[*types.Transaction] {
	return r.txFeed.Subscribe(n)
}
