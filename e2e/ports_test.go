package e2e

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Ports that must be known before a process starts (an HA candidate's raft
// address, which every candidate's --ha.peers lists; a node restarted on the
// port its peers and the gateway were given) are picked ahead of the bind.
// A port picked by binding :0 and closing again is in the kernel's ephemeral
// range, where the next outgoing connection or :0 listener of any process
// may take it before the node binds it: a collision flake. freePort
// therefore picks from below (or above) that range, where only a process
// binding that very port can collide, and hands out each port once per
// test binary; startPicked retries a start that collided all the same.
var picked struct {
	sync.Mutex
	lo, hi int // the range picked from, [lo, hi); 0: none, use :0
	next   int
	given  map[int]bool
}

// freePort returns a port free on 127.0.0.1 now, outside the ephemeral
// range, so a node restarted on it is found again at the URL the gateway
// was given.
func freePort(t testing.TB) string {
	t.Helper()
	picked.Lock()
	defer picked.Unlock()
	if picked.given == nil {
		picked.given = map[int]bool{}
		picked.lo, picked.hi = pickRange(ephemeralRange())
		if picked.hi > picked.lo {
			// Another test binary (another worktree's e2e) starts elsewhere.
			picked.next = picked.lo + rand.IntN(picked.hi-picked.lo)
		}
	}
	for n, size := 0, picked.hi-picked.lo; n < size; n++ {
		p := picked.lo + (picked.next-picked.lo+n)%size
		if picked.given[p] {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue // bound by someone
		}
		_ = ln.Close()
		picked.given[p], picked.next = true, p+1
		return strconv.Itoa(p)
	}
	// No room outside the ephemeral range: an ephemeral port, as before.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// ephemeralRange is the kernel's range of ports for outgoing connections
// and :0 listeners (Linux's default if it cannot be read).
func ephemeralRange() (lo, hi int) {
	lo, hi = 32768, 60999
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return lo, hi
	}
	l, err1 := strconv.Atoi(f[0])
	h, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || l > h {
		return lo, hi
	}
	return l, h
}

// pickRange is the range freePort picks from beside the ephemeral range
// [elo, ehi]: up to 16384 unprivileged ports below it, or else above it;
// empty when neither side has 1000 ports.
func pickRange(elo, ehi int) (lo, hi int) {
	const minSize, maxSize = 1000, 16384
	if elo-1024 >= minSize {
		return max(1024, elo-maxSize), elo
	}
	if 65535-ehi >= minSize {
		return ehi + 1, min(65536, ehi+1+maxSize)
	}
	return 0, 0
}

var inUseRe = regexp.MustCompile(`listen tcp4? 127\.0\.0\.1:(\d+): bind: address already in use`)

// errPortInUse is a start that failed because a port it was given was taken.
type errPortInUse struct {
	port string
	err  error
}

func (e *errPortInUse) Error() string { return e.err.Error() }
func (e *errPortInUse) Unwrap() error { return e.err }

// portInUse reports the port a failed start found taken.
func portInUse(err error) (string, bool) {
	var e *errPortInUse
	if errors.As(err, &e) {
		return e.port, true
	}
	return "", false
}

// startPicked starts a meganode command on ports picked ahead of time.
// Should one have been taken meanwhile, repick is asked to give it another
// value (args is then called again) and reports whether it did: true on a
// first start, whose ports nobody knows yet; false for a port others were
// given (a restart, a raft address in --ha.peers), which is then tried again
// for a few seconds, since whatever holds it may let go (a connection ends).
// Without a collision it costs nothing.
func startPicked(t testing.TB, command string, args func() []string, repick func(port string) bool) *devnet {
	t.Helper()
	const attempts, wait = 30, 100 * time.Millisecond
	for i := 0; ; i++ {
		d, err := tryStartMeganode(t, command, args()...)
		if err == nil {
			return d
		}
		port, inUse := portInUse(err)
		if !inUse || i == attempts {
			t.Fatalf("meganode %s: %v", command, err)
		}
		if repick(port) {
			t.Logf("meganode %s: port %s was taken before it bound it: starting on another", command, port)
			continue
		}
		t.Logf("meganode %s: port %s, which others know it by, is taken: trying again", command, port)
		time.Sleep(wait)
	}
}

// portErr makes a start's failure an *errPortInUse when its log says a
// port was taken.
func portErr(logs string) error {
	err := fmt.Errorf("exited at start:\n%s", logs)
	if m := inUseRe.FindStringSubmatch(logs); m != nil {
		return &errPortInUse{port: m[1], err: err}
	}
	return err
}

func TestPickRange(t *testing.T) {
	for _, tc := range []struct {
		elo, ehi, lo, hi int
	}{
		{32768, 60999, 16384, 32768}, // Linux's default: below
		{10000, 65535, 1024, 10000},
		{1500, 60000, 60001, 65536}, // too little room below: above
		{1024, 65535, 0, 0},         // no room: :0
	} {
		if lo, hi := pickRange(tc.elo, tc.ehi); lo != tc.lo || hi != tc.hi {
			t.Errorf("pickRange(%d, %d) = [%d, %d), want [%d, %d)", tc.elo, tc.ehi, lo, hi, tc.lo, tc.hi)
		}
	}
	elo, ehi := ephemeralRange()
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		p := freePort(t)
		n, _ := strconv.Atoi(p)
		if lo, hi := pickRange(elo, ehi); hi > lo && (n < lo || n >= hi) {
			t.Fatalf("freePort %d outside [%d, %d), beside the ephemeral range [%d, %d]", n, lo, hi, elo, ehi)
		}
		if seen[p] {
			t.Fatalf("freePort handed out %s twice", p)
		}
		seen[p] = true
	}
}

// hold listens on 127.0.0.1:port as another process would, until release.
func hold(t *testing.T, port string) (release func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { _ = ln.Close() }) }
	t.Cleanup(release)
	return release
}

// TestHAStartOnTakenPorts: ports taken between their pick and the bind do
// not fail the start. On a first start the candidate gets other ports (its
// raft address too, while no candidate has been given it); a restarted
// one, whose ports its peers know, waits for its port to be free again.
func TestHAStartOnTakenPorts(t *testing.T) {
	s := newHASet(t, "a", "b", "c")
	a, b, c := s.cands[0], s.cands[1], s.cands[2]
	raftA, httpB, p2pC := a.raft, b.http, c.p2pPort
	hold(t, strings.TrimPrefix(raftA, "127.0.0.1:"))
	hold(t, httpB)
	hold(t, p2pC)
	for _, c := range s.cands {
		s.start(t, c)
	}
	if a.raft == raftA || b.http == httpB || c.p2pPort == p2pC {
		t.Fatalf("ports after the start: a raft %s, b http %s, c p2p %s; want others than the taken %s, %s, %s", a.raft, b.http, c.p2pPort, raftA, httpB, p2pC)
	}
	if !strings.Contains(s.peers, "a="+a.raft) {
		t.Fatalf("--ha.peers %s, want a's new raft address %s", s.peers, a.raft)
	}
	if got, want := b.d.URL, "http://127.0.0.1:"+b.http; got != want {
		t.Fatalf("b serves %s, want %s", got, want)
	}
	lead := s.leader(t, nil)

	// A follower restarted while something holds its RPC port briefly.
	f := b
	if f == lead {
		f = c
	}
	f.d.kill(syscall.SIGKILL)
	release := hold(t, f.http)
	time.AfterFunc(300*time.Millisecond, release)
	port := f.http
	s.start(t, f)
	if f.http != port || f.d.URL != "http://127.0.0.1:"+port {
		t.Fatalf("restarted %s serves %s, want its port %s", f.id, f.d.URL, port)
	}
	waitFor(t, "the restarted candidate following", func() bool {
		st, err := haStatus(f.d.URL)
		return err == nil && st.State == "Follower" && st.Leader == lead.id
	})
}
