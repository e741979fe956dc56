package e2e

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
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
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	return &anvilNode{URL: "http://" + startListening(t, "anvil", cmd, stdout, anvilListenRe)}
}

// startListening starts cmd in its own process group, killed when the test
// ends, and returns the address its output (out) names in re's first group.
func startListening(t testing.TB, name string, cmd *exec.Cmd, out io.Reader, re *regexp.Regexp) string {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	logs := &lockedBuffer{}
	addr := make(chan string, 1)
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(io.TeeReader(out, logs))
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
				break
			}
		}
		_, _ = io.Copy(logs, out)
	}()
	// The output is read to its end before Wait closes the pipe.
	go func() { <-read; _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		if t.Failed() {
			t.Logf("%s's output ends:\n%s", name, tail(logs.String(), 4096))
		}
	})
	select {
	case a := <-addr:
		return a
	case <-exited:
		t.Fatalf("%s exited at start:\n%s", name, tail(logs.String(), 4096))
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not start", name)
	}
	return ""
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// hardhatProject copies an e2e Hardhat project into a temp dir with a
// node_modules link, as a user's checkout would be; its contracts are
// e2e/hardhat-suite's.
func hardhatProject(t *testing.T, name, modules string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(e2eDir(), name)
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries { // the project without what installs and builds leave
		switch e.Name() {
		case "node_modules", "artifacts", "cache":
			continue
		}
		if e.IsDir() {
			err = os.CopyFS(filepath.Join(dir, e.Name()), os.DirFS(filepath.Join(src, e.Name())))
		} else {
			var data []byte
			if data, err = os.ReadFile(filepath.Join(src, e.Name())); err == nil {
				err = os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if name != "hardhat-suite" {
		if err := os.CopyFS(filepath.Join(dir, "contracts"), os.DirFS(filepath.Join(e2eDir(), "hardhat-suite", "contracts"))); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(e2eDir(), modules), filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	return dir
}

var passingRe = regexp.MustCompile(`(\d+) passing`)

// runHardhatTests runs the project's tests in dir against url (Hardhat 3:
// `hardhat test mocha`; Hardhat 2: `hardhat test`) as network and returns
// mocha's output; a failing test fails t.
func runHardhatTests(t *testing.T, dir, url, network string, hardhat2 bool) string {
	t.Helper()
	env := []string{
		"TARGET_URL=" + url,
		"HARDHAT_DISABLE_TELEMETRY_PROMPT=true",
		"HARDHAT_TELEMETRY_DISABLED=1",
		"PATH=" + filepath.Dir(node22(t)) + string(os.PathListSeparator) + os.Getenv("PATH"),
	}
	if hardhat2 {
		return runEnv(t, dir, env, node22(t), "node_modules/hardhat/internal/cli/cli.js", "test", "--network", network)
	}
	return runEnv(t, dir, env, node22(t), "node_modules/hardhat/dist/src/cli.js", "test", "mocha", "--network", network)
}

// passing checks that mocha's output has no failure and returns how many
// tests passed.
func passing(t *testing.T, target, out string) string {
	t.Helper()
	m := passingRe.FindStringSubmatch(out)
	if m == nil || strings.Contains(out, "failing") {
		t.Fatalf("suite did not pass against %s:\n%s", target, out)
	}
	t.Logf("%s: %s passing", target, m[1])
	return m[1]
}

// TestHardhatSuite runs a Hardhat 3 project's tests (loadFixture,
// time.increase/increaseTo, mine, impersonateAccount, setBalance/Code/Nonce/
// StorageAt, takeSnapshot, and the chai matchers' reverts, events and
// balance changes) unchanged against `meganode devnet --automine` and
// against anvil: both must pass every test.
func TestHardhatSuite(t *testing.T) {
	dir := hardhatProject(t, "hardhat-suite", "node_modules")
	counts := map[string]string{}
	for _, target := range []string{"anvil", "meganode"} {
		t.Run(target, func(t *testing.T) {
			url := startAnvil(t).URL
			if target == "meganode" {
				url = startDevnet(t, "--automine").URL
			}
			counts[target] = passing(t, target, runHardhatTests(t, dir, url, "target", false))
		})
	}
	if counts["anvil"] != counts["meganode"] {
		t.Fatalf("passing tests differ: anvil %s, meganode %s", counts["anvil"], counts["meganode"])
	}
}

// TestHardhat2Suite runs a Hardhat 2 project (network-helpers v1,
// hardhat-ethers v3, chai matchers v2) against anvil and the devnet. Named
// "localhost", hardhat-ethers v3 sends with a fixed gas limit instead of
// estimating once hardhat_metadata answers, and revertedWith then needs
// eth_sendTransaction itself to fail with the revert data, as Hardhat's
// node does: the devnet passes that way too (anvil answers with a hash and
// fails those tests).
func TestHardhat2Suite(t *testing.T) {
	dir := hardhatProject(t, "hardhat2", filepath.Join("hardhat2", "node_modules"))
	counts := map[string]string{}
	for _, target := range []string{"anvil", "meganode"} {
		t.Run(target, func(t *testing.T) {
			url := startAnvil(t).URL
			if target == "meganode" {
				url = startDevnet(t, "--automine").URL
			}
			counts[target] = passing(t, target, runHardhatTests(t, dir, url, "target", true))
			if target == "meganode" {
				passing(t, "meganode as localhost", runHardhatTests(t, dir, url, "localhost", true))
			}
		})
	}
	if counts["anvil"] != counts["meganode"] {
		t.Fatalf("passing tests differ: anvil %s, meganode %s", counts["anvil"], counts["meganode"])
	}
}

// TestViemTestClient runs viem's test client (mode anvil) actions against
// anvil and the devnet: mine, time, state edits, impersonation, snapshots,
// manual mining with a dropped tx, header settings and reset.
func TestViemTestClient(t *testing.T) {
	for _, target := range []string{"anvil", "meganode"} {
		t.Run(target, func(t *testing.T) {
			url := startAnvil(t).URL
			if target == "meganode" {
				url = startDevnet(t, "--automine").URL
			}
			out := runEnv(t, e2eDir(), []string{"TARGET_URL=" + url}, node22(t), "js/testclient.mjs")
			if !strings.Contains(out, "PASS testclient") {
				t.Fatalf("test client script did not finish against %s:\n%s", target, out)
			}
		})
	}
}

// TestRevertIsAReorgForSubscribers: a websocket client subscribed to logs
// and newHeads sees evm_revert as geth shows a reorg: the logs of the
// blocks taken off again with removed: true, and the snapshot's block as
// the new head.
func TestRevertIsAReorgForSubscribers(t *testing.T) {
	d := startDevnet(t, "--automine")
	c := d.client(t)
	ws, err := gethrpc.Dial(d.WS)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ctx := context.Background()
	logs := make(chan types.Log, 16)
	heads := make(chan map[string]interface{}, 16)
	if _, err := ws.EthSubscribe(ctx, logs, "logs", map[string]interface{}{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.EthSubscribe(ctx, heads, "newHeads"); err != nil {
		t.Fatal(err)
	}
	var snap hexutil.Uint64
	if err := c.Call(&snap, "evm_snapshot"); err != nil {
		t.Fatal(err)
	}
	var base hexutil.Uint64
	if err := c.Call(&base, "eth_blockNumber"); err != nil {
		t.Fatal(err)
	}
	// A deployment whose constructor emits a log.
	var hash common.Hash
	if err := c.Call(&hash, "eth_sendTransaction", map[string]interface{}{"from": addr0, "data": "0x602a60015560006000a0600a6016600039600a6000f33360005560006000a000"}); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(20 * time.Second)
	var got types.Log
	select {
	case got = <-logs:
	case <-timeout:
		t.Fatal("no log for the deployment")
	}
	if got.Removed || got.TxHash != hash {
		t.Fatalf("log %+v, want the deployment's", got)
	}
	var ok bool
	if err := c.Call(&ok, "evm_revert", snap); err != nil || !ok {
		t.Fatalf("evm_revert: %v %v", ok, err)
	}
	select {
	case removed := <-logs:
		if !removed.Removed || removed.TxHash != hash || removed.BlockHash != got.BlockHash {
			t.Fatalf("after the revert: log %+v, want the deployment's log with removed: true", removed)
		}
	case <-timeout:
		t.Fatal("the revert sent no removed log")
	}
	for {
		select {
		case h := <-heads:
			if h["number"] == hexutil.EncodeUint64(uint64(base)) {
				return // the snapshot's block is the head again
			}
		case <-timeout:
			t.Fatalf("no newHeads for block %d after the revert", base)
		}
	}
}

// TestStateFileSurvivesRestart: a devnet started with --state, stopped
// (SIGTERM) and started again with the same file keeps its blocks (the same
// hashes), receipts and balances, and its followers rebuild them too.
func TestStateFileSurvivesRestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	all := "sequencer,replica,fullnode,prover" // --automine alone runs the sequencer only
	start := time.Now().Unix()
	d := startDevnet(t, "--automine", "--roles", all, "--state", file)
	c := d.client(t)
	var genesis map[string]interface{}
	if err := c.Call(&genesis, "eth_getBlockByNumber", "0x0", false); err != nil {
		t.Fatal(err)
	}
	// The genesis is timed at the start, as anvil's (Hardhat's time.latest()).
	if ts, _ := hexutil.DecodeUint64(genesis["timestamp"].(string)); int64(ts) < start || int64(ts) > time.Now().Unix() {
		t.Fatalf("genesis timestamp %d, want the start time (%d to now)", ts, start)
	}
	var hash common.Hash
	if err := c.Call(&hash, "eth_sendTransaction", map[string]interface{}{"from": addr0, "to": addr2, "value": "0x1234"}); err != nil {
		t.Fatal(err)
	}
	whale := "0x00000000000000000000000000000000000a11ce"
	if err := c.Call(nil, "anvil_setBalance", whale, "0xabcdef"); err != nil {
		t.Fatal(err)
	}
	if err := c.Call(nil, "anvil_mine", "0x2"); err != nil {
		t.Fatal(err)
	}
	var before map[string]interface{}
	if err := c.Call(&before, "eth_getBlockByNumber", "latest", false); err != nil {
		t.Fatal(err)
	}
	d.kill(syscall.SIGTERM)
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("no state file after a graceful stop: %v", err)
	}

	d = startDevnet(t, "--automine", "--roles", all, "--state", file)
	c = d.client(t)
	var after map[string]interface{}
	if err := c.Call(&after, "eth_getBlockByNumber", "latest", false); err != nil {
		t.Fatal(err)
	}
	if after["hash"] != before["hash"] || after["number"] != before["number"] {
		t.Fatalf("head after restart %v %v, before %v %v", after["number"], after["hash"], before["number"], before["hash"])
	}
	var genesisAfter map[string]interface{}
	if err := c.Call(&genesisAfter, "eth_getBlockByNumber", "0x0", false); err != nil || genesisAfter["hash"] != genesis["hash"] {
		t.Fatalf("genesis after restart %v (%v), before %v", genesisAfter["hash"], err, genesis["hash"])
	}
	var receipt map[string]interface{}
	if err := c.Call(&receipt, "eth_getTransactionReceipt", hash); err != nil || receipt == nil || receipt["status"] != "0x1" {
		t.Fatalf("receipt after restart: %v %v", receipt, err)
	}
	var bal hexutil.Big
	if err := c.Call(&bal, "eth_getBalance", whale, "latest"); err != nil || bal.ToInt().Uint64() != 0xabcdef {
		t.Fatalf("edited balance after restart: %v %v", bal.ToInt(), err)
	}
	replica, err := gethrpc.Dial(d.ReplicaURL)
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var head map[string]interface{}
		if err := replica.Call(&head, "eth_getBlockByNumber", before["number"], false); err == nil && head != nil {
			if head["hash"] != before["hash"] {
				t.Fatalf("the replica rebuilt another block: %v", head["hash"])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replica did not catch up with the rebuilt chain")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// anvil_reset with forking parameters but no URL, on a node that did not
// start forked, is refused with anvil's own error on both nodes.
func TestResetForkingWithoutURL(t *testing.T) {
	anvil := startAnvil(t)
	d := startDevnet(t, "--automine")
	for name, url := range map[string]string{"anvil": anvil.URL, "meganode": d.URL} {
		c, err := gethrpc.Dial(url)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Call(nil, "anvil_reset", map[string]interface{}{"forking": map[string]interface{}{"blockNumber": 1}})
		c.Close()
		var rpcErr gethrpc.Error
		if !errors.As(err, &rpcErr) || rpcErr.ErrorCode() != -32602 || !strings.Contains(err.Error(), "Forking not enabled and RPC URL not provided to start forking") {
			t.Errorf("%s: anvil_reset {forking:{blockNumber:1}} answered %v, want -32602 Forking not enabled and RPC URL not provided", name, err)
		}
	}
}
