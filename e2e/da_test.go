package e2e

import (
	"math/big"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/params"
)

type daCommitment struct {
	Seq           hexutil.Uint64 `json:"seq"`
	FirstBlock    hexutil.Uint64 `json:"firstBlock"`
	LastBlock     hexutil.Uint64 `json:"lastBlock"`
	LastBlockHash common.Hash    `json:"lastBlockHash"`
	Commitment    hexutil.Bytes  `json:"commitment"`
}

func blockNumber(t *testing.T, d *devnet) uint64 {
	t.Helper()
	var n hexutil.Uint64
	if err := d.client(t).Call(&n, "eth_blockNumber"); err != nil {
		t.Fatal(err)
	}
	return uint64(n)
}

// waitFor polls cond every 100 ms for up to a minute.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// commitments reads d's DA index from block 1 and checks it is contiguous.
func commitments(t *testing.T, d *devnet) []daCommitment {
	t.Helper()
	var cs []daCommitment
	if err := d.client(t).Call(&cs, "mega_getDACommitments", "0x1"); err != nil {
		t.Fatal(err)
	}
	for i, c := range cs {
		if i == 0 && c.FirstBlock != 1 || i > 0 && (c.FirstBlock != cs[i-1].LastBlock+1 || c.Seq != cs[i-1].Seq+1) {
			t.Fatalf("DA index not contiguous at %d: %+v", i, cs)
		}
	}
	return cs
}

func postedUpTo(t *testing.T, d *devnet) uint64 {
	cs := commitments(t, d)
	if len(cs) == 0 {
		return 0
	}
	return uint64(cs[len(cs)-1].LastBlock)
}

func patchDA(t *testing.T, da *devnet, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPatch, da.URL+"/memstore/config", strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PATCH /memstore/config %s: %s", body, resp.Status)
	}
}

// TestReplicaDerivesFromDAOnly: a sequencer posts every block to the DA
// server; a replica and a full node started later with no p2p peers derive
// the chain from DA alone and reach the same blocks and state as a replica
// fed over p2p.
func TestReplicaDerivesFromDAOnly(t *testing.T) {
	dir := t.TempDir()
	da := startMeganode(t, "da", "--port", "0", "--datadir", filepath.Join(dir, "da"))
	seqKey, seqAddr := writeKey(t, dir, "sequencer.key")
	seq := startMeganode(t, "sequencer", "--datadir", filepath.Join(dir, "seq"), "--sequencer.key", seqKey, "--p2p.listen", "/ip4/127.0.0.1/tcp/0",
		"--da.url", da.URL)
	follower := func(role, name string, args ...string) *devnet {
		return startMeganode(t, role, append([]string{"--datadir", filepath.Join(dir, name), "--p2p.listen", "/ip4/127.0.0.1/tcp/0",
			"--sequencer.address", seqAddr.Hex(), "--sequencer.url", seq.URL}, args...)...)
	}
	live := follower("replica", "live", "--p2p.peers", seq.P2P)

	c := seq.client(t)
	key := mustKey(t, key0)
	to := "0x00000000000000000000000000000000000da000"
	var last common.Hash
	for i := range 20 {
		last = sendTransfer(t, c, key, uint64(i), to, big.NewInt(params.GWei))
	}
	var receipt struct {
		BlockNumber hexutil.Uint64 `json:"blockNumber"`
		BlockHash   common.Hash    `json:"blockHash"`
	}
	waitFor(t, "the last transfer sealed and posted", func() bool {
		if err := c.Call(&receipt, "eth_getTransactionReceipt", last); err != nil {
			t.Fatal(err)
		}
		return receipt.BlockNumber > 0 && blockNumber(t, seq) > uint64(receipt.BlockNumber) && postedUpTo(t, seq) >= uint64(receipt.BlockNumber)
	})
	target := postedUpTo(t, seq)

	derived := follower("replica", "derived", "--da.url", da.URL, "--sync-from-da")
	// A full node re-executes what it derives, over the witnesses in the blobs.
	full := follower("fullnode", "full", "--da.url", da.URL, "--sync-from-da")
	waitFor(t, "the DA-derived replica and full node at the posted head", func() bool {
		return blockNumber(t, derived) >= target && blockNumber(t, full) >= target && blockNumber(t, live) >= target
	})
	for _, d := range []*devnet{derived, full} {
		if peers := metric(t, d, "meganode_p2p_peers"); peers != 0 {
			t.Fatalf("a node deriving from DA has %v p2p peers", peers)
		}
		if metric(t, d, "meganode_da_derived_blocks_total") < float64(target) {
			t.Fatalf("derived %v blocks, want %d", metric(t, d, "meganode_da_derived_blocks_total"), target)
		}
	}
	if v := metric(t, full, "meganode_fullnode_verified_blocks_total"); v < float64(target) {
		t.Fatalf("the full node verified %v blocks derived from DA, want %d", v, target)
	}
	for n := uint64(1); n <= target; n++ {
		var blocks [4]struct {
			Hash      common.Hash `json:"hash"`
			StateRoot common.Hash `json:"stateRoot"`
		}
		for i, d := range []*devnet{seq, live, derived, full} {
			if err := d.client(t).Call(&blocks[i], "eth_getBlockByNumber", hexutil.EncodeUint64(n), false); err != nil {
				t.Fatal(err)
			}
		}
		if blocks[1] != blocks[0] || blocks[2] != blocks[0] || blocks[3] != blocks[0] {
			t.Fatalf("block %d: sequencer %+v, p2p replica %+v, DA replica %+v, DA full node %+v", n, blocks[0], blocks[1], blocks[2], blocks[3])
		}
	}
	var balances [2]hexutil.Big
	for i, d := range []*devnet{live, derived} {
		if err := d.client(t).Call(&balances[i], "eth_getBalance", to, hexutil.EncodeUint64(target)); err != nil {
			t.Fatal(err)
		}
	}
	if balances[1].ToInt().Cmp(big.NewInt(20*params.GWei)) != 0 || balances[0].ToInt().Cmp(balances[1].ToInt()) != 0 {
		t.Fatalf("balance of the recipient: p2p %v, DA %v", balances[0].ToInt(), balances[1].ToInt())
	}
	// The derived replica serves the index of what it derived.
	if got := postedUpTo(t, derived); got < target {
		t.Fatalf("derived replica's DA index ends at %d, want %d", got, target)
	}
}

// TestDAOutageNeverStopsBlocks: a DA server that answers 503, then one that
// takes seconds per put, never holds up block production, and once DA
// answers every block is posted, contiguously.
func TestDAOutageNeverStopsBlocks(t *testing.T) {
	dir := t.TempDir()
	da := startMeganode(t, "da", "--port", "0", "--datadir", filepath.Join(dir, "da"))
	seqKey, _ := writeKey(t, dir, "sequencer.key")
	seq := startMeganode(t, "sequencer", "--datadir", filepath.Join(dir, "seq"), "--sequencer.key", seqKey, "--p2p.listen", "/ip4/127.0.0.1/tcp/0",
		"--da.url", da.URL)
	waitFor(t, "a first blob", func() bool { return postedUpTo(t, seq) >= 1 })

	patchDA(t, da, `{"PutReturnsFailoverError":true}`)
	downAt := blockNumber(t, seq)
	waitFor(t, "three blocks sealed while DA is down", func() bool { return blockNumber(t, seq) >= downAt+3 })
	if metric(t, seq, "meganode_da_unavailable_total") == 0 {
		t.Fatal("no 503 seen by the batcher")
	}
	patchDA(t, da, `{"PutReturnsFailoverError":false,"PutLatency":"3s"}`)
	slowAt := blockNumber(t, seq)
	waitFor(t, "three blocks sealed while DA is slow", func() bool { return blockNumber(t, seq) >= slowAt+3 })
	patchDA(t, da, `{"PutLatency":"0s"}`)
	head := blockNumber(t, seq)
	waitFor(t, "every block posted after the outage", func() bool { return postedUpTo(t, seq) >= head })
	commitments(t, seq) // contiguous from block 1
}

// TestSafeWaitsForDA: with a DA layer, a block is safe only once its blob
// is confirmed. A full node following gossip checks every blob against the
// blocks it holds; while DA is down its safe head stops at the last posted
// block, then catches up.
func TestSafeWaitsForDA(t *testing.T) {
	dir := t.TempDir()
	da := startMeganode(t, "da", "--port", "0", "--datadir", filepath.Join(dir, "da"))
	seqKey, seqAddr := writeKey(t, dir, "sequencer.key")
	proverKey, proverAddr := writeKey(t, dir, "prover.key")
	fin := []string{"--prover.addresses", proverAddr.Hex(), "--finality.window", "1s", "--da.url", da.URL}
	seq := startMeganode(t, "sequencer", append([]string{"--datadir", filepath.Join(dir, "seq"), "--sequencer.key", seqKey, "--p2p.listen", "/ip4/127.0.0.1/tcp/0"}, fin...)...)
	startMeganode(t, "prover", "--datadir", filepath.Join(dir, "prover"), "--prover.key", proverKey, "--sequencer.address", seqAddr.Hex(),
		"--p2p.listen", "/ip4/127.0.0.1/tcp/0", "--p2p.peers", seq.P2P)
	full := startMeganode(t, "fullnode", append([]string{"--datadir", filepath.Join(dir, "full"), "--p2p.listen", "/ip4/127.0.0.1/tcp/0", "--p2p.peers", seq.P2P,
		"--sequencer.address", seqAddr.Hex(), "--sequencer.url", seq.URL}, fin...)...)

	hash := sendTransfer(t, full.client(t), mustKey(t, key0), 0, "0x00000000000000000000000000000000000da5af", big.NewInt(params.GWei))
	for _, d := range []*devnet{seq, full} {
		f := pollFinality(t, d, d.URL, hash, "finalized")
		if f.Timestamps["available"] == 0 || f.Timestamps["safe"] < f.Timestamps["available"] {
			t.Fatalf("%s: safe at %d, DA blob confirmed at %d", d.URL, f.Timestamps["safe"], f.Timestamps["available"])
		}
	}

	patchDA(t, da, `{"PutReturnsFailoverError":true}`)
	posted := postedUpTo(t, seq)
	head := blockNumber(t, full)
	waitFor(t, "blocks sealed while DA is down", func() bool { return blockNumber(t, full) >= max(head, posted)+3 })
	// Verified and attested, but not in DA: not safe.
	for _, d := range []*devnet{seq, full} {
		var f finality
		if err := d.client(t).Call(&f, "mega_getFinality", "safe"); err != nil {
			t.Fatal(err)
		}
		if uint64(f.BlockNumber) > postedUpTo(t, seq) {
			t.Fatalf("%s: safe block %d is not posted to DA (posted up to %d)", d.URL, f.BlockNumber, postedUpTo(t, seq))
		}
	}
	patchDA(t, da, `{"PutReturnsFailoverError":false}`)
	target := blockNumber(t, full)
	pollFinality(t, full, full.URL, hexutil.Uint64(target), "finalized")
}

// TestDAFlagsRefuseGarbage: bad DA flags stop a command at start with a
// clear error, before it opens anything.
func TestDAFlagsRefuseGarbage(t *testing.T) {
	dir := t.TempDir()
	addr := "0x00000000000000000000000000000000000000aa"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"replica", "--datadir", filepath.Join(dir, "r1"), "--sequencer.address", addr, "--sequencer.url", "http://127.0.0.1:1", "--sync-from-da"}, "--sync-from-da needs --da.url"},
		{[]string{"fullnode", "--datadir", filepath.Join(dir, "r2"), "--sequencer.address", addr, "--sequencer.url", "http://127.0.0.1:1", "--da.url", "http://127.0.0.1:1", "--da.mode", "keccak"}, `--da.mode "keccak"`},
		{[]string{"sequencer", "--datadir", filepath.Join(dir, "s"), "--da.url", "ftp://127.0.0.1:1"}, "is not http(s)"},
		{[]string{"devnet", "--http.port", "0", "--da.mode", "bogus"}, `--da.mode "bogus"`},
	} {
		out, err := exec.Command(meganodeBin(t), tc.args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("meganode %v: err %v, output %s; want %q", tc.args, err, out, tc.want)
		}
	}
}
