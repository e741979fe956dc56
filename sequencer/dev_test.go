package sequencer

import (
	"context"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/holiman/uint256"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/meganode/meganode/chain"
)

func newDevEnv(t *testing.T, mode chain.MiningMode) *env {
	t.Helper()
	return newEnvWith(t, "", func(c *Config) { c.Dev, c.Mining = true, mode })
}

// newBenchDevEnv is the devnet's sequencer as `meganode devnet --automine`
// runs it: alone, recording no witness.
func newBenchDevEnv() *env {
	return newEnvWith(&testing.T{}, "", func(c *Config) { c.Dev, c.Mining, c.NoWitness = true, chain.MineAuto, true })
}

// logger is code that emits one LOG0 per call.
var loggerCode = common.FromHex("0x60006000a000")

func (e *env) txTo(from int, nonce uint64, to common.Address, gas uint64) *types.Transaction {
	return types.MustSignNewTx(e.accts[from].Key, types.LatestSigner(e.cfg), &types.DynamicFeeTx{
		ChainID: e.cfg.ChainID, Nonce: nonce, To: &to, Gas: gas, GasTipCap: big.NewInt(gwei), GasFeeCap: big.NewInt(10 * gwei),
	})
}

// replayDev re-executes a stored block as a dev chain's full node and
// prover do, with its edits, over its witness.
func (e *env) replayDev(n uint64) {
	e.t.Helper()
	msg, err := e.store.BlockMessage(n)
	if err != nil || msg == nil {
		e.t.Fatalf("block %d: %v", n, err)
	}
	block := msg.Bundle.Block
	v, err := chain.VerifyDev(e.cfg, block, msg.Bundle.Witness, msg.Edits)
	if err != nil || !v.Valid {
		e.t.Fatalf("block %d does not verify as a dev block: %+v %v", n, v, err)
	}
}

func TestAutomineSealsEachTxInItsOwnBlock(t *testing.T) {
	e := newDevEnv(t, chain.MineAuto)
	heads := e.seq.Heads(16)
	var hashes []common.Hash
	for nonce := uint64(0); nonce < 3; nonce++ {
		tx := e.tx(0, nonce, gwei, 10*gwei)
		if err := e.seq.SendTransaction(tx); err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, tx.Hash())
	}
	e.seq.Step(false)
	if n := e.store.CurrentHeader().Number.Uint64(); n != 3 {
		t.Fatalf("head %d after 3 automined txs, want 3", n)
	}
	prev := e.store.GetHeaderByNumber(0)
	for i, hash := range hashes {
		block := e.store.BlockByNumber(uint64(i + 1))
		if len(block.Transactions()) != 1 || block.Transactions()[0].Hash() != hash {
			t.Fatalf("block %d holds %d txs, want tx %d alone", i+1, len(block.Transactions()), i)
		}
		if block.Time() <= prev.Time {
			t.Fatalf("block %d time %d not after %d", i+1, block.Time(), prev.Time)
		}
		prev = block.Header()
		h := <-heads.C()
		if h.Header.Hash() != block.Hash() {
			t.Fatalf("head event %d is %s, want %s", i+1, h.Header.Hash(), block.Hash())
		}
		e.replayDev(uint64(i + 1))
	}
	// Nothing waits: no block is sealed without a tx.
	e.clock.advance(5 * time.Second)
	e.seq.Step(true)
	if n := e.store.CurrentHeader().Number.Uint64(); n != 3 {
		t.Fatalf("an idle automine sequencer sealed block %d", n)
	}
}

func TestManualMiningWaitsForMine(t *testing.T) {
	e := newDevEnv(t, chain.MineManual)
	if err := e.seq.SendTransaction(e.tx(0, 0, gwei, 10*gwei)); err != nil {
		t.Fatal(err)
	}
	if err := e.seq.SendTransaction(e.tx(0, 1, gwei, 10*gwei)); err != nil {
		t.Fatal(err)
	}
	e.seq.Step(false)
	e.seq.Step(true)
	if e.store.CurrentHeader().Number.Uint64() != 0 {
		t.Fatal("a manual-mining sequencer sealed a block by itself")
	}
	if err := e.seq.Mine(1, 1, nil); err != nil {
		t.Fatal(err)
	}
	if b := e.store.BlockByNumber(1); b == nil || len(b.Transactions()) != 2 {
		t.Fatal("evm_mine did not take both pooled txs")
	}
}

func TestDevTimestamps(t *testing.T) {
	e := newDevEnv(t, chain.MineManual)
	genesis := e.store.CurrentHeader().Time
	if err := e.seq.SetNextBlockTimestamp(genesis); err == nil {
		t.Fatal("a timestamp equal to the head's was accepted")
	} else if te := new(TimestampError); !errors.As(err, &te) || te.Head != genesis {
		t.Fatalf("error %v, want a TimestampError naming the head's time", err)
	}
	want := uint64(e.clock.now.Unix()) + 1000
	if err := e.seq.SetNextBlockTimestamp(want); err != nil {
		t.Fatal(err)
	}
	if err := e.seq.Mine(3, 60, nil); err != nil {
		t.Fatal(err)
	}
	for i, n := range []uint64{1, 2, 3} {
		if got := e.store.GetHeaderByNumber(n).Time; got != want+uint64(60*i) {
			t.Fatalf("block %d time %d, want %d", n, got, want+uint64(60*i))
		}
	}
	offset, err := e.seq.IncreaseTime(3600)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.seq.Mine(1, 1, nil); err != nil {
		t.Fatal(err)
	}
	now := uint64(e.clock.now.Unix())
	if got := e.store.CurrentHeader().Time; got != uint64(int64(now)+offset) {
		t.Fatalf("after increaseTime the block time is %d, want now+offset %d", got, int64(now)+offset)
	}
	if _, err := e.seq.SetBlockTimestampInterval(7); err != nil {
		t.Fatal(err)
	}
	last := e.store.CurrentHeader().Time
	if err := e.seq.Mine(2, 1, nil); err != nil {
		t.Fatal(err)
	}
	if got := e.store.CurrentHeader().Time; got != last+14 {
		t.Fatalf("with a 7 s interval two blocks end at %d, want %d", got, last+14)
	}
}

func TestSnapshotRevert(t *testing.T) {
	e := newDevEnv(t, chain.MineAuto)
	logger := common.HexToAddress("0x10c0")
	if err := e.seq.Edit([]chain.DevEdit{chain.CodeEdit(logger, loggerCode)}); err != nil {
		t.Fatal(err)
	}
	if err := e.seq.Mine(1, 1, nil); err != nil {
		t.Fatal(err)
	}
	e.replayDev(1)
	snap, err := e.seq.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	head := e.store.CurrentHeader()
	heads := e.seq.Heads(64)
	blocks := e.seq.Blocks(64)
	// After the snapshot: a block with a log, an edit, mined blocks, a
	// later snapshot and a tx left waiting in the pool for a nonce.
	if err := e.seq.SendTransaction(e.txTo(0, 0, logger, 100_000)); err != nil {
		t.Fatal(err)
	}
	e.seq.Step(false)
	if r := e.store.Receipts(e.store.CurrentHeader().Hash(), 2); len(r) != 1 || len(r[0].Logs) != 1 {
		t.Fatal("the logger call left no log")
	}
	rich := common.HexToAddress("0x5151")
	if err := e.seq.Edit([]chain.DevEdit{chain.BalanceEdit(rich, uint256.NewInt(12345))}); err != nil {
		t.Fatal(err)
	}
	later, err := e.seq.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.seq.IncreaseTime(86400); err != nil {
		t.Fatal(err)
	}
	if err := e.seq.Mine(5, 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.seq.SendTransaction(e.tx(1, 5, gwei, 10*gwei)); err != nil { // nonce gap: waits
		t.Fatal(err)
	}
	if later <= snap {
		t.Fatalf("snapshot ids %d then %d do not increase", snap, later)
	}
	for len(heads.C()) > 0 {
		<-heads.C()
	}
	for len(blocks.C()) > 0 {
		<-blocks.C()
	}

	ok, err := e.seq.Revert(snap)
	if err != nil || !ok {
		t.Fatalf("revert: %v %v", ok, err)
	}
	if got := e.store.CurrentHeader(); got.Hash() != head.Hash() {
		t.Fatalf("head %d after revert, want %d", got.Number, head.Number)
	}
	if e.store.BlockByNumber(2) != nil {
		t.Fatal("a block after the snapshot is still canonical")
	}
	st, h, err := e.seq.LatestState()
	if err != nil {
		t.Fatal(err)
	}
	if h.Hash() != head.Hash() {
		t.Fatal("latest calls do not run in the head block after a revert")
	}
	if st.GetBalance(rich).Sign() != 0 {
		t.Fatal("an edit after the snapshot survived the revert")
	}
	if n := len(e.seq.Pool().All()); n != 0 {
		t.Fatalf("the pool holds %d txs; at the snapshot it held none", n)
	}
	rewound := <-heads.C()
	if !rewound.Rewound || rewound.Header.Hash() != head.Hash() || len(rewound.Removed) != 1 || !rewound.Removed[0].Removed {
		t.Fatalf("rewind event %+v, want the snapshot's head with the one removed log", rewound)
	}
	if m := <-blocks.C(); !m.Rewind || m.Bundle.Block.Hash() != head.Hash() {
		t.Fatal("followers are not told of the rewind")
	}
	// The clock is the snapshot's: the next block does not carry the day.
	if err := e.seq.Mine(1, 1, nil); err != nil {
		t.Fatal(err)
	}
	if got := e.store.CurrentHeader().Time; got > uint64(e.clock.now.Unix())+1 {
		t.Fatalf("block time %d after revert carries the time moved after the snapshot (now %d)", got, e.clock.now.Unix())
	}
	// The later snapshot went with the one reverted to; so did that one.
	for _, id := range []uint64{later, snap, 999} {
		if ok, err := e.seq.Revert(id); ok || err != nil {
			t.Fatalf("revert to spent snapshot %d: %v %v, want false", id, ok, err)
		}
	}
	// Numbering goes on where the snapshot's chain ended.
	if err := e.seq.SendTransaction(e.tx(0, 0, gwei, 10*gwei)); err != nil {
		t.Fatalf("the reverted tx's nonce is not free again: %v", err)
	}
	e.seq.Step(false)
	if n := e.store.CurrentHeader().Number.Uint64(); n != 3 {
		t.Fatalf("head %d, want 3", n)
	}
	e.replayDev(3)
}

func TestRevertRestoresThePool(t *testing.T) {
	e := newDevEnv(t, chain.MineManual)
	tx := e.tx(0, 0, gwei, 10*gwei)
	if err := e.seq.SendTransaction(tx); err != nil {
		t.Fatal(err)
	}
	snap, err := e.seq.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.seq.Mine(1, 1, nil); err != nil {
		t.Fatal(err)
	}
	if len(e.seq.Pool().All()) != 0 {
		t.Fatal("mined tx still pooled")
	}
	if ok, err := e.seq.Revert(snap); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if all := e.seq.Pool().All(); len(all) != 1 || all[0].Hash() != tx.Hash() {
		t.Fatalf("pool after revert %v, want the tx pooled at the snapshot", all)
	}
}

func TestEditsBetweenTxsReexecute(t *testing.T) {
	e := newDevEnv(t, chain.MineRealtime)
	target := common.HexToAddress("0xed17")
	if err := e.seq.SendTransaction(e.tx(0, 0, gwei, 10*gwei)); err != nil {
		t.Fatal(err)
	}
	e.tick()
	edits := []chain.DevEdit{
		chain.BalanceEdit(target, uint256.NewInt(params.Ether)),
		chain.NonceEdit(target, 7),
		chain.CodeEdit(target, loggerCode),
		chain.StorageEdit(target, common.Hash{1}, common.Hash{2}),
	}
	if err := e.seq.Edit(edits); err != nil {
		t.Fatal(err)
	}
	st, _, _ := e.seq.LatestState()
	if st.GetNonce(target) != 7 || st.GetState(target, common.Hash{1}) != (common.Hash{2}) {
		t.Fatal("edits not visible at latest at once")
	}
	if err := e.seq.SendTransaction(e.txTo(1, 0, target, 100_000)); err != nil {
		t.Fatal(err)
	}
	if err := e.seq.Mine(1, 1, nil); err != nil {
		t.Fatal(err)
	}
	msg, err := e.store.BlockMessage(1)
	if err != nil || msg == nil {
		t.Fatal(err)
	}
	if len(msg.Edits) != 1 || msg.Edits[0].TxIndex != 1 || len(msg.Edits[0].Edits) != 4 {
		t.Fatalf("stored edits %+v, want the 4 edits before tx 1", msg.Edits)
	}
	e.replayDev(1)
	// Not a dev chain: the same block does not re-execute.
	db, w, err := chain.WitnessDatabase(msg.Bundle.Witness)
	if err != nil {
		t.Fatal(err)
	}
	_, err = chain.ReplayWith(e.cfg, e.store, db, w.Headers[0], msg.Bundle.Block, chain.ReplayOptions{Edits: msg.Edits})
	if !errors.Is(err, chain.ErrBadBlock) {
		t.Fatalf("a production replay took a block with dev edits: %v", err)
	}
}

func TestImpersonation(t *testing.T) {
	e := newDevEnv(t, chain.MineAuto)
	contract := common.HexToAddress("0xc0ffee")
	if err := e.seq.Edit([]chain.DevEdit{chain.CodeEdit(contract, loggerCode), chain.BalanceEdit(contract, uint256.NewInt(params.Ether))}); err != nil {
		t.Fatal(err)
	}
	signer := types.LatestSigner(e.cfg)
	unsigned := types.NewTx(&types.DynamicFeeTx{ChainID: e.cfg.ChainID, To: &common.Address{1}, Gas: params.TxGas, GasTipCap: big.NewInt(gwei), GasFeeCap: big.NewInt(10 * gwei), Value: big.NewInt(5)})
	tx, err := chain.Impersonate(signer, unsigned, contract)
	if err != nil {
		t.Fatal(err)
	}
	if from, ok := chain.ImpersonatedSender(tx); !ok || from != contract {
		t.Fatalf("impersonated sender %s %v", from, ok)
	}
	if err := e.seq.SendTransaction(tx); !errors.Is(err, chain.ErrInvalidSender) {
		t.Fatalf("a tx as an account not impersonated: %v, want invalid sender", err)
	}
	if err := e.seq.Impersonate(contract, true); err != nil {
		t.Fatal(err)
	}
	if err := e.seq.SendTransaction(tx); err != nil {
		t.Fatalf("a tx as an impersonated contract: %v", err)
	}
	e.seq.Step(false)
	block := e.store.CurrentHeader()
	if r := e.store.Receipts(block.Hash(), block.Number.Uint64()); len(r) != 1 || r[0].Status != types.ReceiptStatusSuccessful {
		t.Fatal("impersonated send did not execute")
	}
	e.replayDev(block.Number.Uint64())
	// A production chain's pool refuses the signature outright.
	prod := newEnv(t, "")
	if err := prod.seq.SendTransaction(tx); !errors.Is(err, chain.ErrInvalidSender) {
		t.Fatalf("a production pool admitted an impersonation signature: %v", err)
	}
	if err := prod.seq.Impersonate(contract, true); !errors.Is(err, ErrNotDev) {
		t.Fatalf("impersonation on a production chain: %v", err)
	}
}

func TestDevMethodsNeedADevChain(t *testing.T) {
	e := newEnv(t, "")
	if _, err := e.seq.Snapshot(); !errors.Is(err, ErrNotDev) {
		t.Fatalf("snapshot: %v", err)
	}
	if err := e.seq.Mine(1, 1, nil); !errors.Is(err, ErrNotDev) {
		t.Fatalf("mine: %v", err)
	}
	if err := e.seq.Edit([]chain.DevEdit{chain.NonceEdit(common.Address{}, 1)}); !errors.Is(err, ErrNotDev) {
		t.Fatalf("edit: %v", err)
	}
	cfg := DefaultConfig()
	cfg.Mining = chain.MineAuto
	if err := cfg.Check(); err == nil {
		t.Fatal("automine accepted without --dev")
	}
}

func TestStateFileRebuildsTheChain(t *testing.T) {
	e := newDevEnv(t, chain.MineAuto)
	rich := common.HexToAddress("0x5151")
	if err := e.seq.Edit([]chain.DevEdit{chain.BalanceEdit(rich, uint256.NewInt(777)), chain.StorageEdit(rich, common.Hash{3}, common.Hash{4})}); err != nil {
		t.Fatal(err)
	}
	for nonce := uint64(0); nonce < 2; nonce++ {
		if err := e.seq.SendTransaction(e.tx(0, nonce, gwei, 10*gwei)); err != nil {
			t.Fatal(err)
		}
	}
	e.seq.Step(false)
	if err := e.seq.Edit([]chain.DevEdit{chain.NonceEdit(rich, 3)}); err != nil { // not mined yet
		t.Fatal(err)
	}
	st, err := e.seq.DumpState()
	if err != nil {
		t.Fatal(err)
	}
	if a := st.Accounts[rich]; a == nil || a.Balance.ToInt().Uint64() != 777 || a.Nonce != 3 || a.Storage[common.Hash{3}] != (common.Hash{4}) {
		t.Fatalf("dumped account %+v, want balance 777, nonce 3 and slot 3 = 4", a)
	}
	data, err := chain.EncodeDevState(st)
	if err != nil {
		t.Fatal(err)
	}
	back, err := chain.DecodeDevState(data)
	if err != nil {
		t.Fatal(err)
	}

	// A fresh devnet of the same genesis rebuilds the chain: same blocks.
	f := newDevEnv(t, chain.MineAuto)
	n, err := f.seq.LoadState(back)
	if err != nil || n != 2 {
		t.Fatalf("rebuilt %d blocks (%v), want 2", n, err)
	}
	if got, want := f.store.CurrentHeader().Hash(), e.store.CurrentHeader().Hash(); got != want {
		t.Fatalf("rebuilt head %s, want %s", got, want)
	}
	if r := f.store.Receipts(f.store.CurrentHeader().Hash(), 2); len(r) != 1 {
		t.Fatal("the rebuilt block lacks its receipt")
	}
	f.replayDev(1)

	// Into a chain that has moved on, the accounts are merged as anvil does.
	if err := f.seq.SendTransaction(f.tx(1, 0, gwei, 10*gwei)); err != nil {
		t.Fatal(err)
	}
	f.seq.Step(false)
	if _, err := f.seq.LoadState(back); err != nil {
		t.Fatal(err)
	}
	latest, _, _ := f.seq.LatestState()
	if latest.GetNonce(rich) != 3 || latest.GetBalance(rich).Uint64() != 777 {
		t.Fatal("merged state lacks the file's account")
	}
	if latest.GetNonce(e.accts[1].Address) != 1 {
		t.Fatal("a merge lowered a nonce the chain had raised")
	}
}

// BenchmarkSnapshotRevert times evm_revert plus the evm_snapshot after it
// (loadFixture's restore) with 1,000 accounts edited and mined since the
// snapshot; the edits and the mining are not timed.
func BenchmarkSnapshotRevert(b *testing.B) {
	e := newBenchDevEnv()
	id, err := e.seq.Snapshot()
	if err != nil {
		b.Fatal(err)
	}
	edits := make([]chain.DevEdit, 1000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for j := range edits {
			edits[j] = chain.BalanceEdit(common.BigToAddress(big.NewInt(int64(0x10000+j))), uint256.NewInt(uint64(i+1)))
		}
		if err := e.seq.Edit(edits); err != nil {
			b.Fatal(err)
		}
		if err := e.seq.Mine(1, 1, nil); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if ok, err := e.seq.Revert(id); !ok || err != nil {
			b.Fatal(ok, err)
		}
		if id, err = e.seq.Snapshot(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMineEmptyBlock times anvil_mine of one empty block.
func BenchmarkMineEmptyBlock(b *testing.B) {
	e := newBenchDevEnv()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := e.seq.Mine(1, 1, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAutomineTransfer times one transfer mined in a block of its own.
func BenchmarkAutomineTransfer(b *testing.B) {
	e := newBenchDevEnv()
	txs := make([]*types.Transaction, b.N)
	for i := range txs {
		txs[i] = e.tx(0, uint64(i), gwei, 10*gwei)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := e.seq.SendTransaction(txs[i]); err != nil {
			b.Fatal(err)
		}
		e.seq.Step(false)
	}
}

// A sequencer with nothing to read witnesses records none; one with
// followers records one per block.
func TestNoWitness(t *testing.T) {
	for _, none := range []bool{false, true} {
		e := newEnvWith(t, "", func(c *Config) { c.Dev, c.Mining, c.NoWitness = true, chain.MineAuto, none })
		if err := e.seq.SendTransaction(e.tx(0, 0, gwei, 10*gwei)); err != nil {
			t.Fatal(err)
		}
		e.seq.Step(false)
		msg, err := e.store.BlockMessage(1)
		if err != nil || msg == nil {
			t.Fatalf("block 1: %v", err)
		}
		if got := len(msg.Bundle.Witness) > 0; got == none {
			t.Fatalf("NoWitness %v: block 1 has a witness of %d bytes", none, len(msg.Bundle.Witness))
		}
	}
}

// After a revert an automined chain opens its next block only when
// something goes into it; edits, txs and mining work on it as on any.
func TestRevertDefersTheOpenBlock(t *testing.T) {
	e := newDevEnv(t, chain.MineAuto)
	id, err := e.seq.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	e.automine(e.tx(0, 0, gwei, 10*gwei))
	if ok, err := e.seq.Revert(id); !ok || err != nil {
		t.Fatalf("revert: %v %v", ok, err)
	}
	if e.seq.builder != nil {
		t.Fatal("the block after a revert was built before anything went into it")
	}
	if id, err = e.seq.Snapshot(); err != nil || e.seq.builder != nil {
		t.Fatalf("a snapshot of the reverted chain built its open block: %v", err)
	}
	addr := common.HexToAddress("0xfeed")
	if err := e.seq.Edit([]chain.DevEdit{chain.BalanceEdit(addr, uint256.NewInt(7))}); err != nil {
		t.Fatal(err)
	}
	if err := e.seq.Mine(1, 1, nil); err != nil {
		t.Fatal(err)
	}
	e.automine(e.tx(0, 0, gwei, 10*gwei)) // nonce 0 again: the reverted tx is gone
	if n := e.store.CurrentHeader().Number.Uint64(); n != 2 {
		t.Fatalf("head %d, want 2 (the mined edit, then the tx)", n)
	}
	if bal, _, _, _, _ := e.latest(addr); bal != 7 {
		t.Fatalf("balance edited on the deferred block reads %d, want 7", bal)
	}
	e.replayDev(1)
	e.replayDev(2)
	if ok, err := e.seq.Revert(id); !ok || err != nil {
		t.Fatalf("second revert: %v %v", ok, err)
	}
	if n := e.store.CurrentHeader().Number.Uint64(); n != 0 {
		t.Fatalf("head %d after reverting to genesis, want 0", n)
	}
}

// After an automined block the next one opens once the answer is out
// (Prepare, on the loop): a tx that arrives while it is being built waits
// for that build, and a revert discards a block that was never built.
func TestPrepareOpensTheNextBlockAfterTheAnswer(t *testing.T) {
	e := newEnvWith(t, "", func(c *Config) { c.Dev, c.Mining = true, chain.MineAuto })
	snap, err := e.seq.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	mine := func(nonce uint64) {
		t.Helper()
		if err := e.seq.SendTransaction(e.tx(0, nonce, gwei, 10*gwei)); err != nil {
			t.Fatal(err)
		}
		e.seq.Step(false)
	}
	mine(0)
	e.seq.stepMu.Lock()
	deferred, f := e.seq.builder == nil, e.seq.warm.Load()
	e.seq.stepMu.Unlock()
	if !deferred || f == nil {
		t.Fatalf("after a mined block: builder deferred %v, warmable %v", deferred, f != nil)
	}
	e.seq.Prepare()
	select {
	case <-e.seq.warmCh:
	default:
		t.Fatal("Prepare did not ask the loop to open the block")
	}
	done := make(chan struct{})
	go func() { defer close(done); e.seq.warmUp() }() // the loop's part, racing the next tx
	mine(1)
	<-done
	if f.b == nil || f.err != nil {
		t.Fatalf("warmed builder %v, err %v", f.b, f.err)
	}
	if n := e.store.CurrentHeader().Number.Uint64(); n != 2 {
		t.Fatalf("head %d after two automined txs, want 2", n)
	}
	latest, _, err := e.seq.LatestState()
	if err != nil {
		t.Fatal(err)
	}
	if got := latest.GetNonce(e.accts[0].Address); got != 2 {
		t.Fatalf("nonce %d, want 2", got)
	}
	// A revert opens a block nothing may use: Prepare leaves it alone.
	if ok, err := e.seq.Revert(snap); !ok || err != nil {
		t.Fatal(ok, err)
	}
	e.seq.Prepare()
	select {
	case <-e.seq.warmCh:
		t.Fatal("Prepare opened the block after a revert")
	default:
	}
	mine(0)
	if n := e.store.CurrentHeader().Number.Uint64(); n != 1 {
		t.Fatalf("head %d after the revert and a tx, want 1", n)
	}
}

// AwaitExecuted answers with the tx's result before its block is sealed,
// and Settle returns once the block is in the store; MineBehind refuses a
// bad timestamp at once and makes its blocks behind the answer. Concurrent
// senders each get their tx's own outcome.
func TestAnswersBeforeTheSeal(t *testing.T) {
	e := newDevEnv(t, chain.MineAuto)
	tx := e.tx(0, 0, gwei, 10*gwei)
	out, err := e.seq.AwaitExecuted(tx, time.Minute)
	if err != nil || out == nil || out.Receipt == nil {
		t.Fatalf("AwaitExecuted: %+v, %v", out, err)
	}
	if out.Receipt.Status != types.ReceiptStatusSuccessful || out.BlockNumber != 1 || out.Tx.Hash() != tx.Hash() || out.Sealed {
		t.Fatalf("outcome %+v, want the executed tx in block 1, not sealed yet", out)
	}
	e.seq.Settle()
	if b := e.store.BlockByNumber(1); b == nil || len(b.Transactions()) != 1 || b.Transactions()[0].Hash() != tx.Hash() {
		t.Fatal("after Settle block 1 does not hold the tx")
	}

	head := e.store.CurrentHeader()
	if err := e.seq.MineBehind(1, 1, &head.Time); err == nil {
		t.Fatal("MineBehind took the head's own timestamp")
	}
	if err := e.seq.MineBehind(3, 60, nil); err != nil {
		t.Fatal(err)
	}
	e.seq.Settle()
	if n := e.store.CurrentHeader().Number.Uint64(); n != 4 {
		t.Fatalf("after MineBehind(3) from block 1: head %d, want 4", n)
	}
	if d := e.store.GetHeaderByNumber(4).Time - e.store.GetHeaderByNumber(3).Time; d != 60 {
		t.Fatalf("blocks 3 and 4 are %d s apart, want 60", d)
	}

	var wg sync.WaitGroup
	outs := make([]*chain.TxOutcome, 4)
	errs := make([]error, 4)
	txs := make([]*types.Transaction, 4)
	for i := range txs {
		txs[i] = e.tx(i+1, 0, gwei, 10*gwei)
	}
	for i := range txs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = e.seq.AwaitExecuted(txs[i], time.Minute)
		}()
	}
	wg.Wait()
	e.seq.Settle()
	blocks := make(map[uint64]bool)
	for i, o := range outs {
		if errs[i] != nil || o == nil || o.Tx.Hash() != txs[i].Hash() || o.Receipt.Status != types.ReceiptStatusSuccessful {
			t.Fatalf("concurrent send %d: %+v, %v", i, o, errs[i])
		}
		b := e.store.BlockByNumber(o.BlockNumber)
		if b == nil || len(b.Transactions()) != 1 || b.Transactions()[0].Hash() != txs[i].Hash() || blocks[o.BlockNumber] {
			t.Fatalf("concurrent send %d: block %d does not hold its tx alone", i, o.BlockNumber)
		}
		blocks[o.BlockNumber] = true
	}
}

// Stop returns only once the work behind an answer is done: the node closes
// the store after it.
func TestStopWaitsForTheWorkBehindAnAnswer(t *testing.T) {
	e := newDevEnv(t, chain.MineAuto)
	if err := e.seq.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := e.seq.MineBehind(200, 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.seq.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := e.store.CurrentHeader().Number.Uint64(); n != 200 {
		t.Fatalf("head %d when Stop returned, want the 200 blocks mined behind the answer", n)
	}
}

// TestDevFirstBlockKeepsGenesisBaseFee checks anvil's first base fee: the
// genesis's, with EIP-1559 deriving every later one. A chain that is not a
// dev chain, and a fork, derive the first from the genesis too.
func TestDevFirstBlockKeepsGenesisBaseFee(t *testing.T) {
	genesisFee := big.NewInt(params.InitialBaseFee)
	e := newDevEnv(t, chain.MineAuto)
	if got := e.seq.PendingHeader().BaseFee; got.Cmp(genesisFee) != 0 {
		t.Fatalf("base fee of the block after genesis: got %v, want the genesis's %v", got, genesisFee)
	}
	if err := e.seq.Mine(2, 1, nil); err != nil {
		t.Fatal(err)
	}
	b1, b2 := e.store.GetHeaderByNumber(1), e.store.GetHeaderByNumber(2)
	if b1.BaseFee.Cmp(genesisFee) != 0 {
		t.Errorf("block 1 base fee: got %v, want %v", b1.BaseFee, genesisFee)
	}
	if want := eip1559.CalcBaseFee(e.cfg, b1); b2.BaseFee.Cmp(want) != 0 {
		t.Errorf("block 2 base fee: got %v, want EIP-1559's %v", b2.BaseFee, want)
	}
	e.replayDev(1)
	if err := e.seq.Reset(); err != nil {
		t.Fatal(err)
	}
	if got := e.seq.PendingHeader().BaseFee; got.Cmp(genesisFee) != 0 {
		t.Errorf("after a reset: got %v, want %v", got, genesisFee)
	}

	for name, e := range map[string]*env{
		"not dev": newEnv(t, ""),
		"fork":    newForkEnv(t, newFakeSource(params.GWei, 0, 0), 100),
	} {
		head := e.store.CurrentHeader()
		if got, want := e.seq.PendingHeader().BaseFee, eip1559.CalcBaseFee(e.cfg, head); got.Cmp(want) != 0 {
			t.Errorf("%s: base fee after genesis: got %v, want EIP-1559's %v", name, got, want)
		}
	}
}
