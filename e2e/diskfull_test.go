package e2e

import (
	"context"
	"encoding/json"
	"errors"
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
	if os.Geteuid() != 0 {
		t.Skip("skipped: mounting the 48 MiB tmpfs this test fills needs root (run the e2e tests as root)")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("skipped: cannot mount a tmpfs: %v: %s", err, out)
	}
	// Registered before the node starts, so it runs after the node is killed.
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
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

	// Fill the disk.
	fill := filepath.Join(mnt, "fill")
	f, err := os.Create(fill)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			break
		}
	}
	f.Close()
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
