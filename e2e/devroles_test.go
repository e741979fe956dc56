package e2e

import (
	"errors"
	"math/big"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// TestDevSequencerAndFollowers: a sequencer run alone with --dev serves the
// dev methods and signs for the dev accounts; a replica and a full node
// started with --dev follow its state edits and its reverts. A sequencer
// without --dev answers the same methods −32601 naming the flag.
func TestDevSequencerAndFollowers(t *testing.T) {
	n := startSequencer(t, "--dev")
	dir := t.TempDir()
	replica := startMeganode(t, "replica", "--dev", "--datadir", filepath.Join(dir, "replica"), "--p2p.listen", "/ip4/127.0.0.1/tcp/0",
		"--sequencer.address", n.seq.Signer, "--sequencer.url", n.seq.URL, "--p2p.peers", n.seq.P2P)
	full := startMeganode(t, "fullnode", "--dev", "--datadir", filepath.Join(dir, "full"), "--p2p.listen", "/ip4/127.0.0.1/tcp/0",
		"--sequencer.address", n.seq.Signer, "--sequencer.url", n.seq.URL, "--p2p.peers", n.seq.P2P)
	seq := dial(t, n.seq.URL)
	rich := common.HexToAddress("0x00000000000000000000000000000000000dee01")
	balance := func(c *gethrpc.Client, tag string) *big.Int {
		t.Helper()
		var b hexutil.Big
		if err := c.Call(&b, "eth_getBalance", rich, tag); err != nil {
			t.Fatal(err)
		}
		return b.ToInt()
	}
	var snap hexutil.Uint64
	if err := seq.Call(&snap, "evm_snapshot"); err != nil {
		t.Fatal(err)
	}
	before := headerAt(t, seq, "latest")
	if err := seq.Call(nil, "anvil_setBalance", rich, "0x1234"); err != nil {
		t.Fatal(err)
	}
	if err := seq.Call(nil, "evm_mine"); err != nil {
		t.Fatal(err)
	}
	mined := headerAt(t, seq, "latest")
	// eth_sendTransaction from an unlocked dev account.
	var hash common.Hash
	if err := seq.Call(&hash, "eth_sendTransaction", map[string]any{"from": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "to": rich, "value": "0x1"}); err != nil {
		t.Fatalf("eth_sendTransaction from a dev account on a --dev sequencer: %v", err)
	}
	for name, d := range map[string]*devnet{"replica": replica, "full node": full} {
		c := dial(t, d.URL)
		waitFor(t, name+" at the edited block", func() bool {
			h := headerAt(t, c, hexutil.EncodeUint64(uint64(mined.Number)))
			return h != nil && h.Hash == mined.Hash
		})
		if got := balance(c, hexutil.EncodeUint64(uint64(mined.Number))); got.Cmp(big.NewInt(0x1234)) != 0 {
			t.Fatalf("%s: the edited balance at block %d is %s, want 0x1234", name, mined.Number, got)
		}
	}
	var ok bool
	if err := seq.Call(&ok, "evm_revert", snap); err != nil || !ok {
		t.Fatalf("evm_revert: %v %v", ok, err)
	}
	for name, d := range map[string]*devnet{"replica": replica, "full node": full} {
		c := dial(t, d.URL)
		waitFor(t, name+" back at the snapshot's block", func() bool {
			h := headerAt(t, c, "latest")
			return h != nil && h.Number == before.Number && h.Hash == before.Hash && balance(c, "latest").Sign() == 0
		})
	}

	// Without --dev: −32601, naming the flag.
	prod := startSequencer(t)
	err := dial(t, prod.seq.URL).Call(nil, "anvil_setBalance", rich, "0x1")
	var rpcErr gethrpc.Error
	if !errors.As(err, &rpcErr) || rpcErr.ErrorCode() != -32601 || !strings.Contains(err.Error(), "--dev") {
		t.Fatalf("anvil_setBalance on a sequencer without --dev: %v, want −32601 naming --dev", err)
	}
}
