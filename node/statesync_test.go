package node

import (
	"context"
	"errors"
	"math/big"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/replica"
	"github.com/meganode/meganode/sequencer"
	"github.com/meganode/meganode/storage"
)

// TestFollowersJoinByStateSync: a replica and a full node started with an
// empty data directory in snap mode next to a sequencer that has sealed
// blocks fetch a recent block's state over p2p instead of replaying: their
// first block is that one (no earlier bodies, the earlier headers), its
// state answers reads, and they follow the live chain from it with the
// sequencer's block hashes (the full node re-executing every later block).
func TestFollowersJoinByStateSync(t *testing.T) {
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	key, _ := crypto.GenerateKey()
	dir := t.TempDir()
	cfg := DefaultRoleConfig()
	cfg.RPC.Port, cfg.SequencerKey, cfg.P2P.Listen = 0, key, []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.Storage.Dir = filepath.Join(dir, "seq")
	seq, err := NewSequencer(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := seq.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer seq.Stop(context.Background())

	// Blocks with transfers and a contract that stores a slot.
	_, accts, _ := chain.Genesis(chain.DefaultConfig())
	config := seq.Store().ChainConfig()
	signer, to := types.LatestSigner(config), common.HexToAddress("0xbeef")
	send := func(tx *types.Transaction) {
		t.Helper()
		if err := seq.seq.SendTransaction(tx); err != nil {
			t.Fatal(err)
		}
	}
	for i := uint64(0); i < 5; i++ {
		send(types.MustSignNewTx(accts[0].Key, signer, &types.DynamicFeeTx{ChainID: config.ChainID, Nonce: i, To: &to, Value: big.NewInt(7), Gas: params.TxGas, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei * 10)}))
	}
	initCode := common.FromHex("0x602a6000556007600155" + "60fe600053" + "60016000f3") // slot 0 = 42, slot 1 = 7, code 0xfe
	send(types.MustSignNewTx(accts[1].Key, signer, &types.DynamicFeeTx{ChainID: config.ChainID, Gas: 200_000, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei * 10), Data: initCode}))
	contract := crypto.CreateAddress(accts[1].Address, 0)
	waitHead(t, "sequencer", seq.seq.Heads(16), seq.Store().CurrentHeader().Number.Uint64()+3)

	follower := func(name string, build func(RoleConfig, zerolog.Logger) (*Role, error)) *Role {
		t.Helper()
		fc := DefaultRoleConfig()
		fc.RPC.Port, fc.P2P.Listen, fc.P2P.Peers = 0, []string{"/ip4/127.0.0.1/tcp/0"}, seq.P2PAddrs()
		fc.SequencerAddress, fc.SequencerURL = crypto.PubkeyToAddress(key.PublicKey), "http://"+seq.RPCAddr()
		fc.Storage.Dir, fc.P2P.Sync = filepath.Join(dir, name), SyncSnap
		r, err := build(fc, log.With().Str("node", name).Logger())
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Stop(context.Background()) })
		return r
	}
	rep := follower("replica", NewReplica)
	full := follower("fullnode", NewFullNode)

	for name, r := range map[string]*Role{"replica": rep, "full node": full} {
		s := r.Store()
		first := s.CurrentHeader().Number.Uint64()
		if first < 3 {
			t.Fatalf("%s starts at block %d: it replayed instead of syncing", name, first)
		}
		if s.BlockByNumber(1) != nil {
			t.Fatalf("%s has block 1's body: it replayed", name)
		}
		for n := uint64(1); n <= first; n++ {
			if s.GetHeaderByNumber(n).Hash() != seq.Store().GetHeaderByNumber(n).Hash() {
				t.Fatalf("%s: header %d is not the sequencer's", name, n)
			}
		}
		st, err := chain.StateAt(s.StateDatabase(), s.CurrentHeader().Root)
		if err != nil {
			t.Fatalf("%s: state of its synced block: %v", name, err)
		}
		if st.GetBalance(to).Uint64() != 35 || st.GetState(contract, common.Hash{}) != common.BigToHash(big.NewInt(42)) || len(st.GetCode(contract)) != 1 {
			t.Fatalf("%s: synced state: balance %s, slot %s, code %x", name, st.GetBalance(to), st.GetState(contract, common.Hash{}), st.GetCode(contract))
		}
	}
	// Live following: a transfer sealed after the sync reaches both with
	// the sequencer's hashes; the full node verified it by re-execution.
	send(types.MustSignNewTx(accts[0].Key, signer, &types.DynamicFeeTx{ChainID: config.ChainID, Nonce: 5, To: &to, Value: big.NewInt(7), Gas: params.TxGas, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei * 10)}))
	next := seq.Store().CurrentHeader().Number.Uint64() + 2
	waitHead(t, "replica", rep.Replica().Heads(16), next)
	waitHead(t, "full node", full.FullNode().Heads(16), next)
	for name, s := range map[string]*storage.Store{"replica": rep.Store(), "full node": full.Store()} {
		h := s.GetHeaderByNumber(next)
		if h == nil || h.Hash() != seq.Store().GetHeaderByNumber(next).Hash() {
			t.Fatalf("%s: block %d after the sync is not the sequencer's", name, next)
		}
		st, err := chain.StateAt(s.StateDatabase(), h.Root)
		if err != nil || st.GetBalance(to).Uint64() != 42 {
			t.Fatalf("%s: balance after following: %v", name, err)
		}
	}
	if full.FullNode().Stats().Verified == 0 || full.FullNode().Healthy() != nil {
		t.Fatalf("full node after the sync: %d verified, %v", full.FullNode().Stats().Verified, full.FullNode().Healthy())
	}
	// Restarted in snap mode, a synced node follows from its head.
	rep.Stop(context.Background())
	again := follower("replica", NewReplica)
	if h := again.Store().CurrentHeader().Number.Uint64(); h < next {
		t.Fatalf("restarted replica at block %d, below %d", h, next)
	}
}

// A data directory whose state sync did not finish is refused in full
// mode, naming the way out.
func TestUnfinishedSyncRefusedInFullMode(t *testing.T) {
	r := &Role{Name: RoleReplica, log: zerolog.Nop()}
	g, _, _ := chain.Genesis(chain.DefaultConfig())
	s, err := storage.Open(storage.Config{Dir: t.TempDir()}, g, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r.store = s
	if err := r.syncState(context.Background(), SyncFull); err != nil {
		t.Fatalf("full mode on an empty directory: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.SyncState(ctx, common.HexToHash("0x01"), noState{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("sync with a cancelled context: %v", err)
	}
	if err := r.syncState(context.Background(), SyncFull); !errors.Is(err, storage.ErrSyncUnfinished) {
		t.Fatalf("full mode on an unfinished sync: %v, want ErrSyncUnfinished", err)
	}
	// The parts are built on such a store before the sync goes on (no
	// state to open a block on yet); a lone sequencer refuses it.
	if _, err := replica.New(replica.DefaultConfig(), s, zerolog.Nop()); err != nil {
		t.Fatalf("a replica on an unfinished sync: %v", err)
	}
	scfg := sequencer.DefaultConfig()
	scfg.GasLimit = g.GasLimit
	if _, err := sequencer.New(scfg, s, nil, zerolog.Nop()); !errors.Is(err, storage.ErrSyncUnfinished) {
		t.Fatalf("a lone sequencer on an unfinished sync: %v, want ErrSyncUnfinished", err)
	}
	scfg.HA = true
	if _, err := sequencer.New(scfg, s, nil, zerolog.Nop()); err != nil {
		t.Fatalf("an HA candidate on an unfinished sync: %v", err)
	}
	if err := CheckSyncMode("fast"); err == nil {
		t.Fatal("sync mode fast taken")
	}
}

type noState struct{}

func (noState) TrieNodes(context.Context, common.Hash, [][]byte, []common.Hash) ([][]byte, error) {
	return nil, errors.New("none")
}
func (noState) Codes(context.Context, []common.Hash) ([][]byte, error) {
	return nil, errors.New("none")
}
