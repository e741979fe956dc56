package rpc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
)

// Installed filters (eth_newFilter and friends) are polled: changes pile up
// in the filter until eth_getFilterChanges takes them. A filter not polled
// for FilterTimeout is removed, as geth does. A filter that piles up more
// than FilterMaxChanges, or whose feed drops it, is removed too, and the next
// poll says so: a poller never loses changes without knowing.

var errFilterNotFound = errors.New("filter not found")

type filterKind int

const (
	logsFilter filterKind = iota
	blocksFilter
	pendingTxFilter
)

type installedFilter struct {
	kind     filterKind
	crit     FilterCriteria
	fullTx   bool
	deadline time.Time
	changes  []interface{}
	err      error // set once the filter broke; reported on the next poll
	stop     func()
}

// filterSystem owns the installed filters of one server.
type filterSystem struct {
	api        *EthAPI
	now        func() time.Time
	timeout    time.Duration
	maxChanges int
	maxFilters int

	mu      sync.Mutex
	filters map[gethrpc.ID]*installedFilter
}

func newFilterSystem(api *EthAPI, cfg FilterConfig, now func() time.Time) *filterSystem {
	return &filterSystem{api: api, now: now, timeout: cfg.Timeout, maxChanges: cfg.MaxChanges, maxFilters: cfg.MaxFilters,
		filters: make(map[gethrpc.ID]*installedFilter)}
}

// install registers f, fed by sub through render.
func install[T any](fs *filterSystem, f *installedFilter, sub *chain.Subscription[T], render func(T) []interface{}) (gethrpc.ID, error) {
	fs.mu.Lock()
	if len(fs.filters) >= fs.maxFilters {
		fs.mu.Unlock()
		sub.Unsubscribe()
		return "", &limitError{fmt.Sprintf("too many installed filters (max %d); uninstall some or poll less of them", fs.maxFilters)}
	}
	id := gethrpc.NewID()
	stop := make(chan struct{})
	var once sync.Once
	f.stop = func() { once.Do(func() { close(stop); sub.Unsubscribe() }) }
	f.deadline = fs.now().Add(fs.timeout)
	fs.filters[id] = f
	fs.mu.Unlock()
	go func() {
		for {
			select {
			case <-stop:
				return
			case v := <-sub.C():
				fs.push(f, render(v))
			case <-sub.Err():
				for drained := false; !drained; {
					select {
					case v := <-sub.C():
						fs.push(f, render(v))
					default:
						drained = true
					}
				}
				fs.fail(f, errors.New("filter dropped: the node's feed fell behind; reinstall it and re-read the gap with eth_getLogs"))
				return
			}
		}
	}()
	return id, nil
}

func (fs *filterSystem) push(f *installedFilter, items []interface{}) {
	if len(items) == 0 {
		return
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f.err != nil {
		return
	}
	if len(f.changes)+len(items) > fs.maxChanges {
		f.changes = nil
		f.err = fmt.Errorf("filter overflowed: more than %d changes were not polled; reinstall it and re-read the gap with eth_getLogs", fs.maxChanges)
		f.stop()
		return
	}
	f.changes = append(f.changes, items...)
}

func (fs *filterSystem) fail(f *installedFilter, err error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f.err == nil {
		f.changes, f.err = nil, err
	}
}

// expire removes the filters whose deadline passed.
func (fs *filterSystem) expire() {
	now := fs.now()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for id, f := range fs.filters {
		if now.After(f.deadline) {
			delete(fs.filters, id)
			f.stop()
		}
	}
}

// run sweeps expired filters until done closes.
func (fs *filterSystem) run(done <-chan struct{}) {
	t := time.NewTicker(fs.timeout / 4)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			fs.expire()
		}
	}
}

// stopAll uninstalls every filter.
func (fs *filterSystem) stopAll() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for id, f := range fs.filters {
		delete(fs.filters, id)
		f.stop()
	}
}

// take returns and clears what f gathered and pushes its deadline out.
func (fs *filterSystem) take(id gethrpc.ID) (*installedFilter, []interface{}, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f, ok := fs.filters[id]
	if !ok {
		return nil, nil, errFilterNotFound
	}
	if f.err != nil {
		delete(fs.filters, id)
		f.stop()
		return nil, nil, f.err
	}
	out := f.changes
	f.changes = nil
	f.deadline = fs.now().Add(fs.timeout)
	return f, out, nil
}

// inRange reports whether block n is inside the filter's numeric bounds.
func (c *FilterCriteria) inRange(n uint64) bool {
	if c.FromBlock != nil && *c.FromBlock >= 0 && n < uint64(*c.FromBlock) {
		return false
	}
	if c.ToBlock != nil && *c.ToBlock >= 0 && n > uint64(*c.ToBlock) {
		return false
	}
	return true
}

// NewFilter installs a log filter: eth_getFilterChanges returns the matching
// logs of blocks sealed after it, with their block hash.
func (api *EthAPI) NewFilter(crit FilterCriteria) (gethrpc.ID, error) {
	if crit.BlockHash != nil {
		return "", &invalidParamsError{"blockHash is not allowed in a filter that follows the chain; use eth_getLogs"}
	}
	c := crit
	return install(api.filters, &installedFilter{kind: logsFilter, crit: c}, api.b.Feeds.Heads(subscriptionBuffer), func(h *chain.Head) []interface{} {
		var out []interface{}
		if h.Rewound {
			for _, l := range c.removed(h.Removed) {
				out = append(out, l)
			}
			return out
		}
		n := h.Header.Number.Uint64()
		if !c.inRange(n) || !c.bloomMatches(h.Header.Bloom) {
			return nil
		}
		for _, l := range c.collect(api.b.logReceipts(h.Header.Hash(), n), nil) {
			out = append(out, l)
		}
		return out
	})
}

// NewBlockFilter installs a filter of sealed block hashes.
func (api *EthAPI) NewBlockFilter() (gethrpc.ID, error) {
	return install(api.filters, &installedFilter{kind: blocksFilter}, api.b.Feeds.Heads(subscriptionBuffer), func(h *chain.Head) []interface{} {
		return []interface{}{h.Header.Hash()}
	})
}

// NewPendingTransactionFilter installs a filter of txs entering the pool:
// hashes, or full transactions with fullTx.
func (api *EthAPI) NewPendingTransactionFilter(fullTx *bool) (gethrpc.ID, error) {
	full := fullTx != nil && *fullTx
	return install(api.filters, &installedFilter{kind: pendingTxFilter, fullTx: full}, api.b.Feeds.PendingTxs(subscriptionBuffer), func(tx *types.Transaction) []interface{} {
		if full {
			return []interface{}{newRPCTransaction(tx, common.Hash{}, 0, 0, 0, nil, api.config)}
		}
		return []interface{}{tx.Hash()}
	})
}

// GetFilterChanges returns what the filter gathered since the last poll.
func (api *EthAPI) GetFilterChanges(id gethrpc.ID) (interface{}, error) {
	f, items, err := api.filters.take(id)
	if err != nil {
		return nil, err
	}
	switch {
	case f.kind == logsFilter:
		out := make([]*types.Log, len(items))
		for i, it := range items {
			out[i] = it.(*types.Log)
		}
		return out, nil
	case f.kind == pendingTxFilter && f.fullTx:
		out := make([]*RPCTransaction, len(items))
		for i, it := range items {
			out[i] = it.(*RPCTransaction)
		}
		return out, nil
	default:
		out := make([]common.Hash, len(items))
		for i, it := range items {
			out[i] = it.(common.Hash)
		}
		return out, nil
	}
}

// getFilterLogs returns every log a log filter matches, as eth_getLogs.
func (api *EthAPI) getFilterLogs(ctx context.Context, id gethrpc.ID) ([]*types.Log, error) {
	api.filters.mu.Lock()
	f, ok := api.filters.filters[id]
	api.filters.mu.Unlock()
	if !ok || f.kind != logsFilter {
		return nil, errFilterNotFound
	}
	return api.getLogs(ctx, f.crit)
}

// UninstallFilter removes a filter; false if there was none.
func (api *EthAPI) UninstallFilter(id gethrpc.ID) bool {
	fs := api.filters
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f, ok := fs.filters[id]
	if ok {
		delete(fs.filters, id)
		f.stop()
	}
	return ok
}
