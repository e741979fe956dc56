package sequencer

import (
	"container/heap"
	"fmt"
	"math/big"
	"sort"
	"sync"
	"time"

	"github.com/holiman/uint256"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/meganode/meganode/chain"
)

// PoolConfig limits the mempool.
type PoolConfig struct {
	AccountSlots int // pooled txs per sender, default 1024
	GlobalSlots  int // pooled txs in all, default 200,000
	PriceBump    int // % fee increase a replacement needs, default 10
	// Dev: a dev chain's pool, which admits txs with the impersonation
	// signature from the accounts PoolState impersonates.
	Dev bool
}

// DefaultPoolConfig returns the default limits.
func DefaultPoolConfig() PoolConfig {
	return PoolConfig{AccountSlots: 1024, GlobalSlots: 200_000, PriceBump: 10}
}

// Check reports an invalid limit.
func (c PoolConfig) Check() error {
	if c.AccountSlots < 1 || c.GlobalSlots < c.AccountSlots || c.PriceBump < 0 {
		return fmt.Errorf("pool limits: account slots %d, global slots %d, price bump %d", c.AccountSlots, c.GlobalSlots, c.PriceBump)
	}
	return nil
}

// PoolState is what admission reads: the newest (mini-block) state and the
// header of the block being built.
type PoolState interface {
	Reader() state.Reader
	PendingHeader() *types.Header
	// Impersonating reports whether a dev chain sends as addr unsigned.
	Impersonating(addr common.Address) bool
}

// pooledTx is a transaction with its recovered sender and arrival order.
type pooledTx struct {
	tx    *types.Transaction
	from  common.Address
	seq   uint64
	added time.Time // admitted; zero for txs a standby replays from the raft log
}

// sender holds one account's pooled transactions.
type sender struct {
	next     uint64 // nonce the next executed tx of this account must have
	txs      map[uint64]*pooledTx
	inHeap   bool // its tx at next is in the ready heap
	inFlight bool // its tx at next was handed to the sequencer
	parked   bool // its tx at next cannot run in this block; retried at the next
}

// Pool is the sequencer's mempool: per-sender nonce order, future nonces
// queued until the gap fills, fee priority across senders, replacement with a
// fee bump, per-account and global limits, go-ethereum's error texts.
type Pool struct {
	cfg    PoolConfig
	config *params.ChainConfig
	signer types.Signer
	state  PoolState

	mu      sync.Mutex
	senders map[common.Address]*sender
	all     map[common.Hash]*pooledTx
	ready   readyHeap
	seq     uint64
	notify  chan struct{}
}

// NewPool returns an empty pool that reads state through st.
func NewPool(cfg PoolConfig, config *params.ChainConfig, st PoolState) *Pool {
	return &Pool{
		cfg:     cfg,
		config:  config,
		signer:  chain.NewLatestSigner(config, cfg.Dev),
		state:   st,
		senders: make(map[common.Address]*sender),
		all:     make(map[common.Hash]*pooledTx),
		notify:  make(chan struct{}, 1),
	}
}

// Notify yields after transactions became ready.
func (p *Pool) Notify() <-chan struct{} { return p.notify }

// Add validates tx and pools it. It returns the recovered sender.
func (p *Pool) Add(tx *types.Transaction) (common.Address, error) {
	from, _, err := p.add(tx, false)
	return from, err
}

// add pools tx and returns the transaction it replaced, if any. With
// rejectGap a tx that would wait for a missing nonce is refused with a
// *chain.NonceGapError instead of being queued.
func (p *Pool) add(tx *types.Transaction, rejectGap bool) (common.Address, *types.Transaction, error) {
	recoverSender(p.signer, tx)
	return p.addRecovered(tx, rejectGap)
}

// addRecovered is add for a tx whose sender recoverSenders cached.
func (p *Pool) addRecovered(tx *types.Transaction, rejectGap bool) (common.Address, *types.Transaction, error) {
	from, stateNonce, err := p.validate(tx)
	if err != nil {
		return from, nil, err
	}
	return p.insert(tx, from, stateNonce, rejectGap)
}

// validate runs the stateless checks and the balance check against the
// newest mini-block state, whose nonce for the sender it returns.
func (p *Pool) validate(tx *types.Transaction) (common.Address, uint64, error) {
	head := p.state.PendingHeader()
	from, err := chain.ValidateTx(p.config, p.signer, tx, head)
	if err != nil {
		return from, 0, err
	}
	if who, ok := chain.ImpersonatedSender(tx); ok && (!p.cfg.Dev || !p.state.Impersonating(who)) {
		return from, 0, fmt.Errorf("%w: impersonation signature of %s, an account this node does not impersonate", chain.ErrInvalidSender, who)
	}
	reader := p.state.Reader()
	acct, err := reader.Account(from)
	if err != nil {
		return from, 0, fmt.Errorf("read account %s: %w", from, err)
	}
	balance := new(uint256.Int)
	var stateNonce uint64
	if acct != nil {
		balance, stateNonce = acct.Balance, acct.Nonce
	}
	cost := tx.Cost()
	if balance.ToBig().Cmp(cost) < 0 {
		return from, 0, fmt.Errorf("%w: balance %v, tx cost %v, overshot %v", chain.ErrInsufficientFunds, balance, cost, new(big.Int).Sub(cost, balance.ToBig()))
	}
	return from, stateNonce, nil
}

func (p *Pool) insert(tx *types.Transaction, from common.Address, stateNonce uint64, rejectGap bool) (common.Address, *types.Transaction, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.insertLocked(tx, from, stateNonce, rejectGap)
}

// addRecoveredBatch is addRecovered for each of txs whose errs entry is nil,
// in order, under one lock: it sets errs and returns the replaced txs.
func (p *Pool) addRecoveredBatch(txs []*types.Transaction, errs []error) []*types.Transaction {
	type checked struct {
		from       common.Address
		stateNonce uint64
	}
	valid := make([]checked, len(txs))
	for i, tx := range txs {
		if errs[i] == nil {
			valid[i].from, valid[i].stateNonce, errs[i] = p.validate(tx)
		}
	}
	replaced := make([]*types.Transaction, len(txs))
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, tx := range txs {
		if errs[i] == nil {
			_, replaced[i], errs[i] = p.insertLocked(tx, valid[i].from, valid[i].stateNonce, false)
		}
	}
	return replaced
}

func (p *Pool) insertLocked(tx *types.Transaction, from common.Address, stateNonce uint64, rejectGap bool) (common.Address, *types.Transaction, error) {
	if _, ok := p.all[tx.Hash()]; ok {
		return from, nil, chain.ErrAlreadyKnown
	}
	s := p.senders[from]
	if s == nil {
		s = &sender{next: stateNonce, txs: make(map[uint64]*pooledTx)}
		p.senders[from] = s
	}
	if tx.Nonce() < s.next {
		return from, nil, fmt.Errorf("%w: address %v, tx: %d state: %d", chain.ErrNonceTooLow, from, tx.Nonce(), s.next)
	}
	if rejectGap {
		if next := s.pendingNonce(); tx.Nonce() > next {
			return from, nil, &chain.NonceGapError{Got: tx.Nonce(), Expected: next}
		}
	}
	old := s.txs[tx.Nonce()]
	if old != nil {
		if s.inFlight && tx.Nonce() == s.next {
			// Already handed to the sequencer: it is executing right now.
			return from, nil, chain.ErrReplaceUnderpriced
		}
		if !bumped(old.tx, tx, p.cfg.PriceBump) {
			return from, nil, chain.ErrReplaceUnderpriced
		}
	} else {
		if tx.Nonce() >= s.next+uint64(p.cfg.AccountSlots) || len(s.txs) >= p.cfg.AccountSlots {
			return from, nil, fmt.Errorf("%w: %d pooled txs, limit %d", chain.ErrAccountLimit, len(s.txs), p.cfg.AccountSlots)
		}
		if len(p.all) >= p.cfg.GlobalSlots {
			return from, nil, chain.ErrTxPoolOverflow
		}
	}
	p.seq++
	ptx := &pooledTx{tx: tx, from: from, seq: p.seq, added: time.Now()}
	if old != nil {
		delete(p.all, old.tx.Hash())
		if s.inHeap && tx.Nonce() == s.next {
			p.ready.replace(old, ptx)
		}
	}
	s.txs[tx.Nonce()] = ptx
	p.all[tx.Hash()] = ptx
	p.promote(s)
	if old != nil {
		return from, old.tx, nil
	}
	return from, nil, nil
}

// bumped reports whether replacement raises both fee caps by bump percent.
func bumped(old, repl *types.Transaction, bump int) bool {
	need := func(v *big.Int) *big.Int {
		n := new(big.Int).Mul(v, big.NewInt(int64(100+bump)))
		return n.Div(n, big.NewInt(100))
	}
	return repl.GasFeeCapIntCmp(need(old.GasFeeCap())) >= 0 && repl.GasTipCapIntCmp(need(old.GasTipCap())) >= 0
}

// promote puts the sender's next tx in the ready heap if it is pooled.
func (p *Pool) promote(s *sender) {
	if s.inHeap || s.inFlight || s.parked {
		return
	}
	if ptx, ok := s.txs[s.next]; ok {
		heap.Push(&p.ready, ptx)
		s.inHeap = true
		select {
		case p.notify <- struct{}{}:
		default:
		}
	}
}

// Next hands the best ready transaction to the sequencer, or nil. The sender
// is blocked until Done.
func (p *Pool) Next(baseFee *big.Int) *pooledTx {
	if b := p.NextBatch(baseFee, nil, 1); len(b) == 1 {
		return b[0]
	}
	return nil
}

// NextBatch appends up to limit of the best ready transactions, one per
// sender, to buf: one lock for a run of txs, so the production loop rarely
// waits on admission. Each sender is blocked until its tx is handed back to
// DoneBatch.
func (p *Pool) NextBatch(baseFee *big.Int, buf []*pooledTx, limit int) []*pooledTx {
	p.mu.Lock()
	defer p.mu.Unlock()
	if bf := baseFeeU(baseFee); (bf == nil) != (p.ready.baseFee == nil) || (bf != nil && !bf.Eq(p.ready.baseFee)) {
		// Tips are effective tips at the base fee: a new fee reorders.
		p.ready.baseFee = bf
		heap.Init(&p.ready)
	}
	for len(buf) < limit && p.ready.Len() > 0 {
		ptx := heap.Pop(&p.ready).(*pooledTx)
		s := p.senders[ptx.from]
		s.inHeap, s.inFlight = false, true
		buf = append(buf, ptx)
	}
	return buf
}

// outcome of executing a handed-out transaction.
type outcome int

const (
	executed outcome = iota // in the block: the sender's next nonce advances
	retry                   // cannot run in this block (full, fee, funds): retried next block
	dropped                 // invalid: removed
	unused                  // not tried (the mini-block was due): ready again
)

// Done reports what became of a transaction from Next.
func (p *Pool) Done(ptx *pooledTx, o outcome) {
	p.DoneBatch([]*pooledTx{ptx}, []outcome{o})
}

// DoneBatch reports what became of transactions from NextBatch: outcomes[i]
// of ptxs[i].
func (p *Pool) DoneBatch(ptxs []*pooledTx, outcomes []outcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, ptx := range ptxs {
		s := p.senders[ptx.from]
		s.inFlight = false
		switch o := outcomes[i]; o {
		case executed, dropped:
			delete(s.txs, ptx.tx.Nonce())
			delete(p.all, ptx.tx.Hash())
			if o == executed {
				s.next = ptx.tx.Nonce() + 1
			}
		case retry:
			s.parked = true
		}
		p.promote(s)
	}
}

// NewBlock re-admits parked senders and forgets idle ones; the sequencer calls
// it after the sealed state includes every executed tx, so a forgotten
// sender's nonce is read correctly from state next time.
func (p *Pool) NewBlock() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for addr, s := range p.senders {
		s.parked = false
		if len(s.txs) == 0 && !s.inFlight {
			delete(p.senders, addr)
			continue
		}
		p.promote(s)
	}
}

// Get returns a pooled (not yet executed) transaction.
func (p *Pool) Get(hash common.Hash) *types.Transaction {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ptx, ok := p.all[hash]; ok {
		return ptx.tx
	}
	return nil
}

// PendingNonce returns the nonce after the sender's contiguous pooled txs, or
// ok=false when the pool does not know the sender.
func (p *Pool) PendingNonce(addr common.Address) (uint64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.senders[addr]
	if !ok {
		return 0, false
	}
	return s.pendingNonce(), true
}

// pendingNonce is the nonce after the sender's contiguous pooled txs.
func (s *sender) pendingNonce() uint64 {
	n := s.next
	for {
		if _, ok := s.txs[n]; !ok {
			return n
		}
		n++
	}
}

// Stats returns the number of executable and queued transactions.
func (p *Pool) Stats() (pending, queued int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.senders {
		n := s.next
		for ; ; n++ {
			if _, ok := s.txs[n]; !ok {
				break
			}
		}
		pending += int(n - s.next)
		queued += len(s.txs) - int(n-s.next)
	}
	return pending, queued
}

// Content returns the pooled txs by sender, split as txpool_content does.
func (p *Pool) Content() (pending, queued map[common.Address][]*types.Transaction) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pending, queued = map[common.Address][]*types.Transaction{}, map[common.Address][]*types.Transaction{}
	for addr, s := range p.senders {
		n := s.next
		for ; ; n++ {
			ptx, ok := s.txs[n]
			if !ok {
				break
			}
			pending[addr] = append(pending[addr], ptx.tx)
		}
		for nonce, ptx := range s.txs {
			if nonce > n {
				queued[addr] = append(queued[addr], ptx.tx)
			}
		}
	}
	return pending, queued
}

// readyHeap orders executable txs by effective tip at the current base fee,
// then by arrival.
type readyHeap struct {
	items   []*pooledTx
	baseFee *uint256.Int
}

func (h *readyHeap) Len() int { return len(h.items) }
func (h *readyHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if c := a.tx.EffectiveGasTipCmp(b.tx, h.baseFee); c != 0 {
		return c > 0
	}
	return a.seq < b.seq
}
func (h *readyHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *readyHeap) Push(x any)    { h.items = append(h.items, x.(*pooledTx)) }
func (h *readyHeap) Pop() any {
	n := len(h.items)
	x := h.items[n-1]
	h.items[n-1] = nil
	h.items = h.items[:n-1]
	return x
}

func (h *readyHeap) replace(old, repl *pooledTx) {
	for i, it := range h.items {
		if it == old {
			h.items[i] = repl
			heap.Fix(h, i)
			return
		}
	}
}

func baseFeeU(b *big.Int) *uint256.Int {
	if b == nil {
		return nil
	}
	u, _ := uint256.FromBig(b)
	return u
}

// hasReady reports whether a tx is ready to execute.
func (p *Pool) hasReady() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ready.items) > 0
}

// waiting reports whether a pooled tx cannot execute yet: its nonce is
// after a gap, or its sender is parked until the next block.
func (p *Pool) waiting(hash common.Hash) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	ptx, ok := p.all[hash]
	if !ok {
		return false
	}
	s := p.senders[ptx.from]
	return s.parked || ptx.tx.Nonce() > s.pendingNonce()
}

// Remove drops a pooled tx; false if it is not pooled (or executing).
// The sender's later txs wait for the nonce again.
func (p *Pool) Remove(hash common.Hash) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	ptx, ok := p.all[hash]
	if !ok {
		return false
	}
	s := p.senders[ptx.from]
	if s.inFlight && ptx.tx.Nonce() == s.next {
		return false
	}
	delete(p.all, hash)
	delete(s.txs, ptx.tx.Nonce())
	for i, it := range p.ready.items {
		if it == ptx {
			heap.Remove(&p.ready, i)
			s.inHeap = false
			break
		}
	}
	p.promote(s)
	return true
}

// All returns every pooled tx, each sender's in nonce order, senders in
// arrival order of their first tx.
func (p *Pool) All() []*types.Transaction {
	p.mu.Lock()
	defer p.mu.Unlock()
	list := make([]*pooledTx, 0, len(p.all))
	for _, ptx := range p.all {
		list = append(list, ptx)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].from == list[j].from {
			return list[i].tx.Nonce() < list[j].tx.Nonce()
		}
		return list[i].seq < list[j].seq
	})
	out := make([]*types.Transaction, len(list))
	for i, ptx := range list {
		out[i] = ptx.tx
	}
	return out
}

// Clear empties the pool and returns what it held (a deposed HA leader
// refuses them all with a retryable error).
func (p *Pool) Clear() []*types.Transaction {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*types.Transaction, 0, len(p.all))
	for _, ptx := range p.all {
		out = append(out, ptx.tx)
	}
	p.senders = make(map[common.Address]*sender)
	p.all = make(map[common.Hash]*pooledTx)
	p.ready.items = nil
	return out
}
