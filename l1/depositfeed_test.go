package l1

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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

// reorg makes the L1's block parent its head again, as a reorg deeper than
// the blocks after it does: the next Commits build the new branch. The
// dropped blocks' transactions go back to the pool, as go-ethereum's pool
// takes them back in a reorg, or are dropped with drop.
func (e *env) reorg(parent common.Hash, drop bool) {
	e.t.Helper()
	e.l1.client.mu.Lock()
	defer e.l1.client.mu.Unlock()
	if err := e.l1.sim.Fork(parent); err != nil {
		e.t.Fatal(err)
	}
	if drop {
		e.l1.sim.Rollback() // syncs the pool first: what the fork gave back is gone too
	}
}

func (e *env) head() chain.L1Origin {
	e.t.Helper()
	h, err := e.l1.Client().HeaderByNumber(e.ctx, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return chain.L1Origin{Number: h.Number.Uint64(), Hash: h.Hash()}
}

func (e *env) deposit(mint int64) chain.L1Origin {
	e.t.Helper()
	opts := e.opts(e.user)
	opts.Value = ether(mint)
	r, err := e.c.Deposit(e.ctx, opts, DepositArgs{To: e.user.Address, Value: ether(mint), GasLimit: 50_000})
	if err != nil {
		e.t.Fatal(err)
	}
	return chain.L1Origin{Number: r.BlockNumber.Uint64(), Hash: r.BlockHash}
}

// TestDepositFeedReorg: a reorg deeper than the confirmations drops the
// deposit groups of the blocks it replaced and the feed reads the new
// branch's from the newest block still canonical; a re-read deposit is a
// new one (its source hash names the new block). An L2 block's cursor in
// the old branch is refused by Between and reported by Since.
func TestDepositFeedReorg(t *testing.T) {
	for _, tc := range []struct {
		name string
		// drop: the new branch has another deposit, not the old one again
		drop bool
		// between: the feed polls while the L1 is back at the fork (below
		// the scan), before the new branch is longer than the old
		between bool
	}{
		{name: "another deposit, L1 seen below the scan", drop: true, between: true},
		{name: "another deposit, longer branch at once", drop: true},
		{name: "the same deposit mined again", drop: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			var logs bytes.Buffer
			f := NewDepositFeed(e.l1.Client(), e.dep.Addresses.Portal, DepositFeedConfig{}, zerolog.New(io.MultiWriter(zerolog.NewTestWriter(t), &logs)))
			poll := func() {
				t.Helper()
				if err := f.Poll(e.ctx); err != nil {
					t.Fatal(err)
				}
			}
			poll()
			fork := e.head()
			old := e.deposit(1)
			poll()
			e.l1.Commit()
			poll()
			cursor, _ := f.Head() // an L2 block's cursor after the old deposit
			gs, _, err := f.Since(chain.L1Origin{})
			if err != nil || len(gs) != 1 || gs[0].Origin != old {
				t.Fatalf("before the reorg: groups %+v (%v), want L1 block %d's", gs, err, old.Number)
			}
			oldSource := gs[0].Deposits[0].SourceHash
			if ds, ready, err := f.Between(chain.L1Origin{}, cursor); !ready || err != nil || len(ds) != 1 {
				t.Fatalf("before the reorg: Between %d deposits (ready %v, %v), want 1", len(ds), ready, err)
			}

			e.reorg(fork.Hash, tc.drop)
			if tc.between {
				poll()
				if h, _ := f.Head(); h != fork {
					t.Fatalf("with the L1 back at %d: head %+v, want the fork %+v", fork.Number, h, fork)
				}
				if gs, _, err := f.Since(chain.L1Origin{}); err != nil || len(gs) != 0 {
					t.Fatalf("with the L1 back at the fork: groups %+v (%v), want none", gs, err)
				}
			}
			mint := int64(1)
			if tc.drop {
				mint = 2
				e.deposit(mint)
			} else {
				e.l1.Commit() // the old deposit, back from the pool
			}
			e.l1.Commit()
			e.l1.Commit()
			if e.head().Number <= cursor.Number {
				t.Fatalf("new branch at %d, not longer than the old one's %d", e.head().Number, cursor.Number)
			}
			poll()

			if !strings.Contains(logs.String(), "L1 reorg: deposits of these L1 blocks re-read") ||
				!strings.Contains(logs.String(), fmt.Sprintf(`"l1_blocks":"%d..%d"`, fork.Number+1, cursor.Number)) {
				t.Fatalf("no reorg warning for L1 blocks %d..%d in the log:\n%s", fork.Number+1, cursor.Number, logs.String())
			}
			gs, head, err := f.Since(chain.L1Origin{})
			if err != nil || len(gs) != 1 || head != e.head() {
				t.Fatalf("after the reorg: %d groups through %+v (%v), want 1 through %+v", len(gs), head, err, e.head())
			}
			if g := gs[0]; g.Origin.Number != old.Number || g.Origin.Hash == old.Hash || g.Origin.Hash != headHash(t, e, old.Number) {
				t.Fatalf("after the reorg: group of %+v, want the new branch's block %d (not %s)", g.Origin, old.Number, old.Hash)
			}
			d := gs[0].Deposits[0]
			if d.Mint.Cmp(ether(mint)) != 0 || d.SourceHash == oldSource || d.SourceHash != UserDepositSourceHash(gs[0].Origin.Hash, 1) && d.SourceHash != UserDepositSourceHash(gs[0].Origin.Hash, 0) {
				t.Fatalf("re-read deposit mint %s source %s, want %s ETH and a source hash of the new block (old %s)", d.Mint, d.SourceHash, ether(mint), oldSource)
			}
			for _, orphan := range []chain.L1Origin{cursor, old} {
				_, _, err := f.Between(chain.L1Origin{}, orphan)
				var re *CursorReorgedError
				if !errors.As(err, &re) || re.Cursor != orphan {
					t.Errorf("Between through the orphaned %+v: %v, want a CursorReorgedError", orphan, err)
				}
				gs, through, err := f.Since(orphan)
				if !errors.Is(err, ErrCursorReorged) || !errors.As(err, &re) || re.Cursor != orphan || gs != nil || through != orphan {
					t.Errorf("Since the orphaned %+v: %d groups through %+v, %v; want ErrCursorReorged", orphan, len(gs), through, err)
				}
			}
			if _, _, err := f.Since(fork); err != nil {
				t.Errorf("Since the fork, still canonical: %v", err)
			}
			if ds, ready, err := f.Between(chain.L1Origin{}, head); !ready || err != nil || len(ds) != 1 || ds[0].SourceHash != d.SourceHash {
				t.Errorf("Between through the new head: %d deposits (ready %v, %v), want the re-read one", len(ds), ready, err)
			}
		})
	}
}

// TestDepositFeedShallowReorgUnseen: a reorg shallower than the
// confirmations replaces blocks the feed never took deposits from: nothing
// is dropped, nothing is logged, and the old branch's deposit never shows.
func TestDepositFeedShallowReorgUnseen(t *testing.T) {
	e := newEnv(t, nil)
	var logs bytes.Buffer
	f := NewDepositFeed(e.l1.Client(), e.dep.Addresses.Portal, DepositFeedConfig{Confirmations: 2}, zerolog.New(io.MultiWriter(zerolog.NewTestWriter(t), &logs)))
	fork := e.head()
	e.deposit(1)
	if err := f.Poll(e.ctx); err != nil {
		t.Fatal(err)
	}
	before, _ := f.Head()
	e.reorg(fork.Hash, true)
	if err := f.Poll(e.ctx); err != nil {
		t.Fatal(err)
	}
	if h, _ := f.Head(); h != before {
		t.Fatalf("head after a reorg of the unconfirmed blocks %+v, want still %+v", h, before)
	}
	if _, _, err := f.Since(before); err != nil {
		t.Fatalf("Since the confirmed head: %v", err)
	}
	fresh := e.deposit(2)
	e.l1.Commit()
	e.l1.Commit()
	if err := f.Poll(e.ctx); err != nil {
		t.Fatal(err)
	}
	gs, _, err := f.Since(before)
	if err != nil || len(gs) != 1 || gs[0].Origin != fresh || gs[0].Deposits[0].Mint.Cmp(ether(2)) != 0 {
		t.Fatalf("groups %+v (%v), want only the new branch's deposit of 2 ETH at %+v", gs, err, fresh)
	}
	if strings.Contains(logs.String(), "L1 reorg") {
		t.Fatalf("a reorg above the confirmations was logged:\n%s", logs.String())
	}
}

// TestDepositFeedLooksUpAnUnknownCursor: a cursor the feed never read (an
// L2 chain's after a restart) gets no deposits until a poll has asked the
// L1 about it; then a canonical one gets those after it, and one a reorg
// replaced while the node was down is reported.
func TestDepositFeedLooksUpAnUnknownCursor(t *testing.T) {
	e := newEnv(t, nil)
	e.l1.Commit()
	canon := e.head()
	fork := e.head()
	e.l1.Commit()
	orphan := e.head()
	e.reorg(fork.Hash, true)
	e.l1.Commit() // the deposit is above orphan's height: the feed reads no block there
	after := e.deposit(3)
	e.l1.Commit()
	e.l1.Commit()
	f := NewDepositFeed(e.l1.Client(), e.dep.Addresses.Portal, DepositFeedConfig{}, zerolog.New(zerolog.NewTestWriter(t)))
	if err := f.Poll(e.ctx); err != nil {
		t.Fatal(err)
	}
	for _, o := range []chain.L1Origin{canon, orphan} {
		if gs, through, err := f.Since(o); gs != nil || through != o || err != nil {
			t.Fatalf("Since the unread %+v before a look-up: %d groups through %+v (%v), want nothing", o, len(gs), through, err)
		}
		if err := f.Poll(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	if gs, _, err := f.Since(canon); err != nil || len(gs) != 1 || gs[0].Origin != after {
		t.Fatalf("Since the canonical %+v: %+v (%v), want the deposit at %+v", canon, gs, err, after)
	}
	if _, _, err := f.Since(orphan); !errors.Is(err, ErrCursorReorged) {
		t.Fatalf("Since the orphaned %+v: %v, want ErrCursorReorged", orphan, err)
	}
}
