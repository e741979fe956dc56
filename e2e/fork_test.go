package e2e

import (
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// TestForkedDevnet forks anvil as anvil's --fork-url would: the remote
// chain's accounts, code and storage read lazily at the fork block, its
// chain id, blocks going on from the fork point; writes stay local; forge
// runs tests on a fork of the forked devnet and broadcasts scripts to it;
// anvil_reset forks anew or ends forking.
func TestForkedDevnet(t *testing.T) {
	cast, forge := tool(t, "cast"), tool(t, "forge")
	remote := startAnvil(t)
	rc, err := gethrpc.Dial(remote.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	dir := foundryProject(t)
	// Three remote blocks: Counter(1) deployed, Counter(2) by CREATE2, the
	// first incremented to 2. Then blocks the fork skips over. --slow sends
	// each after the last one's receipt: sent at once, anvil's automine may
	// put the deploy and the increment in one block.
	run(t, dir, forge, "script", "script/Deploy.s.sol:Deploy", "--rpc-url", remote.URL, "--broadcast", "--slow", "--private-key", key1)
	bc := readBroadcastOn(t, dir, 31337)
	var counter string
	var deployBlock, lastBlock uint64
	for i, tx := range bc.Transactions {
		if tx.TransactionType == "CREATE" {
			counter = tx.ContractAddress
			deployBlock = uint64(bc.Receipts[i].BlockNumber)
		}
		lastBlock = uint64(bc.Receipts[i].BlockNumber)
	}
	if counter == "" || lastBlock <= deployBlock {
		t.Fatalf("remote deploy: counter %q in block %d, last tx in block %d: want the increment in a later block", counter, deployBlock, lastBlock)
	}
	const rich = "0x00000000000000000000000000000000000f0a01"
	if err := rc.Call(nil, "anvil_setBalance", rich, "0x1234"); err != nil {
		t.Fatal(err)
	}
	if err := rc.Call(nil, "anvil_mine", "0x3"); err != nil {
		t.Fatal(err)
	}
	var remoteHead hexutil.Uint64
	if err := rc.Call(&remoteHead, "eth_blockNumber"); err != nil {
		t.Fatal(err)
	}
	forkAt := uint64(remoteHead) - 1 // not the remote's latest: the block given is the one forked

	d := startDevnet(t, "--automine", "--fork-url", remote.URL, "--fork-block-number", strconv.FormatUint(forkAt, 10))
	c := d.client(t)
	call := func(args ...string) string {
		t.Helper()
		return strings.TrimSpace(run(t, "", cast, append(args, "--rpc-url", d.URL)...))
	}
	if id := call("chain-id"); id != "31337" {
		t.Fatalf("forked chain id %s, want the remote's 31337", id)
	}
	if n := call("block-number"); n != strconv.FormatUint(forkAt, 10) {
		t.Fatalf("forked devnet at block %s, want the fork block %d", n, forkAt)
	}
	if n := call("call", counter, "number()(uint256)"); n != "2" {
		t.Fatalf("remote counter reads %s on the fork, want 2", n)
	}
	if code, want := call("code", counter), strings.TrimSpace(run(t, "", cast, "code", counter, "--rpc-url", remote.URL)); code != want || len(code) < 10 {
		t.Fatalf("remote code on the fork: %d chars, want %d", len(code), len(want))
	}
	if bal := call("balance", rich); bal != "4660" {
		t.Fatalf("remote balance on the fork %s, want 4660 (0x1234)", bal)
	}
	var md struct {
		ForkedNetwork *struct {
			ChainID         uint64      `json:"chainId"`
			ForkBlockNumber uint64      `json:"forkBlockNumber"`
			ForkBlockHash   common.Hash `json:"forkBlockHash"`
		} `json:"forkedNetwork"`
	}
	if err := c.Call(&md, "hardhat_metadata"); err != nil {
		t.Fatal(err)
	}
	var remoteBlock struct {
		Hash common.Hash `json:"hash"`
	}
	if err := rc.Call(&remoteBlock, "eth_getBlockByNumber", hexutil.Uint64(forkAt), false); err != nil {
		t.Fatal(err)
	}
	if f := md.ForkedNetwork; f == nil || f.ForkBlockNumber != forkAt || f.ForkBlockHash != remoteBlock.Hash || f.ChainID != 31337 {
		t.Fatalf("hardhat_metadata forkedNetwork %+v, want block %d %s of chain 31337", f, forkAt, remoteBlock.Hash)
	}

	// A write goes to the fork only.
	out := run(t, "", cast, "send", counter, "increment()", "--private-key", key1, "--rpc-url", d.URL, "--json")
	var sent struct {
		BlockNumber hexutil.Uint64 `json:"blockNumber"`
		Status      string         `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &sent); err != nil || sent.Status != "0x1" {
		t.Fatalf("cast send on the fork: %s: %v", out, err)
	}
	if uint64(sent.BlockNumber) != forkAt+1 {
		t.Fatalf("first tx on the fork in block %d, want %d", sent.BlockNumber, forkAt+1)
	}
	if n := call("call", counter, "number()(uint256)"); n != "3" {
		t.Fatalf("counter on the fork after increment: %s, want 3", n)
	}
	if n := strings.TrimSpace(run(t, "", cast, "call", counter, "number()(uint256)", "--rpc-url", remote.URL)); n != "2" {
		t.Fatalf("the remote counter changed to %s: a fork must not write to its source", n)
	}

	t.Run("forge test forks the forked devnet", func(t *testing.T) {
		head := forkAt + 1
		env := []string{"COUNTER=" + counter, "WANT=3", "FORK_BLOCK=" + strconv.FormatUint(head, 10)}
		checkForgeTests(t, runEnv(t, dir, env, forge, "test", "--fork-url", d.URL, "--json"), 3)
	})
	t.Run("forge script broadcasts to the forked devnet", func(t *testing.T) {
		runEnv(t, dir, []string{"SALT=9"}, forge, "script", "script/Deploy.s.sol:Deploy", "--rpc-url", d.URL, "--broadcast", "--private-key", key1)
		bc := readBroadcastOn(t, dir, 31337)
		if len(bc.Receipts) != 3 {
			t.Fatalf("broadcast to the fork: %d receipts, want 3", len(bc.Receipts))
		}
		for _, r := range bc.Receipts {
			if r.Status != "0x1" {
				t.Fatalf("receipt status %s on the fork, want 0x1", r.Status)
			}
		}
	})

	t.Run("anvil_reset forks anew", func(t *testing.T) {
		// The remote block of the deploy: the counter is 1 there.
		if err := c.Call(nil, "anvil_reset", map[string]interface{}{"forking": map[string]interface{}{"jsonRpcUrl": remote.URL, "blockNumber": deployBlock}}); err != nil {
			t.Fatal(err)
		}
		if n := call("block-number"); n != strconv.FormatUint(deployBlock, 10) {
			t.Fatalf("reforked at block %s, want %d", n, deployBlock)
		}
		if n := call("call", counter, "number()(uint256)"); n != "1" {
			t.Fatalf("counter after refork at block %d: %s, want 1", deployBlock, n)
		}
		// Without a block: the remote's latest.
		if err := c.Call(nil, "anvil_reset", map[string]interface{}{"forking": map[string]interface{}{}}); err != nil {
			t.Fatal(err)
		}
		if n := call("block-number"); n != strconv.FormatUint(uint64(remoteHead), 10) {
			t.Fatalf("reforked at block %s, want the remote's latest %d", n, remoteHead)
		}
		// Without parameters: forking ends, the chain is the devnet's own.
		if err := c.Call(nil, "anvil_reset"); err != nil {
			t.Fatal(err)
		}
		if n := call("block-number"); n != "0" {
			t.Fatalf("unforked at block %s, want 0", n)
		}
		if code := call("code", counter); code != "0x" {
			t.Fatalf("unforked devnet still has the remote counter's code: %s", code)
		}
		var info struct {
			ForkConfig struct {
				ForkURL *string `json:"forkUrl"`
			} `json:"forkConfig"`
		}
		if err := c.Call(&info, "anvil_nodeInfo"); err != nil || info.ForkConfig.ForkURL != nil {
			t.Fatalf("anvil_nodeInfo after forking ended: forkUrl %v %v", info.ForkConfig.ForkURL, err)
		}
	})
}

// TestForkURLThatDoesNotAnswer: a fork endpoint that does not answer stops
// the devnet at start with an error naming it.
func TestForkURLThatDoesNotAnswer(t *testing.T) {
	const url = "http://127.0.0.1:1"
	cmd := exec.Command(meganodeBin(t), "devnet", "--http.port", "0", "--fork-url", url)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("devnet with a silent fork url still running after 30s:\n%s", out)
	}
	if err == nil {
		t.Fatalf("devnet started with a fork url that does not answer:\n%s", out)
	}
	if !strings.Contains(string(out), url) || !strings.Contains(string(out), "fork") {
		t.Fatalf("error does not name the fork url:\n%s", out)
	}
}
