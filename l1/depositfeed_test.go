package l1

import (
	"context"
	"math/big"
	"os"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"

	"github.com/meganode/meganode/chain"
)

// TestDepositFeed: deposits reach the feed once their L1 block has the
// confirmations, grouped by L1 block, and Since hands out only those after
// a cursor; the head moves over blocks without deposits too.
func TestDepositFeed(t *testing.T) {
	e := newEnv(t, nil)
	f := NewDepositFeed(e.l1.Client(), e.dep.Addresses.Portal, DepositFeedConfig{Confirmations: 2, MaxRange: 3}, zerolog.New(zerolog.NewTestWriter(t)))
	if gs, through, _ := f.Since(chain.L1Origin{}); gs != nil || through != (chain.L1Origin{}) {
		t.Fatalf("before the first poll: %d groups through %+v", len(gs), through)
	}
	deposit := func() uint64 {
		t.Helper()
		opts := e.opts(e.user)
		opts.Value = ether(1)
		r, err := e.c.Deposit(e.ctx, opts, DepositArgs{To: e.user.Address, Value: ether(1), GasLimit: 50_000})
		if err != nil {
			t.Fatal(err)
		}
		return r.BlockNumber.Uint64()
	}
	first, second := deposit(), deposit() // automined: one L1 block each
	if err := f.Poll(e.ctx); err != nil {
		t.Fatal(err)
	}
	gs, through, _ := f.Since(chain.L1Origin{})
	if len(gs) != 0 || through.Number != second-2 {
		t.Fatalf("with %d and %d at the tip: %d groups through %d, want none through %d", first, second, len(gs), through.Number, second-2)
	}
	e.l1.Commit()
	e.l1.Commit()
	if err := f.Poll(e.ctx); err != nil {
		t.Fatal(err)
	}
	gs, through, _ = f.Since(chain.L1Origin{})
	if len(gs) != 2 || gs[0].Origin.Number != first || gs[1].Origin.Number != second || through.Number != second {
		t.Fatalf("groups %+v through %d, want L1 blocks %d and %d through %d", gs, through.Number, first, second, second)
	}
	h, err := e.l1.Client().HeaderByNumber(e.ctx, new(big.Int).SetUint64(through.Number))
	if err != nil || h.Hash() != through.Hash || gs[1].Origin.Hash != h.Hash() {
		t.Fatalf("cursor hash %s, L1 block %d is %v", through.Hash, second, h)
	}
	if d := gs[0].Deposits[0]; d.Mint.Cmp(ether(1)) != 0 || *d.To != e.user.Address {
		t.Fatalf("deposit %+v", d)
	}
	if gs, _, _ = f.Since(gs[0].Origin); len(gs) != 1 || gs[0].Origin.Number != second {
		t.Fatalf("after the first L1 block: %+v", gs)
	}
	e.l1.Commit()
	if err := f.Poll(e.ctx); err != nil {
		t.Fatal(err)
	}
	if gs, through2, _ := f.Since(through); len(gs) != 0 || through2.Number != through.Number+1 {
		t.Fatalf("after an empty L1 block: %d groups through %d, want none through %d", len(gs), through2.Number, through.Number+1)
	}
}

// TestEmbeddedServesHTTP: the embedded L1 answers JSON-RPC over HTTP, and a
// deposit sent there (as a user's cast send would be) reaches the feed
// once a block seals it; a port in use is an error, not a panic.
func TestEmbeddedServesHTTP(t *testing.T) {
	cfg := DefaultEmbeddedConfig()
	cfg.HTTPAddr = "127.0.0.1:0"
	l1, err := NewEmbedded(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l1.Close()
	ctx := context.Background()
	c, err := ethclient.Dial(l1.HTTPURL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if id, err := c.ChainID(ctx); err != nil || id.Uint64() != 1337 {
		t.Fatalf("chain id over HTTP %v (%v), want 1337", id, err)
	}
	deployer := l1.Accounts[0]
	dep, err := Deploy(ctx, l1.Client(), bind.NewKeyedTransactor(deployer.Key, big.NewInt(1337)), func() Config {
		d := DefaultConfig()
		d.Proposer, d.Batcher = deployer.Address, deployer.Address
		return d
	}())
	if err != nil {
		t.Fatal(err)
	}
	// A plain transfer to the portal is a deposit (its receive function).
	user := l1.Accounts[1]
	nonce, err := c.PendingNonceAt(ctx, user.Address)
	if err != nil {
		t.Fatal(err)
	}
	tx := types.MustSignNewTx(user.Key, types.LatestSignerForChainID(big.NewInt(1337)), &types.DynamicFeeTx{ChainID: big.NewInt(1337), Nonce: nonce,
		To: &dep.Addresses.Portal, Value: ether(2), Gas: 100_000, GasFeeCap: big.NewInt(params.GWei * 100), GasTipCap: big.NewInt(params.GWei)})
	if err := c.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	l1.Commit()
	f := NewDepositFeed(c, dep.Addresses.Portal, DepositFeedConfig{}, zerolog.Nop())
	if err := f.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	gs, _, _ := f.Since(chain.L1Origin{})
	if len(gs) != 1 || len(gs[0].Deposits) != 1 || gs[0].Deposits[0].From != user.Address || gs[0].Deposits[0].Mint.Cmp(ether(2)) != 0 {
		t.Fatalf("deposits read over HTTP: %+v", gs)
	}
	busy := DefaultEmbeddedConfig()
	busy.HTTPAddr = strings.TrimPrefix(l1.HTTPURL(), "http://")
	if other, err := NewEmbedded(busy); err == nil {
		other.Close()
		t.Fatal("a second L1 on a port in use started")
	}
}

// TestDepositFeedBetween: a follower's check reads the deposits of the L1
// blocks a cursor moved over, waits while the feed is behind, and refuses
// a cursor whose hash is not the L1's block.
func TestDepositFeedBetween(t *testing.T) {
	e := newEnv(t, nil)
	f := NewDepositFeed(e.l1.Client(), e.dep.Addresses.Portal, DepositFeedConfig{}, zerolog.Nop())
	opts := e.opts(e.user)
	opts.Value = ether(1)
	r, err := e.c.Deposit(e.ctx, opts, DepositArgs{To: e.user.Address, Value: ether(1), GasLimit: 50_000})
	if err != nil {
		t.Fatal(err)
	}
	at := chain.L1Origin{Number: r.BlockNumber.Uint64(), Hash: r.BlockHash}
	if _, ready, err := f.Between(chain.L1Origin{}, at); ready || err != nil {
		t.Fatalf("before a poll: ready %v (%v), want not ready", ready, err)
	}
	e.l1.Commit()
	if err := f.Poll(e.ctx); err != nil {
		t.Fatal(err)
	}
	ds, ready, err := f.Between(chain.L1Origin{}, at)
	if !ready || err != nil || len(ds) != 1 || ds[0].Mint.Cmp(ether(1)) != 0 {
		t.Fatalf("deposits through L1 block %d: %d (ready %v, %v), want the one", at.Number, len(ds), ready, err)
	}
	if ds, ready, err := f.Between(at, chain.L1Origin{Number: at.Number + 1, Hash: headHash(t, e, at.Number+1)}); !ready || err != nil || len(ds) != 0 {
		t.Fatalf("the empty block after: %d deposits (ready %v, %v)", len(ds), ready, err)
	}
	if _, _, err := f.Between(chain.L1Origin{}, chain.L1Origin{Number: at.Number, Hash: common.Hash{1}}); err == nil {
		t.Fatal("a cursor with another block's hash passed")
	}
}

func headHash(t *testing.T, e *env, n uint64) common.Hash {
	t.Helper()
	h, err := e.l1.Client().HeaderByNumber(e.ctx, new(big.Int).SetUint64(n))
	if err != nil {
		t.Fatal(err)
	}
	return h.Hash()
}

// TestEmbeddedLeavesNoTempDir: while the embedded L1 runs, nothing of it is in
// the temp dir, so a devnet killed with -9 leaves nothing behind (a
// go-ethereum node without a data directory keeps a keystore directory there
// until it is closed).
func TestEmbeddedLeavesNoTempDir(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	l1, err := NewEmbedded(DefaultEmbeddedConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer l1.Close()
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("the running embedded L1 left %s in the temp dir", e.Name())
	}
}
