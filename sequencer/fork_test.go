package sequencer

import (
	"math/big"
	"sync"
	"testing"

	"github.com/holiman/uint256"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/storage"
)

// fakeSource is a forked chain's state; it counts the reads it answers.
type fakeSource struct {
	mu       sync.Mutex
	accounts map[common.Address]fakeAccount
	reads    map[string]int
}

type fakeAccount struct {
	nonce   uint64
	balance uint64
	code    []byte
	slots   map[common.Hash]common.Hash
}

func (f *fakeSource) Account(addr common.Address) (uint64, *uint256.Int, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads["account "+addr.Hex()]++
	a := f.accounts[addr]
	return a.nonce, uint256.NewInt(a.balance), a.code, nil
}

func (f *fakeSource) Storage(addr common.Address, slot common.Hash) (common.Hash, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads["slot "+addr.Hex()+slot.Hex()]++
	return f.accounts[addr].slots[slot], nil
}

func (f *fakeSource) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads[key]
}

var (
	remoteEOA = common.HexToAddress("0x00000000000000000000000000000000000e0a01")
	remoteApp = common.HexToAddress("0x00000000000000000000000000000000000a0a01")
	// clearSlot0 is code that stores 0 in slot 0 (PUSH1 0 PUSH1 0 SSTORE).
	clearSlot0 = common.FromHex("0x600060005500")
	slot0      = common.Hash{}
	slot1      = common.BigToHash(big.NewInt(1))
)

func newFakeSource(balance uint64, v0, v1 int64) *fakeSource {
	return &fakeSource{reads: map[string]int{}, accounts: map[common.Address]fakeAccount{
		remoteEOA: {nonce: 3, balance: balance},
		remoteApp: {nonce: 1, code: clearSlot0, slots: map[common.Hash]common.Hash{
			slot0: common.BigToHash(big.NewInt(v0)), slot1: common.BigToHash(big.NewInt(v1)),
		}},
	}}
}

func newForkEnv(t *testing.T, src *fakeSource, at uint64) *env {
	t.Helper()
	ccfg := chain.DefaultConfig()
	ccfg.Fork = &chain.ForkPoint{Number: at, ParentHash: common.HexToHash("0x01"), Time: 1_700_000_000, BaseFee: big.NewInt(params.GWei)}
	return newEnvOf(t, ccfg, storage.Config{Fork: chain.NewFork(src)}, func(c *Config) { c.Dev, c.Mining = true, chain.MineAuto })
}

// latest reads the newest state of addr: balance, nonce, code length and
// the two slots.
func (e *env) latest(addr common.Address) (uint64, uint64, int, common.Hash, common.Hash) {
	e.t.Helper()
	st, _, err := e.seq.LatestState()
	if err != nil {
		e.t.Fatal(err)
	}
	return st.GetBalance(addr).Uint64(), st.GetNonce(addr), len(st.GetCode(addr)), st.GetState(addr, slot0), st.GetState(addr, slot1)
}

func (e *env) automine(tx *types.Transaction) {
	e.t.Helper()
	if err := e.seq.SendTransaction(tx); err != nil {
		e.t.Fatal(err)
	}
	e.seq.Step(false)
}

func TestForkedChainReadsItsSourceLazilyAndWritesOverIt(t *testing.T) {
	src := newFakeSource(5*params.GWei, 42, 7)
	e := newForkEnv(t, src, 100)
	if n := e.store.CurrentHeader().Number.Uint64(); n != 100 {
		t.Fatalf("forked chain starts at block %d, want the fork block 100", n)
	}
	bal, nonce, _, _, _ := e.latest(remoteEOA)
	if bal != 5*params.GWei || nonce != 3 {
		t.Fatalf("remote account reads balance %d nonce %d, want %d and 3", bal, nonce, uint64(5*params.GWei))
	}
	_, _, codeLen, v0, v1 := e.latest(remoteApp)
	if codeLen != len(clearSlot0) || v0.Big().Int64() != 42 || v1.Big().Int64() != 7 {
		t.Fatalf("remote contract reads code %d bytes, slots %s %s", codeLen, v0, v1)
	}
	e.latest(remoteEOA)
	e.latest(remoteApp)
	if n := src.count("account " + remoteEOA.Hex()); n != 1 {
		t.Fatalf("remote account fetched %d times, want once (cached)", n)
	}
	if n := src.count("slot " + remoteApp.Hex() + slot0.Hex()); n != 1 {
		t.Fatalf("remote slot fetched %d times, want once (cached)", n)
	}

	snap, err := e.seq.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// A payment to the remote account adds to its remote balance; a call to
	// the remote contract zeroes one slot and leaves the other the source's.
	e.automine(e.txTo(0, 0, remoteApp, 100_000))
	pay := types.MustSignNewTx(e.accts[0].Key, types.LatestSigner(e.cfg), &types.DynamicFeeTx{
		ChainID: e.cfg.ChainID, Nonce: 1, To: &remoteEOA, Gas: params.TxGas, GasTipCap: big.NewInt(gwei), GasFeeCap: big.NewInt(10 * gwei), Value: big.NewInt(params.GWei),
	})
	e.automine(pay)
	if n := e.store.CurrentHeader().Number.Uint64(); n != 102 {
		t.Fatalf("head %d after two automined txs on block 100, want 102", n)
	}
	if bal, nonce, _, _, _ = e.latest(remoteEOA); bal != 6*params.GWei || nonce != 3 {
		t.Fatalf("paid remote account: balance %d nonce %d, want %d and 3", bal, nonce, uint64(6*params.GWei))
	}
	if _, _, _, v0, v1 = e.latest(remoteApp); v0 != (common.Hash{}) || v1.Big().Int64() != 7 {
		t.Fatalf("after the call slot 0 = %s (want 0, written here), slot 1 = %s (want the source's 7)", v0, v1)
	}

	// A revert forgets the writes: the source's values show again.
	if ok, err := e.seq.Revert(snap); err != nil || !ok {
		t.Fatalf("revert: %v %v", ok, err)
	}
	if bal, _, _, v0, _ = e.latest(remoteEOA); bal != 5*params.GWei {
		t.Fatalf("after revert the remote balance is %d, want %d", bal, uint64(5*params.GWei))
	}
	if _, _, _, v0, _ = e.latest(remoteApp); v0.Big().Int64() != 42 {
		t.Fatalf("after revert slot 0 = %s, want the source's 42", v0)
	}

	// Forking anew: another source at another block; nothing of the old
	// fork or chain remains.
	next := newFakeSource(9*params.GWei, 1, 2)
	ccfg := chain.DefaultConfig()
	ccfg.Fork = &chain.ForkPoint{Number: 200, ParentHash: common.HexToHash("0x02"), Time: 1_700_000_500}
	e.automine(e.txTo(0, 0, remoteApp, 100_000))
	if err := e.seq.Refork(ccfg, next); err != nil {
		t.Fatal(err)
	}
	if h := e.store.CurrentHeader(); h.Number.Uint64() != 200 || h.Hash() != e.store.Genesis().Hash() {
		t.Fatalf("reforked head is block %d, want the new genesis at 200", h.Number)
	}
	if e.store.GetHeaderByNumber(100) != nil || e.store.GetHeaderByNumber(101) != nil {
		t.Fatal("blocks of the old fork are still served")
	}
	if bal, _, _, _, _ = e.latest(remoteEOA); bal != 9*params.GWei {
		t.Fatalf("reforked remote balance %d, want the new source's %d", bal, uint64(9*params.GWei))
	}
	if _, _, _, v0, v1 = e.latest(remoteApp); v0.Big().Int64() != 1 || v1.Big().Int64() != 2 {
		t.Fatalf("reforked slots %s %s, want the new source's 1 and 2", v0, v1)
	}
	e.automine(e.txTo(0, 0, remoteApp, 100_000)) // nonce 0 again: the old chain's txs are gone
	if n := e.store.CurrentHeader().Number.Uint64(); n != 201 {
		t.Fatalf("head %d after a tx on the refork, want 201", n)
	}
	if _, _, _, v0, _ = e.latest(remoteApp); v0 != (common.Hash{}) {
		t.Fatalf("slot 0 after the call on the refork = %s, want 0", v0)
	}

	// Forking nothing: the chain starts from its own genesis at block 0.
	if err := e.seq.Refork(chain.DefaultConfig(), nil); err != nil {
		t.Fatal(err)
	}
	if n := e.store.CurrentHeader().Number.Uint64(); n != 0 {
		t.Fatalf("unforked head %d, want 0", n)
	}
	if bal, _, codeLen, _, _ = e.latest(remoteApp); bal != 0 || codeLen != 0 {
		t.Fatalf("unforked chain still reads the remote contract: balance %d, code %d bytes", bal, codeLen)
	}
}
