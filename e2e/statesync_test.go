package e2e

import (
	"math/big"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
)

// TestStateSyncJoin: a replica started with an empty data directory and
// --sync.mode snap beside a sequencer that has sealed blocks joins from a
// recent block's state fetched over p2p: its first block is the
// sequencer's (hash and root), it holds no earlier body, its balances are
// the sequencer's, and it follows the live chain from there.
func TestStateSyncJoin(t *testing.T) {
	net := startSequencer(t)
	seq := dial(t, net.seq.URL)
	key := mustKey(t, key0)
	const to = "0x0000000000000000000000000000000000005a5c"
	for i := uint64(0); i < 3; i++ {
		waitReceipt(t, seq, sendTransfer(t, seq, key, i, to, big.NewInt(params1Gwei)), false)
	}
	waitBlock(t, "sequencer", seq, 3)

	rep := startMeganode(t, "replica", "--datadir", filepath.Join(t.TempDir(), "replica"), "--p2p.listen", "/ip4/127.0.0.1/tcp/0",
		"--p2p.peers", net.seq.P2P, "--sequencer.address", crypto.PubkeyToAddress(net.seqKey.PublicKey).Hex(), "--sequencer.url", net.seq.URL,
		"--sync.mode", "snap")
	waitFor(t, "the replica's state sync", func() bool { return strings.Contains(rep.logs.String(), "state sync done") })
	rc := dial(t, rep.URL)
	first := headerAt(t, rc, "latest")
	if first == nil || first.Number < 3 {
		t.Fatalf("replica's first block %+v: it did not start from a recent one", first)
	}
	if want := headerAt(t, seq, hexutil.EncodeUint64(uint64(first.Number))); want.Hash != first.Hash || want.StateRoot != first.StateRoot {
		t.Fatalf("replica's block %d is %s, the sequencer's %s", first.Number, first.Hash, want.Hash)
	}
	if h := headerAt(t, rc, "0x1"); h != nil {
		t.Fatal("the synced replica serves block 1: it replayed")
	}
	var bal, seqBal hexutil.Big
	if err := rc.Call(&bal, "eth_getBalance", to, hexutil.EncodeUint64(uint64(first.Number))); err != nil {
		t.Fatal(err)
	}
	if err := seq.Call(&seqBal, "eth_getBalance", to, hexutil.EncodeUint64(uint64(first.Number))); err != nil || bal.ToInt().Cmp(seqBal.ToInt()) != 0 || bal.ToInt().Sign() == 0 {
		t.Fatalf("balance at block %d: replica %s, sequencer %s (%v)", first.Number, bal.ToInt(), seqBal.ToInt(), err)
	}
	// Live: a transfer after the sync is sealed and served by the replica
	// in the sequencer's block.
	r := waitReceipt(t, rc, sendTransfer(t, rc, key, 3, to, big.NewInt(params1Gwei)), true)
	if h := waitBlock(t, "replica", rc, uint64(r.BlockNumber)); h.Hash != r.BlockHash || headerAt(t, seq, hexutil.EncodeUint64(uint64(r.BlockNumber))).Hash != h.Hash {
		t.Fatalf("block %d after the sync differs from the sequencer's", r.BlockNumber)
	}
}

const params1Gwei = 1_000_000_000
