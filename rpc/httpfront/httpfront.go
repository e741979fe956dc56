// Package httpfront serves an HTTP port with fasthttp in front of a net/http
// handler: the JSON-RPC posts a caller can answer from the request's bytes
// are answered on fasthttp's worker, everything else (websocket upgrades,
// health and metrics paths, pages) goes through fasthttpadaptor to the
// net/http handler unchanged.
//
// net/http spends a goroutine hand-off and an extra read per request on
// watching for the client to go away; on a small machine that costs about
// as much as answering eth_blockNumber (40 µs of a 105 µs round trip on the
// 2-core machine the benchmarks run on).
package httpfront

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/meganode/meganode/rpc/jsonrpc"
)

// IdleTimeout closes keep-alive connections idle this long. net/http had no
// idle limit on these ports; a long one keeps clients' pooled connections
// from racing a server close while bounding what idle connections hold.
const IdleTimeout = 10 * time.Minute

// ReadBuffer is the per-connection read buffer, which also bounds the request
// header (net/http's limit is 1 MB; JSON-RPC clients send < 1 KiB).
const ReadBuffer = 16 << 10

// Config configures a front.
type Config struct {
	ReadTimeout time.Duration // reading one request, header and body
	MaxBody     int           // larger bodies get HTTP 413 before any handler runs
	Log         zerolog.Logger
	// OnTooLarge, when set, is told of each body refused for its size.
	OnTooLarge func()
}

// New returns the server. fast answers a request and returns true, or
// returns false having written nothing; then slow serves it. Requests passed
// to slow carry base as their context: fasthttp recycles a RequestCtx as
// soon as its handler returns, and a context derived from it that outlives
// the request (an outgoing HTTP call's cancel, a forwarded send) would read
// a recycled ctx. fast must not keep ctx past its return either.
func New(cfg Config, base context.Context, fast func(ctx *fasthttp.RequestCtx) bool, slow http.Handler) *fasthttp.Server {
	adapted := fasthttpadaptor.NewFastHTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slow.ServeHTTP(w, r.WithContext(base))
	}))
	f := &front{cfg: cfg}
	return &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			if !f.serve(ctx, fast) {
				adapted(ctx)
			}
		},
		ErrorHandler:                 f.error,
		ReadTimeout:                  cfg.ReadTimeout,
		IdleTimeout:                  IdleTimeout,
		ReadBufferSize:               ReadBuffer,
		MaxRequestBodySize:           cfg.MaxBody,
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		DisablePreParseMultipartForm: true,
		CloseOnShutdown:              true,
		Logger:                       logger{cfg.Log},
	}
}

type front struct{ cfg Config }

// serve runs fast with net/http's promise kept: a panic is logged and
// answered with HTTP 500, the server goes on.
func (f *front) serve(ctx *fasthttp.RequestCtx, fast func(*fasthttp.RequestCtx) bool) (served bool) {
	defer func() {
		if v := recover(); v != nil {
			f.cfg.Log.Error().Msgf("panic serving %s: %v", ctx.RemoteAddr(), v)
			ctx.Response.Reset()
			ctx.Error("Internal Server Error", http.StatusInternalServerError)
			served = true
		}
	}()
	return fast(ctx)
}

// error answers requests fasthttp cannot read with a JSON-RPC error: a body
// over the limit (HTTP 413, the message the net/http paths give), a header
// over the read buffer (431), a read timeout (408), bytes that are not HTTP
// (400).
func (f *front) error(ctx *fasthttp.RequestCtx, err error) {
	reason := err.Error()
	if i := strings.IndexAny(reason, "\r\n"); i >= 0 {
		reason = reason[:i]
	}
	if len(reason) > 120 { // fasthttp quotes the bytes it could not read
		reason = reason[:120] + "…"
	}
	status, msg := http.StatusBadRequest, "malformed HTTP request: "+reason
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		if f.cfg.OnTooLarge != nil {
			f.cfg.OnTooLarge()
		}
		status = http.StatusRequestEntityTooLarge
		if n := ctx.Request.Header.ContentLength(); n > 0 {
			msg = fmt.Sprintf("request body too large: %d bytes, limit %d", n, f.cfg.MaxBody)
		} else {
			msg = fmt.Sprintf("request body too large: over %d bytes", f.cfg.MaxBody)
		}
	case errors.As(err, new(*fasthttp.ErrSmallBuffer)):
		status, msg = http.StatusRequestHeaderFieldsTooLarge, fmt.Sprintf("request header too large: limit %d bytes", ReadBuffer)
	default:
		var netErr net.Error
		if errors.As(err, &netErr) && netErr.Timeout() {
			status, msg = http.StatusRequestTimeout, "request timed out: "+reason
		}
	}
	ctx.Response.Reset()
	ctx.SetStatusCode(status)
	ctx.Response.Header.SetContentType("application/json")
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": nil, "error": map[string]any{"code": -32600, "message": msg}})
	ctx.SetBody(append(b, '\n'))
}

// IsPlainPost reports a POST that is not a websocket upgrade: what a fast
// path may answer.
func IsPlainPost(ctx *fasthttp.RequestCtx) bool {
	return ctx.IsPost() && len(ctx.Request.Header.Peek("Upgrade")) == 0
}

// SetCORS sets on the response the headers jsonrpc.CORS sets on a net/http
// one when the request's origin is allowed.
func SetCORS(ctx *fasthttp.RequestCtx, origins []string) {
	for _, h := range jsonrpc.CORSHeaders(string(ctx.Request.Header.Peek("Origin")), origins) {
		ctx.Response.Header.Set(h[0], h[1])
	}
}

// logger sends fasthttp's own messages to the node's log.
type logger struct{ log zerolog.Logger }

func (l logger) Printf(format string, args ...any) {
	l.log.Warn().Msgf("http: "+format, args...)
}
