package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/ethereum/go-ethereum/common"
)

// chromiumPath is Debian's chromium, which `make e2e-chromium` installs.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not installed: run `make e2e-chromium` (Debian's chromium package)")
	return ""
}

// browser is a headless Chromium tab that records console errors and
// uncaught exceptions.
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 1180),
	)
	// Not t.TempDir: chromium's helper processes may still write to its
	// profile for a moment after the browser closes, and t.TempDir fails
	// the test when its removal meets a file written meanwhile.
	profile, err := os.MkdirTemp("", "meganode-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts = append(opts, chromedp.UserDataDir(profile))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		_ = chromedp.Cancel(ctx) // closes the browser and waits for it
		cancel()
		cancelAlloc()
		for i := 0; i < 50 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	b := &browser{ctx: ctx}
	chromedp.ListenTarget(ctx, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError || ev.Type == runtime.APITypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				msg = "console." + string(ev.Type) + ": " + strings.Join(args, " ")
			}
		case *runtime.EventExceptionThrown:
			msg = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.LevelError {
				msg = "log: " + ev.Entry.Text + " " + ev.Entry.URL
			}
		}
		if msg != "" {
			b.mu.Lock()
			b.errors = append(b.errors, msg)
			b.mu.Unlock()
		}
	})
	if err := chromedp.Run(ctx, log.Enable()); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

func (b *browser) run(t *testing.T, timeout time.Duration, actions ...chromedp.Action) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatalf("chromium: %v", err)
	}
}

// number reads an element's text as a number; -1 while it shows none.
func (b *browser) number(t *testing.T, sel string) int64 {
	t.Helper()
	var s string
	b.run(t, 5*time.Second, chromedp.Text(sel, &s, chromedp.ByQuery))
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

func (b *browser) noErrors(t *testing.T, page string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 {
		t.Errorf("%s: console errors:\n%s", page, strings.Join(b.errors, "\n"))
	}
	b.errors = nil
}

// load loads a node's status page and waits until its websocket is up.
func (b *browser) load(t *testing.T, url string) {
	t.Helper()
	b.run(t, 20*time.Second,
		chromedp.Navigate(url+"/"),
		chromedp.WaitVisible(`#conn.on`, chromedp.ByQuery),
	)
}

// open loads a node's status page and waits until it shows a sealed head.
func (b *browser) open(t *testing.T, url string) {
	t.Helper()
	b.load(t, url)
	deadline := time.Now().Add(10 * time.Second)
	for b.number(t, "#head") < 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s: no sealed head shown", url)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStatusPage drives the status page of the devnet's roles in headless
// Chromium: no console errors, the head shown advances within 2 s, a tx
// sent during the test is found by search and its ladder reaches
// finalized; a screenshot is written (STATUS_PAGE_PNG, or the test's
// temporary directory).
func TestStatusPage(t *testing.T) {
	d := startDevnet(t)
	gw := startMeganode(t, "gateway", "--sequencer", d.URL, "--replica", d.ReplicaURL, "--fullnode", d.FullNodeURL)
	b := newBrowser(t)

	b.open(t, d.URL)
	var role string
	b.run(t, 5*time.Second, chromedp.Text(`h1 .role`, &role, chromedp.ByQuery))
	if role != "devnet" {
		t.Errorf("page names role %q, want devnet", role)
	}
	head, mini := b.number(t, "#head"), b.number(t, "#mini")
	start := time.Now()
	for b.number(t, "#head") <= head {
		if time.Since(start) > 2*time.Second {
			t.Fatalf("head shown stayed at %d for 2 s", head)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if now := b.number(t, "#mini"); now <= mini {
		t.Errorf("mini-block shown went from %d to %d, want it to advance", mini, now)
	}
	t.Logf("head shown advanced past %d after %v", head, time.Since(start).Round(time.Millisecond))

	// A tx sent now is found by search, and its ladder climbs to finalized.
	var hash common.Hash
	if err := d.client(t).Call(&hash, "eth_sendTransaction", map[string]any{"from": addr0, "to": addr2, "value": "0x1234"}); err != nil {
		t.Fatal(err)
	}
	b.run(t, 10*time.Second,
		chromedp.SetValue(`#q`, hash.Hex(), chromedp.ByQuery),
		chromedp.Click(`#sform button`, chromedp.ByQuery),
		chromedp.WaitVisible(`#ladder`, chromedp.ByQuery),
	)
	b.run(t, 30*time.Second, chromedp.WaitVisible(`#ladder[data-stage="finalized"]`, chromedp.ByQuery))
	var result string
	b.run(t, 5*time.Second, chromedp.Text(`#result`, &result, chromedp.ByQuery))
	if !strings.Contains(result, "success") || !strings.Contains(result, hash.Hex()) {
		t.Errorf("search result for %s:\n%s", hash, result)
	}
	for _, stage := range []string{"preconfirmed", "sealed", "safe", "proven", "finalized"} {
		var n int
		b.run(t, 5*time.Second, chromedp.Evaluate(fmt.Sprintf(`document.querySelectorAll('#ladder span.reached.st-%s').length`, stage), &n))
		if n != 1 {
			t.Errorf("ladder stage %s not shown reached", stage)
		}
	}
	// An address: balance and nonce.
	b.run(t, 10*time.Second,
		chromedp.SetValue(`#q`, addr0, chromedp.ByQuery),
		chromedp.Click(`#sform button`, chromedp.ByQuery),
		chromedp.WaitVisible(`//div[@id="result"]//td[contains(., "ETH")]`, chromedp.BySearch),
	)
	b.run(t, 10*time.Second,
		chromedp.SetValue(`#q`, hash.Hex(), chromedp.ByQuery),
		chromedp.Click(`#sform button`, chromedp.ByQuery),
		chromedp.WaitVisible(`#ladder[data-stage="finalized"]`, chromedp.ByQuery),
		// Let the charts and the role's panel fill before the picture.
		chromedp.WaitVisible(`//table[@id="hists"]//td[contains(., "meganode_sequencer_miniblock_interval_seconds")]`, chromedp.BySearch),
	)
	var png []byte
	b.run(t, 10*time.Second, chromedp.CaptureScreenshot(&png))
	out := os.Getenv("STATUS_PAGE_PNG")
	if out == "" {
		out = filepath.Join(t.TempDir(), "status-page.png")
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", out, len(png))
	b.noErrors(t, "devnet page")

	// Every other role's page: live, a head shown, no errors; the
	// gateway's lists its upstreams.
	for _, page := range []struct{ name, url string }{{"replica", d.ReplicaURL}, {"fullnode", d.FullNodeURL}, {"gateway", gw.URL}} {
		b.open(t, page.url)
		b.run(t, 5*time.Second, chromedp.Text(`h1 .role`, &role, chromedp.ByQuery))
		if role != page.name {
			t.Errorf("%s page names role %q", page.name, role)
		}
		switch page.name {
		case "gateway":
			b.run(t, 10*time.Second, chromedp.WaitVisible(`//div[@id="backends"]//td[contains(., "replica")]`, chromedp.BySearch))
			// The replica-lag chart, from the same /ready: one series per
			// follower, its lag in mini-blocks behind the newest upstream.
			b.run(t, 10*time.Second, chromedp.WaitVisible(`#f-rlag #c-rlag`, chromedp.ByQuery))
			for _, u := range []string{d.ReplicaURL, d.FullNodeURL} {
				var lag string
				var ok bool
				b.run(t, 5*time.Second, chromedp.AttributeValue(fmt.Sprintf(`#rlag-keys i[data-url=%q]`, u), "data-lag", &lag, &ok, chromedp.ByQuery))
				if n, err := strconv.Atoi(lag); !ok || err != nil || n < 0 || n > 200 {
					t.Errorf("gateway page: replica lag of %s shown as %q, want 0…200 mini-blocks", u, lag)
				}
			}
		case "replica":
			var what string
			b.run(t, 5*time.Second, chromedp.Text(`#lag-what`, &what, chromedp.ByQuery))
			if !strings.HasPrefix(what, "replica lag") {
				t.Errorf("replica page: lag chart captioned %q, want replica lag", what)
			}
		}
		time.Sleep(500 * time.Millisecond) // a few polls of the role's panel
		b.noErrors(t, page.name+" page")
	}

	// Roles in processes of their own: an HA candidate (a group of one)
	// shows its raft group, a prover (no chain API) its counters.
	dir := t.TempDir()
	seqKey, seqAddr := writeKey(t, dir, "sequencer.key")
	proverKey, proverAddr := writeKey(t, dir, "prover.key")
	raft := "127.0.0.1:" + freePort(t)
	ha := startMeganode(t, "sequencer", "--datadir", filepath.Join(dir, "seq"), "--sequencer.key", seqKey, "--p2p.listen", "/ip4/127.0.0.1/tcp/0",
		"--ha.id", "a", "--ha.addr", raft, "--ha.peers", "a="+raft, "--prover.addresses", proverAddr.Hex())
	prover := startMeganode(t, "prover", "--datadir", filepath.Join(dir, "prover"), "--prover.key", proverKey, "--sequencer.address", seqAddr.Hex(),
		"--p2p.listen", "/ip4/127.0.0.1/tcp/0", "--p2p.peers", ha.P2P)
	waitMetric(t, ha, "meganode_ha_leader", 1)
	b.open(t, ha.URL)
	b.run(t, 10*time.Second, chromedp.WaitVisible(`//div[@id="ha"]//h3[contains(., "is Leader and produces blocks")]`, chromedp.BySearch))
	b.noErrors(t, "HA candidate page")
	b.load(t, prover.URL)
	b.run(t, 10*time.Second,
		chromedp.WaitVisible(`#nochain`, chromedp.ByQuery),
		chromedp.WaitVisible(`//table[@id="metrics"]//td[contains(., "meganode_prover_attested_total")]`, chromedp.BySearch),
	)
	b.noErrors(t, "prover page")
}
