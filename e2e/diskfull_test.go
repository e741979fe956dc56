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
