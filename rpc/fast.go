package rpc

import (
	"bytes"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/meganode/meganode/rpc/httpfront"
	"github.com/meganode/meganode/rpc/limits"
	"github.com/meganode/meganode/rpc/status"
)

// The RPC port is served by fasthttp (rpc/httpfront): a JSON-RPC post that
// this package answers itself (answerPost: single calls on the direct path,
// batches of raw sends, refusals) is answered on fasthttp's worker; every
// other request — websocket upgrades, /health, /ready, the status page,
// /metrics, batches and calls go-ethereum's server answers — goes to
// ServeHTTP through fasthttpadaptor, so the net/http handlers keep working
// unchanged.

func (s *Server) newFastServer() *fasthttp.Server {
	return httpfront.New(httpfront.Config{ReadTimeout: s.cfg.ReadTimeout, MaxBody: s.cfg.RawTxLimit, Log: s.log}, s.base, s.serveFast, s)
}

// serveFast answers a JSON-RPC post within the body limits that answerPost
// takes; false leaves the request, untouched, to ServeHTTP.
func (s *Server) serveFast(ctx *fasthttp.RequestCtx) bool {
	if !httpfront.IsPlainPost(ctx) {
		return s.refuseWebsocket(ctx)
	}
	if s.routes[string(ctx.Path())] != nil {
		return false
	}
	body := ctx.PostBody()
	if len(body) > s.cfg.BodyLimit && !onlyRawTx(body) {
		return false // ServeHTTP writes the error
	}
	start := time.Now()
	req := &ctx.Request
	client := s.proxies.Client(ctx.RemoteAddr().String(), string(req.Header.Peek("X-Forwarded-For")))
	resp, ok := s.answerPost(s.settleDev(limits.WithClient(s.base, client), body), string(req.Header.ContentType()), body)
	if !ok {
		return false
	}
	httpfront.SetCORS(ctx, s.cfg.CORSOrigins)
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

// refuseWebsocket answers on fasthttp's worker a websocket upgrade that
// ServeHTTP would refuse for the connection limits, with the same answer: a
// flood of dials over a client's limit then costs no net/http request each.
// False leaves every other request to ServeHTTP.
func (s *Server) refuseWebsocket(ctx *fasthttp.RequestCtx) bool {
	if s.ws == nil || ctx.IsOptions() || !bytes.EqualFold(ctx.Request.Header.Peek("Upgrade"), []byte("websocket")) {
		return false
	}
	path := string(ctx.Path())
	if path == "/health" || path == "/ready" || s.routes[path] != nil || strings.HasPrefix(path, status.AssetPrefix) {
		return false // ServeHTTP routes these before upgrades
	}
	client := s.proxies.Client(ctx.RemoteAddr().String(), string(ctx.Request.Header.Peek("X-Forwarded-For")))
	code, msg := s.ws.refused(client)
	if code == 0 {
		return false
	}
	httpfront.SetCORS(ctx, s.cfg.CORSOrigins)
	ctx.SetStatusCode(code)
	ctx.Response.Header.SetContentType("application/json")
	ctx.SetBody(errorBody(-32005, msg))
	return true
}
