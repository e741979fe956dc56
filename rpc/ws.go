package rpc

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/rpc/limits"
)

// wsWriteTimeout bounds one websocket write: a client that does not read for
// this long is too slow.
const wsWriteTimeout = 10 * time.Second

// Close codes (RFC 6455) the server ends connections with.
const (
	closeIdle     = websocket.CloseGoingAway       // 1001: idle timeout, server stopping
	closeTooSlow  = websocket.ClosePolicyViolation // 1008: send queue full
	closeTooLarge = websocket.CloseMessageTooBig   // 1009
	closeGap      = websocket.CloseTryAgainLater   // 1013: this node missed mini-blocks
)

// wsServer accepts websocket clients within the connection limits. Calls go
// to the go-ethereum rpc server through a codec that this package controls,
// so subscriptions, rate limits, idle timeouts and slow consumers are
// handled here with a JSON-RPC error or a close reason.
type wsServer struct {
	s        *Server
	upgrader websocket.Upgrader

	mu    sync.Mutex
	perIP map[string]int
	total int // connections being served or upgraded
	conns map[*wsConn]struct{}
}

func newWSServer(s *Server) *wsServer {
	return &wsServer{
		s: s,
		upgrader: websocket.Upgrader{
			ReadBufferSize:  4096,
			WriteBufferSize: 4096,
			CheckOrigin:     func(*http.Request) bool { return true },
		},
		perIP: make(map[string]int),
		conns: make(map[*wsConn]struct{}),
	}
}

func (w *wsServer) serve(rw http.ResponseWriter, r *http.Request) {
	ip := limits.ClientIP(r.Context()) // the peer, or behind a trusted proxy its client
	w.mu.Lock()
	if status, msg := w.refusedLocked(ip); status != 0 {
		w.mu.Unlock()
		writeError(rw, status, -32005, msg)
		return
	}
	w.perIP[ip]++
	w.total++
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		if w.perIP[ip]--; w.perIP[ip] <= 0 {
			delete(w.perIP, ip)
		}
		w.total--
		w.mu.Unlock()
	}()

	ws, err := w.upgrader.Upgrade(rw, r, nil)
	if err != nil {
		return // the upgrader answered the client
	}
	c := newWSConn(w.s, ws, ip)
	w.mu.Lock()
	w.conns[c] = struct{}{}
	w.mu.Unlock()
	go c.writeLoop()
	w.s.rpc.ServeCodec(gethrpc.NewCodec(c), 0)
	c.fail(websocket.CloseNormalClosure, "")
	w.mu.Lock()
	delete(w.conns, c)
	w.mu.Unlock()
}

// refused is the HTTP status and message that a websocket from ip gets
// now for the connection limits; status 0 when it would be taken.
func (w *wsServer) refused(ip string) (status int, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.refusedLocked(ip)
}

func (w *wsServer) refusedLocked(ip string) (int, string) {
	limit, total := w.s.cfg.WS.MaxConnsPerIP, w.s.cfg.WS.MaxConns
	switch {
	case w.perIP[ip] >= limit:
		return http.StatusTooManyRequests, fmt.Sprintf("too many websocket connections from %s: limit %d (--ws.max-conns-per-ip)", ip, limit)
	case w.total >= total:
		return http.StatusServiceUnavailable, fmt.Sprintf("too many websocket connections: the server takes %d in all (--ws.max-conns); retry later", total)
	}
	return 0, ""
}

// closeAll ends every connection, telling clients the server is going away.
func (w *wsServer) closeAll() {
	w.mu.Lock()
	conns := make([]*wsConn, 0, len(w.conns))
	for c := range w.conns {
		conns = append(conns, c)
	}
	w.mu.Unlock()
	for _, c := range conns {
		c.fail(closeIdle, "server shutting down")
	}
}

// wsConn is one websocket client. Responses and notifications leave through
// one bounded queue drained by writeLoop; a notification that finds the
// queue full closes the connection with a reason instead of being skipped.
type wsConn struct {
	s       *Server
	ws      *websocket.Conn
	remote  string          // the client IP: the peer, or behind a trusted proxy its client
	ctx     context.Context // carries it for the calls answered in process
	limiter *rate.Limiter
	out     chan []byte
	done    chan struct{}
	once    sync.Once

	mu   sync.Mutex
	subs map[string]func() // subscription id → cancel

	rbuf     []byte    // rest of the message Read is handing to the codec
	closeMsg []byte    // close frame payload, set once by fail
	timing   *wsTiming // call latency, nil when the server is not instrumented
}

func newWSConn(s *Server, ws *websocket.Conn, client string) *wsConn {
	cfg := s.cfg.WS
	ws.SetReadLimit(int64(s.cfg.RawTxLimit))
	c := &wsConn{
		s:       s,
		ws:      ws,
		remote:  client,
		ctx:     limits.WithClient(context.Background(), client),
		limiter: rate.NewLimiter(rate.Limit(cfg.MsgsPerSecond), max(1, int(cfg.MsgsPerSecond))),
		out:     make(chan []byte, cfg.SendQueue),
		done:    make(chan struct{}),
		subs:    make(map[string]func()),
	}
	if s.metrics != nil {
		c.timing = &wsTiming{m: s.metrics}
	}
	// A ping keeps the connection alive as a request does.
	ws.SetPingHandler(func(data string) error {
		_ = ws.SetReadDeadline(time.Now().Add(cfg.IdleTimeout))
		err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	return c
}

// Read, Write, Close, SetWriteDeadline and RemoteAddr make wsConn the
// codec's connection: the codec reads a stream of JSON messages and writes
// one message per Write.
func (c *wsConn) Close() error {
	c.fail(websocket.CloseNormalClosure, "")
	return nil
}
func (c *wsConn) SetWriteDeadline(time.Time) error { return nil }
func (c *wsConn) RemoteAddr() string               { return c.remote }

// fail closes the connection once: nothing more is queued, and the writer
// ends the stream with a close frame carrying reason after what it already
// sent, so a slow client reads every notification it got, then why it ends.
func (c *wsConn) fail(code int, reason string) {
	c.once.Do(func() {
		if len(reason) > 123 { // a close frame's reason is at most 123 bytes
			reason = reason[:123]
		}
		c.closeMsg = websocket.FormatCloseMessage(code, reason)
		close(c.done)
		c.mu.Lock()
		subs := c.subs
		c.subs = map[string]func(){}
		c.mu.Unlock()
		for _, cancel := range subs {
			cancel()
		}
	})
}

func (c *wsConn) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *wsConn) writeLoop() {
	defer c.ws.Close()
	for {
		if c.closed() {
			_ = c.ws.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
			_ = c.ws.WriteMessage(websocket.CloseMessage, c.closeMsg)
			return
		}
		select {
		case <-c.done:
		case msg := <-c.out:
			c.s.metrics.observeQueue(len(c.out))
			if c.timing != nil {
				// Observed before the write, so a client that has its answer
				// finds it counted.
				c.timing.answered(msg)
			}
			_ = c.ws.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
			if err := c.ws.WriteMessage(websocket.TextMessage, msg); err != nil {
				c.fail(closeTooSlow, "write failed: "+err.Error())
				return
			}
		}
	}
}

// send queues a response, waiting for room: the caller is a call goroutine.
func (c *wsConn) send(msg []byte) error {
	select {
	case c.out <- msg:
		return nil
	case <-c.done:
		return errors.New("connection closed")
	}
}

// notifyWait queues a notification, waiting for room; false once the
// connection is closed.
func (c *wsConn) notifyWait(id string, result []byte) bool {
	return c.send(notification(id, result)) == nil
}

func notification(id string, result []byte) []byte {
	msg := make([]byte, 0, len(result)+96)
	msg = append(msg, `{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"`...)
	msg = append(msg, id...)
	msg = append(msg, `","result":`...)
	msg = append(msg, result...)
	return append(msg, "}}"...)
}

// notify queues a subscription notification without waiting; false means the
// client fell a whole queue behind and the connection is being closed with
// reason.
func (c *wsConn) notify(id string, result []byte, reason func() string) bool {
	if c.closed() {
		return false
	}
	select {
	case c.out <- notification(id, result):
		return true
	default:
		go c.fail(closeTooSlow, reason())
		return false
	}
}

// Write queues a response of the rpc server.
func (c *wsConn) Write(p []byte) (int, error) {
	msg := bytes.TrimRight(p, "\n")
	if err := c.send(append([]byte(nil), msg...)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Read hands the codec the next messages that it should answer.
func (c *wsConn) Read(p []byte) (int, error) {
	if len(c.rbuf) == 0 {
		msg, err := c.next()
		if err != nil {
			return 0, err
		}
		c.rbuf = append(msg, '\n')
	}
	n := copy(p, c.rbuf)
	c.rbuf = c.rbuf[n:]
	return n, nil
}

// next reads the next message for the rpc server, answering subscription
// calls and rate-limited messages itself.
func (c *wsConn) next() ([]byte, error) {
	cfg := c.s.cfg.WS
	for {
		if err := c.ws.SetReadDeadline(time.Now().Add(cfg.IdleTimeout)); err != nil {
			return nil, err
		}
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			var ne net.Error
			switch {
			case errors.As(err, &ne) && ne.Timeout():
				c.fail(closeIdle, fmt.Sprintf("idle timeout: no request for %v (send eth_chainId as keepalive)", cfg.IdleTimeout))
			case errors.Is(err, websocket.ErrReadLimit):
				c.fail(closeTooLarge, fmt.Sprintf("message too large: limit %d bytes", c.s.cfg.RawTxLimit))
			}
			return nil, err
		}
		read := time.Now()
		if !c.limiter.Allow() {
			c.reject(data, -32005, fmt.Sprintf("rate limit exceeded: %v messages per second per connection", cfg.MsgsPerSecond))
			continue
		}
		if !json.Valid(data) {
			// Answered here: the codec would end the connection.
			_ = c.send(errorResponse(nil, -32700, "parse error: invalid JSON", nil))
			continue
		}
		if c.timing != nil {
			c.timing.called(data, read)
		}
		if c.s.settle != nil {
			c.s.settle() // no message is served before earlier dev work (settleDev)
		}
		if resp, ok := c.s.answerRefused(c.ctx, data); ok {
			if resp != nil {
				_ = c.send(resp)
			}
			continue
		}
		if bytes.Contains(data, []byte("subscribe")) {
			if handled := c.handleSubscriptions(data); handled {
				continue
			}
		}
		return data, nil
	}
}

// reject answers every call in data with the same error.
func (c *wsConn) reject(data []byte, code int, msg string) {
	calls, batch, err := parseCalls(data)
	if err != nil {
		_ = c.send(errorResponse(nil, -32700, "parse error: "+err.Error(), nil))
		return
	}
	var out [][]byte
	for _, call := range calls {
		if call.ID != nil {
			out = append(out, errorResponse(call.ID, code, msg, nil))
		}
	}
	if len(out) > 0 {
		_ = c.send(joinResponses(out, batch))
	}
}

// handleSubscriptions answers eth_subscribe and eth_unsubscribe. A batch that
// mixes them with other calls is answered as one array: the other calls run
// through the rpc server in process.
func (c *wsConn) handleSubscriptions(data []byte) bool {
	calls, batch, err := parseCalls(data)
	if err != nil {
		return false // the rpc server reports the parse error
	}
	var subs int
	for _, call := range calls {
		if isSubscriptionCall(call.Method) {
			subs++
		}
	}
	if subs == 0 {
		return false
	}
	var starts []func()
	resps := c.s.answerMixed(c.ctx, calls, isSubscription, func(call rpcCall) []byte {
		resp, start := c.subscriptionCall(call)
		if start != nil {
			starts = append(starts, start)
		}
		return resp
	})
	if len(resps) > 0 {
		_ = c.send(joinResponses(resps, batch))
	}
	// Notifications start after the client has the subscription ids.
	for _, start := range starts {
		start()
	}
	return true
}

// subscriptionCall answers one eth_subscribe or eth_unsubscribe; start, when
// set, begins delivery and must run after the answer is queued.
func (c *wsConn) subscriptionCall(call rpcCall) ([]byte, func()) {
	switch call.Method {
	case "eth_unsubscribe":
		var ids []string
		if err := json.Unmarshal(call.Params, &ids); err != nil || len(ids) != 1 {
			return errorResponse(call.ID, -32602, "invalid params: expected [subscription id]", nil), nil
		}
		c.mu.Lock()
		cancel, ok := c.subs[ids[0]]
		delete(c.subs, ids[0])
		c.mu.Unlock()
		if ok {
			cancel()
		}
		return resultResponse(call.ID, ok), nil
	default:
		id, start, err := c.s.subscribe(c, call.Params)
		if err != nil {
			return errorFrom(call.ID, err), nil
		}
		return resultResponse(call.ID, id), start
	}
}

// addSub registers a subscription's cancel func within the per-connection limit.
func (c *wsConn) addSub(id string, cancel func()) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed() {
		return errors.New("connection closed")
	}
	if len(c.subs) >= c.s.cfg.WS.MaxSubsPerConn {
		return &limitError{fmt.Sprintf("too many subscriptions on this connection: limit %d", c.s.cfg.WS.MaxSubsPerConn)}
	}
	c.subs[id] = cancel
	return nil
}

func (c *wsConn) dropSub(id string) {
	c.mu.Lock()
	delete(c.subs, id)
	c.mu.Unlock()
}

func newSubscriptionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("0x%x", b)
}
