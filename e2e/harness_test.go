// Package e2e boots the built meganode binary on 127.0.0.1 with ephemeral
// ports and drives it with the real clients: Foundry's cast and forge from
// npm (installed by `make e2e-deps`), and go-ethereum's RPC client.
package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// meganodeBin builds cmd/meganode once per test binary.
func meganodeBin(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if p := os.Getenv("MEGANODE_BIN"); p != "" {
			binPath = p
			return
		}
		dir, err := os.MkdirTemp("", "meganode-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "meganode")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/meganode").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// tool returns the path of a Foundry binary installed by `make e2e-deps`.
func tool(t testing.TB, name string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "node_modules", "@foundry-rs", name+"-linux-amd64", "bin", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s not installed (run `make e2e-deps`): %v", name, err)
	}
	return p
}

// devnet is a running meganode process (`devnet` or a role).
type devnet struct {
	t      testing.TB
	cmd    *exec.Cmd
	URL    string
	WS     string
	P2P    string // multiaddr of a role's p2p node
	Admin  string // an HA candidate's admin listener, http://host:port
	Signer string // a role's sequencer signer address
	// The devnet's in-process replica and full node RPC URLs.
	ReplicaURL, FullNodeURL string
	logs                    *lockedBuffer
	exited                  chan struct{}
}

var (
	listenRe = regexp.MustCompile(`Listening on (127\.0\.0\.1:\d+)`)
	adminRe  = regexp.MustCompile(`Admin listener:\s+(127\.0\.0\.1:\d+)`)
	p2pRe    = regexp.MustCompile(`P2P address:\s+(\S+)`)
	signerRe = regexp.MustCompile(`Sequencer signer:\s+(0x[0-9a-fA-F]{40})`)
	replRe   = regexp.MustCompile(`Replica RPC:\s+(http://\S+)`)
	fullRe   = regexp.MustCompile(`Full node RPC:\s+(http://\S+)`)
)

// startDevnet runs `meganode devnet` with args on an ephemeral port and waits
// until it prints its address. The process is killed when the test ends.
func startDevnet(t testing.TB, args ...string) *devnet {
	t.Helper()
	return startMeganode(t, "devnet", args...)
}

// startMeganode runs a meganode subcommand with args on an ephemeral RPC
// port and waits until it prints its address.
func startMeganode(t testing.TB, command string, args ...string) *devnet {
	t.Helper()
	d, err := tryStartMeganode(t, command, args...)
	if err != nil {
		t.Fatalf("meganode %s %v", command, err)
	}
	return d
}

// tryStartMeganode is startMeganode returning the failure of a process that
// exits at start (an *errPortInUse when a port it was given was taken).
func tryStartMeganode(t testing.TB, command string, args ...string) (*devnet, error) {
	t.Helper()
	pre := []string{command, "--log.format", "json"}
	if command != "da" && !slices.Contains(args, "--http.port") {
		pre = append(pre, "--http.port", "0")
	}
	if slices.Contains(args, "--ha.id") && !slices.Contains(args, "--admin.port") {
		pre = append(pre, "--admin.port", "0")
	}
	args = append(pre, args...)
	cmd := exec.Command(meganodeBin(t), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &devnet{t: t, cmd: cmd, logs: logs, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		d.kill(syscall.SIGKILL)
		// With MEGANODE_BIN built by `go build -race`, races fail the test.
		if strings.Contains(logs.String(), "WARNING: DATA RACE") {
			t.Errorf("data race in meganode:\n%s", logs.String())
		}
	})

	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			// The banner is printed before "Listening on" is sent: the fields
			// are set before the test reads them.
			if m := p2pRe.FindStringSubmatch(sc.Text()); m != nil && d.P2P == "" {
				d.P2P = m[1]
			}
			if m := adminRe.FindStringSubmatch(sc.Text()); m != nil {
				d.Admin = "http://" + m[1]
			}
			if m := signerRe.FindStringSubmatch(sc.Text()); m != nil {
				d.Signer = m[1]
			}
			if m := replRe.FindStringSubmatch(sc.Text()); m != nil {
				d.ReplicaURL = m[1]
			}
			if m := fullRe.FindStringSubmatch(sc.Text()); m != nil {
				d.FullNodeURL = m[1]
			}
			if m := listenRe.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case a := <-addr:
		d.URL, d.WS = "http://"+a, "ws://"+a
	case <-d.exited:
		return nil, portErr(logs.String())
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("did not start:\n%s", logs.String())
	}
	return d, nil
}

// kill sends sig to the process and waits for it to exit.
func (d *devnet) kill(sig syscall.Signal) {
	select {
	case <-d.exited:
		return
	default:
	}
	_ = d.cmd.Process.Signal(sig)
	select {
	case <-d.exited:
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
	}
}

func (d *devnet) client(t testing.TB) *gethrpc.Client {
	t.Helper()
	c, err := gethrpc.Dial(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// run executes a client command and returns its trimmed stdout.
func run(t testing.TB, dir string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "FOUNDRY_DISABLE_NIGHTLY_WARNING=1")
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", filepath.Base(name), strings.Join(args, " "), err, out, stderr)
	}
	return strings.TrimSpace(string(out))
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
