package rpc

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

func TestRequestMethod(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`, "eth_blockNumber"},
		{`{ "id":1, "method" : "eth_call" }`, "eth_call"},
		{` [{"method":"eth_chainId"}]`, "batch"},
		{`{"id":1}`, ""},
		{`{"method":1}`, ""},
		{`{"method":"unterminated`, ""},
		{`garbage`, ""},
		{``, ""},
	} {
		if got := requestMethod([]byte(tc.body)); got != tc.want {
			t.Errorf("requestMethod(%s): got %q, want %q", tc.body, got, tc.want)
		}
	}
}

func TestMethodLabelsBounded(t *testing.T) {
	m := &serverMetrics{methods: map[string]string{}}
	if got := m.label("made_up"); got != "other" {
		t.Errorf("label(made_up): got %q, want other", got)
	}
	for i := 0; i < maxMethodLabels; i++ {
		m.label("eth_x" + strings.Repeat("y", i))
	}
	if got := m.label("eth_new"); got != "other" {
		t.Errorf("label past the bound: got %q, want other", got)
	}
	if got := m.label("eth_x"); got != "eth_x" {
		t.Errorf("label in use: got %q, want eth_x", got)
	}
}

// TestPageBesideJSONRPC: a browser's GET / gets the status page, JSON-RPC
// posts and other GETs of / are answered as before, and the request
// histogram counts the posts by method.
func TestPageBesideJSONRPC(t *testing.T) {
	e := newWSEnv(t, nil)
	cfg := DefaultConfig()
	cfg.Port, cfg.Role = 0, "sequencer"
	srv, err := NewServer(cfg, Backend{Chain: e.store, Latest: e.seq, Txs: e.seq, Feeds: e.seq}, nil, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	srv.Instrument(reg)
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(context.Background()) })
	url := "http://" + srv.Addr() + "/"

	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept", "text/html,*/*;q=0.8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `data-role="sequencer"`) {
		t.Fatalf("browser GET /: got %d %.80q, want the sequencer's page", resp.StatusCode, body)
	}

	resp, err = http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body) != 0 {
		t.Errorf("plain GET /: got %d %q, want go-ethereum's empty 200", resp.StatusCode, body)
	}

	resp, err = http.Post(url, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":7,"method":"eth_chainId","params":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `{"jsonrpc":"2.0","id":7,"result":"0x128b"}`; strings.TrimSpace(string(body)) != want {
		t.Errorf("POST eth_chainId: got %s, want %s", body, want)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var methods []string
	for _, f := range families {
		if f.GetName() == "meganode_rpc_request_duration_seconds" {
			for _, m := range f.GetMetric() {
				methods = append(methods, m.GetLabel()[0].GetValue())
			}
		}
	}
	if len(methods) != 1 || methods[0] != "eth_chainId" {
		t.Errorf("request histogram methods: got %v, want [eth_chainId]", methods)
	}
}
