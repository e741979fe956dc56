package sequencer

import (
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/meganode/meganode/chain"
)

// Dev chains: the methods anvil and Hardhat give tests, on the sequencer
// because they change what it produces. Each runs under stepMu, between
// two steps of the loop. docs/devnet.md describes how they map onto
// mini-blocks and blocks.

// ErrNotDev refuses a dev method on a chain that is not a dev chain.
var ErrNotDev = errors.New("dev methods need a dev chain: start the node with --dev (meganode devnet is one)")

// devClock is the dev chain's time: header timestamps are the wall clock
// plus offset, unless the next one is set, or every block follows its
// parent by interval seconds.
type devClock struct {
	offset   int64
	next     uint64 // the next block's timestamp; 0: none
	interval uint64 // 0: none
}

// devState is the dev chain's loop-owned state.
type devState struct {
	mode      chain.MiningMode
	blockTime time.Duration // realtime block time set by evm_setIntervalMining; 0: Config.BlockTime
	clock     devClock
	coinbase  common.Address
	gasLimit  uint64
	baseFee   *big.Int     // the next block's, then derived from it
	mixDigest *common.Hash // the next block's prevrandao
	snapshots []devSnapshot
	nextID    uint64
	// collect, while a dev block is mined, gathers each executed tx's
	// result; its waiters are woken once the block is sealed.
	collect map[common.Hash]devResult
	// early are the AwaitMined callers of txs being mined behind their
	// answer: woken once the tx has executed, before its block is sealed.
	early map[common.Hash]chan chain.TxOutcome
}

type devResult struct {
	vmErr  error
	revert []byte
}

// devSnapshot is what evm_revert restores.
type devSnapshot struct {
	id       uint64
	head     *types.Header
	clock    devClock
	edits    []chain.DevEdit
	pool     []*types.Transaction
	gasLimit uint64
}

func newDevState(cfg Config) devState {
	return devState{mode: cfg.Mining, coinbase: cfg.Coinbase, gasLimit: cfg.GasLimit}
}

// impersonation is the set of accounts a dev chain sends as without a key.
type impersonation struct {
	mu       sync.RWMutex
	accounts map[common.Address]bool
	all      bool
}

// Impersonating reports whether txs from addr need no signature.
func (s *Sequencer) Impersonating(addr common.Address) bool {
	if !s.cfg.Dev {
		return false
	}
	s.imp.mu.RLock()
	defer s.imp.mu.RUnlock()
	return s.imp.all || s.imp.accounts[addr]
}

// Impersonate starts (or with on false stops) sending as addr unsigned.
func (s *Sequencer) Impersonate(addr common.Address, on bool) error {
	if !s.cfg.Dev {
		return ErrNotDev
	}
	s.imp.mu.Lock()
	defer s.imp.mu.Unlock()
	if on {
		s.imp.accounts[addr] = true
	} else {
		delete(s.imp.accounts, addr)
	}
	return nil
}

// AutoImpersonate impersonates every account (or stops).
func (s *Sequencer) AutoImpersonate(on bool) error {
	if !s.cfg.Dev {
		return ErrNotDev
	}
	s.imp.mu.Lock()
	s.imp.all = on
	s.imp.mu.Unlock()
	return nil
}

// Impersonated lists the accounts impersonated one by one.
func (s *Sequencer) Impersonated() []common.Address {
	s.imp.mu.RLock()
	defer s.imp.mu.RUnlock()
	out := make([]common.Address, 0, len(s.imp.accounts))
	for a := range s.imp.accounts {
		out = append(out, a)
	}
	return out
}

// IsDev reports whether this is a dev chain.
func (s *Sequencer) IsDev() bool { return s.cfg.Dev }

// blockTime is the realtime block interval.
func (s *Sequencer) blockTime() time.Duration {
	if s.dev.blockTime > 0 {
		return s.dev.blockTime
	}
	return s.cfg.BlockTime
}

// nextHeader is the header template of the block after parent at wall time
// now: the dev clock's timestamp (never at or before the parent's), coinbase
// and gas limit, and the next block's base fee and prevrandao if set. With
// consume the one-shot settings are used up.
func (s *Sequencer) nextHeader(now time.Time, parent *types.Header, consume bool) *types.Header {
	d := &s.dev
	var t uint64
	switch {
	case d.clock.next != 0:
		t = d.clock.next
	case d.clock.interval != 0:
		t = parent.Time + d.clock.interval
	default:
		t = uint64(max(0, now.Unix()+d.clock.offset))
	}
	if t <= parent.Time {
		t = parent.Time + 1
	}
	h := chain.NextHeader(s.config, parent, t, d.gasLimit, d.coinbase)
	switch {
	case d.baseFee != nil:
		h.BaseFee = new(big.Int).Set(d.baseFee)
	case s.cfg.Dev && isOwnGenesis(parent) && parent.BaseFee != nil:
		// anvil's first block has its genesis's base fee (its fee manager
		// starts there and derives each later block's from the one
		// before), not EIP-1559's 7/8 of it after an empty block: test
		// suites see eth_gasPrice 2 gwei at start. Followers take the
		// header's base fee, as after anvil_setNextBlockBaseFee.
		h.BaseFee = new(big.Int).Set(parent.BaseFee)
	}
	if d.mixDigest != nil {
		h.MixDigest = *d.mixDigest
	}
	if consume {
		if d.clock.next != 0 {
			// The clock goes on from the timestamp set, as anvil's.
			d.clock.offset = int64(d.clock.next) - now.Unix()
			d.clock.next = 0
		}
		d.baseFee, d.mixDigest = nil, nil
	}
	return h
}

// isOwnGenesis tells a dev chain's own genesis from a forked one, which
// stands for a block of another chain (anvil derives the next base fee from
// that block's).
func isOwnGenesis(h *types.Header) bool {
	return h.Number.Sign() == 0 && h.ParentHash == (common.Hash{})
}

// devCheck is nil when a dev method may run.
func (s *Sequencer) devCheck() error {
	if !s.cfg.Dev {
		return ErrNotDev
	}
	if s.failed != nil {
		return fmt.Errorf("sequencer halted: %w", s.failed)
	}
	return nil
}

// wakeLoop makes the loop recompute how long it waits.
func (s *Sequencer) wakeLoop() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// pendingEdits are the edits of the open block when nothing else is in
// it: what a block mined in auto or manual mode starts with.
func (s *Sequencer) pendingEdits() []chain.DevEdit {
	if s.builder == nil {
		return nil // a deferred open block holds nothing
	}
	var out []chain.DevEdit
	for _, e := range s.builder.Edits() {
		out = append(out, e.Edits...)
	}
	return out
}

// mineReady seals each ready tx in a block of its own (automine). Every
// round executes, parks or drops the tx it takes, so it ends.
func (s *Sequencer) mineReady() error {
	for s.pool.hasReady() {
		if _, err := s.mineBlock(s.clock.Now(), 1, false); err != nil {
			return err
		}
	}
	return nil
}

// openEmpty reports whether the open block holds nothing yet.
func (s *Sequencer) openEmpty() bool {
	return s.view.Load().TxCount == 0 && len(s.unsealed) == 0 && (s.builder == nil || len(s.builder.Edits()) == 0)
}

// discardOpen drops an empty realtime block, whose empty mini-blocks may
// have been published: the one opened instead numbers its mini-blocks from
// the same place, as a restarted sequencer does, and followers start it
// over.
func (s *Sequencer) discardOpen(now time.Time, consume bool) error {
	s.miniCount -= s.miniIndex
	s.published = min(s.published, s.miniCount)
	if err := s.waitPersisted(); err != nil {
		return err
	}
	return s.openBlockAt(now, consume)
}

// mineBlock seals a block now with up to limit ready txs (0: as many as
// fit) and the open block's edits. With force an empty block is sealed too;
// without, nothing is when no tx executed. It returns how many txs the
// block holds.
func (s *Sequencer) mineBlock(now time.Time, limit int, force bool) (int, error) {
	if s.dev.mode == chain.MineRealtime {
		// The open block is real: seal it as it is (an empty one is made
		// again, so that it takes the time and settings it is mined with).
		if s.openEmpty() {
			if err := s.discardOpen(now, true); err != nil {
				return 0, err
			}
		}
		s.executeUpTo(time.Time{}, limit)
		if err := s.sealMiniBlock(now); err != nil {
			return 0, err
		}
		n := s.view.Load().TxCount
		return n, s.sealAndOpen(now)
	}
	if !force && !s.pool.hasReady() {
		return 0, nil
	}
	if err := s.waitPersisted(); err != nil {
		return 0, err
	}
	// The open block was provisional: build it again with the time it is
	// mined at, and its edits — unless it is the block that would be built
	// (no edits, the same header): then it is kept, which halves the cost
	// of a block per tx.
	edits, saved := s.pendingEdits(), s.dev
	want := s.nextHeader(now, s.headHeader(), true)
	have, executed := s.view.Load().Pending.Header, 0 // a deferred open block holds nothing
	if s.builder != nil {
		have, executed = s.builder.Header(), s.builder.TxCount()
	}
	if len(edits) > 0 || executed > 0 || !sameTemplate(have, want) {
		if err := s.openBlockWith(now, want, false); err != nil {
			return 0, err
		}
		if len(edits) > 0 {
			if err := s.builder.ApplyEdits(edits); err != nil {
				return 0, err
			}
		}
	}
	s.dev.collect = make(map[common.Hash]devResult)
	defer func() { s.dev.collect = nil }()
	n := s.executeUpTo(time.Time{}, limit)
	if n == 0 && !force {
		// Nothing ran (its tx failed or waits): the block stays open, with
		// the settings it had.
		s.dev.clock, s.dev.baseFee, s.dev.mixDigest = saved.clock, saved.baseFee, saved.mixDigest
		return 0, s.reopenWith(now, edits)
	}
	if err := s.sealMiniBlock(now); err != nil {
		return n, err
	}
	v := s.view.Load()
	txs, preconf := v.Pending.Txs(v.TxCount)
	number := v.Pending.Header.Number.Uint64()
	s.resolveEarly(txs, preconf, number)
	sb, err := s.sealBlockResult()
	if err != nil {
		return n, err
	}
	s.resolveSealed(txs, sb.Receipts, number)
	s.lazyOpen, s.warmOpen = true, true // opened after the answer (Prepare)
	return n, s.openBlockAt(now, false)
}

// sameTemplate reports whether two block templates are the same block.
func sameTemplate(a, b *types.Header) bool {
	return a.Time == b.Time && a.Coinbase == b.Coinbase && a.GasLimit == b.GasLimit && a.MixDigest == b.MixDigest &&
		a.BaseFee.Cmp(b.BaseFee) == 0 && a.ParentHash == b.ParentHash
}

// reopenWith opens a provisional block holding edits.
func (s *Sequencer) reopenWith(now time.Time, edits []chain.DevEdit) error {
	if err := s.openBlockAt(now, false); err != nil {
		return err
	}
	if len(edits) == 0 {
		return nil
	}
	return s.editLocally(edits)
}

// sealAndOpen seals the open block and opens the next.
func (s *Sequencer) sealAndOpen(now time.Time) error {
	s.gate.Lock()
	defer s.gate.Unlock()
	if err := s.sealBlock(); err != nil {
		return err
	}
	if err := s.waitPersisted(); err != nil {
		return err
	}
	return s.openBlock(now)
}

// sealBlockResult seals and persists the open block on the loop.
func (s *Sequencer) sealBlockResult() (*chain.SealedBlock, error) {
	if err := s.ensureOpen(); err != nil {
		return nil, err
	}
	s.gate.Lock()
	defer s.gate.Unlock()
	if len(s.unsealed) > 0 {
		return nil, errors.New("sealing a block with unpublished txs")
	}
	sb, err := s.builder.SealState()
	if err != nil {
		return nil, err
	}
	if err := sb.Finish(); err != nil {
		return nil, err
	}
	return sb, s.persistSealed(sb)
}

// resolveSealed wakes the waiters of a mined block's txs with their sealed
// receipts and results.
func (s *Sequencer) resolveSealed(txs types.Transactions, receipts []*types.Receipt, block uint64) {
	s.waitMu.Lock()
	defer s.waitMu.Unlock()
	for i, tx := range txs {
		list, ok := s.waiters[tx.Hash()]
		if !ok {
			continue
		}
		res := s.dev.collect[tx.Hash()]
		out := chain.TxOutcome{Tx: tx, Receipt: receipts[i], BlockNumber: block, Index: uint64(i), Sealed: true, VMErr: res.vmErr, Revert: res.revert}
		for _, c := range list {
			c <- out
		}
		delete(s.waiters, tx.Hash())
	}
}

// resolveEarly wakes the AwaitMined callers of a mined block's txs with
// their results as executed (receipts without the block's hash), before the
// block is sealed: the seal runs behind their answers (Settle).
func (s *Sequencer) resolveEarly(txs types.Transactions, receipts []*types.Receipt, block uint64) {
	for i, tx := range txs {
		c, ok := s.dev.early[tx.Hash()]
		if !ok {
			continue
		}
		res := s.dev.collect[tx.Hash()]
		c <- chain.TxOutcome{Tx: tx, Receipt: receipts[i], BlockNumber: block, Index: uint64(i), VMErr: res.vmErr, Revert: res.revert}
		delete(s.dev.early, tx.Hash())
	}
}

// Settle waits until the work dev answers left behind them is done: the
// seal of the block an automined tx executed in, the blocks of a mine call.
// Every answer after it sees that work; the RPC server calls it before it
// serves a request, so a client's next call finds the block sealed, as if
// the answer had waited for it. Cheap when there is nothing to wait for.
func (s *Sequencer) Settle() {
	if c := s.behind.Load(); c != nil {
		<-*c
	}
}

// goBehind runs work on a goroutine of its own, behind the answer being
// made, and hands it the step lock the caller holds: later steps wait for
// it as for any step, readers in Settle. Then it builds the next open block
// ahead of need (warmUp), outside the lock. Without behind, work runs at
// once on the caller's goroutine and the lock is released after it.
func (s *Sequencer) goBehind(behind bool, work func()) {
	if !behind {
		defer s.stepMu.Unlock()
		work()
		return
	}
	c := make(chan struct{})
	s.behind.Store(&c)
	s.wg.Add(1) // Stop waits for it, so the store is not closed under it
	go func() {
		defer s.wg.Done()
		work()
		s.behind.CompareAndSwap(&c, nil)
		close(c)
		s.stepMu.Unlock()
		s.warmUp()
	}()
}

// Mine seals blocks at once, whatever the mining mode (evm_mine,
// anvil_mine/hardhat_mine): count blocks, the first at timestamp when it is
// set, each later one interval seconds after the one before (at least one).
// Each block takes the ready txs that fit.
func (s *Sequencer) Mine(count uint64, interval uint64, timestamp *uint64) error {
	return s.mine(count, interval, timestamp, false)
}

// MineBehind is Mine answering once the timestamp is accepted: the blocks
// are made behind the answer, and Settle waits for them. A store failure
// meanwhile halts the sequencer, as it would under Mine.
func (s *Sequencer) MineBehind(count uint64, interval uint64, timestamp *uint64) error {
	return s.mine(count, interval, timestamp, true)
}

func (s *Sequencer) mine(count uint64, interval uint64, timestamp *uint64, behind bool) error {
	s.stepMu.Lock()
	if err := s.devCheck(); err != nil {
		s.stepMu.Unlock()
		return err
	}
	if timestamp != nil {
		if err := s.setNextTimestamp(*timestamp); err != nil {
			s.stepMu.Unlock()
			return err
		}
	}
	var err error
	s.goBehind(behind, func() {
		for i := uint64(0); i < count; i++ {
			if i > 0 && s.dev.clock.interval == 0 { // a block timestamp interval rules over mine's
				head := s.headHeader()
				s.dev.clock.next = head.Time + max(interval, 1)
			}
			if _, err = s.mineBlock(s.clock.Now(), 0, true); err != nil {
				s.halt(err)
				return
			}
		}
		err = s.waitPersisted()
	})
	if behind {
		return nil
	}
	return err
}

// headHeader is the newest sealed header, in the store or being written.
func (s *Sequencer) headHeader() *types.Header {
	if sb := s.sealingSB; sb != nil {
		return sb.Block.Header()
	}
	return s.store.CurrentHeader()
}

// TimestampError is anvil's and Hardhat's refusal of a timestamp that does
// not follow the head's.
type TimestampError struct{ Got, Head uint64 }

func (e *TimestampError) Error() string {
	return fmt.Sprintf("Timestamp error: %d is lower than or equal to previous block's timestamp %d", e.Got, e.Head)
}

// SetNextBlockTimestamp fixes the next block's timestamp.
func (s *Sequencer) SetNextBlockTimestamp(t uint64) error {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	if err := s.devCheck(); err != nil {
		return err
	}
	return s.setNextTimestamp(t)
}

func (s *Sequencer) setNextTimestamp(t uint64) error {
	head := s.headHeader()
	if t <= head.Time {
		return &TimestampError{Got: t, Head: head.Time}
	}
	if t > 1<<62 {
		return errors.New("The timestamp is too big")
	}
	s.dev.clock.next = t
	return s.reopenProvisional()
}

// reopenProvisional opens the provisional block of auto and manual mining
// again so that pending reads show the new header settings.
func (s *Sequencer) reopenProvisional() error {
	if s.dev.mode == chain.MineRealtime {
		return nil
	}
	return s.reopenWith(s.clock.Now(), s.pendingEdits())
}

// IncreaseTime moves the clock forward and returns the total offset in
// seconds (evm_increaseTime).
func (s *Sequencer) IncreaseTime(secs int64) (int64, error) {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	if err := s.devCheck(); err != nil {
		return 0, err
	}
	s.dev.clock.offset += secs
	return s.dev.clock.offset, s.reopenProvisional()
}

// SetTime sets the clock to t (evm_setTime) and returns how many seconds it
// jumped forward (0 when it went back).
func (s *Sequencer) SetTime(t uint64) (int64, error) {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	if err := s.devCheck(); err != nil {
		return 0, err
	}
	if t > 1<<62 {
		return 0, errors.New("The timestamp is too big")
	}
	now := s.clock.Now().Unix()
	current := now + s.dev.clock.offset
	s.dev.clock.offset, s.dev.clock.next = int64(t)-now, 0
	return max(0, int64(t)-current), s.reopenProvisional()
}

// SetBlockTimestampInterval makes every block follow its parent by secs
// (0 removes it); it returns whether one was set before.
func (s *Sequencer) SetBlockTimestampInterval(secs uint64) (bool, error) {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	if err := s.devCheck(); err != nil {
		return false, err
	}
	had := s.dev.clock.interval != 0
	if secs == 0 && had {
		// The wall clock goes on from the last block.
		s.dev.clock.offset = int64(s.headHeader().Time) - s.clock.Now().Unix()
	}
	s.dev.clock.interval = secs
	return had, s.reopenProvisional()
}

// Mining returns the mining mode and the realtime block time.
func (s *Sequencer) Mining() (chain.MiningMode, time.Duration) {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	return s.dev.mode, s.blockTime()
}

// SetMining switches the mining mode; blockTime (realtime only; 0 keeps
// the configured one) is evm_setIntervalMining's interval.
func (s *Sequencer) SetMining(mode chain.MiningMode, blockTime time.Duration) error {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	if err := s.devCheck(); err != nil {
		return err
	}
	if mode < chain.MineRealtime || mode > chain.MineManual {
		return fmt.Errorf("unknown mining mode %d", mode)
	}
	if blockTime < 0 {
		return fmt.Errorf("block time %v is negative", blockTime)
	}
	now := s.clock.Now()
	old := s.dev.mode
	if old == chain.MineRealtime && mode != chain.MineRealtime {
		// What executed in the realtime block stays: seal it.
		if v := s.view.Load(); v.TxCount > 0 || len(s.unsealed) > 0 {
			if _, err := s.mineBlock(now, 0, true); err != nil {
				return err
			}
		}
	}
	s.dev.mode, s.dev.blockTime = mode, blockTime
	if old != mode {
		edits := s.pendingEdits()
		if err := s.discardOpen(now, mode == chain.MineRealtime); err != nil {
			return err
		}
		if len(edits) > 0 {
			if err := s.applyEdits(edits); err != nil {
				return err
			}
		}
		s.lastMini = now
	}
	s.wakeLoop()
	if mode == chain.MineAuto {
		if err := s.mineReady(); err != nil {
			return err
		}
	}
	return nil
}

// SetBlockGasLimit sets the gas limit of the next blocks.
func (s *Sequencer) SetBlockGasLimit(limit uint64) error {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	if err := s.devCheck(); err != nil {
		return err
	}
	if limit < 21_000 {
		return fmt.Errorf("gas limit %d below a transfer's 21000", limit)
	}
	s.dev.gasLimit = limit
	return s.reopenProvisional()
}

// SetCoinbase sets the fee recipient of the next blocks.
func (s *Sequencer) SetCoinbase(addr common.Address) error {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	if err := s.devCheck(); err != nil {
		return err
	}
	s.dev.coinbase = addr
	return s.reopenProvisional()
}

// SetNextBlockBaseFee sets the next block's base fee; later blocks derive
// theirs from it.
func (s *Sequencer) SetNextBlockBaseFee(fee *big.Int) error {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	if err := s.devCheck(); err != nil {
		return err
	}
	if fee.Sign() < 0 || fee.BitLen() > 256 {
		return fmt.Errorf("base fee %v out of range", fee)
	}
	s.dev.baseFee = new(big.Int).Set(fee)
	return s.reopenProvisional()
}

// SetNextBlockPrevRandao sets the next block's prevrandao (mixHash).
func (s *Sequencer) SetNextBlockPrevRandao(v common.Hash) error {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	if err := s.devCheck(); err != nil {
		return err
	}
	s.dev.mixDigest = &v
	return s.reopenProvisional()
}

// Edit applies state edits (anvil_setBalance and friends). In realtime
// mining they go into the open block at once, as a mini-block of their own;
// in auto and manual mining into the block being assembled, visible to
// this node's reads at once and to followers when it is mined.
func (s *Sequencer) Edit(edits []chain.DevEdit) error {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	if err := s.devCheck(); err != nil {
		return err
	}
	for _, e := range edits {
		if err := e.Check(); err != nil {
			return err
		}
	}
	return s.applyEdits(edits)
}

func (s *Sequencer) applyEdits(edits []chain.DevEdit) error {
	if err := s.ensureOpen(); err != nil {
		return err
	}
	if s.dev.mode == chain.MineRealtime {
		if len(s.unsealed) > 0 {
			if err := s.sealMiniBlock(s.clock.Now()); err != nil {
				return err
			}
		}
		if err := s.builder.ApplyEdits(edits); err != nil {
			return err
		}
		return s.sealMiniBlock(s.clock.Now())
	}
	if err := s.builder.ApplyEdits(edits); err != nil {
		return err
	}
	return s.showEdits()
}

// editLocally applies edits to a provisional block.
func (s *Sequencer) editLocally(edits []chain.DevEdit) error {
	if err := s.ensureOpen(); err != nil {
		return err
	}
	if err := s.builder.ApplyEdits(edits); err != nil {
		return err
	}
	return s.showEdits()
}

// showEdits makes the provisional block's edits what this node's latest
// reads see, without a mini-block (its timestamp is not known yet).
func (s *Sequencer) showEdits() error {
	if err := s.ensureOpen(); err != nil {
		return err
	}
	changes := s.builder.TakeChanges()
	old := s.view.Load()
	v := *old
	v.overlay = old.overlay.Push(changes)
	v.reader = v.overlay.Reader(old.base)
	s.view.Store(&v)
	return nil
}

// Snapshot records the chain's state (evm_snapshot) and returns its id. A
// realtime block with txs is sealed first: snapshots sit between blocks.
func (s *Sequencer) Snapshot() (uint64, error) {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	if err := s.devCheck(); err != nil {
		return 0, err
	}
	var edits []chain.DevEdit
	if s.dev.mode == chain.MineRealtime {
		if v := s.view.Load(); v.TxCount > 0 || len(s.unsealed) > 0 || !s.openEmpty() {
			if _, err := s.mineBlock(s.clock.Now(), 0, true); err != nil {
				return 0, err
			}
		}
	} else {
		edits = s.pendingEdits()
	}
	if err := s.waitPersisted(); err != nil {
		return 0, err
	}
	id := s.dev.nextID
	s.dev.nextID++
	s.dev.snapshots = append(s.dev.snapshots, devSnapshot{
		id: id, head: s.store.CurrentHeader(), clock: s.dev.clock, edits: edits,
		pool: s.pool.All(), gasLimit: s.dev.gasLimit,
	})
	return id, nil
}

// Revert goes back to snapshot id (evm_revert): blocks, mini-blocks,
// receipts and logs after it are removed (a reorg to its block that
// subscribers and followers see), the pool, the clock and the gas limit are
// as they were. It deletes that snapshot and every later one; false for an
// unknown id.
func (s *Sequencer) Revert(id uint64) (bool, error) {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	if err := s.devCheck(); err != nil {
		return false, err
	}
	at := -1
	for i, snap := range s.dev.snapshots {
		if snap.id == id {
			at = i
			break
		}
	}
	if at < 0 {
		return false, nil
	}
	snap := s.dev.snapshots[at]
	s.dev.snapshots = s.dev.snapshots[:at]
	s.dev.clock, s.dev.gasLimit = snap.clock, snap.gasLimit
	if err := s.rewind(snap.head, snap.pool, snap.edits); err != nil {
		s.halt(err)
		return false, err
	}
	return true, nil
}

// Reset goes back to genesis (anvil_reset without forking): every block
// after it, every snapshot and pooled tx, the clock and the header settings
// go; impersonation and the mining mode stay, as on anvil.
func (s *Sequencer) Reset() error {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	if err := s.devCheck(); err != nil {
		return err
	}
	return s.resetToGenesis()
}

// resetToGenesis forgets snapshots, the clock and the header settings and
// rewinds to genesis; the caller holds stepMu.
func (s *Sequencer) resetToGenesis() error {
	s.dev.snapshots = nil
	s.dev.clock = devClock{}
	s.dev.coinbase, s.dev.gasLimit, s.dev.baseFee, s.dev.mixDigest = s.cfg.Coinbase, s.cfg.GasLimit, nil, nil
	if err := s.rewind(s.store.Genesis().Header(), nil, nil); err != nil {
		s.halt(err)
		return err
	}
	return nil
}

// Refork starts a forked chain again from genesis, the genesis of a new
// fork block with src beneath its state (anvil_reset with forking
// parameters); what Reset forgets goes too.
func (s *Sequencer) Refork(cfg chain.Config, src chain.ForkSource) error {
	genesis, _, err := chain.Genesis(cfg)
	if err != nil {
		return err
	}
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	if err := s.devCheck(); err != nil {
		return err
	}
	if err := s.waitPersisted(); err != nil {
		return err
	}
	// Blocks above the old genesis go as in a reset: their logs are removed
	// for subscribers, the pool is emptied.
	if err := s.resetToGenesis(); err != nil {
		return err
	}
	if err := s.store.Refork(genesis, src); err != nil {
		s.halt(err)
		return err
	}
	if err := s.rewind(s.store.Genesis().Header(), nil, nil); err != nil {
		s.halt(err)
		return err
	}
	return nil
}

// rewind makes target the head: the store drops the blocks after it, the
// open block and the pool go (pool is pooled again), edits are the open
// block's, and subscribers and followers are told.
func (s *Sequencer) rewind(target *types.Header, pool []*types.Transaction, edits []chain.DevEdit) error {
	if err := s.waitPersisted(); err != nil {
		return err
	}
	var removedLogs []*types.Log
	// The open block's preconfirmed txs are taken back too.
	v := s.view.Load()
	_, receipts := v.Pending.Txs(v.TxCount)
	removed, err := s.store.Rewind(target.Number.Uint64())
	if err != nil {
		return err
	}
	for _, rb := range removed {
		removedLogs = chain.AppendRemovedLogs(removedLogs, rb.Receipts)
	}
	removedLogs = chain.AppendRemovedLogs(removedLogs, receipts)
	for _, tx := range s.pool.Clear() {
		s.dropped(tx.Hash(), errors.New("dropped by a revert of the chain"))
	}
	s.unsealed, s.receipts, s.miniGas = s.unsealed[:0], s.receipts[:0], 0
	s.miniCount = s.store.MiniBlockCount()
	s.published = s.miniCount
	head := s.store.CurrentHeader()
	now := s.clock.Now()
	s.lazyOpen = s.dev.mode != chain.MineRealtime && len(edits) == 0 && len(pool) == 0
	if err := s.openBlock(now); err != nil {
		return err
	}
	s.lastMini = now
	if len(edits) > 0 {
		if err := s.editLocally(edits); err != nil {
			return err
		}
	}
	for _, tx := range pool {
		if _, err := s.pool.Add(tx); err != nil {
			s.log.Debug().Err(err).Stringer("tx", tx.Hash()).Msg("pooled tx of a snapshot not re-admitted after revert")
		}
	}
	s.log.Info().Uint64("block", head.Number.Uint64()).Int("removed_blocks", len(removed)).Msg("chain reverted")
	s.headFeed.Send(&chain.Head{Header: head, MiniBlockOffset: s.miniCount, Rewound: true, Removed: removedLogs})
	if s.blockFeed.Len() == 0 {
		return nil // no follower to tell: the head's bundle is not read
	}
	msg, err := s.store.BlockMessage(head.Number.Uint64())
	if err != nil {
		return err
	}
	if msg == nil { // genesis
		msg = &chain.BlockMessage{Bundle: &chain.BlockBundle{Block: s.store.Genesis()}}
	}
	msg.Rewind = true
	s.blockFeed.Send(msg)
	return nil
}

// DropTransaction removes a pooled tx; false if it is not in the pool.
func (s *Sequencer) DropTransaction(hash common.Hash) (bool, error) {
	if !s.cfg.Dev {
		return false, ErrNotDev
	}
	if !s.pool.Remove(hash) {
		return false, nil
	}
	s.dropped(hash, errors.New("dropped from the pool (anvil_dropTransaction)"))
	return true, nil
}

// DropAllTransactions empties the pool.
func (s *Sequencer) DropAllTransactions() error {
	if !s.cfg.Dev {
		return ErrNotDev
	}
	for _, tx := range s.pool.Clear() {
		s.dropped(tx.Hash(), errors.New("dropped from the pool (anvil_dropAllTransactions)"))
	}
	return nil
}

// Snapshots lists the live snapshot ids with their blocks.
func (s *Sequencer) Snapshots() map[uint64]*types.Header {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	out := make(map[uint64]*types.Header, len(s.dev.snapshots))
	for _, snap := range s.dev.snapshots {
		out[snap.id] = snap.head
	}
	return out
}

// AwaitMined admits tx and, while the chain mines a block per tx, waits
// until its block is sealed; a tx that has to wait for a nonce or a lower
// base fee returns at once, as on anvil and Hardhat. The outcome is nil
// when it did not wait. Under automine the caller's goroutine recovers the
// sender and mines the block itself: no hand-off to the verifiers or the
// loop lies on a test's path.
func (s *Sequencer) AwaitMined(tx *types.Transaction, timeout time.Duration) (*chain.TxOutcome, error) {
	return s.awaitMined(tx, timeout, false)
}

// AwaitExecuted is AwaitMined answering once tx has executed in its block:
// the outcome's receipt has the tx's result but not the block's hash, and
// the block is sealed behind the answer on a goroutine of its own (Settle
// waits for it), as anvil answers before it mines.
func (s *Sequencer) AwaitExecuted(tx *types.Transaction, timeout time.Duration) (*chain.TxOutcome, error) {
	return s.awaitMined(tx, timeout, true)
}

func (s *Sequencer) awaitMined(tx *types.Transaction, timeout time.Duration, behind bool) (*chain.TxOutcome, error) {
	s.stepMu.Lock()
	auto := s.dev.mode == chain.MineAuto
	s.stepMu.Unlock()
	if !auto {
		return nil, s.SendTransaction(tx)
	}
	ch, cancel := s.await(tx.Hash())
	defer cancel()
	if err := s.admitting(); err != nil {
		return nil, err
	}
	_, _ = types.Sender(s.pool.signer, tx)
	if err := s.admit(tx, false); err != nil {
		return nil, err
	}
	if s.pool.waiting(tx.Hash()) {
		return nil, nil
	}
	var early chan chain.TxOutcome
	s.stepMu.Lock()
	if s.dev.mode == chain.MineAuto && s.failed == nil && s.leading.Load() {
		if behind {
			early = make(chan chain.TxOutcome, 1)
			if s.dev.early == nil {
				s.dev.early = make(map[common.Hash]chan chain.TxOutcome)
			}
			s.dev.early[tx.Hash()] = early
		}
		s.goBehind(behind, func() {
			if err := s.mineReady(); err != nil {
				s.halt(err)
			}
			clear(s.dev.early) // txs that did not execute: their waiters have ch
		})
	} else {
		s.stepMu.Unlock()
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case out := <-early:
		return &out, nil
	case out := <-ch:
		// The executed outcome is sent before the sealed one: when both
		// are there (the seal behind the answer was quick), the answer is
		// the executed one, not select's random pick.
		select {
		case e := <-early:
			return &e, nil
		default:
		}
		if out.Dropped != nil {
			return nil, out.Dropped
		}
		return &out, nil
	case <-timer.C:
		return nil, nil
	}
}
