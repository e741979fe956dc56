package rpc_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzServe posts arbitrary bodies to a whole server over the golden chain:
// every decoder of JSON-RPC params is reached the way a client reaches it
// (raw transactions, filters, block tags, state and block overrides,
// eth_simulateV1, traces, finality targets, batches, subscriptions over
// HTTP). The server must answer every body with JSON-RPC (never a panic,
// never go-ethereum's "method handler crashed", never a 5xx). The seeds are
// every request of the golden and differential suites (testdata/*.io,
// testdata/geth/*.io).
func FuzzServe(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.io")
	geth, _ := filepath.Glob("testdata/geth/*.io")
	for _, file := range append(files, geth...) {
		reqs, _ := readExchanges(f, file)
		for _, r := range reqs {
			f.Add([]byte(r))
		}
	}
	f.Add([]byte(`[{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["logs",{}]},{"jsonrpc":"2.0","id":2,"method":"eth_chainId"}]`))
	f.Add([]byte(`[{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x00"]},{"jsonrpc":"2.0","id":2,"method":"eth_sendRawTransaction","params":["0x"]}]`))
	srv := newGoldenServer(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 64<<10 {
			return
		}
		if bytes.Contains(body, []byte("debug_trace")) && bytes.Contains(body, []byte("tracer")) {
			return // JavaScript tracers run caller code for up to their timeout: slow, not a decoder
		}
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		out := rec.Body.Bytes()
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, out)
		}
		if strings.Contains(string(out), "method handler crashed") {
			t.Fatalf("a handler panicked on %q: %s", body, out)
		}
		if len(bytes.TrimSpace(out)) > 0 && !json.Valid(out) {
			t.Fatalf("answer to %q is not JSON: %q", body, out)
		}
	})
}
