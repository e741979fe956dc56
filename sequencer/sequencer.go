package sequencer

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/l1"
	"github.com/meganode/meganode/storage"
)

// ErrStopped is returned for work handed to a sequencer that is not running.
var ErrStopped = errors.New("sequencer stopped")

// Clock is the sequencer's time source.
type Clock interface{ Now() time.Time }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// Config configures block production.
type Config struct {
	MiniBlockTime time.Duration  // default 10ms
	BlockTime     time.Duration  // default 1s; at least 1s, header times are seconds
	Eager         bool           // seal a mini-block as soon as a tx executed when idle
	EagerMaxTxs   int            // above this many txs per interval the load batches at the interval, default 32
	GasLimit      uint64         // block gas limit
	Coinbase      common.Address // fee recipient
	Pool          PoolConfig
	PreconfHash   common.Hash // blockHash of preconfirmed receipts, default all-ones
	// FaultyRootAt, when set, seals that block with a wrong state root (the
	// state itself stays right and later blocks build on it): a devnet-only
	// fault injection for fraud-proof tests.
	FaultyRootAt uint64
	// HA makes the sequencer one candidate of a high-availability set: it
	// starts as a standby and produces only while SetFence's raft group has
	// made it leader; the raft log, not the local journal, keeps the open
	// block across crashes.
	HA bool
	// Dev makes a dev chain (the devnet, --dev): the dev methods (mining,
	// time, snapshots, state edits, impersonation) work; see dev.go.
	Dev bool
	// Mining is how blocks are made (dev chains may change it at run time):
	// chain.MineRealtime, the default, or chain.MineAuto (a block per tx, at once).
	Mining chain.MiningMode
	// NoWitness records no execution witness with each block: for a
	// sequencer nothing follows or proves (a devnet running it alone, with
	// no DA layer). Recording one costs about as much as the block itself.
	NoWitness bool
	// Deposits, when set, is the L1 the sequencer takes deposits from: every
	// block it opens runs the deposits of the L1 blocks confirmed since its
	// parent's cursor, ahead of its transactions (docs/l1.md).
	Deposits DepositSource
}

// DepositSource hands the sequencer the deposits of confirmed L1 blocks.
// l1.DepositFeed is one.
type DepositSource interface {
	// Since returns, without waiting on the L1, the deposits of the
	// confirmed L1 blocks after the cursor after, one group per L1 block
	// with deposits, oldest first, and the newest confirmed L1 block
	// (after itself, or zero, when the source knows none newer). An error
	// wrapping l1.ErrCursorReorged says a reorg replaced after's L1 block.
	Since(after chain.L1Origin) ([]chain.L1Deposits, chain.L1Origin, error)
}

// DefaultConfig returns the devnet defaults.
func DefaultConfig() Config {
	return Config{
		MiniBlockTime: 10 * time.Millisecond,
		BlockTime:     time.Second,
		Eager:         true,
		EagerMaxTxs:   32,
		GasLimit:      chain.DefaultGasLimit,
		Pool:          DefaultPoolConfig(),
		PreconfHash:   chain.PreconfBlockHash,
	}
}

// Check validates the configuration.
func (c Config) Check() error {
	switch {
	case c.MiniBlockTime <= 0:
		return fmt.Errorf("mini-block time %v must be positive", c.MiniBlockTime)
	case c.BlockTime < time.Second:
		return fmt.Errorf("block time %v below 1s: header timestamps are seconds and must increase", c.BlockTime)
	case c.MiniBlockTime > c.BlockTime:
		return fmt.Errorf("mini-block time %v above block time %v", c.MiniBlockTime, c.BlockTime)
	case c.Eager && c.EagerMaxTxs < 1:
		return fmt.Errorf("eager mode needs a positive tx threshold, have %d", c.EagerMaxTxs)
	case c.GasLimit < params.TxGas:
		return fmt.Errorf("gas limit %d too low", c.GasLimit)
	case c.Mining != chain.MineRealtime && !c.Dev:
		return errors.New("automine and manual mining are for dev chains (--dev)")
	case c.Dev && c.HA:
		return errors.New("a dev chain has no HA set: its reverts and edits are not raft entries")
	case c.Mining < chain.MineRealtime || c.Mining > chain.MineManual:
		return fmt.Errorf("unknown mining mode %d", c.Mining)
	}
	return c.Pool.Check()
}

// View is a consistent snapshot of the chain head for readers: the sealed
// head, the block in progress and the state after the newest mini-block.
type View struct {
	Sealed    *types.Header
	Pending   *chain.PendingBlock
	TxCount   int    // txs of Pending visible in this view
	GasUsed   uint64 // gas used by them
	MiniBlock uint64 // number of mini-blocks sealed so far in the chain
	MiniIndex uint64 // mini-blocks sealed so far in the pending block
	overlay   *chain.Overlay
	root      common.Hash  // the sealed head's state (its header's root but under fault injection)
	base      state.Reader // the sealed root's reader, opened once per block
	reader    state.Reader // overlay over base
	// sealing is the previous block while it is written to the store: its
	// txs keep their preconfirmed receipts until the store has them.
	sealing    *chain.PendingBlock
	sealingTxs int
}

// Reader reads the newest mini-block state.
func (v *View) Reader() state.Reader { return v.reader }

// PendingHeader is the header of the block being built.
func (v *View) PendingHeader() *types.Header { return v.Pending.Header }

// Sequencer produces blocks. The loop goroutine owns the builder; everything
// readers see goes through the atomically published View.
type Sequencer struct {
	cfg    Config
	log    zerolog.Logger
	store  *storage.Store
	config *params.ChainConfig
	clock  Clock
	pool   *Pool
	// Reused by execute: the txs taken from the pool and what became of them.
	batch    []*pooledTx
	outcomes []outcome
	invalid  []droppedTx
	// gate is held by the loop while it seals a block: bulk sender
	// recovery (read-held per tx) pauses, so the seal has the CPUs it needs
	// to keep the next mini-block on time instead of sharing them with a
	// burst of admissions.
	gate sync.RWMutex

	// Loop-owned.
	builder *chain.BlockBuilder
	// buildOpen builds the open block's builder when a dev block was opened
	// without one (lazyOpen); ensureOpen calls it before the builder is used.
	// With warmOpen the loop may build it ahead of need (warm), outside the
	// lock, once an answer has gone out (Prepare).
	buildOpen *openFuture
	lazyOpen  bool
	warmOpen  bool
	warm      atomic.Pointer[openFuture]
	warmCh    chan struct{}
	opened    time.Time
	miniCount uint64 // global mini-blocks sealed
	miniIndex uint64
	unsealed  []*pooledTx
	realRoots map[common.Hash]common.Hash // fault injection: block hash → the state it really has
	receipts  []*types.Receipt
	miniGas   uint64
	failed    error
	// halted is failed for readers outside the loop (admission, /ready),
	// which must not wait for a step.
	halted atomic.Pointer[error]
	// Disk full (storage.ErrDiskFull): production pauses; a sealed block the
	// store refused is held and written again once space is back.
	paused   bool
	heldSeal *chain.SealedBlock
	// The block in writing waits here for space when the store refused it.
	persistWaiting atomic.Bool
	spaceFreed     chan struct{}
	// Txs executed in the current and the previous mini-block interval: eager
	// sealing stops while either is above EagerMaxTxs.
	intervalTxs, prevIntervalTxs int
	intervalStart                time.Time
	lastMini                     time.Time // when the newest mini-block was sealed
	metrics                      Metrics

	view    atomic.Pointer[View]
	senders []common.Address // of the open block's txs, in order
	// With pipelined persistence (a started, non-HA sequencer) a sealed
	// block is written to the store while the next one executes.
	pipelined  bool
	persisting chan struct{}      // closed when the block in writing is stored; nil if none
	sealingSB  *chain.SealedBlock // that block
	persistErr atomic.Pointer[error]
	miniFeed   chain.Feed[*chain.MiniBlock]
	blockFeed  chain.Feed[*chain.BlockMessage]
	headFeed   chain.Feed[*chain.Head]
	txFeed     chain.Feed[*types.Transaction]
	waitMu     sync.Mutex
	waiters    map[common.Hash][]chan chain.TxOutcome
	stepMu     sync.Mutex // serialises steps between the loop and tests
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	running    atomic.Bool
	recovery   []journaled // read from the journal by New, rebuilt by the first step
	recovering bool        // rebuilding it: blocks open without asking the L1 for deposits
	// orphanedCursor is the cursor the L1 source last reported reorged out
	// (logged once; zero once a cursor is canonical again).
	orphanedCursor chain.L1Origin

	// High availability (Config.HA): the raft group output is committed to
	// before anyone sees it, whether this candidate leads, and how many
	// mini-blocks the feeds have carried (a standby rebuilding its open
	// block after a step-down does not send them twice).
	fence      Fence
	fenceSpace FenceSpace // the fence's, if its log is on a disk that can fill
	leading    atomic.Bool
	published  uint64
	republish  atomic.Bool

	// Dev chains (Config.Dev): loop-owned under stepMu, but impersonation.
	dev  devState
	imp  impersonation
	wake chan struct{} // a dev method changed how the loop waits
	// behind is closed once the work a dev answer left behind it is done
	// (the seal of an automined block, a mine call's blocks); nil if none.
	behind atomic.Pointer[chan struct{}]
}

// Fence is the raft group of an HA sequencer set.
type Fence interface {
	// Commit returns once a quorum holds data, or an error when this
	// candidate cannot commit (it is not, or no longer, the leader).
	Commit(data []byte) error
	// Committed returns the committed entries of blocks above the local
	// sealed head, in log order.
	Committed() []Entry
	// Leader is the raft id of the current leader, "" when unknown.
	Leader() string
	// IsLeader reports whether this candidate holds the group's leadership,
	// which it keeps while it hands it over (its sequencer no longer leads).
	IsLeader() bool
}

// FenceSpace is a Fence whose log is on a disk that can fill. The sequencer
// checks it beside the store's data directory at every step: full, it admits
// nothing, answers /ready with the reason and commits nothing.
type FenceSpace interface {
	// CheckSpace measures the log's free space and returns DiskFull's answer.
	CheckSpace() error
	// DiskFull is the last verdict: nil, or an error wrapping
	// storage.ErrDiskFull.
	DiskFull() error
}

// New builds a sequencer on store, opening the block after the stored head
// and re-admitting transactions journaled before a crash. It starts nothing.
func New(cfg Config, store *storage.Store, clock Clock, log zerolog.Logger) (*Sequencer, error) {
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("sequencer: %w", err)
	}
	if clock == nil {
		clock = wallClock{}
	}
	s := &Sequencer{
		cfg:        cfg,
		log:        log.With().Str("role", "sequencer").Logger(),
		store:      store,
		config:     store.ChainConfig(),
		clock:      clock,
		miniCount:  store.MiniBlockCount(),
		waiters:    make(map[common.Hash][]chan chain.TxOutcome),
		wake:       make(chan struct{}, 1),
		warmCh:     make(chan struct{}, 1),
		spaceFreed: make(chan struct{}, 1),
	}
	s.dev = newDevState(cfg)
	s.imp.accounts = make(map[common.Address]bool)
	cfg.Pool.Dev = cfg.Dev
	s.pool = NewPool(cfg.Pool, s.config, s)
	s.published = s.miniCount
	switch {
	case store.Syncing() && !cfg.HA:
		return nil, fmt.Errorf("sequencer: %w in the data directory: only an HA candidate (--ha.id with --sync.mode snap) finishes one", storage.ErrSyncUnfinished)
	case store.Syncing():
		// The node finishes the state sync before Start; Reopen opens
		// the block then.
	default:
		if err := s.openBlock(clock.Now()); err != nil {
			return nil, err
		}
	}
	if cfg.HA {
		return s, nil // standby until the raft group elects it
	}
	s.leading.Store(true)
	// A crash while a sealed block was being written leaves the journal of
	// the block after it too. The first step rebuilds them (recover).
	next := store.CurrentHeader().Number.Uint64() + 1
	for n := next; n <= next+1; n++ {
		entries, err := store.JournaledMiniBlocks(n)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			s.recovery = append(s.recovery, journaled{block: n, JournalEntry: e})
		}
	}
	return s, nil
}

// journaled is a mini-block read from the journal at start-up.
type journaled struct {
	block uint64
	storage.JournalEntry
}

// recover rebuilds the mini-blocks journaled before a crash, each with its
// number, index and timestamps, so followers get the very mini-blocks they
// may have had (and the numbers go on after them): the open block reopens
// at its header time and executes their txs in journal order, ahead of
// anything new, so each tx keeps the position its preconfirmed receipt
// named (the pool would run every sender's first tx before any sender's
// second). A journal of the block after it means that block was sealed: it
// is sealed again, to the same hash. Nothing is journaled again; new records
// follow the recovered ones, so a second crash still finds every tx.
func (s *Sequencer) recover() error {
	entries := s.recovery
	s.recovery = nil
	txs, last := 0, time.Time{}
	for _, e := range entries {
		open := s.builder.Header().Number.Uint64()
		if e.Legacy {
			// The older journal format keeps no position: its txs go into
			// the open block's next mini-block.
			e.block, e.BlockTime, e.Index, e.Number = open, s.builder.Header().Time, s.miniIndex, s.miniCount
			e.TimestampMicros = uint64(s.clock.Now().UnixMicro())
		}
		if e.block > open {
			s.padMiniBlocks(e.Number-e.Index, e.TimestampMicros)
			sb, err := s.builder.Seal()
			if err != nil {
				return err
			}
			if err := s.persistSealed(sb); err != nil {
				return fmt.Errorf("seal block %d again from the journal: %w", open, err)
			}
		}
		if !e.Legacy && (e.block > open || s.miniIndex == 0) {
			// Opened again at its time and with its deposits: those the L1
			// has now may be more (New opened it before it read the journal).
			s.recovering = true
			err := s.openBlock(time.Unix(int64(e.BlockTime), 0))
			s.recovering = false
			if err != nil {
				return err
			}
			if e.Index == 0 && (len(e.Deposits) > 0 || e.L1Origin != (chain.L1Origin{})) {
				if err := s.applyDeposits(e.Deposits, e.L1Origin, e.Number); err != nil {
					return err
				}
			}
		}
		if e.Number < s.miniCount {
			// Never written so; its txs had receipts, so they still go in.
			s.log.Warn().Uint64("miniblock", e.Number).Uint64("next", s.miniCount).Msg("journaled mini-block behind the numbering")
		}
		// Empty mini-blocks are written unsynced: a power cut may take some.
		s.padMiniBlocks(e.Number, e.TimestampMicros)
		signer := s.builder.Signer()
		var done types.Transactions
		for _, tx := range e.Txs {
			from, err := types.Sender(signer, tx)
			var receipt *types.Receipt
			if err == nil {
				receipt, err = s.builder.ApplyTx(tx)
			}
			if err != nil {
				s.log.Warn().Err(err).Stringer("tx", tx.Hash()).Msg("journaled tx not re-executed")
				continue
			}
			s.unsealed = append(s.unsealed, &pooledTx{tx: tx, from: from})
			s.receipts = append(s.receipts, receipt)
			s.miniGas += receipt.GasUsed
			done = append(done, tx)
		}
		txs += len(done)
		s.publishMiniBlock(done, e.TimestampMicros)
		last = time.UnixMicro(int64(e.TimestampMicros))
	}
	if len(entries) > 0 {
		// The block keeps its time: it seals BlockTime after it opened.
		s.opened, s.lastMini = time.Unix(int64(s.builder.Header().Time), 0), last
		s.log.Info().Int("txs", txs).Int("miniblocks", len(entries)).Uint64("block", s.builder.Header().Number.Uint64()).
			Uint64("next_miniblock", s.miniCount).Msg("recovered preconfirmed mini-blocks from journal")
	}
	return nil
}

// padMiniBlocks publishes empty mini-blocks up to number.
func (s *Sequencer) padMiniBlocks(number, micros uint64) {
	for s.miniCount < number {
		s.publishMiniBlock(nil, micros)
	}
}

// Reader and PendingHeader make the sequencer the pool's PoolState.
func (s *Sequencer) Reader() state.Reader         { return s.view.Load().reader }
func (s *Sequencer) PendingHeader() *types.Header { return s.view.Load().Pending.Header }

// View returns the current head view.
func (s *Sequencer) View() *View { return s.view.Load() }

// Pool returns the mempool.
func (s *Sequencer) Pool() *Pool { return s.pool }

// MiniBlocks subscribes to sealed mini-blocks.
func (s *Sequencer) MiniBlocks(buffer int) *chain.Subscription[*chain.MiniBlock] {
	return s.miniFeed.Subscribe(buffer)
}

// Heads subscribes to sealed block headers.
func (s *Sequencer) Heads(buffer int) *chain.Subscription[*chain.Head] {
	return s.headFeed.Subscribe(buffer)
}

// Blocks subscribes to sealed blocks as they are published downstream: the
// bundle with its witness, the mini-block count and the txs' senders.
func (s *Sequencer) Blocks(buffer int) *chain.Subscription[*chain.BlockMessage] {
	return s.blockFeed.Subscribe(buffer)
}

// PendingTxs subscribes to transactions as the pool admits them.
func (s *Sequencer) PendingTxs(buffer int) *chain.Subscription[*types.Transaction] {
	return s.txFeed.Subscribe(buffer)
}

// SendTransaction admits tx into the pool.
func (s *Sequencer) SendTransaction(tx *types.Transaction) error {
	return s.submit(tx, false)
}

// SendTransactions admits a batch in order, like SendTransaction each, with
// the senders recovered in parallel first.
func (s *Sequencer) SendTransactions(txs []*types.Transaction) []error {
	errs := make([]error, len(txs))
	if err := s.admitting(); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	recoverSenders(s.pool.signer, txs, &s.gate)
	if err := s.admitting(); err != nil { // deposed or halted while recovering
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	// One pool lock for the batch: the production loop takes the same lock.
	replaced := s.pool.addRecoveredBatch(txs, errs)
	for i, tx := range txs {
		if errs[i] == nil {
			s.admitted(tx, replaced[i])
		}
	}
	return errs
}

// admitting is nil while the sequencer takes transactions.
func (s *Sequencer) admitting() error {
	if s.standby() {
		// A standby refuses as a standby whatever its own disk holds: the
		// leader can take the tx, and clients and the gateway retry the
		// not-leader error there. Healthy (/ready) still names the disk.
		if err := s.failure(); err != nil {
			return err
		}
		return s.notLeader()
	}
	if err := s.diskFull(); err != nil {
		return fmt.Errorf("not admitting transactions: %w", err)
	}
	if err := s.failure(); err != nil {
		return err
	}
	if !s.leading.Load() {
		return s.notLeader()
	}
	return nil
}

func (s *Sequencer) submit(tx *types.Transaction, rejectGap bool) error {
	if err := s.admitting(); err != nil {
		return err
	}
	recoverSender(s.pool.signer, tx)
	return s.admit(tx, rejectGap)
}

// admit pools tx, its sender recovered.
func (s *Sequencer) admit(tx *types.Transaction, rejectGap bool) error {
	_, replaced, err := s.pool.addRecovered(tx, rejectGap)
	if err != nil {
		return err
	}
	s.admitted(tx, replaced)
	return nil
}

// admitted announces a pooled tx and the one it replaced, if any.
func (s *Sequencer) admitted(tx, replaced *types.Transaction) {
	if replaced != nil {
		s.dropped(replaced.Hash(), fmt.Errorf("replaced by transaction %s", tx.Hash()))
	}
	s.txFeed.Send(tx)
}

// SubmitAwait admits tx like SendTransaction and returns a channel that
// yields once, when the tx is in a sealed mini-block or has left the pool
// without executing. With rejectGap a nonce gap is refused with a
// *chain.NonceGapError and nothing is pooled. cancel must be called when the
// caller stops waiting.
func (s *Sequencer) SubmitAwait(tx *types.Transaction, rejectGap bool) (<-chan chain.TxOutcome, func(), error) {
	ch, cancel := s.await(tx.Hash())
	if err := s.submit(tx, rejectGap); err != nil {
		cancel()
		return nil, nil, err
	}
	return ch, cancel, nil
}

// await registers a waiter for the outcome of tx hash; cancel removes it.
func (s *Sequencer) await(hash common.Hash) (<-chan chain.TxOutcome, func()) {
	ch := make(chan chain.TxOutcome, 1)
	s.waitMu.Lock()
	s.waiters[hash] = append(s.waiters[hash], ch)
	s.waitMu.Unlock()
	cancel := func() {
		s.waitMu.Lock()
		defer s.waitMu.Unlock()
		list := s.waiters[hash]
		for i, c := range list {
			if c == ch {
				list = append(list[:i:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(s.waiters, hash)
		} else {
			s.waiters[hash] = list
		}
	}
	return ch, cancel
}

// resolve wakes the waiters of txs that a mini-block just published.
func (s *Sequencer) resolve(txs types.Transactions, receipts []*types.Receipt, block uint64) {
	s.waitMu.Lock()
	defer s.waitMu.Unlock()
	if len(s.waiters) == 0 {
		return
	}
	for i, tx := range txs {
		list, ok := s.waiters[tx.Hash()]
		if !ok {
			continue
		}
		out := chain.TxOutcome{Tx: tx, Receipt: receipts[i], BlockNumber: block, Index: uint64(receipts[i].TransactionIndex)}
		for _, c := range list {
			c <- out
		}
		delete(s.waiters, tx.Hash())
	}
}

// dropped wakes the waiters of a tx that left the pool without executing.
func (s *Sequencer) dropped(hash common.Hash, reason error) {
	s.waitMu.Lock()
	defer s.waitMu.Unlock()
	for _, c := range s.waiters[hash] {
		c <- chain.TxOutcome{Dropped: reason}
	}
	delete(s.waiters, hash)
}

// Config returns the production configuration.
func (s *Sequencer) Config() Config { return s.cfg }

func (s *Sequencer) failure() error {
	if err := s.halted.Load(); err != nil {
		return fmt.Errorf("sequencer halted: %w", *err)
	}
	return nil
}

// Start runs the production loop.
func (s *Sequencer) Start(context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("sequencer already started")
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.stepMu.Lock()
	s.pipelined = !s.cfg.HA
	s.stepMu.Unlock()
	if len(s.recovery) > 0 {
		// Mini-blocks recovered from the journal are published before the RPC
		// server (started after the sequencer) admits anything against a
		// view that lacks them.
		s.Step(true)
	}
	s.wg.Add(1)
	go s.loop()
	s.log.Info().Dur("miniblock_time", s.cfg.MiniBlockTime).Dur("block_time", s.cfg.BlockTime).Bool("eager", s.cfg.Eager).Msg("sequencer started")
	return nil
}

// Stop ends the loop; the open block is not sealed, its mini-blocks stay
// journaled and are re-executed on the next start. Idempotent.
func (s *Sequencer) Stop(context.Context) error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	s.wg.Wait()
	s.running.Store(false)
	return nil
}

func (s *Sequencer) loop() {
	defer s.wg.Done()
	// The timer fires when the next mini-block is due: MiniBlockTime after
	// the previous one was sealed, however it was triggered.
	timer := time.NewTimer(s.cfg.MiniBlockTime)
	defer timer.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-timer.C:
			s.Step(true)
		case <-s.pool.Notify():
			s.Step(false)
		case <-s.wake:
		case <-s.warmCh:
			s.warmUp()
		}
		timer.Reset(s.untilDue())
	}
}

// untilDue is how long until the next mini-block is due.
func (s *Sequencer) untilDue() time.Duration {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	if s.dev.mode != chain.MineRealtime {
		return time.Hour // only transactions and dev methods make blocks
	}
	if s.paused {
		return s.cfg.MiniBlockTime // look at the disk again
	}
	return max(0, s.lastMini.Add(s.cfg.MiniBlockTime).Sub(s.clock.Now()))
}

// Step executes ready transactions and seals what is due: a mini-block when
// MiniBlockTime has passed since the previous one (or on a tick, or in eager
// mode whenever something executed) and the block when BlockTime has passed
// since it opened. Execution stops when the mini-block is due, so a steady
// load cannot stretch the interval.
func (s *Sequencer) Step(tick bool) {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	if err := s.persistErr.Load(); err != nil && s.failed == nil {
		s.halt(*err)
	}
	if s.failed != nil || !s.leading.Load() {
		return
	}
	if !s.diskReady() {
		return
	}
	if s.recovery != nil {
		if err := s.recover(); err != nil {
			s.halt(err)
			return
		}
	}
	switch s.dev.mode {
	case chain.MineAuto:
		if err := s.mineReady(); err != nil {
			s.halt(err)
		}
		return
	case chain.MineManual:
		return
	}
	start := s.clock.Now()
	if start.Sub(s.intervalStart) >= s.cfg.MiniBlockTime { // eager sealing looks at the load per interval of wall time
		s.prevIntervalTxs, s.intervalTxs, s.intervalStart = s.intervalTxs, 0, start
	}
	// Execution stops when the mini-block is due; a step that starts on time
	// or late (the loop waited for a CPU) executes what is ready for at
	// most a twentieth of the interval more, then seals.
	due := s.lastMini.Add(s.cfg.MiniBlockTime)
	deadline := due
	if !due.After(start) {
		deadline = start.Add(s.cfg.MiniBlockTime / 20)
	}
	n := s.execute(deadline)
	s.intervalTxs += n
	now := s.clock.Now()
	periodic := tick || !now.Before(due)
	if periodic || s.eager(n) {
		if err := s.sealMiniBlock(now); err != nil {
			if errors.Is(err, storage.ErrDiskFull) {
				// Executed, not journaled: the txs stay unpublished (no
				// receipt) and go into the first mini-block after the pause.
				s.pause(err)
				return
			}
			s.halt(err)
			return
		}
	}
	if periodic && now.Sub(s.opened) >= s.blockTime() && s.leading.Load() && !s.persistWaiting.Load() {
		s.gate.Lock() // until the next block is open
		defer s.gate.Unlock()
		sealStart := time.Now()
		if err := s.sealBlock(); err != nil {
			if errors.Is(err, errSealHeld) {
				return
			}
			s.halt(err)
			return
		}
		if !s.leading.Load() {
			return // deposed while committing the seal: rebuilt from the raft log
		}
		if err := s.openBlock(now); err != nil {
			s.halt(err)
			return
		}
		observe(s.metrics.BlockSeal, time.Since(sealStart))
	}
}

// eager reports whether txs that just executed are sealed at once rather
// than at the next tick: only in eager mode, and only while the sequencer is
// near idle, so a lone transaction's receipt is back in about a millisecond
// while a sustained load still batches into one mini-block per interval.
func (s *Sequencer) eager(executed int) bool {
	return s.cfg.Eager && executed > 0 &&
		s.intervalTxs <= s.cfg.EagerMaxTxs && s.prevIntervalTxs <= s.cfg.EagerMaxTxs
}

// halt stops production after a critical error (corrupt state, a failed
// write other than a full disk): nothing is sealed that could not be
// persisted.
func (s *Sequencer) halt(err error) {
	s.failed = err
	s.halted.Store(&err)
	s.log.Error().Err(err).Msg("sequencer halted")
}

// errSealHeld is sealBlock's answer when the store refused the sealed block
// for a full disk: it is held and written again once space is back.
var errSealHeld = errors.New("sealed block held until the disk has space")

// diskReady measures the data directory's space and says whether production
// may go on: a full disk pauses it (admission refuses meanwhile, /ready is
// 503), and once space is back the held block is written first.
func (s *Sequencer) diskReady() bool {
	if err := s.checkSpace(); err != nil {
		s.pause(err)
		return false
	}
	if s.persistWaiting.Load() {
		select {
		case s.spaceFreed <- struct{}{}:
		default:
		}
	}
	if s.paused {
		s.paused = false
		s.log.Info().Msg("disk has space again: production resumes")
	}
	if sb := s.heldSeal; sb != nil {
		if err := s.persist(sb); err != nil {
			if errors.Is(err, storage.ErrDiskFull) {
				s.pause(err)
				return false
			}
			s.halt(err)
			return false
		}
		s.heldSeal = nil
		if !s.leading.Load() {
			return false
		}
		s.gate.Lock()
		err := s.openBlock(s.clock.Now())
		s.gate.Unlock()
		if err != nil {
			s.halt(err)
			return false
		}
	}
	return true
}

// pause notes that production waits for disk space.
func (s *Sequencer) pause(err error) {
	if !s.paused {
		s.paused = true
		s.log.Error().Err(err).Int("unjournaled_txs", len(s.unsealed)).Bool("seal_held", s.heldSeal != nil).
			Msg("disk full: admission and production paused until space is freed")
	}
}

// droppedTx is a tx that failed at execution, with why.
type droppedTx struct {
	hash common.Hash
	err  error
}

// takeBatch is how many ready txs execute takes from the pool at a time.
const takeBatch = 64

// execute runs ready txs until deadline.
func (s *Sequencer) execute(deadline time.Time) int {
	return s.executeUpTo(deadline, 0)
}

// executeUpTo runs ready txs until deadline (zero: none), at most limit of
// them (0: no limit).
func (s *Sequencer) executeUpTo(deadline time.Time, limit int) int {
	if err := s.ensureOpen(); err != nil {
		s.halt(err)
		return 0
	}
	header := s.builder.Header()
	n := 0
	for limit == 0 || n < limit {
		take := takeBatch
		if limit > 0 {
			take = min(take, limit-n)
		}
		batch := s.pool.NextBatch(header.BaseFee, s.batch[:0], take)
		if len(batch) == 0 {
			return n
		}
		outcomes, invalid := s.outcomes[:0], s.invalid[:0]
		due := false
		for _, ptx := range batch {
			if due = due || (!deadline.IsZero() && !s.clock.Now().Before(deadline)); due { // a clock read is ~0.1 % of a transfer
				outcomes = append(outcomes, unused)
				continue
			}
			receipt, err := s.builder.ApplyTx(ptx.tx)
			switch {
			case err == nil:
				outcomes = append(outcomes, executed)
				s.unsealed = append(s.unsealed, ptx)
				s.receipts = append(s.receipts, receipt)
				s.miniGas += receipt.GasUsed
				n++
				if s.dev.collect != nil {
					vmErr, revert := s.builder.LastResult()
					s.dev.collect[ptx.tx.Hash()] = devResult{vmErr, revert}
				}
			case errors.Is(err, chain.ErrBlockFull), errors.Is(err, chain.ErrFeeCapTooLow), errors.Is(err, chain.ErrInsufficientFunds):
				outcomes = append(outcomes, retry)
				s.log.Debug().Err(err).Stringer("tx", ptx.tx.Hash()).Msg("tx deferred to next block")
			default:
				outcomes = append(outcomes, dropped)
				invalid = append(invalid, droppedTx{ptx.tx.Hash(), err})
				s.log.Warn().Err(err).Stringer("tx", ptx.tx.Hash()).Stringer("from", ptx.from).Msg("tx dropped at execution")
			}
		}
		s.pool.DoneBatch(batch, outcomes)
		for _, d := range invalid { // out of the pool first: a resend is not "already known"
			s.dropped(d.hash, d.err)
		}
		clear(batch)
		clear(invalid)
		s.batch, s.outcomes, s.invalid = batch, outcomes, invalid
		if due {
			return n
		}
	}
	return n
}

// sealMiniBlock commits (with HA) or journals what executed since the last
// mini-block, then publishes it.
func (s *Sequencer) sealMiniBlock(now time.Time) error {
	start := time.Now() // wall time for the metrics; now may be a test's clock
	if err := s.ensureOpen(); err != nil {
		return err
	}
	header := s.builder.Header()
	txs := make(types.Transactions, len(s.unsealed))
	for i, p := range s.unsealed {
		txs[i] = p.tx
	}
	if s.fence != nil {
		// Commit before anyone can see the receipts: a deposed leader's
		// commit fails and nothing it executed since is ever published.
		entry := &MiniEntry{BlockNumber: header.Number.Uint64(), BlockTime: header.Time,
			Index: s.miniIndex, Number: s.miniCount, TimestampMicros: uint64(now.UnixMicro()), Txs: txs}
		entry.Deposits, entry.L1Origin = s.blockDeposits()
		data, err := EncodeEntry(Entry{Mini: entry})
		if err != nil {
			return err
		}
		if err := s.fence.Commit(data); err != nil {
			return s.stepDownLocked(fmt.Errorf("commit of mini-block %d: %w", s.miniCount, err))
		}
	} else {
		// Journal before anyone can see the receipts: a crash after this
		// point re-executes the txs, it never loses them. Empty mini-blocks
		// too, so a restart numbers on after every one followers had.
		entry := &storage.JournalEntry{BlockTime: header.Time,
			Index: s.miniIndex, Number: s.miniCount, TimestampMicros: uint64(now.UnixMicro()), Txs: txs}
		entry.Deposits, entry.L1Origin = s.blockDeposits()
		if err := s.store.JournalMiniBlock(header.Number.Uint64(), entry); err != nil {
			return err
		}
	}
	if !s.lastMini.IsZero() && s.dev.mode == chain.MineRealtime {
		observe(s.metrics.MiniBlockInterval, now.Sub(s.lastMini))
	}
	s.lastMini = now
	unsealed := s.unsealed // publishMiniBlock empties the slice, not its array
	s.publishMiniBlock(txs, uint64(now.UnixMicro()))
	if s.metrics.Preconf != nil || s.metrics.MiniBlockSeal != nil {
		visible := time.Now()
		observe(s.metrics.MiniBlockSeal, visible.Sub(start))
		if s.metrics.Preconf != nil {
			for _, p := range unsealed {
				if !p.added.IsZero() {
					s.metrics.Preconf.Observe(visible.Sub(p.added).Seconds())
				}
			}
		}
	}
	return nil
}

// blockDeposits is what the first mini-block of a block carries to the raft
// log or the journal: the block's deposits and L1 cursor. Later ones carry
// none.
func (s *Sequencer) blockDeposits() ([]*chain.Deposit, chain.L1Origin) {
	if s.miniIndex != 0 {
		return nil, chain.L1Origin{}
	}
	deposits, _ := s.builder.Deposits()
	return deposits, s.builder.L1Origin()
}

// publishMiniBlock makes the executed txs the newest mini-block: the view
// readers see, the feeds and the waiting submitters.
func (s *Sequencer) publishMiniBlock(txs types.Transactions, micros uint64) {
	header := s.builder.Header()
	number := header.Number.Uint64()
	for _, p := range s.unsealed {
		s.senders = append(s.senders, p.from)
	}
	old := s.view.Load()
	pb := old.Pending
	// Readers get copies: Seal later sets the block hash on the originals.
	receipts := make([]*types.Receipt, len(s.receipts))
	for i, r := range s.receipts {
		receipts[i] = preconfReceipt(r, s.cfg.PreconfHash, header.Time)
	}
	pb.Append(txs, receipts)
	changes := s.builder.TakeChanges()
	overlay := old.overlay.Push(changes)
	var deposits []*chain.Deposit
	var depositReceipts []*chain.DepositReceipt
	if s.miniIndex == 0 {
		var sealed []*chain.DepositReceipt
		deposits, sealed = s.builder.Deposits()
		depositReceipts = preconfDepositReceipts(sealed, s.cfg.PreconfHash, header.Time)
		for _, r := range sealed {
			s.miniGas += r.GasUsed
		}
		if len(deposits) > 0 {
			pb.SetDeposits(deposits, depositReceipts)
		}
	}
	mb := &chain.MiniBlock{
		BlockNumber:     number,
		BlockTimestamp:  header.Time,
		Index:           s.miniIndex,
		Number:          s.miniCount,
		TimestampMicros: micros,
		GasUsed:         s.miniGas,
		Txs:             txs,
		Receipts:        receipts,
		StateChanges:    changes,
		Deposits:        deposits,
		DepositReceipts: depositReceipts,
	}
	s.miniCount++
	s.miniIndex++
	s.view.Store(&View{
		Sealed:    old.Sealed,
		Pending:   pb,
		TxCount:   old.TxCount + len(txs),
		GasUsed:   old.GasUsed + s.miniGas,
		MiniBlock: s.miniCount,
		MiniIndex: s.miniIndex,
		overlay:   overlay,
		root:      old.root,
		base:      old.base,
		reader:    overlay.Reader(old.base),
		sealing:   old.sealing, sealingTxs: old.sealingTxs,
	})
	s.unsealed, s.receipts, s.miniGas = s.unsealed[:0], s.receipts[:0], 0
	if mb.Number < s.published {
		return // rebuilt after a step-down: sent before
	}
	s.published = mb.Number + 1
	s.miniFeed.Send(mb)
	if len(txs) > 0 && s.dev.collect == nil { // a dev block per tx resolves once sealed
		s.resolve(txs, receipts, number)
		s.log.Debug().Uint64("miniblock", mb.Number).Uint64("block", number).Int("txs", len(txs)).Msg("sealed mini-block")
	}
}

func (s *Sequencer) baseReader(root common.Hash) (state.Reader, error) {
	r, err := s.store.StateDatabase().Reader(root)
	if err != nil {
		return nil, fmt.Errorf("state reader at %s: %w", root, err)
	}
	return r, nil
}

func preconfReceipt(r *types.Receipt, hash common.Hash, time uint64) *types.Receipt {
	cp := *r
	cp.BlockHash = hash
	cp.Logs = make([]*types.Log, len(r.Logs))
	for i, l := range r.Logs {
		lc := *l
		lc.BlockHash = hash
		lc.BlockTimestamp = time
		cp.Logs[i] = &lc
	}
	return &cp
}

// preconfDepositReceipts are copies of deposit receipts for readers of a
// preconfirmed mini-block, as preconfReceipt.
func preconfDepositReceipts(rs []*chain.DepositReceipt, hash common.Hash, time uint64) []*chain.DepositReceipt {
	if len(rs) == 0 {
		return nil
	}
	out := make([]*chain.DepositReceipt, len(rs))
	for i, r := range rs {
		cp := *r
		cp.Receipt = preconfReceipt(r.Receipt, hash, time)
		out[i] = &cp
	}
	return out
}

// sealBlock seals and persists the open block.
func (s *Sequencer) sealBlock() error {
	if err := s.ensureOpen(); err != nil {
		return err
	}
	if len(s.unsealed) > 0 {
		return errors.New("sealing a block with unpublished txs")
	}
	// The next block waits for the block's hash and state only: the rest of
	// the seal (witness encoding, state diff) is done with the write.
	sb, err := s.builder.SealState()
	if err != nil {
		return err
	}
	if s.fence != nil {
		data, err := EncodeEntry(Entry{Seal: &SealEntry{Number: sb.Block.NumberU64(), Hash: sb.Block.Hash()}})
		if err != nil {
			return err
		}
		if err := s.fence.Commit(data); err != nil {
			return s.stepDownLocked(fmt.Errorf("commit of block %d: %w", sb.Block.NumberU64(), err))
		}
	}
	if err := s.persist(sb); err != nil {
		if errors.Is(err, storage.ErrDiskFull) {
			s.heldSeal = sb
			s.pause(err)
			return errSealHeld
		}
		return err
	}
	return nil
}

// persist writes a sealed block, or starts writing it while the next block
// executes. A full disk refuses it before anything is written (an error
// wrapping storage.ErrDiskFull): it can be persisted again.
func (s *Sequencer) persist(sb *chain.SealedBlock) error {
	if !s.pipelined || s.dev.mode != chain.MineRealtime {
		if err := s.waitPersisted(); err != nil {
			return err
		}
		if err := sb.Finish(); err != nil {
			return err
		}
		return s.persistSealed(sb)
	}
	// The store writes the block (tens of ms for a full one) while the next
	// block's mini-blocks go on; its state is in the trie database already.
	if err := s.waitPersisted(); err != nil {
		return err
	}
	if err := s.store.WriteSealedState(sb); err != nil {
		return err
	}
	done := make(chan struct{})
	s.persisting, s.sealingSB = done, sb
	write := s.persistWork(sb, s.store.WriteSealedBlock)
	ctx := s.ctx
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(done)
		err := sb.Finish()
		for err == nil {
			// A full disk refuses the block before writing any of it: wait
			// for a step that finds space, then write it again. Meanwhile
			// the loop neither admits nor seals.
			if err = write(); !errors.Is(err, storage.ErrDiskFull) {
				break
			}
			s.persistWaiting.Store(true)
			select {
			case <-s.spaceFreed:
			case <-ctx.Done():
				err = fmt.Errorf("block %d not written (the journal keeps its txs): %w", sb.Block.NumberU64(), ErrStopped)
			}
		}
		s.persistWaiting.Store(false)
		if err != nil {
			s.persistErr.Store(&err)
		}
	}()
	return nil
}

// waitPersisted waits for the block in writing, if any.
func (s *Sequencer) waitPersisted() error {
	if s.persisting != nil {
		<-s.persisting
		s.persisting, s.sealingSB = nil, nil
	}
	if err := s.persistErr.Load(); err != nil {
		return *err
	}
	return nil
}

// persistSealed writes a sealed block and announces it.
func (s *Sequencer) persistSealed(sb *chain.SealedBlock) error {
	return s.persistWork(sb, s.store.WriteSealed)()
}

// persistWork notes what the loop must know of sb and returns the write of
// sb to the store and its announcement, which may run on another goroutine.
func (s *Sequencer) persistWork(sb *chain.SealedBlock, write func(*chain.SealedBlock, uint64) error) func() error {
	h := sb.Block.Header()
	if h.Root != sb.Update.Root {
		if s.realRoots == nil {
			s.realRoots = make(map[common.Hash]common.Hash)
		}
		s.realRoots[sb.Block.Hash()] = sb.Update.Root
		s.log.Error().Uint64("block", h.Number.Uint64()).Stringer("header_root", h.Root).Stringer("real_root", sb.Update.Root).
			Msg("fault injection: sealed a block with a wrong state root")
	}
	miniCount, miniIndex, senders := s.miniCount, s.miniIndex, s.senders
	return func() error {
		if err := write(sb, miniCount); err != nil {
			return err
		}
		s.log.Info().Uint64("block", h.Number.Uint64()).Stringer("hash", sb.Block.Hash()).Int("txs", len(sb.Block.Transactions())).
			Uint64("gas", h.GasUsed).Uint64("miniblocks", miniIndex).Msg("sealed block")
		s.headFeed.Send(&chain.Head{Header: h, MiniBlockCount: miniIndex, MiniBlockOffset: miniCount - miniIndex})
		s.blockFeed.Send(&chain.BlockMessage{
			Bundle: &chain.BlockBundle{Block: sb.Block, Receipts: sb.Receipts, StateDiff: sb.Diff, Witness: sb.Witness,
				Deposits: sb.Deposits, DepositReceipts: sb.DepositReceipts, L1Origin: sb.L1Origin},
			MiniBlockCount: miniCount,
			Senders:        senders,
			Edits:          sb.Edits,
		})
		return nil
	}
}

// sealingHeaders is the store with the block in writing, for the next
// block's execution (BLOCKHASH) before the store has it.
type sealingHeaders struct {
	*storage.Store
	h *types.Header
}

func (c sealingHeaders) GetHeader(hash common.Hash, number uint64) *types.Header {
	if number == c.h.Number.Uint64() && hash == c.h.Hash() {
		return c.h
	}
	return c.Store.GetHeader(hash, number)
}

func (c sealingHeaders) GetHeaderByNumber(number uint64) *types.Header {
	if number == c.h.Number.Uint64() {
		return c.h
	}
	return c.Store.GetHeaderByNumber(number)
}

func (c sealingHeaders) CurrentHeader() *types.Header { return c.h }

// openBlock starts the block after the stored head.
func (s *Sequencer) openBlock(now time.Time) error {
	return s.openBlockAt(now, s.dev.mode == chain.MineRealtime)
}

// openBlockAt opens the block after the stored head; with consume it takes
// the dev clock's one-shot settings (a realtime block, or one being mined).
func (s *Sequencer) openBlockAt(now time.Time, consume bool) error {
	return s.openBlockWith(now, nil, consume)
}

// openBlockWith opens the block after the stored head with header as its
// template, or the dev clock's when header is nil.
func (s *Sequencer) openBlockWith(now time.Time, template *types.Header, consume bool) error {
	parent := s.store.CurrentHeader()
	var headers chain.HeaderReader = s.store
	prev := s.view.Load()
	var sealing *chain.PendingBlock
	var sealingTxs int
	if sb := s.sealingSB; sb != nil && sb.Block.NumberU64() > parent.Number.Uint64() {
		parent = sb.Block.Header()
		headers = sealingHeaders{Store: s.store, h: parent}
		sealing, sealingTxs = prev.Pending, prev.TxCount
	}
	// A realtime block takes the dev clock's overrides now; an automined or
	// manual one when it is mined (this one is provisional until then).
	header := template
	if header == nil {
		header = s.nextHeader(now, parent, consume)
	}
	root := parent.Root
	if r, ok := s.realRoots[parent.Hash()]; ok {
		root = r
	}
	origin, groups, through, err := s.depositsFor(parent)
	if err != nil {
		return err
	}
	// build reads nothing the lock guards: the loop may run it (warm).
	config, db, cfg, log := s.config, s.store.StateDatabase(), s.cfg, s.log
	build := func() (*chain.BlockBuilder, error) {
		var b *chain.BlockBuilder
		var err error
		switch {
		case cfg.NoWitness:
			b, err = chain.NewBlockBuilderWithoutWitness(config, headers, db, parent, header)
		case cfg.FaultyRootAt == 0:
			b, err = chain.NewBlockBuilder(config, headers, db, parent, header)
		default:
			b, err = chain.NewFaultyBlockBuilder(config, headers, db, parent, root, header, header.Number.Uint64() == cfg.FaultyRootAt)
		}
		if err != nil {
			return nil, err
		}
		if cfg.Dev {
			b.SetDev()
		}
		n, err := b.ApplyL1Deposits(origin, groups, through)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			log.Info().Uint64("block", header.Number.Uint64()).Int("deposits", n).Uint64("l1_origin", b.L1Origin().Number).Msg("deposits from L1")
		}
		return b, nil
	}
	var b *chain.BlockBuilder
	s.buildOpen = nil
	s.warm.Store(nil)
	if s.lazyOpen {
		// An automined or manual dev block after a revert: nothing may ever
		// execute in it before the next revert (loadFixture), so its state
		// and system calls wait until something does (ensureOpen). After a
		// mined block (warmOpen) they are likely needed, but not by the
		// answer going out: the loop builds them once it has (Prepare).
		s.buildOpen = &openFuture{build: build}
		if s.warmOpen {
			s.warm.Store(s.buildOpen)
		}
		s.lazyOpen, s.warmOpen = false, false
	} else {
		var err error
		if b, err = build(); err != nil {
			return err
		}
	}
	base, err := s.baseReader(root)
	if err != nil {
		return err
	}
	s.builder, s.opened, s.miniIndex, s.senders = b, now, 0, nil
	pb := chain.NewPendingBlock(types.CopyHeader(header))
	s.view.Store(&View{Sealed: parent, Pending: pb, MiniBlock: s.miniCount, root: root, base: base, reader: base, sealing: sealing, sealingTxs: sealingTxs})
	s.pool.NewBlock()
	return nil
}

// depositsFor returns the deposit cursor of parent and, when this sequencer
// leads and has an L1, the deposits confirmed on L1 since. A standby takes
// the block's deposits from the leader's first mini-block entry instead,
// and an L1 that cannot answer leaves them for a later block.
func (s *Sequencer) depositsFor(parent *types.Header) (chain.L1Origin, []chain.L1Deposits, chain.L1Origin, error) {
	var origin chain.L1Origin
	if sb := s.sealingSB; sb != nil && sb.Block.Hash() == parent.Hash() {
		origin = sb.L1Origin
	} else {
		var err error
		if origin, err = s.store.L1Origin(parent.Number.Uint64()); err != nil {
			return origin, nil, origin, err
		}
	}
	if s.cfg.Deposits == nil || (s.cfg.HA && !s.leading.Load()) || s.recovering {
		return origin, nil, origin, nil
	}
	groups, through, err := s.cfg.Deposits.Since(origin)
	switch {
	case errors.Is(err, l1.ErrCursorReorged):
		// The chain took deposits of L1 blocks a reorg deeper than the
		// confirmations replaced. Blocks go on, without deposits and with
		// that cursor, until the chain is rewound to a block whose cursor
		// is canonical, which is not done yet (docs/l1.md).
		if s.orphanedCursor != origin {
			s.orphanedCursor = origin
			s.log.Error().Err(err).Uint64("block", parent.Number.Uint64()).Uint64("l1_origin", origin.Number).Stringer("l1_origin_hash", origin.Hash).
				Msg("L1 reorg replaced the chain's L1 cursor: no deposits until the chain is rewound to a block whose cursor is canonical (not done yet)")
		}
		return origin, nil, origin, nil
	case err != nil:
		s.log.Warn().Err(err).Uint64("l1_origin", origin.Number).Msg("no deposits in this block: the L1 source failed")
		return origin, nil, origin, nil
	}
	if s.orphanedCursor != (chain.L1Origin{}) {
		s.log.Info().Uint64("l1_origin", origin.Number).Stringer("l1_origin_hash", origin.Hash).Msg("the chain's L1 cursor is canonical again: deposits resume")
		s.orphanedCursor = chain.L1Origin{}
	}
	return origin, groups, through, nil
}

// ensureOpen builds the open block's builder if its opening was deferred.
func (s *Sequencer) ensureOpen() error {
	if s.builder != nil || s.buildOpen == nil {
		return nil
	}
	b, err := s.buildOpen.get()
	if err != nil {
		return err
	}
	s.builder, s.buildOpen = b, nil
	s.warm.Store(nil)
	return nil
}

// openFuture builds a deferred open block's builder once, on the first
// ensureOpen or ahead of it on the loop (warm); a second caller waits for
// the first.
type openFuture struct {
	once  sync.Once
	build func() (*chain.BlockBuilder, error)
	b     *chain.BlockBuilder
	err   error
}

func (f *openFuture) get() (*chain.BlockBuilder, error) {
	f.once.Do(func() { f.b, f.err = f.build() })
	return f.b, f.err
}

// warmUp builds the deferred open block Prepare asked for, outside the
// step lock: a tx that needs the block meanwhile waits for this build, a
// revert replaces the block without waiting.
func (s *Sequencer) warmUp() {
	if f := s.warm.Swap(nil); f != nil {
		_, _ = f.get() // an error is ensureOpen's to report, if the block is still the open one
	}
}

// Prepare does work the sequencer put off so that an answer could go out
// sooner: the opening of the dev block after a mined one. The RPC server
// calls it once an HTTP answer is sent; the work runs on the loop, and a
// tx that comes first does it itself. Cheap when there is nothing to do.
func (s *Sequencer) Prepare() {
	if s.warm.Load() == nil {
		return
	}
	select {
	case s.warmCh <- struct{}{}:
	default:
	}
}

// BaseFee is the base fee of the block being built.
func (s *Sequencer) BaseFee() *big.Int { return s.view.Load().Pending.Header.BaseFee }

// LatestOverlay is the newest state as the sealed root and the mini-block
// overlay over it (eth_getProof at latest), with the block it belongs to.
func (s *Sequencer) LatestOverlay() (common.Hash, *chain.Overlay, *types.Header) {
	v := s.view.Load()
	return v.root, v.overlay, v.Pending.Header
}

// LatestState opens the newest mini-block state and returns it with the
// header of the block that state belongs to: the block being built once it
// holds a preconfirmed tx, the sealed head before.
func (s *Sequencer) LatestState() (*state.StateDB, *types.Header, error) {
	v := s.view.Load()
	st, err := chain.StateWithOverlay(s.store.StateDatabase(), v.root, v.reader)
	if err != nil {
		return nil, nil, err
	}
	if v.TxCount == 0 {
		// Nothing preconfirmed since the sealed head: calls run in its
		// block, the one eth_blockNumber names (anvil's and geth's latest).
		return st, v.Sealed, nil
	}
	return st, v.Pending.Header, nil
}

// PendingBlock returns the block being built as far as mini-blocks sealed it.
func (s *Sequencer) PendingBlock() (*types.Header, types.Transactions, []*types.Receipt) {
	v := s.view.Load()
	return v.Pending.Block(v.TxCount, v.GasUsed)
}

// PendingDeposits returns the deposits of the block being built, as the
// first mini-block preconfirmed them.
func (s *Sequencer) PendingDeposits() ([]*chain.Deposit, []*chain.DepositReceipt) {
	return s.view.Load().Pending.Deposits()
}

// PendingTx returns a preconfirmed tx with its receipt, block number and index.
func (s *Sequencer) PendingTx(hash common.Hash) (*types.Transaction, *types.Receipt, uint64, uint64, bool) {
	v := s.view.Load()
	if tx, rc, n, i, ok := v.Pending.Lookup(hash, v.TxCount); ok || v.sealing == nil {
		return tx, rc, n, i, ok
	}
	// Still answered once the store has the block: a caller that asked the
	// store first and missed it while the write landed finds the tx here
	// (preconfirmed a moment longer), never nowhere.
	return v.sealing.Lookup(hash, v.sealingTxs)
}

// PendingNonce is the nonce a new tx of addr should use.
func (s *Sequencer) PendingNonce(addr common.Address) (uint64, error) {
	if n, ok := s.pool.PendingNonce(addr); ok {
		return n, nil
	}
	acct, err := s.Reader().Account(addr)
	if err != nil || acct == nil {
		return 0, err
	}
	return acct.Nonce, nil
}

// PooledTx returns a tx waiting in the pool.
func (s *Sequencer) PooledTx(hash common.Hash) *types.Transaction { return s.pool.Get(hash) }

// MiniBlockCount is the number of mini-blocks sealed so far.
func (s *Sequencer) MiniBlockCount() uint64 { return s.view.Load().MiniBlock }

// Healthy reports why the sequencer cannot produce blocks, or nil.
func (s *Sequencer) Healthy() error {
	if !s.running.Load() {
		return ErrStopped
	}
	if err := s.diskFull(); err != nil {
		return fmt.Errorf("not admitting transactions: %w", err)
	}
	return s.failure()
}

// diskFull is the last verdict on the data directory's space and, with HA,
// on the raft log's: nil, or an error wrapping storage.ErrDiskFull.
func (s *Sequencer) diskFull() error {
	if err := s.store.DiskFull(); err != nil {
		return err
	}
	if s.fenceSpace != nil {
		return s.fenceSpace.DiskFull()
	}
	return nil
}

// checkSpace measures both and returns diskFull's answer after it.
func (s *Sequencer) checkSpace() error {
	err := s.store.CheckSpace()
	if s.fenceSpace != nil {
		// Measured even when the store is full, so that neither verdict
		// goes stale.
		if ferr := s.fenceSpace.CheckSpace(); err == nil {
			err = ferr
		}
	}
	return err
}
