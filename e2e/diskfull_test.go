package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
)

// TestSequencerDiskFull runs a sequencer on a 48 MiB tmpfs, fills the disk,
// and checks that sends fail at once with a clear error, /ready answers 503
// with the reason, and that after the space is freed it resumes by itself
// with every preconfirmed tx on chain. It mounts, so it needs root.
func TestSequencerDiskFull(t *testing.T) {
	mnt := mountTmpfs(t, 48)
	seq := startMeganode(t, "sequencer", "--datadir", filepath.Join(mnt, "seq"), "--p2p.listen", "/ip4/127.0.0.1/tcp/0",
		"--datadir.min-free", "16", "--miniblock-eager=false")
	c := seq.client(t)
	ctx := context.Background()

	var preconfirmed []common.Hash
	nonce := uint64(0)
	sendSync := func() error {
		tx, raw := signedTransfer(t, key0, nonce)
		var receipt map[string]interface{}
		if err := c.CallContext(ctx, &receipt, "eth_sendRawTransactionSync", raw, 5000); err != nil {
			return err
		}
		preconfirmed = append(preconfirmed, tx.Hash())
		nonce++
		return nil
	}
	for i := 0; i < 5; i++ {
		if err := sendSync(); err != nil {
			t.Fatalf("send %d before the disk fills: %v", i, err)
		}
	}

	fill := fillDisk(t, mnt)
	waitFor(t, "/ready to answer 503", func() bool {
		status, _ := ready(t, seq)
		return status == http.StatusServiceUnavailable
	})
	if status, reason := ready(t, seq); status != http.StatusServiceUnavailable || !strings.Contains(reason, "disk full") {
		t.Fatalf("/ready: %d %q, want 503 with a disk-full reason", status, reason)
	}
	// Every send answers at once with the reason, none hangs.
	for _, method := range []string{"eth_sendRawTransaction", "eth_sendRawTransactionSync"} {
		_, raw := signedTransfer(t, key0, nonce)
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		var out json.RawMessage
		err := c.CallContext(cctx, &out, method, raw)
		cancel()
		var rpcErr gethrpc.Error
		if !errors.As(err, &rpcErr) || !strings.Contains(err.Error(), "disk full") {
			t.Fatalf("%s on a full disk: %v (%s), want a JSON-RPC disk-full error", method, err, out)
		}
	}

	// Free the space: the sequencer resumes by itself.
	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "/ready to answer 200", func() bool {
		status, _ := ready(t, seq)
		return status == http.StatusOK
	})
	for i := 0; i < 3; i++ {
		if err := sendSync(); err != nil {
			t.Fatalf("send %d after space was freed: %v", i, err)
		}
	}
	// Every preconfirmed tx, from before and after, seals into a block.
	for _, h := range preconfirmed {
		waitFor(t, "tx "+h.Hex()+" to seal", func() bool {
			var r struct {
				BlockHash common.Hash    `json:"blockHash"`
				Status    hexutil.Uint64 `json:"status"`
			}
			if err := c.CallContext(ctx, &r, "eth_getTransactionReceipt", h); err != nil {
				return false
			}
			return r.BlockHash != (common.Hash{}) && r.BlockHash != common.MaxHash && r.Status == 1
		})
	}
	if strings.Contains(seq.logs.String(), "panic") {
		t.Fatalf("the sequencer panicked:\n%s", seq.logs.String())
	}
}

// TestFollowersDiskFull runs a replica and a full node on one tmpfs (their
// default 256 MiB minimum free space; the sequencer's disk has room), fills
// it, and checks that both pause with /ready 503 naming the data directory
// while they keep serving, and that after the space is freed they catch up
// by themselves with the sequencer's block hashes. The tmpfs has room for the
// minimum and both 32 MiB ballasts, which pebble's writes on the full disk
// delete and the resumed stores write again. It mounts, so it needs root.
func TestFollowersDiskFull(t *testing.T) {
	mnt := mountTmpfs(t, 512)
	net := startSequencer(t, "--miniblock-eager=false")
	seqC := net.seq.client(t)
	followers := map[string]*devnet{
		"replica":  net.follower(t, "replica", filepath.Join(mnt, "replica"), net.seq.P2P),
		"fullnode": net.follower(t, "fullnode", filepath.Join(mnt, "fullnode"), net.seq.P2P),
	}
	t.Cleanup(func() {
		if t.Failed() {
			for name, f := range followers {
				t.Logf("%s logs:\n%s", name, f.logs.String())
			}
		}
	})
	nonce := uint64(0)
	send := func() common.Hash {
		tx, raw := signedTransfer(t, key0, nonce)
		var receipt map[string]interface{}
		if err := seqC.CallContext(context.Background(), &receipt, "eth_sendRawTransactionSync", raw, 5000); err != nil {
			t.Fatalf("send %d: %v", nonce, err)
		}
		nonce++
		return tx.Hash()
	}
	send()
	head := uint64(headerAt(t, seqC, "latest").Number) + 1
	for name, f := range followers {
		waitBlock(t, name, f.client(t), head)
	}

	fill := fillDisk(t, mnt)
	paused := map[string]uint64{}
	for name, f := range followers {
		waitFor(t, name+" /ready to answer 503", func() bool {
			status, _ := ready(t, f)
			return status == http.StatusServiceUnavailable
		})
		if status, reason := ready(t, f); !strings.Contains(reason, "disk full: "+filepath.Join(mnt, name)) || !strings.Contains(reason, "MiB free") {
			t.Fatalf("%s /ready: %d %q, want 503 naming the data directory and its free space", name, status, reason)
		}
		paused[name] = uint64(headerAt(t, f.client(t), "latest").Number)
	}
	// The sequencer goes on (with a tx the followers get after the pause);
	// the followers stay where they paused and keep serving.
	during := send()
	after := uint64(headerAt(t, seqC, "latest").Number) + 2
	waitBlock(t, "sequencer", seqC, after)
	for name, f := range followers {
		if h := headerAt(t, f.client(t), "latest"); h == nil || uint64(h.Number) != paused[name] {
			t.Fatalf("%s head %v on a full disk, paused at %d", name, h, paused[name])
		}
	}

	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	for name, f := range followers {
		c := f.client(t)
		waitBlock(t, name, c, after)
		for n := uint64(1); n <= after; n++ {
			want, got := headerAt(t, seqC, hexutil.EncodeUint64(n)), headerAt(t, c, hexutil.EncodeUint64(n))
			if got == nil || got.Hash != want.Hash {
				t.Fatalf("%s block %d = %+v after resuming, sequencer's %s", name, n, got, want.Hash)
			}
		}
		var r struct {
			BlockHash common.Hash `json:"blockHash"`
		}
		if err := c.Call(&r, "eth_getTransactionReceipt", during); err != nil || r.BlockHash == (common.Hash{}) {
			t.Fatalf("%s receipt of the tx sent during the pause: %+v, %v", name, r, err)
		}
		if status, reason := ready(t, f); status != http.StatusOK {
			t.Fatalf("%s /ready after resuming: %d %q", name, status, reason)
		}
		if strings.Contains(f.logs.String(), "panic") || strings.Contains(f.logs.String(), "halted") {
			t.Fatalf("%s panicked or halted:\n%s", name, f.logs.String())
		}
	}
}

// mountTmpfs mounts a tmpfs of sizeMB and unmounts it after the test (and
// the processes it started: register it first). Not root: the test skips.
func mountTmpfs(t *testing.T, sizeMB int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("skipped: mounting the %d MiB tmpfs this test fills needs root (run the e2e tests as root)", sizeMB)
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm", sizeMB), "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("skipped: cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	return mnt
}

// fillDisk writes a file in dir until the disk is full and returns its path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	fill := filepath.Join(dir, "fill")
	f, err := os.Create(fill)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			return fill
		}
	}
}

// ready returns /ready's status code and reason.
func ready(t *testing.T, d *devnet) (int, string) {
	t.Helper()
	resp, err := http.Get(d.URL + "/ready")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var body struct {
		Reason string `json:"reason"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Reason
}

// TestHADiskFull runs three HA candidates, each on its own 96 MiB tmpfs (a new data directory takes about 40 MiB with its two ballasts), and
// fills the leader's: it refuses sends at once with the disk-full error,
// /ready answers 503 with the reason, and leadership moves to a healthy
// candidate within a failover; the full standby then answers sends with the
// not-leader error naming the new leader, /ready still 503. Once the space is freed the full candidate
// catches up as a standby by itself, and every preconfirmed tx, from before
// and after, is on chain exactly once at its position on both. It mounts, so
// it needs root.
func TestHADiskFull(t *testing.T) {
	mnts := map[string]string{}
	for _, id := range []string{"a", "b", "c"} {
		mnts[id] = mountTmpfs(t, 96)
	}
	s := newHASet(t, "a", "b", "c")
	s.extra = []string{"--datadir.min-free", "16", "--miniblock-eager=false"}
	for _, c := range s.cands {
		c.dir = filepath.Join(mnts[c.id], "seq")
		s.start(t, c)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, c := range s.cands { // what went wrong, without the per-block lines
			var lines []string
			for _, l := range strings.Split(c.d.logs.String(), "\n") {
				if !strings.Contains(l, `"level":"info"`) && !strings.Contains(l, `"level":"debug"`) {
					lines = append(lines, l)
				}
			}
			t.Logf("candidate %s warnings and errors:\n%s", c.id, strings.Join(lines, "\n"))
		}
	})
	clients := map[*candidate]*gethrpc.Client{}
	for _, c := range s.cands {
		clients[c] = c.d.client(t)
	}
	full := s.leader(t, nil)
	ctx := context.Background()
	type sent struct {
		hash  common.Hash
		nonce uint64
	}
	var preconfirmed []sent
	nonce := uint64(0)
	sendSync := func(c *candidate) error {
		tx, raw := signedTransfer(t, key0, nonce)
		var receipt map[string]interface{}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := clients[c].CallContext(cctx, &receipt, "eth_sendRawTransactionSync", raw, 5000); err != nil {
			return err
		}
		preconfirmed = append(preconfirmed, sent{tx.Hash(), nonce})
		nonce++
		return nil
	}
	for i := 0; i < 5; i++ {
		if err := sendSync(full); err != nil {
			t.Fatalf("send %d before the disk fills: %v", i, err)
		}
	}

	fill := fillDisk(t, mnts[full.id])
	filled := time.Now()
	// Every send to it answers at once with the reason, none hangs.
	waitFor(t, "the full leader to refuse sends", func() bool {
		_, raw := signedTransfer(t, key0, nonce)
		var out json.RawMessage
		return clients[full].CallContext(ctx, &out, "eth_sendRawTransaction", raw) != nil
	})
	// While it is the raft leader it answers disk full; it hands over
	// within a health check, and from then on answers as a standby.
	send := func(method string) (json.RawMessage, error) {
		_, raw := signedTransfer(t, key0, nonce)
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var out json.RawMessage
		err := clients[full].CallContext(cctx, &out, method, raw)
		return out, err
	}
	for _, method := range []string{"eth_sendRawTransaction", "eth_sendRawTransactionSync"} {
		out, err := send(method)
		var rpcErr gethrpc.Error
		if !errors.As(err, &rpcErr) || !strings.Contains(err.Error(), "disk full") && rpcErr.ErrorCode() != chain.CodeNotLeader {
			t.Fatalf("%s on a full disk: %v (%s), want a JSON-RPC disk-full or, once it handed over, not-leader error", method, err, out)
		}
	}
	if status, reason := ready(t, full.d); status != http.StatusServiceUnavailable || !strings.Contains(reason, "disk full") {
		t.Fatalf("/ready of the full candidate: %d %q, want 503 with a disk-full reason", status, reason)
	}
	next := s.leader(t, full)
	if took := time.Since(filled); took > failoverLimit()+time.Second {
		t.Fatalf("leadership left the full candidate after %v", took)
	}
	// A full standby answers sends like any standby, with the retryable
	// not-leader error naming the leader: the leader can take the tx.
	for _, method := range []string{"eth_sendRawTransaction", "eth_sendRawTransactionSync", "realtime_sendRawTransaction"} {
		out, err := send(method)
		var rpcErr gethrpc.Error
		if !errors.As(err, &rpcErr) || rpcErr.ErrorCode() != chain.CodeNotLeader || strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "leader is "+next.id) {
			t.Fatalf("%s to the full standby: %v (%s), want the not-leader error %d naming %s", method, err, out, chain.CodeNotLeader, next.id)
		}
	}
	if status, reason := ready(t, full.d); status != http.StatusServiceUnavailable || !strings.Contains(reason, "disk full") {
		t.Fatalf("/ready of the full standby: %d %q, want 503 with a disk-full reason", status, reason)
	}
	for i := 0; i < 3; i++ {
		if err := sendSync(next); err != nil {
			t.Fatalf("send %d to the new leader %s: %v", i, next.id, err)
		}
	}
	if st, err := haStatus(full.d.URL); err != nil || st.Leading {
		t.Fatalf("the full candidate's status %+v (%v): leading on a full disk", st, err)
	}

	// Free the space: it catches up as a standby by itself.
	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	if err := sendSync(next); err != nil {
		t.Fatalf("send after space was freed: %v", err)
	}
	lastHash := preconfirmed[len(preconfirmed)-1].hash
	waitFor(t, "the freed candidate to have the new leader's txs", func() bool {
		return receiptOf(ctx, clients[full], lastHash).BlockHash != (common.Hash{})
	})
	if status, reason := ready(t, full.d); status != http.StatusServiceUnavailable || strings.Contains(reason, "disk full") || !strings.Contains(reason, "standby") {
		t.Fatalf("/ready of the freed standby: %d %q, want 503 naming a standby", status, reason)
	}
	_, raw := signedTransfer(t, key0, nonce)
	var out json.RawMessage
	if err := clients[full].CallContext(ctx, &out, "eth_sendRawTransaction", raw); err == nil || strings.Contains(err.Error(), "disk full") {
		t.Fatalf("send to the freed standby: %v, want a not-leader refusal", err)
	}

	// Every preconfirmed tx seals exactly once, at its nonce's position, in
	// the same block on the new leader and on the freed standby.
	for _, p := range preconfirmed {
		var r sealedReceipt
		waitFor(t, "tx "+p.hash.Hex()+" to seal", func() bool {
			r = receiptOf(ctx, clients[next], p.hash)
			return r.BlockHash != (common.Hash{}) && r.BlockHash != common.MaxHash
		})
		if r.Status != 1 {
			t.Fatalf("tx %s (nonce %d) failed", p.hash, p.nonce)
		}
		for _, c := range []*candidate{next, full} {
			var block struct {
				Hash         common.Hash   `json:"hash"`
				Transactions []common.Hash `json:"transactions"`
			}
			waitFor(t, "block "+r.BlockNumber.String()+" on "+c.id, func() bool {
				return clients[c].CallContext(ctx, &block, "eth_getBlockByNumber", r.BlockNumber, false) == nil && block.Hash != (common.Hash{})
			})
			if block.Hash != r.BlockHash || int(r.TransactionIndex) >= len(block.Transactions) || block.Transactions[r.TransactionIndex] != p.hash {
				t.Fatalf("%s: block %v (%s) does not hold tx %s at %d", c.id, r.BlockNumber, block.Hash, p.hash, r.TransactionIndex)
			}
		}
	}
	var count hexutil.Uint64
	if err := clients[next].CallContext(ctx, &count, "eth_getTransactionCount", addr0, "latest"); err != nil || uint64(count) != nonce {
		t.Fatalf("sender nonce %d (%v), want %d: a tx landed twice or was lost", count, err, nonce)
	}
	for _, c := range s.cands {
		if l := c.d.logs.String(); strings.Contains(l, "panic") || strings.Contains(l, "sequencer halted") {
			t.Fatalf("candidate %s panicked or halted:\n%s", c.id, l)
		}
	}
}

// sealedReceipt is the part of a receipt that places a tx in a block.
type sealedReceipt struct {
	BlockHash        common.Hash    `json:"blockHash"`
	BlockNumber      hexutil.Uint64 `json:"blockNumber"`
	TransactionIndex hexutil.Uint64 `json:"transactionIndex"`
	Status           hexutil.Uint64 `json:"status"`
}

func receiptOf(ctx context.Context, c *gethrpc.Client, h common.Hash) sealedReceipt {
	var r sealedReceipt
	_ = c.CallContext(ctx, &r, "eth_getTransactionReceipt", h)
	return r
}
