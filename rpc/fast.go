package rpc

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/meganode/meganode/rpc/limits"
)

// The RPC port is served by fasthttp: net/http spends a goroutine hand-off
// and an extra read per request on watching for the client to go away, which
// on small machines costs about as much as answering eth_blockNumber (40 µs
// of a 105 µs round trip here). A JSON-RPC post that this package answers
// itself (answerPost) is answered on fasthttp's worker; every other request —
// websocket upgrades, /health, /ready, the status page, /metrics, batches and
// calls go-ethereum's server answers — goes to ServeHTTP through
// fasthttpadaptor, so net/http handlers keep working unchanged.

// fastIdleTimeout closes keep-alive connections idle this long. net/http had
// no idle limit here; a long one keeps clients' pooled connections from
// racing a server close while bounding what idle connections hold.
const fastIdleTimeout = 10 * time.Minute

// fastReadBuffer is the per-connection read buffer, which also bounds the
// request header (net/http's limit is 1 MB; JSON-RPC clients send < 1 KiB).
const fastReadBuffer = 16 << 10

func (s *Server) newFastServer() *fasthttp.Server {
	// fasthttp recycles a RequestCtx as soon as its handler returns, and the
	// adaptor hands it to the net/http handler as the request's context: a
	// context derived from it that outlives the request (an outgoing HTTP
	// call's cancel, a forwarded send) would read a recycled ctx. Requests get
	// the server's own context instead, cancelled when the server stops.
	slow := fasthttpadaptor.NewFastHTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.ServeHTTP(w, r.WithContext(s.base))
	}))
	return &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			if !s.serveFast(ctx) {
				slow(ctx)
			}
		},
		ErrorHandler:                  s.fastError,
		ReadTimeout:                   s.cfg.ReadTimeout,
		IdleTimeout:                   fastIdleTimeout,
		ReadBufferSize:                fastReadBuffer,
		MaxRequestBodySize:            s.cfg.RawTxLimit,
		NoDefaultServerHeader:         true,
		NoDefaultContentType:          true,
		DisablePreParseMultipartForm:  true,
		CloseOnShutdown:               true,
		DisableHeaderNamesNormalizing: false,
		Logger:                        fastLogger{s},
	}
}

// serveFast answers a JSON-RPC post within the body limits that answerPost
// takes; false leaves the request, untouched, to ServeHTTP.
func (s *Server) serveFast(ctx *fasthttp.RequestCtx) (served bool) {
	req := &ctx.Request
	if !ctx.IsPost() || s.routes[string(ctx.Path())] != nil || len(req.Header.Peek("Upgrade")) > 0 {
		return false
	}
	body := ctx.PostBody()
	if len(body) > s.cfg.BodyLimit && !onlyRawTx(body) {
		return false // ServeHTTP writes the error
	}
	start := time.Now()
	client := s.proxies.Client(ctx.RemoteAddr().String(), string(req.Header.Peek("X-Forwarded-For")))
	defer func() {
		if v := recover(); v != nil { // net/http would have recovered it
			s.log.Error().Msgf("panic serving %s: %v", ctx.RemoteAddr(), v)
			ctx.Response.Reset()
			ctx.Error("Internal Server Error", http.StatusInternalServerError)
			served = true
		}
	}()
	resp, ok := s.answerPost(limits.WithClient(s.base, client), string(req.Header.ContentType()), body)
	if !ok {
		return false
	}
	if origin := req.Header.Peek("Origin"); len(origin) > 0 {
		s.fastCORS(ctx, string(origin))
	}
	ctx.Response.Header.SetContentType("application/json")
	if len(resp) > 0 {
		ctx.Response.SetBodyRaw(resp)
	}
	if s.metrics != nil {
		s.metrics.observeRequest(body, start)
	}
	if s.prepare != nil {
		s.prepare()
	}
	return true
}

// fastCORS sets the headers jsonrpc.CORS sets on net/http responses.
func (s *Server) fastCORS(ctx *fasthttp.RequestCtx, origin string) {
	for _, o := range s.cfg.CORSOrigins {
		if o == "*" || o == origin {
			h := &ctx.Response.Header
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization")
			h.Set("Vary", "Origin")
			return
		}
	}
}

// fastError answers requests fasthttp cannot read: a body over the raw
// transaction limit gets the JSON-RPC error servePost gives.
func (s *Server) fastError(ctx *fasthttp.RequestCtx, err error) {
	reason := err.Error()
	if i := strings.IndexAny(reason, "\r\n"); i >= 0 {
		reason = reason[:i]
	}
	if len(reason) > 120 { // fasthttp quotes the bytes it could not read
		reason = reason[:120] + "…"
	}
	status, code, msg := http.StatusBadRequest, -32600, "malformed HTTP request: "+reason
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		status = http.StatusRequestEntityTooLarge
		if n := ctx.Request.Header.ContentLength(); n > 0 {
			msg = fmt.Sprintf("request body too large: %d bytes, limit %d", n, s.cfg.RawTxLimit)
		} else {
			msg = fmt.Sprintf("request body too large: over %d bytes", s.cfg.RawTxLimit)
		}
	case errors.As(err, new(*fasthttp.ErrSmallBuffer)):
		status, msg = http.StatusRequestHeaderFieldsTooLarge, fmt.Sprintf("request header too large: limit %d bytes", fastReadBuffer)
	default:
		var netErr net.Error
		if errors.As(err, &netErr) && netErr.Timeout() {
			status, msg = http.StatusRequestTimeout, "request timed out: "+err.Error()
		}
	}
	ctx.Response.Reset()
	ctx.SetStatusCode(status)
	ctx.Response.Header.SetContentType("application/json")
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": nil, "error": map[string]any{"code": code, "message": msg}})
	ctx.SetBody(append(b, '\n'))
}

// fastLogger sends fasthttp's own messages to the node's log.
type fastLogger struct{ s *Server }

func (l fastLogger) Printf(format string, args ...any) {
	l.s.log.Warn().Msgf("rpc http: "+format, args...)
}
