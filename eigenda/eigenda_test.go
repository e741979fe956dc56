package eigenda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/ethdb/memorydb"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/chain/progress"
	"github.com/meganode/meganode/storage"
)

// recordSleep records the waits it is asked for instead of waiting.
type recordSleep struct{ waits []time.Duration }

func (r *recordSleep) sleep(ctx context.Context, d time.Duration) error {
	r.waits = append(r.waits, d)
	return ctx.Err()
}

func newTestServer(t *testing.T) (*Server, *httptest.Server, *recordSleep) {
	t.Helper()
	srv := NewServer(memorydb.New(), DefaultMemConfig(), zerolog.Nop())
	rec := &recordSleep{}
	srv.SetSleep(rec.sleep)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return srv, hs, rec
}

func newTestClient(t *testing.T, url string, mode Mode) (*HTTPClient, *recordSleep) {
	t.Helper()
	cfg := DefaultHTTPConfig(url)
	cfg.Mode = mode
	rec := &recordSleep{}
	cfg.Sleep = rec.sleep
	c, err := NewHTTPClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

func TestRoundTripBothModes(t *testing.T) {
	_, hs, _ := newTestServer(t)
	ctx := context.Background()
	payload := bytes.Repeat([]byte("meganode"), 1000)
	for _, tc := range []struct {
		mode   Mode
		prefix []byte
	}{{ModeStandard, []byte{certVersion}}, {ModeOptimism, []byte{0x01, 0x00, certVersion}}} {
		c, _ := newTestClient(t, hs.URL, tc.mode)
		commitment, err := c.Put(ctx, payload)
		if err != nil {
			t.Fatalf("%s put: %v", tc.mode, err)
		}
		if !bytes.HasPrefix(commitment, tc.prefix) || len(commitment) != len(tc.prefix)+certLen-1 {
			t.Fatalf("%s commitment %x: want prefix %x and a %d-byte certificate", tc.mode, commitment, tc.prefix, certLen)
		}
		got, err := c.Get(ctx, commitment)
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("%s get: %d bytes, %v", tc.mode, len(got), err)
		}
		// The same bytes under the other mode are not a commitment there.
		other := ModeOptimism
		if tc.mode == ModeOptimism {
			other = ModeStandard
		}
		oc, _ := newTestClient(t, hs.URL, other)
		if _, err := oc.Get(ctx, commitment); err == nil {
			t.Fatalf("a %s commitment was accepted in %s mode", tc.mode, other)
		}
	}
	if err := (&HTTPClient{cfg: HTTPConfig{URL: hs.URL, Sleep: sleep}, http: http.DefaultClient}).Health(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestCommitmentBindsPayload(t *testing.T) {
	srv, hs, _ := newTestServer(t)
	c, _ := newTestClient(t, hs.URL, ModeStandard)
	c.cfg.Retries = 0
	ctx := context.Background()
	commitment, err := c.Put(ctx, []byte("original"))
	if err != nil {
		t.Fatal(err)
	}
	// A payload swapped under the commitment on disk is refused.
	if err := srv.db.Put(commitment[1:33], []byte("swapped!")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, commitment); err == nil || !strings.Contains(err.Error(), "does not match its commitment") {
		t.Fatalf("swapped payload: %v", err)
	}
	// A commitment of a payload never stored is not found.
	if _, err := c.Get(ctx, memCert([]byte("never put"))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown commitment: %v", err)
	}
	// Garbage is refused before any request.
	if _, err := c.Get(ctx, []byte{1}); !errors.Is(err, ErrCommitment) {
		t.Fatalf("garbage commitment: %v", err)
	}
	if _, err := c.Get(ctx, []byte{certVersion, 1, 2, 3}); err == nil || !strings.Contains(err.Error(), "not a certificate") {
		t.Fatalf("short certificate: %v", err)
	}
}

func TestFailoverAndLatencyInjection(t *testing.T) {
	srv, hs, serverSleep := newTestServer(t)
	c, clientSleep := newTestClient(t, hs.URL, ModeStandard)
	ctx := context.Background()
	// PATCH /memstore/config, as with eigenda-proxy's memstore.
	req, _ := http.NewRequest(http.MethodPatch, hs.URL+"/memstore/config", strings.NewReader(`{"PutReturnsFailoverError":true,"PutLatency":"250ms","GetLatency":"40ms"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&cfg); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("patch: %d %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	if cfg["PutReturnsFailoverError"] != true || cfg["PutLatency"] != "250ms" || cfg["MaxBlobSizeBytes"] != float64(MaxBlobSize) || cfg["BlobExpiration"] != "0s" {
		t.Fatalf("config after patch: %v", cfg)
	}
	if _, err := c.Put(ctx, []byte("x")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("put with failover injected: %v", err)
	}
	if srv.Stats().Failovers != 1 || len(clientSleep.waits) != 0 {
		t.Fatalf("a 503 was retried: %d failovers, client waited %v", srv.Stats().Failovers, clientSleep.waits)
	}
	cfg2 := srv.Config()
	cfg2.PutReturnsFailoverError = false
	srv.SetConfig(cfg2)
	commitment, err := c.Put(ctx, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, commitment); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{250 * time.Millisecond, 250 * time.Millisecond, 40 * time.Millisecond}
	if len(serverSleep.waits) != len(want) {
		t.Fatalf("server latencies %v, want %v", serverSleep.waits, want)
	}
	for i := range want {
		if serverSleep.waits[i] != want[i] {
			t.Fatalf("server latencies %v, want %v", serverSleep.waits, want)
		}
	}
	// A bad patch changes nothing.
	req, _ = http.NewRequest(http.MethodPatch, hs.URL+"/memstore/config", strings.NewReader(`{"PutLatency":"-1s"}`))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || srv.Config().PutLatency != Duration(250*time.Millisecond) {
		t.Fatalf("bad patch: %d, config %+v", resp.StatusCode, srv.Config())
	}
}

func TestRetriesServerErrorsWithBackoff(t *testing.T) {
	srv := NewServer(memorydb.New(), DefaultMemConfig(), zerolog.Nop())
	var calls atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "disperser hiccup", http.StatusBadGateway)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	defer hs.Close()
	c, rec := newTestClient(t, hs.URL, ModeOptimism)
	c.cfg.Backoff = 100 * time.Millisecond
	if _, err := c.Put(context.Background(), []byte("payload")); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 || len(rec.waits) != 2 || rec.waits[0] != 100*time.Millisecond || rec.waits[1] != 200*time.Millisecond {
		t.Fatalf("%d calls, waits %v", calls.Load(), rec.waits)
	}
	// Out of retries: the last error is returned.
	calls.Store(-10)
	c.cfg.Retries = 1
	if _, err := c.Put(context.Background(), []byte("payload")); err == nil || !strings.Contains(err.Error(), "HTTP 502") {
		t.Fatalf("after retries: %v", err)
	}
}

func TestOversizeBlobs(t *testing.T) {
	srv, hs, _ := newTestServer(t)
	c, _ := newTestClient(t, hs.URL, ModeStandard)
	ctx := context.Background()
	if _, err := c.Put(ctx, make([]byte, MaxBlobSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversize put: %v", err)
	}
	if srv.Stats().Puts != 0 {
		t.Fatal("an oversize blob reached the server")
	}
	// A server with a lower cap answers 413.
	cfg := srv.Config()
	cfg.MaxBlobSizeBytes = 1024
	srv.SetConfig(cfg)
	if _, err := c.Put(ctx, make([]byte, 1025)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("put above the server's cap: %v", err)
	}
}

func TestServerPersistsBlobs(t *testing.T) {
	dir := t.TempDir()
	db, err := storage.OpenKV(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(db, DefaultMemConfig(), zerolog.Nop())
	hs := httptest.NewServer(srv)
	c, _ := newTestClient(t, hs.URL, ModeOptimism)
	commitment, err := c.Put(context.Background(), []byte("durable"))
	if err != nil {
		t.Fatal(err)
	}
	hs.Close()
	db.Close()
	if db, err = storage.OpenKV(dir, 0); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hs = httptest.NewServer(NewServer(db, DefaultMemConfig(), zerolog.Nop()))
	defer hs.Close()
	c, _ = newTestClient(t, hs.URL, ModeOptimism)
	if got, err := c.Get(context.Background(), commitment); err != nil || string(got) != "durable" {
		t.Fatalf("after reopening: %q, %v", got, err)
	}
}

func TestBlobCodec(t *testing.T) {
	blocks := []BlobBlock{
		{Number: 7, Block: bytes.Repeat([]byte{1, 2, 3}, 5000), Witness: []byte("witness 7")},
		{Number: 8, Block: []byte("block 8"), Witness: []byte("witness 8")},
	}
	blob, err := EncodeBlob(blocks)
	if err != nil {
		t.Fatal(err)
	}
	if blob[0] != BlobVersion || len(blob) > 1000 {
		t.Fatalf("blob of %d bytes, version %#x", len(blob), blob[0])
	}
	got, err := DecodeBlob(blob)
	if err != nil || len(got) != 2 || got[1].Number != 8 || !bytes.Equal(got[0].Block, blocks[0].Block) {
		t.Fatalf("decoded %+v, %v", got, err)
	}
	flipped := bytes.Clone(blob)
	flipped[len(flipped)/2] ^= 0xff
	for _, tc := range []struct {
		name string
		blob []byte
		want error
	}{
		{"empty", nil, ErrBlobTruncated},
		{"truncated", blob[:len(blob)/2], ErrBlobTruncated},
		{"corrupted", flipped, ErrBlobCorrupt},
		{"unknown version", append([]byte{0x7f}, blob[1:]...), ErrBlobVersion},
		{"not zstd", []byte{BlobVersion, 'h', 'e', 'l', 'l', 'o'}, ErrBlobCorrupt},
	} {
		if _, err := DecodeBlob(tc.blob); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := EncodeBlob([]BlobBlock{blocks[1], blocks[0]}); err == nil {
		t.Error("blocks out of order were packed")
	}
	if _, err := EncodeBlob(nil); err == nil {
		t.Error("an empty blob was packed")
	}
}

type fakeIndex []*chain.DACommitment

func (f fakeIndex) Commitments(_ context.Context, from uint64, limit int) ([]*chain.DACommitment, error) {
	var out []*chain.DACommitment
	for _, c := range f {
		if c.Last >= from && len(out) < limit {
			out = append(out, c)
		}
	}
	return out, nil
}

// The deriver hands over blobs in order, stops at a blob that does not
// decode (and retries it after the backoff), and never skips a block.
func TestDeriverStopsAtBadBlobs(t *testing.T) {
	srv, hs, _ := newTestServer(t)
	c, _ := newTestClient(t, hs.URL, ModeStandard)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var index fakeIndex
	for n := uint64(1); n <= 3; n++ {
		blob, err := EncodeBlob([]BlobBlock{{Number: n, Block: []byte{byte(n)}, Witness: []byte{byte(n)}}})
		if err != nil {
			t.Fatal(err)
		}
		commitment, err := c.Put(ctx, blob)
		if err != nil {
			t.Fatal(err)
		}
		index = append(index, &chain.DACommitment{Seq: n, First: n, Last: n, Commitment: commitment})
	}
	// Blob 2 is truncated on the DA layer (its commitment no longer matches:
	// the server refuses it), so derivation stops after block 1.
	good, _ := srv.db.Get(index[1].Commitment[1:33])
	if err := srv.db.Put(index[1].Commitment[1:33], good[:len(good)/2]); err != nil {
		t.Fatal(err)
	}
	var got []uint64
	waits := make(chan time.Duration, 16)
	fire := make(chan time.Time)
	d := NewDeriver(DeriveConfig{Backoff: time.Second, After: func(w time.Duration) <-chan time.Time { waits <- w; return fire }}, c, index, 1,
		func(_ context.Context, _ *chain.DACommitment, blocks []BlobBlock) error {
			for _, b := range blocks {
				got = append(got, b.Number)
			}
			return nil
		}, zerolog.Nop())
	c.cfg.Retries = 0
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	if w := <-waits; w != time.Second {
		t.Fatalf("waited %v after a bad blob, want the 1s backoff", w)
	}
	if s := d.Stats(); s.Next != 2 || s.Failures != 1 || len(got) != 1 {
		t.Fatalf("after the bad blob: %+v, derived %v", s, got)
	}
	// Repaired, it goes on from block 2.
	if err := srv.db.Put(index[1].Commitment[1:33], good); err != nil {
		t.Fatal(err)
	}
	fire <- time.Now()
	<-waits // caught up: polling
	cancel()
	<-done
	if len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 3 || d.Stats().Next != 4 {
		t.Fatalf("derived %v, stats %+v", got, d.Stats())
	}
}

type headIndexFake struct {
	fakeIndex
	head uint64
}

func (f headIndexFake) Head(context.Context) (uint64, error) { return f.head, nil }

// Catching up with the index reports progress in blocks towards the head
// the index's node names, then says once that derivation caught up.
func TestDeriverProgress(t *testing.T) {
	_, hs, _ := newTestServer(t)
	c, _ := newTestClient(t, hs.URL, ModeStandard)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	index := &headIndexFake{head: 8}
	for n := uint64(1); n <= 5; n++ {
		blob, err := EncodeBlob([]BlobBlock{{Number: n, Block: []byte{byte(n)}, Witness: []byte{byte(n)}}})
		if err != nil {
			t.Fatal(err)
		}
		commitment, err := c.Put(ctx, blob)
		if err != nil {
			t.Fatal(err)
		}
		index.fakeIndex = append(index.fakeIndex, &chain.DACommitment{Seq: n, First: n, Last: n, Commitment: commitment})
	}
	live := index.fakeIndex[4]
	index.fakeIndex = index.fakeIndex[:4]
	now := time.Unix(1000, 0)
	clock := func() time.Time { now = now.Add(time.Second); return now }
	var logs bytes.Buffer
	waits, fire := make(chan time.Duration, 16), make(chan time.Time)
	d := NewDeriver(DeriveConfig{Progress: progress.Options{Every: time.Second, Now: clock},
		After: func(w time.Duration) <-chan time.Time { waits <- w; return fire }}, c, index, 1,
		func(context.Context, *chain.DACommitment, []BlobBlock) error { return nil }, zerolog.New(&logs))
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	<-waits // caught up: polling
	// A live blob is derived without a report.
	index.fakeIndex = append(index.fakeIndex, live)
	fire <- now
	<-waits
	if got := d.Stats().Next; got != 6 {
		t.Fatalf("next block %d after the live blob, want 6", got)
	}
	cancel()
	<-done
	var reports, finished, caughtUp int
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		switch m["message"] {
		case "progress":
			reports++
			if m["work"] != "derive from DA" || m["total"] != 8.0 {
				t.Errorf("report %v, want work \"derive from DA\" of 8 blocks (to the head)", m)
			}
		case "progress done":
			finished++
			if m["blocks"] != 4.0 {
				t.Errorf("done line %v, want 4 blocks", m)
			}
		case "derivation caught up with the index":
			caughtUp++
		}
	}
	if reports == 0 || finished != 1 || caughtUp != 1 {
		t.Fatalf("%d reports, %d done lines, %d caught-up lines; want some, 1, 1:\n%s", reports, finished, caughtUp, logs.String())
	}
}

// SkipTo only moves the next block forward.
func TestDeriverSkipTo(t *testing.T) {
	d := NewDeriver(DeriveConfig{}, nil, nil, 1, nil, zerolog.Nop())
	d.SkipTo(5)
	d.SkipTo(3)
	if n := d.Stats().Next; n != 5 {
		t.Fatalf("next %d after SkipTo(5) and SkipTo(3), want 5", n)
	}
}
