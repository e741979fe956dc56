package rpc

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meganode/meganode/rpc/httpfront"

	"github.com/valyala/fasthttp"
)

type httpAnswer struct {
	status int
	body   string
	header map[string]string
}

func askHTTP(t *testing.T, method, url, contentType, origin, body string) httpAnswer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := httpAnswer{status: resp.StatusCode, body: string(b), header: map[string]string{}}
	for _, h := range []string{"Content-Type", "Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Vary"} {
		a.header[h] = resp.Header.Get(h)
	}
	return a
}

// TestFastFrontAnswersAsNetHTTP sends the same requests to the port (served
// by fasthttp, the fast path and the adaptor) and to the server's ServeHTTP
// under net/http: status, body and the headers clients read must agree.
func TestFastFrontAnswersAsNetHTTP(t *testing.T) {
	e := newWSEnv(t, nil)
	ref := httptest.NewServer(e.srv)
	defer ref.Close()
	fast := "http://" + e.srv.Addr()
	const js = "application/json"
	cases := []struct {
		name, method, path, contentType, origin, body string
	}{
		{"single call", "POST", "/", js, "", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`},
		{"string id", "POST", "/", js, "", `{"jsonrpc":"2.0","id":"a","method":"eth_blockNumber"}`},
		{"batch", "POST", "/", js, "", `[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","id":2,"method":"net_version"}]`},
		{"notification", "POST", "/", js, "", `{"jsonrpc":"2.0","method":"eth_chainId"}`},
		{"unknown method", "POST", "/", js, "", `{"jsonrpc":"2.0","id":1,"method":"eth_nope"}`},
		{"bad params", "POST", "/", js, "", `{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x1"]}`},
		{"malformed", "POST", "/", js, "", `{"jsonrpc":"2.0","id":1,"method":`},
		{"charset", "POST", "/", "application/json; charset=utf-8", "", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`},
		{"wrong content type", "POST", "/", "text/plain", "", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`},
		{"subscribe over http", "POST", "/", js, "", `{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]}`},
		{"cors post", "POST", "/", js, "http://localhost:3000", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`},
		{"cors preflight", "OPTIONS", "/", "", "http://localhost:3000", ""},
		{"health", "GET", "/health", "", "", ""},
		{"ready", "GET", "/ready", "", "", ""},
		{"get rpc", "GET", "/", js, "", ""},
		{"over the body limit", "POST", "/", js, "", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":["` + strings.Repeat("a", e.srv.cfg.BodyLimit) + `"]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := askHTTP(t, c.method, ref.URL+c.path, c.contentType, c.origin, c.body)
			got := askHTTP(t, c.method, fast+c.path, c.contentType, c.origin, c.body)
			if got.status != want.status || got.body != want.body {
				t.Errorf("fasthttp front: %d %q\nnet/http:        %d %q", got.status, got.body, want.status, want.body)
			}
			for h, v := range want.header {
				if got.header[h] != v {
					t.Errorf("header %s: %q, net/http %q", h, got.header[h], v)
				}
			}
		})
	}
}

// TestFastFrontRefusesOversizeBodies: a body over the raw-transaction limit
// is refused by fasthttp before any handler runs, with the JSON-RPC error
// (HTTP 413) that the net/http path gives.
func TestFastFrontRefusesOversizeBodies(t *testing.T) {
	e := newWSEnv(t, func(c *Config) { c.BodyLimit, c.RawTxLimit = 1024, 4096 })
	body := `{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x` + strings.Repeat("00", 4096) + `"]}`
	got := askHTTP(t, "POST", "http://"+e.srv.Addr(), "application/json", "", body)
	var msg struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(got.body), &msg); err != nil {
		t.Fatalf("%d %q: %v", got.status, got.body, err)
	}
	if got.status != http.StatusRequestEntityTooLarge || msg.Error.Code != -32600 || !strings.Contains(msg.Error.Message, "limit 4096") || got.header["Content-Type"] != "application/json" {
		t.Fatalf("oversize body: %d %s %q", got.status, got.header["Content-Type"], got.body)
	}
	// The connection is not left in a bad state: the next request on a new
	// one is answered.
	if ok := askHTTP(t, "POST", "http://"+e.srv.Addr(), "application/json", "", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`); ok.status != 200 {
		t.Fatalf("after the refusal: %d %q", ok.status, ok.body)
	}
}

// TestFastFrontRefusesHugeHeaders: a request header over the read buffer
// gets HTTP 431 with a JSON-RPC error instead of a dropped connection.
func TestFastFrontRefusesHugeHeaders(t *testing.T) {
	e := newWSEnv(t, nil)
	req, _ := http.NewRequest("POST", "http://"+e.srv.Addr(), bytes.NewReader([]byte(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Big", strings.Repeat("x", httpfront.ReadBuffer))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || !strings.Contains(string(b), "request header too large") {
		t.Fatalf("huge header: %d %q", resp.StatusCode, b)
	}
}

// TestFastFrontTimesOutSlowRequests: a request that is not read in full
// within the read timeout gets HTTP 408 and the connection is closed.
func TestFastFrontTimesOutSlowRequests(t *testing.T) {
	e := newWSEnv(t, func(c *Config) { c.ReadTimeout = 100 * time.Millisecond })
	conn, err := net.Dial("tcp", e.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // a bound on the test, not a wait
	b, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("no answer before the connection closed: %v", err)
	}
	if !strings.HasPrefix(string(b), "HTTP/1.1 408") || !strings.Contains(string(b), "request timed out") {
		t.Fatalf("slow request: %q", b)
	}
}

// TestFastFrontMalformedRequest: bytes that are not HTTP get HTTP 400 with
// a JSON-RPC error, and the message does not echo the bytes at length.
func TestFastFrontMalformedRequest(t *testing.T) {
	e := newWSEnv(t, nil)
	conn, err := net.Dial("tcp", e.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(strings.Repeat("GARBAGE", 100) + "\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, _ := io.ReadAll(conn)
	_, body, _ := strings.Cut(string(b), "\r\n\r\n")
	var msg struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if !strings.HasPrefix(string(b), "HTTP/1.1 400") || json.Unmarshal([]byte(body), &msg) != nil || msg.Error.Code != -32600 ||
		!strings.HasPrefix(msg.Error.Message, "malformed HTTP request") || len(msg.Error.Message) > 200 {
		t.Fatalf("garbage: %q", b)
	}
}

// TestFastFrontRefusesWebsocketsOverTheLimit: a websocket dial over the
// client's connection limit is refused on fasthttp's worker (no net/http
// request), with the answer ServeHTTP gives: status, JSON-RPC error body and
// CORS headers; a dial within the limits is left to ServeHTTP.
func TestFastFrontRefusesWebsocketsOverTheLimit(t *testing.T) {
	e := newWSEnv(t, func(c *Config) { c.WS.MaxConnsPerIP = 1; c.CORSOrigins = []string{"*"} })
	ref := httptest.NewServer(e.srv)
	defer ref.Close()
	upgrade := func(req *fasthttp.Request) {
		req.Header.SetMethod("GET")
		req.SetRequestURI("/")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		req.Header.Set("Origin", "http://localhost:3000")
	}
	fastAnswer := func() (bool, *fasthttp.RequestCtx) {
		var ctx fasthttp.RequestCtx
		var req fasthttp.Request
		upgrade(&req)
		ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, nil)
		return e.srv.serveFast(&ctx), &ctx
	}
	if ok, _ := fastAnswer(); ok {
		t.Fatal("a dial within the limit was answered on the fast path, not upgraded")
	}
	e.dial() // the client's one connection
	ok, ctx := fastAnswer()
	if !ok || ctx.Response.StatusCode() != http.StatusTooManyRequests {
		t.Fatalf("a dial over the limit: fast path %v, status %d", ok, ctx.Response.StatusCode())
	}
	// The same dial through ServeHTTP under net/http.
	req, _ := http.NewRequest("GET", ref.URL, nil)
	for _, h := range []string{"Upgrade", "Connection", "Sec-WebSocket-Version", "Sec-WebSocket-Key", "Origin"} {
		var fr fasthttp.Request
		upgrade(&fr)
		req.Header.Set(h, string(fr.Header.Peek(h)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	want, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != ctx.Response.StatusCode() || string(want) != string(ctx.Response.Body()) {
		t.Fatalf("fast path: %d %q\nnet/http:  %d %q", ctx.Response.StatusCode(), ctx.Response.Body(), resp.StatusCode, want)
	}
	for _, h := range []string{"Content-Type", "Access-Control-Allow-Origin", "Vary"} {
		if got := string(ctx.Response.Header.Peek(h)); got != resp.Header.Get(h) {
			t.Errorf("header %s: %q, net/http %q", h, got, resp.Header.Get(h))
		}
	}
}
