package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// gatewayStatus is the gateway's /ready answer.
type gatewayStatus struct {
	Status   string `json:"status"`
	Backends []struct {
		URL     string `json:"url"`
		Healthy bool   `json:"healthy"`
	} `json:"backends"`
}

func backendHealthy(t *testing.T, gw *devnet, url string) bool {
	var st gatewayStatus
	getJSON(t, gw.URL+"/ready", &st)
	for _, b := range st.Backends {
		if b.URL == url {
			return b.Healthy
		}
	}
	t.Fatalf("gateway does not list %s: %+v", url, st)
	return false
}

// miniBlockWatcher reads a miniBlocks subscription through the gateway and
// records every mini_block_number, failing on a close.
type miniBlockWatcher struct {
	mu      sync.Mutex
	numbers []uint64
	err     error
	conn    *websocket.Conn
}

func watchMiniBlocks(t *testing.T, wsURL string) *miniBlockWatcher {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": []string{"miniBlocks"}}); err != nil {
		t.Fatal(err)
	}
	var ans struct {
		Result string `json:"result"`
	}
	if err := conn.ReadJSON(&ans); err != nil || ans.Result == "" {
		t.Fatalf("subscribe through the gateway: %v %+v", err, ans)
	}
	w := &miniBlockWatcher{conn: conn}
	go func() {
		for {
			var note struct {
				Params struct {
					Subscription string `json:"subscription"`
					Result       struct {
						Number hexutil.Uint64 `json:"mini_block_number"`
					} `json:"result"`
				} `json:"params"`
			}
			err := conn.ReadJSON(&note)
			w.mu.Lock()
			if err != nil {
				w.err = err
				w.mu.Unlock()
				return
			}
			if note.Params.Subscription != ans.Result {
				w.err = fmt.Errorf("notification for %q, subscribed %q", note.Params.Subscription, ans.Result)
			}
			w.numbers = append(w.numbers, uint64(note.Params.Result.Number))
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *miniBlockWatcher) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.numbers)
}

// check fails on a read error or a number that is not the previous + 1.
func (w *miniBlockWatcher) check(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		t.Fatalf("subscription ended after %d mini-blocks: %v", len(w.numbers), w.err)
	}
	for i := 1; i < len(w.numbers); i++ {
		if w.numbers[i] != w.numbers[i-1]+1 {
			t.Fatalf("mini-block %d followed by %d (of %d received)", w.numbers[i-1], w.numbers[i], len(w.numbers))
		}
	}
}

// readLoad sends reads through the gateway from several clients until
// stopped and counts the failed ones.
type readLoad struct {
	stop   chan struct{}
	wg     sync.WaitGroup
	ok     atomic.Int64
	failed atomic.Int64
	mu     sync.Mutex
	errs   []string
}

func startReadLoad(url string, workers int) *readLoad {
	l := &readLoad{stop: make(chan struct{})}
	bodies := []string{
		`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["` + addr2 + `","latest"]}`,
		`{"jsonrpc":"2.0","id":2,"method":"eth_blockNumber"}`,
		`[{"jsonrpc":"2.0","id":3,"method":"eth_getBlockByNumber","params":["latest",false]},{"jsonrpc":"2.0","id":4,"method":"eth_chainId"}]`,
	}
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				body := bodies[i%len(bodies)]
				resp, err := client.Post(url, "application/json", strings.NewReader(body))
				if err == nil {
					out, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK || bytes.Contains(out, []byte(`"error"`)) {
						err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, out)
					}
				}
				if err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					l.errs = append(l.errs, err.Error())
					l.mu.Unlock()
					continue
				}
				l.ok.Add(1)
			}
		}()
	}
	return l
}

func (l *readLoad) end() {
	close(l.stop)
	l.wg.Wait()
}

// TestGateway runs a sequencer, two replicas and a full node behind a
// gateway: Foundry deploys and sends through it; one replica is killed
// (SIGKILL) under a read load and a miniBlocks subscription, then
// restarted: no read fails, the subscription has no gap, and the replica
// is put back in service. The sequencer killed, writes answer a retryable
// error and reads go on; restarted, it takes writes again. With the full
// node killed, finality reads fall back to the replicas.
func TestGateway(t *testing.T) {
	net := startSequencer(t)
	portA := freePort(t)
	dirA := t.TempDir()
	repA := startReplicaOn(t, net, dirA, portA) // a known port: restarted, it is found again
	repB := net.follower(t, "replica", t.TempDir(), net.seq.P2P)
	full := net.follower(t, "fullnode", t.TempDir(), net.seq.P2P)
	gw := startMeganode(t, "gateway", "--sequencer", net.seq.URL, "--replica", repA.URL, "--replica", repB.URL, "--fullnode", full.URL)
	cast, forge := tool(t, "cast"), tool(t, "forge")

	// Foundry through the gateway: a script deploying three txs, then cast.
	dir := foundryProject(t)
	runEnv(t, dir, []string{"SALT=11"}, forge, "script", "script/Deploy.s.sol:Deploy", "--rpc-url", gw.URL, "--broadcast", "--private-key", key1)
	bc := readBroadcast(t, dir)
	if len(bc.Receipts) != 3 {
		t.Fatalf("forge script through the gateway: %d receipts, want 3", len(bc.Receipts))
	}
	var counter string
	for _, tx := range bc.Transactions {
		if tx.TransactionType == "CREATE" {
			counter = tx.ContractAddress
		}
	}
	if got := run(t, "", cast, "call", counter, "number()(uint256)", "--rpc-url", gw.URL); got != "2" {
		t.Fatalf("cast call through the gateway: %q, want 2 after the script's increment", got)
	}

	// A subscription on each replica (the gateway spreads them), a read load.
	subs := []*miniBlockWatcher{watchMiniBlocks(t, gw.WS), watchMiniBlocks(t, gw.WS)}
	load := startReadLoad(gw.URL, 4)
	waitFor(t, "reads and mini-blocks through the gateway", func() bool {
		return load.ok.Load() > 200 && subs[0].count() > 20 && subs[1].count() > 20
	})
	repA.kill(syscall.SIGKILL)
	before := load.ok.Load()
	// A wallet keeps working while the replica is down.
	out := run(t, "", cast, "send", counter, "increment()", "--private-key", key1, "--rpc-url", gw.URL, "--json")
	var sent struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &sent); err != nil || sent.Status != "0x1" {
		t.Fatalf("cast send with a replica down: %v %s", err, out)
	}
	waitFor(t, "the dead replica taken out", func() bool { return !backendHealthy(t, gw, repA.URL) })
	counts := []int{subs[0].count(), subs[1].count()}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		for _, s := range subs {
			s.check(t) // a closed subscription fails now, with its reason
		}
		if load.ok.Load() > before+200 && subs[0].count() > counts[0]+50 && subs[1].count() > counts[1]+50 {
			break
		}
		if time.Now().After(deadline) {
			var st json.RawMessage
			getJSON(t, gw.URL+"/ready", &st)
			t.Fatalf("a minute after the kill: %d reads served since (%d failed), mini-blocks %d→%d and %d→%d\n/ready %s\ngateway log:\n%s",
				load.ok.Load()-before, load.failed.Load(), counts[0], subs[0].count(), counts[1], subs[1].count(), st, gw.logs.String())
		}
	}
	if got := run(t, "", cast, "call", counter, "number()(uint256)", "--rpc-url", gw.URL); got != "3" {
		t.Fatalf("read after the send: %q, want 3", got)
	}

	// Restarted on its port, the replica catches up and is put back.
	repA = startReplicaOn(t, net, dirA, portA)
	waitFor(t, "the restarted replica back in service", func() bool { return backendHealthy(t, gw, repA.URL) })
	load.end()
	for _, s := range subs {
		s.check(t)
	}
	t.Logf("reads: %d served, %d failed; mini-blocks: %d and %d in order", load.ok.Load(), load.failed.Load(), subs[0].count(), subs[1].count())
	if n := load.failed.Load(); n > 4 { // at most the 4 in flight at the kill
		t.Fatalf("%d reads failed: %v", n, load.errs[:min(len(load.errs), 5)])
	}
	if moved := metric(t, gw, "gateway_resubscriptions_total"); moved < 1 {
		t.Fatalf("no subscription was moved (gateway_resubscriptions_total %v)", moved)
	}
	// The sequencer killed: a write answers a retryable error at once, reads
	// go on; restarted on its data directory and ports, writes work again.
	p2pPort := regexp.MustCompile(`/tcp/(\d+)/`).FindStringSubmatch(net.seq.P2P)[1]
	httpPort := net.seq.URL[strings.LastIndex(net.seq.URL, ":")+1:]
	net.seq.kill(syscall.SIGKILL)
	var errAns struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	resp, err := http.Post(gw.URL, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x02"]}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&errAns)
	resp.Body.Close()
	if errAns.Error.Code != -32011 || !strings.Contains(errAns.Error.Message, "no sequencer reachable") {
		t.Fatalf("a write with the sequencer down: %+v", errAns)
	}
	if got := run(t, "", cast, "call", counter, "number()(uint256)", "--rpc-url", gw.URL); got != "3" {
		t.Fatalf("read with the sequencer down: %q, want 3", got)
	}
	net.seq = startMeganode(t, "sequencer", "--datadir", net.dataDir, "--sequencer.key", net.keyFile,
		"--p2p.listen", "/ip4/127.0.0.1/tcp/"+p2pPort, "--http.port", httpPort)
	waitFor(t, "the restarted sequencer back in service", func() bool { return backendHealthy(t, gw, net.seq.URL) })
	out = run(t, "", cast, "send", counter, "increment()", "--private-key", key1, "--rpc-url", gw.URL, "--json")
	if err := json.Unmarshal([]byte(out), &sent); err != nil || sent.Status != "0x1" {
		t.Fatalf("cast send after the sequencer restarted: %v %s", err, out)
	}
	if got := run(t, "", cast, "call", counter, "number()(uint256)", "--rpc-url", gw.URL); got != "4" {
		t.Fatalf("read after the send: %q, want 4", got)
	}

	// Finality reads go to the full node, and to the replicas while it is down.
	for _, down := range []bool{false, true} {
		if down {
			full.kill(syscall.SIGKILL)
		}
		var final struct {
			Hash common.Hash `json:"hash"`
		}
		if err := gw.client(t).Call(&final, "eth_getBlockByNumber", "finalized", false); err != nil || final.Hash == (common.Hash{}) {
			t.Fatalf("finality read through the gateway (full node down: %v): %v %+v", down, err, final)
		}
	}
}

// startReplicaOn starts a replica on datadir serving RPC on port.
func startReplicaOn(t *testing.T, net *network, datadir, port string) *devnet {
	t.Helper()
	return startMeganode(t, "replica", "--http.port", port, "--datadir", datadir, "--p2p.listen", "/ip4/127.0.0.1/tcp/0",
		"--sequencer.address", net.seq.Signer, "--sequencer.url", net.seq.URL, "--p2p.peers", net.seq.P2P)
}

// TestGatewayFlagsRefuseGarbage: bad gateway flags or config stop it at
// start with a clear error.
func TestGatewayFlagsRefuseGarbage(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "gateway.toml")
	if err := os.WriteFile(bad, []byte("sequencers = [\"http://127.0.0.1:1\"]\nreplica = [\"http://127.0.0.1:2\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"gateway", "--replica", "http://127.0.0.1:2"}, "no sequencer"},
		{[]string{"gateway", "--sequencer", "http://127.0.0.1:1"}, "no read backend"},
		{[]string{"gateway", "--sequencer", "127.0.0.1:1", "--replica", "http://127.0.0.1:2"}, "want an http:// or https:// URL"},
		{[]string{"gateway", "--sequencer", "http://127.0.0.1:1", "--replica", "http://127.0.0.1:2", "--gateway.method-rate", "eth_call"}, "want method=requests/s"},
		{[]string{"gateway", "--sequencer", "http://127.0.0.1:1", "--replica", "http://127.0.0.1:2", "--gateway.trusted-proxies", "not-an-ip"}, "not an IP or CIDR"},
		{[]string{"gateway", "--config", bad}, "unknown keys replica"},
	} {
		out, err := exec.Command(meganodeBin(t), tc.args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("meganode %v: err %v, output %s; want %q", tc.args, err, out, tc.want)
		}
	}
}
