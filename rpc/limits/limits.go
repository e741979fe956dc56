// Package limits bounds what one JSON-RPC client can make a node do with its
// heavy methods — eth_call and the other EVM calls, debug_trace*, eth_getLogs
// — so that a flood of them cannot stall the sequencer's loop or exhaust the
// node: how many run at once (per client IP and in all), how long each may
// run (waiting for a slot included), and how much an eth_getLogs may scan and
// return. Every refusal is a JSON-RPC error with code −32005 (EIP-1474
// "limit exceeded") that names the limit and how to stay within it.
//
// It is bookkeeping only: no goroutines, no I/O.
package limits

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"time"

	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// Class is a kind of heavy call: each has its own time limit; all share the
// concurrency limits.
type Class int

const (
	Call  Class = iota // eth_call, eth_estimateGas, eth_createAccessList, eth_simulateV1
	Trace              // debug_trace*
	Logs               // eth_getLogs, eth_getLogsWithCursor, eth_getFilterLogs
)

func (c Class) String() string { return [...]string{"call", "trace", "logs"}[c] }

// Config holds the limits of heavy calls. A zero time limit, range or
// result limit means none (geth's convention for --rpc.evmtimeout and
// --rpc.rangelimit).
type Config struct {
	Concurrency      int // heavy calls running at once, all clients; default 4 per CPU, at least 32
	ConcurrencyPerIP int // heavy calls running at once per client IP; default 2 per CPU, at least 16
	// Calls that find no free slot wait for one, within their time limit;
	// beyond these many waiting they are refused at once.
	QueuePerIP int // waiting calls per client IP, default 64
	Queue      int // waiting calls of all clients, default 1024

	CallTimeout  time.Duration // Call class, default 5s (geth's --rpc.evmtimeout)
	TraceTimeout time.Duration // Trace class, default 30s
	LogsTimeout  time.Duration // Logs class, default 10s

	// Nice, above 0, runs each heavy call on a thread of its own whose
	// nice value is this much higher (Linux; elsewhere it is ignored): on
	// a busy machine the OS gives the node's own work, a sequencer's
	// production loop, the CPU first. 0 runs them like any request.
	Nice int

	GasCap     uint64 // gas of one eth_call/estimateGas/trace call, and of all calls of one eth_simulateV1; default 50M (geth's --rpc.gascap)
	RangeLimit uint64 // eth_getLogs: toBlock − fromBlock at most this, default 10,000 (geth's --rpc.rangelimit)
	MaxLogs    int    // eth_getLogs: logs in one answer, default 10,000 (providers' cap)
}

// DefaultConfig sizes the concurrency limits by the CPUs of this machine.
// geth and op-geth bound no concurrency at all, and their users drive a
// node from one address (a benchmark's 16 connections from 127.0.0.1, a
// dapp backend): a client is never made to wait below 16 calls at once,
// which would serialize its eth_calls and hand each one off between
// goroutines. Half of the pool stays free for other clients; a public
// port lowers both (docs/operations.md).
func DefaultConfig() Config {
	n := runtime.NumCPU()
	return Config{
		Concurrency: max(32, 4*n), ConcurrencyPerIP: max(16, 2*n), QueuePerIP: 64, Queue: 1024,
		CallTimeout: 5 * time.Second, TraceTimeout: 30 * time.Second, LogsTimeout: 10 * time.Second,
		GasCap: 50_000_000, RangeLimit: 10_000, MaxLogs: 10_000,
	}
}

// Check validates the configuration.
func (c Config) Check() error {
	if c.Concurrency < 1 || c.ConcurrencyPerIP < 1 || c.QueuePerIP < 0 || c.Queue < 0 {
		return fmt.Errorf("heavy-call concurrency: %d in all, %d per IP, %d waiting per IP, %d waiting in all: want ≥ 1 running and ≥ 0 waiting",
			c.Concurrency, c.ConcurrencyPerIP, c.QueuePerIP, c.Queue)
	}
	if c.Nice < 0 || c.Nice > 39 {
		return fmt.Errorf("heavy-call nice %d: want 0 (off) to 39", c.Nice)
	}
	if c.CallTimeout < 0 || c.TraceTimeout < 0 || c.LogsTimeout < 0 || c.MaxLogs < 0 {
		return fmt.Errorf("heavy-call limits: timeouts %v/%v/%v, %d logs: want ≥ 0", c.CallTimeout, c.TraceTimeout, c.LogsTimeout, c.MaxLogs)
	}
	return nil
}

// Error is a call refused or cut short by a limit: −32005.
type Error struct{ Msg string }

func (e *Error) Error() string  { return e.Msg }
func (e *Error) ErrorCode() int { return -32005 }

// TimeoutError is a call that ran out of its time limit. The Call class
// answers as geth does (−32000 "execution aborted (timeout = 5s)"), so
// clients that know geth's text recognise it; the others with −32005.
type TimeoutError struct {
	Class   Class
	Method  string
	Timeout time.Duration
}

func (e *TimeoutError) Error() string {
	if e.Class == Call {
		return fmt.Sprintf("execution aborted (timeout = %v)", e.Timeout)
	}
	return fmt.Sprintf("%s exceeded its time limit of %v (%s): ask for less at a time", e.Method, e.Timeout, timeoutFlag[e.Class])
}

func (e *TimeoutError) ErrorCode() int {
	if e.Class == Call {
		return -32000
	}
	return -32005
}

var timeoutFlag = [...]string{"--rpc.evmtimeout", "--rpc.trace-timeout", "--rpc.logs-timeout"}

// Limiter admits heavy calls within a Config. Its zero value is not usable;
// a nil *Limiter admits everything with no time limit (tests, in-process
// callers).
type Limiter struct {
	cfg Config

	mu      sync.Mutex
	global  chan struct{} // a token per running call
	waiting int           // calls waiting for a slot, all clients
	ips     map[string]*client
}

type client struct {
	slots chan struct{} // a token per running call of this IP
	users int           // running and waiting calls of this IP
}

// New returns a limiter for cfg (which Check accepted).
func New(cfg Config) *Limiter {
	return &Limiter{cfg: cfg, global: make(chan struct{}, cfg.Concurrency), ips: make(map[string]*client)}
}

// Config returns the limits.
func (l *Limiter) Config() Config {
	if l == nil {
		return Config{}
	}
	return l.cfg
}

func (l *Limiter) timeout(c Class) time.Duration {
	return [...]time.Duration{l.cfg.CallTimeout, l.cfg.TraceTimeout, l.cfg.LogsTimeout}[c]
}

// Enter admits a heavy call of class for the client of ctx (ClientIP): it
// bounds ctx by the class's time limit and waits, within it, for a slot
// (the client's, then a global one). The returned ctx is what the call
// runs under; done must be called with the call's error when it ends,
// releases the slots and turns a time-limit cancellation into a
// TimeoutError.
func (l *Limiter) Enter(ctx context.Context, class Class, method string) (context.Context, func(error) error, error) {
	if l == nil {
		return ctx, func(err error) error { return err }, nil
	}
	cancel := context.CancelFunc(func() {})
	timeout := l.timeout(class)
	if timeout > 0 {
		ctx, cancel = context.WithTimeoutCause(ctx, timeout, errTimeLimit)
	}
	release, err := l.acquire(ctx, ClientIP(ctx), method, timeout)
	if err != nil {
		cancel()
		return ctx, nil, err
	}
	done := func(err error) error {
		timedOut := TimedOut(ctx)
		cancel()
		release()
		if err != nil && timedOut {
			return &TimeoutError{Class: class, Method: method, Timeout: timeout}
		}
		return err
	}
	return ctx, done, nil
}

var errTimeLimit = errors.New("heavy call time limit")

// TimedOut reports whether the call under ctx (from Enter) has run out of
// its time limit.
func TimedOut(ctx context.Context) bool { return errors.Is(context.Cause(ctx), errTimeLimit) }

func (l *Limiter) acquire(ctx context.Context, ip, method string, timeout time.Duration) (func(), error) {
	l.mu.Lock()
	c := l.ips[ip]
	if c == nil {
		c = &client{slots: make(chan struct{}, l.cfg.ConcurrencyPerIP)}
		l.ips[ip] = c
	}
	if c.users >= l.cfg.ConcurrencyPerIP+l.cfg.QueuePerIP {
		l.mu.Unlock()
		return nil, &Error{fmt.Sprintf("too many heavy calls (%s and the like) from %s at once: %d running and %d waiting is the limit (--rpc.heavy-concurrency-per-ip); retry when one has answered",
			method, ip, l.cfg.ConcurrencyPerIP, l.cfg.QueuePerIP)}
	}
	c.users++
	l.mu.Unlock()
	leave := func() {
		l.mu.Lock()
		if c.users--; c.users == 0 {
			delete(l.ips, ip)
		}
		l.mu.Unlock()
	}
	expired := func() error {
		if TimedOut(ctx) {
			return &Error{fmt.Sprintf("%s waited its whole time limit of %v for a free slot: the server is busy with heavy calls; retry later", method, timeout)}
		}
		return ctx.Err()
	}
	wait := func(slots chan struct{}) error {
		select {
		case slots <- struct{}{}:
			return nil
		default:
		}
		l.mu.Lock()
		if l.waiting >= l.cfg.Queue {
			l.mu.Unlock()
			return &Error{fmt.Sprintf("server busy: %d heavy calls are waiting for one of %d slots (--rpc.heavy-concurrency); retry later", l.cfg.Queue, l.cfg.Concurrency)}
		}
		l.waiting++
		l.mu.Unlock()
		defer func() {
			l.mu.Lock()
			l.waiting--
			l.mu.Unlock()
		}()
		select {
		case slots <- struct{}{}:
			return nil
		case <-ctx.Done():
			return expired()
		}
	}
	if err := wait(c.slots); err != nil {
		leave()
		return nil, err
	}
	if err := wait(l.global); err != nil {
		<-c.slots
		leave()
		return nil, err
	}
	// A slot that frees as the time limit runs out may still be taken
	// (select picks either ready case, and the first try does not look at
	// ctx): a call must not start with no time left. go-ethereum's
	// callTracer, stopped before the traced call is entered, indexes an
	// empty call stack and panics.
	if ctx.Err() != nil {
		<-l.global
		<-c.slots
		leave()
		return nil, expired()
	}
	return func() {
		<-l.global
		<-c.slots
		leave()
	}, nil
}

type clientKey struct{}

// WithClient records the client address (an IP, or host:port) that the
// limits of calls under ctx count against. The server sets it from the
// connection, or from X-Forwarded-For behind a trusted proxy.
func WithClient(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientKey{}, addr)
}

// ClientIP returns the IP the limits of a call under ctx count against;
// "" when nothing says (an in-process call).
func ClientIP(ctx context.Context) string {
	addr, _ := ctx.Value(clientKey{}).(string)
	if addr == "" {
		addr = gethrpc.PeerInfoFromContext(ctx).RemoteAddr
	}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
