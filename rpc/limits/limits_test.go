package limits

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

func testConfig(tweak func(*Config)) Config {
	c := DefaultConfig()
	c.Concurrency, c.ConcurrencyPerIP, c.QueuePerIP, c.Queue = 2, 1, 0, 0
	if tweak != nil {
		tweak(&c)
	}
	return c
}

func from(ip string) context.Context { return WithClient(context.Background(), ip+":1234") }

// limitErr checks err is a −32005 limit error whose message says want.
func limitErr(t *testing.T, err error, want string) {
	t.Helper()
	var le *Error
	if !errors.As(err, &le) || le.ErrorCode() != -32005 || !strings.Contains(le.Error(), want) {
		t.Fatalf("got %v, want a −32005 error saying %q", err, want)
	}
}

func TestPerIPConcurrency(t *testing.T) {
	l := New(testConfig(nil))
	_, done, err := l.Enter(from("192.0.2.1"), Call, "eth_call")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = l.Enter(from("192.0.2.1"), Trace, "debug_traceCall")
	limitErr(t, err, "too many heavy calls (debug_traceCall and the like) from 192.0.2.1 at once: 1 running and 0 waiting is the limit (--rpc.heavy-concurrency-per-ip)")
	// Another client still gets the second global slot.
	_, done2, err := l.Enter(from("192.0.2.2"), Logs, "eth_getLogs")
	if err != nil {
		t.Fatalf("another IP: %v", err)
	}
	done2(nil)
	if err := done(nil); err != nil {
		t.Fatal(err)
	}
	_, done, err = l.Enter(from("192.0.2.1"), Call, "eth_call")
	if err != nil {
		t.Fatalf("after the first call ended: %v", err)
	}
	done(nil)
	if len(l.ips) != 0 {
		t.Fatalf("%d clients still tracked with no call running", len(l.ips))
	}
}

func TestGlobalConcurrency(t *testing.T) {
	l := New(testConfig(func(c *Config) { c.Concurrency = 1 }))
	_, done, err := l.Enter(from("192.0.2.1"), Call, "eth_call")
	if err != nil {
		t.Fatal(err)
	}
	defer done(nil)
	_, _, err = l.Enter(from("192.0.2.2"), Call, "eth_call")
	limitErr(t, err, "server busy: 0 heavy calls are waiting for one of 1 slots (--rpc.heavy-concurrency); retry later")
}

// waiters returns once ip has n calls running or waiting.
func waiters(l *Limiter, ip string, n int) {
	for {
		l.mu.Lock()
		c := l.ips[ip]
		got := c != nil && c.users >= n
		l.mu.Unlock()
		if got {
			return
		}
		runtime.Gosched()
	}
}

func TestQueuedCallRunsWhenASlotFrees(t *testing.T) {
	l := New(testConfig(func(c *Config) { c.QueuePerIP, c.Queue = 1, 1 }))
	_, done, err := l.Enter(from("192.0.2.1"), Call, "eth_call")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		_, done, err := l.Enter(from("192.0.2.1"), Call, "eth_call")
		if err == nil {
			done(nil)
		}
		got <- err
	}()
	waiters(l, "192.0.2.1", 2)
	_, _, err = l.Enter(from("192.0.2.1"), Call, "eth_call")
	limitErr(t, err, "1 running and 1 waiting is the limit")
	done(nil)
	if err := <-got; err != nil {
		t.Fatalf("queued call: %v", err)
	}
}

func TestTimeLimits(t *testing.T) {
	for _, tc := range []struct {
		class Class
		code  int
		msg   string
	}{
		{Call, -32000, "execution aborted (timeout = 1ms)"},
		{Trace, -32005, "debug_traceBlockByNumber exceeded its time limit of 1ms (--rpc.trace-timeout)"},
		{Logs, -32005, "debug_traceBlockByNumber exceeded its time limit of 1ms (--rpc.logs-timeout)"},
	} {
		t.Run(tc.class.String(), func(t *testing.T) {
			l := New(testConfig(func(c *Config) {
				c.CallTimeout, c.TraceTimeout, c.LogsTimeout = time.Millisecond, time.Millisecond, time.Millisecond
			}))
			ctx, done, err := l.Enter(from("192.0.2.1"), tc.class, "debug_traceBlockByNumber")
			if err != nil {
				t.Fatal(err)
			}
			<-ctx.Done() // the call runs until its context ends
			err = done(ctx.Err())
			var te *TimeoutError
			if !errors.As(err, &te) || te.ErrorCode() != tc.code || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want code %d %q", err, tc.code, tc.msg)
			}
		})
	}
	// A caller that goes away is not a timeout.
	l := New(testConfig(nil))
	ctx, cancel := context.WithCancel(from("192.0.2.1"))
	ctx, done, _ := l.Enter(ctx, Call, "eth_call")
	cancel()
	if err := done(ctx.Err()); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	// No time limit: none is set.
	l = New(testConfig(func(c *Config) { c.CallTimeout = 0 }))
	ctx, done, _ = l.Enter(from("192.0.2.1"), Call, "eth_call")
	if _, ok := ctx.Deadline(); ok {
		t.Fatal("a deadline with --rpc.evmtimeout 0")
	}
	done(nil)
}

func TestWaitingCountsAgainstTheTimeLimit(t *testing.T) {
	l := New(testConfig(func(c *Config) { c.Concurrency, c.Queue, c.QueuePerIP, c.CallTimeout = 1, 1, 1, time.Millisecond }))
	_, done, err := l.Enter(from("192.0.2.1"), Trace, "debug_traceCall")
	if err != nil {
		t.Fatal(err)
	}
	defer done(nil)
	_, _, err = l.Enter(from("192.0.2.2"), Call, "eth_call")
	limitErr(t, err, "eth_call waited its whole time limit of 1ms for a free slot")
}

func TestClientIP(t *testing.T) {
	if got := ClientIP(from("192.0.2.7")); got != "192.0.2.7" {
		t.Errorf("recorded client: %q", got)
	}
	peer := context.WithValue(context.Background(), struct{}{}, 1)
	if got := ClientIP(peer); got != "" {
		t.Errorf("no client: %q", got)
	}
	p, err := ParseProxies([]string{"127.0.0.1", "10.0.0.0/8", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ remote, xff, want string }{
		{"192.0.2.1:5", "", "192.0.2.1"},
		{"192.0.2.1:5", "198.51.100.1", "192.0.2.1"}, // an untrusted peer's header is ignored
		{"127.0.0.1:5", "198.51.100.1", "198.51.100.1"},
		{"127.0.0.1:5", "198.51.100.9, 198.51.100.1, 10.1.2.3", "198.51.100.1"},
		{"[::1]:5", "not an ip", "::1"},
	} {
		if got := p.Client(tc.remote, tc.xff); got != tc.want {
			t.Errorf("Client(%q, %q) = %q, want %q", tc.remote, tc.xff, got, tc.want)
		}
	}
	if _, err := ParseProxies([]string{"localhost"}); err == nil {
		t.Error("a host name taken as a proxy")
	}
}

func TestConfigCheck(t *testing.T) {
	if err := DefaultConfig().Check(); err != nil {
		t.Fatal(err)
	}
	for _, tweak := range []func(*Config){
		func(c *Config) { c.Concurrency = 0 },
		func(c *Config) { c.ConcurrencyPerIP = 0 },
		func(c *Config) { c.Queue = -1 },
		func(c *Config) { c.CallTimeout = -1 },
		func(c *Config) { c.Nice = -1 },
		func(c *Config) { c.Nice = 40 },
	} {
		c := DefaultConfig()
		tweak(&c)
		if c.Check() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// A call whose time limit (or caller) has run out by the time it would get
// a slot is refused and takes none, even when slots are free.
func TestNoStartWithoutTimeLeft(t *testing.T) {
	l := New(testConfig(func(c *Config) { c.TraceTimeout = time.Nanosecond }))
	for i := 0; i < 100; i++ {
		_, _, err := l.Enter(from("192.0.2.1"), Trace, "debug_traceCall")
		limitErr(t, err, "debug_traceCall waited its whole time limit of 1ns for a free slot")
	}
	past, cancel := context.WithDeadline(from("192.0.2.1"), time.Now().Add(-time.Second))
	defer cancel()
	if _, _, err := l.Enter(past, Call, "eth_call"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("caller's deadline passed: got %v, want %v", err, context.DeadlineExceeded)
	}
	// No slot was kept: the client's only one is free.
	_, done, err := l.Enter(from("192.0.2.1"), Call, "eth_call")
	if err != nil {
		t.Fatalf("after the refusals: %v", err)
	}
	done(nil)
}

// With the defaults a load generator's 16 connections from one address all
// run at once, whatever the CPU count (2 in CI), and another client still
// finds slots.
func TestDefaultsDoNotThrottleOneLocalClient(t *testing.T) {
	cfg := DefaultConfig()
	cfg.QueuePerIP, cfg.Queue = 0, 0 // a call that would have to wait is refused instead
	l := New(cfg)
	var dones []func(error) error
	for i := 0; i < 16; i++ {
		_, done, err := l.Enter(from("127.0.0.1"), Call, "eth_call")
		if err != nil {
			t.Fatalf("call %d of 16 from one client: %v", i+1, err)
		}
		dones = append(dones, done)
	}
	_, done, err := l.Enter(from("192.0.2.1"), Call, "eth_call")
	if err != nil {
		t.Fatalf("another client beside the 16: %v", err)
	}
	done(nil)
	for _, d := range dones {
		d(nil)
	}
}
