package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/rpc/httpfront"
	"github.com/meganode/meganode/rpc/jsonrpc"
	statuspage "github.com/meganode/meganode/rpc/status"
)

// Gateway is the public endpoint in front of a sequencer, replicas and full
// nodes.
type Gateway struct {
	cfg     Config
	log     zerolog.Logger
	client  *http.Client // health polls
	seqs    []*backend
	reps    []*backend
	fulls   []*backend
	all     []*backend
	allow   *allowList
	trusted []*net.IPNet
	limits  *limiter
	seen    *clientHeads
	m       *metrics
	reg     *prometheus.Registry
	page    *statuspage.Page
	ws      *wsProxy
	now     func() time.Time

	// http serves the port: JSON-RPC posts on fasthttp's worker
	// (serveFast), the rest through ServeHTTP with base as the context.
	http       *fasthttp.Server
	base       context.Context
	cancelBase context.CancelFunc
	ln         net.Listener
	stop       chan struct{}
	wg         sync.WaitGroup
}

// New checks cfg and builds a gateway; Start serves it.
func New(cfg Config, log zerolog.Logger) (*Gateway, error) {
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	trusted, _ := parseNets(cfg.TrustedProxies)
	g := &Gateway{
		cfg: cfg, log: log.With().Str("component", "gateway").Logger(),
		client: &http.Client{Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true, // on loopback or a LAN, gzip costs both ends more than it saves
		}},
		allow:   newAllowList(cfg.Allow),
		trusted: trusted,
		limits:  newLimiter(cfg.RatePerIP, cfg.MethodRates),
		seen:    newClientHeads(),
		reg:     prometheus.NewRegistry(),
		page:    statuspage.New("gateway"),
		now:     time.Now,
		stop:    make(chan struct{}),
	}
	for _, u := range cfg.Sequencers {
		g.seqs = append(g.seqs, newBackend(u, RoleSequencer, cfg.ResponseLimit))
	}
	for _, u := range cfg.Replicas {
		g.reps = append(g.reps, newBackend(u, RoleReplica, cfg.ResponseLimit))
	}
	for _, u := range cfg.FullNodes {
		g.fulls = append(g.fulls, newBackend(u, RoleFullNode, cfg.ResponseLimit))
	}
	g.all = append(append(append([]*backend{}, g.seqs...), g.reps...), g.fulls...)
	g.m = newMetrics(g.reg)
	g.ws = newWSProxy(g)
	g.base, g.cancelBase = context.WithCancel(context.Background())
	g.http = httpfront.New(httpfront.Config{ReadTimeout: 10 * time.Second, MaxBody: cfg.RawTxLimit, Log: g.log,
		OnTooLarge: func() { g.m.rejected.WithLabelValues("body_size").Inc() }}, g.base, g.serveFast, g)
	return g, nil
}

// Registry holds the gateway's metrics.
func (g *Gateway) Registry() *prometheus.Registry { return g.reg }

// Start polls every backend once, then listens and serves.
func (g *Gateway) Start(ctx context.Context) error {
	g.pollAll(ctx)
	ln, err := net.Listen("tcp", net.JoinHostPort(g.cfg.Addr, strconv.Itoa(g.cfg.Port)))
	if err != nil {
		return fmt.Errorf("gateway: listen: %w", err)
	}
	g.ln = ln
	g.wg.Add(2)
	go func() {
		defer g.wg.Done()
		if err := g.http.Serve(ln); err != nil {
			g.log.Error().Err(err).Msg("serve")
		}
	}()
	go func() {
		defer g.wg.Done()
		g.pollLoop()
	}()
	return nil
}

// Addr is the address the gateway listens on.
func (g *Gateway) Addr() string { return g.ln.Addr().String() }

// Stop closes client connections and stops polling.
func (g *Gateway) Stop(ctx context.Context) error {
	close(g.stop)
	g.ws.closeAll()
	err := g.http.ShutdownWithContext(ctx)
	g.cancelBase()
	g.wg.Wait()
	return err
}

func (g *Gateway) pollLoop() {
	t := time.NewTicker(time.Duration(g.cfg.PollInterval))
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(g.cfg.PollInterval)*10)
			g.pollAll(ctx)
			cancel()
			now := g.now()
			g.seen.expire(now.Add(-time.Minute))
			g.limits.expire(now.Add(-time.Minute))
		}
	}
}

// pollAll polls every backend at once and judges them together.
func (g *Gateway) pollAll(ctx context.Context) {
	obs := make([]observation, len(g.all))
	var wg sync.WaitGroup
	for i, b := range g.all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			obs[i] = poll(ctx, g.client, b)
		}()
	}
	wg.Wait()
	for _, b := range judge(g.all, obs, g.cfg.MaxLagBlocks, g.cfg.MaxLagMiniBlocks, g.now()) {
		st := b.status()
		if st.Healthy {
			g.log.Info().Str("backend", b.url).Str("role", b.role).Uint64("block", st.Block).Uint64("miniBlock", st.MiniBlock).Msg("Backend back in service")
		} else {
			g.log.Warn().Str("backend", b.url).Str("role", b.role).Str("reason", st.Reason).Msg("Backend taken out of service")
		}
	}
	for _, b := range g.all {
		g.m.observeBackend(b)
	}
}

// ServeHTTP routes /health, /ready, /metrics, the status page (a browser's
// GET /), websocket upgrades and JSON-RPC posts.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	jsonrpc.CORS(w, r, g.cfg.CORSOrigins)
	switch {
	case r.Method == http.MethodOptions:
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/health":
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	case r.URL.Path == "/ready":
		g.serveReady(w)
	case r.URL.Path == "/metrics":
		promhttp.HandlerFor(g.reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	case statuspage.Match(r):
		g.page.ServeHTTP(w, r)
	case strings.EqualFold(r.Header.Get("Upgrade"), "websocket"):
		g.ws.serve(w, r)
	case r.Method == http.MethodPost:
		g.servePost(w, r)
	default:
		writeJSON(w, http.StatusMethodNotAllowed, errorObject(nil, -32600, "JSON-RPC over POST or websocket"))
	}
}

// serveReady answers 200 when writes and reads can both be served, with the
// state of every backend.
func (g *Gateway) serveReady(w http.ResponseWriter) {
	var sts []status
	seqOK, readOK := false, false
	for _, b := range g.all {
		st := b.status()
		sts = append(sts, st)
		if st.Healthy && b.role == RoleSequencer {
			seqOK = true
		}
		if st.Healthy && b.role != RoleSequencer {
			readOK = true
		}
	}
	code, state := http.StatusOK, "ready"
	if !seqOK || !readOK {
		code, state = http.StatusServiceUnavailable, "unavailable"
	}
	writeJSON(w, code, map[string]any{"status": state, "backends": sts})
}

// clientIP is the address rate limits and read-your-writes key on: the
// peer, or with a trusted proxy in front, the last untrusted address of
// X-Forwarded-For. forwarded is the X-Forwarded-For to pass on.
func (g *Gateway) clientIP(r *http.Request) (ip, forwarded string) {
	return g.clientOf(r.RemoteAddr, r.Header.Get("X-Forwarded-For"))
}

// clientOf is clientIP from the peer's address and the X-Forwarded-For
// header.
func (g *Gateway) clientOf(remoteAddr, xffHeader string) (ip, forwarded string) {
	peer, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		peer = remoteAddr
	}
	xff := strings.TrimSpace(xffHeader)
	if !g.isTrusted(peer) || xff == "" {
		return peer, peer // an untrusted peer's header is not passed on
	}
	hops := strings.Split(xff, ",")
	ip = peer
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if net.ParseIP(hop) == nil {
			break
		}
		ip = hop
		if !g.isTrusted(hop) {
			break
		}
	}
	return ip, xff + ", " + peer
}

func (g *Gateway) isTrusted(addr string) bool {
	ip := net.ParseIP(addr)
	if ip == nil {
		return false
	}
	for _, n := range g.trusted {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// servePost answers a JSON-RPC request or batch over HTTP.
func (g *Gateway) servePost(w http.ResponseWriter, r *http.Request) {
	ip, xff := g.clientIP(r)
	if r.ContentLength > int64(g.cfg.RawTxLimit) {
		g.m.rejected.WithLabelValues("body_size").Inc()
		writeJSON(w, http.StatusRequestEntityTooLarge, errorObject(nil, -32600, fmt.Sprintf("request body too large: %d bytes, limit %d", r.ContentLength, g.cfg.RawTxLimit)))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(g.cfg.RawTxLimit)+1))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorObject(nil, -32600, "reading the request body: "+err.Error()))
		return
	}
	if len(body) > g.cfg.RawTxLimit {
		g.m.rejected.WithLabelValues("body_size").Inc()
		writeJSON(w, http.StatusRequestEntityTooLarge, errorObject(nil, -32600, fmt.Sprintf("request body too large: over %d bytes", g.cfg.RawTxLimit)))
		return
	}
	code, out := g.answer(r.Context(), body, ip, xff, false)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(out)
}

// serveFast answers a JSON-RPC post on fasthttp's worker: the same answer
// as servePost (TestFastFrontAnswersAsNetHTTP compares them).
func (g *Gateway) serveFast(ctx *fasthttp.RequestCtx) bool {
	if !httpfront.IsPlainPost(ctx) || statusPaths[string(ctx.Path())] {
		return false
	}
	ip, xff := g.clientOf(ctx.RemoteAddr().String(), string(ctx.Request.Header.Peek("X-Forwarded-For")))
	code, out := g.answer(g.base, ctx.PostBody(), ip, xff, false)
	httpfront.SetCORS(ctx, g.cfg.CORSOrigins)
	ctx.Response.Header.SetContentType("application/json")
	ctx.SetStatusCode(code)
	ctx.Response.SetBodyRaw(out)
	return true
}

// statusPaths are served by ServeHTTP whatever the method.
var statusPaths = map[string]bool{"/health": true, "/ready": true, "/metrics": true}

// answer serves one HTTP body or websocket message: parse, check limits,
// route and reassemble in order. overWS marks a websocket message (its
// subscription calls are handled before this).
func (g *Gateway) answer(ctx context.Context, body []byte, ip, xff string, overWS bool) (int, []byte) {
	calls, batch, err := parseCalls(body)
	if err != nil {
		g.m.rejected.WithLabelValues("parse").Inc()
		return http.StatusOK, errorObject(nil, -32700, "parse error: "+err.Error())
	}
	if batch && len(calls) == 0 {
		return http.StatusOK, errorObject(nil, -32600, "empty batch")
	}
	if len(calls) > g.cfg.BatchLimit {
		g.m.rejected.WithLabelValues("batch_size").Inc()
		return http.StatusOK, errorObject(nil, -32600, fmt.Sprintf("batch too large: %d calls, limit %d", len(calls), g.cfg.BatchLimit))
	}
	if len(body) > g.cfg.BodyLimit {
		for _, c := range calls {
			if !rawTxMethods[c.Method] {
				g.m.rejected.WithLabelValues("body_size").Inc()
				return http.StatusRequestEntityTooLarge, errorObject(nil, -32600, fmt.Sprintf("request body too large: %d bytes, limit %d (%d when every call is a raw transaction)", len(body), g.cfg.BodyLimit, g.cfg.RawTxLimit))
			}
		}
	}
	resps := g.route(ctx, calls, ip, xff)
	limited := 0
	var parts [][]byte
	size := 0
	for i, c := range calls {
		if resps[i].limited {
			limited++
		}
		if c.Notification() {
			continue
		}
		size += len(resps[i].body)
		parts = append(parts, resps[i].body)
	}
	if size > g.cfg.ResponseLimit {
		g.m.rejected.WithLabelValues("response_size").Inc()
		return http.StatusOK, errorObject(nil, -32003, fmt.Sprintf("response too large: %d bytes, limit %d", size, g.cfg.ResponseLimit))
	}
	code := http.StatusOK
	if limited == len(calls) && !overWS {
		code = http.StatusTooManyRequests
	}
	if len(parts) == 0 {
		if batch {
			return code, []byte("[]")
		}
		return code, nil
	}
	if !batch {
		return code, parts[0]
	}
	return code, append(append([]byte{'['}, bytes.Join(parts, []byte{','})...), ']')
}

// response is the answer to one call.
type response struct {
	body    []byte
	limited bool
}

// route answers calls in their order: refused ones at once, the rest sent
// per class, each class as one batch to one backend.
func (g *Gateway) route(ctx context.Context, calls []rpcCall, ip, xff string) []response {
	out := make([]response, len(calls))
	groups := map[class][]int{}
	for i, c := range calls {
		switch {
		case c.Version != "2.0" || c.Method == "":
			out[i].body = errorObject(c.ID, -32600, "invalid request: want jsonrpc \"2.0\" and a method")
		case jsonrpc.IsAdmin(c.Method):
			// Whatever the allow-list says: admin methods are for a
			// candidate's own admin listener, never a public front.
			g.m.rejected.WithLabelValues("admin").Inc()
			out[i].body = errorObject(c.ID, -32601, jsonrpc.AdminOnlyMessage(c.Method))
		case !g.allow.allows(c.Method):
			g.m.rejected.WithLabelValues("not_allowed").Inc()
			out[i].body = errorObject(c.ID, -32601, fmt.Sprintf("the method %s does not exist/is not available", c.Method))
		case !g.limits.allow(ip, c.Method, g.now()):
			g.m.rejected.WithLabelValues("rate_limited").Inc()
			out[i] = response{body: errorObject(c.ID, -32005, g.limits.describe(c.Method)), limited: true}
		case c.Method == "eth_subscribe" || c.Method == "eth_unsubscribe":
			out[i].body = errorObject(c.ID, -32000, "WebSocket connection required")
		default:
			cls := classify(c.Method, c.Params)
			groups[cls] = append(groups[cls], i)
		}
	}
	if len(groups) == 1 {
		for cls, idx := range groups {
			g.dispatch(ctx, cls, calls, idx, ip, xff, out)
		}
		return out
	}
	var wg sync.WaitGroup
	for cls, idx := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.dispatch(ctx, cls, calls, idx, ip, xff, out)
		}()
	}
	wg.Wait()
	return out
}

// dispatch sends one class's calls and writes their answers into out.
func (g *Gateway) dispatch(ctx context.Context, cls class, calls []rpcCall, idx []int, ip, xff string, out []response) {
	start := g.now()
	timeout := time.Duration(g.cfg.Timeout)
	for _, i := range idx {
		if waitMethods[calls[i].Method] {
			timeout = time.Duration(g.cfg.WaitTimeout)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var answers map[int][]byte
	var err error
	switch cls {
	case classWrite:
		answers, err = g.sendWrite(ctx, calls, idx, ip, xff)
	case classFilter:
		answers, err = g.sendTo(ctx, g.filterHome(), calls, idx, xff, false)
	case classFinality:
		pool := g.fulls
		if len(pool) == 0 {
			pool = g.reps
		}
		answers, err = g.sendRead(ctx, pool, calls, idx, ip, xff, false)
	default:
		answers, err = g.sendRead(ctx, g.reps, calls, idx, ip, xff, true)
	}
	for _, i := range idx {
		c := calls[i]
		switch {
		case err != nil:
			out[i].body = errorObject(c.ID, errorCode(err), err.Error())
		case answers[i] == nil:
			out[i].body = errorObject(c.ID, -32603, "backend gave no answer to this call")
		default:
			out[i].body = withID(c.ID, answers[i])
			if c.Method == "eth_blockNumber" { // the head the client now knows, exactly
				var n hexutil.Uint64
				if json.Unmarshal(resultOf(answers[i]), &n) == nil {
					g.seen.raise(ip, uint64(n), 0, g.now())
				}
			}
		}
		g.m.calls.WithLabelValues(g.m.method(c.Method), cls.String()).Inc()
	}
	g.m.latency.WithLabelValues(cls.String()).Observe(g.now().Sub(start).Seconds())
}

// noBackendError is answered when no backend could take a call; the client
// may retry (proxyd's code).
type noBackendError struct{ msg string }

func (e *noBackendError) Error() string { return e.msg }

func errorCode(err error) int {
	var nb *noBackendError
	switch {
	case errors.As(err, &nb):
		return -32011
	case errors.Is(err, errTooLarge):
		return -32003
	}
	return -32000
}

// sendWrite sends to the first sequencer that takes the request: healthy
// ones in order, then the others (a poll may be stale). A request is sent
// to the next only when the previous could not be reached at all, so it
// never runs twice. The sequencer's newest mini-block after the writes is
// what the client has now seen.
func (g *Gateway) sendWrite(ctx context.Context, calls []rpcCall, idx []int, ip, xff string) (map[int][]byte, error) {
	order := make([]*backend, 0, len(g.seqs))
	for _, healthyPass := range []bool{true, false} {
		for _, b := range g.seqs {
			if _, _, _, h := b.head(); h == healthyPass {
				order = append(order, b)
			}
		}
	}
	var last error
	var merged map[int][]byte
	for _, b := range order {
		answers, err := g.forward(ctx, b, calls, idx, xff, true)
		if err == nil {
			if mini, ok := answers[headProbe]; ok {
				var n hexutil.Uint64
				if json.Unmarshal(resultOf(mini), &n) == nil {
					block, _, _, _ := b.head()
					g.seen.raise(ip, block, uint64(n), g.now())
				}
			}
			if merged == nil {
				merged = answers
			} else {
				maps.Copy(merged, answers)
			}
			// A standby of an HA set refused these without pooling them:
			// the next candidate may be the new leader.
			var refused []int
			for _, i := range idx {
				if notLeader(answers[i]) {
					refused = append(refused, i)
				}
			}
			if len(refused) == 0 {
				return merged, nil
			}
			idx = refused
			continue
		}
		if merged != nil {
			return merged, nil // the not-leader answers stand: retryable
		}
		last = err
		if isConnError(err) {
			return nil, fmt.Errorf("the sequencer's connection broke before it answered: the transaction may have been admitted; look it up by hash before sending it again (%v)", err)
		}
		if !dialFailed(err) {
			return nil, err // it may have reached the sequencer: not sent again
		}
	}
	if merged != nil {
		return merged, nil
	}
	return nil, &noBackendError{fmt.Sprintf("no sequencer reachable: %v", last)}
}

// notLeader reports whether an answer is an HA standby's refusal.
func notLeader(answer []byte) bool {
	if !bytes.Contains(answer, []byte(strconv.Itoa(chain.CodeNotLeader))) {
		return false
	}
	var a struct {
		Error *struct {
			Code int `json:"code"`
		} `json:"error"`
	}
	return json.Unmarshal(answer, &a) == nil && a.Error != nil && a.Error.Code == chain.CodeNotLeader
}

// sendTo sends to one backend, or answers that there is none.
func (g *Gateway) sendTo(ctx context.Context, b *backend, calls []rpcCall, idx []int, xff string, probe bool) (map[int][]byte, error) {
	if b == nil {
		return nil, &noBackendError{"no backend available"}
	}
	return g.forward(ctx, b, calls, idx, xff, probe)
}

// filterHome is where installed filters live: the first healthy replica in
// the configured order (so it stays the same), else the sequencer.
func (g *Gateway) filterHome() *backend {
	for _, group := range [][]*backend{g.reps, g.seqs} {
		for _, b := range group {
			if _, _, _, h := b.head(); h {
				return b
			}
		}
	}
	if len(g.seqs) > 0 {
		return g.seqs[0]
	}
	return nil
}

// sendRead sends reads to the least busy healthy backend of pool that is
// not behind what this client has seen; a read that fails to reach a
// backend is retried on another. With consistent set, a backend whose last
// poll is behind the client is asked for its head in the same batch and
// the answer used only if it has caught up. The sequencer serves whatever
// no replica can.
func (g *Gateway) sendRead(ctx context.Context, pool []*backend, calls []rpcCall, idx []int, ip, xff string, consistent bool) (map[int][]byte, error) {
	var minBlock, minMini uint64
	if consistent {
		minBlock, minMini = g.seen.get(ip)
	}
	tried := map[*backend]bool{}
	for attempt := 0; attempt < 3; attempt++ {
		b, caughtUp := pick(pool, minBlock, minMini, tried)
		if b == nil {
			break
		}
		tried[b] = true
		answers, err := g.forward(ctx, b, calls, idx, xff, consistent && !caughtUp)
		if err != nil {
			if dialFailed(err) || isConnError(err) {
				continue
			}
			return nil, err
		}
		if consistent && !caughtUp {
			var n, block hexutil.Uint64
			if json.Unmarshal(resultOf(answers[headProbe]), &n) != nil || uint64(n) < minMini ||
				json.Unmarshal(resultOf(answers[blockProbe]), &block) != nil || uint64(block) < minBlock {
				continue // still behind: try another, or the sequencer
			}
			b.advance(uint64(block), uint64(n))
		}
		if consistent {
			block, mini, _, _ := b.head()
			g.seen.raise(ip, block, mini, g.now())
		}
		return answers, nil
	}
	if len(pool) > 0 && pool[0].role == RoleFullNode && len(g.reps) > 0 {
		return g.sendRead(ctx, g.reps, calls, idx, ip, xff, false)
	}
	for _, b := range g.seqs {
		answers, err := g.forward(ctx, b, calls, idx, xff, false)
		if err == nil || !dialFailed(err) {
			return answers, err
		}
	}
	return nil, &noBackendError{"no backend available for reads"}
}

// pick chooses among the healthy backends not yet tried: those caught up
// with the client first, then the least busy, then the most advanced.
func pick(pool []*backend, minBlock, minMini uint64, tried map[*backend]bool) (*backend, bool) {
	var best *backend
	bestUp, bestLoad, bestMini := false, int64(0), uint64(0)
	for _, b := range pool {
		block, mini, _, healthy := b.head()
		if !healthy || tried[b] {
			continue
		}
		up := block >= minBlock && mini >= minMini
		load := b.inflight.Load()
		better := best == nil || (up && !bestUp) ||
			(up == bestUp && (load < bestLoad || (load == bestLoad && mini > bestMini)))
		if better {
			best, bestUp, bestLoad, bestMini = b, up, load, mini
		}
	}
	return best, bestUp
}

// headProbe and blockProbe are the call ids of the mega_miniBlockNumber
// and eth_blockNumber added to a batch.
const (
	headProbe  = -1
	blockProbe = -2
)

var errTooLarge = errors.New("response too large")

// forward sends calls[idx] to b as one batch with ids rewritten to their
// positions (client ids may repeat or be absent) and returns the answers by
// position. With probe, the backend's head is asked after them (a batch
// runs in order) and answered under headProbe and blockProbe.
func (g *Gateway) forward(ctx context.Context, b *backend, calls []rpcCall, idx []int, xff string, probe bool) (map[int][]byte, error) {
	var body bytes.Buffer
	single := len(idx) == 1 && !probe // sent as it came: a one-call batch costs the backend more
	if !single {
		body.WriteByte('[')
	}
	for n, i := range idx {
		if n > 0 {
			body.WriteByte(',')
		}
		params := calls[i].Params
		if len(params) == 0 {
			params = json.RawMessage("[]")
		}
		method, _ := json.Marshal(calls[i].Method)
		fmt.Fprintf(&body, `{"jsonrpc":"2.0","id":%d,"method":%s,"params":%s}`, i, method, params)
	}
	if probe {
		fmt.Fprintf(&body, `,{"jsonrpc":"2.0","id":%d,"method":"mega_miniBlockNumber"},{"jsonrpc":"2.0","id":%d,"method":"eth_blockNumber"}`, headProbe, blockProbe)
	}
	if !single {
		body.WriteByte(']')
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(b.url)
	req.Header.SetMethod(http.MethodPost)
	req.Header.SetContentType("application/json")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	req.SetBodyRaw(body.Bytes())
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = g.now().Add(time.Duration(g.cfg.Timeout))
	}
	b.inflight.Add(1)
	defer b.inflight.Add(-1)
	start := g.now()
	err := b.hc.DoDeadline(req, resp, deadline)
	if err != nil && replayable(calls, idx) && (errors.Is(err, fasthttp.ErrConnectionClosed) || isConnError(err)) {
		// A kept-alive connection turned out dead before any answer (the
		// backend restarted; its other idle ones are dead too): sending
		// reads or raw txs again on a new connection does no harm.
		b.hc.CloseIdleConnections()
		resp.Reset()
		err = b.hc.DoDeadline(req, resp, deadline)
	}
	if err != nil {
		if errors.Is(err, fasthttp.ErrBodyTooLarge) {
			g.m.backendCalls.WithLabelValues(b.url, "too_large").Inc()
			return nil, fmt.Errorf("%w: over %d bytes", errTooLarge, g.cfg.ResponseLimit)
		}
		g.m.backendCalls.WithLabelValues(b.url, "error").Inc()
		timedOut := errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) || ctx.Err() != nil
		if !timedOut && (dialFailed(err) || isConnError(err)) && b.fail(err, g.now()) {
			g.log.Warn().Str("backend", b.url).Err(err).Msg("Backend taken out of service: request failed")
		}
		if timedOut {
			return nil, fmt.Errorf("backend timed out: %w", context.DeadlineExceeded)
		}
		return nil, err
	}
	g.m.backendLatency.WithLabelValues(b.url).Observe(g.now().Sub(start).Seconds())
	data := append([]byte(nil), resp.Body()...) // resp goes back to its pool
	g.m.backendCalls.WithLabelValues(b.url, "ok").Inc()
	if single {
		return map[int][]byte{idx[0]: data}, nil
	}
	return splitAnswers(data, idx)
}

// replayable tells whether sending the calls twice does no harm: reads,
// and raw transactions (the same signed tx is refused as known, or its
// nonce is used); not eth_sendTransaction, which signs with the next nonce.
func replayable(calls []rpcCall, idx []int) bool {
	for _, i := range idx {
		if calls[i].Method == "eth_sendTransaction" {
			return false
		}
	}
	return true
}

// splitAnswers reads a backend's batch answer by id. A single error object
// (a limit the backend applies to the whole request) answers every call.
func splitAnswers(data []byte, idx []int) (map[int][]byte, error) {
	data = bytes.TrimSpace(data)
	out := make(map[int][]byte, len(idx)+1)
	if len(data) > 0 && data[0] == '{' {
		var one answerItem
		if err := json.Unmarshal(data, &one); err != nil || one.Error == nil {
			return nil, fmt.Errorf("backend answered a batch with %.200s", data)
		}
		for _, i := range idx {
			out[i] = data
		}
		return out, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(data, &items); err != nil {
		return nil, fmt.Errorf("backend answered with invalid JSON: %.200s", data)
	}
	for _, item := range items {
		var a answerItem
		if json.Unmarshal(item, &a) != nil {
			continue
		}
		if n, err := strconv.Atoi(string(a.ID)); err == nil {
			out[n] = item
		}
	}
	return out, nil
}

type answerItem struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
}

// withID rewrites a backend's answer item with the client's id.
func withID(id json.RawMessage, item []byte) []byte {
	var a answerItem
	if json.Unmarshal(item, &a) != nil {
		return errorObject(id, -32603, "backend answered with invalid JSON")
	}
	var buf bytes.Buffer
	buf.Grow(len(item) + len(id))
	buf.WriteString(`{"jsonrpc":"2.0","id":`)
	buf.Write(rawID(id))
	if a.Error != nil {
		buf.WriteString(`,"error":`)
		buf.Write(a.Error)
	} else {
		buf.WriteString(`,"result":`)
		if a.Result == nil {
			buf.WriteString("null")
		} else {
			buf.Write(a.Result)
		}
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// resultOf returns an answer item's result.
func resultOf(item []byte) []byte {
	var a answerItem
	if json.Unmarshal(item, &a) != nil || a.Error != nil {
		return nil
	}
	return a.Result
}

// isConnError tells a connection that broke (the backend died while it had
// the request) from an answer.
func isConnError(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "connection reset") ||
		strings.Contains(err.Error(), "broken pipe") || strings.Contains(err.Error(), "server closed")
}
