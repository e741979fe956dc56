package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/meganode/meganode/rpc/jsonrpc"
)

type rpcCall = jsonrpc.Call

var parseCalls, rawID = jsonrpc.ParseCalls, jsonrpc.RawID

// errorObject is a JSON-RPC error answer.
func errorObject(id json.RawMessage, code int, msg string) []byte {
	out, _ := json.Marshal(struct {
		Version string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}{Version: "2.0", ID: rawID(id), Error: struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, msg}})
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if b, ok := v.([]byte); ok {
		_, _ = w.Write(b)
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

// clientHeads remembers, per client IP, the newest block and mini-block the
// client may have seen, so that no later read goes to a backend behind it.
type clientHeads struct {
	mu sync.Mutex
	m  map[string]*seenHead
}

type seenHead struct {
	block, mini uint64
	at          time.Time
}

func newClientHeads() *clientHeads { return &clientHeads{m: map[string]*seenHead{}} }

func (c *clientHeads) get(ip string) (block, mini uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.m[ip]; s != nil {
		return s.block, s.mini
	}
	return 0, 0
}

func (c *clientHeads) raise(ip string, block, mini uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.m[ip]
	if s == nil {
		s = &seenHead{}
		c.m[ip] = s
	}
	s.block, s.mini, s.at = max(s.block, block), max(s.mini, mini), now
}

// expire forgets clients quiet since before: by then every backend in
// service has passed what they saw.
func (c *clientHeads) expire(before time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ip, s := range c.m {
		if s.at.Before(before) {
			delete(c.m, ip)
		}
	}
}

// limiter holds the per-IP and per-IP-and-method token buckets.
type limiter struct {
	perIP     float64
	perMethod map[string]float64
	mu        sync.Mutex
	buckets   map[string]*bucket
}

type bucket struct {
	l    *rate.Limiter
	used time.Time
}

func newLimiter(perIP float64, perMethod map[string]float64) *limiter {
	return &limiter{perIP: perIP, perMethod: perMethod, buckets: map[string]*bucket{}}
}

// allow takes a token from the client's bucket and from its bucket for the
// method, where those limits are set.
func (l *limiter) allow(ip, method string, now time.Time) bool {
	mr := l.perMethod[method]
	if l.perIP == 0 && mr == 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if mr > 0 && !l.take(ip+"\x00"+method, mr, now) {
		return false
	}
	return l.perIP == 0 || l.take(ip, l.perIP, now)
}

func (l *limiter) take(key string, r float64, now time.Time) bool {
	b := l.buckets[key]
	if b == nil {
		burst := max(1, int(r))
		b = &bucket{l: rate.NewLimiter(rate.Limit(r), burst)}
		l.buckets[key] = b
	}
	b.used = now
	return b.l.AllowN(now, 1)
}

// describe is the error message of a refused call.
func (l *limiter) describe(method string) string {
	if mr := l.perMethod[method]; mr > 0 && l.perIP > 0 {
		return fmt.Sprintf("rate limit exceeded: %g requests/s per client, %g for %s", l.perIP, mr, method)
	} else if mr > 0 {
		return fmt.Sprintf("rate limit exceeded: %g requests/s per client for %s", mr, method)
	}
	return fmt.Sprintf("rate limit exceeded: %g requests/s per client", l.perIP)
}

func (l *limiter) expire(before time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, b := range l.buckets {
		if b.used.Before(before) {
			delete(l.buckets, k)
		}
	}
}
