package e2e

import (
	"math/big"
	"strings"
	"syscall"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"
)

// A devnet on a data directory keeps the path scheme: blocks older than
// --state.history answer geth's "historical state is not available", recent
// ones answer, and after kill -9 the state on disk, behind the head, is
// recovered from the stored diffs.
func TestStateHistoryWindow(t *testing.T) {
	key := mustKey(t, key0)
	dir := t.TempDir()
	args := []string{"--datadir", dir, "--state.history", "32", "--roles", "sequencer"}
	d := startDevnet(t, args...)
	c := d.client(t)
	r := waitReceipt(t, c, sendTransfer(t, c, key, 0, addr3, big.NewInt(1)), true)
	paid := uint64(r.BlockNumber)
	var ok bool
	if err := c.Call(&ok, "hardhat_mine", hexutil.Uint64(300)); err != nil {
		t.Fatal(err)
	}
	var head hexutil.Uint64
	if err := c.Call(&head, "eth_blockNumber"); err != nil {
		t.Fatal(err)
	}
	if uint64(head) < paid+300 {
		t.Fatalf("head %d after mining 300 blocks on %d", head, paid)
	}
	balanceAt := func(n uint64) (*big.Int, error) {
		var bal hexutil.Big
		err := c.Call(&bal, "eth_getBalance", addr3, hexutil.Uint64(n))
		return bal.ToInt(), err
	}
	before, err := balanceAt(0)
	if err == nil || !strings.Contains(err.Error(), "historical state is not available") {
		t.Fatalf("balance at genesis, outside the 32-block window: %v, %v", before, err)
	}
	// The newest 128 states are diff layers in memory: 100 blocks back
	// answers at once. (Reads from the state history itself answer once
	// pathdb's first index pass has ended, which it checks every 15 s;
	// storage/pathstate_test.go tests them.)
	want, err := balanceAt(uint64(head))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := balanceAt(uint64(head) - 100); err != nil || got.Cmp(want) != 0 {
		t.Fatalf("balance 100 blocks back: %v, %v; want %v", got, err, want)
	}

	d.kill(syscall.SIGKILL)
	d = startDevnet(t, args...)
	c = d.client(t)
	if got, err := balanceAt(uint64(head)); err != nil || got.Cmp(want) != 0 {
		t.Fatalf("balance at block %d after kill -9: %v, %v; want %v", head, got, err, want)
	}
	if !strings.Contains(d.logs.String(), "state recovered") {
		t.Fatalf("no state recovery after kill -9:\n%s", d.logs.String())
	}
	// And the chain goes on from the recovered state (preconfirmed: the
	// mined blocks' timestamps run 300 s ahead of the clock).
	r = waitReceipt(t, c, sendTransfer(t, c, key, 1, addr3, big.NewInt(1)), false)
	if r.Status != 1 {
		t.Fatal("transfer after recovery failed")
	}
}
