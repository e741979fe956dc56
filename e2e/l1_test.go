package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/meganode/meganode/l1"
)

// anvil's and Hardhat's first two test keys: funded on anvil; the test
// funds them on geth --dev.
const (
	l1DeployerKey = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
	l1UserKey     = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
)

// TestDepositsFromL1: with a real L1 (anvil 1.7.1, geth 1.17.5 --dev) the
// contracts are deployed by `meganode l1 deploy`, a sequencer started with
// --l1.url takes a deposit sent with `cast send` to the portal, and the
// L2 balance, the deposit transaction and its receipt are served through
// the gateway from a replica.
func TestDepositsFromL1(t *testing.T) {
	t.Run("anvil", func(t *testing.T) {
		// --slots-in-an-epoch 1: blocks are finalized at once, as the
		// issue's L1 is run; --block-time: the confirmations come.
		a := startAnvil(t, "--block-time", "1", "--slots-in-an-epoch", "1")
		depositThroughGateway(t, a.URL)
	})
	t.Run("geth", func(t *testing.T) {
		url := startGethDev(t)
		// geth --dev funds its own account only: it sends the test keys ETH.
		dev := run(t, "", tool(t, "cast"), "rpc", "--rpc-url", url, "eth_accounts")
		var accounts []common.Address
		if err := json.Unmarshal([]byte(dev), &accounts); err != nil || len(accounts) == 0 {
			t.Fatalf("geth dev accounts %q: %v", dev, err)
		}
		for _, k := range []string{l1DeployerKey, l1UserKey} {
			key, _ := crypto.HexToECDSA(k)
			run(t, "", tool(t, "cast"), "send", "--rpc-url", url, "--unlocked", "--from", accounts[0].Hex(),
				crypto.PubkeyToAddress(key.PublicKey).Hex(), "--value", "100ether")
		}
		depositThroughGateway(t, url)
	})
}

// TestL1DownKeepsProducing: a sequencer whose L1 does not answer goes on
// making blocks (without deposits) and says why in its log.
func TestL1DownKeepsProducing(t *testing.T) {
	net := startSequencer(t, "--l1.url", "http://127.0.0.1:1", "--l1.portal", "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512", "--l1.poll", "100ms")
	waitBlock(t, "sequencer with its L1 down", dial(t, net.seq.URL), 3)
	waitFor(t, "the L1 failure in the log", func() bool {
		return strings.Contains(net.seq.logs.String(), "L1 unreachable: no new deposits until it answers")
	})
}

func depositThroughGateway(t *testing.T, l1URL string) {
	start := time.Now()
	defer func() { t.Logf("took %s", time.Since(start)) }()
	out := run(t, "", meganodeBin(t), "l1", "deploy", "--l1.url", l1URL, "--private-key", l1DeployerKey)
	var dep struct {
		Portal     common.Address `json:"portal"`
		StartBlock uint64         `json:"startBlock"`
	}
	if err := json.Unmarshal([]byte(out), &dep); err != nil || dep.Portal == (common.Address{}) {
		t.Fatalf("meganode l1 deploy printed %q: %v", out, err)
	}
	t.Logf("deployed at %s", time.Since(start))
	net := startSequencer(t, "--l1.url", l1URL, "--l1.portal", dep.Portal.Hex(), "--l1.start-block", strconv.FormatUint(dep.StartBlock, 10),
		"--l1.confirmations", "1", "--l1.poll", "200ms")
	rep := net.follower(t, "replica", t.TempDir(), net.seq.P2P)
	gw := startMeganode(t, "gateway", "--sequencer", net.seq.URL, "--replica", rep.URL)

	t.Logf("network up at %s", time.Since(start))
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	to := crypto.PubkeyToAddress(key.PublicKey) // empty on L2
	// depositTransaction(to, value, gasLimit, isCreation, data), minting 1 ETH
	r := run(t, "", tool(t, "cast"), "send", "--json", "--rpc-url", l1URL, "--private-key", l1UserKey, dep.Portal.Hex(),
		"depositTransaction(address,uint256,uint64,bool,bytes)", to.Hex(), "1000000000000000000", "100000", "false", "0x", "--value", "1ether")
	var sent struct {
		TransactionHash common.Hash `json:"transactionHash"`
		Status          string      `json:"status"`
	}
	if err := json.Unmarshal([]byte(r), &sent); err != nil || sent.Status != "0x1" {
		t.Fatalf("cast send to the portal: %s (%v)", r, err)
	}
	sentAt := time.Now()
	ctx := context.Background()
	l1c, err := ethclient.Dial(l1URL)
	if err != nil {
		t.Fatal(err)
	}
	defer l1c.Close()
	receipt, err := l1c.TransactionReceipt(ctx, sent.TransactionHash)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := l1.DepositsFromReceipt(receipt, dep.Portal)
	if err != nil || len(ds) != 1 {
		t.Fatalf("deposits in the L1 receipt: %d (%v)", len(ds), err)
	}
	l2Hash := ds[0].Hash()

	c := dial(t, gw.URL)
	want := big.NewInt(1e18)
	waitFor(t, "the deposit's balance through the gateway", func() bool {
		var bal hexutil.Big
		return c.Call(&bal, "eth_getBalance", to, "latest") == nil && bal.ToInt().Cmp(want) == 0
	})
	t.Logf("L2 balance visible through the gateway %s after the L1 receipt (L1 block %d, 1 confirmation)", time.Since(sentAt).Round(time.Millisecond), receipt.BlockNumber)
	var rc map[string]any
	waitFor(t, "the deposit's receipt through the gateway", func() bool {
		return c.Call(&rc, "eth_getTransactionReceipt", l2Hash) == nil && rc != nil
	})
	if rc["type"] != "0x7e" || rc["status"] != "0x1" || rc["transactionIndex"] != "0x0" {
		t.Fatalf("deposit receipt through the gateway: %v", rc)
	}
	var tx map[string]any
	if err := dial(t, rep.URL).Call(&tx, "eth_getTransactionByHash", l2Hash); err != nil || tx == nil {
		t.Fatalf("replica has no deposit %s: %v", l2Hash, err)
	}
	if tx["sourceHash"] != ds[0].SourceHash.Hex() || tx["mint"] != "0xde0b6b3a7640000" {
		t.Fatalf("replica's deposit %v, want source hash %s", tx, ds[0].SourceHash)
	}
	block := rc["blockNumber"].(string)
	if s, r := headerAt(t, dial(t, net.seq.URL), block), headerAt(t, dial(t, rep.URL), block); s == nil || r == nil || s.Hash != r.Hash {
		t.Fatalf("block %s: sequencer %+v, replica %+v", block, s, r)
	}
}

var gethHTTPRe = regexp.MustCompile(`HTTP server started\s+endpoint=(127\.0\.0\.1:\d+)`)

// startGethDev runs bin/geth-v1.17.5 (built by make, as the gethdiff suite
// uses it) in --dev mode with a block a second, on ephemeral ports.
func startGethDev(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	bin := filepath.Join(filepath.Dir(file), "..", "bin", "geth-v1.17.5")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("geth 1.17.5 not built (run `make bin/geth-v1.17.5`): %v", err)
	}
	cmd := exec.Command(bin, "--dev", "--dev.period", "1", "--datadir", t.TempDir(), "--ipcdisable", "--port", "0", "--nodiscover", "--maxpeers", "0",
		"--http", "--http.addr", "127.0.0.1", "--http.port", "0", "--http.api", "eth,net,web3", "--authrpc.port", "0", "--verbosity", "3")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := gethHTTPRe.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case a := <-addr:
		return "http://" + a
	case <-exited:
		t.Fatal("geth exited at start")
	case <-time.After(30 * time.Second):
		t.Fatal("geth did not start")
	}
	return ""
}
