package e2e

import (
	"bufio"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
)

// finality is the part of mega_getFinality's answer the tests read.
type finality struct {
	Stage       string                    `json:"stage"`
	BlockNumber hexutil.Uint64            `json:"blockNumber"`
	BlockHash   *common.Hash              `json:"blockHash"`
	Timestamps  map[string]hexutil.Uint64 `json:"timestamps"`
	OutputRoot  *common.Hash              `json:"outputRoot"`
	Dispute     *struct {
		BlockNumber hexutil.Uint64 `json:"blockNumber"`
		Reason      string         `json:"reason"`
	} `json:"dispute"`
}

// pollFinality asks url for target's finality until it reaches stage, as an
// exchange crediting a deposit does.
func pollFinality(t testing.TB, d *devnet, url string, target any, stage string) finality {
	t.Helper()
	c := (&devnet{URL: url}).client(t)
	deadline := time.Now().Add(60 * time.Second)
	var f finality
	for time.Now().Before(deadline) {
		f = finality{}
		if err := c.Call(&f, "mega_getFinality", target); err != nil {
			t.Fatalf("%s mega_getFinality(%v): %v", url, target, err)
		}
		if f.Stage == stage {
			return f
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %v stayed %q, want %q\n%s", url, target, f.Stage, stage, d.logs.String())
	return f
}

func writeKey(t testing.TB, dir, name string) (string, common.Address) {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(hexutil.Encode(crypto.FromECDSA(key))[2:]), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, crypto.PubkeyToAddress(key.PublicKey)
}

// peakRSS is a process's peak resident memory in bytes (VmHWM).
func peakRSS(t testing.TB, pid int) uint64 {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// TestExchangeDepositFinalizes runs a sequencer, a prover, a replica and a
// full node as processes and follows a deposit as an exchange would: sent
// through the replica, polled with mega_getFinality on every node until
// finalized, the full node's "finalized" block read with cast.
func TestExchangeDepositFinalizes(t *testing.T) {
	dir := t.TempDir()
	seqKey, seqAddr := writeKey(t, dir, "sequencer.key")
	proverKey, proverAddr := writeKey(t, dir, "prover.key")
	fin := []string{"--prover.addresses", proverAddr.Hex(), "--finality.window", "1s"}
	seq := startMeganode(t, "sequencer", append([]string{"--datadir", filepath.Join(dir, "seq"), "--sequencer.key", seqKey, "--p2p.listen", "/ip4/127.0.0.1/tcp/0"}, fin...)...)
	prover := startMeganode(t, "prover", "--datadir", filepath.Join(dir, "prover"), "--prover.key", proverKey, "--sequencer.address", seqAddr.Hex(),
		"--p2p.listen", "/ip4/127.0.0.1/tcp/0", "--p2p.peers", seq.P2P)
	var followers []*devnet
	for _, role := range []string{"replica", "fullnode"} {
		args := append([]string{"--datadir", filepath.Join(dir, role), "--p2p.listen", "/ip4/127.0.0.1/tcp/0", "--p2p.peers", seq.P2P,
			"--sequencer.address", seqAddr.Hex(), "--sequencer.url", seq.URL}, fin...)
		followers = append(followers, startMeganode(t, role, args...))
	}
	replica, full := followers[0], followers[1]

	// The deposit: a transfer to the exchange's address, sent through the replica.
	exchange := "0xe8c4a9e0000000000000000000000000000000e8"
	hash := sendTransfer(t, replica.client(t), mustKey(t, key0), 0, exchange, big.NewInt(params.Ether))
	var out []finality
	for _, d := range []*devnet{seq, replica, full} {
		f := pollFinality(t, d, d.URL, hash, "finalized")
		for _, stage := range []string{"sealed", "safe", "proven", "finalized"} {
			if f.Timestamps[stage] == 0 {
				t.Errorf("%s: no %s time in %+v", d.URL, stage, f)
			}
		}
		// The sequencer and the replica saw the deposit's mini-block.
		if pre := f.Timestamps["preconfirmed"]; (d != full) != (pre != 0) || pre > f.Timestamps["sealed"] {
			t.Errorf("%s: preconfirmed at %d, sealed at %d", d.URL, pre, f.Timestamps["sealed"])
		}
		if f.Timestamps["finalized"] < f.Timestamps["proven"]+1000 {
			t.Errorf("%s: finalized %d ms after proven, window is 1s", d.URL, f.Timestamps["finalized"]-f.Timestamps["proven"])
		}
		out = append(out, f)
	}
	for _, f := range out[1:] {
		if *f.BlockHash != *out[0].BlockHash || f.OutputRoot == nil || *f.OutputRoot != *out[0].OutputRoot {
			t.Fatalf("nodes disagree on the deposit's block or output root: %+v vs %+v", f, out[0])
		}
	}
	// cast reads the finalized block from the full node.
	got := run(t, "", tool(t, "cast"), "block", "finalized", "--field", "number", "--rpc-url", full.URL)
	n, err := strconv.ParseUint(got, 0, 64)
	if err != nil || n < uint64(out[0].BlockNumber) {
		t.Fatalf("cast block finalized: %q (%v), want at least %d", got, err, out[0].BlockNumber)
	}
	rss := peakRSS(t, prover.cmd.Process.Pid)
	t.Logf("prover peak RSS %d MiB", rss>>20)
	if rss > 512<<20 {
		t.Errorf("prover peak RSS %d MiB, above 512 MiB", rss>>20)
	}
}

// TestFaultyRootNeverFinalizes runs the devnet with a sequencer that seals
// block 3 with a wrong state root: the full node refuses it, the prover
// publishes a fraud proof, and on every node block 3 is disputed, nothing
// from it on is proven or finalized, and /ready says degraded.
func TestFaultyRootNeverFinalizes(t *testing.T) {
	d := startDevnet(t, "--dev.faulty-root-at", "3", "--finality.window", "500ms")
	urls := []string{d.URL, d.ReplicaURL, d.FullNodeURL}
	for _, url := range urls {
		if url == "" {
			t.Fatal("the devnet printed no replica or full node URL")
		}
		f := pollFinality(t, d, url, "0x3", "disputed")
		if f.Dispute == nil || f.Dispute.BlockNumber != 3 || f.Dispute.Reason == "" {
			t.Fatalf("%s: dispute %+v", url, f.Dispute)
		}
	}
	// Blocks keep coming on the sequencer; finality stays before block 3.
	pollFinality(t, d, d.URL, "0x6", "disputed")
	for _, url := range urls {
		c := (&devnet{URL: url}).client(t)
		var blk struct {
			Number hexutil.Uint64 `json:"number"`
		}
		if err := c.Call(&blk, "eth_getBlockByNumber", "finalized", false); err != nil {
			t.Fatal(err)
		}
		if blk.Number >= 3 {
			t.Errorf("%s: finalized block %d, at or after the disputed block 3", url, blk.Number)
		}
		var status map[string]any
		if code := getJSON(t, url+"/ready", &status); code != 503 || status["status"] != "degraded" || !strings.Contains(status["reason"].(string), "block 3") {
			t.Errorf("%s /ready: %d %v", url, code, status)
		}
	}
}

// TestMessagePasserBytecode compiles the message passer's source with solcjs
// and wants the runtime code the genesis deploys at 0x4200…0016.
func TestMessagePasserBytecode(t *testing.T) {
	src := filepath.Join(e2eDir(), "..", "chain", "contracts", "L2ToL1MessagePasser.sol")
	compiled := run(t, e2eDir(), "node", "js/predeploy.mjs", src)
	d := startDevnet(t, "--roles", "sequencer")
	var code hexutil.Bytes
	if err := d.client(t).Call(&code, "eth_getCode", "0x4200000000000000000000000000000000000016", "latest"); err != nil {
		t.Fatal(err)
	}
	if compiled != hexutil.Encode(code) {
		t.Fatalf("genesis code differs from the compiled source:\n genesis  %s\n compiled %s", hexutil.Encode(code), compiled)
	}
}
