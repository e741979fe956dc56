package node

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/fullnode"
	"github.com/meganode/meganode/p2p"
	"github.com/meganode/meganode/replica"
	"github.com/meganode/meganode/storage"
)

// spaceFS is a memory file system whose directories can run out of space:
// the free space it reports for a full one is below the stores' minimum, so
// their space checks refuse writes (nothing fails with ENOSPC: the check
// alone has to stop them). Each measurement of a full directory is
// signalled on its channel.
type spaceFS struct {
	vfs.FS
	mu       sync.Mutex
	full     map[string]bool
	measured map[string]chan struct{}
}

const spaceMinFreeMB = 8

func newSpaceFS(dirs ...string) *spaceFS {
	fs := &spaceFS{FS: vfs.NewMem(), full: map[string]bool{}, measured: map[string]chan struct{}{}}
	for _, d := range dirs {
		fs.measured[d] = make(chan struct{}, 1)
	}
	return fs
}

func (fs *spaceFS) set(full bool, dirs ...string) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, d := range dirs {
		fs.full[d] = full
	}
}

func (fs *spaceFS) GetDiskUsage(path string) (vfs.DiskUsage, error) {
	fs.mu.Lock()
	full := false
	for d, f := range fs.full {
		full = full || (f && (path == d || strings.HasPrefix(path, d+"/")))
	}
	ch := fs.measured[path]
	fs.mu.Unlock()
	if !full {
		return vfs.DiskUsage{AvailBytes: 1 << 30, TotalBytes: 2 << 30}, nil
	}
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	return vfs.DiskUsage{AvailBytes: spaceMinFreeMB << 19, TotalBytes: 2 << 30}, nil
}

// waitMeasured returns once dir's store measured its full disk twice: a
// follower measures only to write a block and, once paused, to retry, so
// the second measurement comes after it paused.
func (fs *spaceFS) waitMeasured(t *testing.T, dir string) {
	t.Helper()
	for i := 0; i < 2; i++ {
		select {
		case <-fs.measured[dir]:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: no space check while full", dir)
		}
	}
}

// TestFollowersPauseOnFullDisk: a replica and a full node whose data
// directories fill stop writing blocks without halting, say why in /ready,
// keep serving what they have, and once space is freed catch up by
// themselves with the sequencer's block hashes.
func TestFollowersPauseOnFullDisk(t *testing.T) {
	const repDir, fullDir = "/data/" + RoleReplica, "/data/" + RoleFullNode
	fs := newSpaceFS(repDir, fullDir)
	cfg := DefaultConfig()
	cfg.Roles = []string{RoleSequencer, RoleReplica, RoleFullNode}
	cfg.EmbeddedDA = false
	cfg.Storage = storage.Config{Dir: "/data", FS: fs, MinFreeMB: spaceMinFreeMB}
	d := startDevnet(t, cfg)
	rep, full := d.ReplicaNode(), d.FullNodeRole()
	roles := map[string]*Role{"replica": rep, "full node": full}
	dirs := map[string]string{"replica": repDir, "full node": fullDir}
	heads := func() (map[string]func(uint64) uint64, func()) {
		subs := map[string]func(uint64) uint64{}
		r, f := rep.Replica().Heads(64), full.FullNode().Heads(64)
		subs["replica"] = func(n uint64) uint64 { return waitHead(t, "replica", r, n).Number.Uint64() }
		subs["full node"] = func(n uint64) uint64 { return waitHead(t, "full node", f, n).Number.Uint64() }
		return subs, func() { r.Unsubscribe(); f.Unsubscribe() }
	}

	// Both follow while there is room.
	wait, done := heads()
	for _, tx := range signedTxs(t, d) {
		if err := d.Sequencer().SendTransaction(tx); err != nil {
			t.Fatal(err)
		}
	}
	// The txs are in the open block or, if it sealed meanwhile, the next.
	target := d.Store().CurrentHeader().Number.Uint64() + 2
	for name := range roles {
		wait[name](target)
	}
	done()

	// The followers' disks fill; the sequencer's does not.
	fs.set(true, repDir, fullDir)
	fs.waitMeasured(t, repDir)
	fs.waitMeasured(t, fullDir)
	paused := map[string]uint64{}
	for name, r := range roles {
		paused[name] = r.Store().CurrentHeader().Number.Uint64()
		status, reason := readyOf(t, r)
		if status != http.StatusServiceUnavailable || !strings.Contains(reason, "disk full: "+dirs[name]) || !strings.Contains(reason, "MiB free") {
			t.Fatalf("%s /ready: %d %q, want 503 naming the data directory and its free space", name, status, reason)
		}
		err := healthOf(r)
		if !errors.Is(err, storage.ErrDiskFull) || strings.Contains(err.Error(), "halted") {
			t.Fatalf("%s health %v, want a pause wrapping storage.ErrDiskFull", name, err)
		}
	}
	// The sequencer goes on; the followers stay where they paused and
	// serve what they have.
	waitHead(t, "sequencer", d.Sequencer().Heads(16), d.Store().CurrentHeader().Number.Uint64()+2)
	for name, r := range roles {
		if n := r.Store().CurrentHeader().Number.Uint64(); n != paused[name] {
			t.Fatalf("%s wrote block %d on a full disk (paused at %d)", name, n, paused[name])
		}
		client, err := gethrpc.Dial("http://" + r.RPCAddr())
		if err != nil {
			t.Fatal(err)
		}
		var n hexutil.Uint64
		var balance hexutil.Big
		if err := client.Call(&n, "eth_blockNumber"); err != nil || uint64(n) < paused[name] {
			t.Fatalf("%s eth_blockNumber while paused: %d, %v", name, n, err)
		}
		if err := client.Call(&balance, "eth_getBalance", common.HexToAddress("0xbeef"), "latest"); err != nil || balance.ToInt().Uint64() != 21 {
			t.Fatalf("%s balance while paused: %s, %v; want 21", name, balance.ToInt(), err)
		}
		client.Close()
	}

	// Space is freed: both resume by themselves and catch up.
	wait, done = heads()
	defer done()
	fs.set(false, repDir, fullDir)
	target = d.Store().CurrentHeader().Number.Uint64() + 1
	for name, r := range roles {
		got := wait[name](target)
		for n := uint64(1); n <= got; n++ {
			want, have := d.Store().GetHeaderByNumber(n), r.Store().GetHeaderByNumber(n)
			if have == nil || have.Hash() != want.Hash() {
				t.Fatalf("%s block %d = %v after resuming, sequencer's %s", name, n, have, want.Hash())
			}
		}
		if err := healthOf(r); err != nil {
			t.Fatalf("%s health after resuming: %v", name, err)
		}
		if status, reason := readyOf(t, r); status != http.StatusOK {
			t.Fatalf("%s /ready after resuming: %d %q", name, status, reason)
		}
	}
}

func healthOf(r *Role) error {
	if r.Replica() != nil {
		return r.Replica().Healthy()
	}
	return r.FullNode().Healthy()
}

// readyOf returns a role's /ready status and reason.
func readyOf(t *testing.T, r *Role) (int, string) {
	t.Helper()
	return readyAt(t, r.RPCAddr())
}

// readyAt returns the /ready status and reason of the node serving addr.
func readyAt(t *testing.T, addr string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/ready")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Reason string `json:"reason"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body.Reason
}

// TestFollowersHaltOnOtherWriteErrors: a database error that is not a full
// disk still halts a replica and raises a full node's alert, and neither
// blames the block.
func TestFollowersHaltOnOtherWriteErrors(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Roles = []string{RoleSequencer}
	d := startDevnet(t, cfg)
	first, second := sealedMessage(t, d, 1), sealedMessage(t, d, 2)
	// The loops say they halted in their logs: that is what the test waits for.
	halted := &logWatch{w: zerolog.NewTestWriter(t), match: []string{"replica cannot follow the chain", "block failed verification"}, seen: make(chan string, 2)}
	log := zerolog.New(halted)
	open := func(dir, scheme string) *storage.Store {
		genesis, _, err := chain.Genesis(cfg.Chain)
		if err != nil {
			t.Fatal(err)
		}
		s, err := storage.Open(storage.Config{Dir: dir, FS: vfs.NewMem(), NoSync: true, Scheme: scheme}, genesis, log)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// Closing a store stands for a failing database. The full node's store
	// keeps the hash scheme here: a full node re-executes, and go-ethereum's
	// code reader answers a closed database with "no code", no error, so on
	// a closed path-scheme store the failure shows as a wrong execution
	// instead of at the write (a failing disk still fails the write).
	repStore, fullStore := open("/replica", storage.PathScheme), open("/fullnode", storage.HashScheme)
	rep, err := replica.New(replica.DefaultConfig(), repStore, log)
	if err != nil {
		t.Fatal(err)
	}
	full, err := fullnode.New(fullnode.DefaultConfig(), fullStore, log)
	if err != nil {
		t.Fatal(err)
	}
	repHeads, fullHeads := rep.Heads(16), full.Heads(16)
	rep.Start(nil)
	full.Start(nil)
	defer rep.Stop()
	defer full.Stop()
	rep.Deliver(p2p.Blocks, encode(t, first), nil)
	full.Deliver(p2p.Blocks, encode(t, first))
	waitHead(t, "replica", repHeads, 1)
	waitHead(t, "full node", fullHeads, 1)
	// A closed database refuses the next block's write for another reason
	// than space.
	repStore.Close()
	fullStore.Close()
	rep.Deliver(p2p.Blocks, encode(t, second), nil)
	full.Deliver(p2p.Blocks, encode(t, second))
	for i := 0; i < 2; i++ {
		select {
		case <-halted.seen:
		case <-time.After(20 * time.Second):
			t.Fatal("a follower went on after a failed write")
		}
	}
	if err := rep.Healthy(); err == nil || !strings.Contains(err.Error(), "replica halted") || errors.Is(err, storage.ErrDiskFull) {
		t.Fatalf("replica health %v, want halted", err)
	}
	if err := full.Healthy(); err == nil || !strings.Contains(err.Error(), "persist block 2") || errors.Is(err, chain.ErrBadBlock) || errors.Is(err, storage.ErrDiskFull) {
		t.Fatalf("full node health %v, want an alert for block 2's write", err)
	}
}

// logWatch passes log lines on to w and sends those that contain one of
// match on seen.
type logWatch struct {
	w     io.Writer
	match []string
	seen  chan string
}

func (l *logWatch) Write(p []byte) (int, error) {
	for _, m := range l.match {
		if strings.Contains(string(p), m) {
			select {
			case l.seen <- m:
			default:
			}
		}
	}
	return l.w.Write(p)
}
