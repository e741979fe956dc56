package sequencer

import (
	"bytes"
	"errors"
	"io"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/storage"
)

// fakeClock is a manual clock; with step set, every reading is step later
// than the one before, as if the work between readings took that long.
type fakeClock struct {
	now  time.Time
	step time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.now = c.now.Add(c.step)
	return c.now
}
func (c *fakeClock) advance(d time.Duration) { c.now = c.now.Add(d) }

type env struct {
	t     *testing.T
	seq   *Sequencer
	store *storage.Store
	clock *fakeClock
	accts []chain.DevAccount
	cfg   *params.ChainConfig
	logs  *syncBuffer // the sequencer's log
}

func newEnv(t *testing.T, dir string) *env {
	t.Helper()
	return newEnvWith(t, dir, func(*Config) {})
}

func newEnvWith(t *testing.T, dir string, configure func(*Config)) *env {
	t.Helper()
	return newEnvOf(t, chain.DefaultConfig(), storage.Config{Dir: dir}, configure)
}

// newEnvOf is a sequencer of chain ccfg over a store of scfg.
func newEnvOf(t *testing.T, ccfg chain.Config, scfg storage.Config, configure func(*Config)) *env {
	t.Helper()
	g, accts, err := chain.Genesis(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := zerolog.New(io.MultiWriter(zerolog.NewTestWriter(t), logs))
	clock := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	cfg := DefaultConfig()
	cfg.Eager = false
	configure(&cfg)
	scfg.Preimages = scfg.Preimages || cfg.Dev
	store, err := storage.Open(scfg, g, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	seq, err := New(cfg, store, clock, log)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, seq: seq, store: store, clock: clock, accts: accts, cfg: g.Config, logs: logs}
}

// syncBuffer is what an env's sequencer logged.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (e *env) tx(from int, nonce uint64, tip, feeCap int64) *types.Transaction {
	to := common.HexToAddress("0xbeef")
	return types.MustSignNewTx(e.accts[from].Key, types.LatestSigner(e.cfg), &types.DynamicFeeTx{
		ChainID: e.cfg.ChainID, Nonce: nonce, To: &to, Gas: params.TxGas, GasTipCap: big.NewInt(tip), GasFeeCap: big.NewInt(feeCap), Value: big.NewInt(1),
	})
}

// tick advances the clock one mini-block and runs a production step.
func (e *env) tick() {
	e.clock.advance(10 * time.Millisecond)
	e.seq.Step(true)
}

const gwei = params.GWei

func TestPoolAdmission(t *testing.T) {
	e := newEnv(t, "")
	p := e.seq.Pool()
	mustAdd := func(tx *types.Transaction) {
		t.Helper()
		if _, err := p.Add(tx); err != nil {
			t.Fatalf("add nonce %d: %v", tx.Nonce(), err)
		}
	}
	mustAdd(e.tx(0, 0, gwei, 10*gwei))
	tests := []struct {
		name string
		tx   *types.Transaction
		want error
		text string
	}{
		{"duplicate", e.tx(0, 0, gwei, 10*gwei), chain.ErrAlreadyKnown, "already known"},
		{"replacement below bump", e.tx(0, 0, gwei+1, 10*gwei+1), chain.ErrReplaceUnderpriced, "replacement transaction underpriced"},
		{"fee cap below base fee", e.tx(1, 0, 0, 1), chain.ErrFeeCapTooLow, "max fee per gas less than block base fee"},
		{"tip above fee cap", e.tx(1, 0, 10*gwei, gwei), chain.ErrTipAboveFeeCap, "max priority fee per gas higher than max fee per gas"},
		{"unfunded sender", types.MustSignNewTx(mustKey(t), types.LatestSigner(e.cfg), &types.DynamicFeeTx{ChainID: e.cfg.ChainID, Gas: params.TxGas, GasFeeCap: big.NewInt(10 * gwei), To: &common.Address{}}), chain.ErrInsufficientFunds, "insufficient funds for gas * price + value"},
		{"intrinsic gas", types.MustSignNewTx(e.accts[1].Key, types.LatestSigner(e.cfg), &types.DynamicFeeTx{ChainID: e.cfg.ChainID, Gas: 20_000, GasFeeCap: big.NewInt(10 * gwei), To: &common.Address{}}), chain.ErrIntrinsicGas, "intrinsic gas too low"},
		{"wrong chain id", types.MustSignNewTx(e.accts[1].Key, types.LatestSignerForChainID(big.NewInt(1)), &types.DynamicFeeTx{ChainID: big.NewInt(1), Gas: params.TxGas, GasFeeCap: big.NewInt(10 * gwei), To: &common.Address{}}), chain.ErrInvalidChainID, "invalid chain id"},
		{"blob tx", types.MustSignNewTx(e.accts[1].Key, types.LatestSigner(e.cfg), &types.BlobTx{ChainID: uint256From(e.cfg.ChainID), Gas: params.TxGas, GasFeeCap: uint256From(big.NewInt(10 * gwei))}), chain.ErrTxTypeNotSupported, "transaction type not supported"},
		{"oversized", types.MustSignNewTx(e.accts[1].Key, types.LatestSigner(e.cfg), &types.DynamicFeeTx{ChainID: e.cfg.ChainID, Gas: 10_000_000, GasFeeCap: big.NewInt(10 * gwei), To: &common.Address{}, Data: make([]byte, chain.MaxTxSize)}), chain.ErrOversizedData, "oversized data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Add(tc.tx)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err %v, want %v (%q)", err, tc.want, tc.text)
			}
		})
	}
	// A 10 % bump replaces.
	mustAdd(e.tx(0, 0, gwei*11/10, 11*gwei))
	if pending, queued := p.Stats(); pending != 1 || queued != 0 {
		t.Fatalf("pending %d queued %d after replacement, want 1 and 0", pending, queued)
	}
}

func TestPoolOrdering(t *testing.T) {
	e := newEnv(t, "")
	p := e.seq.Pool()
	// Sender 0 sends nonces 2, 1, 0 (gap filled last); sender 1 pays more.
	for _, n := range []uint64{2, 1} {
		if _, err := p.Add(e.tx(0, n, gwei, 10*gwei)); err != nil {
			t.Fatal(err)
		}
	}
	if pending, queued := p.Stats(); pending != 0 || queued != 2 {
		t.Fatalf("pending %d queued %d with a nonce gap, want 0 and 2", pending, queued)
	}
	if p.Next(e.seq.BaseFee()) != nil {
		t.Fatal("a queued tx was handed out across a nonce gap")
	}
	for _, tx := range []*types.Transaction{e.tx(0, 0, gwei, 10*gwei), e.tx(1, 0, 3*gwei, 10*gwei)} {
		if _, err := p.Add(tx); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for ptx := p.Next(e.seq.BaseFee()); ptx != nil; ptx = p.Next(e.seq.BaseFee()) {
		got = append(got, ptx.from.Hex()[:6]+":"+string(rune('0'+ptx.tx.Nonce())))
		p.Done(ptx, executed)
	}
	want := []string{e.accts[1].Address.Hex()[:6] + ":0", e.accts[0].Address.Hex()[:6] + ":0", e.accts[0].Address.Hex()[:6] + ":1", e.accts[0].Address.Hex()[:6] + ":2"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("order %v, want %v", got, want)
	}
	if n, _ := p.PendingNonce(e.accts[0].Address); n != 3 {
		t.Fatalf("pending nonce %d, want 3", n)
	}
}

func TestPoolLimits(t *testing.T) {
	e := newEnv(t, "")
	p := NewPool(PoolConfig{AccountSlots: 2, GlobalSlots: 3, PriceBump: 10}, e.cfg, e.seq)
	for i := uint64(0); i < 2; i++ {
		if _, err := p.Add(e.tx(0, i, gwei, 10*gwei)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Add(e.tx(0, 2, gwei, 10*gwei)); !errors.Is(err, chain.ErrAccountLimit) {
		t.Fatalf("third tx of one sender: %v, want account limit", err)
	}
	if _, err := p.Add(e.tx(1, 0, gwei, 10*gwei)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Add(e.tx(2, 0, gwei, 10*gwei)); !errors.Is(err, chain.ErrTxPoolOverflow) {
		t.Fatalf("fourth tx: %v, want txpool is full", err)
	}
}

func TestMiniBlocksAndBlocks(t *testing.T) {
	e := newEnv(t, "")
	sub := e.seq.MiniBlocks(1000)
	heads := e.seq.Heads(10)
	start := e.seq.MiniBlockCount()
	if err := e.seq.SendTransaction(e.tx(0, 0, gwei, 10*gwei)); err != nil {
		t.Fatal(err)
	}
	e.tick()
	mb := <-sub.C()
	if mb.Number != start || mb.Index != 0 || len(mb.Txs) != 1 || mb.BlockNumber != 1 {
		t.Fatalf("first mini-block %d/%d in block %d with %d txs, want %d/0 in block 1 with 1", mb.Number, mb.Index, mb.BlockNumber, len(mb.Txs), start)
	}
	tx := mb.Txs[0]
	if _, r, n, _, ok := e.seq.PendingTx(tx.Hash()); !ok || n != 1 || r.BlockHash != chain.PreconfBlockHash {
		t.Fatalf("preconfirmed receipt: ok %v block %d hash %v", ok, n, r)
	}
	st, _, err := e.seq.LatestState()
	if err != nil {
		t.Fatal(err)
	}
	if got := st.GetBalance(common.HexToAddress("0xbeef")).Uint64(); got != 1 {
		t.Fatalf("latest balance %d, want 1 (mini-block state)", got)
	}
	if e.store.CurrentHeader().Number.Uint64() != 0 {
		t.Fatal("block sealed before its time")
	}
	// Empty mini-blocks keep coming, numbered +1, until the block seals.
	for i := 0; i < 99; i++ {
		e.tick()
	}
	for i := uint64(1); i < 100; i++ {
		mb := <-sub.C()
		if mb.Number != start+i || len(mb.Txs) != 0 {
			t.Fatalf("mini-block %d: number %d txs %d, want %d and 0", i, mb.Number, len(mb.Txs), start+i)
		}
	}
	head := <-heads.C()
	h := head.Header
	if h.Number.Uint64() != 1 || e.store.CurrentHeader().Hash() != h.Hash() {
		t.Fatalf("sealed head %d, store head %s", h.Number, e.store.CurrentHeader().Hash())
	}
	if head.MiniBlockOffset != start || head.MiniBlockCount != 100 {
		t.Fatalf("head mini-blocks: offset %d count %d, want %d and 100", head.MiniBlockOffset, head.MiniBlockCount, start)
	}
	block := e.store.BlockByNumber(1)
	if len(block.Transactions()) != 1 || block.Transactions()[0].Hash() != tx.Hash() {
		t.Fatal("sealed block lacks the tx")
	}
	if _, _, _, _, ok := e.seq.PendingTx(tx.Hash()); ok {
		t.Fatal("sealed tx still reported as preconfirmed")
	}
	bundle, err := e.store.Bundle(1)
	if err != nil || bundle == nil || len(bundle.Witness) == 0 || bundle.StateDiff.Root != block.Root() {
		t.Fatalf("bundle %+v err %v, want witness and diff to the block root", bundle, err)
	}
	root, _, err := chain.ExecuteStateless(e.cfg, block, bundle.Witness)
	if err != nil || root != block.Root() {
		t.Fatalf("stateless root %s err %v, want %s", root, err, block.Root())
	}
	// The next block's timestamp strictly increases.
	for i := 0; i < 100; i++ {
		e.tick()
	}
	if b2 := e.store.CurrentHeader(); b2.Number.Uint64() != 2 || b2.Time <= h.Time {
		t.Fatalf("block 2 time %d after block 1 time %d", b2.Time, h.Time)
	}
}

func TestEagerSealsOnArrival(t *testing.T) {
	e := newEnv(t, "")
	e.seq.cfg.Eager = true
	sub := e.seq.MiniBlocks(10)
	if err := e.seq.SendTransaction(e.tx(0, 0, gwei, 10*gwei)); err != nil {
		t.Fatal(err)
	}
	e.seq.Step(false) // what the pool's notification triggers
	select {
	case mb := <-sub.C():
		if len(mb.Txs) != 1 {
			t.Fatalf("eager mini-block has %d txs, want 1", len(mb.Txs))
		}
	default:
		t.Fatal("eager mode did not seal on arrival")
	}
}

func TestJournalRecoversPreconfirmedTxs(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	txs := []*types.Transaction{e.tx(0, 0, gwei, 10*gwei), e.tx(0, 1, gwei, 10*gwei)}
	for _, tx := range txs {
		if err := e.seq.SendTransaction(tx); err != nil {
			t.Fatal(err)
		}
		e.tick()
	}
	// The process "dies" here: no seal, store closed without a flush.
	e.store.Close()

	e2 := newEnv(t, dir)
	if e2.store.CurrentHeader().Number.Uint64() != 0 {
		t.Fatal("an unsealed block was persisted")
	}
	for i := 0; i < 100; i++ {
		e2.tick()
	}
	block := e2.store.BlockByNumber(1)
	if block == nil || len(block.Transactions()) != 2 {
		t.Fatalf("block 1 after recovery: %v, want the 2 journaled txs", block)
	}
	for i, tx := range block.Transactions() {
		if tx.Hash() != txs[i].Hash() {
			t.Fatalf("tx %d is %s, want %s", i, tx.Hash(), txs[i].Hash())
		}
	}
}

func TestConfigCheck(t *testing.T) {
	for name, mut := range map[string]func(*Config){
		"block time below 1s":         func(c *Config) { c.BlockTime = 500 * time.Millisecond },
		"zero mini-block time":        func(c *Config) { c.MiniBlockTime = 0 },
		"mini-block above block time": func(c *Config) { c.MiniBlockTime = 2 * time.Second },
	} {
		cfg := DefaultConfig()
		mut(&cfg)
		if cfg.Check() == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if err := DefaultConfig().Check(); err != nil {
		t.Fatal(err)
	}
}

// A load that arrives mid-interval is cut into the mini-block that is due:
// execution stops when MiniBlockTime has passed since the previous
// mini-block, not MiniBlockTime after the load arrived.
func TestLoadDoesNotStretchMiniBlocks(t *testing.T) {
	e := newEnv(t, "")
	e.tick()
	sealed := e.clock.now
	sub := e.seq.MiniBlocks(100)
	defer sub.Unsubscribe()
	e.clock.advance(6 * time.Millisecond)
	const n = 640
	for i := 0; i < n; i++ {
		if err := e.seq.SendTransaction(e.tx(i%10, uint64(i/10), gwei, 10*gwei)); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.step = time.Millisecond // each clock reading while executing is 1 ms later
	e.seq.Step(false)
	select {
	case mb := <-sub.C():
		if got := time.UnixMicro(int64(mb.TimestampMicros)).Sub(sealed); got > 11*time.Millisecond {
			t.Fatalf("mini-block sealed %v after the previous one, want about 10ms", got)
		}
		// 7 ms at the step's start, then one more per tx: the tx that
		// would start at 10 ms is not executed.
		if len(mb.Txs) == 0 || len(mb.Txs) > 3 {
			t.Fatalf("mini-block holds %d of %d txs: the load was not cut when it was due", len(mb.Txs), n)
		}
	default:
		t.Fatal("no mini-block sealed when it was due")
	}
}

// A step that starts after the mini-block was due (the loop waited for a
// CPU) seals almost at once instead of executing the backlog first.
func TestLateStepSealsAtOnce(t *testing.T) {
	e := newEnv(t, "")
	e.tick()
	sealed := e.clock.now
	sub := e.seq.MiniBlocks(100)
	defer sub.Unsubscribe()
	for i := 0; i < 100; i++ {
		if err := e.seq.SendTransaction(e.tx(i%10, uint64(i/10), gwei, 10*gwei)); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.advance(15 * time.Millisecond)
	e.clock.step = 100 * time.Microsecond
	e.seq.Step(false)
	select {
	case mb := <-sub.C():
		if got := time.UnixMicro(int64(mb.TimestampMicros)).Sub(sealed); got > 16*time.Millisecond {
			t.Fatalf("late mini-block sealed %v after the previous one, want within 1 ms of the late start", got)
		}
		if len(mb.Txs) == 0 || len(mb.Txs) > 6 {
			t.Fatalf("late mini-block holds %d txs, want the few that fit in half a millisecond", len(mb.Txs))
		}
	default:
		t.Fatal("no mini-block sealed by a late step")
	}
}

// Senders recovered on the verifier threads are the signers, for many
// concurrent callers.
func TestRecoverSenderConcurrently(t *testing.T) {
	e := newEnv(t, "")
	signer := types.LatestSigner(e.cfg)
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tx := e.tx(i%10, uint64(i), gwei, 10*gwei)
			recoverSender(signer, tx)
			if from, err := types.Sender(signer, tx); err != nil || from != e.accts[i%10].Address {
				t.Errorf("tx %d: sender %s err %v, want %s", i, from, err, e.accts[i%10].Address)
			}
		}()
	}
	wg.Wait()
}

// A batch is admitted as the same txs sent one by one would be: in order,
// with the same errors, its senders recovered on the verifier goroutines.
func TestSendTransactionsMatchesOneByOne(t *testing.T) {
	batch, single := newEnv(t, ""), newEnv(t, "")
	mk := func(e *env) types.Transactions {
		return types.Transactions{
			e.tx(0, 0, gwei, 10*gwei),
			e.tx(1, 0, gwei, 10*gwei),
			e.tx(0, 1, gwei, 10*gwei),
			e.tx(0, 1, gwei, 10*gwei),   // already known
			e.tx(0, 1, 2*gwei, 20*gwei), // replaces it
			e.tx(2, 7, gwei, 10*gwei),   // queued behind a gap
			e.tx(3, 0, gwei, 1),         // fee cap below the tip
		}
	}
	text := func(err error) string {
		if err == nil {
			return ""
		}
		return err.Error()
	}
	errs := batch.seq.SendTransactions(mk(batch))
	for i, tx := range mk(single) {
		want := single.seq.SendTransaction(tx)
		if text(errs[i]) != text(want) {
			t.Errorf("tx %d: batch says %v, one by one %v", i, errs[i], want)
		}
	}
	if errs[3] == nil || errs[6] == nil || errs[0] != nil || errs[4] != nil {
		t.Fatalf("batch errors %v: want the duplicate and the bad fee cap refused, the rest pooled", errs)
	}
	txs := mk(batch)
	for i, want := range []bool{true, true, false, false, true, true, false} {
		if got := batch.seq.PooledTx(txs[i].Hash()) != nil; got != want {
			t.Errorf("tx %d pooled %v, want %v", i, got, want)
		}
	}
}

// With pipelined persistence a sealed block is written to the store while
// the next one executes: its txs answer as preconfirmed until the store has
// them, and the next block builds on it.
func TestPipelinedSealKeepsTxsVisible(t *testing.T) {
	e := newEnv(t, t.TempDir())
	e.seq.pipelined = true
	first, second := e.tx(0, 0, gwei, 10*gwei), e.tx(0, 1, gwei, 10*gwei)
	found := func(tx *types.Transaction) bool {
		if got, _, _, _ := e.store.Transaction(tx.Hash()); got != nil {
			return true
		}
		_, _, _, _, ok := e.seq.PendingTx(tx.Hash())
		return ok
	}
	if err := e.seq.SendTransaction(first); err != nil {
		t.Fatal(err)
	}
	for e.seq.View().Pending.Header.Number.Uint64() == 1 {
		e.tick()
		if !found(first) {
			t.Fatal("the first tx is neither preconfirmed nor stored")
		}
	}
	if err := e.seq.SendTransaction(second); err != nil { // executes on block 1, stored or not
		t.Fatal(err)
	}
	e.tick()
	if !found(first) || !found(second) {
		t.Fatalf("after block 1 sealed: first found %v, second %v", found(first), found(second))
	}
	for e.seq.View().Pending.Header.Number.Uint64() == 2 {
		e.tick()
	}
	e.seq.stepMu.Lock()
	err := e.seq.waitPersisted()
	e.seq.stepMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	b1, b2 := e.store.BlockByNumber(1), e.store.BlockByNumber(2)
	if b1 == nil || b2 == nil || b2.ParentHash() != b1.Hash() || len(b1.Transactions()) != 1 || len(b2.Transactions()) != 1 {
		t.Fatalf("blocks 1 %v and 2 %v: want one tx each, 2 on top of 1", b1, b2)
	}
	if tx, _, n, _ := e.store.Transaction(second.Hash()); tx == nil || n != 2 {
		t.Fatalf("second tx stored in block %d (%v), want 2", n, tx)
	}
}

// Journaled txs are re-executed in journal order, so each keeps the index
// its preconfirmed receipt named: not in the pool's order, which would run
// every sender's first tx before any sender's second. Records of the older
// format (txs only) are still read.
func TestJournalRecoveryKeepsTxOrder(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	journal := types.Transactions{e.tx(0, 0, gwei, 10*gwei), e.tx(0, 1, gwei, 10*gwei), e.tx(1, 0, gwei, 10*gwei), e.tx(1, 1, gwei, 10*gwei), e.tx(0, 2, gwei, 10*gwei)}
	time := e.seq.View().Pending.Header.Time
	for i, mini := range []types.Transactions{journal[:2], journal[2:]} {
		if err := e.store.JournalMiniBlock(1, &storage.JournalEntry{BlockTime: time, Index: uint64(i), Number: uint64(i), Txs: mini}); err != nil {
			t.Fatal(err)
		}
	}
	e.store.Close()
	e2 := newEnv(t, dir)
	for i := 0; i < 100; i++ {
		e2.tick()
	}
	block := e2.store.BlockByNumber(1)
	if block == nil || len(block.Transactions()) != len(journal) {
		t.Fatalf("block 1 after recovery: %v, want the %d journaled txs", block, len(journal))
	}
	for i, tx := range block.Transactions() {
		if tx.Hash() != journal[i].Hash() {
			t.Fatalf("index %d holds %s, journaled there %s", i, tx.Hash(), journal[i].Hash())
		}
	}
}

// A restart after kill -9 rebuilds the open block's journaled mini-blocks
// as followers had them (numbers, indexes, timestamps, deposits, txs, the
// empty ones too) in a block of the same time, and numbers the next
// mini-block after the last of them: no number comes back with other
// contents. Deposits the L1 confirmed meanwhile wait for the next block.
func TestJournalRecoveryKeepsPositions(t *testing.T) {
	dir := t.TempDir()
	l1 := &fakeL1{}
	withL1 := func(c *Config) { c.Deposits = l1 }
	e := newEnvWith(t, dir, withL1)
	start := e.clock.now
	for e.store.CurrentHeader().Number.Uint64() == 0 {
		// Block 1 takes mini-blocks 0..n: block 2's do not start at 0. It
		// seals at 1s, and block 2 opens with this deposit.
		if e.clock.now.Sub(start) == time.Second-10*time.Millisecond {
			l1.add(5, deposit(1, common.HexToAddress("0xb0b"), 7, 50_000))
		}
		e.tick()
	}
	minis := e.seq.MiniBlocks(64)
	defer minis.Unsubscribe()
	send := func(sender int, nonce uint64) {
		t.Helper()
		if err := e.seq.SendTransaction(e.tx(sender, nonce, gwei, 10*gwei)); err != nil {
			t.Fatal(err)
		}
	}
	send(0, 0)
	send(1, 0)
	e.tick()
	e.tick() // empty
	send(0, 1)
	e.tick()
	e.tick() // empty
	var before []*chain.MiniBlock
	for len(minis.C()) > 0 {
		before = append(before, <-minis.C())
	}
	if len(before) != 4 || before[0].BlockNumber != 2 || before[0].Number == 0 || len(before[0].Deposits) != 1 {
		t.Fatalf("published %d mini-blocks before the crash (first %+v), want 4 of block 2, the first with a deposit", len(before), before[0])
	}
	blockTime := e.seq.View().Pending.Header.Time
	e.store.Close() // kill -9: nothing sealed, the journal as it is
	l1.add(6, deposit(2, common.HexToAddress("0xca201"), 3, 50_000))

	e2 := newEnvWith(t, dir, withL1)
	e2.clock.now = e.clock.now
	after := e2.seq.MiniBlocks(64)
	defer after.Unsubscribe()
	e2.tick()
	if got := e2.seq.View().Pending.Header.Time; got != blockTime {
		t.Fatalf("reopened block 2 has time %d, want the journaled %d", got, blockTime)
	}
	for i, want := range before {
		var got *chain.MiniBlock
		select {
		case got = <-after.C():
		default:
			t.Fatalf("mini-block %d not republished after recovery", want.Number)
		}
		if got.Number != want.Number || got.Index != want.Index || got.BlockNumber != want.BlockNumber ||
			got.BlockTimestamp != want.BlockTimestamp || got.TimestampMicros != want.TimestampMicros || len(got.Txs) != len(want.Txs) {
			t.Fatalf("recovered mini-block %d: got number %d index %d block %d@%d at %dµs with %d txs, want number %d index %d block %d@%d at %dµs with %d txs",
				i, got.Number, got.Index, got.BlockNumber, got.BlockTimestamp, got.TimestampMicros, len(got.Txs),
				want.Number, want.Index, want.BlockNumber, want.BlockTimestamp, want.TimestampMicros, len(want.Txs))
		}
		for j := range got.Txs {
			if got.Txs[j].Hash() != want.Txs[j].Hash() || got.Receipts[j].TransactionIndex != want.Receipts[j].TransactionIndex {
				t.Fatalf("recovered mini-block %d tx %d: got %s at index %d, want %s at %d", got.Number, j,
					got.Txs[j].Hash(), got.Receipts[j].TransactionIndex, want.Txs[j].Hash(), want.Receipts[j].TransactionIndex)
			}
		}
		// Byte for byte what was gossiped: a peer sees the same message again.
		if g, w := encodeRLP(t, got), encodeRLP(t, want); !bytes.Equal(g, w) {
			t.Fatalf("recovered mini-block %d encodes to %x, published before the crash as %x", got.Number, g, w)
		}
	}
	last := before[len(before)-1]
	next := <-after.C()
	if next.Number != last.Number+1 || next.Index != last.Index+1 || next.BlockNumber != 2 {
		t.Fatalf("first new mini-block: number %d index %d of block %d, want number %d index %d of block 2",
			next.Number, next.Index, next.BlockNumber, last.Number+1, last.Index+1)
	}
	// A second crash before the seal: the new mini-block was journaled
	// after the recovered ones, none of which was journaled again.
	entries, err := e2.store.JournaledMiniBlocks(2)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(before)+1 || entries[len(entries)-1].Number != next.Number {
		t.Fatalf("journal of block 2 holds %d mini-blocks, want %d ending with %d", len(entries), len(before)+1, next.Number)
	}
	for e2.store.CurrentHeader().Number.Uint64() < 2 {
		e2.tick()
	}
	if got, want := len(e2.store.BlockByNumber(2).Transactions()), 3; got != want {
		t.Fatalf("block 2 sealed with %d txs, want %d", got, want)
	}
}

func encodeRLP(t *testing.T, v any) []byte {
	t.Helper()
	b, err := rlp.EncodeToBytes(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A process killed while a sealed block was being written leaves the
// journals of that block and of the next: the first block is sealed again,
// the second reopened, each tx where its receipt said.
func TestJournalRecoversTheBlockAfterASealInWriting(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	a, b := e.tx(0, 0, gwei, 10*gwei), e.tx(0, 1, gwei, 10*gwei)
	time := e.seq.View().Pending.Header.Time
	if err := e.store.JournalMiniBlock(1, &storage.JournalEntry{BlockTime: time, Txs: types.Transactions{a}}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.JournalMiniBlock(1, &storage.JournalEntry{BlockTime: time, Index: 1, Number: 1}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.JournalMiniBlock(2, &storage.JournalEntry{BlockTime: time + 1, Number: 2, Txs: types.Transactions{b}}); err != nil {
		t.Fatal(err)
	}
	e.store.Close()
	e2 := newEnv(t, dir)
	e2.tick()
	b1 := e2.store.BlockByNumber(1)
	if b1 == nil || len(b1.Transactions()) != 1 || b1.Transactions()[0].Hash() != a.Hash() || b1.Time() != time {
		t.Fatalf("block 1 after recovery: %v, want the first tx at time %d", b1, time)
	}
	if got := e2.store.MiniBlockCount(); got != 2 {
		t.Fatalf("block 1 sealed again with mini-block count %d, want 2", got)
	}
	for i := 0; i < 200 && e2.store.CurrentHeader().Number.Uint64() < 2; i++ {
		e2.tick()
	}
	b2 := e2.store.BlockByNumber(2)
	if b2 == nil || len(b2.Transactions()) != 1 || b2.Transactions()[0].Hash() != b.Hash() || b2.Time() != time+1 {
		t.Fatalf("block 2 after recovery: %v, want the second tx at time %d", b2, time+1)
	}
}

// countingGate counts the read locks a bulk recovery takes.
type countingGate struct {
	mu            sync.Mutex
	locks, unlock int
	held          int
	maxHeld       int
}

func (g *countingGate) RLock() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.locks++
	g.held++
	g.maxHeld = max(g.maxHeld, g.held)
}

func (g *countingGate) RUnlock() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.unlock++
	g.held--
}

// Every tx of a bulk recovery is recovered under the gate the loop closes
// while it seals a block, and the gate is released after each.
func TestBulkRecoveryTakesTheGatePerTx(t *testing.T) {
	e := newEnv(t, "")
	signer := types.LatestSigner(e.cfg)
	var txs types.Transactions
	for i := 0; i < 50; i++ {
		txs = append(txs, e.tx(i%10, uint64(i/10), gwei, 10*gwei))
	}
	var g countingGate
	recoverSenders(signer, txs, &g)
	if g.locks != len(txs) || g.unlock != len(txs) || g.held != 0 {
		t.Fatalf("gate taken %d and released %d times (%d held) for %d txs", g.locks, g.unlock, g.held, len(txs))
	}
	if g.maxHeld > cpus() {
		t.Fatalf("%d recoveries held the gate at once, more than the %d workers", g.maxHeld, cpus())
	}
	for i, tx := range txs {
		if from, err := types.Sender(signer, tx); err != nil || from != e.accts[i%10].Address {
			t.Fatalf("tx %d: sender %s err %v", i, from, err)
		}
	}
}

// The pool hands out runs of txs, one per sender, best tip first; those the
// loop did not try are ready again, executed ones advance the sender.
func TestPoolNextBatch(t *testing.T) {
	e := newEnv(t, "")
	p := e.seq.Pool()
	for sender, tip := range []int64{1, 3, 2} {
		for nonce := uint64(0); nonce < 2; nonce++ {
			if _, err := p.Add(e.tx(sender, nonce, tip*gwei, 10*gwei)); err != nil {
				t.Fatal(err)
			}
		}
	}
	names := func(b []*pooledTx) string {
		var out []string
		for _, ptx := range b {
			for i, a := range e.accts {
				if a.Address == ptx.from {
					out = append(out, string(rune('0'+i))+":"+string(rune('0'+ptx.tx.Nonce())))
				}
			}
		}
		return strings.Join(out, " ")
	}
	b := p.NextBatch(e.seq.BaseFee(), nil, 2)
	if got := names(b); got != "1:0 2:0" {
		t.Fatalf("first batch %q, want the two best senders' first txs", got)
	}
	if got := names(p.NextBatch(e.seq.BaseFee(), nil, 10)); got != "0:0" {
		t.Fatalf("second batch %q, want only the sender not in flight", got)
	}
	p.DoneBatch(b, []outcome{executed, unused})
	if got := names(p.NextBatch(e.seq.BaseFee(), nil, 10)); got != "1:1 2:0" {
		t.Fatalf("after done %q, want sender 1's next and sender 2's untried tx again", got)
	}
}

// Txs taken from the pool but cut off when the mini-block was due are
// neither lost nor reordered: later steps execute every one, in nonce order.
func TestCutBatchLosesNothing(t *testing.T) {
	e := newEnv(t, "")
	sub := e.seq.MiniBlocks(1000)
	defer sub.Unsubscribe()
	e.tick()
	const senders, perSender = 10, 30
	var txs types.Transactions
	for n := uint64(0); n < perSender; n++ {
		for s := 0; s < senders; s++ {
			txs = append(txs, e.tx(s, n, gwei, 10*gwei))
		}
	}
	for i, err := range e.seq.SendTransactions(txs) {
		if err != nil {
			t.Fatalf("tx %d: %v", i, err)
		}
	}
	e.clock.step = 500 * time.Microsecond // about 20 txs per 10 ms mini-block
	next := make(map[common.Address]uint64)
	seen := 0
	for i := 0; i < 200 && seen < len(txs); i++ {
		e.seq.Step(false) // each step runs until the mini-block is due, reading the clock per tx
		for len(sub.C()) > 0 {
			mb := <-sub.C()
			for _, tx := range mb.Txs {
				from, _ := types.Sender(types.LatestSigner(e.cfg), tx)
				if tx.Nonce() != next[from] {
					t.Fatalf("sender %s: nonce %d executed, want %d", from, tx.Nonce(), next[from])
				}
				next[from]++
				seen++
			}
		}
	}
	if seen != len(txs) {
		t.Fatalf("%d of %d txs executed", seen, len(txs))
	}
	if pending, queued := e.seq.Pool().Stats(); pending+queued != 0 {
		t.Fatalf("pool still holds %d pending and %d queued", pending, queued)
	}
}
