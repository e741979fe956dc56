package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/node"
)

// readStub answers the rotation's methods; failing names one that answers
// with a JSON-RPC error.
type readStub struct {
	mu      sync.Mutex
	calls   map[string]int
	failing string
}

func (s *readStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID     json.RawMessage   `json:"id"`
		Method string            `json:"method"`
		Params []json.RawMessage `json:"params"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.calls[req.Method]++
	s.mu.Unlock()
	if req.Method == s.failing {
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"error":{"code":-32000,"message":"stub refuses"}}`, req.ID)
		return
	}
	fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":"0x1"}`, req.ID)
}

func TestDriveReads(t *testing.T) {
	token, holder := common.HexToAddress("0x70"), common.HexToAddress("0x71")
	for _, tc := range []struct {
		name    string
		failing string
	}{
		{"all answer", ""},
		{"eth_call fails", "eth_call"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stub := &readStub{calls: map[string]int{}, failing: tc.failing}
			srv := httptest.NewServer(stub)
			defer srv.Close()
			const conns = 4
			res, err := driveReads(context.Background(), srv.URL, readRotation(token, holder), conns, 20*time.Millisecond, 100*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if res.Calls == 0 || res.Latency.Count != res.Calls || res.Conns != conns {
				t.Fatalf("got %d calls, %d timed, %d conns; want some calls, all timed, %d conns", res.Calls, res.Latency.Count, res.Conns, conns)
			}
			sum := 0
			for _, m := range []string{"eth_getBalance", "eth_call", "eth_blockNumber"} {
				n := res.PerMethod[m]
				sum += n
				// Each connection cycles the rotation: per-method counts
				// differ by at most one round per connection.
				if d := n - res.Calls/3; d > conns || d < -conns {
					t.Errorf("%s: got %d calls of %d, want about a third", m, n, res.Calls)
				}
			}
			if sum != res.Calls {
				t.Errorf("per-method counts sum to %d, want %d", sum, res.Calls)
			}
			// Warm-up calls reach the stub but are not counted.
			stub.mu.Lock()
			served := stub.calls["eth_getBalance"] + stub.calls["eth_call"] + stub.calls["eth_blockNumber"]
			stub.mu.Unlock()
			if served < res.Calls {
				t.Errorf("stub served %d calls, fewer than the %d counted", served, res.Calls)
			}
			if tc.failing == "" {
				if res.Errors != 0 {
					t.Errorf("got %d errors (%s), want none", res.Errors, res.FirstError)
				}
				return
			}
			if res.Errors != res.PerMethod[tc.failing] || !strings.HasPrefix(res.FirstError, tc.failing+": ") {
				t.Errorf("got %d errors, first %q; want %d, from %s", res.Errors, res.FirstError, res.PerMethod[tc.failing], tc.failing)
			}
		})
	}
}

func TestReadRotationBodies(t *testing.T) {
	token, holder := common.HexToAddress("0x70"), common.HexToAddress("0x71")
	for _, c := range readRotation(token, holder) {
		var req struct {
			Version string            `json:"jsonrpc"`
			Method  string            `json:"method"`
			Params  []json.RawMessage `json:"params"`
		}
		if err := json.Unmarshal(c.body, &req); err != nil {
			t.Fatalf("%s: body %s: %v", c.method, c.body, err)
		}
		if req.Version != "2.0" || req.Method != c.method {
			t.Errorf("got version %q method %q, want 2.0 %s", req.Version, req.Method, c.method)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	text := `# TYPE ` + intervalMetric + ` histogram
` + intervalMetric + `_bucket{le="0.005"} 1
` + intervalMetric + `_bucket{le="0.01"} 60
` + intervalMetric + `_bucket{le="0.012"} 99
` + intervalMetric + `_bucket{le="0.02"} 100
` + intervalMetric + `_bucket{le="+Inf"} 100
` + intervalMetric + `_sum 1.05
` + intervalMetric + `_count 100
other_metric_bucket{le="0.01"} 7
`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, text) }))
	defer srv.Close()
	buckets, count, sum, err := scrapeHistogram(context.Background(), srv.URL, intervalMetric)
	if err != nil {
		t.Fatal(err)
	}
	if count != 100 || sum != 1.05 || len(buckets) != 5 {
		t.Fatalf("got count %d sum %v %d buckets, want 100, 1.05, 5", count, sum, len(buckets))
	}
	q := quantiles(buckets, count, sum)
	if q.P50 != 0.01 || q.P99 != 0.012 {
		t.Errorf("got p50 %v p99 %v, want 0.01 and 0.012", q.P50, q.P99)
	}
	if _, _, _, err := scrapeHistogram(context.Background(), srv.URL, "absent_seconds"); err == nil {
		t.Error("a missing histogram: got no error")
	}
}

// TestReadsAgainstDevnet deploys ReadToken on a devnet, runs the load
// briefly and checks balanceOf answers the deployer's supply.
func TestReadsAgainstDevnet(t *testing.T) {
	cfg := node.DefaultConfig()
	cfg.RPC.Port = 0
	cfg.Roles = []string{node.RoleSequencer}
	d, err := node.NewDevnet(cfg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer d.Stop(context.Background())
	accts, _ := chain.DeriveAccounts(chain.DefaultMnemonic, 1)
	url := "http://" + d.RPCAddr()
	res, err := Reads(context.Background(), ReadOptions{URL: url, FunderKey: accts[0].Key, Conns: 2, Duration: 100 * time.Millisecond, Metrics: url + "/metrics"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.Calls == 0 {
		t.Fatalf("got %d calls, %d errors (%s); want calls without errors", res.Calls, res.Errors, res.FirstError)
	}
	if res.MiniBlockInterval == nil {
		t.Fatal("no mini-block interval from /metrics")
	}
	c, err := gethrpc.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var bal hexutil.Bytes
	if err := c.Call(&bal, "eth_call", map[string]any{"to": res.Token, "data": hexutil.Bytes(BalanceOf(accts[0].Address))}, "latest"); err != nil {
		t.Fatal(err)
	}
	want := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 248), big.NewInt(1))
	if got := new(big.Int).SetBytes(bal); got.Cmp(want) != 0 {
		t.Errorf("balanceOf(deployer) = %v, want 2^248-1", got)
	}
	// Any other call is chain.TokenInit's transfer, which the holder can make.
	other := common.HexToAddress("0xbeef")
	if err := c.Call(&bal, "eth_call", map[string]any{"to": res.Token, "from": accts[0].Address, "data": hexutil.Bytes(chain.TokenTransfer(other, 5))}, "latest"); err != nil {
		t.Fatalf("transfer through eth_call: %v", err)
	}
	err = c.Call(&bal, "eth_call", map[string]any{"to": res.Token, "from": other, "data": hexutil.Bytes(chain.TokenTransfer(accts[0].Address, 5))}, "latest")
	if err == nil || !strings.Contains(err.Error(), "execution reverted") {
		t.Errorf("transfer from an account without tokens: got %v, want a revert", err)
	}
}
