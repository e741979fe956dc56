// Package fullnode verifies the sequencer's blocks by re-executing them with
// go-ethereum's rules. Each block's execution witness (and the senders the
// sequencer recovered) lets it execute without reading state from disk; the
// trie nodes the execution produces are then added to its own database, so
// it restarts where it stopped. Its head is the newest verified block: the
// chain's "safe" head as this node sees it. A block that does not verify is
// refused, the node keeps serving the last verified state and raises an
// alert naming the block. On a full disk (storage.ErrDiskFull) it pauses the
// same way, and resumes by itself once there is space.
package fullnode

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/p2p"
	"github.com/meganode/meganode/storage"
)

// Config tunes the full node.
type Config struct {
	// WitnessWait is how long a block waits for its witness before it is
	// re-executed from the node's own state instead (slower, same result).
	WitnessWait time.Duration
	// RecoverSenders ignores the sequencer's sender hints and recovers every
	// signature (the default trusts them; a prover still recovers them).
	RecoverSenders bool
	GapWait        time.Duration // how long a missing block stays missing before it is requested
	Clock          func() time.Time
	// Dev follows a dev chain: blocks with state edits and impersonated
	// senders re-execute with them, and reverts are followed; any other
	// chain refuses both.
	Dev bool
	// Deposits, when set, is the L1 every block's deposits are checked
	// against: the deposits of the L1 blocks its cursor (L1Origin) moved
	// over must be the block's, in order (docs/l1.md).
	Deposits DepositChecker
	// Window, with Deposits, is the sequencing window's rule: a block of
	// L2 time t must carry a cursor at least as new as the L1 block the
	// window names (l1.Window). A block that breaks a deposit rule is
	// replaced by the block the rules force (docs/l1.md "Forced
	// inclusion").
	Window DepositWindow
}

// DepositWindow is the forced-inclusion rule (l1.Window).
type DepositWindow = chain.DepositWindow

// errDepositRule marks a block that breaks a deposit rule: it is replaced
// by the block the rules force, not only refused.
var errDepositRule = chain.ErrDepositRule

// DepositChecker reads an L1's deposits for the check (l1.DepositFeed).
type DepositChecker = chain.DepositChecker

// errL1Behind: this node's view of the L1 has not reached what a block's
// check needs yet; the block waits.
var errL1Behind = chain.ErrL1Behind

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{WitnessWait: 500 * time.Millisecond, GapWait: 300 * time.Millisecond}
}

// Network is where the full node asks for what it missed (a *p2p.Node).
type Network interface {
	FetchAny(ctx context.Context, kind p2p.Kind, from, count uint64) ([]p2p.Message, error)
}

// Stats counts what the full node did.
type Stats struct {
	Verified, WithWitness, FromDisk, Refused uint64
	Forced                                   uint64 // blocks derived in place of the sequencer's (forced inclusion)
	ExecNanos                                uint64 // wall time spent verifying, all blocks
}

type event struct {
	kind    p2p.Kind
	payload []byte
	done    bool
	count   int
}

type pendingBlock struct {
	msg   *chain.BlockMessage
	since time.Time
}

// FullNode is one full node's verifier.
type FullNode struct {
	cfg    Config
	log    zerolog.Logger
	store  *storage.Store
	config *params.ChainConfig
	net    Network
	inbox  chan event

	// Loop-owned.
	blocks    map[uint64][]*pendingBlock // candidates per height, first come first verified
	witnesses map[uint64]*chain.WitnessMessage
	seenBlock uint64
	gapSince  time.Time
	fetching  map[p2p.Kind]bool

	verified, withWitness, fromDisk, refused, execNanos atomic.Uint64
	alert                                               atomic.Pointer[error]
	// forced is set once this node replaced a sequencer's block by the
	// block the deposit rules force; forcedBlocks counts them.
	forced       atomic.Pointer[error]
	forcedBlocks atomic.Uint64
	// paused is set while the store refuses blocks for a full disk: the
	// next block waits (advance tries it again once there is space), later
	// ones are dropped and fetched again after.
	paused atomic.Pointer[error]
	heads  chain.Feed[*chain.Head]

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New builds a full node on store; Start runs it.
func New(cfg Config, store *storage.Store, log zerolog.Logger) (*FullNode, error) {
	if cfg.WitnessWait <= 0 || cfg.GapWait <= 0 {
		return nil, fmt.Errorf("fullnode: witness wait %v and gap wait %v must be positive", cfg.WitnessWait, cfg.GapWait)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	f := &FullNode{
		cfg: cfg, log: log.With().Str("role", "fullnode").Logger(), store: store, config: store.ChainConfig(),
		inbox: make(chan event, 1024), blocks: make(map[uint64][]*pendingBlock),
		witnesses: make(map[uint64]*chain.WitnessMessage), fetching: make(map[p2p.Kind]bool),
	}
	if head := store.CurrentHeader(); head != nil {
		if seq, ok := store.Forced(head.Hash()); ok {
			alert := fmt.Errorf("this node's head, block %d (%s), is the block the deposit rules forced in place of the sequencer's %s", head.Number, head.Hash(), seq)
			f.forced.Store(&alert)
		}
	}
	return f, nil
}

// Stats returns the counters.
func (f *FullNode) Stats() Stats {
	return Stats{Verified: f.verified.Load(), WithWitness: f.withWitness.Load(), FromDisk: f.fromDisk.Load(), Refused: f.refused.Load(), Forced: f.forcedBlocks.Load(), ExecNanos: f.execNanos.Load()}
}

// Healthy is nil until a block fails verification; then it names the block
// (and stays so: the sequencer signed a block that does not re-execute). On
// a full disk it wraps storage.ErrDiskFull until blocks are written again.
func (f *FullNode) Healthy() error {
	if err := f.alert.Load(); err != nil {
		return *err
	}
	if err := f.forced.Load(); err != nil {
		return *err
	}
	if err := f.paused.Load(); err != nil {
		return *err
	}
	return nil
}

// Heads subscribes to verified blocks.
func (f *FullNode) Heads(n int) *chain.Subscription[*chain.Head] { return f.heads.Subscribe(n) }

// Deliver hands the full node a validated message.
func (f *FullNode) Deliver(kind p2p.Kind, payload []byte) {
	f.inbox <- event{kind: kind, payload: payload}
}

// Start runs the loop and catches up from peers. net may be nil.
func (f *FullNode) Start(net Network) {
	f.net = net
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	f.wg.Add(1)
	go f.loop(ctx)
	f.inbox <- event{kind: p2p.Blocks, done: true, count: p2p.MaxRange}
}

// Stop ends the loop.
func (f *FullNode) Stop() {
	if f.cancel != nil {
		f.cancel()
		f.wg.Wait()
	}
}

// Follow pumps sub's messages into the full node until ctx ends.
func (f *FullNode) Follow(ctx context.Context, sub *p2p.Subscription) {
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		sub.Pump(ctx, func(m p2p.Message) bool {
			select {
			case f.inbox <- event{kind: m.Kind, payload: m.Payload}:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
}

func (f *FullNode) loop(ctx context.Context) {
	defer f.wg.Done()
	tick := time.NewTicker(min(f.cfg.GapWait, f.cfg.WitnessWait) / 2)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-f.inbox:
			f.handle(ctx, ev)
		case <-tick.C:
		}
		f.advance(ctx)
	}
}

func (f *FullNode) head() uint64 { return f.store.CurrentHeader().Number.Uint64() }

func (f *FullNode) handle(ctx context.Context, ev event) {
	if ev.done {
		f.fetching[ev.kind] = false
		if ev.kind == p2p.Blocks && ev.count == p2p.MaxRange && f.paused.Load() == nil {
			f.fetch(ctx, p2p.Blocks, f.head()+1, p2p.MaxRange)
		}
		return
	}
	switch ev.kind {
	case p2p.Blocks:
		m := new(chain.BlockMessage)
		if err := rlp.DecodeBytes(ev.payload, m); err != nil || m.Bundle == nil || m.Bundle.Block == nil {
			f.log.Error().AnErr("decode", err).Msg("malformed block message from the sequencer")
			return
		}
		num := m.Bundle.Block.NumberU64()
		if m.Rewind && num <= f.head() {
			f.rewind(m)
			return
		}
		if num <= f.head() {
			return
		}
		if num > f.head()+1 && f.paused.Load() != nil {
			f.seen(num) // not buffered for a pause of unknown length
			return
		}
		hash := m.Bundle.Block.Hash()
		for _, p := range f.blocks[num] {
			if p.msg.Bundle.Block.Hash() == hash {
				return
			}
		}
		f.blocks[num] = append(f.blocks[num], &pendingBlock{msg: m, since: f.cfg.Clock()})
		f.seen(num)
	case p2p.Witnesses:
		w := new(chain.WitnessMessage)
		if err := rlp.DecodeBytes(ev.payload, w); err != nil {
			f.log.Error().Err(err).Msg("malformed witness message from the sequencer")
			return
		}
		if w.Number > f.head()+1 && f.paused.Load() != nil {
			f.seen(w.Number)
		} else if w.Number > f.head() {
			f.witnesses[w.Number] = w
			f.seen(w.Number)
		}
	}
}

func (f *FullNode) seen(n uint64) {
	if n > f.seenBlock {
		f.seenBlock = n
	}
}

// advance verifies the next block once it has its witness, or once it has
// waited WitnessWait for it; it asks peers for blocks and witnesses that do
// not come.
func (f *FullNode) advance(ctx context.Context) {
	now := f.cfg.Clock()
	if f.paused.Load() != nil {
		if f.store.CheckSpace() != nil {
			return
		}
		f.paused.Store(nil)
		f.log.Info().Uint64("block", f.head()+1).Msg("data directory has space again: verifying blocks")
	}
	for {
		next := f.head() + 1
		if len(f.blocks[next]) == 0 {
			delete(f.blocks, next)
			break
		}
		p := f.blocks[next][0]
		w := f.witnesses[next]
		if w != nil && w.Hash != p.msg.Bundle.Block.Hash() {
			w = nil // the witness of another block at this height
		}
		if w == nil && now.Sub(p.since) < f.cfg.WitnessWait {
			if now.Sub(p.since) >= f.cfg.WitnessWait/2 {
				f.fetch(ctx, p2p.Witnesses, next, 1)
			}
			break
		}
		f.blocks[next] = f.blocks[next][1:]
		if err := f.verify(p.msg, w); errors.Is(err, errL1Behind) {
			f.blocks[next] = append([]*pendingBlock{p}, f.blocks[next]...)
			break // again on the next tick
		} else if errors.Is(err, storage.ErrDiskFull) {
			// Nothing of it was written: verified again once there is space.
			f.blocks[next] = append([]*pendingBlock{p}, f.blocks[next]...)
			f.pause(next, err)
			return
		} else if err != nil {
			f.raise(p.msg, err)
			continue // another candidate at this height may verify
		}
		delete(f.blocks, next)
		delete(f.witnesses, next)
	}
	head := f.head()
	for n := range f.witnesses {
		if n <= head {
			delete(f.witnesses, n)
		}
	}
	for n := range f.blocks {
		if n <= head {
			delete(f.blocks, n)
		}
	}
	if f.seenBlock > head && len(f.blocks[head+1]) == 0 {
		if f.gapSince.IsZero() {
			f.gapSince = now
		} else if now.Sub(f.gapSince) >= f.cfg.GapWait {
			f.gapSince = now
			f.fetch(ctx, p2p.Blocks, head+1, min(f.seenBlock-head, p2p.MaxRange))
		}
	} else {
		f.gapSince = time.Time{}
	}
}

func (f *FullNode) fetch(ctx context.Context, kind p2p.Kind, from, count uint64) {
	if f.net == nil || f.fetching[kind] {
		return
	}
	f.fetching[kind] = true
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		msgs, _ := f.net.FetchAny(ctx, kind, from, count)
		for _, m := range msgs {
			select {
			case f.inbox <- event{kind: kind, payload: m.Payload}:
			case <-ctx.Done():
				return
			}
		}
		select {
		case f.inbox <- event{kind: kind, done: true, count: len(msgs)}:
		case <-ctx.Done():
		}
	}()
}

// verify re-executes a block and persists it if everything matches: the
// block's receipts and body against its header, the re-executed state root,
// receipts root, gas and bloom against the header, and the sequencer's state
// diff (what replicas apply) against the one re-execution produced.
func (f *FullNode) verify(m *chain.BlockMessage, w *chain.WitnessMessage) error {
	start := time.Now()
	defer func() { f.execNanos.Add(uint64(time.Since(start))) }()
	parent := f.store.CurrentHeader()
	b := m.Bundle
	if seq, ok := f.store.Forced(parent.Hash()); ok && b.Block.ParentHash() == seq {
		// The sequencer builds on the block this node replaced: its block
		// is re-derived on the chain the rules forced.
		return f.force(m, parent, fmt.Errorf("it builds on the sequencer's block %d (%s), replaced here", parent.Number, seq))
	}
	if err := chain.CheckBodyWithDeposits(f.config, parent, b.Block, b.Receipts, b.Deposits, b.DepositReceipts); err != nil {
		return err
	}
	if err := f.checkDeposits(parent, b); errors.Is(err, errDepositRule) {
		return f.force(m, parent, err)
	} else if err != nil {
		return err
	}
	var senders []common.Address
	if !f.cfg.RecoverSenders {
		senders = m.Senders
	}
	db, witnessed := f.store.StateDatabase(), false
	if w != nil {
		wdb, _, err := chain.WitnessDatabase(w.Witness)
		if err != nil {
			f.log.Warn().Err(err).Uint64("block", b.Block.NumberU64()).Msg("unusable witness; re-executing from disk")
		} else {
			db, witnessed = wdb, true
		}
	}
	opts := chain.ReplayOptions{Senders: senders, Dev: f.cfg.Dev, Edits: m.Edits, Deposits: b.Deposits}
	sb, err := chain.ReplayWith(f.config, f.store, db, parent, b.Block, opts)
	if err != nil && witnessed {
		// A witness that lacks a node fails execution; the node's own state
		// decides.
		f.log.Warn().Err(err).Uint64("block", b.Block.NumberU64()).Msg("re-execution over the witness failed; re-executing from disk")
		db, witnessed = f.store.StateDatabase(), false
		sb, err = chain.ReplayWith(f.config, f.store, db, parent, b.Block, opts)
	}
	if err != nil {
		return err
	}
	if !chain.SameDiff(sb.Diff, b.StateDiff) {
		return fmt.Errorf("%w: block %d: the published state diff differs from re-execution's", chain.ErrBadBlock, b.Block.NumberU64())
	}
	sb.L1Origin = b.L1Origin
	if witnessed {
		err = f.store.WriteReplayed(sb, m.MiniBlockCount)
	} else {
		err = f.store.WriteSealed(sb, m.MiniBlockCount)
	}
	if err != nil {
		return fmt.Errorf("persist block %d: %w", b.Block.NumberU64(), err)
	}
	if witnessed {
		f.withWitness.Add(1)
	} else {
		f.fromDisk.Add(1)
	}
	f.verified.Add(1)
	h := sb.Block.Header()
	f.log.Debug().Uint64("block", h.Number.Uint64()).Stringer("hash", sb.Block.Hash()).Bool("witness", witnessed).Dur("took", time.Since(start)).Msg("verified block")
	f.heads.Send(&chain.Head{Header: h})
	return nil
}

// checkDeposits checks a block's deposits and cursor against the L1
// (chain.CheckDeposits); a block that breaks a rule fails with
// errDepositRule.
func (f *FullNode) checkDeposits(parent *types.Header, b *chain.BlockBundle) error {
	if f.cfg.Deposits == nil {
		return nil
	}
	from, err := f.store.L1Origin(parent.Number.Uint64())
	if err != nil {
		return err
	}
	return chain.CheckDeposits(f.cfg.Deposits, f.cfg.Window, from, b)
}

// force derives, in place of the sequencer's block m, the block the deposit
// rules give (chain.ForcedBlock): m's header fields and transactions on
// this node's head, with the deposits due by then. Its cursor is m's when
// the L1 has it and it does not move back, else the parent's, moved up to
// what the sequencing window requires. The node's chain then differs from
// the sequencer's: Healthy says so, and the sequencer's later blocks are
// re-derived the same way.
func (f *FullNode) force(m *chain.BlockMessage, parent *types.Header, why error) error {
	if f.cfg.Deposits == nil {
		return why
	}
	b := m.Bundle
	num := b.Block.NumberU64()
	from, err := f.store.L1Origin(parent.Number.Uint64())
	if err != nil {
		return err
	}
	cursor, deposits, err := chain.ForcedCursor(f.cfg.Deposits, f.cfg.Window, from, b)
	if err != nil {
		return err
	}
	var senders []common.Address
	if !f.cfg.RecoverSenders {
		senders = m.Senders
	}
	res, err := chain.ForcedBlock(f.config, f.store, f.store.StateDatabase(), parent, chain.ForcedOptions{
		Template: b.Block, Senders: senders, Deposits: deposits, Cursor: cursor, Dev: f.cfg.Dev,
	})
	if err != nil {
		return err
	}
	ours := res.Block.Hash()
	if ours == b.Block.Hash() {
		// The cursor moved over L1 blocks without deposits only: the block
		// is the sequencer's, under the cursor the rules give.
		if err := f.store.WriteSealed(res.SealedBlock, m.MiniBlockCount); err != nil {
			return fmt.Errorf("persist block %d: %w", num, err)
		}
		f.fromDisk.Add(1)
		f.verified.Add(1)
		f.log.Debug().Uint64("block", num).Uint64("l1_cursor", cursor.Number).AnErr("why", why).Msg("block kept under the L1 cursor the rules give")
		f.heads.Send(&chain.Head{Header: res.Block.Header()})
		return nil
	}
	if err := f.store.WriteSealed(res.SealedBlock, m.MiniBlockCount); err != nil {
		return fmt.Errorf("persist forced block %d: %w", num, err)
	}
	if err := f.store.WriteForced(ours, b.Block.Hash()); err != nil {
		return fmt.Errorf("persist forced block %d: %w", num, err)
	}
	f.forcedBlocks.Add(1)
	f.fromDisk.Add(1)
	f.verified.Add(1)
	alert := fmt.Errorf("the sequencer's block %d (%s) was replaced by the block the deposit rules force (%s, %d deposits, %d of its txs left out): %w", num, b.Block.Hash(), ours, len(res.Deposits), len(res.Dropped), why)
	f.forced.Store(&alert)
	ev := f.log.Info() // the sequencer's later blocks, re-derived on the forced chain
	if errors.Is(why, errDepositRule) {
		ev = f.log.Error()
	}
	ev = ev.Uint64("block", num).Stringer("sequencer_hash", b.Block.Hash()).Stringer("hash", ours).
		Int("deposits", len(res.Deposits)).Uint64("l1_cursor", cursor.Number).Int("dropped_txs", len(res.Dropped)).AnErr("why", why)
	ev.Msg("forced inclusion: this node follows the chain the deposit rules give, not the sequencer's")
	f.heads.Send(&chain.Head{Header: res.Block.Header()})
	return nil
}

// rewind follows a dev chain back to block m (evm_revert) when this node
// holds it: later blocks are deleted and the head comes back.
func (f *FullNode) rewind(m *chain.BlockMessage) {
	num, hash := m.Bundle.Block.NumberU64(), m.Bundle.Block.Hash()
	if !f.cfg.Dev {
		f.log.Error().Uint64("block", num).Msg("rewind from a sequencer of a chain that is not a dev chain; refused")
		return
	}
	if h := f.store.GetHeaderByNumber(num); h == nil || h.Hash() != hash {
		f.log.Warn().Uint64("block", num).Stringer("hash", hash).Msg("rewind to a block this node does not hold; ignored")
		return
	}
	removed, err := f.store.Rewind(num)
	if err != nil {
		f.log.Error().Err(err).Uint64("block", num).Msg("rewind failed")
		return
	}
	chain.DropAbove(f.blocks, num)
	chain.DropAbove(f.witnesses, num)
	f.seenBlock, f.gapSince = num, time.Time{}
	var logs []*types.Log
	for _, rb := range removed {
		logs = chain.AppendRemovedLogs(logs, rb.Receipts)
	}
	f.log.Info().Uint64("block", num).Int("removed_blocks", len(removed)).Msg("followed the dev chain back")
	f.heads.Send(&chain.Head{Header: f.store.CurrentHeader(), Rewound: true, Removed: logs})
}

// pause stops verifying at block next while the disk is full; it logs once
// per pause.
func (f *FullNode) pause(next uint64, err error) {
	if f.paused.Load() != nil {
		return
	}
	err = fmt.Errorf("full node paused: %w", err)
	f.paused.Store(&err)
	f.log.Error().Err(err).Uint64("block", next).Msg("data directory full: pausing until space is freed")
}

// raise refuses a block loudly: error log, the refused counter, and /ready
// degraded with the block's number and hash.
// A failure of this node's own state database is no verdict on the block:
// it is raised as such, not counted as refused.
func (f *FullNode) raise(m *chain.BlockMessage, err error) {
	b := m.Bundle.Block
	if errors.Is(err, chain.ErrLocalState) {
		alert := fmt.Errorf("block %d (%s) not verified: %w", b.NumberU64(), b.Hash(), err)
		f.alert.Store(&alert)
		f.log.Error().Uint64("block", b.NumberU64()).Stringer("hash", b.Hash()).Err(err).Msg("block not verified: this node's state database failed; serving the last verified state")
		return
	}
	f.refused.Add(1)
	alert := fmt.Errorf("block %d (%s) refused: %w", b.NumberU64(), b.Hash(), err)
	f.alert.Store(&alert)
	f.log.Error().Uint64("block", b.NumberU64()).Stringer("hash", b.Hash()).Err(err).Msg("block failed verification; serving the last verified state")
}
