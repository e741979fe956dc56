package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// A client websocket connection is served by the gateway itself: calls go
// through the same routing as HTTP posts, subscriptions are held on one
// upstream websocket to a replica. When that replica fails or falls
// behind, the subscriptions move to another one: miniBlocks resume from the
// mini-block after the last one delivered (no gap, no duplicate), newHeads
// continue when the new replica's next head follows the last one sent. A
// subscription that cannot continue without a gap closes the client
// connection with a reason, never silently skips.

const (
	pingEvery       = 20 * time.Second // keeps upstream connections past the node's idle timeout
	failoverTimeout = 30 * time.Second // a client whose subscriptions find no new home by then is closed
	wsConcurrency   = 64               // messages of one connection handled at once
	writeWait       = 10 * time.Second
)

type wsProxy struct {
	g        *Gateway
	upgrader websocket.Upgrader
	mu       sync.Mutex
	perIP    map[string]int
	clients  map[*wsClient]bool
}

func newWSProxy(g *Gateway) *wsProxy {
	return &wsProxy{
		g:        g,
		upgrader: websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }, ReadBufferSize: 4096, WriteBufferSize: 4096},
		perIP:    map[string]int{},
		clients:  map[*wsClient]bool{},
	}
}

func (p *wsProxy) serve(w http.ResponseWriter, r *http.Request) {
	ip, xff := p.g.clientIP(r)
	p.mu.Lock()
	if p.perIP[ip] >= p.g.cfg.MaxConnsPerIP {
		p.mu.Unlock()
		p.g.m.rejected.WithLabelValues("ws_conns").Inc()
		writeJSON(w, http.StatusTooManyRequests, errorObject(nil, -32005, fmt.Sprintf("too many websocket connections from %s: limit %d", ip, p.g.cfg.MaxConnsPerIP)))
		return
	}
	p.perIP[ip]++
	p.mu.Unlock()
	conn, err := p.upgrader.Upgrade(w, r, nil)
	if err != nil {
		p.release(ip, nil)
		return
	}
	conn.SetReadLimit(int64(p.g.cfg.RawTxLimit))
	c := &wsClient{
		p: p, conn: conn, ip: ip, xff: xff,
		out:  make(chan []byte, p.g.cfg.SendQueue),
		sem:  make(chan struct{}, wsConcurrency),
		done: make(chan struct{}),
		subs: map[string]*sub{},
	}
	p.mu.Lock()
	p.clients[c] = true
	p.mu.Unlock()
	p.g.m.wsConns.Inc()
	go c.writeLoop()
	c.readLoop()
	p.release(ip, c)
}

func (p *wsProxy) release(ip string, c *wsClient) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.perIP[ip]--; p.perIP[ip] <= 0 {
		delete(p.perIP, ip)
	}
	if c != nil {
		delete(p.clients, c)
		p.g.m.wsConns.Dec()
	}
}

// closeAll closes every client connection (gateway shutdown).
func (p *wsProxy) closeAll() {
	p.mu.Lock()
	clients := make([]*wsClient, 0, len(p.clients))
	for c := range p.clients {
		clients = append(clients, c)
	}
	p.mu.Unlock()
	for _, c := range clients {
		c.close(websocket.CloseGoingAway, "gateway shutting down")
	}
}

// sub is one client subscription.
type sub struct {
	id     string            // the client's id, kept across backends
	params []json.RawMessage // as the client sent them
	kind   string
	upID   string // the id on the current upstream
	last   uint64 // mini_block_number (miniBlocks) or block number (newHeads) last delivered
	sent   bool   // something was delivered
}

// resumable tells whether a subscription can move to another backend
// without a gap.
func (s *sub) resumable() bool { return s.kind == "miniBlocks" || s.kind == "newHeads" }

// resumeParams are the params that continue s on another backend.
func (s *sub) resumeParams() []json.RawMessage {
	if s.kind != "miniBlocks" || !s.sent {
		return s.params
	}
	from, _ := json.Marshal(map[string]string{"from_mini_block_number": "0x" + strconv.FormatUint(s.last+1, 16)})
	return []json.RawMessage{s.params[0], from}
}

type wsClient struct {
	p       *wsProxy
	conn    *websocket.Conn
	ip, xff string
	out     chan []byte
	done    chan struct{}
	once    sync.Once
	wmu     sync.Mutex // serializes message writes (the write loop, and flush on close)
	sem     chan struct{}

	mu   sync.Mutex // guards subs, up
	subs map[string]*sub
	up   *upstream
	// moving is set while subscriptions are being moved to a new backend:
	// subscribe calls wait for it.
	moving chan struct{}
}

func (c *wsClient) readLoop() {
	defer c.close(websocket.CloseNormalClosure, "")
	for {
		_, msg, err := c.conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) && ce.Code == websocket.CloseMessageTooBig {
				c.close(websocket.CloseMessageTooBig, "message too large")
			}
			return
		}
		select { // at most wsConcurrency messages in work: a flood waits here
		case c.sem <- struct{}{}:
		case <-c.done:
			return
		}
		go func() {
			defer func() { <-c.sem }()
			c.handle(msg)
		}()
	}
}

func (c *wsClient) writeLoop() {
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		select {
		case msg := <-c.out:
			if err := c.write(msg); err != nil {
				c.close(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-ping.C:
			_ = c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait))
		case <-c.done:
			return
		}
	}
}

func (c *wsClient) write(msg []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
	return c.conn.WriteMessage(websocket.TextMessage, msg)
}

// enqueue queues a message for the client; a client that does not read
// fast enough is disconnected with the reason, never skipped.
func (c *wsClient) enqueue(msg []byte) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	select {
	case c.out <- msg:
		return true
	default:
		c.p.g.m.closed.WithLabelValues("slow_consumer").Inc()
		c.close(websocket.ClosePolicyViolation, fmt.Sprintf("slow consumer: send queue full (%d messages); resubscribe with from_mini_block_number to resume", cap(c.out)))
		return false
	}
}

// close sends a close frame after what is queued, then ends the connection
// and its upstream.
func (c *wsClient) close(code int, reason string) {
	c.once.Do(func() {
		if code != websocket.CloseAbnormalClosure {
			c.flush()
			_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(writeWait))
		}
		close(c.done)
		_ = c.conn.Close()
		c.mu.Lock()
		up, n := c.up, len(c.subs)
		c.up, c.subs = nil, map[string]*sub{}
		c.mu.Unlock()
		c.p.g.m.subs.Sub(float64(n))
		if up != nil {
			up.close()
		}
	})
}

// flush writes what is queued (before a close frame).
func (c *wsClient) flush() {
	for {
		select {
		case msg := <-c.out:
			if c.write(msg) != nil {
				return
			}
		default:
			return
		}
	}
}

// handle answers one client message. Calls other than eth_subscribe and
// eth_unsubscribe take the HTTP route.
func (c *wsClient) handle(msg []byte) {
	calls, batch, err := parseCalls(msg)
	if err != nil {
		c.enqueue(errorObject(nil, -32700, "parse error: "+err.Error()))
		return
	}
	native := false
	for _, call := range calls {
		native = native || call.Method == "eth_subscribe" || call.Method == "eth_unsubscribe"
	}
	ctx := context.Background()
	if !native {
		if _, out := c.p.g.answer(ctx, msg, c.ip, c.xff, true); len(out) > 0 {
			c.enqueue(out)
		}
		return
	}
	if len(calls) > c.p.g.cfg.BatchLimit {
		c.enqueue(errorObject(nil, -32600, fmt.Sprintf("batch too large: %d calls, limit %d", len(calls), c.p.g.cfg.BatchLimit)))
		return
	}
	var parts [][]byte
	for _, call := range calls {
		var out []byte
		switch call.Method {
		case "eth_subscribe":
			out = c.subscribe(call)
		case "eth_unsubscribe":
			out = c.unsubscribe(call)
		default:
			one, _ := json.Marshal(call)
			_, out = c.p.g.answer(ctx, one, c.ip, c.xff, true)
		}
		if out != nil && !call.Notification() {
			parts = append(parts, out)
		}
	}
	if len(parts) == 0 {
		return
	}
	if !batch {
		c.enqueue(parts[0])
		return
	}
	c.enqueue(append(append([]byte{'['}, bytes.Join(parts, []byte{','})...), ']'))
}

// subscribe opens a subscription on the client's upstream. Its answer is
// queued by the upstream reader, ahead of the first notification, so it
// returns nil on success.
func (c *wsClient) subscribe(call rpcCall) []byte {
	g := c.p.g
	if !g.allow.allows("eth_subscribe") {
		return errorObject(call.ID, -32601, "the method eth_subscribe does not exist/is not available")
	}
	if !g.limits.allow(c.ip, call.Method, g.now()) {
		g.m.rejected.WithLabelValues("rate_limited").Inc()
		return errorObject(call.ID, -32005, g.limits.describe(call.Method))
	}
	var params []json.RawMessage
	if json.Unmarshal(call.Params, &params) != nil || len(params) == 0 {
		return errorObject(call.ID, -32602, "invalid params: want [kind, …]")
	}
	var kind string
	if json.Unmarshal(params[0], &kind) != nil {
		return errorObject(call.ID, -32602, "invalid params: the subscription kind must be a string")
	}
	s := &sub{id: newSubID(), params: params, kind: kind}
	up, err := c.upstream(s)
	if err != nil {
		return errorObject(call.ID, -32011, err.Error())
	}
	c.mu.Lock()
	if len(c.subs) >= g.cfg.MaxSubsPerConn {
		c.mu.Unlock()
		g.m.rejected.WithLabelValues("subscriptions").Inc()
		return errorObject(call.ID, -32005, fmt.Sprintf("too many subscriptions on this connection: limit %d", g.cfg.MaxSubsPerConn))
	}
	c.subs[s.id] = s
	c.mu.Unlock()
	ans, err := up.call(params, s, call.ID)
	if err != nil || ans.err != nil {
		c.mu.Lock()
		delete(c.subs, s.id)
		c.mu.Unlock()
		if err != nil {
			return errorObject(call.ID, -32011, "subscription backend failed: "+err.Error())
		}
		return withID(call.ID, ans.raw)
	}
	g.m.subs.Inc()
	return nil
}

func (c *wsClient) unsubscribe(call rpcCall) []byte {
	var params []string
	if json.Unmarshal(call.Params, &params) != nil || len(params) != 1 {
		return errorObject(call.ID, -32602, "invalid params: want [subscription id]")
	}
	c.mu.Lock()
	s := c.subs[params[0]]
	delete(c.subs, params[0])
	up := c.up
	c.mu.Unlock()
	if s == nil {
		return resultObject(call.ID, false)
	}
	c.p.g.m.subs.Dec()
	if up != nil {
		up.forget(s)
		upID, _ := json.Marshal(s.upID)
		go up.call([]json.RawMessage{upID}, nil, nil) // its answer is not the client's: the subscription is gone here already
	}
	return resultObject(call.ID, true)
}

// upstream returns the client's upstream connection, dialling one to the
// best replica the first time. A subscribe while subscriptions move waits
// for them.
func (c *wsClient) upstream(s *sub) (*upstream, error) {
	deadline := time.Now().Add(failoverTimeout)
	for {
		c.mu.Lock()
		up, moving := c.up, c.moving
		c.mu.Unlock()
		if moving != nil {
			select {
			case <-moving:
				continue
			case <-c.done:
				return nil, errors.New("connection closed")
			case <-time.After(time.Until(deadline)):
				return nil, errors.New("no backend for subscriptions")
			}
		}
		if up != nil && !up.isDead() {
			return up, nil
		}
		up, err := c.dial(0, nil)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		if c.up != nil && !c.up.isDead() { // another subscribe won
			c.mu.Unlock()
			up.close()
			continue
		}
		c.up = up
		c.mu.Unlock()
		go c.watch(up)
		return up, nil
	}
}

// dial opens an upstream to the least busy healthy replica that has at
// least mini-block minMini, avoiding the ones in skip.
func (c *wsClient) dial(minMini uint64, skip map[*backend]bool) (*upstream, error) {
	g := c.p.g
	pool := g.reps
	if len(pool) == 0 {
		pool = g.seqs
	}
	tried := map[*backend]bool{}
	for b := range skip {
		tried[b] = true
	}
	for {
		b, _ := pick(pool, 0, minMini, tried)
		if b == nil {
			return nil, errors.New("no healthy backend for subscriptions")
		}
		tried[b] = true
		up, err := dialUpstream(c, b)
		if err != nil {
			if b.fail(err, g.now()) {
				g.log.Warn().Str("backend", b.url).Err(err).Msg("Backend taken out of service: websocket dial failed")
			}
			continue
		}
		return up, nil
	}
}

// watch waits for up to fail or for its backend to be taken out of service,
// then moves the subscriptions.
func (c *wsClient) watch(up *upstream) {
	t := time.NewTicker(time.Duration(c.p.g.cfg.PollInterval))
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-up.dead:
		case <-t.C:
			if _, _, _, healthy := up.b.head(); healthy {
				continue
			}
		}
		break
	}
	up.close()
	<-up.read // its subscriptions' positions are final
	c.move(up)
}

// move puts every subscription on a new upstream. A subscription that
// cannot continue without a gap closes the connection with the reason.
func (c *wsClient) move(old *upstream) {
	g := c.p.g
	c.mu.Lock()
	if c.up != old {
		c.mu.Unlock()
		return
	}
	moving := make(chan struct{})
	c.moving, c.up = moving, nil
	subs := make([]*sub, 0, len(c.subs))
	var minMini uint64
	for _, s := range c.subs {
		if s.upID == "" {
			continue // its subscribe was never answered: the client gets an error for it
		}
		subs = append(subs, s)
		if s.kind == "miniBlocks" && s.sent {
			minMini = max(minMini, s.last)
		}
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.moving = nil
		c.mu.Unlock()
		close(moving)
	}()
	for _, s := range subs {
		if !s.resumable() {
			g.m.closed.WithLabelValues("backend_failed").Inc()
			c.close(websocket.CloseServiceRestart, fmt.Sprintf("backend failed: a %s subscription cannot resume without a gap; reconnect and subscribe again", s.kind))
			return
		}
	}
	if len(subs) == 0 {
		return // the next subscribe dials
	}
	deadline := time.Now().Add(failoverTimeout)
	skip := map[*backend]bool{old.b: true}
	for {
		select {
		case <-c.done:
			return
		default:
		}
		if time.Now().After(deadline) {
			g.m.closed.WithLabelValues("no_backend").Inc()
			c.close(websocket.CloseTryAgainLater, "no healthy backend to move subscriptions to; reconnect and resume with from_mini_block_number")
			return
		}
		up, err := c.dial(minMini, skip)
		if err != nil {
			skip = map[*backend]bool{} // the old one may be back; wait a poll
			time.Sleep(time.Duration(g.cfg.PollInterval))
			continue
		}
		if c.resubscribe(up, subs) {
			c.mu.Lock()
			c.up = up
			c.mu.Unlock()
			g.log.Info().Str("from", old.b.url).Str("to", up.b.url).Int("subscriptions", len(subs)).Msg("Subscriptions moved")
			go c.watch(up)
			return
		}
		up.close()
		skip[up.b] = true
	}
}

// resubscribe opens every subscription again on up, resuming each after
// the last notification delivered.
func (c *wsClient) resubscribe(up *upstream, subs []*sub) bool {
	for _, s := range subs {
		ans, err := up.call(s.resumeParams(), s, nil)
		if err != nil || ans.err != nil {
			c.p.g.log.Debug().Str("backend", up.b.url).Str("kind", s.kind).Msg("Resubscribe refused")
			return false
		}
		c.p.g.m.resubscribed.Inc()
	}
	return true
}

// upstream is one websocket to a backend, carrying a client's
// subscriptions.
type upstream struct {
	c    *wsClient
	b    *backend
	conn *websocket.Conn
	wmu  sync.Mutex // serializes writes

	mu      sync.Mutex
	nextID  int
	waiting map[int]*pendingCall
	byUp    map[string]*sub
	dead    chan struct{}
	read    chan struct{} // closed when readLoop has returned
	once    sync.Once
}

type pendingCall struct {
	s        *sub            // a subscribe: installed when answered
	clientID json.RawMessage // the client's call id: its answer is queued in order
	done     chan upAnswer
	// claimed by whichever settles the call first: the reader with the
	// backend's answer, or the caller giving up; the client gets one answer.
	claimed atomic.Bool
}

type upAnswer struct {
	raw []byte
	err json.RawMessage
}

func dialUpstream(c *wsClient, b *backend) (*upstream, error) {
	d := websocket.Dialer{HandshakeTimeout: 2 * time.Second}
	h := http.Header{}
	if c.xff != "" {
		h.Set("X-Forwarded-For", c.xff)
	}
	conn, _, err := d.Dial(b.ws, h)
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(64 << 20)
	up := &upstream{c: c, b: b, conn: conn, waiting: map[int]*pendingCall{}, byUp: map[string]*sub{}, dead: make(chan struct{}), read: make(chan struct{})}
	b.inflight.Add(1)
	go up.readLoop()
	go up.pingLoop()
	return up, nil
}

func (u *upstream) isDead() bool {
	select {
	case <-u.dead:
		return true
	default:
		return false
	}
}

func (u *upstream) close() {
	u.once.Do(func() {
		close(u.dead)
		_ = u.conn.Close()
		u.b.inflight.Add(-1)
	})
}

func (u *upstream) pingLoop() {
	t := time.NewTicker(pingEvery)
	defer t.Stop()
	for {
		select {
		case <-u.dead:
			return
		case <-t.C:
			u.wmu.Lock()
			err := u.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait))
			u.wmu.Unlock()
			if err != nil {
				u.close()
				return
			}
		}
	}
}

// call sends eth_subscribe (s set) or eth_unsubscribe and waits for the
// answer.
func (u *upstream) call(params []json.RawMessage, s *sub, clientID json.RawMessage) (upAnswer, error) {
	method := "eth_unsubscribe"
	if s != nil {
		method = "eth_subscribe"
	}
	p := &pendingCall{s: s, clientID: clientID, done: make(chan upAnswer, 1)}
	u.mu.Lock()
	u.nextID++
	id := u.nextID
	u.waiting[id] = p
	u.mu.Unlock()
	ps, _ := json.Marshal(params)
	msg := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`, id, method, ps)
	u.wmu.Lock()
	_ = u.conn.SetWriteDeadline(time.Now().Add(writeWait))
	err := u.conn.WriteMessage(websocket.TextMessage, []byte(msg))
	u.wmu.Unlock()
	if err != nil {
		u.close()
		return upAnswer{}, err
	}
	select {
	case a := <-p.done:
		return a, nil
	case <-u.dead:
		err = fmt.Errorf("backend %s connection lost", u.b.url)
	case <-time.After(time.Duration(u.c.p.g.cfg.Timeout)):
		u.close()
		err = fmt.Errorf("backend %s did not answer %s", u.b.url, method)
	}
	if !p.claimed.CompareAndSwap(false, true) {
		return <-p.done, nil // the reader settled it first: its answer counts
	}
	return upAnswer{}, err
}

func (u *upstream) forget(s *sub) {
	u.mu.Lock()
	delete(u.byUp, s.upID)
	u.mu.Unlock()
}

// upMessage is what a backend sends on a websocket: an answer or a
// notification.
type upMessage struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
	Params struct {
		Subscription string          `json:"subscription"`
		Result       json.RawMessage `json:"result"`
	} `json:"params"`
}

// readLoop handles answers and notifications in the order the backend sent
// them, so a subscription's id reaches the client before its first
// notification.
func (u *upstream) readLoop() {
	defer close(u.read)
	defer u.close()
	for {
		_, data, err := u.conn.ReadMessage()
		if err != nil {
			return
		}
		var m upMessage
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		if m.Method == "eth_subscription" {
			if !u.deliver(m.Params.Subscription, m.Params.Result) {
				return
			}
			continue
		}
		id, err := strconv.Atoi(string(m.ID))
		if err != nil {
			continue
		}
		u.mu.Lock()
		p := u.waiting[id]
		delete(u.waiting, id)
		u.mu.Unlock()
		if p == nil {
			continue
		}
		ans := upAnswer{raw: data, err: m.Error}
		if !p.claimed.CompareAndSwap(false, true) {
			continue // the caller gave up on it and answered the client
		}
		if p.s != nil && m.Error == nil {
			var upID string
			if json.Unmarshal(m.Result, &upID) == nil {
				u.mu.Lock()
				p.s.upID = upID
				u.byUp[upID] = p.s
				u.mu.Unlock()
				if p.clientID != nil {
					u.c.enqueue(resultObject(p.clientID, p.s.id))
				}
			}
		}
		p.done <- ans
	}
}

// deliver passes a notification on under the client's subscription id,
// dropping what was already delivered before a move. A gap closes the
// client connection. It returns false when the upstream must stop.
func (u *upstream) deliver(upID string, result json.RawMessage) bool {
	u.mu.Lock()
	s := u.byUp[upID]
	u.mu.Unlock()
	if s == nil {
		return true // unsubscribed meanwhile
	}
	if s.resumable() {
		field := "mini_block_number"
		if s.kind == "newHeads" {
			field = "number"
		}
		n, ok := hexField(result, field)
		if ok {
			switch {
			case s.sent && n <= s.last:
				return true // already delivered by the previous backend
			case s.sent && n > s.last+1:
				u.c.p.g.m.closed.WithLabelValues("gap").Inc()
				u.c.close(websocket.CloseServiceRestart, fmt.Sprintf("backend failed and %s %d to %d cannot be delivered; reconnect and resume", field, s.last+1, n-1))
				return false
			}
			s.last, s.sent = n, true
		}
	}
	var buf bytes.Buffer
	buf.Grow(len(result) + 96)
	buf.WriteString(`{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"`)
	buf.WriteString(s.id)
	buf.WriteString(`","result":`)
	buf.Write(result)
	buf.WriteString(`}}`)
	return u.c.enqueue(buf.Bytes())
}

// hexField reads a top-level hex quantity field of a JSON object without
// decoding the rest (a mini-block carries every transaction and receipt).
func hexField(obj []byte, name string) (uint64, bool) {
	key := []byte(`"` + name + `":"`)
	i := bytes.Index(obj, key)
	if i < 0 {
		return 0, false
	}
	rest := obj[i+len(key):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(bytes.TrimPrefix(rest[:end], []byte("0x"))), 16, 64)
	return v, err == nil
}

func resultObject(id json.RawMessage, v any) []byte {
	r, _ := json.Marshal(v)
	return withID(id, append(append([]byte(`{"result":`), r...), '}'))
}

func newSubID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "0x" + hex.EncodeToString(b[:])
}
