package chain

import (
	"bytes"
	"math/big"
	"testing"

	"github.com/holiman/uint256"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/triedb"
)

func TestDeriveAccountsMatchesAnvil(t *testing.T) {
	accts, err := DeriveAccounts(DefaultMnemonic, 10)
	if err != nil {
		t.Fatal(err)
	}
	// The accounts anvil and Hardhat print for the test mnemonic.
	want := []struct{ addr, key string }{
		{"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"},
		{"0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"},
		{"0xa0Ee7A142d267C1f36714E4a8F75612F20a79720", "2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6"},
	}
	for i, idx := range []int{0, 1, 9} {
		if got := accts[idx].Address.Hex(); got != want[i].addr {
			t.Errorf("account %d = %s, want %s", idx, got, want[i].addr)
		}
		if got := common.Bytes2Hex(crypto.FromECDSA(accts[idx].Key)); got != want[i].key {
			t.Errorf("key %d = %s, want %s", idx, got, want[i].key)
		}
	}
	if _, err := DeriveAccounts("not a mnemonic", 1); err == nil {
		t.Error("invalid mnemonic accepted")
	}
}

func TestGenesisAlloc(t *testing.T) {
	g, accts, err := Genesis(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if len(accts) != 10 {
		t.Fatalf("got %d dev accounts, want 10", len(accts))
	}
	funds := new(big.Int).Mul(big.NewInt(10_000), big.NewInt(params.Ether))
	for _, a := range accts {
		if g.Alloc[a.Address].Balance.Cmp(funds) != 0 {
			t.Errorf("%s funded with %s, want %s", a.Address, g.Alloc[a.Address].Balance, funds)
		}
	}
	for name, addr := range map[string]common.Address{"create2 deployer": CREATE2DeployerAddress, "multicall3": Multicall3Address, "beacon roots": params.BeaconRootsAddress, "history": params.HistoryStorageAddress} {
		if len(g.Alloc[addr].Code) == 0 {
			t.Errorf("%s has no code at %s", name, addr)
		}
	}
	if len(g.Alloc[Multicall3Address].Code) != 0xee0 {
		t.Errorf("multicall3 code is %d bytes, want 3808", len(g.Alloc[Multicall3Address].Code))
	}
	cfg := g.Config
	if !cfg.IsOsaka(big.NewInt(0), 0) || !cfg.IsPrague(big.NewInt(0), 0) || cfg.IsAmsterdam(big.NewInt(0), 0) {
		t.Errorf("forks at genesis: osaka %v prague %v amsterdam %v; want every fork through Osaka and no later", cfg.IsOsaka(big.NewInt(0), 0), cfg.IsPrague(big.NewInt(0), 0), cfg.IsAmsterdam(big.NewInt(0), 0))
	}
	bad := DefaultConfig()
	bad.ChainID = 0
	if _, _, err := Genesis(bad); err == nil {
		t.Error("chain id 0 accepted")
	}
	large := DefaultConfig()
	large.StateAccounts = 3
	g3, _, err := Genesis(large)
	if err != nil {
		t.Fatal(err)
	}
	if len(g3.Alloc) != len(g.Alloc)+3 || StateAccount(0) == StateAccount(1) {
		t.Fatalf("%d accounts with 3 state accounts, want %d", len(g3.Alloc), len(g.Alloc)+3)
	}
	for i := 0; i < 3; i++ {
		if a, ok := g3.Alloc[StateAccount(i)]; !ok || a.Balance.Cmp(big1Ether) != 0 {
			t.Errorf("state account %d: %+v, want 1 ETH", i, a)
		}
	}
	large.StateAccounts = -1
	if _, _, err := Genesis(large); err == nil {
		t.Error("negative state accounts accepted")
	}
}

var big1Ether = big.NewInt(params.Ether)

// testChain is an in-memory chain for builder tests.
type testChain struct {
	db      state.Database
	headers map[uint64]*types.Header
	config  *params.ChainConfig
	accts   []DevAccount
}

func newTestChain(t testing.TB) *testChain {
	t.Helper()
	g, accts, err := Genesis(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	kv := rawdb.NewMemoryDatabase()
	tdb := triedb.NewDatabase(kv, triedb.HashDefaults)
	block, err := g.Commit(kv, tdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &testChain{db: state.NewDatabase(tdb, state.NewCodeDB(kv)), headers: map[uint64]*types.Header{0: block.Header()}, config: g.Config, accts: accts}
}

func (c *testChain) GetHeader(h common.Hash, n uint64) *types.Header { return c.headers[n] }
func (c *testChain) GetHeaderByNumber(n uint64) *types.Header        { return c.headers[n] }
func (c *testChain) CurrentHeader() *types.Header                    { return c.headers[uint64(len(c.headers)-1)] }
func (c *testChain) transfer(t testing.TB, from int, nonce uint64, to common.Address, wei int64) *types.Transaction {
	t.Helper()
	return types.MustSignNewTx(c.accts[from].Key, types.LatestSigner(c.config), &types.DynamicFeeTx{
		ChainID: c.config.ChainID, Nonce: nonce, To: &to, Gas: params.TxGas, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei * 10), Value: big.NewInt(wei),
	})
}

func TestBlockBuilderSealsVerifiableBlock(t *testing.T) {
	c := newTestChain(t)
	parent := c.CurrentHeader()
	b, err := NewBlockBuilder(c.config, c, c.db, parent, NextHeader(c.config, parent, parent.Time+1, DefaultGasLimit, common.Address{}))
	if err != nil {
		t.Fatal(err)
	}
	to := common.HexToAddress("0x1234")
	for i := uint64(0); i < 3; i++ {
		if _, err := b.ApplyTx(c.transfer(t, 0, i, to, 100)); err != nil {
			t.Fatalf("tx %d: %v", i, err)
		}
	}
	changes := b.TakeChanges()
	var sawTo bool
	for _, ch := range changes {
		if ch.Address == to {
			sawTo = true
			if ch.Balance.Uint64() != 300 {
				t.Errorf("mini-block change of %s balance %s, want 300", to, ch.Balance)
			}
		}
	}
	if !sawTo {
		t.Fatalf("changes %v lack the recipient", changes)
	}
	if _, err := b.ApplyTx(c.transfer(t, 0, 0, to, 1)); err == nil {
		t.Fatal("replayed nonce applied")
	}
	if got := len(b.TakeChanges()); got != 0 {
		t.Fatalf("a rejected tx left %d changes", got)
	}
	sb, err := b.Seal()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sb.Block.Transactions()); n != 3 || len(sb.Receipts) != 3 {
		t.Fatalf("block has %d txs and %d receipts, want 3", n, len(sb.Receipts))
	}
	// The witness alone must reproduce the sealed roots.
	root, receiptRoot, err := ExecuteStateless(c.config, sb.Block, sb.Witness)
	if err != nil {
		t.Fatal(err)
	}
	if root != sb.Block.Root() || receiptRoot != sb.Block.ReceiptHash() {
		t.Fatalf("stateless roots %s/%s, want %s/%s", root, receiptRoot, sb.Block.Root(), sb.Block.ReceiptHash())
	}
	var diffTo *AccountChange
	for i := range sb.Diff.Accounts {
		if sb.Diff.Accounts[i].Address == to {
			diffTo = &sb.Diff.Accounts[i]
		}
	}
	if diffTo == nil || diffTo.Balance.Uint64() != 300 {
		t.Fatalf("state diff entry for recipient %+v, want balance 300", diffTo)
	}
	if sb.Diff.OriginRoot != parent.Root || sb.Diff.Root != sb.Block.Root() {
		t.Fatalf("diff roots %s→%s, want %s→%s", sb.Diff.OriginRoot, sb.Diff.Root, parent.Root, sb.Block.Root())
	}
}

type mapReader map[common.Address]*types.StateAccount

func (m mapReader) Account(a common.Address) (*types.StateAccount, error) { return m[a], nil }
func (m mapReader) Storage(common.Address, common.Hash) (common.Hash, error) {
	return common.Hash{0xba, 0x5e}, nil
}
func (m mapReader) Has(common.Address, common.Hash) bool     { return false }
func (m mapReader) Code(common.Address, common.Hash) []byte  { return nil }
func (m mapReader) CodeSize(common.Address, common.Hash) int { return 0 }

func TestOverlayReader(t *testing.T) {
	a, b := common.HexToAddress("0xa"), common.HexToAddress("0xb")
	base := mapReader{a: {Nonce: 1, Balance: uint256.NewInt(5), Root: types.EmptyRootHash, CodeHash: types.EmptyCodeHash[:]}}
	slot := common.Hash{1}
	code := []byte{0x60, 0x00}
	var o *Overlay
	o = o.Push([]AccountChange{{Address: a, Nonce: 2, Balance: uint256.NewInt(7), CodeHash: types.EmptyCodeHash, Storage: []SlotChange{{Slot: slot, Value: common.Hash{7}}}}})
	o = o.Push([]AccountChange{{Address: b, Nonce: 1, Balance: uint256.NewInt(1), CodeHash: crypto.Keccak256Hash(code), Code: code}})
	// Enough layers to force a flatten; the newest value must win.
	for i := 0; i < maxOverlayDepth+3; i++ {
		o = o.Push([]AccountChange{{Address: a, Nonce: uint64(3 + i), Balance: uint256.NewInt(7), CodeHash: types.EmptyCodeHash}})
	}
	r := o.Reader(base)
	acct, _ := r.Account(a)
	if acct.Nonce != uint64(3+maxOverlayDepth+2) {
		t.Errorf("nonce %d, want %d", acct.Nonce, 3+maxOverlayDepth+2)
	}
	if v, _ := r.Storage(a, slot); v != (common.Hash{7}) {
		t.Errorf("overlay slot %x, want 07", v)
	}
	if v, _ := r.Storage(a, common.Hash{2}); v != (common.Hash{0xba, 0x5e}) {
		t.Errorf("untouched slot %x, want the base value", v)
	}
	if got := r.Code(b, crypto.Keccak256Hash(code)); !bytes.Equal(got, code) {
		t.Errorf("code %x, want %x", got, code)
	}
	o = o.Push([]AccountChange{{Address: a, Deleted: true, Balance: new(uint256.Int)}})
	r = o.Reader(base)
	if acct, _ := r.Account(a); acct != nil {
		t.Errorf("deleted account reads %+v, want nil", acct)
	}
	if v, _ := r.Storage(a, common.Hash{2}); v != (common.Hash{}) {
		t.Errorf("deleted account slot %x, want zero", v)
	}
}

func TestFeedDropsSlowSubscriber(t *testing.T) {
	var f Feed[int]
	fast, slow := f.Subscribe(10), f.Subscribe(1)
	f.Send(1)
	if n := f.Send(2); n != 1 {
		t.Fatalf("second send reached %d subscribers, want 1", n)
	}
	select {
	case err := <-slow.Err():
		if err != ErrSubscriberTooSlow {
			t.Fatalf("err %v, want ErrSubscriberTooSlow", err)
		}
	default:
		t.Fatal("slow subscriber not told it was dropped")
	}
	if got := <-slow.C(); got != 1 {
		t.Fatalf("slow subscriber got %d, want the buffered 1", got)
	}
	if a, b := <-fast.C(), <-fast.C(); a != 1 || b != 2 {
		t.Fatalf("fast subscriber got %d,%d, want 1,2", a, b)
	}
	fast.Unsubscribe()
	if f.Len() != 0 {
		t.Fatalf("%d subscribers left, want 0", f.Len())
	}
}
