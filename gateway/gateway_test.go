package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"
)

// fakeNode is a backend that answers the head polls from its fields and
// every other call with {"node": name, "method": m}, so a test sees where
// each call went. Over websocket it serves miniBlocks subscriptions from the
// mini-blocks the test emits, resuming from from_mini_block_number as a
// node does.
type fakeNode struct {
	t     testing.TB
	name  string
	srv   *httptest.Server
	block atomic.Uint64
	mini  atomic.Uint64
	down  atomic.Bool // /ready answers 503
	// standby answers sends as an HA standby does: not the leader.
	standby atomic.Bool
	genesis atomic.Value // block 0's hash (a hex string) if not the default

	mu      sync.Mutex
	methods []string
	xff     []string
	emitted []uint64 // mini-block numbers, in order
	subs    []*fakeSub
}

type fakeSub struct {
	id   string
	conn *websocket.Conn
	wmu  *sync.Mutex
	next uint64
}

func newFakeNode(t testing.TB, name string) *fakeNode {
	f := &fakeNode{t: t, name: name}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeNode) URL() string { return f.srv.URL }

func (f *fakeNode) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.methods...)
}

func (f *fakeNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/ready":
		if f.down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"unavailable"}`))
			return
		}
		_, _ = w.Write([]byte(`{"status":"ready"}`))
	case r.Header.Get("Upgrade") == "websocket":
		f.serveWS(w, r)
	default:
		body, _ := io.ReadAll(r.Body)
		calls, batch, err := parseCalls(body)
		if err != nil {
			f.t.Errorf("%s: bad request from the gateway: %s", f.name, body)
			return
		}
		var out [][]byte
		for _, c := range calls {
			out = append(out, f.answer(c, r.Header.Get("X-Forwarded-For")))
		}
		if !batch {
			_, _ = w.Write(out[0])
			return
		}
		_, _ = w.Write(append(append([]byte("["), bytes.Join(out, []byte(","))...), ']'))
	}
}

func (f *fakeNode) answer(c rpcCall, xff string) []byte {
	var result any
	switch c.Method {
	case "eth_blockNumber":
		result = fmt.Sprintf("0x%x", f.block.Load())
	case "mega_miniBlockNumber":
		result = fmt.Sprintf("0x%x", f.mini.Load())
	case "eth_getBlockByNumber":
		if string(c.Params) == `["0x0",false]` { // the health poll's genesis
			g := "0x" + strings.Repeat("ab", 32)
			if v, ok := f.genesis.Load().(string); ok {
				g = v
			}
			result = map[string]string{"hash": g}
			break
		}
		fallthrough
	default:
		f.mu.Lock()
		f.methods = append(f.methods, c.Method)
		f.xff = append(f.xff, xff)
		f.mu.Unlock()
		if f.standby.Load() && c.Method == "eth_sendRawTransaction" {
			return withID(c.ID, []byte(`{"error":{"code":-32002,"message":"not the sequencer leader"}}`))
		}
		result = map[string]string{"node": f.name, "method": c.Method}
	}
	r, _ := json.Marshal(result)
	return withID(c.ID, append(append([]byte(`{"result":`), r...), '}'))
}

func (f *fakeNode) serveWS(w http.ResponseWriter, r *http.Request) {
	conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		return
	}
	wmu := &sync.Mutex{}
	go func() {
		defer conn.Close()
		for {
			var c rpcCall
			if conn.ReadJSON(&c) != nil {
				return
			}
			var params []json.RawMessage
			_ = json.Unmarshal(c.Params, &params)
			if c.Method != "eth_subscribe" {
				wmu.Lock()
				_ = conn.WriteMessage(websocket.TextMessage, withID(c.ID, []byte(`{"result":true}`)))
				wmu.Unlock()
				continue
			}
			f.mu.Lock()
			s := &fakeSub{id: fmt.Sprintf("0x%s%d", f.name, len(f.subs)), conn: conn, wmu: wmu, next: f.mini.Load() + 1}
			if len(params) > 1 {
				var from struct {
					N string `json:"from_mini_block_number"`
				}
				_ = json.Unmarshal(params[1], &from)
				s.next, _ = strconv.ParseUint(strings.TrimPrefix(from.N, "0x"), 16, 64)
			}
			f.subs = append(f.subs, s)
			wmu.Lock()
			_ = conn.WriteMessage(websocket.TextMessage, withID(c.ID, []byte(`{"result":"`+s.id+`"}`)))
			wmu.Unlock()
			f.flush(s)
			f.mu.Unlock()
		}
	}()
}

// flush sends s every emitted mini-block from its next on (f.mu held).
func (f *fakeNode) flush(s *fakeSub) {
	for _, n := range f.emitted {
		if n < s.next {
			continue
		}
		note := fmt.Sprintf(`{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":%q,"result":{"block_number":"0x1","mini_block_number":"0x%x","transactions":[]}}}`, s.id, n)
		s.wmu.Lock()
		_ = s.conn.WriteMessage(websocket.TextMessage, []byte(note))
		s.wmu.Unlock()
		s.next = n + 1
	}
}

// emit seals mini-blocks up to n and streams them to subscribers.
func (f *fakeNode) emit(n uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for m := f.mini.Load() + 1; m <= n; m++ {
		f.emitted = append(f.emitted, m)
	}
	f.mini.Store(n)
	for _, s := range f.subs {
		f.flush(s)
	}
}

// kill ends the node: listener and connections.
func (f *fakeNode) kill() {
	f.srv.CloseClientConnections()
	f.srv.Close()
	f.mu.Lock()
	for _, s := range f.subs {
		s.conn.Close()
	}
	f.mu.Unlock()
}

type testEnv struct {
	t                     testing.TB
	gw                    *Gateway
	seq, rep1, rep2, full *fakeNode
}

func newTestEnv(t testing.TB, tweak func(*Config)) *testEnv {
	t.Helper()
	e := &testEnv{t: t, seq: newFakeNode(t, "seq"), rep1: newFakeNode(t, "rep1"), rep2: newFakeNode(t, "rep2"), full: newFakeNode(t, "full")}
	for _, f := range []*fakeNode{e.seq, e.rep1, e.rep2, e.full} {
		f.block.Store(10)
		f.mini.Store(1000)
	}
	cfg := DefaultConfig()
	cfg.Port = 0
	cfg.PollInterval = Duration(time.Hour) // the tests poll by hand
	cfg.Sequencers, cfg.Replicas, cfg.FullNodes = []string{e.seq.URL()}, []string{e.rep1.URL(), e.rep2.URL()}, []string{e.full.URL()}
	if tweak != nil {
		tweak(&cfg)
	}
	gw, err := New(cfg, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Stop(context.Background()) })
	e.gw = gw
	return e
}

// post sends body to the gateway and returns the status and answer.
func (e *testEnv) post(body string, header ...string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+e.gw.Addr(), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

type answer struct {
	ID     json.RawMessage `json:"id"`
	Result struct {
		Node   string `json:"node"`
		Method string `json:"method"`
	} `json:"result"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func decodeAnswers(t *testing.T, body string) []answer {
	t.Helper()
	var out []answer
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		var one answer
		if err := json.Unmarshal([]byte(body), &one); err != nil {
			t.Fatalf("answer %s: %v", body, err)
		}
		out = []answer{one}
	}
	return out
}

// A batch is split by class (writes to the sequencer, finality to the full
// node, reads to a replica) and answered in the client's order, with the
// client's ids, duplicates included; a notification gets no answer.
func TestBatchSplitByClassAndReassembled(t *testing.T) {
	e := newTestEnv(t, nil)
	_, body := e.post(`[
		{"jsonrpc":"2.0","id":"a","method":"eth_getBalance","params":["0x01","latest"]},
		{"jsonrpc":"2.0","id":7,"method":"eth_sendRawTransaction","params":["0x02"]},
		{"jsonrpc":"2.0","id":7,"method":"eth_getBlockByNumber","params":["finalized",false]},
		{"jsonrpc":"2.0","method":"eth_chainId"},
		{"jsonrpc":"2.0","id":null,"method":"mega_getFinality","params":["0x03"]},
		{"jsonrpc":"2.0","id":9,"method":"eth_getTransactionCount","params":["0x01","pending"]},
		{"jsonrpc":"2.0","id":10,"method":"debug_traceTransaction","params":["0x04"]},
		{"jsonrpc":"2.0","id":11,"method":"eth_newFilter","params":[{}]}
	]`)
	got := decodeAnswers(t, body)
	want := []struct{ id, node, method string }{
		{`"a"`, "rep", "eth_getBalance"},
		{`7`, "seq", "eth_sendRawTransaction"},
		{`7`, "full", "eth_getBlockByNumber"},
		{`null`, "full", "mega_getFinality"},
		{`9`, "seq", "eth_getTransactionCount"},
		{`10`, "", ""},                  // not allowed
		{`11`, "rep1", "eth_newFilter"}, // filters live on the first replica
	}
	if len(got) != len(want) {
		t.Fatalf("%d answers, want %d: %s", len(got), len(want), body)
	}
	for i, w := range want {
		a := got[i]
		if string(a.ID) != w.id || !strings.HasPrefix(a.Result.Node, w.node) || a.Result.Method != w.method {
			t.Errorf("answer %d: id %s from %q for %q, want id %s from %s for %q", i, a.ID, a.Result.Node, a.Result.Method, w.id, w.node, w.method)
		}
	}
	if a := got[5]; a.Error == nil || a.Error.Code != -32601 || !strings.Contains(a.Error.Message, "debug_traceTransaction") {
		t.Errorf("a method off the allow-list: %+v", a.Error)
	}
	if seq := e.seq.seen(); len(seq) != 2 {
		t.Errorf("sequencer got %v, want the send and the pending nonce", seq)
	}
	// The notification was still forwarded, to a replica.
	if n := len(e.rep1.seen()) + len(e.rep2.seen()); n != 3 {
		t.Errorf("replicas got %d calls, want 3 (getBalance, chainId, newFilter)", n)
	}
}

// Admin methods are never forwarded, even by a gateway whose allow-list
// takes every method: they are refused with −32601 naming the admin
// listener, over HTTP and websocket, and no backend sees them.
func TestAdminMethodsNeverForwarded(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.Allow = []string{"*"} })
	_, body := e.post(`[
		{"jsonrpc":"2.0","id":1,"method":"ha_removeMember","params":["a"]},
		{"jsonrpc":"2.0","id":2,"method":"ha_transferLeader","params":[]},
		{"jsonrpc":"2.0","id":3,"method":"ha_addMember","params":["d","127.0.0.1:1","http://127.0.0.1:2"]},
		{"jsonrpc":"2.0","id":4,"method":"ha_partition","params":[true]},
		{"jsonrpc":"2.0","id":5,"method":"eth_chainId"}
	]`)
	got := decodeAnswers(t, body)
	if len(got) != 5 {
		t.Fatalf("%d answers, want 5: %s", len(got), body)
	}
	for _, a := range got[:4] {
		if a.Error == nil || a.Error.Code != -32601 || !strings.Contains(a.Error.Message, "admin listener") {
			t.Errorf("answer %s: %+v, want -32601 naming the admin listener", a.ID, a.Error)
		}
	}
	if got[4].Error != nil {
		t.Errorf("eth_chainId beside them: %+v", got[4].Error)
	}
	ws := dialWS(t, e.gw.Addr())
	ws.send(`{"jsonrpc":"2.0","id":6,"method":"ha_removeMember","params":["a"]}`)
	m, err := ws.read()
	if err != nil || !strings.Contains(string(m["error"]), "-32601") || !strings.Contains(string(m["error"]), "admin listener") {
		t.Errorf("websocket ha_removeMember: %v, %v", m, err)
	}
	for _, f := range []*fakeNode{e.seq, e.rep1, e.rep2, e.full} {
		for _, method := range f.seen() {
			if strings.HasPrefix(method, "ha_") {
				t.Errorf("%s got %s", f.name, method)
			}
		}
	}
}

// A backend that fails its poll, is not ready, or lags the head by more than
// the limits is taken out and put back once it recovers; reads then avoid it.
func TestHealthTakesOutAndPutsBack(t *testing.T) {
	e := newTestEnv(t, nil)
	ctx := context.Background()
	readsGoTo := func() map[string]int {
		seen := map[string]int{}
		for i := 0; i < 6; i++ {
			_, body := e.post(`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x01","latest"]}`)
			seen[decodeAnswers(t, body)[0].Result.Node]++
		}
		return seen
	}
	if got := readsGoTo(); got["rep1"] == 0 && got["rep2"] == 0 {
		t.Fatalf("reads went to %v", got)
	}

	e.rep1.mini.Store(1000 - 201) // lags more than 200 mini-blocks
	e.gw.pollAll(ctx)
	if got := readsGoTo(); got["rep1"] != 0 || got["rep2"] != 6 {
		t.Fatalf("rep1 lagging by mini-blocks: reads went to %v", got)
	}
	if st := e.gw.reps[0].status(); st.Healthy || !strings.Contains(st.Reason, "lags") {
		t.Fatalf("rep1 status %+v", st)
	}
	e.rep1.mini.Store(1000)
	e.rep2.down.Store(true)
	e.gw.pollAll(ctx)
	if got := readsGoTo(); got["rep1"] != 6 {
		t.Fatalf("rep2 not ready, rep1 back: reads went to %v", got)
	}
	code, body := get(t, "http://"+e.gw.Addr()+"/ready")
	if code != http.StatusOK || !strings.Contains(body, `"healthy":false`) || !strings.Contains(body, "/ready 503") {
		t.Fatalf("/ready with one replica out: %d %s", code, body)
	}

	e.rep1.block.Store(6) // 4 blocks behind
	e.gw.pollAll(ctx)
	if got := readsGoTo(); got["seq"] != 6 {
		t.Fatalf("no replica in service: reads should fall back to the sequencer, went to %v", got)
	}

	// A replica of another genesis serves another chain, at any head.
	e.rep1.block.Store(10)
	other := "0x" + strings.Repeat("cd", 32)
	e.rep2.down.Store(false)
	e.rep2.genesis.Store(other)
	e.gw.pollAll(ctx)
	if st := e.gw.reps[1].status(); st.Healthy || !strings.Contains(st.Reason, "genesis "+other) || !strings.Contains(st.Reason, "the sequencer's 0x"+strings.Repeat("ab", 32)) {
		t.Fatalf("a replica of another genesis: status %+v, want out naming both genesis hashes", st)
	}
	if got := readsGoTo(); got["rep1"] != 6 {
		t.Fatalf("rep2 of another genesis: reads went to %v, want rep1", got)
	}
	e.rep2.genesis.Store("0x" + strings.Repeat("ab", 32))
	e.gw.pollAll(ctx)
	if st := e.gw.reps[1].status(); !st.Healthy {
		t.Fatalf("rep2 back on the sequencer's genesis: %+v", st)
	}

	e.seq.kill()
	e.gw.pollAll(ctx)
	code, body = get(t, "http://"+e.gw.Addr()+"/ready")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"status":"unavailable"`) {
		t.Fatalf("/ready without a sequencer: %d %s", code, body)
	}
	_, body = e.post(`{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x02"]}`)
	if a := decodeAnswers(t, body)[0]; a.Error == nil || a.Error.Code != -32011 || !strings.Contains(a.Error.Message, "no sequencer reachable") {
		t.Fatalf("a write with the sequencer down: %s", body)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// After a write, a client's reads go only to a replica that has the
// sequencer's mini-block of that moment: one whose last poll is behind is
// asked for its head in the same batch, and the read is served by the
// sequencer if it is still behind.
func TestReadYourWrites(t *testing.T) {
	e := newTestEnv(t, nil)
	e.gw.pollAll(context.Background())
	e.seq.mini.Store(1005) // the write lands in mini-block 1005; the replicas were polled at 1000
	_, body := e.post(`{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransactionSync","params":["0x02"]}`)
	if a := decodeAnswers(t, body)[0]; a.Result.Node != "seq" {
		t.Fatalf("write: %s", body)
	}
	_, body = e.post(`{"jsonrpc":"2.0","id":2,"method":"eth_getBalance","params":["0x01","latest"]}`)
	if a := decodeAnswers(t, body)[0]; a.Result.Node != "seq" {
		t.Fatalf("read while every replica is at 1000 < 1005 went to %s", a.Result.Node)
	}
	e.rep2.mini.Store(1005) // caught up, but not polled since
	_, body = e.post(`{"jsonrpc":"2.0","id":3,"method":"eth_getBalance","params":["0x01","latest"]}`)
	_, body2 := e.post(`{"jsonrpc":"2.0","id":4,"method":"eth_getBalance","params":["0x01","latest"]}`)
	nodes := decodeAnswers(t, body)[0].Result.Node + "," + decodeAnswers(t, body2)[0].Result.Node
	if strings.Contains(nodes, "rep1") || !strings.Contains(nodes, "rep2") {
		t.Fatalf("reads after rep2 caught up went to %s, want rep2 (or seq), never rep1", nodes)
	}
	// Another client has seen nothing: any replica will do.
	_, body = e.post(`{"jsonrpc":"2.0","id":5,"method":"eth_getBalance","params":["0x01","latest"]}`,
		"X-Forwarded-For", "10.0.0.9") // not believed: the peer is not a trusted proxy
	if a := decodeAnswers(t, body)[0]; a.Result.Node == "" {
		t.Fatalf("read: %s", body)
	}
}

// Limits answer with JSON-RPC errors: body and batch size, rate limits
// (HTTP 429 with −32005), response size; parse errors keep their code.
func TestLimits(t *testing.T) {
	e := newTestEnv(t, func(c *Config) {
		c.BodyLimit, c.RawTxLimit, c.BatchLimit, c.ResponseLimit = 1024, 4096, 3, 200
		c.RatePerIP = 5
		c.MethodRates = map[string]float64{"eth_call": 1}
	})
	call := func(method string) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q,"params":[]}`, method)
	}
	code, body := e.post(`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["` + strings.Repeat("0", 1100) + `"]}`)
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "-32600") || !strings.Contains(body, "too large") {
		t.Fatalf("body over the limit: %d %s", code, body)
	}
	code, body = e.post(`{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x` + strings.Repeat("0", 1100) + `"]}`)
	if code != http.StatusOK || !strings.Contains(body, `"node":"seq"`) {
		t.Fatalf("a raw tx over the body limit but under the raw tx limit: %d %s", code, body)
	}
	_, body = e.post("[" + strings.Repeat(call("eth_chainId")+",", 3) + call("eth_chainId") + "]")
	if !strings.Contains(body, "batch too large") {
		t.Fatalf("4 calls with a batch limit of 3: %s", body)
	}
	_, body = e.post(`{"jsonrpc":"2.0","id":1,"method"`)
	if !strings.Contains(body, "-32700") {
		t.Fatalf("malformed JSON: %s", body)
	}
	_, body = e.post("[" + call("eth_chainId") + "," + call("eth_chainId") + "]") // two answers of ~60 bytes each
	if !strings.Contains(body, `"node"`) {
		t.Fatalf("small batch: %s", body)
	}
	_, body = e.post("[" + call("eth_chainId") + "," + call("eth_chainId") + "," + call("eth_chainId") + "]")
	if !strings.Contains(body, "-32003") || !strings.Contains(body, "response too large") {
		t.Fatalf("answer over 200 bytes: %s", body)
	}

	// 5 requests/s per IP: the tokens left are used up, then 429.
	limited := 0
	for i := 0; i < 6; i++ {
		code, body = e.post(call("eth_chainId"))
		if code == http.StatusTooManyRequests {
			limited++
			if !strings.Contains(body, "-32005") || !strings.Contains(body, "rate limit exceeded") {
				t.Fatalf("rate limited answer: %s", body)
			}
		}
	}
	if limited == 0 {
		t.Fatal("6 more requests at 5/s per IP were all served")
	}

	// Per-method limit with an injected clock: the second eth_call within a
	// second is refused, the third a second later is served.
	e2 := newTestEnv(t, func(c *Config) { c.MethodRates = map[string]float64{"eth_call": 1} })
	now := time.Unix(1_800_000_000, 0)
	e2.gw.now = func() time.Time { return now }
	if code, body = e2.post(call("eth_call")); code != http.StatusOK || strings.Contains(body, "error") {
		t.Fatalf("first eth_call: %d %s", code, body)
	}
	if code, body = e2.post(call("eth_call")); code != http.StatusTooManyRequests || !strings.Contains(body, "eth_call") {
		t.Fatalf("second eth_call in the same second: %d %s", code, body)
	}
	if code, _ = e2.post(call("eth_chainId")); code != http.StatusOK {
		t.Fatalf("another method is not limited: %d", code)
	}
	now = now.Add(time.Second)
	if code, _ = e2.post(call("eth_call")); code != http.StatusOK {
		t.Fatalf("eth_call a second later: %d", code)
	}
}

// X-Forwarded-For is believed only from a trusted proxy; the gateway passes
// the chain on with the peer appended.
func TestForwardedFor(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.TrustedProxies = []string{"127.0.0.1"} })
	e.post(`{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x02"]}`, "X-Forwarded-For", "203.0.113.7")
	e.seq.mu.Lock()
	xff := e.seq.xff[len(e.seq.xff)-1]
	e.seq.mu.Unlock()
	if xff != "203.0.113.7, 127.0.0.1" {
		t.Fatalf("X-Forwarded-For to the backend %q", xff)
	}
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.RemoteAddr = "127.0.0.1:5555"
	r.Header.Set("X-Forwarded-For", "198.51.100.1, 203.0.113.7, 127.0.0.1")
	if ip, _ := e.gw.clientIP(r); ip != "203.0.113.7" {
		t.Fatalf("client IP behind two trusted hops: %s", ip)
	}
	r.RemoteAddr = "192.0.2.1:5555" // untrusted peer: its header is ignored
	if ip, fwd := e.gw.clientIP(r); ip != "192.0.2.1" || fwd != "192.0.2.1" {
		t.Fatalf("untrusted peer: ip %s forwarded %q", ip, fwd)
	}
}

type wsConn struct {
	t    *testing.T
	conn *websocket.Conn
}

func dialWS(t *testing.T, addr string) *wsConn {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &wsConn{t: t, conn: conn}
}

func (c *wsConn) send(msg string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *wsConn) read() (map[string]json.RawMessage, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var m map[string]json.RawMessage
	err := c.conn.ReadJSON(&m)
	return m, err
}

// miniBlocks reads notifications until it has n, checking the subscription
// id, and returns their numbers.
func (c *wsConn) miniBlocks(sub string, n int) []uint64 {
	c.t.Helper()
	var out []uint64
	for len(out) < n {
		m, err := c.read()
		if err != nil {
			c.t.Fatalf("after %v: %v", out, err)
		}
		var p struct {
			Subscription string          `json:"subscription"`
			Result       json.RawMessage `json:"result"`
		}
		_ = json.Unmarshal(m["params"], &p)
		if p.Subscription != sub {
			c.t.Fatalf("notification for %q, want %q: %v", p.Subscription, sub, m)
		}
		num, _ := hexField(p.Result, "mini_block_number")
		out = append(out, num)
	}
	return out
}

// A miniBlocks subscription survives its replica's death: the gateway moves
// it to the other replica from the mini-block after the last one delivered,
// under the same subscription id, without a gap or a duplicate. Calls on the
// same connection keep working.
func TestSubscriptionMovesWithoutGap(t *testing.T) {
	e := newTestEnv(t, nil)
	c := dialWS(t, e.gw.Addr())
	c.send(`{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["miniBlocks"]}`)
	m, err := c.read()
	if err != nil {
		t.Fatal(err)
	}
	var sub string
	if json.Unmarshal(m["result"], &sub) != nil || !strings.HasPrefix(sub, "0x") || len(sub) != 34 {
		t.Fatalf("subscribe answer %v", m)
	}
	// rep1 took the subscription (first of two equally idle replicas).
	for _, f := range []*fakeNode{e.rep1, e.rep2} {
		f.emit(1005)
	}
	if got := c.miniBlocks(sub, 5); got[0] != 1001 || got[4] != 1005 {
		t.Fatalf("first mini-blocks %v", got)
	}
	e.rep2.emit(1009) // rep2 runs ahead while rep1 dies
	e.rep1.kill()
	got := c.miniBlocks(sub, 4)
	for i, n := range got {
		if n != 1006+uint64(i) {
			t.Fatalf("after the move: %v, want 1006..1009", got)
		}
	}
	e.rep2.emit(1010)
	if got := c.miniBlocks(sub, 1); got[0] != 1010 {
		t.Fatalf("live after the move: %v", got)
	}
	c.send(`{"jsonrpc":"2.0","id":2,"method":"eth_chainId"}`)
	if m, err = c.read(); err != nil || !strings.Contains(string(m["result"]), "rep2") {
		t.Fatalf("a call after the move: %v %v", m, err)
	}
	c.send(`{"jsonrpc":"2.0","id":3,"method":"eth_unsubscribe","params":["` + sub + `"]}`)
	if m, err = c.read(); err != nil || string(m["result"]) != "true" {
		t.Fatalf("unsubscribe: %v %v", m, err)
	}
}

// A subscription that cannot resume without a gap closes the connection
// with the reason when its backend fails; the subscription limit answers
// −32005.
func TestSubscriptionThatCannotResumeClosesWithReason(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.MaxSubsPerConn = 1 })
	c := dialWS(t, e.gw.Addr())
	c.send(`{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["logs",{}]}`)
	if m, err := c.read(); err != nil || m["result"] == nil {
		t.Fatalf("subscribe: %v %v", m, err)
	}
	c.send(`{"jsonrpc":"2.0","id":2,"method":"eth_subscribe","params":["miniBlocks"]}`)
	if m, err := c.read(); err != nil || !strings.Contains(string(m["error"]), "-32005") {
		t.Fatalf("second subscription over a limit of 1: %v %v", m, err)
	}
	e.rep1.kill()
	_, err := c.read()
	var ce *websocket.CloseError
	if !errorsAs(err, &ce) || ce.Code != websocket.CloseServiceRestart || !strings.Contains(ce.Text, "logs subscription cannot resume") {
		t.Fatalf("close after the backend failed: %v", err)
	}
}

func errorsAs(err error, target **websocket.CloseError) bool {
	ce, ok := err.(*websocket.CloseError)
	if ok {
		*target = ce
	}
	return ok
}

// The TOML file sets every field by its key; an unknown key or a bad value
// is an error that names it.
func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(text string) string {
		p := dir + "/gateway.toml"
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := DefaultConfig()
	err := LoadFile(write(`
port = 9000
sequencers = ["http://127.0.0.1:8545"]
replicas = ["http://127.0.0.1:8546", "http://127.0.0.1:8547"]
poll_interval = "250ms"
rate_per_ip = 100.0
trusted_proxies = ["10.0.0.0/8"]
[method_rates]
eth_call = 20.0
`), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 9000 || len(cfg.Replicas) != 2 || time.Duration(cfg.PollInterval) != 250*time.Millisecond ||
		cfg.RatePerIP != 100 || cfg.MethodRates["eth_call"] != 20 || cfg.BatchLimit != 500 {
		t.Fatalf("loaded %+v", cfg)
	}
	if err := cfg.Check(); err != nil {
		t.Fatalf("check: %v", err)
	}
	for text, want := range map[string]string{
		`replica = ["http://x"]`: "unknown keys replica",
		`poll_interval = "soon"`: "soon",
	} {
		c := DefaultConfig()
		if err := LoadFile(write(text), &c); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", text, err, want)
		}
	}
	bad := DefaultConfig()
	bad.Sequencers, bad.Replicas = []string{"127.0.0.1:8545"}, []string{"http://127.0.0.1:8546"}
	if err := bad.Check(); err == nil || !strings.Contains(err.Error(), "want an http://") {
		t.Fatalf("a URL without scheme: %v", err)
	}
}

// A backend that does not answer within the timeout gets −32000 with the
// reason, and the gateway stays responsive.
func TestBackendTimeout(t *testing.T) {
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ready" {
			return
		}
		body, _ := io.ReadAll(r.Body)
		if bytes.Contains(body, []byte("eth_getBalance")) {
			<-hang
		}
		_, _ = w.Write([]byte(`[{"jsonrpc":"2.0","id":1,"result":"0xa"},{"jsonrpc":"2.0","id":2,"result":"0x3e8"}]`))
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(hang) })
	e := newTestEnv(t, func(c *Config) {
		c.Replicas, c.FullNodes, c.Timeout = []string{slow.URL}, nil, Duration(50*time.Millisecond)
	})
	_, body := e.post(`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x01","latest"]}`)
	if a := decodeAnswers(t, body)[0]; a.Error == nil || a.Error.Code != -32000 || !strings.Contains(a.Error.Message, "timed out") {
		t.Fatalf("hung backend: %s", body)
	}
	if _, body = e.post(`{"jsonrpc":"2.0","id":2,"method":"eth_sendRawTransaction","params":["0x02"]}`); !strings.Contains(body, `"node":"seq"`) {
		t.Fatalf("a write meanwhile: %s", body)
	}
}

// Garbage on a websocket answers −32700 and keeps the connection.
func TestWebsocketGarbageKeepsConnection(t *testing.T) {
	e := newTestEnv(t, nil)
	c := dialWS(t, e.gw.Addr())
	c.send(`{"jsonrpc":"2.0","id":1,"method"`)
	if m, err := c.read(); err != nil || !strings.Contains(string(m["error"]), "-32700") {
		t.Fatalf("malformed message: %v %v", m, err)
	}
	c.send(`{"jsonrpc":"2.0","id":2,"method":"eth_subscribe","params":[7]}`)
	if m, err := c.read(); err != nil || !strings.Contains(string(m["error"]), "-32602") {
		t.Fatalf("subscription kind not a string: %v %v", m, err)
	}
	c.send(`{"jsonrpc":"2.0","id":3,"method":"eth_chainId"}`)
	if m, err := c.read(); err != nil || !strings.Contains(string(m["result"]), `"node"`) {
		t.Fatalf("a call after garbage: %v %v", m, err)
	}
}

func TestWritesMoveToTheHALeader(t *testing.T) {
	leader := newFakeNode(t, "leader")
	leader.block.Store(10)
	leader.mini.Store(1000)
	e := newTestEnv(t, func(c *Config) { c.Sequencers = append(c.Sequencers, leader.URL()) })
	e.seq.standby.Store(true)
	_, body := e.post(`[
		{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x01"]},
		{"jsonrpc":"2.0","id":2,"method":"eth_sendRawTransaction","params":["0x02"]}]`)
	var answers []struct {
		ID     int               `json:"id"`
		Result map[string]string `json:"result"`
		Error  any               `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &answers); err != nil || len(answers) != 2 {
		t.Fatalf("answer %s: %v", body, err)
	}
	for i, a := range answers {
		if a.ID != i+1 || a.Error != nil || a.Result["node"] != "leader" {
			t.Fatalf("answer %d: %+v, want the leader's", i, a)
		}
	}
	if got := e.seq.seen(); len(got) != 2 {
		t.Fatalf("the standby saw %v", got)
	}
	// With every candidate standing by (an election), the client gets the
	// retryable refusal, not a silent drop.
	leader.standby.Store(true)
	_, body = e.post(`{"jsonrpc":"2.0","id":3,"method":"eth_sendRawTransaction","params":["0x03"]}`)
	if !strings.Contains(body, "-32002") {
		t.Fatalf("during an election: %s", body)
	}
}
