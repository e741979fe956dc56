package httpfront

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
)

type ctxKey struct{}

// serve starts a front on a free port and returns its URL.
func serve(t *testing.T, fast func(*fasthttp.RequestCtx) bool, slow http.Handler) string {
	t.Helper()
	base := context.WithValue(context.Background(), ctxKey{}, "base")
	srv := New(Config{ReadTimeout: 5 * time.Second, MaxBody: 1024, Log: zerolog.New(zerolog.NewTestWriter(t))}, base, fast, slow)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSlowPathGetsBodyAndBaseContext: a request the fast path leaves reaches
// the net/http handler with its body, and with the front's base context
// rather than fasthttp's recycled RequestCtx.
func TestSlowPathGetsBodyAndBaseContext(t *testing.T) {
	url := serve(t, func(*fasthttp.RequestCtx) bool { return false }, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if _, isFast := r.Context().(*fasthttp.RequestCtx); isFast || r.Context().Value(ctxKey{}) != "base" {
			http.Error(w, "not the base context", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(append([]byte("slow:"), b...))
	}))
	if code, body := post(t, url, "hello"); code != 200 || body != "slow:hello" {
		t.Fatalf("slow path: %d %q", code, body)
	}
}

// TestFastPathPanicIsAnswered: a panic on the fast path is answered with
// HTTP 500 and the server goes on serving.
func TestFastPathPanicIsAnswered(t *testing.T) {
	url := serve(t, func(ctx *fasthttp.RequestCtx) bool {
		if string(ctx.PostBody()) == "boom" {
			panic("boom")
		}
		ctx.SetBodyString("fast")
		return true
	}, http.NotFoundHandler())
	if code, _ := post(t, url, "boom"); code != http.StatusInternalServerError {
		t.Fatalf("panic: HTTP %d, want 500", code)
	}
	if code, body := post(t, url, "x"); code != 200 || body != "fast" {
		t.Fatalf("after the panic: %d %q", code, body)
	}
}

// TestBodyOverTheLimit gets the JSON-RPC error before any handler runs.
func TestBodyOverTheLimit(t *testing.T) {
	var ran atomic.Bool
	url := serve(t, func(*fasthttp.RequestCtx) bool { ran.Store(true); return true }, http.NotFoundHandler())
	code, body := post(t, url, strings.Repeat("x", 1025))
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(body, `"code":-32600`) || !strings.Contains(body, "request body too large: 1025 bytes, limit 1024") || ran.Load() {
		t.Fatalf("oversize: %d %q (handler ran: %v)", code, body, ran.Load())
	}
}
