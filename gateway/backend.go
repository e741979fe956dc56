package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// Backend roles.
const (
	RoleSequencer = "sequencer"
	RoleReplica   = "replica"
	RoleFullNode  = "fullnode"
)

// backend is one node behind the gateway and what the last poll saw of it.
type backend struct {
	url  string
	ws   string // the same host, ws:// or wss://
	role string

	mu      sync.Mutex
	healthy bool
	block   uint64 // last sealed block
	mini    uint64 // newest mini-block number
	hasMini bool
	reason  string // why it is out
	since   time.Time

	inflight atomic.Int64 // requests and websocket clients on it now

	// hc sends the calls forwarded to it over pooled keep-alive
	// connections, on the caller's goroutine (no hand-offs as in net/http's
	// transport).
	hc *fasthttp.HostClient
}

func newBackend(rawURL, role string, responseLimit int) *backend {
	ws := "ws" + strings.TrimPrefix(rawURL, "http")
	b := &backend{url: rawURL, ws: ws, role: role, reason: "not polled yet"}
	u, err := url.Parse(rawURL)
	if err != nil { // Config.Check parsed it
		u = &url.URL{Host: rawURL}
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), map[bool]string{true: "443", false: "80"}[u.Scheme == "https"])
	}
	b.hc = &fasthttp.HostClient{
		Addr:  addr,
		IsTLS: u.Scheme == "https",
		Dial: func(addr string) (net.Conn, error) {
			return (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).Dial("tcp", addr)
		},
		MaxConns:                 1024,
		MaxConnWaitTimeout:       5 * time.Second, // past the limit a call waits for a connection, as net/http's would
		MaxIdleConnDuration:      90 * time.Second,
		MaxResponseBodySize:      responseLimit,
		NoDefaultUserAgentHeader: true,
		// A POST is never resent by the client itself: forward decides.
		RetryIfErr: func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
	}
	return b
}

// head returns what the last poll saw.
func (b *backend) head() (block, mini uint64, hasMini, healthy bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.block, b.mini, b.hasMini, b.healthy
}

// advance records a newer head seen between polls.
func (b *backend) advance(block, mini uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.block = max(b.block, block)
	if mini > b.mini {
		b.mini, b.hasMini = mini, true
	}
}

// status is a backend as /ready and logs show it.
type status struct {
	URL       string `json:"url"`
	Role      string `json:"role"`
	Healthy   bool   `json:"healthy"`
	Block     uint64 `json:"block"`
	MiniBlock uint64 `json:"miniBlock"`
	Reason    string `json:"reason,omitempty"`
}

func (b *backend) status() status {
	b.mu.Lock()
	defer b.mu.Unlock()
	return status{URL: b.url, Role: b.role, Healthy: b.healthy, Block: b.block, MiniBlock: b.mini, Reason: b.reason}
}

// observation is one poll's result.
type observation struct {
	block, mini uint64
	hasMini     bool
	genesis     common.Hash // block 0's hash; zero when the node did not say
	err         error
}

// setHealth records a verdict; it returns true when it changed.
func (b *backend) setHealth(healthy bool, reason string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	changed := b.healthy != healthy
	b.healthy, b.reason = healthy, reason
	if changed {
		b.since = now
	}
	return changed
}

// fail takes the backend out after a request to it failed to connect; the
// next good poll puts it back.
func (b *backend) fail(err error, now time.Time) bool {
	return b.setHealth(false, err.Error(), now)
}

// errNotReady is a backend whose /ready answers other than 200.
var errNotReady = errors.New("not ready")

// poll asks a backend for its head, genesis and readiness: one batch
// [eth_blockNumber, mega_miniBlockNumber, eth_getBlockByNumber(0)] and GET
// /ready.
func poll(ctx context.Context, client *http.Client, b *backend) observation {
	body := []byte(`[{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"},{"jsonrpc":"2.0","id":2,"method":"mega_miniBlockNumber"},` +
		`{"jsonrpc":"2.0","id":3,"method":"eth_getBlockByNumber","params":["0x0",false]}]`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.url, bytes.NewReader(body))
	if err != nil {
		return observation{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return observation{err: err}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if err != nil {
		return observation{err: err}
	}
	var answers []struct {
		ID     int             `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(data, &answers); err != nil {
		return observation{err: fmt.Errorf("head poll: HTTP %d: %.200s", resp.StatusCode, data)}
	}
	var o observation
	for _, a := range answers {
		switch {
		case a.ID == 1 && a.Error != nil:
			return observation{err: fmt.Errorf("eth_blockNumber: %s", a.Error.Message)}
		case a.ID == 1:
			var n hexutil.Uint64
			if err := json.Unmarshal(a.Result, &n); err != nil {
				return observation{err: fmt.Errorf("eth_blockNumber: %s", a.Result)}
			}
			o.block = uint64(n)
		case a.ID == 2 && a.Error == nil && string(a.Result) != "null":
			var n hexutil.Uint64
			if json.Unmarshal(a.Result, &n) == nil {
				o.mini, o.hasMini = uint64(n), true
			}
		case a.ID == 3 && a.Error == nil:
			var h struct {
				Hash common.Hash `json:"hash"`
			}
			if json.Unmarshal(a.Result, &h) == nil {
				o.genesis = h.Hash
			}
		}
	}
	ready, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(b.url, "/")+"/ready", nil)
	if err != nil {
		return observation{err: err}
	}
	resp, err = client.Do(ready)
	if err != nil {
		return observation{err: err}
	}
	reason, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return observation{err: fmt.Errorf("%w: /ready %d %s", errNotReady, resp.StatusCode, bytes.TrimSpace(reason))}
	}
	return o
}

// judge applies one round of observations: a backend that errored, or lags
// the newest head seen (the sequencer's, normally) by more than the limits,
// is out; the others are in. It returns the backends whose verdict changed.
func judge(backends []*backend, obs []observation, maxLagBlocks, maxLagMini uint64, now time.Time) []*backend {
	var topBlock, topMini uint64
	// The chain is the sequencer's: a backend of another genesis serves
	// another chain, however fresh its head.
	var genesis common.Hash
	for i, o := range obs {
		if o.err == nil && backends[i].role == RoleSequencer && o.genesis != (common.Hash{}) {
			genesis = o.genesis
			break
		}
	}
	for i, o := range obs {
		if o.err != nil || (genesis != (common.Hash{}) && o.genesis != (common.Hash{}) && o.genesis != genesis) {
			continue
		}
		topBlock = max(topBlock, o.block)
		if o.hasMini && backends[i].role != RoleFullNode {
			topMini = max(topMini, o.mini)
		}
	}
	var changed []*backend
	for i, b := range backends {
		o := obs[i]
		b.mu.Lock()
		if o.err == nil {
			b.block, b.mini, b.hasMini = o.block, o.mini, o.hasMini
		}
		b.mu.Unlock()
		healthy, reason := true, ""
		switch {
		case o.err != nil:
			healthy, reason = false, o.err.Error()
		case genesis != (common.Hash{}) && o.genesis != (common.Hash{}) && o.genesis != genesis:
			healthy, reason = false, fmt.Sprintf("genesis %s, the sequencer's %s: a node of another chain", o.genesis, genesis)
		case topBlock > o.block+maxLagBlocks:
			healthy, reason = false, fmt.Sprintf("block %d lags the head %d by more than %d", o.block, topBlock, maxLagBlocks)
		case b.role == RoleReplica && o.hasMini && topMini > o.mini+maxLagMini:
			healthy, reason = false, fmt.Sprintf("mini-block %d lags the head %d by more than %d", o.mini, topMini, maxLagMini)
		}
		if b.setHealth(healthy, reason, now) {
			changed = append(changed, b)
		}
	}
	return changed
}

// dialFailed tells whether err happened before the request reached the
// backend, so that sending it elsewhere cannot make it run twice.
func dialFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
