package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/meganode/meganode/rpc/limits"
)

// postAs posts body to the server on behalf of client (X-Forwarded-For: the
// test connects from loopback, a trusted proxy by default) and decodes the
// one answer.
func (e *wsEnv) postAs(client, body string) wsMsg {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+e.srv.Addr(), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if client != "" {
		req.Header.Set("X-Forwarded-For", client)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	var m wsMsg
	if err := json.Unmarshal(out, &m); err != nil {
		e.t.Fatalf("answer %s: %v", out, err)
	}
	return m
}

func wantError(t *testing.T, what string, m wsMsg, code int, msg string) {
	t.Helper()
	if m.Error == nil || m.Error.Code != code || !strings.Contains(m.Error.Message, msg) {
		t.Fatalf("%s: got %s %+v, want error %d %q", what, m.Result, m.Error, code, msg)
	}
}

var heavyCalls = []struct{ method, body string }{
	{"eth_call", `{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{"to":"0x000000000000000000000000000000000000beef"}]}`},
	{"eth_estimateGas", `{"jsonrpc":"2.0","id":1,"method":"eth_estimateGas","params":[{"to":"0x000000000000000000000000000000000000beef"}]}`},
	{"eth_createAccessList", `{"jsonrpc":"2.0","id":1,"method":"eth_createAccessList","params":[{"to":"0x000000000000000000000000000000000000beef"}]}`},
	{"eth_simulateV1", `{"jsonrpc":"2.0","id":1,"method":"eth_simulateV1","params":[{"blockStateCalls":[{"calls":[{"to":"0x000000000000000000000000000000000000beef"}]}]}]}`},
	{"eth_getLogs", `{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"0x0","toBlock":"latest"}]}`},
	{"eth_getLogsWithCursor", `{"jsonrpc":"2.0","id":1,"method":"eth_getLogsWithCursor","params":[{"fromBlock":"0x0","toBlock":"latest"}]}`},
	{"debug_traceCall", `{"jsonrpc":"2.0","id":1,"method":"debug_traceCall","params":[{"to":"0x000000000000000000000000000000000000beef"},"latest"]}`},
	{"debug_traceBlockByNumber", `{"jsonrpc":"2.0","id":1,"method":"debug_traceBlockByNumber","params":["0x1"]}`},
}

// A client that already runs its share of heavy calls is refused the next
// one with −32005 (HTTP and websocket), while other clients are served.
func TestHeavyCallsPerIPLimit(t *testing.T) {
	e := newWSEnv(t, func(c *Config) {
		c.Limits.Concurrency, c.Limits.ConcurrencyPerIP, c.Limits.QueuePerIP, c.Limits.Queue = 4, 1, 0, 0
	})
	e.sealBlock()
	_, done, err := e.srv.limits.Enter(limits.WithClient(context.Background(), "198.51.100.1"), limits.Call, "eth_call")
	if err != nil {
		t.Fatal(err)
	}
	for _, hc := range heavyCalls {
		m := e.postAs("198.51.100.1", hc.body)
		wantError(t, hc.method, m, -32005, fmt.Sprintf("too many heavy calls (%s and the like) from 198.51.100.1 at once: 1 running and 0 waiting is the limit (--rpc.heavy-concurrency-per-ip)", hc.method))
		if m := e.postAs("198.51.100.2", hc.body); m.Error != nil && m.Error.Code == -32005 {
			t.Fatalf("%s from another client: %+v", hc.method, m.Error)
		}
	}
	// Light methods are not limited.
	if m := e.postAs("198.51.100.1", `{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x000000000000000000000000000000000000beef","latest"]}`); m.Error != nil {
		t.Fatalf("eth_getBalance: %+v", m.Error)
	}
	done(nil)
	if m := e.postAs("198.51.100.1", heavyCalls[0].body); m.Error != nil {
		t.Fatalf("eth_call once the slot is free: %+v", m.Error)
	}

	// Over websocket the connection's peer is the client.
	_, done, err = e.srv.limits.Enter(limits.WithClient(context.Background(), "127.0.0.1"), limits.Trace, "debug_traceCall")
	if err != nil {
		t.Fatal(err)
	}
	defer done(nil)
	c := e.dial()
	wantError(t, "eth_call over websocket", c.call("eth_call", map[string]string{"to": "0x000000000000000000000000000000000000beef"}), -32005, "from 127.0.0.1 at once")
	// Also when the call shares a batch with a subscription (answered in process).
	c.send("eth_chainId") // keep ids distinct from the batch's
	c.read()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(`[{"jsonrpc":"2.0","id":100,"method":"eth_subscribe","params":["newHeads"]},{"jsonrpc":"2.0","id":101,"method":"eth_call","params":[{"to":"0x000000000000000000000000000000000000beef"}]}]`)); err != nil {
		t.Fatal(err)
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var batch []wsMsg
	if err := c.ws.ReadJSON(&batch); err != nil || len(batch) != 2 {
		t.Fatalf("batch answer: %v %v", batch, err)
	}
	wantError(t, "eth_call beside a subscription", batch[1], -32005, "from 127.0.0.1 at once")
}

func TestHeavyCallsTimeLimits(t *testing.T) {
	e := newWSEnv(t, func(c *Config) {
		c.Limits.CallTimeout, c.Limits.TraceTimeout, c.Limits.LogsTimeout = 5*time.Millisecond, 5*time.Millisecond, time.Nanosecond
	})
	e.sealBlock()
	// Code that loops until the gas cap is spent (about 60ms for eth_call
	// here): the time limit ends it first.
	loop := `{"0x000000000000000000000000000000000000beef":{"code":"0x5b600056"}}`
	wantError(t, "eth_call", e.postAs("", `{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{"to":"0x000000000000000000000000000000000000beef"},"latest",`+loop+`]}`),
		-32000, "execution aborted (timeout = 5ms)")
	wantError(t, "debug_traceCall", e.postAs("", `{"jsonrpc":"2.0","id":1,"method":"debug_traceCall","params":[{"to":"0x000000000000000000000000000000000000beef"},"latest",{"stateOverrides":`+loop+`}]}`),
		-32005, "debug_traceCall exceeded its time limit of 5ms (--rpc.trace-timeout)")
	// A limit spent before the call could start: refused, not started.
	wantError(t, "eth_getLogs", e.postAs("", heavyCalls[4].body), -32005, "eth_getLogs waited its whole time limit of 1ns for a free slot")
}

// eth_getLogs over more blocks than --rpc.rangelimit, or returning more logs
// than --rpc.logs-max-results, is answered −32005 with a range that works.
func TestGetLogsRangeAndResultLimits(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tweak   func(*limits.Config)
		from    string
		to      string
		code    int
		message string
	}{
		{"range", func(c *limits.Config) { c.RangeLimit = 1 }, "0x1", "0x3", -32005, "query exceeds max block range 1: blocks 1 to 3 asked; this block range should work: [0x1, 0x2]"},
		{"range within", func(c *limits.Config) { c.RangeLimit = 2 }, "0x1", "0x3", 0, ""},
		{"no range limit", func(c *limits.Config) { c.RangeLimit = 0 }, "0x0", "latest", 0, ""},
		{"results", func(c *limits.Config) { c.MaxLogs = 2 }, "0x1", "0x3", -32005, "query returned more than 2 results; this block range should work: [0x1, 0x2]"},
		{"one block over the result limit", func(c *limits.Config) { c.MaxLogs = 0 }, "0x2", "0x2", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newWSEnv(t, func(c *Config) { tc.tweak(&c.Limits) })
			// Blocks 1, 2 and 3 each hold one log (a deployment that logs).
			for nonce := uint64(0); nonce < 3; nonce++ {
				tx := types.MustSignNewTx(e.accts[0].Key, types.LatestSigner(e.cfg), &types.DynamicFeeTx{ChainID: e.cfg.ChainID, Nonce: nonce, Gas: 100_000,
					GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(10 * params.GWei), Data: common.FromHex("60006000a000")})
				if err := e.seq.SendTransaction(tx); err != nil {
					t.Fatal(err)
				}
				e.sealBlock()
			}
			m := e.postAs("", fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":%q,"toBlock":%q}]}`, tc.from, tc.to))
			if tc.code != 0 {
				wantError(t, "eth_getLogs", m, tc.code, tc.message)
				return
			}
			var logs []types.Log
			if m.Error != nil || json.Unmarshal(m.Result, &logs) != nil || len(logs) == 0 {
				t.Fatalf("eth_getLogs: %s %+v", m.Result, m.Error)
			}
		})
	}
}

func TestWebsocketGlobalConnectionLimit(t *testing.T) {
	e := newWSEnv(t, func(c *Config) { c.WS.MaxConns = 1 })
	e.dial()
	_, resp, err := websocket.DefaultDialer.Dial("ws://"+e.srv.Addr(), http.Header{"X-Forwarded-For": {"198.51.100.3"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second connection with a limit of 1: %v %v", err, resp)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `"code":-32005`) || !strings.Contains(string(body), "the server takes 1 in all (--ws.max-conns)") {
		t.Fatalf("refusal: %s", body)
	}
}

func TestBatchLimits(t *testing.T) {
	e := newWSEnv(t, func(c *Config) { c.BatchLimit, c.BatchRespSize = 2, 200 })
	call := `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`
	out := postBody(t, "http://"+e.srv.Addr(), "["+call+","+call+","+call+"]")
	if !strings.Contains(out, "batch too large") {
		t.Fatalf("batch of 3 with a limit of 2: %s", out)
	}
	block := `{"jsonrpc":"2.0","id":2,"method":"eth_getBlockByNumber","params":["0x0",true]}`
	if out := postBody(t, "http://"+e.srv.Addr(), "["+block+","+block+"]"); !strings.Contains(out, "response too large") {
		t.Fatalf("batch answer over 200 bytes: %s", out)
	}
}

// heavyMethods are every method heavy.go puts behind the limiter.
var heavyMethods = []string{
	"eth_call", "eth_estimateGas", "eth_createAccessList", "eth_simulateV1",
	"eth_getLogs", "eth_getLogsWithCursor", "eth_getFilterLogs",
	"debug_traceTransaction", "debug_traceBlockByNumber", "debug_traceBlockByHash", "debug_traceBlock",
	"debug_intermediateRoots", "debug_traceCall",
}

// A single heavy call is answered on the reading goroutine (jsonrpc.Direct),
// not by go-ethereum's server: it must meet the same limits there. Each case
// runs the call through answerDirect and, as a batch of one, through
// go-ethereum's server, and wants the same refusal from both.
func TestHeavyLimitsOnTheDirectPath(t *testing.T) {
	const client = "198.51.100.7"
	e := newWSEnv(t, func(c *Config) {
		c.Limits.Concurrency, c.Limits.ConcurrencyPerIP, c.Limits.QueuePerIP, c.Limits.Queue = 4, 1, 0, 0
		c.Limits.GasCap, c.Limits.RangeLimit = 100_000, 1
	})
	for nonce := uint64(0); nonce < 3; nonce++ {
		tx := types.MustSignNewTx(e.accts[0].Key, types.LatestSigner(e.cfg), &types.DynamicFeeTx{ChainID: e.cfg.ChainID, Nonce: nonce, Gas: 100_000,
			GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(10 * params.GWei), Data: common.FromHex("60006000a000")})
		if err := e.seq.SendTransaction(tx); err != nil {
			t.Fatal(err)
		}
		e.sealBlock()
	}
	for _, m := range heavyMethods {
		if !e.srv.direct.Has(m) {
			t.Errorf("%s is not answered directly: the case below would not test the direct path", m)
		}
	}
	direct := func(body string) wsMsg {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("Content-Type", "application/json")
		r = r.WithContext(limits.WithClient(r.Context(), client))
		out, ok := e.srv.answerDirect(r.Context(), r.Header.Get("Content-Type"), []byte(body))
		if !ok {
			t.Fatalf("%s: not answered directly", body)
		}
		var m wsMsg
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("direct answer %s: %v", out, err)
		}
		return m
	}
	viaGeth := func(body string) wsMsg {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "http://"+e.srv.Addr(), strings.NewReader("["+body+"]"))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", client)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var ms []wsMsg
		if err := json.NewDecoder(resp.Body).Decode(&ms); err != nil || len(ms) != 1 {
			t.Fatalf("batch of one: %v %v", ms, err)
		}
		return ms[0]
	}
	both := func(what, body string, code int, msg string) {
		t.Helper()
		wantError(t, what+" (direct)", direct(body), code, msg)
		wantError(t, what+" (go-ethereum's server)", viaGeth(body), code, msg)
	}

	loop := `{"0x000000000000000000000000000000000000beef":{"code":"0x5b600056"}}`
	both("gas cap", `{"jsonrpc":"2.0","id":1,"method":"eth_estimateGas","params":[{"to":"0x000000000000000000000000000000000000beef"},"latest",`+loop+`]}`,
		-32000, "gas required exceeds allowance (100000)")
	both("range limit", `{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"0x1","toBlock":"0x3"}]}`,
		-32005, "query exceeds max block range 1: blocks 1 to 3 asked")

	// The client's only slot is taken: every heavy call is refused.
	_, done, err := e.srv.limits.Enter(limits.WithClient(context.Background(), client), limits.Call, "eth_call")
	if err != nil {
		t.Fatal(err)
	}
	for _, hc := range heavyCalls {
		both(hc.method, hc.body, -32005, fmt.Sprintf("too many heavy calls (%s and the like) from %s at once", hc.method, client))
	}
	done(nil)
	if m := direct(heavyCalls[0].body); m.Error != nil {
		t.Fatalf("eth_call once the slot is free: %+v", m.Error)
	}
}

// The time limits hold on the direct path too.
func TestHeavyTimeLimitsOnTheDirectPath(t *testing.T) {
	e := newWSEnv(t, func(c *Config) {
		c.Limits.CallTimeout, c.Limits.TraceTimeout = 5*time.Millisecond, 5*time.Millisecond
	})
	e.sealBlock()
	loop := `{"0x000000000000000000000000000000000000beef":{"code":"0x5b600056"}}`
	for _, tc := range []struct{ body, msg string }{
		{`{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{"to":"0x000000000000000000000000000000000000beef"},"latest",` + loop + `]}`, "execution aborted (timeout = 5ms)"},
		{`{"jsonrpc":"2.0","id":1,"method":"debug_traceCall","params":[{"to":"0x000000000000000000000000000000000000beef"},"latest",{"stateOverrides":` + loop + `}]}`, "debug_traceCall exceeded its time limit of 5ms"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("Content-Type", "application/json")
		out, ok := e.srv.answerDirect(r.Context(), r.Header.Get("Content-Type"), []byte(tc.body))
		if !ok {
			t.Fatalf("%s: not answered directly", tc.body)
		}
		var m wsMsg
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatal(err)
		}
		if m.Error == nil || !strings.Contains(m.Error.Message, tc.msg) {
			t.Fatalf("got %s %+v, want error %q", m.Result, m.Error, tc.msg)
		}
	}
}

// go-ethereum's callTracer indexes its call stack in OnTxEnd without looking
// whether it was stopped before the traced call was entered, and panics
// ("index out of range [0] with length 0"). The time limit stops it so when
// it runs out as a tx's trace starts: in a block of many txs, or for a call
// that waited out its limit for a slot. Both must answer the time limit.
func TestCallTracerStoppedByTheTimeLimit(t *testing.T) {
	e := newWSEnv(t, func(c *Config) { c.Limits.TraceTimeout = time.Millisecond })
	var crashed []string
	e.srv.direct.OnPanic = func(method string, v any, _ []byte) { crashed = append(crashed, fmt.Sprintf("%s: %v", method, v)) }
	// Block 1: more transfers than a callTracer gets through in 1ms, so
	// the limit runs out somewhere in the block, often as a tx starts.
	key, signer := e.accts[0].Key, types.LatestSigner(e.cfg)
	to := common.HexToAddress("0xbeef")
	for nonce := uint64(0); nonce < 400; nonce++ {
		tx := types.MustSignNewTx(key, signer, &types.DynamicFeeTx{ChainID: e.cfg.ChainID, Nonce: nonce, To: &to, Gas: params.TxGas,
			GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(10 * params.GWei)})
		if err := e.seq.SendTransaction(tx); err != nil {
			t.Fatal(err)
		}
	}
	e.sealBlock()
	traceBlock := `{"jsonrpc":"2.0","id":1,"method":"debug_traceBlockByNumber","params":["0x1",{"tracer":"callTracer"}]}`
	for i := 0; i < 50; i++ {
		// go-ethereum traces the txs after the limit unless its stop comes
		// in time: the block trace is answered or refused, never crashes.
		// Refused either while tracing or, under -race, while it waited out
		// the limit for the slot an earlier trace still held.
		if m := e.postAs("", traceBlock); m.Error != nil {
			wantError(t, "debug_traceBlockByNumber", m, -32005, "time limit of 1ms")
		}
	}
	if len(crashed) > 0 {
		t.Fatalf("%d of 50 block traces crashed: %q", len(crashed), crashed[0])
	}
}

// heavy answers a trace that panics once its time limit has stopped it with
// the time limit's error; any other panic goes on to the server. Both give
// the slots back.
func TestHeavyPanics(t *testing.T) {
	cfg := limits.DefaultConfig()
	cfg.Concurrency, cfg.ConcurrencyPerIP, cfg.QueuePerIP, cfg.Queue, cfg.TraceTimeout = 1, 1, 0, 0, time.Millisecond
	l := limits.New(cfg)
	ctx := limits.WithClient(context.Background(), "192.0.2.9")
	_, err := heavy(ctx, l, limits.Trace, "debug_traceCall", func(ctx context.Context) (int, error) {
		<-ctx.Done()
		panic("index out of range [0] with length 0")
	})
	var te *limits.TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("trace stopped by its limit, then panicking: got %v, want a time limit error", err)
	}
	func() {
		defer func() {
			if v := recover(); v != "bug" {
				t.Fatalf("got panic %v, want the handler's", v)
			}
		}()
		_, _ = heavy(ctx, l, limits.Trace, "debug_traceCall", func(context.Context) (int, error) { panic("bug") })
	}()
	if _, err := heavy(ctx, l, limits.Call, "eth_call", func(context.Context) (int, error) { return 1, nil }); err != nil {
		t.Fatalf("after the panics the only slot is free: %v", err)
	}
}
