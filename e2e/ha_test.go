package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/p2p"
)

// candidate is one sequencer of an HA set, restartable on its ports.
type candidate struct {
	id, http, p2pPort, raft, dir string
	d                            *devnet
}

// haSet is three sequencer candidates sharing one signing key.
type haSet struct {
	keyFile string
	signer  common.Address
	peers   string // --ha.peers
	cands   []*candidate
	extra   []string // more flags for every candidate
}

func startHASet(t testing.TB, ids ...string) *haSet {
	t.Helper()
	s := newHASet(t, ids...)
	for _, c := range s.cands {
		s.start(t, c)
	}
	return s
}

// newHASet is startHASet's set before any candidate starts: a test can
// move data directories or add flags first.
func newHASet(t testing.TB, ids ...string) *haSet {
	t.Helper()
	dir := t.TempDir()
	keyFile, signer := writeKey(t, dir, "sequencer.key")
	s := &haSet{keyFile: keyFile, signer: signer}
	for _, id := range ids {
		s.cands = append(s.cands, &candidate{id: id, http: freePort(t), p2pPort: freePort(t), raft: "127.0.0.1:" + freePort(t), dir: filepath.Join(dir, id)})
	}
	s.setPeers()
	return s
}

// setPeers lists every candidate's raft address in --ha.peers.
func (s *haSet) setPeers() {
	var peers []string
	for _, c := range s.cands {
		peers = append(peers, c.id+"="+c.raft)
	}
	s.peers = strings.Join(peers, ",")
}

// start runs c on its ports and data directory, peered with the others.
// A port taken before c bound it is picked again on c's first start, the
// raft one only while no candidate has started with it in --ha.peers; a
// restart keeps its ports (peers and the gateway know them).
func (s *haSet) start(t testing.TB, c *candidate) {
	t.Helper()
	first := c.d == nil
	args := func() []string {
		args := []string{"--datadir", c.dir, "--sequencer.key", s.keyFile, "--http.port", c.http,
			"--p2p.listen", "/ip4/127.0.0.1/tcp/" + c.p2pPort, "--ha.id", c.id, "--ha.addr", c.raft, "--ha.peers", s.peers, "--ha.fault-injection"}
		args = append(args, s.extra...)
		for _, o := range s.cands {
			if o != c && o.d != nil {
				args = append(args, "--p2p.peers", o.d.P2P)
			}
		}
		return args
	}
	c.d = startPicked(t, "sequencer", args, func(port string) bool {
		if !first {
			return false
		}
		switch port {
		case c.http:
			c.http = freePort(t)
		case c.p2pPort:
			c.p2pPort = freePort(t)
		case strings.TrimPrefix(c.raft, "127.0.0.1:"):
			for _, o := range s.cands {
				if o.d != nil {
					return false // o bootstrapped the group with it
				}
			}
			c.raft = "127.0.0.1:" + freePort(t)
			s.setPeers()
		default:
			return false
		}
		return true
	})
	if c.d.Signer != s.signer.Hex() {
		t.Fatalf("candidate %s signs as %s, want %s", c.id, c.d.Signer, s.signer)
	}
}

// admin calls an admin method on c's admin listener with cast, signed with
// the JWT secret c generated in its data directory.
func (c *candidate) admin(t testing.TB, method string, params ...string) string {
	t.Helper()
	secret, err := os.ReadFile(filepath.Join(c.dir, "admin.jwtsecret"))
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"rpc", method}, params...)
	return run(t, "", tool(t, "cast"), append(args, "--rpc-url", c.d.Admin, "--jwt-secret", strings.TrimSpace(string(secret)))...)
}

func (s *haSet) urls() string {
	var out []string
	for _, c := range s.cands {
		out = append(out, "http://127.0.0.1:"+c.http)
	}
	return strings.Join(out, ",")
}

func (s *haSet) p2pPeers() []string {
	var out []string
	for _, c := range s.cands {
		out = append(out, c.d.P2P)
	}
	return out
}

func haStatus(url string) (chain.HAStatus, error) {
	var st chain.HAStatus
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := gethrpc.DialContext(ctx, url)
	if err != nil {
		return st, err
	}
	defer c.Close()
	return st, c.CallContext(ctx, &st, "ha_status")
}

// leader waits for a candidate other than not that leads and produces.
func (s *haSet) leader(t testing.TB, not *candidate) *candidate {
	t.Helper()
	var found *candidate
	waitFor(t, "a leading candidate", func() bool {
		for _, c := range s.cands {
			if c == not {
				continue
			}
			if st, err := haStatus(c.d.URL); err == nil && st.Leading {
				found = c
				return true
			}
		}
		return false
	})
	return found
}

// gossipLog records every signed mini-block gossiped on the network: one
// number must never carry two different contents.
type gossipLog struct {
	mu        sync.Mutex
	contents  map[uint64]common.Hash
	conflicts []string
	arrivals  []time.Time // of new numbers, in order
}

func watchGossip(t testing.TB, signer common.Address, peers []string) *gossipLog {
	t.Helper()
	n := testNode(t, map[p2p.Kind]common.Address{p2p.MiniBlocks: signer}, peers...)
	sub, err := n.Subscribe(p2p.MiniBlocks)
	if err != nil {
		t.Fatal(err)
	}
	g := &gossipLog{contents: map[uint64]common.Hash{}}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go sub.Pump(ctx, func(m p2p.Message) bool {
		var mb chain.MiniBlock
		if err := rlp.DecodeBytes(m.Payload, &mb); err != nil {
			g.mu.Lock()
			g.conflicts = append(g.conflicts, fmt.Sprintf("undecodable mini-block: %v", err))
			g.mu.Unlock()
			return true
		}
		h := crypto.Keccak256Hash(m.Payload)
		g.mu.Lock()
		defer g.mu.Unlock()
		if old, ok := g.contents[mb.Number]; !ok {
			g.contents[mb.Number] = h
			g.arrivals = append(g.arrivals, time.Now())
		} else if old != h {
			g.conflicts = append(g.conflicts, fmt.Sprintf("mini-block %d signed with two contents", mb.Number))
		}
		return true
	})
	return g
}

// gap is the longest stretch without a new mini-block since from.
func (g *gossipLog) gap(from time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	var longest time.Duration
	prev := time.Time{}
	for _, a := range g.arrivals {
		if a.Before(from) {
			prev = a
			continue
		}
		if !prev.IsZero() && a.Sub(prev) > longest {
			longest = a.Sub(prev)
		}
		prev = a
	}
	return longest
}

// newSince reports whether a new mini-block arrived after t.
func (g *gossipLog) newSince(t time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.arrivals) > 0 && g.arrivals[len(g.arrivals)-1].After(t)
}

// txReceipt is the part of a receipt the failover test compares.
type txReceipt struct {
	BlockNumber      hexutil.Uint64 `json:"blockNumber"`
	TransactionIndex hexutil.Uint64 `json:"transactionIndex"`
	Status           hexutil.Uint64 `json:"status"`
}

// txLoad sends transfers through a replica the way a wallet does: one
// sender waits for each preconfirmed receipt (eth_sendRawTransactionSync),
// another for each acknowledgement (eth_sendRawTransaction); an error is
// answered by sending the same transaction again until the chain has it.
type txLoad struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	receipts map[common.Hash]txReceipt // preconfirmed receipts clients received
	acked    []common.Hash             // hashes eth_sendRawTransaction answered
	errs     map[string]int            // error texts seen, for the log
}

func startTxLoad(t *testing.T, url string) *txLoad {
	l := &txLoad{stop: make(chan struct{}), receipts: map[common.Hash]txReceipt{}, errs: map[string]int{}}
	for i, key := range []string{key0, key1} {
		sync := i == 0
		c, err := gethrpc.Dial(url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for nonce := uint64(0); ; {
				select {
				case <-l.stop:
					return
				default:
				}
				tx, raw := signedTransfer(t, key, nonce)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				var err error
				if sync {
					var r txReceipt
					if err = c.CallContext(ctx, &r, "eth_sendRawTransactionSync", raw); err == nil {
						l.mu.Lock()
						l.receipts[tx.Hash()] = r
						l.mu.Unlock()
					}
				} else {
					var h common.Hash
					if err = c.CallContext(ctx, &h, "eth_sendRawTransaction", raw); err == nil {
						l.mu.Lock()
						l.acked = append(l.acked, h)
						l.mu.Unlock()
					}
				}
				cancel()
				if err == nil || strings.Contains(err.Error(), "nonce too low") {
					nonce++ // in the chain: preconfirmed, or taken before the answer was lost
					continue
				}
				l.mu.Lock()
				l.errs[trimErr(err)]++
				l.mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	return l
}

func trimErr(err error) string {
	s := err.Error()
	if i := strings.Index(s, "("); i > 0 {
		s = s[:i]
	}
	return s
}

func (l *txLoad) end() {
	close(l.stop)
	l.wg.Wait()
}

func (l *txLoad) sent() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.receipts) + len(l.acked)
}

// failoverLimit is how soon a new leader must produce; a -race binary runs
// several times slower.
func failoverLimit() time.Duration {
	if strings.Contains(os.Getenv("MEGANODE_BIN"), "race") {
		return 6 * time.Second
	}
	return 2 * time.Second
}

// TestSequencerFailover: three candidates, a replica and a full node under a
// steady load; the leader is killed with SIGKILL, then the new leader's raft
// traffic is cut. Each time another candidate produces within the limit, no
// mini-block number is signed twice, every receipt and acknowledgement the
// clients got is in the final chain, and the deposed leader rejoins as a
// follower.
func TestSequencerFailover(t *testing.T) {
	set := startHASet(t, "a", "b", "c")
	first := set.leader(t, nil)
	dir := t.TempDir()
	args := func(name string) []string {
		a := []string{"--datadir", filepath.Join(dir, name), "--p2p.listen", "/ip4/127.0.0.1/tcp/0",
			"--sequencer.address", set.signer.Hex(), "--sequencer.url", set.urls()}
		for _, p := range set.p2pPeers() {
			a = append(a, "--p2p.peers", p)
		}
		return a
	}
	rep := startMeganode(t, "replica", args("replica")...)
	full := startMeganode(t, "fullnode", args("fullnode")...)
	gossip := watchGossip(t, set.signer, set.p2pPeers())
	load := startTxLoad(t, rep.URL)
	waitFor(t, "transfers flowing", func() bool { return load.sent() >= 20 })

	// kill -9 the leader.
	killed := time.Now()
	first.d.kill(syscall.SIGKILL)
	second := set.leader(t, first)
	waitFor(t, "mini-blocks after the kill", func() bool { return gossip.newSince(killed.Add(100 * time.Millisecond)) })
	if gap := gossip.gap(killed.Add(-200 * time.Millisecond)); gap > failoverLimit() {
		t.Errorf("no mini-block for %v across the kill of %s, want under %v", gap, first.id, failoverLimit())
	} else {
		t.Logf("kill -9 of %s: %s leads; longest mini-block gap %v", first.id, second.id, gap)
	}
	sentBefore := load.sent()
	waitFor(t, "transfers after the failover", func() bool { return load.sent() >= sentBefore+20 })

	// The old leader restarts on its data and rejoins as a follower.
	set.start(t, first)
	waitFor(t, "restarted candidate following", func() bool {
		st, err := haStatus(first.d.URL)
		lead, err2 := haStatus(second.d.URL)
		return err == nil && err2 == nil && st.State == "Follower" && !st.Leading && st.MiniBlock+200 >= lead.MiniBlock && st.Leader == second.id
	})

	// Cut the new leader's raft traffic: it must stop producing, another
	// candidate takes over, and after healing it follows.
	cut := time.Now()
	if out := second.admin(t, "ha_partition", "true"); out != "true" {
		t.Fatalf("ha_partition: %s", out)
	}
	third := set.leader(t, second)
	waitFor(t, "partitioned leader standing down", func() bool {
		st, err := haStatus(second.d.URL)
		return err == nil && !st.Leading
	})
	waitFor(t, "mini-blocks after the partition", func() bool { return gossip.newSince(cut.Add(100 * time.Millisecond)) })
	if gap := gossip.gap(cut.Add(-200 * time.Millisecond)); gap > failoverLimit() {
		t.Errorf("no mini-block for %v across the partition of %s, want under %v", gap, second.id, failoverLimit())
	} else {
		t.Logf("partition of %s: %s leads; longest mini-block gap %v", second.id, third.id, gap)
	}
	sentBefore = load.sent()
	waitFor(t, "transfers after the partition", func() bool { return load.sent() >= sentBefore+20 })
	second.admin(t, "ha_partition", "false")
	waitFor(t, "healed candidate following", func() bool {
		st, err := haStatus(second.d.URL)
		lead, err2 := haStatus(third.d.URL)
		return err == nil && err2 == nil && !st.Leading && st.Leader == third.id && st.MiniBlock+200 >= lead.MiniBlock
	})
	load.end()

	// Every receipt and acknowledgement is in the sealed chain, on the
	// replica and on the full node that re-executed it.
	c := rep.client(t)
	fc := full.client(t)
	load.mu.Lock()
	defer load.mu.Unlock()
	t.Logf("%d preconfirmed receipts, %d acknowledged sends; retried errors: %v", len(load.receipts), len(load.acked), load.errs)
	var last uint64
	for h := range load.receipts {
		last = max(last, uint64(load.receipts[h].BlockNumber))
	}
	waitBlock(t, "replica", c, last+1)
	waitFor(t, "full node verifying the failovers", func() bool {
		return metric(t, full, "meganode_fullnode_verified_blocks_total") >= float64(last)
	})
	if n := metric(t, full, "meganode_fullnode_refused_blocks_total"); n != 0 {
		t.Fatalf("the full node refused %v blocks", n)
	}
	for h, pre := range load.receipts {
		for name, client := range map[string]*gethrpc.Client{"replica": c, "full node": fc} {
			var got *txReceipt
			if err := client.Call(&got, "eth_getTransactionReceipt", h); err != nil || got == nil {
				t.Fatalf("%s: preconfirmed tx %s not in the chain: %v", name, h, err)
			}
			if got.BlockNumber != pre.BlockNumber || got.TransactionIndex != pre.TransactionIndex || got.Status != pre.Status {
				t.Fatalf("%s: tx %s preconfirmed at %d/%d, sealed at %d/%d", name, h, pre.BlockNumber, pre.TransactionIndex, got.BlockNumber, got.TransactionIndex)
			}
		}
	}
	for _, h := range load.acked {
		r := waitReceipt(t, c, h, true)
		if r == nil {
			t.Fatalf("acknowledged tx %s never sealed", h)
		}
	}
	// Every candidate holds the same chain.
	for _, cand := range set.cands {
		waitFor(t, "candidate "+cand.id+" at the replica's head", func() bool {
			return blockHash(t, cand.d.client(t), last) == blockHash(t, c, last)
		})
	}
	gossip.mu.Lock()
	defer gossip.mu.Unlock()
	if len(gossip.conflicts) > 0 {
		t.Fatalf("conflicting mini-blocks: %v", gossip.conflicts)
	}
}

// TestHAMembership: a fourth candidate, started empty with --sync.mode snap,
// joins by state sync from a recent block, then as a non-voter, is promoted once
// it has caught up, leadership moves to it on request, and it can be
// removed again.
func TestHAMembership(t *testing.T) {
	set := startHASet(t, "a", "b", "c")
	lead := set.leader(t, nil)
	// d joins by state sync from a recent block, then follows the raft log.
	waitBlock(t, "the HA leader", lead.d.client(t), 2)
	d := &candidate{id: "d", http: freePort(t), p2pPort: freePort(t), raft: "127.0.0.1:" + freePort(t), dir: filepath.Join(t.TempDir(), "d")}
	args := func() []string {
		return []string{"--datadir", d.dir, "--sequencer.key", set.keyFile, "--http.port", d.http,
			"--p2p.listen", "/ip4/127.0.0.1/tcp/" + d.p2pPort, "--ha.id", "d", "--ha.addr", d.raft, "--p2p.peers", lead.d.P2P, "--sync.mode", "snap"}
	}
	// Nobody knows its ports before ha_addMember: any taken one is picked again.
	d.d = startPicked(t, "sequencer", args, func(port string) bool {
		for _, p := range []*string{&d.http, &d.p2pPort} {
			if *p == port {
				*p = freePort(t)
				return true
			}
		}
		if d.raft == "127.0.0.1:"+port {
			d.raft = "127.0.0.1:" + freePort(t)
			return true
		}
		return false
	})
	waitFor(t, "d's state sync", func() bool { return strings.Contains(d.d.logs.String(), "state sync done") })
	if headerAt(t, d.d.client(t), "0x1") != nil {
		t.Fatal("d, synced from a recent block, serves block 1")
	}
	if out := lead.admin(t, "ha_addMember", "d", d.raft, d.d.URL); out != "true" {
		t.Fatalf("ha_addMember: %s", out)
	}
	type member = chain.HAMember
	members := func() []member {
		var ms []member
		if err := lead.d.client(t).Call(&ms, "ha_members"); err != nil {
			t.Fatal(err)
		}
		return ms
	}
	waitFor(t, "d promoted to voter", func() bool {
		for _, m := range members() {
			if m.ID == "d" {
				return m.Voter
			}
		}
		return false
	})
	if out := lead.admin(t, "ha_transferLeader", "d"); out != "true" {
		t.Fatalf("ha_transferLeader: %s", out)
	}
	waitFor(t, "d leading", func() bool {
		st, err := haStatus(d.d.URL)
		return err == nil && st.Leading
	})
	// The new leader takes transactions; a standby refuses them with the
	// retryable not-leader error.
	_, raw := signedTransfer(t, key0, 0)
	var r receipt
	if err := d.d.client(t).Call(&r, "eth_sendRawTransactionSync", hexutil.Bytes(raw)); err != nil {
		t.Fatalf("send to the new leader: %v", err)
	}
	_, raw = signedTransfer(t, key0, 1)
	var h common.Hash
	err := lead.d.client(t).Call(&h, "eth_sendRawTransaction", hexutil.Bytes(raw))
	var rpcErr gethrpc.Error
	if !errors.As(err, &rpcErr) || rpcErr.ErrorCode() != chain.CodeNotLeader {
		t.Fatalf("standby answered %v, want code %d", err, chain.CodeNotLeader)
	}
	if out := d.admin(t, "ha_removeMember", lead.id); out != "true" {
		t.Fatalf("ha_removeMember: %s", out)
	}
	waitFor(t, "member removed", func() bool {
		var ms []member
		if err := d.d.client(t).Call(&ms, "ha_members"); err != nil {
			return false
		}
		return len(ms) == 3
	})
}

// TestHAFlagsRefuseGarbage: bad HA flags (and --sync.mode, --rpc.heavy-nice)
// stop a sequencer at start with a clear error.
func TestHAFlagsRefuseGarbage(t *testing.T) {
	dir := t.TempDir()
	base := []string{"sequencer", "--datadir", dir, "--http.port", "0", "--p2p.listen", "/ip4/127.0.0.1/tcp/0"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--ha.addr", "127.0.0.1:1"}, "--ha.addr needs --ha.id"},
		{[]string{"--ha.id", "a"}, "a raft address is needed"},
		{[]string{"--ha.id", "a", "--ha.addr", "127.0.0.1:1", "--ha.peers", "a"}, "is not id=host:port"},
		{[]string{"--ha.id", "a", "--ha.addr", "127.0.0.1:1", "--ha.peers", "b=127.0.0.1:2"}, "must include this candidate"},
		{[]string{"--ha.id", "a", "--ha.addr", "127.0.0.1:1", "--ha.lease-timeout", "2s"}, "lease timeout"},
		{[]string{"--ha.id", "a", "--ha.addr", "127.0.0.1:1", "--da.url", "http://127.0.0.1:3"}, "cannot post to DA"},
		{[]string{"--admin.port", "8547"}, "--admin.port needs --ha.id"},
		{[]string{"--ha.id", "a", "--ha.addr", "127.0.0.1:1", "--admin.jwtsecret", "/dev/null"}, "want 32 bytes of hex"},
		{[]string{"--sync.mode", "snap"}, "--sync.mode is for replicas, full nodes and HA sequencer candidates"},
		{[]string{"--ha.id", "a", "--ha.addr", "127.0.0.1:1", "--sync.mode", "fast"}, `unknown sync mode "fast"`},
		{[]string{"--rpc.heavy-nice", "40"}, "heavy-call nice 40"},
	} {
		args := append(append([]string(nil), base...), tc.args...)
		out, err := exec.Command(meganodeBin(t), args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("meganode %v: err %v, output %s; want %q", tc.args, err, out, tc.want)
		}
	}
}

// TestHAAdminListener: an HA candidate serves the methods that change its
// group only on its admin listener, to callers with a valid JWT signed with
// the secret it generated (mode 0600) in its data directory; its public
// port answers them −32601 and keeps the read-only ha_ methods.
func TestHAAdminListener(t *testing.T) {
	set := startHASet(t, "a")
	c := set.leader(t, nil)
	path := filepath.Join(c.dir, "admin.jwtsecret")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("generated secret %s: %v, %v; want mode 0600", path, fi, err)
	}
	hexSecret, _ := os.ReadFile(path)
	secret, err := hexutil.Decode(strings.TrimSpace(string(hexSecret)))
	if err != nil || len(secret) != 32 {
		t.Fatalf("secret file %q: %v", hexSecret, err)
	}
	if !strings.HasPrefix(c.d.Admin, "http://127.0.0.1:") || c.d.Admin == c.d.URL {
		t.Fatalf("admin listener %q (public %s)", c.d.Admin, c.d.URL)
	}
	// cast signs with the secret as an engine-API client does.
	if out := c.admin(t, "ha_addMember", "x", "127.0.0.1:1"); out != "true" {
		t.Fatalf("ha_addMember on the admin listener: %s", out)
	}
	members := func() int {
		var ms []chain.HAMember
		if err := c.d.client(t).Call(&ms, "ha_members"); err != nil { // read-only: public
			t.Fatal(err)
		}
		return len(ms)
	}
	if n := members(); n != 2 {
		t.Fatalf("%d members after ha_addMember, want 2", n)
	}

	var ok bool
	err = c.d.client(t).Call(&ok, "ha_removeMember", "x")
	var rpcErr gethrpc.Error
	if !errors.As(err, &rpcErr) || rpcErr.ErrorCode() != -32601 || !strings.Contains(err.Error(), "admin listener") {
		t.Fatalf("ha_removeMember on the public port: %v, want -32601 naming the admin listener", err)
	}
	wrong := make([]byte, 32)
	for _, tc := range []struct {
		name string
		auth gethrpc.HTTPAuth
		want string
	}{
		{"no token", nil, "missing token"},
		{"wrong secret", jwtAuth(t, wrong, 0), "signature is invalid"},
		{"stale iat", jwtAuth(t, secret, -2*time.Minute), "stale token"},
	} {
		var opts []gethrpc.ClientOption
		if tc.auth != nil {
			opts = append(opts, gethrpc.WithHTTPAuth(tc.auth))
		}
		cl, err := gethrpc.DialOptions(context.Background(), c.d.Admin, opts...)
		if err != nil {
			t.Fatal(err)
		}
		err = cl.Call(&ok, "ha_removeMember", "x")
		cl.Close()
		var he gethrpc.HTTPError
		if !errors.As(err, &he) || he.StatusCode != 401 || !strings.Contains(string(he.Body), tc.want) {
			t.Errorf("%s: got %v, want HTTP 401 %q", tc.name, err, tc.want)
		}
	}
	if n := members(); n != 2 {
		t.Fatalf("%d members after refused removals, want 2", n)
	}
	cl, err := gethrpc.DialOptions(context.Background(), c.d.Admin, gethrpc.WithHTTPAuth(jwtAuth(t, secret, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Call(&ok, "ha_removeMember", "x"); err != nil || !ok {
		t.Fatalf("ha_removeMember with a valid JWT: %v, %v", ok, err)
	}
	if n := members(); n != 1 {
		t.Fatalf("%d members after ha_removeMember, want 1", n)
	}
}

// jwtAuth signs each request with an HS256 JWT issued skew from now.
func jwtAuth(t testing.TB, secret []byte, skew time.Duration) gethrpc.HTTPAuth {
	return func(h http.Header) error {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iat": time.Now().Add(skew).Unix()}).SignedString(secret)
		if err != nil {
			return err
		}
		h.Set("Authorization", "Bearer "+s)
		return nil
	}
}
