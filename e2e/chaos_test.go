package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
)

// chaosConfig sizes a chaos run. The short form (CHAOS_LONG unset) runs in
// `make test`; `make chaos` runs the long form.
type chaosConfig struct {
	long    bool
	rounds  int           // times the whole fault list is run
	rate    int           // tx/s offered through the gateway, all senders
	senders int           // dev accounts sending, one nonce sequence each
	subs    int           // websocket subscribers on the gateway, half miniBlocks, half newHeads
	hold    time.Duration // how long a SIGSTOP with no observable effect lasts
}

func chaosConfigFromEnv(t *testing.T) chaosConfig {
	t.Helper()
	c := chaosConfig{rounds: 1, rate: 200, senders: 8, subs: 20, hold: time.Second}
	if os.Getenv("CHAOS_LONG") != "" {
		c = chaosConfig{long: true, rounds: 10, rate: 1000, senders: 32, subs: 200, hold: 3 * time.Second}
	}
	for name, p := range map[string]*int{"CHAOS_ROUNDS": &c.rounds, "CHAOS_RATE": &c.rate, "CHAOS_SENDERS": &c.senders, "CHAOS_SUBS": &c.subs} {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				t.Fatalf("%s=%q: want a positive integer", name, v)
			}
			*p = n
		}
	}
	return c
}

// chaosRole is a restartable process of the network other than an HA
// candidate: it keeps its ports, so the gateway and its peers find it again.
type chaosRole struct {
	name, cmd string
	port      string
	dir       string // data directory, wiped by the wipe fault; "" for the gateway
	args      func() []string
	d         *devnet
}

// start runs r on its port; one taken before r first bound it is picked
// again, a restart keeps it.
func (r *chaosRole) start(t *testing.T) {
	t.Helper()
	first := r.d == nil
	r.d = startPicked(t, r.cmd, func() []string { return append([]string{"--http.port", r.port}, r.args()...) }, func(port string) bool {
		if !first || port != r.port {
			return false
		}
		r.port = freePort(t)
		return true
	})
}

// chaosNet is the network under test: three HA candidates, two replicas, a
// full node and a prover, fronted by a gateway.
type chaosNet struct {
	cfg      chaosConfig
	set      *haSet
	replicas []*chaosRole
	full     *chaosRole
	prover   *chaosRole
	gw       *chaosRole
	gossip   *gossipLog
}

func startChaosNet(t *testing.T, cfg chaosConfig) *chaosNet {
	t.Helper()
	dir := t.TempDir()
	proverKey, proverAddr := writeKey(t, dir, "prover.key")
	shared := []string{"--prover.addresses", proverAddr.Hex(), "--finality.window", "1s"}
	if cfg.senders > 10 {
		shared = append(shared, "--accounts", strconv.Itoa(cfg.senders)) // every node's genesis
	}
	set := startHASetWith(t, shared, "a", "b", "c")
	n := &chaosNet{cfg: cfg, set: set}
	follower := func(role, name string) *chaosRole {
		r := &chaosRole{name: name, cmd: role, port: freePort(t), dir: filepath.Join(dir, name)}
		r.args = func() []string {
			a := append([]string{"--datadir", r.dir, "--p2p.listen", "/ip4/127.0.0.1/tcp/0",
				"--sequencer.address", set.signer.Hex(), "--sequencer.url", set.urls()}, shared...)
			for _, c := range set.cands {
				a = append(a, "--p2p.peers", c.d.P2P)
			}
			return a
		}
		r.start(t)
		return r
	}
	n.replicas = []*chaosRole{follower("replica", "replica-1"), follower("replica", "replica-2")}
	n.full = follower("fullnode", "fullnode")
	n.prover = &chaosRole{name: "prover", cmd: "prover", port: freePort(t), dir: filepath.Join(dir, "prover")}
	n.prover.args = func() []string {
		a := []string{"--datadir", n.prover.dir, "--prover.key", proverKey, "--sequencer.address", set.signer.Hex(),
			"--p2p.listen", "/ip4/127.0.0.1/tcp/0"}
		if cfg.senders > 10 {
			a = append(a, "--accounts", strconv.Itoa(cfg.senders))
		}
		for _, c := range set.cands {
			a = append(a, "--p2p.peers", c.d.P2P)
		}
		return a
	}
	n.prover.start(t)
	n.gw = &chaosRole{name: "gateway", cmd: "gateway", port: freePort(t)}
	n.gw.args = func() []string {
		a := []string{"--fullnode", n.full.d.URL}
		for _, c := range set.cands {
			a = append(a, "--sequencer", "http://127.0.0.1:"+c.http)
		}
		for _, r := range n.replicas {
			a = append(a, "--replica", "http://127.0.0.1:"+r.port)
		}
		return a
	}
	n.gw.start(t)
	n.gossip = watchGossip(t, set.signer, set.p2pPeers())
	return n
}

// startHASetWith is startHASet with more flags for every candidate.
func startHASetWith(t testing.TB, extra []string, ids ...string) *haSet {
	t.Helper()
	s := newHASet(t, ids...)
	s.extra = extra
	for _, c := range s.cands {
		s.start(t, c)
	}
	return s
}

// chainNodes are the nodes that hold the chain, by name.
func (n *chaosNet) chainNodes() map[string]*devnet {
	out := map[string]*devnet{n.full.name: n.full.d}
	for _, c := range n.set.cands {
		out["candidate-"+c.id] = c.d
	}
	for _, r := range n.replicas {
		out[r.name] = r.d
	}
	return out
}

// chaosLoad sends signed transfers through the gateway at a bounded rate,
// one sender per dev account, each waiting for its preconfirmed receipt
// (eth_sendRawTransactionSync). An error is answered by sending the same
// bytes again until a receipt comes or the nonce is taken ("nonce too
// low": in the chain, the answer lost).
type chaosLoad struct {
	stop chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	preconf  map[common.Hash]txReceipt // receipts the clients were given
	unanswer map[common.Hash]bool      // sent, nonce then taken, no receipt seen
	sent     int                       // distinct txs sent
	errs     map[string]int
}

func startChaosLoad(t *testing.T, url string, cfg chaosConfig) *chaosLoad {
	t.Helper()
	accounts, err := chain.DeriveAccounts(chain.DefaultMnemonic, cfg.senders)
	if err != nil {
		t.Fatal(err)
	}
	l := &chaosLoad{stop: make(chan struct{}), preconf: map[common.Hash]txReceipt{}, unanswer: map[common.Hash]bool{}, errs: map[string]int{}}
	signer := types.LatestSignerForChainID(big.NewInt(chainID))
	interval := time.Duration(cfg.senders) * time.Second / time.Duration(cfg.rate)
	for i, acc := range accounts {
		c, err := gethrpc.Dial(url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		to := common.BigToAddress(big.NewInt(int64(0xc4a05000 + i)))
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			tick := time.NewTicker(interval) // pacing, not synchronisation
			defer tick.Stop()
			for nonce := uint64(0); ; nonce++ {
				select {
				case <-l.stop:
					return
				case <-tick.C:
				}
				tx := types.MustSignNewTx(acc.Key, signer, &types.DynamicFeeTx{
					ChainID: big.NewInt(chainID), Nonce: nonce, To: &to, Gas: params.TxGas,
					GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(10 * params.GWei), Value: big.NewInt(1),
				})
				raw, _ := tx.MarshalBinary()
				l.mu.Lock()
				l.sent++
				l.mu.Unlock()
				for {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					var r txReceipt
					err := c.CallContext(ctx, &r, "eth_sendRawTransactionSync", hexutil.Bytes(raw))
					cancel()
					l.mu.Lock()
					switch {
					case err == nil:
						l.preconf[tx.Hash()] = r
						delete(l.unanswer, tx.Hash())
					case strings.Contains(err.Error(), "nonce too low"):
						l.unanswer[tx.Hash()] = true
					default:
						l.errs[trimErr(err)]++
					}
					l.mu.Unlock()
					if err == nil || strings.Contains(err.Error(), "nonce too low") {
						break
					}
					select {
					case <-l.stop:
						return
					case <-time.After(20 * time.Millisecond): // retry backoff
					}
				}
			}
		}()
	}
	return l
}

func (l *chaosLoad) end() {
	close(l.stop)
	l.wg.Wait()
}

func (l *chaosLoad) preconfirmed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.preconf)
}

// chaosSub is a websocket subscriber on the gateway that reconnects when its
// connection ends. A miniBlocks subscriber resumes with
// from_mini_block_number = last + 1 and must see every number once, in
// order, across reconnects; a newHeads subscriber cannot name a resume point,
// so it must see consecutive numbers within each connection.
type chaosSub struct {
	kind string
	url  string

	mu         sync.Mutex
	last       uint64 // last number received
	got        int
	reconnects int
	gaps       []string
	// A tracking miniBlocks subscriber keeps every tx hash delivered and the
	// first and last block_number: every tx sealed in the blocks between
	// must have reached it.
	track                 bool
	txs                   map[common.Hash]bool
	firstBlock, lastBlock uint64
}

func startChaosSub(t *testing.T, url, kind string, track bool, stop chan struct{}, wg *sync.WaitGroup) *chaosSub {
	s := &chaosSub{kind: kind, url: url, track: track, txs: map[common.Hash]bool{}}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for first := true; ; first = false {
			select {
			case <-stop:
				return
			default:
			}
			if !first {
				s.mu.Lock()
				s.reconnects++
				s.mu.Unlock()
			}
			s.session(stop)
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond): // reconnect backoff
			}
		}
	}()
	return s
}

// session subscribes once and reads until the connection ends.
func (s *chaosSub) session(stop chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	c, err := gethrpc.DialContext(ctx, s.url)
	cancel()
	if err != nil {
		return
	}
	defer c.Close()
	ch := make(chan map[string]any, 256)
	params := []any{s.kind}
	field := "number"
	s.mu.Lock()
	if s.kind == "miniBlocks" {
		field = "mini_block_number"
		if s.got > 0 {
			params = append(params, map[string]string{"from_mini_block_number": hexutil.EncodeUint64(s.last + 1)})
		}
	}
	s.mu.Unlock()
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	sub, err := c.Subscribe(ctx, "eth", ch, params...)
	cancel()
	if err != nil {
		return
	}
	defer sub.Unsubscribe()
	inSession := false
	for {
		select {
		case <-stop:
			return
		case <-sub.Err():
			return
		case m := <-ch:
			v, _ := m[field].(string)
			n, err := hexutil.DecodeUint64(v)
			s.mu.Lock()
			switch {
			case err != nil:
				s.gaps = append(s.gaps, fmt.Sprintf("%s notification without %s: %v", s.kind, field, m))
			case (inSession || s.kind == "miniBlocks" && s.got > 0) && n != s.last+1:
				s.gaps = append(s.gaps, fmt.Sprintf("%s %d followed by %d (reconnects %d)", s.kind, s.last, n, s.reconnects))
			}
			if s.track && err == nil {
				bn, _ := hexutil.DecodeUint64(fmt.Sprint(m["block_number"]))
				if s.got == 0 {
					s.firstBlock = bn
				}
				s.lastBlock = bn
				txs, _ := m["transactions"].([]any)
				for _, tx := range txs {
					if obj, ok := tx.(map[string]any); ok {
						s.txs[common.HexToHash(fmt.Sprint(obj["hash"]))] = true
					}
				}
			}
			s.last, inSession = n, true
			s.got++
			s.mu.Unlock()
		}
	}
}

// chaosTarget is a network the invariants are checked on.
type chaosTarget interface {
	head(t *testing.T) uint64 // the producing sequencer's sealed head
	chainNodes() map[string]*devnet
	gateway() *devnet
	gossipLog() *gossipLog
}

func (n *chaosNet) gateway() *devnet      { return n.gw.d }
func (n *chaosNet) gossipLog() *gossipLog { return n.gossip }

func (n *chaosNet) head(t *testing.T) uint64 {
	t.Helper()
	lead := n.set.leader(t, nil)
	var head uint64
	chaosWait(t, "the leader's sealed head", 10*time.Second, func() error {
		st, err := haStatus(lead.d.URL)
		head = st.Block
		return err
	})
	return head
}

// chaosCheck holds what the invariant checks have verified so far.
type chaosCheck struct {
	n       chaosTarget
	load    *chaosLoad
	subs    []*chaosSub
	hashes  map[uint64]common.Hash    // canonical block hashes, as first seen
	txs     map[uint64][]common.Hash  // their transactions
	where   map[common.Hash][2]uint64 // tx hash → block, index (from txs)
	checked map[string]uint64         // node → highest block whose hash was compared
	seen    map[common.Hash]bool      // preconfirmed receipts matched
	safe    uint64                    // highest safe block seen through the gateway
	final   uint64                    // highest finalized block seen
	only    *regexp.Regexp            // CHAOS_FAULTS: run only the faults it matches
	skip    *regexp.Regexp            // CHAOS_SKIP: not the faults it matches
	subStop chan struct{}
	subWG   sync.WaitGroup
	began   time.Time
}

// chaosWait polls cond until it returns nil or timeout passes, then fails with
// cond's last error.
func chaosWait(t *testing.T, what string, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(100 * time.Millisecond) // poll interval
	}
}

func sealedHash(c *gethrpc.Client, n uint64) (*common.Hash, []common.Hash, error) {
	var b *struct {
		Hash *common.Hash  `json:"hash"`
		Txs  []common.Hash `json:"transactions"`
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.CallContext(ctx, &b, "eth_getBlockByNumber", hexutil.EncodeUint64(n), false); err != nil {
		return nil, nil, err
	}
	if b == nil || b.Hash == nil {
		return nil, nil, nil
	}
	return b.Hash, b.Txs, nil
}

func dialQuick(url string) (*gethrpc.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return gethrpc.DialContext(ctx, url)
}

// progress waits until the clients got more preconfirmed receipts: the
// network takes writes through the gateway again.
func (k *chaosCheck) progress(t *testing.T, what string, more int) {
	t.Helper()
	from := k.load.preconfirmed()
	chaosWait(t, "preconfirmed transfers through the gateway "+what, 60*time.Second, func() error {
		if got := k.load.preconfirmed(); got < from+more {
			k.load.mu.Lock()
			defer k.load.mu.Unlock()
			return fmt.Errorf("%d new receipts, want %d; retried errors %v", got-from, more, k.load.errs)
		}
		return nil
	})
}

// verify checks the invariants after a fault healed: every node seals up to
// the leader's head with the same hashes; every preconfirmed receipt in
// those blocks is at its position and no tx is twice in the chain; no
// subscriber saw a gap; no mini-block number was signed twice; safe and
// finalized move past where they were.
func (k *chaosCheck) verify(t *testing.T, fault string) {
	t.Helper()
	target := k.n.head(t)
	for name, d := range k.n.chainNodes() {
		c, err := dialQuick(d.URL)
		if err != nil {
			t.Fatalf("after %s: dial %s: %v", fault, name, err)
		}
		chaosWait(t, fmt.Sprintf("%s to seal up to block %d after %s", name, target, fault), 60*time.Second, func() error {
			for n := k.checked[name] + 1; n <= target; n++ {
				h, txs, err := sealedHash(c, n)
				if err != nil {
					return err
				}
				if h == nil {
					return fmt.Errorf("block %d not sealed yet", n)
				}
				if want, ok := k.hashes[n]; !ok {
					k.hashes[n], k.txs[n] = *h, txs
					for i, tx := range txs {
						if at, dup := k.where[tx]; dup {
							t.Fatalf("tx %s is in the chain twice: block %d index %d and block %d index %d", tx, at[0], at[1], n, i)
						}
						k.where[tx] = [2]uint64{n, uint64(i)}
					}
				} else if want != *h {
					t.Fatalf("after %s: %s has block %d hash %s, others %s", fault, name, n, h, want)
				}
				k.checked[name] = n
			}
			return nil
		})
		c.Close()
	}
	k.checkReceipts(t, target, false)
	for _, s := range k.subs {
		s.mu.Lock()
		gaps := slices.Clone(s.gaps)
		s.mu.Unlock()
		if len(gaps) > 0 {
			t.Fatalf("after %s: a subscriber saw %v", fault, gaps)
		}
	}
	gossip := k.n.gossipLog()
	gossip.mu.Lock()
	conflicts := slices.Clone(gossip.conflicts)
	gossip.mu.Unlock()
	if len(conflicts) > 0 {
		t.Fatalf("after %s: %v", fault, conflicts)
	}
	// Finality resumes: safe and finalized pass where they were.
	safe, final := k.safe, k.final
	chaosWait(t, "safe and finalized heads to advance after "+fault, 60*time.Second, func() error {
		c, err := dialQuick(k.n.gateway().URL)
		if err != nil {
			return err
		}
		defer c.Close()
		for _, tag := range []string{"safe", "finalized"} {
			var f finality
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			err := c.CallContext(ctx, &f, "mega_getFinality", tag)
			cancel()
			if err != nil {
				return fmt.Errorf("mega_getFinality(%s): %w", tag, err)
			}
			if tag == "safe" {
				k.safe = max(k.safe, uint64(f.BlockNumber))
			} else {
				k.final = max(k.final, uint64(f.BlockNumber))
			}
		}
		if k.safe <= safe || k.final <= final {
			return fmt.Errorf("safe %d (was %d), finalized %d (was %d); on each node: %s", k.safe, safe, k.final, final, k.ladders())
		}
		return nil
	})
	t.Logf("%-28s ok: head %d on %d nodes, %d preconfirmed, safe %d, finalized %d", fault, target, len(k.checked), k.load.preconfirmed(), k.safe, k.final)
}

// ladders lists the safe and finalized blocks each chain node answers.
func (k *chaosCheck) ladders() string {
	var out []string
	for name, d := range k.n.chainNodes() {
		c, err := dialQuick(d.URL)
		if err != nil {
			out = append(out, name+": "+err.Error())
			continue
		}
		var safe, final finality
		err = errors.Join(c.Call(&safe, "mega_getFinality", "safe"), c.Call(&final, "mega_getFinality", "finalized"))
		c.Close()
		out = append(out, fmt.Sprintf("%s safe %d finalized %d %v", name, safe.BlockNumber, final.BlockNumber, err))
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// checkReceipts matches every preconfirmed receipt sealed by block upTo
// against the chain; all wants every one of them sealed.
func (k *chaosCheck) checkReceipts(t *testing.T, upTo uint64, all bool) {
	t.Helper()
	k.load.mu.Lock()
	defer k.load.mu.Unlock()
	for h, r := range k.load.preconf {
		if k.seen[h] || uint64(r.BlockNumber) > upTo && !all {
			continue
		}
		at, ok := k.where[h]
		if !ok {
			t.Fatalf("LOST: tx %s was preconfirmed at block %d index %d and is not in the chain up to block %d", h, r.BlockNumber, r.TransactionIndex, upTo)
		}
		if at != [2]uint64{uint64(r.BlockNumber), uint64(r.TransactionIndex)} {
			t.Fatalf("tx %s preconfirmed at block %d index %d, sealed at block %d index %d\n%s", h, r.BlockNumber, r.TransactionIndex, at[0], at[1], k.explain(uint64(r.BlockNumber)))
		}
		k.seen[h] = true
	}
	if all {
		for h := range k.load.unanswer {
			if _, ok := k.where[h]; !ok {
				t.Fatalf("tx %s was refused as \"nonce too low\" on a resend but is not in the chain", h)
			}
		}
	}
}

// explain lists block n's transactions beside the receipts the clients
// were given for it (k.load.mu held).
func (k *chaosCheck) explain(n uint64) string {
	byIndex := map[uint64][]string{}
	for h, r := range k.load.preconf {
		if uint64(r.BlockNumber) == n {
			byIndex[uint64(r.TransactionIndex)] = append(byIndex[uint64(r.TransactionIndex)], h.Hex()[:10])
		}
	}
	var b strings.Builder
	for i, h := range k.txs[n] {
		fmt.Fprintf(&b, "  block %d index %d: %s, preconfirmed here: %v, unanswered resend: %v\n", n, i, h.Hex()[:10], byIndex[uint64(i)], k.load.unanswer[h])
	}
	return b.String()
}

// processState reads the state letter of a process (R, S, T…).
func processState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i > 0 && i+2 < len(s) {
		return s[i+2 : i+3]
	}
	return ""
}

// pause SIGSTOPs d and waits until the kernel reports it stopped.
func pause(t *testing.T, d *devnet) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	chaosWait(t, "the process stopped", 5*time.Second, func() error {
		if st := processState(d.cmd.Process.Pid); st != "T" {
			return fmt.Errorf("state %q", st)
		}
		return nil
	})
}

func resume(t *testing.T, d *devnet) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
}

// adminCall calls an admin method on c's admin listener with a JWT signed
// with the secret c generated.
func adminCall(t *testing.T, c *candidate, method string, params ...any) {
	t.Helper()
	hexSecret, err := os.ReadFile(filepath.Join(c.dir, "admin.jwtsecret"))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := hexutil.Decode(strings.TrimSpace(string(hexSecret)))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := gethrpc.DialOptions(context.Background(), c.d.Admin, gethrpc.WithHTTPAuth(jwtAuth(t, secret, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var ok bool
	if err := cl.Call(&ok, method, params...); err != nil || !ok {
		t.Fatalf("%s on %s: %v, %v", method, c.id, ok, err)
	}
}

// following waits until c is a caught-up follower of another leader.
func (n *chaosNet) following(t *testing.T, c *candidate) {
	t.Helper()
	chaosWait(t, "candidate "+c.id+" following", 60*time.Second, func() error {
		st, err := haStatus(c.d.URL)
		if err != nil {
			return err
		}
		for _, o := range n.set.cands {
			if o == c {
				continue
			}
			if lead, err := haStatus(o.d.URL); err == nil && lead.Leading {
				if st.Leading || st.Leader != o.id || st.MiniBlock+200 < lead.MiniBlock {
					return fmt.Errorf("%s: %+v, leader %s at mini-block %d", c.id, st, o.id, lead.MiniBlock)
				}
				return nil
			}
		}
		return errors.New("no leader")
	})
}

func (n *chaosNet) follower(not *candidate) *candidate {
	for _, c := range n.set.cands {
		if c != not {
			return c
		}
	}
	return nil
}

// TestChaos runs networks of every role under a steady load through the
// gateway with websocket subscribers, injects each fault in turn, and after
// each one checks that nothing preconfirmed is lost or moved, every node
// has the same blocks, no subscriber saw a gap and finality resumes. "ha"
// is three HA candidates with replicas, a full node, a prover and the
// gateway; "da" is a lone sequencer posting to the DA server (an HA set
// cannot post to DA yet), with a replica deriving from DA alone. The short
// form runs each fault list once; CHAOS_LONG=1 (make chaos) runs them
// CHAOS_ROUNDS times at a higher load.
func TestChaos(t *testing.T) {
	cfg := chaosConfigFromEnv(t)
	t.Run("ha", func(t *testing.T) { chaosHA(t, cfg) })
	t.Run("da", func(t *testing.T) { chaosDA(t, cfg) })
}

// chaosFault is one fault: inject it, wait for the network to get over it.
type chaosFault struct {
	name   string
	inject func(t *testing.T)
}

// startChaosClients starts the load and the subscribers on n's gateway and
// checks the network once they flow.
func startChaosClients(t *testing.T, n chaosTarget, cfg chaosConfig) *chaosCheck {
	t.Helper()
	load := startChaosLoad(t, n.gateway().URL, cfg)
	t.Cleanup(func() {
		select {
		case <-load.stop:
		default:
			load.end()
		}
	})
	k := &chaosCheck{n: n, load: load, hashes: map[uint64]common.Hash{}, txs: map[uint64][]common.Hash{},
		where: map[common.Hash][2]uint64{}, checked: map[string]uint64{}, seen: map[common.Hash]bool{},
		subStop: make(chan struct{}), began: time.Now()}
	if re := os.Getenv("CHAOS_FAULTS"); re != "" {
		k.only = regexp.MustCompile(re)
	}
	if re := os.Getenv("CHAOS_SKIP"); re != "" {
		k.skip = regexp.MustCompile(re)
	}
	t.Cleanup(k.stopSubs)
	for i := range cfg.subs {
		kind := "miniBlocks"
		if i%2 == 1 {
			kind = "newHeads"
		}
		// Four miniBlocks subscribers also check what was delivered.
		k.subs = append(k.subs, startChaosSub(t, n.gateway().WS, kind, kind == "miniBlocks" && i < 8, k.subStop, &k.subWG))
	}
	k.progress(t, "at start", 50)
	k.verify(t, "start")
	return k
}

func (k *chaosCheck) stopSubs() {
	select {
	case <-k.subStop:
	default:
		close(k.subStop)
		k.subWG.Wait()
	}
}

// run injects every fault, rounds times, checking the invariants after
// each, then stops the clients and checks that every preconfirmed receipt
// (and every resend refused as "nonce too low") is in the sealed chain at
// its place.
func (k *chaosCheck) run(t *testing.T, cfg chaosConfig, faults []chaosFault) {
	t.Helper()
	started := time.Now()
	sentBefore := k.load.preconfirmed()
	var injected int
	for round := 1; round <= cfg.rounds; round++ {
		for _, f := range faults {
			if k.only != nil && !k.only.MatchString(f.name) || k.skip != nil && k.skip.MatchString(f.name) {
				continue
			}
			name := f.name
			if cfg.rounds > 1 {
				name = fmt.Sprintf("r%d %s", round, f.name)
			}
			f.inject(t)
			injected++
			k.progress(t, "after "+name, 20)
			k.verify(t, name)
		}
	}
	faultTime := time.Since(started)
	rate := float64(k.load.preconfirmed()-sentBefore) / faultTime.Seconds()

	k.load.end()
	k.stopSubs()
	var last uint64
	k.load.mu.Lock()
	for _, r := range k.load.preconf {
		last = max(last, uint64(r.BlockNumber))
	}
	k.load.mu.Unlock()
	chaosWait(t, "the block of the last preconfirmed receipt sealed", 30*time.Second, func() error {
		if h := k.n.head(t); h < last {
			return fmt.Errorf("head %d, want %d", h, last)
		}
		return nil
	})
	k.verify(t, "end")
	k.checkReceipts(t, last, true)
	// A tracking subscriber got every tx of the whole blocks it followed:
	// the content of its mini-blocks, not only their numbers.
	for _, s := range k.subs {
		if !s.track {
			continue
		}
		for b := s.firstBlock + 1; b < s.lastBlock; b++ {
			for i, h := range k.txs[b] {
				if !s.txs[h] {
					t.Fatalf("a miniBlocks subscriber (blocks %d to %d, %d reconnects) never got tx %s, sealed at block %d index %d",
						s.firstBlock, s.lastBlock, s.reconnects, h, b, i)
				}
			}
		}
	}
	var reconnects, notes int
	for _, s := range k.subs {
		s.mu.Lock()
		reconnects += s.reconnects
		notes += s.got
		s.mu.Unlock()
	}
	k.load.mu.Lock()
	defer k.load.mu.Unlock()
	losses := len(k.load.preconf) - len(k.seen)
	if losses != 0 {
		t.Fatalf("%d preconfirmed txs not matched in the chain", losses)
	}
	t.Logf("chaos summary: rounds %d, faults %d, txs sent %d, preconfirmed %d (%.0f/s over %v of faults, %d/s offered), losses %d; blocks %d, subscribers %d (notifications %d, reconnects %d), safe %d, finalized %d, wall %v; retried errors %v",
		cfg.rounds, injected, k.load.sent, len(k.load.preconf), rate, faultTime.Round(time.Second), cfg.rate,
		losses, len(k.hashes), len(k.subs), notes, reconnects, k.safe, k.final, time.Since(k.began).Round(time.Second), k.load.errs)
}

func chaosHA(t *testing.T, cfg chaosConfig) {
	n := startChaosNet(t, cfg)
	k := startChaosClients(t, n, cfg)
	restart := func(r *chaosRole) { r.d.kill(syscall.SIGKILL); r.start(t) }
	gwReady := func(url string, healthy bool) func() error {
		return func() error {
			var st gatewayStatus
			if code := getJSON(t, n.gw.d.URL+"/ready", &st); code == 0 {
				return errors.New("no answer")
			}
			for _, b := range st.Backends {
				if b.URL == url {
					if b.Healthy != healthy {
						return fmt.Errorf("%s healthy %v", url, b.Healthy)
					}
					return nil
				}
			}
			return fmt.Errorf("%s not listed: %+v", url, st)
		}
	}
	faults := []chaosFault{
		{"kill -9 leader", func(t *testing.T) {
			lead := n.set.leader(t, nil)
			lead.d.kill(syscall.SIGKILL)
			n.set.leader(t, lead)
			k.progress(t, "with the leader dead", 20)
			n.set.start(t, lead)
			n.following(t, lead)
		}},
		{"kill -9 leader again", func(t *testing.T) {
			lead := n.set.leader(t, nil)
			lead.d.kill(syscall.SIGKILL)
			n.set.leader(t, lead)
			k.progress(t, "with the second leader dead", 20)
			n.set.start(t, lead)
			n.following(t, lead)
		}},
		{"SIGSTOP leader", func(t *testing.T) {
			lead := n.set.leader(t, nil)
			pause(t, lead.d)
			n.set.leader(t, lead)
			k.progress(t, "with the leader stopped", 20)
			resume(t, lead.d)
			n.following(t, lead)
		}},
		{"partition leader", func(t *testing.T) {
			lead := n.set.leader(t, nil)
			adminCall(t, lead, "ha_partition", true)
			n.set.leader(t, lead)
			k.progress(t, "with the leader partitioned", 20)
			adminCall(t, lead, "ha_partition", false)
			n.following(t, lead)
		}},
		{"kill -9 follower candidate", func(t *testing.T) {
			f := n.follower(n.set.leader(t, nil))
			f.d.kill(syscall.SIGKILL)
			k.progress(t, "with a follower candidate dead", 20)
			n.set.start(t, f)
			n.following(t, f)
		}},
		{"SIGSTOP follower candidate", func(t *testing.T) {
			f := n.follower(n.set.leader(t, nil))
			pause(t, f.d)
			k.progress(t, "with a follower candidate stopped", 20)
			resume(t, f.d)
			n.following(t, f)
		}},
		{"kill -9 replica", func(t *testing.T) {
			r := n.replicas[0]
			r.d.kill(syscall.SIGKILL)
			chaosWait(t, "the gateway taking the dead replica out", 30*time.Second, gwReady(r.d.URL, false))
			k.progress(t, "with a replica dead", 20)
			r.start(t)
			chaosWait(t, "the restarted replica back in service", 60*time.Second, gwReady(r.d.URL, true))
		}},
		{"SIGSTOP replica", func(t *testing.T) {
			r := n.replicas[1]
			pause(t, r.d)
			chaosWait(t, "the gateway taking the stopped replica out", 30*time.Second, gwReady(r.d.URL, false))
			k.progress(t, "with a replica stopped", 20)
			resume(t, r.d)
			chaosWait(t, "the resumed replica back in service", 60*time.Second, gwReady(r.d.URL, true))
		}},
		{"replica with wiped datadir", func(t *testing.T) {
			r := n.replicas[0]
			r.d.kill(syscall.SIGKILL)
			if err := os.RemoveAll(r.dir); err != nil {
				t.Fatal(err)
			}
			delete(k.checked, r.name) // a new chain: check it from block 1
			r.start(t)
			chaosWait(t, "the wiped replica back in service", 60*time.Second, gwReady(r.d.URL, true))
		}},
		{"kill -9 full node", func(t *testing.T) {
			n.full.d.kill(syscall.SIGKILL)
			k.progress(t, "with the full node dead", 20)
			n.full.start(t)
		}},
		{"SIGSTOP full node", func(t *testing.T) {
			pause(t, n.full.d)
			chaosWait(t, "the gateway taking the stopped full node out", 30*time.Second, gwReady(n.full.d.URL, false))
			resume(t, n.full.d)
		}},
		{"full node with wiped datadir", func(t *testing.T) {
			n.full.d.kill(syscall.SIGKILL)
			if err := os.RemoveAll(n.full.dir); err != nil {
				t.Fatal(err)
			}
			delete(k.checked, n.full.name)
			n.full.start(t)
		}},
		{"full node wiped after every peer restarted", func(t *testing.T) {
			// Its peers are the candidates. Restarted after the prover (which
			// attests every block again from block 1 when it restarts), none
			// holds an attestation of an old block in memory: the full node,
			// back empty, finalizes only from what they kept on disk.
			n.prover.d.kill(syscall.SIGKILL)
			n.prover.start(t)
			k.progress(t, "with the prover restarted", 20)
			for _, c := range n.set.cands {
				lead := n.set.leader(t, nil)
				c.d.kill(syscall.SIGKILL)
				if c == lead {
					n.set.leader(t, c)
				}
				n.set.start(t, c)
				n.following(t, c)
			}
			n.full.d.kill(syscall.SIGKILL)
			if err := os.RemoveAll(n.full.dir); err != nil {
				t.Fatal(err)
			}
			delete(k.checked, n.full.name)
			n.full.start(t)
		}},
		{"kill -9 prover", func(t *testing.T) {
			n.prover.d.kill(syscall.SIGKILL)
			k.progress(t, "with the prover dead", 20)
			n.prover.start(t)
		}},
		{"SIGSTOP prover", func(t *testing.T) {
			pause(t, n.prover.d)
			hold := time.NewTimer(cfg.hold) // the fault's duration: nothing outside shows a stopped prover
			k.progress(t, "with the prover stopped", 20)
			<-hold.C
			resume(t, n.prover.d)
		}},
		{"kill -9 gateway", func(t *testing.T) {
			restart(n.gw)
		}},
		{"SIGSTOP gateway", func(t *testing.T) {
			pause(t, n.gw.d)
			time.Sleep(cfg.hold) // the fault's duration
			resume(t, n.gw.d)
		}},
	}
	k.run(t, cfg, faults)
}

// daNet is a lone sequencer posting every block to the DA server, a replica
// and a full node following it over p2p (the full node's safe waits for
// DA), a replica deriving the chain from DA alone, a prover and the
// gateway.
type daNet struct {
	da, seq, replica, full, derived, prover, gw *chaosRole
	gossip                                      *gossipLog
}

func (n *daNet) gateway() *devnet      { return n.gw.d }
func (n *daNet) gossipLog() *gossipLog { return n.gossip }

func (n *daNet) chainNodes() map[string]*devnet {
	return map[string]*devnet{"sequencer": n.seq.d, "replica": n.replica.d, "fullnode": n.full.d, "da-derived replica": n.derived.d}
}

func (n *daNet) head(t *testing.T) uint64 {
	t.Helper()
	var head hexutil.Uint64
	chaosWait(t, "the sequencer's sealed head", 30*time.Second, func() error {
		c, err := dialQuick(n.seq.d.URL)
		if err != nil {
			return err
		}
		defer c.Close()
		return c.Call(&head, "eth_blockNumber")
	})
	return uint64(head)
}

// posted waits until the sequencer has posted every block to its head, in
// one contiguous index.
func (n *daNet) posted(t *testing.T, what string) {
	t.Helper()
	head := n.head(t)
	chaosWait(t, "every block posted to DA "+what, 60*time.Second, func() error {
		if got := postedUpTo(t, n.seq.d); got < head {
			return fmt.Errorf("posted up to %d, head %d", got, head)
		}
		return nil
	})
	commitments(t, n.seq.d) // contiguous from block 1
}

func startDANet(t *testing.T, cfg chaosConfig) *daNet {
	t.Helper()
	dir := t.TempDir()
	proverKey, proverAddr := writeKey(t, dir, "prover.key")
	seqKey, seqAddr := writeKey(t, dir, "sequencer.key")
	shared := []string{"--prover.addresses", proverAddr.Hex(), "--finality.window", "1s"}
	if cfg.senders > 10 {
		shared = append(shared, "--accounts", strconv.Itoa(cfg.senders))
	}
	n := &daNet{}
	n.da = &chaosRole{name: "da", cmd: "da", port: freePort(t), dir: filepath.Join(dir, "da")}
	n.da.args = func() []string { return []string{"--port", n.da.port, "--datadir", n.da.dir} }
	n.da.d = startMeganode(t, "da", n.da.args()...) // `da` takes --port, not --http.port
	daURL := "http://127.0.0.1:" + n.da.port
	p2pPort := freePort(t)
	n.seq = &chaosRole{name: "sequencer", cmd: "sequencer", port: freePort(t), dir: filepath.Join(dir, "seq")}
	n.seq.args = func() []string {
		return append([]string{"--datadir", n.seq.dir, "--sequencer.key", seqKey, "--p2p.listen", "/ip4/127.0.0.1/tcp/" + p2pPort,
			"--da.url", daURL}, shared...)
	}
	n.seq.start(t)
	seqURL := n.seq.d.URL
	follower := func(role, name string, extra ...string) *chaosRole {
		r := &chaosRole{name: name, cmd: role, port: freePort(t), dir: filepath.Join(dir, name)}
		r.args = func() []string {
			return append(append([]string{"--datadir", r.dir, "--p2p.listen", "/ip4/127.0.0.1/tcp/0",
				"--sequencer.address", seqAddr.Hex(), "--sequencer.url", seqURL}, shared...), extra...)
		}
		r.start(t)
		return r
	}
	n.replica = follower("replica", "replica", "--p2p.peers", n.seq.d.P2P)
	n.full = follower("fullnode", "fullnode", "--p2p.peers", n.seq.d.P2P, "--da.url", daURL)
	n.derived = follower("replica", "derived", "--da.url", daURL, "--sync-from-da")
	n.prover = &chaosRole{name: "prover", cmd: "prover", port: freePort(t), dir: filepath.Join(dir, "prover")}
	n.prover.args = func() []string {
		a := []string{"--datadir", n.prover.dir, "--prover.key", proverKey, "--sequencer.address", seqAddr.Hex(),
			"--p2p.listen", "/ip4/127.0.0.1/tcp/0", "--p2p.peers", n.seq.d.P2P}
		if cfg.senders > 10 {
			a = append(a, "--accounts", strconv.Itoa(cfg.senders))
		}
		return a
	}
	n.prover.start(t)
	n.gw = &chaosRole{name: "gateway", cmd: "gateway", port: freePort(t)}
	n.gw.args = func() []string {
		return []string{"--sequencer", seqURL, "--replica", n.replica.d.URL, "--fullnode", n.full.d.URL}
	}
	n.gw.start(t)
	n.gossip = watchGossip(t, seqAddr, []string{n.seq.d.P2P})
	return n
}

func chaosDA(t *testing.T, cfg chaosConfig) {
	n := startDANet(t, cfg)
	k := startChaosClients(t, n, cfg)
	// sealedWhile waits for three more blocks: the fault lasts that long.
	sealedWhile := func(what string) {
		from := n.head(t)
		chaosWait(t, "three blocks sealed "+what, 30*time.Second, func() error {
			if h := n.head(t); h < from+3 {
				return fmt.Errorf("head %d, want %d", h, from+3)
			}
			return nil
		})
	}
	// safeNotAhead: while DA takes nothing, nothing unposted is safe.
	safeNotAhead := func() {
		var f finality
		if err := n.full.d.client(t).Call(&f, "mega_getFinality", "safe"); err != nil {
			t.Fatal(err)
		}
		if posted := postedUpTo(t, n.seq.d); uint64(f.BlockNumber) > posted {
			t.Fatalf("safe block %d is not posted to DA (posted up to %d)", f.BlockNumber, posted)
		}
	}
	faults := []chaosFault{
		{"DA 503", func(t *testing.T) {
			patchDA(t, n.da.d, `{"PutReturnsFailoverError":true}`)
			sealedWhile("while DA answers 503")
			safeNotAhead()
			if metric(t, n.seq.d, "meganode_da_unavailable_total") == 0 {
				t.Fatal("no 503 seen by the batcher")
			}
			patchDA(t, n.da.d, `{"PutReturnsFailoverError":false}`)
			n.posted(t, "after the 503s")
		}},
		{"DA latency 3s", func(t *testing.T) {
			patchDA(t, n.da.d, `{"PutLatency":"3s","GetLatency":"500ms"}`)
			sealedWhile("while DA is slow")
			patchDA(t, n.da.d, `{"PutLatency":"0s","GetLatency":"0s"}`)
			n.posted(t, "after the latency")
		}},
		{"kill -9 DA server", func(t *testing.T) {
			n.da.d.kill(syscall.SIGKILL)
			sealedWhile("while DA is dead")
			n.da.d = startMeganode(t, "da", n.da.args()...)
			n.posted(t, "after the DA server restarted")
		}},
		{"SIGSTOP DA server", func(t *testing.T) {
			pause(t, n.da.d)
			sealedWhile("while DA is stopped")
			resume(t, n.da.d)
			n.posted(t, "after the DA server resumed")
		}},
		{"kill -9 sequencer", func(t *testing.T) {
			n.seq.d.kill(syscall.SIGKILL)
			n.seq.start(t) // on its journal: nothing preconfirmed is lost
			n.posted(t, "after the sequencer restarted")
		}},
		{"SIGSTOP sequencer", func(t *testing.T) {
			pause(t, n.seq.d)
			hold := time.NewTimer(cfg.hold) // the fault's duration
			<-hold.C
			resume(t, n.seq.d)
		}},
		{"DA-derived replica with wiped datadir", func(t *testing.T) {
			n.derived.d.kill(syscall.SIGKILL)
			if err := os.RemoveAll(n.derived.dir); err != nil {
				t.Fatal(err)
			}
			delete(k.checked, "da-derived replica") // derived again from block 1
			n.derived.start(t)
		}},
	}
	k.run(t, cfg, faults)
}
