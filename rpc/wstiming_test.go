package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

func TestScanCall(t *testing.T) {
	for _, tc := range []struct {
		name, msg, id, method string
		batch                 bool
	}{
		{"call", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`, "1", "eth_chainId", false},
		{"id last, spaces", ` { "method" : "eth_call" , "params" : [{"id":9,"method":"x"}] , "id" : "a\"b" } `, `"a\"b"`, "eth_call", false},
		{"id in params only", `{"method":"eth_call","params":[{"id":9}]}`, "", "eth_call", false},
		{"repeated key", `{"id":1,"method":"eth_call","id":2}`, "2", "eth_call", false},
		{"null id", `{"id":null,"method":"eth_call"}`, "null", "eth_call", false},
		{"object id", `{"id":{"a":1},"method":"eth_call"}`, "", "eth_call", false},
		{"response", `{"id":1,"result":"0x1"}`, "", "", false},
		{"batch", `[{"method":"eth_a"},{"id":[1]},{"jsonrpc":"2.0","method":"eth_b","id":7},{"id":8,"method":"eth_c"}]`, "7", "", true},
		{"batch of notifications", `[{"method":"eth_a"}]`, "", "", true},
		{"empty batch", `[]`, "", "", true},
		{"scalar", `42`, "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, method, batch := scanCall([]byte(tc.msg))
			if string(id) != tc.id || string(method) != tc.method || batch != tc.batch {
				t.Errorf("got id %q method %q batch %v, want %q %q %v", id, method, batch, tc.id, tc.method, tc.batch)
			}
		})
	}
}

func TestAnswerID(t *testing.T) {
	for _, tc := range []struct{ msg, want string }{
		{`{"jsonrpc":"2.0","id":1,"result":"0x1"}`, "1"},
		{`{"jsonrpc":"2.0","id":"x","error":{"code":-32601,"message":"m"}}`, `"x"`},
		{`[{"jsonrpc":"2.0","id":3,"result":1},{"jsonrpc":"2.0","id":4,"result":2}]`, "3"},
		{string(notification("0xab", []byte(`{"id":5}`))), ""},
		{`{"jsonrpc":"2.0","result":{"id":5},"id":6}`, ""}, // not how answers are written: not matched
		{`{"jsonrpc":"2.0","id`, ""},
		{``, ""},
	} {
		if got := answerID([]byte(tc.msg)); string(got) != tc.want {
			t.Errorf("answerID(%s): got %q, want %q", tc.msg, got, tc.want)
		}
	}
}

// TestWSTimingAllocations: a call to a method already labelled costs one
// allocation (its id as the table's key) and its answer none; a
// notification costs nothing.
func TestWSTimingAllocations(t *testing.T) {
	m := &serverMetrics{
		wsRequests: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "x"}, []string{"method"}),
		methods:    map[string]string{},
	}
	tm := &wsTiming{m: m}
	call := []byte(`{"jsonrpc":"2.0","id":12,"method":"eth_blockNumber","params":[]}`)
	answer := []byte(`{"jsonrpc":"2.0","id":12,"result":"0x1"}`)
	note := notification("0xab", []byte(`{"number":"0x1"}`))
	now := time.Now()
	tm.called(call, now)
	tm.answered(answer)
	if got := testing.AllocsPerRun(100, func() { tm.called(call, now); tm.answered(answer) }); got > 1 {
		t.Errorf("call and answer: got %v allocations, want at most 1", got)
	}
	if got := testing.AllocsPerRun(100, func() { tm.answered(note) }); got != 0 {
		t.Errorf("notification: got %v allocations, want 0", got)
	}
	if n := len(tm.pending); n != 0 {
		t.Errorf("pending after every call was answered: got %d, want 0", n)
	}
}

// TestWebsocketCallLatencyByMethod: calls over a websocket, answered by
// go-ethereum's server, in process (eth_subscribe) or as a batch, are
// observed under their method; notifications are not.
func TestWebsocketCallLatencyByMethod(t *testing.T) {
	e := newWSEnv(t, nil)
	cfg := DefaultConfig()
	cfg.Port = 0
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
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	c := &wsClient{t: t, ws: ws}

	c.call("eth_chainId")
	c.call("eth_chainId")
	c.subscribe("newHeads")
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`[{"jsonrpc":"2.0","id":"b","method":"eth_chainId"},{"jsonrpc":"2.0","id":"c","method":"eth_blockNumber"}]`)); err != nil {
		t.Fatal(err)
	}
	var batch []wsMsg
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := ws.ReadJSON(&batch); err != nil || len(batch) != 2 {
		t.Fatalf("batch answer: got %v %v, want two answers", batch, err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","method":"eth_chainId"}`)); err != nil { // a notification: no answer, no sample
		t.Fatal(err)
	}
	c.call("eth_blockNumber")

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, f := range families {
		switch f.GetName() {
		case "meganode_ws_request_duration_seconds":
			for _, m := range f.GetMetric() {
				got[m.GetLabel()[0].GetValue()] = m.GetHistogram().GetSampleCount()
			}
		case "meganode_rpc_request_duration_seconds":
			t.Errorf("websocket calls observed as HTTP requests: %v", f.GetMetric())
		}
	}
	want := map[string]uint64{"eth_chainId": 2, "eth_subscribe": 1, "batch": 1, "eth_blockNumber": 1}
	if len(got) != len(want) {
		t.Errorf("observed: got %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: got %d samples, want %d (all: %v)", k, got[k], n, got)
		}
	}
}

// FuzzScanCall: the scanners never panic, and on valid JSON a call's id is a
// slice of the message.
func FuzzScanCall(f *testing.F) {
	for _, s := range []string{`{"id":1,"method":"eth_x"}`, `[{"id":"a","method":"m"}]`, `{"jsonrpc":"2.0","id":1,"result":2}`, `{"`, `[`, `{"id":"\`, `"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		answerID(data)
		if json.Valid(data) {
			if id, _, _ := scanCall(data); id != nil && !bytes.Contains(data, id) {
				t.Errorf("id %q not in %q", id, data)
			}
		}
	})
}
