package bench

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/node"
)

func TestAttackOutcome(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"served", 200, `{"jsonrpc":"2.0","id":1,"result":"0x"}`, "served"},
		{"concurrency limit", 200, `{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"too many heavy calls in flight"}}`, "concurrency limit (−32005)"},
		{"range limit", 200, `{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"query exceeds max block range 2"}}`, "limit (−32005)"},
		{"time limit", 200, `{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"execution aborted (timeout = 5s)"}}`, "time limit"},
		{"evm error", 200, `{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"out of gas: gas cap 50000000"}}`, "error -32000 out of gas"},
		{"batch", 200, `[{"id":1,"result":"0x1"},{"id":2,"error":{"code":-32005,"message":"too many heavy calls"}},{"id":3,"result":"0x1"}]`, "batch: concurrency limit (−32005), served"},
		{"batch too large", 200, `[{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"batch too large"}}]`, "batch: batch limit"},
		{"status", http.StatusTooManyRequests, `busy`, "HTTP 429"},
		{"garbage", 200, `<html>`, "not JSON-RPC"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := outcome(tc.status, []byte(tc.body)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestIntervalsBetween(t *testing.T) {
	base := time.UnixMicro(1_000_000)
	r := &intervalRecorder{stamps: []uint64{990_000, 1_000_000, 1_010_000, 1_030_000, 1_040_000, 1_100_000}}
	got := r.between(base, base.Add(40*time.Millisecond))
	// Only pairs with both stamps inside: 10, 20 and 10 ms.
	if got.Count != 3 || got.Max != 20*time.Millisecond || got.P50 != 10*time.Millisecond {
		t.Errorf("got %+v, want 3 intervals, max 20ms, p50 10ms", got)
	}
}

func TestAttackMix(t *testing.T) {
	tests := []struct {
		kinds []string
		calls int
		err   bool
	}{
		{nil, 6, false},
		{[]string{"call"}, 1, false},
		{[]string{"trace", "bombs"}, 4, false},
		{[]string{"nuke"}, 0, true},
	}
	for _, tc := range tests {
		mix, err := attackMix(7, tc.kinds)
		if (err != nil) != tc.err || len(mix) != tc.calls {
			t.Errorf("attackMix(%q): got %d calls, error %v; want %d calls, error %v", tc.kinds, len(mix), err, tc.calls, tc.err)
		}
	}
	mix, _ := attackMix(7, []string{"trace"})
	if want := `"params":["0x7",`; !strings.Contains(string(mix[0].body), want) {
		t.Errorf("trace of block 7: got %s, want it to contain %s", mix[0].body, want)
	}
}

// TestAttackAgainstDevnet runs a short attack run on an in-process devnet:
// the burst makes a large block, both phases see mini-blocks, the attacker
// gets JSON-RPC answers and holds websockets, the legitimate load is
// accepted.
func TestAttackAgainstDevnet(t *testing.T) {
	cfg := node.DefaultConfig()
	cfg.RPC.Port = 0
	cfg.Roles = []string{node.RoleSequencer}
	cfg.RPC.Limits.GasCap = 1_000_000 // the looping eth_call answers quickly
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
	res, err := Attack(context.Background(), AttackOptions{URL: url, WS: "ws://" + d.RPCAddr(), Metrics: url + "/metrics",
		FunderKey: accts[0].Key, Rate: 100, Senders: 4, Duration: 500 * time.Millisecond, Warmup: 50 * time.Millisecond,
		BigBlock: 300, HTTPConns: 2, WSConns: 4, WSRetry: 100 * time.Millisecond, Seed: 1}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.LargestBlockTxs < 100 {
		t.Errorf("largest block %d has %d txs, want the burst's 300 in few blocks", res.LargestBlock, res.LargestBlockTxs)
	}
	for name, ph := range map[string]AttackPhase{"baseline": res.Baseline, "attack": res.Attack} {
		if ph.Observed.Count == 0 || ph.Interval == nil || ph.Interval.Count == 0 {
			t.Errorf("%s: %d intervals observed, histogram %+v; want both", name, ph.Observed.Count, ph.Interval)
		}
		if ph.Sync == nil {
			t.Errorf("%s: no sync sends timed (%s)", name, ph.SyncError)
		}
	}
	if len(res.Outcomes) == 0 || len(res.Failures) > 0 {
		t.Errorf("attacker got %v, failures %q; want answers, no failures", res.Outcomes, res.Failures)
	}
	if res.WSHeld == 0 {
		t.Errorf("no websocket held (%d refused)", res.WSRefused)
	}
	if res.LoadErrors != 0 {
		t.Errorf("%d legitimate sends failed: %s", res.LoadErrors, res.LoadFirstError)
	}
}
