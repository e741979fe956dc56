package storage_test

import (
	"context"
	"errors"
	"math/big"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/storage"
)

// storeSource serves state sync from a store, as a peer would: at most max
// items an answer; forge corrupts the next answer's first node.
type storeSource struct {
	s     *storage.Store
	max   int
	forge bool
	asked int
}

func (p *storeSource) TrieNodes(_ context.Context, root common.Hash, paths [][]byte, hashes []common.Hash) ([][]byte, error) {
	p.asked++
	n := min(len(paths), p.max)
	out, err := p.s.TrieNodes(root, paths[:n], hashes[:n], 1<<20)
	if p.forge && len(out) > 0 {
		p.forge = false
		bad := append([]byte(nil), out[0]...)
		bad[len(bad)-1] ^= 1
		out[0] = bad
	}
	return out, err
}

func (p *storeSource) Codes(_ context.Context, hashes []common.Hash) ([][]byte, error) {
	return p.s.Codes(hashes[:min(len(hashes), p.max)], 1<<20)
}

// emptySource has nothing: its peers are gone.
type emptySource struct{}

func (emptySource) TrieNodes(context.Context, common.Hash, [][]byte, []common.Hash) ([][]byte, error) {
	return nil, errors.New("no peer")
}
func (emptySource) Codes(context.Context, []common.Hash) ([][]byte, error) {
	return nil, errors.New("no peer")
}

// A contract whose constructor stores 42 in slot 0 and 7 in slot 1 and
// whose code is the one byte 0xfe.
var storingInit = common.FromHex("0x602a6000556007600155" + "60fe600053" + "60016000f3")

// syncedChain seals n transfer blocks then a block deploying storingInit
// on a path-scheme store in dir; it returns the store and the contract.
func syncedChain(t *testing.T, dir string, g *core.Genesis, accts []chain.DevAccount, n int) (*storage.Store, common.Address) {
	t.Helper()
	src, err := storage.Open(storage.Config{Dir: dir}, g, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	sealTransfers(t, src, g, accts, n)
	parent := src.CurrentHeader()
	header := chain.NextHeader(g.Config, parent, parent.Time+1, g.GasLimit, common.Address{})
	b, err := chain.NewBlockBuilder(g.Config, src, src.StateDatabase(), parent, header)
	if err != nil {
		t.Fatal(err)
	}
	nonce := header.Number.Uint64() - 1
	tx := types.MustSignNewTx(accts[0].Key, types.LatestSigner(g.Config), &types.DynamicFeeTx{ChainID: g.Config.ChainID, Nonce: nonce,
		Gas: 200_000, GasFeeCap: big.NewInt(params.GWei * 10), Data: storingInit})
	if _, err := b.ApplyTx(tx); err != nil {
		t.Fatal(err)
	}
	sb, err := b.Seal()
	if err != nil {
		t.Fatal(err)
	}
	if err := src.WriteSealed(sb, header.Number.Uint64()); err != nil {
		t.Fatal(err)
	}
	return src, crypto.CreateAddress(accts[0].Address, nonce)
}

// ancestorsOf reads the headers before block number from src as a joining
// node gets them: over the state protocol's RLP.
func ancestorsOf(t *testing.T, src *storage.Store, number uint64) []*types.Header {
	t.Helper()
	items, err := src.Headers(1, number-1, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var hs []*types.Header
	for _, it := range items {
		h := new(types.Header)
		if err := rlp.DecodeBytes(it, h); err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	return hs
}

func sealedAt(src *storage.Store, number uint64) *chain.SealedBlock {
	b := src.BlockByNumber(number)
	return &chain.SealedBlock{Block: b, Receipts: src.Receipts(b.Hash(), number)}
}

// A new store syncs a recent block's state from another: every node and
// code is checked against its hash (a forged node is refused and asked
// again), answers cut short are asked again, the block becomes the head
// with the headers before it, and the chain goes on from there.
func TestStateSync(t *testing.T) {
	g, accts := pathGenesis(t)
	src, contract := syncedChain(t, t.TempDir(), g, accts, 5)
	pivot := src.CurrentHeader()
	dst, err := storage.Open(storage.Config{Dir: t.TempDir()}, g, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()

	feed := &storeSource{s: src, max: 7, forge: true}
	st, err := dst.SyncState(context.Background(), pivot.Root, feed)
	if err != nil {
		t.Fatal(err)
	}
	if st.Nodes == 0 || st.Codes == 0 || feed.asked < 2 {
		t.Fatalf("synced %d nodes and %d codes in %d requests", st.Nodes, st.Codes, feed.asked)
	}
	if feed.forge {
		t.Fatal("the forged node was never served")
	}
	if err := dst.WriteSyncedBlock(sealedAt(src, pivot.Number.Uint64()), pivot.Number.Uint64(), ancestorsOf(t, src, pivot.Number.Uint64())); err != nil {
		t.Fatal(err)
	}
	if h := dst.CurrentHeader(); h.Hash() != pivot.Hash() {
		t.Fatalf("head %d %s after sync, want %d %s", h.Number, h.Hash(), pivot.Number, pivot.Hash())
	}
	for n := uint64(1); n < pivot.Number.Uint64(); n++ {
		if dst.GetHeaderByNumber(n).Hash() != src.GetHeaderByNumber(n).Hash() {
			t.Fatalf("header %d differs after sync", n)
		}
	}
	if dst.BlockByNumber(1) != nil {
		t.Fatal("a block before the synced one has a body")
	}
	have, err := chain.StateAt(dst.StateDatabase(), pivot.Root)
	if err != nil {
		t.Fatal(err)
	}
	if got := have.GetBalance(pathRecipient).Uint64(); got != sum(5) {
		t.Fatalf("recipient balance %d after sync, want %d", got, sum(5))
	}
	if have.GetState(contract, common.Hash{}) != common.BigToHash(big.NewInt(42)) || have.GetState(contract, common.BigToHash(big.NewInt(1))) != common.BigToHash(big.NewInt(7)) {
		t.Fatal("the contract's storage did not come with the sync")
	}
	if code := have.GetCode(contract); len(code) != 1 || code[0] != 0xfe {
		t.Fatalf("contract code %x after sync", code)
	}
	// The chain goes on on the synced state: two more blocks, as the
	// source would seal them.
	sealTransfers(t, dst, g, accts, 2)
	if got, err := balanceAt(dst, pivot.Number.Uint64()+2); err != nil || got != sum(5)+sum(pivot.Number.Uint64()+2)-sum(pivot.Number.Uint64()) {
		t.Fatalf("balance two blocks after the sync: %d, %v", got, err)
	}
}

// Peers that have nothing make the sync fail with ErrPeersLackState; a
// restart finds the sync unfinished, and a second sync completes it.
func TestStateSyncResumes(t *testing.T) {
	g, accts := pathGenesis(t)
	src, _ := syncedChain(t, t.TempDir(), g, accts, 3)
	pivot := src.CurrentHeader()
	dir := t.TempDir()
	dst, err := storage.Open(storage.Config{Dir: dir}, g, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dst.SyncState(context.Background(), pivot.Root, emptySource{}); !errors.Is(err, storage.ErrPeersLackState) {
		t.Fatalf("sync from no peers: %v, want ErrPeersLackState", err)
	}
	// Half a sync: some nodes, then the peers go.
	ctx, cancel := context.WithCancel(context.Background())
	half := &cutSource{storeSource: storeSource{s: src, max: 3}, after: 2, cancel: cancel}
	if _, err := dst.SyncState(ctx, pivot.Root, half); !errors.Is(err, context.Canceled) {
		t.Fatalf("sync cut short: %v", err)
	}
	dst.Close()
	dst, err = storage.Open(storage.Config{Dir: dir}, g, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if !dst.Syncing() {
		t.Fatal("a reopened store does not say its sync is unfinished")
	}
	if _, err := dst.SyncState(context.Background(), pivot.Root, &storeSource{s: src, max: 1024}); err != nil {
		t.Fatal(err)
	}
	// Stopped after the state came but before the block was written: the
	// directory still says its sync is unfinished, and syncing the same
	// root again finds the state there.
	dst.Close()
	dst, err = storage.Open(storage.Config{Dir: dir}, g, zerolog.Nop())
	if err != nil {
		t.Fatalf("reopen between the state and the block: %v", err)
	}
	defer dst.Close()
	if !dst.Syncing() {
		t.Fatal("a directory whose synced block was never written does not say its sync is unfinished")
	}
	if head, err := dst.SyncHead(); err == nil {
		t.Fatalf("a syncing store serves head %d", head)
	}
	if st, err := dst.SyncState(context.Background(), pivot.Root, emptySource{}); err != nil || st.Nodes != 0 {
		t.Fatalf("sync of the state already fetched: %d nodes, %v", st.Nodes, err)
	}
	// A header list that does not lead to this genesis is refused.
	bad := ancestorsOf(t, src, pivot.Number.Uint64())
	bad[0].Extra = []byte("another chain")
	if err := dst.WriteSyncedBlock(sealedAt(src, pivot.Number.Uint64()), pivot.Number.Uint64(), bad); err == nil {
		t.Fatal("ancestors that are not the block's were taken")
	}
	// Fewer ancestors than the chain has: the store's first header is the
	// oldest one given.
	if err := dst.WriteSyncedBlock(sealedAt(src, pivot.Number.Uint64()), pivot.Number.Uint64(), ancestorsOf(t, src, pivot.Number.Uint64())[1:]); err != nil {
		t.Fatal(err)
	}
	if got, want := dst.FirstHeader(), uint64(2); got != want {
		t.Fatalf("first header %d after a sync with headers from 2, want %d", got, want)
	}
	if got := src.FirstHeader(); got != 1 {
		t.Fatalf("first header of a chain made in the store: %d, want 1", got)
	}
	if dst.Syncing() {
		t.Fatal("still syncing once the synced block is the head")
	}
	if got, err := balanceAt(dst, pivot.Number.Uint64()); err != nil || got != sum(3) {
		t.Fatalf("balance after a resumed sync: %d, %v", got, err)
	}
	// A store with a chain is not synced over.
	if _, err := dst.SyncState(context.Background(), pivot.Root, &storeSource{s: src, max: 1024}); err == nil {
		t.Fatal("a store holding a chain took a state sync")
	}
}

// cutSource cancels the sync after its after-th answer.
type cutSource struct {
	storeSource
	after  int
	cancel context.CancelFunc
}

func (c *cutSource) TrieNodes(ctx context.Context, root common.Hash, paths [][]byte, hashes []common.Hash) ([][]byte, error) {
	out, err := c.storeSource.TrieNodes(ctx, root, paths, hashes)
	if c.asked == c.after {
		c.cancel()
	}
	return out, err
}

// The serving side answers only recent states and trie paths.
func TestStateServing(t *testing.T) {
	g, accts := pathGenesis(t)
	src, _ := syncedChain(t, t.TempDir(), g, accts, 2)
	if _, err := src.TrieNodes(common.HexToHash("0x01"), [][]byte{{}}, []common.Hash{{}}, 1<<20); err == nil {
		t.Fatal("nodes of an unknown root were served")
	}
	root := src.CurrentHeader().Root
	if _, err := src.TrieNodes(root, [][]byte{{0x10}}, []common.Hash{{}}, 1<<20); err == nil {
		t.Fatal("a path of a byte above a nibble was taken")
	}
	out, err := src.TrieNodes(root, [][]byte{{}}, []common.Hash{root}, 1<<20)
	if err != nil || len(out) != 1 || crypto.Keccak256Hash(out[0]) != root {
		t.Fatalf("root node: %d items, %v", len(out), err)
	}
	if _, err := src.Codes([]common.Hash{{0x01}}, 1<<20); err == nil {
		t.Fatal("code that is not there was served")
	}
	if hs, err := src.Headers(1, 100, 1<<20); err != nil || len(hs) != 3 {
		t.Fatalf("headers 1..: %d, %v (the chain has 3 blocks)", len(hs), err)
	}
}
