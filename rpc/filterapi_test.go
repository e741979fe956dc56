package rpc

import (
	"context"
	"math/big"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// gathered waits until filter id holds n changes (its feed goroutine runs
// asynchronously) or has broken.
func gathered(t *testing.T, fs *filterSystem, id gethrpc.ID, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		fs.mu.Lock()
		f := fs.filters[id]
		done := f == nil || f.err != nil || len(f.changes) >= n
		fs.mu.Unlock()
		if done {
			return
		}
		runtime.Gosched()
	}
	t.Fatalf("filter %s never gathered %d changes", id, n)
}

// sealBlock runs mini-blocks until the sequencer seals a block.
func (e *wsEnv) sealBlock() {
	head := e.srv.eth.b.Chain.CurrentHeader().Number.Uint64()
	for e.srv.eth.b.Chain.CurrentHeader().Number.Uint64() == head {
		e.tick()
	}
}

func TestInstalledFilters(t *testing.T) {
	e := newWSEnv(t, nil)
	api := e.srv.eth
	signer := types.LatestSigner(e.cfg)
	// Init code that logs LOG0 while deploying an empty contract.
	deploy := types.MustSignNewTx(e.accts[0].Key, signer, &types.DynamicFeeTx{ChainID: e.cfg.ChainID, Nonce: 0, Gas: 100_000,
		GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(10 * params.GWei), Data: common.FromHex("60006000a000")})
	created := crypto.CreateAddress(e.accts[0].Address, 0)

	logs, err := api.NewFilter(FilterCriteria{Addresses: []common.Address{created}})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := api.NewFilter(FilterCriteria{Addresses: []common.Address{common.HexToAddress("0x1")}})
	blocks, _ := api.NewBlockFilter()
	full := true
	pending, _ := api.NewPendingTransactionFilter(&full)

	if err := e.seq.SendTransaction(deploy); err != nil {
		t.Fatal(err)
	}
	gathered(t, api.filters, pending, 1)
	got, err := api.GetFilterChanges(pending)
	if err != nil {
		t.Fatal(err)
	}
	if txs := got.([]*RPCTransaction); len(txs) != 1 || txs[0].Hash != deploy.Hash() {
		t.Fatalf("pending filter: %v", got)
	}
	e.sealBlock()
	gathered(t, api.filters, blocks, 1)
	gathered(t, api.filters, logs, 1)
	head := api.b.Chain.CurrentHeader()
	got, _ = api.GetFilterChanges(blocks)
	if h := got.([]common.Hash); len(h) != 1 || h[0] != head.Hash() {
		t.Fatalf("block filter: %v, want [%s]", h, head.Hash())
	}
	got, _ = api.GetFilterChanges(logs)
	if l := got.([]*types.Log); len(l) != 1 || l[0].Address != created || l[0].BlockHash != head.Hash() {
		t.Fatalf("log filter: %v", got)
	}
	// A second poll returns only what is new: nothing.
	if got, _ = api.GetFilterChanges(logs); len(got.([]*types.Log)) != 0 {
		t.Fatalf("second poll: %v", got)
	}
	if got, _ = api.GetFilterChanges(other); len(got.([]*types.Log)) != 0 {
		t.Fatalf("filter of another address: %v", got)
	}
	// eth_getFilterLogs re-reads the whole range.
	all, err := api.GetFilterLogs(context.Background(), logs)
	if err != nil || len(all) != 1 {
		t.Fatalf("getFilterLogs: %v %v", all, err)
	}
	if _, err := api.GetFilterLogs(context.Background(), blocks); err != errFilterNotFound {
		t.Fatalf("getFilterLogs of a block filter: %v", err)
	}
	if !api.UninstallFilter(logs) || api.UninstallFilter(logs) {
		t.Fatal("uninstall should succeed once")
	}
	if _, err := api.GetFilterChanges(logs); err != errFilterNotFound {
		t.Fatalf("poll after uninstall: %v", err)
	}
}

func TestFilterExpiry(t *testing.T) {
	e := newWSEnv(t, nil)
	api := e.srv.eth
	now := time.Unix(1_800_000_000, 0)
	api.filters.now = func() time.Time { return now }
	kept, _ := api.NewBlockFilter()
	idle, _ := api.NewBlockFilter()

	now = now.Add(4 * time.Minute)
	if _, err := api.GetFilterChanges(kept); err != nil { // a poll pushes the deadline out
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	api.filters.expire()
	if _, err := api.GetFilterChanges(idle); err != errFilterNotFound {
		t.Fatalf("idle filter after 6m: %v, want filter not found", err)
	}
	if _, err := api.GetFilterChanges(kept); err != nil {
		t.Fatalf("polled filter expired: %v", err)
	}
}

func TestFilterOverflowIsReported(t *testing.T) {
	e := newWSEnv(t, func(c *Config) { c.Filters.MaxChanges = 1 })
	api := e.srv.eth
	id, _ := api.NewBlockFilter()
	e.sealBlock()
	gathered(t, api.filters, id, 1)
	e.sealBlock()
	gathered(t, api.filters, id, 2)
	if _, err := api.GetFilterChanges(id); err == nil || !strings.Contains(err.Error(), "overflowed") {
		t.Fatalf("overflowed filter: %v", err)
	}
	if _, err := api.GetFilterChanges(id); err != errFilterNotFound {
		t.Fatalf("after the overflow was reported: %v", err)
	}
}

func TestFilterLimit(t *testing.T) {
	e := newWSEnv(t, func(c *Config) { c.Filters.MaxFilters = 2 })
	api := e.srv.eth
	api.NewBlockFilter()
	api.NewBlockFilter()
	if _, err := api.NewBlockFilter(); err == nil || !strings.Contains(err.Error(), "too many installed filters") {
		t.Fatalf("third filter: %v", err)
	}
}
