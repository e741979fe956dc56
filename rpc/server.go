package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/crypto"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/rpc/jsonrpc"
	"github.com/meganode/meganode/rpc/limits"
	"github.com/meganode/meganode/rpc/status"
)

// Version is the node version reported by web3_clientVersion.
const Version = "0.1.0"

// Config configures the HTTP/WS server.
type Config struct {
	Addr          string        // listen address, default 127.0.0.1
	Port          int           // listen port, default 8545; 0 picks a free one
	BodyLimit     int           // request body limit, default 128 KiB
	RawTxLimit    int           // body limit for raw-transaction requests, default 2.5 MiB
	BatchLimit    int           // calls per batch, default 500
	BatchRespSize int           // bytes per batch response, default 25 MB
	CORSOrigins   []string      // default "*"
	ReadTimeout   time.Duration // default 30s
	Realtime      RealtimeConfig
	WS            WSConfig
	Filters       FilterConfig
	// Role is named on the status page at / ("sequencer", "replica"…); set
	// by node/, not a flag.
	Role   string
	Limits limits.Config // heavy methods: concurrency, time, gas, range and result limits
	// TrustedProxies are IPs or CIDRs (a gateway, a load balancer) whose
	// X-Forwarded-For names the client the per-IP limits count; default
	// loopback (a gateway on the same host).
	TrustedProxies []string
}

// FilterConfig limits installed filters (eth_newFilter and friends).
type FilterConfig struct {
	Timeout    time.Duration // removed when not polled this long, default 5m (geth's)
	MaxChanges int           // changes held per filter before it is dropped, default 100,000
	MaxFilters int           // installed filters in all, default 10,000
}

// RealtimeConfig bounds the calls that wait for the chain.
type RealtimeConfig struct {
	SyncTimeout      time.Duration // eth_sendRawTransactionSync default wait, 10s
	SyncMaxTimeout   time.Duration // longest wait a caller may ask for, 60s
	RealtimeTimeout  time.Duration // realtime_sendRawTransaction wait, 10s
	CallAfterTimeout time.Duration // eth_callAfter default wait, 3s
	CallAfterMax     time.Duration // longest eth_callAfter wait, 60s
	LogsPageSize     int           // logs per eth_getLogsWithCursor page, 10,000
}

// WSConfig limits websocket clients. A limit that is hit is answered with a
// JSON-RPC error or a close frame that says why; nothing is dropped silently.
type WSConfig struct {
	MaxConns         int           // concurrent connections in all, default 4096
	MaxConnsPerIP    int           // concurrent connections per remote IP, default 1024
	MaxSubsPerConn   int           // subscriptions per connection, default 256
	MsgsPerSecond    float64       // requests per second per connection, default 10,000 (burst the same)
	IdleTimeout      time.Duration // close after this long without a request, default 60s
	SendQueue        int           // messages queued per connection before it counts as too slow, default 8192
	ReplayMiniBlocks int           // recent mini-blocks kept for resuming subscriptions, default 6,000
	ReplayBytes      int           // and at most this many bytes of them, default 256 MiB
}

// DefaultConfig returns the server defaults.
func DefaultConfig() Config {
	return Config{
		Addr:          "127.0.0.1",
		Port:          8545,
		BodyLimit:     128 * 1024,
		RawTxLimit:    5 * 512 * 1024,
		BatchLimit:    500,
		BatchRespSize: 25_000_000,
		CORSOrigins:   []string{"*"},
		ReadTimeout:   30 * time.Second,
		Realtime: RealtimeConfig{
			SyncTimeout:      10 * time.Second,
			SyncMaxTimeout:   60 * time.Second,
			RealtimeTimeout:  10 * time.Second,
			CallAfterTimeout: 3 * time.Second,
			CallAfterMax:     60 * time.Second,
			LogsPageSize:     10_000,
		},
		Filters:        FilterConfig{Timeout: 5 * time.Minute, MaxChanges: 100_000, MaxFilters: 10_000},
		Limits:         limits.DefaultConfig(),
		TrustedProxies: []string{"127.0.0.1", "::1"},
		WS: WSConfig{
			MaxConns:         4096,
			MaxConnsPerIP:    1024,
			MaxSubsPerConn:   256,
			MsgsPerSecond:    10_000,
			IdleTimeout:      60 * time.Second,
			SendQueue:        8192,
			ReplayMiniBlocks: 6000,
			ReplayBytes:      256 << 20,
		},
	}
}

// Check validates the configuration.
func (c Config) Check() error {
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("port %d out of range", c.Port)
	}
	if c.BodyLimit <= 0 || c.RawTxLimit < c.BodyLimit || c.BatchLimit <= 0 {
		return fmt.Errorf("limits: body %d, raw tx body %d, batch %d", c.BodyLimit, c.RawTxLimit, c.BatchLimit)
	}
	r := c.Realtime
	if r.SyncTimeout <= 0 || r.SyncMaxTimeout < r.SyncTimeout || r.RealtimeTimeout <= 0 || r.CallAfterTimeout <= 0 || r.CallAfterMax < r.CallAfterTimeout || r.LogsPageSize < 1 {
		return fmt.Errorf("realtime limits: sync timeout %v (max %v), realtime timeout %v, callAfter %v (max %v), logs page %d",
			r.SyncTimeout, r.SyncMaxTimeout, r.RealtimeTimeout, r.CallAfterTimeout, r.CallAfterMax, r.LogsPageSize)
	}
	w := c.WS
	if w.MaxConns < 1 || w.MaxConnsPerIP < 1 || w.MaxSubsPerConn < 1 || w.MsgsPerSecond <= 0 || w.IdleTimeout <= 0 || w.SendQueue < 16 || w.ReplayMiniBlocks < 1 || w.ReplayBytes < 1 {
		return fmt.Errorf("websocket limits: %d conns, %d per IP, %d subs per conn, %v msgs/s, idle %v, queue %d, replay %d mini-blocks / %d bytes",
			w.MaxConns, w.MaxConnsPerIP, w.MaxSubsPerConn, w.MsgsPerSecond, w.IdleTimeout, w.SendQueue, w.ReplayMiniBlocks, w.ReplayBytes)
	}
	if err := c.Limits.Check(); err != nil {
		return err
	}
	if _, err := limits.ParseProxies(c.TrustedProxies); err != nil {
		return err
	}
	if f := c.Filters; f.Timeout <= 0 || f.MaxChanges < 1 || f.MaxFilters < 1 {
		return fmt.Errorf("filter limits: timeout %v, %d changes per filter, %d filters", f.Timeout, f.MaxChanges, f.MaxFilters)
	}
	return nil
}

// Server serves JSON-RPC over HTTP and websocket on one port.
type Server struct {
	httpListener
	cfg    Config
	log    zerolog.Logger
	rpc    *gethrpc.Server
	direct *jsonrpc.Direct // answers single calls without go-ethereum's per-call goroutine
	ready  func() error
	eth    *EthAPI // nil without a chain backend
	hub    *hub
	ws     *wsServer
	done   chan struct{} // closed by Stop
	// base is the context of the requests the fasthttp front serves,
	// cancelled once Stop has let the requests in flight finish.
	base       context.Context
	cancelBase context.CancelFunc
	haSends    bool   // an HA sequencer: raw sends wait for their raft commit
	devChain   bool   // serves the dev methods
	prepare    func() // the dev chain's Prepare, after each direct answer
	settle     func() // the dev chain's Settle, before each request (settleDev)
	limits     *limits.Limiter
	proxies    limits.Proxies
	// batchSends takes batches of raw sends when the node admits them
	// itself (not forwarded, not HA).
	batchSends BatchSubmitter

	routes map[string]http.Handler // extra paths such as /metrics
	page   *status.Page            // the status page at / for browsers
	// metrics, when Instrument was called: request latency, send queues.
	metrics *serverMetrics
}

// Handle serves path with h beside the RPC (before Start).
func (s *Server) Handle(path string, h http.Handler) {
	if s.routes == nil {
		s.routes = make(map[string]http.Handler)
	}
	s.routes[path] = h
}

// NewServer registers the namespaces the backend supports. ready reports
// whether the node can serve (nil error) for /ready.
func NewServer(cfg Config, b Backend, ready func() error, log zerolog.Logger) (*Server, error) {
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("rpc: %w", err)
	}
	srv := gethrpc.NewServer()
	srv.SetHTTPBodyLimit(cfg.RawTxLimit)
	srv.SetWebsocketReadLimit(int64(cfg.RawTxLimit))
	srv.SetBatchLimits(cfg.BatchLimit, cfg.BatchRespSize)
	proxies, _ := limits.ParseProxies(cfg.TrustedProxies)
	version := fmt.Sprintf("meganode/v%s/%s-%s/%s", Version, runtime.GOOS, runtime.GOARCH, runtime.Version())
	if b.DevChain != nil {
		version = devClientVersion()
	}
	direct := &jsonrpc.Direct{OnPanic: func(method string, v any, stack []byte) {
		log.Error().Str("method", method).Msgf("RPC method crashed: %v\n%s", v, stack)
	}}
	reg := registrar{srv, direct}
	if err := reg.RegisterName("web3", &Web3API{version: version}); err != nil {
		return nil, err
	}
	if b.HA != nil {
		if err := reg.RegisterName("ha", &HAAPI{ha: b.HA}); err != nil {
			return nil, err
		}
	}
	log = log.With().Str("component", "rpc").Logger()
	s := &Server{cfg: cfg, log: log, rpc: srv, direct: direct, ready: ready, done: make(chan struct{}), haSends: b.HA != nil && b.Txs != nil, devChain: b.DevChain != nil,
		limits: limits.New(cfg.Limits), proxies: proxies}
	if bs, ok := b.Txs.(BatchSubmitter); ok && b.Forward == nil && b.HA == nil {
		s.batchSends = bs
	}
	if b.Chain != nil {
		if err := reg.RegisterName("net", &NetAPI{chainID: b.Chain.ChainConfig().ChainID.Uint64()}); err != nil {
			return nil, err
		}
		if b.Latest != nil && (b.Txs != nil || b.Forward != nil) && b.Feeds != nil {
			s.eth = newEthAPI(b, cfg.Realtime, cfg.Filters, s.limits)
			if err := reg.RegisterName("eth", s.eth); err != nil {
				return nil, err
			}
			if err := reg.RegisterName("realtime", &RealtimeAPI{eth: s.eth}); err != nil {
				return nil, err
			}
			if err := reg.RegisterName("debug", newDebugAPI(b, s.limits)); err != nil {
				return nil, err
			}
			if err := reg.RegisterName("mega", &HeadAPI{latest: b.Latest}); err != nil {
				return nil, err
			}
			if b.Finality != nil {
				if err := reg.RegisterName("mega", &FinalityAPI{b: b}); err != nil {
					return nil, err
				}
				if err := reg.RegisterName("optimism", &OptimismAPI{b: b}); err != nil {
					return nil, err
				}
			}
			if b.DA != nil {
				if err := reg.RegisterName("mega", &DAAPI{b: b}); err != nil {
					return nil, err
				}
			}
			if b.DevChain != nil {
				if err := registerDev(reg, b.DevChain, s.eth); err != nil {
					return nil, err
				}
			}
			if b.Pool != nil {
				if err := reg.RegisterName("txpool", &TxPoolAPI{pool: b.Pool, config: b.Chain.ChainConfig()}); err != nil {
					return nil, err
				}
			}
			s.hub = newHub(b.Feeds, func(mb *chain.MiniBlock) []byte {
				return s.eth.appendMiniBlock(make([]byte, 0, 256+1600*len(mb.Txs)), mb)
			},
				cfg.WS.ReplayMiniBlocks, cfg.WS.ReplayBytes, log)
		}
	}
	if p, ok := b.DevChain.(Preparer); ok {
		s.prepare = p.Prepare
	}
	if b.DevChain != nil {
		s.settle = b.DevChain.Settle
	}
	if s.ready == nil {
		s.ready = func() error { return nil }
	}
	s.ws = newWSServer(s)
	s.page = status.New(cfg.Role)
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: cfg.ReadTimeout}
	s.base, s.cancelBase = context.WithCancel(context.Background())
	s.fast = s.newFastServer()
	return s, nil
}

// Start listens and serves.
func (s *Server) Start(context.Context) error {
	if err := s.listen(s.cfg.Addr, s.cfg.Port); err != nil {
		return err
	}
	if s.hub != nil {
		s.hub.start()
	}
	if s.eth != nil {
		go s.eth.filters.run(s.done)
	}
	s.serve(s.log, "rpc listening")
	return nil
}

// Stop closes listeners and connections; idempotent.
func (s *Server) Stop(ctx context.Context) error {
	if s.ln == nil {
		s.rpc.Stop()
		s.cancelBase()
		return nil
	}
	s.ws.closeAll()
	s.rpc.Stop()
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	if s.eth != nil {
		s.eth.filters.stopAll()
	}
	if s.hub != nil {
		s.hub.stop()
	}
	err := s.shutdown(ctx)
	s.cancelBase()
	return err
}

// ServeHTTP routes /health, /ready, the status page (a browser's GET /),
// websocket upgrades and JSON-RPC posts.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.cors(w, r)
	// The client the heavy-call limits count (limits.ClientIP), for the
	// calls of this request in go-ethereum's server and in process.
	r = r.WithContext(limits.WithClient(r.Context(), s.proxies.Client(r.RemoteAddr, r.Header.Get("X-Forwarded-For"))))
	switch {
	case r.Method == http.MethodOptions:
		w.WriteHeader(http.StatusNoContent)
		return
	case r.URL.Path == "/health":
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return
	case r.URL.Path == "/ready":
		if err := s.ready(); err != nil {
			status := "unavailable"
			if errors.Is(err, chain.ErrBadBlock) {
				status = "degraded" // serving, but the chain it follows has a refused block
			}
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": status, "reason": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return
	case s.routes[r.URL.Path] != nil:
		s.routes[r.URL.Path].ServeHTTP(w, r)
		return
	case status.Match(r):
		s.page.ServeHTTP(w, r)
		return
	case strings.EqualFold(r.Header.Get("Upgrade"), "websocket"):
		s.ws.serve(w, r)
		return
	case r.Method == http.MethodPost:
		s.servePost(w, r)
		return
	}
	s.rpc.ServeHTTP(w, r)
}

func (s *Server) cors(w http.ResponseWriter, r *http.Request) {
	jsonrpc.CORS(w, r, s.cfg.CORSOrigins)
}

// rawTxMethods may use the larger body limit.
var rawTxMethods = map[string]bool{
	"eth_sendRawTransaction":      true,
	"eth_sendRawTransactionSync":  true,
	"realtime_sendRawTransaction": true,
}

// servePost enforces the body limits with a JSON-RPC error (geth answers a
// bare HTTP 413), then hands the request to the rpc server.
func (s *Server) servePost(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > int64(s.cfg.RawTxLimit) {
		writeError(w, http.StatusRequestEntityTooLarge, -32600, fmt.Sprintf("request body too large: %d bytes, limit %d", r.ContentLength, s.cfg.RawTxLimit))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(s.cfg.RawTxLimit)+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, -32600, "read request body: "+err.Error())
		return
	}
	if len(body) > s.cfg.RawTxLimit {
		writeError(w, http.StatusRequestEntityTooLarge, -32600, fmt.Sprintf("request body too large: over %d bytes", s.cfg.RawTxLimit))
		return
	}
	if s.metrics != nil {
		defer s.metrics.observeRequest(body, time.Now())
	}
	if len(body) > s.cfg.BodyLimit && !onlyRawTx(body) {
		writeError(w, http.StatusRequestEntityTooLarge, -32600, fmt.Sprintf("request body too large: %d bytes, limit %d (%d for raw transactions)", len(body), s.cfg.BodyLimit, s.cfg.RawTxLimit))
		return
	}
	r = r.WithContext(s.settleDev(r.Context(), body))
	if resp, ok := s.answerPost(r.Context(), r.Header.Get("Content-Type"), body); ok {
		w.Header().Set("Content-Type", "application/json")
		if len(resp) > 0 {
			_, _ = w.Write(resp)
		}
		if s.prepare != nil {
			s.prepare()
		}
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	s.rpc.ServeHTTP(w, r)
}

// answerPost answers the JSON-RPC post body (within the body limits) the way
// the go-ethereum server would, for the requests that are answered in this
// package: refused admin and dev calls, subscriptions over HTTP, batches of
// raw sends and single calls on the direct path. ok is false when the request
// is go-ethereum's to answer; then nothing has run. An empty resp with ok is
// a batch of notifications: no body.
func (s *Server) answerPost(ctx context.Context, contentType string, body []byte) (resp []byte, ok bool) {
	if resp, ok := s.answerRefused(ctx, body); ok {
		return resp, true
	}
	if bytes.Contains(body, []byte("subscribe")) {
		if calls, batch, err := parseCalls(body); err == nil && hasSubscriptionCall(calls) {
			resps := s.answerMixed(ctx, calls, isSubscription, func(call rpcCall) []byte { return errorFrom(call.ID, wsRequiredError{}) })
			return joinIfAny(resps, batch), true
		}
	}
	if s.batchSends != nil && bytes.Contains(body, []byte(`"eth_sendRawTransaction"`)) {
		if resps, ok := s.answerRawBatch(body); ok {
			return joinIfAny(resps, true), true
		}
	}
	if s.haSends && bytes.Contains(body, []byte(`"eth_sendRawTransaction"`)) {
		if calls, batch, err := parseCalls(body); err == nil && batch && rawSends(calls) > 1 {
			return joinIfAny(s.answerSends(ctx, calls), batch), true
		}
	}
	return s.answerDirect(ctx, contentType, body)
}

func joinIfAny(resps [][]byte, batch bool) []byte {
	if len(resps) == 0 {
		return nil
	}
	return joinResponses(resps, batch)
}

// registrar registers an API on the go-ethereum server and on the direct
// path alike.
type registrar struct {
	geth   *gethrpc.Server
	direct *jsonrpc.Direct
}

func (r registrar) RegisterName(namespace string, rcvr interface{}) error {
	if err := r.geth.RegisterName(namespace, rcvr); err != nil {
		return err
	}
	return r.direct.RegisterName(namespace, rcvr)
}

// answerDirect answers a single call (not a batch) on this goroutine when
// the go-ethereum server would accept the request and answer it the same
// way; ok is false otherwise.
func (s *Server) answerDirect(ctx context.Context, contentType string, body []byte) (resp []byte, ok bool) {
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' || !acceptedContentType(contentType) {
		return nil, false
	}
	call, ok := jsonrpc.DecodeCall(body)
	if !ok && json.Unmarshal(body, &call) != nil || !s.direct.Has(call.Method) {
		return nil, false
	}
	return s.direct.Answer(ctx, call)
}

// acceptedContentType is go-ethereum's rule for JSON-RPC posts.
func acceptedContentType(h string) bool {
	mt, _, err := mime.ParseMediaType(h)
	return err == nil && (mt == "application/json" || mt == "application/json-rpc" || mt == "application/jsonrequest")
}

// onlyRawTx reports whether every call in body submits a raw transaction.
func onlyRawTx(body []byte) bool {
	type call struct {
		Method string `json:"method"`
	}
	var calls []call
	if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '[' {
		if json.Unmarshal(body, &calls) != nil {
			return false
		}
	} else {
		var c call
		if json.Unmarshal(body, &c) != nil {
			return false
		}
		calls = []call{c}
	}
	for _, c := range calls {
		if !rawTxMethods[c.Method] {
			return false
		}
	}
	return len(calls) > 0
}

func writeJSON(w http.ResponseWriter, status int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(errorBody(code, msg))
}

// errorBody is a JSON-RPC error without an id, as an HTTP body (with the
// newline json.Encoder ends it with).
func errorBody(code int, msg string) []byte {
	b, _ := json.Marshal(map[string]interface{}{
		"jsonrpc": "2.0",
		"id":      nil,
		"error":   map[string]interface{}{"code": code, "message": msg},
	})
	return append(b, '\n')
}

func keccak(b []byte) []byte { return crypto.Keccak256(b) }

func uitoa(v uint64) string { return strconv.FormatUint(v, 10) }
