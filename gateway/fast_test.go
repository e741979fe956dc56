package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestFastFrontAnswersAsNetHTTP sends the same requests to the port (served
// by fasthttp: serveFast and the adaptor) and to the gateway's ServeHTTP
// under net/http: status, body and the headers clients read must agree.
func TestFastFrontAnswersAsNetHTTP(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.CORSOrigins = []string{"http://app.example"} })
	ref := httptest.NewServer(e.gw)
	defer ref.Close()
	ask := func(method, url, origin, body string) (int, string, http.Header) {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	cases := []struct{ name, method, path, origin, body string }{
		{"read", "POST", "/", "", `{"jsonrpc":"2.0","id":7,"method":"eth_getBalance","params":["0x01","latest"]}`},
		{"write", "POST", "/", "", `{"jsonrpc":"2.0","id":"w","method":"eth_sendRawTransaction","params":["0x00"]}`},
		{"batch of classes", "POST", "/", "", `[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","id":2,"method":"eth_sendRawTransaction","params":["0x00"]}]`},
		{"admin refused", "POST", "/", "", `{"jsonrpc":"2.0","id":1,"method":"ha_removeMember","params":["a"]}`},
		{"not allowed", "POST", "/", "", `{"jsonrpc":"2.0","id":1,"method":"debug_setHead","params":["0x1"]}`},
		{"malformed", "POST", "/", "", `{"jsonrpc":`},
		{"empty batch", "POST", "/", "", `[]`},
		{"over the body limit", "POST", "/", "", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":["` + strings.Repeat("a", DefaultConfig().BodyLimit) + `"]}`},
		{"cors allowed", "POST", "/", "http://app.example", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`},
		{"cors other origin", "POST", "/", "http://evil.example", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`},
		{"post to /health", "POST", "/health", "", ``},
		{"get", "GET", "/", "", ``},
		{"health", "GET", "/health", "", ``},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantCode, want, wantH := ask(c.method, ref.URL+c.path, c.origin, c.body)
			gotCode, got, gotH := ask(c.method, "http://"+e.gw.Addr()+c.path, c.origin, c.body)
			if gotCode != wantCode || got != want {
				t.Errorf("fasthttp front: %d %q\nnet/http:        %d %q", gotCode, got, wantCode, want)
			}
			for _, h := range []string{"Content-Type", "Access-Control-Allow-Origin", "Vary"} {
				if gotH.Get(h) != wantH.Get(h) {
					t.Errorf("header %s: %q, net/http %q", h, gotH.Get(h), wantH.Get(h))
				}
			}
		})
	}
}
