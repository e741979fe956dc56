package node

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/holiman/uint256"
	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/fullnode"
	"github.com/meganode/meganode/p2p"
	"github.com/meganode/meganode/replica"
	"github.com/meganode/meganode/storage"
)

func startDevnet(t *testing.T, cfg Config) *Devnet {
	t.Helper()
	cfg.RPC.Port = 0
	d, err := NewDevnet(cfg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Stop(context.Background()) })
	return d
}

// waitHead waits on a heads subscription until block n (the feeds are what
// the roles fire when they advance; no polling).
func waitHead(t *testing.T, name string, sub *chain.Subscription[*chain.Head], n uint64) *types.Header {
	t.Helper()
	defer sub.Unsubscribe()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case h := <-sub.C():
			if h.Header.Number.Uint64() >= n {
				return h.Header
			}
		case err := <-sub.Err():
			t.Fatalf("%s heads: %v", name, err)
		case <-timeout:
			t.Fatalf("%s did not reach block %d", name, n)
		}
	}
}

func signedTxs(t *testing.T, d *Devnet) types.Transactions {
	t.Helper()
	config, accts := d.Store().ChainConfig(), d.Accounts()
	signer := types.LatestSigner(config)
	to := common.HexToAddress("0xbeef")
	var txs types.Transactions
	for i := uint64(0); i < 3; i++ {
		txs = append(txs, types.MustSignNewTx(accts[0].Key, signer, &types.DynamicFeeTx{ChainID: config.ChainID, Nonce: i, To: &to, Gas: params.TxGas, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei * 10), Value: big.NewInt(7)}))
	}
	// A deployment whose constructor writes slot 1 and emits a log.
	initCode := common.FromHex("602a60015560006000a0600a6016600039600a6000f33360005560006000a000")
	txs = append(txs, types.MustSignNewTx(accts[1].Key, signer, &types.DynamicFeeTx{ChainID: config.ChainID, Gas: 200_000, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei * 10), Data: initCode}))
	return txs
}

func TestDevnetRolesAgree(t *testing.T) {
	d := startDevnet(t, DefaultConfig())
	rep, full := d.ReplicaNode(), d.FullNodeRole()
	repHeads, fullHeads := rep.Replica().Heads(64), full.FullNode().Heads(64)
	minis := rep.Replica().MiniBlocks(256)
	var last *types.Transaction
	for _, tx := range signedTxs(t, d) {
		if err := d.Sequencer().SendTransaction(tx); err != nil {
			t.Fatal(err)
		}
		last = tx
	}
	// The replica sees the txs in mini-blocks before any block seals.
	deadline := time.After(10 * time.Second)
	for seen := false; !seen; {
		select {
		case mb := <-minis.C():
			for _, tx := range mb.Txs {
				seen = seen || tx.Hash() == last.Hash()
			}
		case <-deadline:
			t.Fatal("replica saw no mini-block with the deployment")
		}
	}
	minis.Unsubscribe()
	_, rc, _, _, ok := rep.Replica().PendingTx(last.Hash())
	if !ok || rc.ContractAddress != crypto.CreateAddress(d.Accounts()[1].Address, 0) || rc.Status != 1 {
		t.Fatalf("replica's preconfirmed receipt %+v", rc)
	}
	st, _, err := rep.Replica().LatestState()
	if err != nil {
		t.Fatal(err)
	}
	if got := st.GetBalance(common.HexToAddress("0xbeef")); got.Uint64() != 21 {
		t.Fatalf("replica latest balance %s, want 21 before the block seals", got)
	}

	block := d.Store().CurrentHeader().Number.Uint64() + 1
	r := waitHead(t, "replica", repHeads, block)
	f := waitHead(t, "full node", fullHeads, block)
	for n := uint64(1); n <= min(r.Number.Uint64(), f.Number.Uint64()); n++ {
		want := d.Store().GetHeaderByNumber(n)
		for name, s := range map[string]*storage.Store{"replica": rep.Store(), "full node": full.Store()} {
			got := s.GetHeaderByNumber(n)
			if got == nil || got.Hash() != want.Hash() || got.Root != want.Root {
				t.Fatalf("%s block %d = %v, sequencer's %s", name, n, got, want.Hash())
			}
			rs, ws := s.Receipts(want.Hash(), n), d.Store().Receipts(want.Hash(), n)
			for i := range ws {
				if rs[i].TxHash != ws[i].TxHash || rs[i].ContractAddress != ws[i].ContractAddress || rs[i].GasUsed != ws[i].GasUsed || len(rs[i].Logs) != len(ws[i].Logs) {
					t.Fatalf("%s block %d receipt %d = %+v, sequencer's %+v", name, n, i, rs[i], ws[i])
				}
			}
		}
	}
	if s := full.FullNode().Stats(); s.WithWitness == 0 || s.Refused != 0 {
		t.Fatalf("full node stats %+v: want blocks verified over their witness, none refused", s)
	}
}

func TestReplicaFillsGaps(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Roles = []string{RoleSequencer, RoleReplica}
	cfg.Sequencer.Eager = false
	d := startDevnet(t, cfg)
	rep := d.ReplicaNode().Replica()
	heads, minis := rep.Heads(64), rep.MiniBlocks(8192)
	defer minis.Unsubscribe()
	// Lose every third mini-block and the next sealed block on the way.
	var n atomic.Int64
	var lostBlock atomic.Bool
	mem := d.mem
	mem.mu.Lock()
	mem.drop = func(kind p2p.Kind, _ []byte) bool {
		if kind == p2p.Blocks {
			return lostBlock.CompareAndSwap(false, true)
		}
		return kind == p2p.MiniBlocks && n.Add(1)%3 == 0
	}
	mem.mu.Unlock()
	for _, tx := range signedTxs(t, d) {
		if err := d.Sequencer().SendTransaction(tx); err != nil {
			t.Fatal(err)
		}
	}
	target := d.Store().CurrentHeader().Number.Uint64() + 2
	got := waitHead(t, "replica", heads, target)
	if want := d.Store().GetHeaderByNumber(got.Number.Uint64()); want.Hash() != got.Hash() {
		t.Fatalf("replica block %d %s, sequencer's %s", got.Number, got.Hash(), want.Hash())
	}
	if s := rep.Stats(); s.Fetched == 0 || s.Refused != 0 || !lostBlock.Load() {
		t.Fatalf("replica stats %+v, lost block %v: want gaps filled by fetching", s, lostBlock.Load())
	}
	// Its subscribers saw every mini-block, even those lost just before
	// their block sealed.
	end := sealedMessage(t, d, got.Number.Uint64()).MiniBlockCount
	timeout := time.After(10 * time.Second)
	for next, first := uint64(0), true; next < end; first = false {
		select {
		case mb := <-minis.C():
			if !first && mb.Number != next {
				t.Fatalf("replica's miniBlocks went from %d to %d", next-1, mb.Number)
			}
			next = mb.Number + 1
		case err := <-minis.Err():
			t.Fatalf("replica's miniBlocks: %v", err)
		case <-timeout:
			t.Fatalf("replica's miniBlocks stopped at %d, block %d ends at %d", next, got.Number, end)
		}
	}
}

// sealedMessage waits for the devnet to seal block n and returns it as the
// sequencer publishes it.
func sealedMessage(t *testing.T, d *Devnet, n uint64) *chain.BlockMessage {
	t.Helper()
	if d.Store().CurrentHeader().Number.Uint64() < n {
		waitHead(t, "sequencer", d.Sequencer().Heads(16), n)
	}
	m, err := d.Store().BlockMessage(n)
	if err != nil || m == nil {
		t.Fatalf("block message %d: %v", n, err)
	}
	return m
}

func encode(t *testing.T, v any) []byte {
	t.Helper()
	data, err := rlp.EncodeToBytes(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestTamperedDiffRefused(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Roles = []string{RoleSequencer}
	d := startDevnet(t, cfg)
	for _, tx := range signedTxs(t, d) {
		if err := d.Sequencer().SendTransaction(tx); err != nil {
			t.Fatal(err)
		}
	}
	m := sealedMessage(t, d, 1)
	if len(m.Bundle.Block.Transactions()) == 0 {
		m = sealedMessage(t, d, 2) // the txs missed block 1: take 2 and feed 1 first
	}
	log := zerolog.New(zerolog.NewTestWriter(t))
	open := func() *storage.Store { return memStore(t, cfg.Chain) }
	tampered := *m.Bundle
	diff := *tampered.StateDiff
	diff.Accounts = append([]chain.AccountChange(nil), diff.Accounts...)
	diff.Accounts[0].Balance = new(uint256.Int).AddUint64(diff.Accounts[0].Balance, 1)
	tampered.StateDiff = &diff
	bad := encode(t, &chain.BlockMessage{Bundle: &tampered, MiniBlockCount: m.MiniBlockCount})
	num := m.Bundle.Block.NumberU64()

	rep, err := replica.New(replica.DefaultConfig(), open(), log)
	if err != nil {
		t.Fatal(err)
	}
	full, err := fullnode.New(fullnode.DefaultConfig(), open(), log)
	if err != nil {
		t.Fatal(err)
	}
	repHeads, fullHeads := rep.Heads(16), full.Heads(16)
	rep.Start(nil)
	full.Start(nil)
	defer rep.Stop()
	defer full.Stop()
	for n := uint64(1); n < num; n++ {
		earlier := sealedMessage(t, d, n)
		rep.Deliver(p2p.Blocks, encode(t, earlier), nil)
		full.Deliver(p2p.Blocks, encode(t, earlier))
	}
	rep.Deliver(p2p.Blocks, bad, nil)
	full.Deliver(p2p.Blocks, bad)
	full.Deliver(p2p.Witnesses, encode(t, &chain.WitnessMessage{Number: num, Hash: m.Bundle.Block.Hash(), Witness: m.Bundle.Witness}))
	// Then the genuine block: both must take it after refusing the forgery.
	genuine := *m.Bundle
	genuine.Witness = nil
	rep.Deliver(p2p.Blocks, encode(t, &chain.BlockMessage{Bundle: &genuine, MiniBlockCount: m.MiniBlockCount}), nil)
	full.Deliver(p2p.Blocks, encode(t, &chain.BlockMessage{Bundle: &genuine, MiniBlockCount: m.MiniBlockCount}))
	if got := waitHead(t, "replica", repHeads, num); got.Hash() != m.Bundle.Block.Hash() {
		t.Fatalf("replica took %s, want the genuine %s", got.Hash(), m.Bundle.Block.Hash())
	}
	if got := waitHead(t, "full node", fullHeads, num); got.Hash() != m.Bundle.Block.Hash() {
		t.Fatalf("full node took %s", got.Hash())
	}
	if s := rep.Stats(); s.Refused != 1 || !strings.Contains(rep.LastRefusal(), "root") {
		t.Fatalf("replica refused %d (%q), want the tampered diff refused for its root", s.Refused, rep.LastRefusal())
	}
	err = full.Healthy()
	if !errors.Is(err, chain.ErrBadBlock) || !strings.Contains(err.Error(), m.Bundle.Block.Hash().Hex()) {
		t.Fatalf("full node health %v: want an alert naming block %d", err, num)
	}
}

func TestFollowersSurviveGarbage(t *testing.T) {
	genesis, _, _ := chain.Genesis(chain.DefaultConfig())
	log := zerolog.New(zerolog.NewTestWriter(t))
	open := func() *storage.Store { return memStore(t, chain.DefaultConfig()) }
	rep, err := replica.New(replica.DefaultConfig(), open(), log)
	if err != nil {
		t.Fatal(err)
	}
	full, err := fullnode.New(fullnode.DefaultConfig(), open(), log)
	if err != nil {
		t.Fatal(err)
	}
	rep.Start(nil)
	full.Start(nil)
	defer rep.Stop()
	defer full.Stop()
	// Signed by the right key (the transport checked that) but not what the
	// topic carries: garbage, truncated RLP, a block without a body.
	garbage := [][]byte{{0xff}, {0xc5, 0x01}, encode(t, []uint64{1, 2, 3}), encode(t, &chain.BlockMessage{})}
	for _, g := range garbage {
		rep.Deliver(p2p.MiniBlocks, g, nil)
		rep.Deliver(p2p.Blocks, g, nil)
		full.Deliver(p2p.Blocks, g)
		full.Deliver(p2p.Witnesses, g)
	}
	// The replica's loop handles messages in order: a mini-block delivered
	// after the garbage shows through its feed once everything before it ran.
	minis := rep.MiniBlocks(4)
	rep.Deliver(p2p.MiniBlocks, encode(t, &chain.MiniBlock{BlockNumber: 1, BlockTimestamp: genesis.Timestamp + 1}), nil)
	select {
	case <-minis.C():
	case <-time.After(10 * time.Second):
		t.Fatal("the replica stopped after garbage")
	}
	if s := rep.Stats(); s.Refused != uint64(2*len(garbage)) || rep.Healthy() != nil {
		t.Fatalf("replica refused %d of %d garbage messages, health %v", s.Refused, 2*len(garbage), rep.Healthy())
	}
	if full.Healthy() != nil {
		t.Fatalf("garbage raised the full node's alert: %v", full.Healthy())
	}
}

// memStore is an in-memory store at the genesis of cfg, closed with the test.
func memStore(t *testing.T, cfg chain.Config) *storage.Store {
	t.Helper()
	genesis, _, err := chain.Genesis(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := storage.Open(storage.Config{}, genesis, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
