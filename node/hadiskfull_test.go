package node

import (
	"context"
	"errors"
	"math/big"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/sequencer"
	"github.com/meganode/meganode/storage"
)

// haCandidate runs one HA sequencer candidate in this process on 127.0.0.1:0
// ports, its data directory "/data" on fs and its raft directory (the bolt
// log is on the operating system's disk) measured through fs too. peers are
// the other initial voters.
func haCandidate(t *testing.T, fs *spaceFS, raftDir string, peers ...sequencer.HAServer) *Role {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultRoleConfig()
	cfg.RPC.Port, cfg.SequencerKey, cfg.P2P.Listen = 0, key, []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.Storage = storage.Config{Dir: "/data", FS: fs, MinFreeMB: spaceMinFreeMB}
	cfg.Admin.Port, cfg.Admin.JWTSecret = 0, filepath.Join(t.TempDir(), "admin.jwtsecret")
	ha := sequencer.DefaultHAConfig()
	ha.ID, ha.Addr, ha.Dir, ha.FS, ha.MinFreeMB = "b", "127.0.0.1:0", raftDir, fs, spaceMinFreeMB
	ha.Peers = append(peers, sequencer.HAServer{ID: "b", Addr: ha.Addr})
	cfg.HA = &ha
	r, err := NewSequencer(cfg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Stop(context.Background()) })
	return r
}

// sends are the three ways to send a transaction, each as a JSON-RPC call.
var sends = []struct {
	method string
	extra  []interface{}
}{
	{"eth_sendRawTransaction", nil},
	{"eth_sendRawTransactionSync", []interface{}{2000}},
	{"realtime_sendRawTransaction", nil},
}

func rawTransfer(t *testing.T, r *Role) hexutil.Bytes {
	t.Helper()
	config := r.Store().ChainConfig()
	_, accts, err := chain.Genesis(chain.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	to := common.HexToAddress("0xbeef")
	tx := types.MustSignNewTx(accts[0].Key, types.LatestSigner(config), &types.DynamicFeeTx{ChainID: config.ChainID, To: &to, Gas: params.TxGas, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei * 10), Value: big.NewInt(1)})
	raw, err := tx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// A standby candidate whose data or raft directory is full answers every
// send over JSON-RPC with the retryable not-leader error (−32002), which
// clients and the gateway retry on the leader, not with its own disk-full
// error; /ready still answers 503 with the disk-full reason.
func TestHAStandbyOnFullDiskAnswersNotLeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		raft bool // the raft directory fills, not the data directory
	}{
		{name: "data directory"},
		{name: "raft directory", raft: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raftDir := t.TempDir()
			full := "/data"
			if tc.raft {
				full = raftDir
			}
			fs := newSpaceFS(full)
			// The other voter never answers: b can never win an election
			// (it needs both votes) and stays a standby.
			r := haCandidate(t, fs, raftDir, sequencer.HAServer{ID: "a", Addr: "127.0.0.1:1"})
			fs.set(true, full)
			fs.waitMeasured(t, full)

			c, err := gethrpc.Dial("http://" + r.RPCAddr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			raw := rawTransfer(t, r)
			for _, s := range sends {
				var out interface{}
				err := c.CallContext(context.Background(), &out, s.method, append([]interface{}{raw}, s.extra...)...)
				var rpcErr gethrpc.Error
				if !errors.As(err, &rpcErr) || rpcErr.ErrorCode() != chain.CodeNotLeader || !strings.Contains(err.Error(), "not the sequencer leader") || strings.Contains(err.Error(), "disk full") {
					t.Fatalf("%s to a full standby: %v, want the not-leader error %d", s.method, err, chain.CodeNotLeader)
				}
			}
			if status, reason := readyOf(t, r); status != http.StatusServiceUnavailable || !strings.Contains(reason, "disk full: "+full) {
				t.Fatalf("/ready of the full standby: %d %q, want 503 with the disk-full reason", status, reason)
			}
		})
	}
}

// The raft leader of a group of one, full, refuses sends with the disk-full
// error (no other candidate can take them) and stops producing.
func TestHALeaderOnFullDiskAnswersDiskFull(t *testing.T) {
	fs := newSpaceFS("/data")
	r := haCandidate(t, fs, t.TempDir())
	// Elected by raft's own timers, it leads once it seals a block.
	waitHead(t, "the lone candidate", r.seq.Heads(4), 1)
	if !r.seq.Leading() {
		t.Fatal("the lone candidate sealed a block but does not lead")
	}
	fs.set(true, "/data")
	fs.waitMeasured(t, "/data")

	c, err := gethrpc.Dial("http://" + r.RPCAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw := rawTransfer(t, r)
	for _, s := range sends {
		var out interface{}
		err := c.CallContext(context.Background(), &out, s.method, append([]interface{}{raw}, s.extra...)...)
		var rpcErr gethrpc.Error
		if !errors.As(err, &rpcErr) || rpcErr.ErrorCode() == chain.CodeNotLeader || !strings.Contains(err.Error(), "not admitting transactions: disk full: /data") {
			t.Fatalf("%s to a full leader: %v, want the disk-full error", s.method, err)
		}
	}
	if status, reason := readyOf(t, r); status != http.StatusServiceUnavailable || !strings.Contains(reason, "disk full: /data") {
		t.Fatalf("/ready of the full leader: %d %q, want 503 with the disk-full reason", status, reason)
	}
}
