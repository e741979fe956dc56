package e2e

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// anvilNode is an anvil process started by a test, the reference a suite
// runs against beside meganode.
type anvilNode struct{ URL string }

var anvilListenRe = regexp.MustCompile(`Listening on (127\.0\.0\.1:\d+)`)

// startAnvil runs the anvil binary `make e2e-deps` installed (not the npm
// wrapper) on an ephemeral port; it is killed when the test ends.
func startAnvil(t testing.TB, args ...string) *anvilNode {
	t.Helper()
	cmd := exec.Command(tool(t, "anvil"), append([]string{"--port", "0", "--host", "127.0.0.1"}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := anvilListenRe.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case a := <-addr:
		return &anvilNode{URL: "http://" + a}
	case <-exited:
		t.Fatal("anvil exited at start")
	case <-time.After(30 * time.Second):
		t.Fatal("anvil did not start")
	}
	return nil
}

// hardhatProject copies an e2e Hardhat project into a temp dir with a
// node_modules link, as a user's checkout would be.
func hardhatProject(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(e2eDir(), name))); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(e2eDir(), "node_modules"), filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	return dir
}

var passingRe = regexp.MustCompile(`(\d+) passing`)

// runHardhatTests runs `hardhat test mocha --network target` in dir against
// url and returns mocha's output; a failing test fails t.
func runHardhatTests(t *testing.T, dir, url string) string {
	t.Helper()
	env := []string{
		"TARGET_URL=" + url,
		"HARDHAT_DISABLE_TELEMETRY_PROMPT=true",
		"PATH=" + filepath.Dir(node22(t)) + string(os.PathListSeparator) + os.Getenv("PATH"),
	}
	return runEnv(t, dir, env, node22(t), "node_modules/hardhat/dist/src/cli.js", "test", "mocha", "--network", "target")
}

// TestHardhatSuite runs a Hardhat 3 project's tests (loadFixture,
// time.increase/increaseTo, mine, impersonateAccount, setBalance/Code/Nonce/
// StorageAt, takeSnapshot, and the chai matchers' reverts, events and
// balance changes) unchanged against `meganode devnet --automine` and
// against anvil: both must pass every test.
func TestHardhatSuite(t *testing.T) {
	dir := hardhatProject(t, "hardhat-suite")
	counts := map[string]string{}
	for _, target := range []string{"anvil", "meganode"} {
		t.Run(target, func(t *testing.T) {
			var url string
			if target == "anvil" {
				url = startAnvil(t).URL
			} else {
				url = startDevnet(t, "--automine").URL
			}
			out := runHardhatTests(t, dir, url)
			m := passingRe.FindStringSubmatch(out)
			if m == nil || strings.Contains(out, "failing") {
				t.Fatalf("suite did not pass against %s:\n%s", target, out)
			}
			counts[target] = m[1]
			t.Logf("%s: %s passing", target, m[1])
		})
	}
	if counts["anvil"] != counts["meganode"] {
		t.Fatalf("passing tests differ: anvil %s, meganode %s", counts["anvil"], counts["meganode"])
	}
}
