package sequencer

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ethereum/go-ethereum/common"
)

type memSink struct{ bytes.Buffer }

func (s *memSink) ID() string    { return "test" }
func (s *memSink) Cancel() error { return nil }
func (s *memSink) Close() error  { return nil }

func applyEntry(t *testing.T, f *haFSM, e Entry) {
	t.Helper()
	data, err := EncodeEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	if res := f.Apply(&raft.Log{Type: raft.LogCommand, Data: data}); res != nil {
		t.Fatalf("apply: %v", res)
	}
}

// TestFSMKeepsUnsealedEntries: the raft state machine keeps what the local
// store has not sealed, survives a snapshot and restore, and refuses a
// corrupt entry.
func TestFSMKeepsUnsealedEntries(t *testing.T) {
	head := uint64(4)
	f := &haFSM{head: func() uint64 { return head }, notify: make(chan struct{}, 1)}
	applyEntry(t, f, Entry{Mini: &MiniEntry{BlockNumber: 4, Number: 40}}) // sealed here already
	applyEntry(t, f, Entry{Mini: &MiniEntry{BlockNumber: 5, Number: 41}})
	applyEntry(t, f, Entry{Seal: &SealEntry{Number: 5, Hash: common.Hash{5}}})
	applyEntry(t, f, Entry{Mini: &MiniEntry{BlockNumber: 6, Number: 42}})
	select {
	case <-f.notify:
	default:
		t.Fatal("no notification after applying entries")
	}
	if got := f.committed(); len(got) != 3 || got[0].Mini.Number != 41 {
		t.Fatalf("committed %d entries, want the 3 above block 4", len(got))
	}
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	head = 5 // the local store sealed block 5
	if got := f.committed(); len(got) != 1 || got[0].Mini.Number != 42 {
		t.Fatalf("after sealing block 5: %d entries", len(got))
	}
	g := &haFSM{head: func() uint64 { return 4 }, notify: make(chan struct{}, 1)}
	if err := g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if got := g.committed(); len(got) != 3 || got[1].Seal == nil || got[1].Seal.Hash != (common.Hash{5}) {
		t.Fatalf("restored %d entries", len(got))
	}
	if err := g.Restore(io.NopCloser(bytes.NewReader([]byte{0xc1, 0x01, 0x02}))); err == nil {
		t.Fatal("restored a corrupt snapshot")
	}
	if res := f.Apply(&raft.Log{Type: raft.LogCommand, Data: []byte{9}}); res == nil {
		t.Fatal("applied a corrupt entry without an error")
	}
}

func TestHAConfigCheck(t *testing.T) {
	ok := DefaultHAConfig()
	ok.ID, ok.Addr, ok.Dir = "a", "127.0.0.1:7000", t.TempDir()
	ok.Peers = []HAServer{{"a", "127.0.0.1:7000"}, {"b", "127.0.0.1:7001"}}
	if err := ok.Check(); err != nil {
		t.Fatal(err)
	}
	for name, tweak := range map[string]func(*HAConfig){
		"no id":            func(c *HAConfig) { c.ID = "" },
		"no addr":          func(c *HAConfig) { c.Addr = "" },
		"lease too long":   func(c *HAConfig) { c.LeaseTimeout = 2 * c.HeartbeatTimeout },
		"not in peers":     func(c *HAConfig) { c.ID = "z" },
		"duplicate peer":   func(c *HAConfig) { c.Peers = append(c.Peers, HAServer{"b", "127.0.0.1:7002"}) },
		"stall below tick": func(c *HAConfig) { c.StallTimeout = c.HealthInterval / 2 },
	} {
		c := ok
		c.Peers = append([]HAServer(nil), ok.Peers...)
		tweak(&c)
		if err := c.Check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestLeaderHealthReasons(t *testing.T) {
	var log []Entry
	e, _ := haEnv(t, &log)
	h := &HA{cfg: DefaultHAConfig(), seq: e.seq}
	h.cfg.MinPeers = 1
	stall := h.cfg.StallTimeout
	if r := h.unhealthy(0, 0, 0); r != "" {
		t.Fatalf("healthy leader: %q", r)
	}
	for name, c := range map[string]struct {
		stalled, isolated, unreachable time.Duration
		want                           string
	}{
		"stalled head":  {stall, 0, 0, "no mini-block sealed"},
		"no p2p peers":  {0, stall, 0, "p2p peers"},
		"rpc unreached": {0, 0, stall, "RPC has failed"},
	} {
		if r := h.unhealthy(c.stalled, c.isolated, c.unreachable); !strings.Contains(r, c.want) {
			t.Errorf("%s: reason %q, want %q", name, r, c.want)
		}
	}
	e.seq.stepMu.Lock()
	e.seq.halt(errors.New("disk full"))
	e.seq.stepMu.Unlock()
	if r := h.unhealthy(0, 0, 0); !strings.Contains(r, "disk full") {
		t.Fatalf("halted sequencer: reason %q", r)
	}
}
