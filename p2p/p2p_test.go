package p2p

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const chainID = 4747

var (
	seqKey, _    = crypto.ToECDSA(crypto.Keccak256([]byte("meganode p2p test sequencer")))
	forgerKey, _ = crypto.ToECDSA(crypto.Keccak256([]byte("meganode p2p test forger")))
	seqAddr      = crypto.PubkeyToAddress(seqKey.PublicKey)
	forgerAddr   = crypto.PubkeyToAddress(forgerKey.PublicKey)
)

func seal(t *testing.T, kind Kind, payload string) []byte {
	t.Helper()
	data, err := Seal(seqKey, kind, chainID, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestWireGolden pins the wire format: version byte, snappy, RLP envelope,
// signature over keccak256(domain ‖ chainID ‖ keccak256(payload)).
func TestWireGolden(t *testing.T) {
	var out strings.Builder
	for _, kind := range Kinds {
		payload := fmt.Sprintf("payload of %s", kind)
		fmt.Fprintf(&out, "%s %x %x\n", kind, SigningHash(kind, chainID, []byte(payload)), seal(t, kind, payload))
	}
	file := filepath.Join("testdata", "wire.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Fatalf("wire format changed:\n got: %s\nwant: %s", out.String(), want)
	}
}

func TestOpenRejectsBadInput(t *testing.T) {
	good := seal(t, MiniBlocks, "hello")
	if p, err := OpenFrom(good, MiniBlocks, chainID, seqAddr); err != nil || string(p) != "hello" {
		t.Fatalf("open good message: %q, %v", p, err)
	}
	raw, _ := rlp.EncodeToBytes(&envelope{Signature: []byte{1, 2, 3}, Payload: []byte("x")})
	var huge [binary.MaxVarintLen64]byte
	hugeLen := huge[:binary.PutUvarint(huge[:], MaxMessageSize+1)]
	cases := []struct {
		name string
		data []byte
		kind Kind
		id   uint64
		want error
	}{
		{"empty", nil, MiniBlocks, chainID, ErrVersion},
		{"unknown version", append([]byte{2}, good[1:]...), MiniBlocks, chainID, ErrVersion},
		{"truncated", good[:len(good)/2], MiniBlocks, chainID, ErrMalformed},
		{"not snappy", []byte{Version, 0xff, 0xff, 0xff}, MiniBlocks, chainID, ErrMalformed},
		{"not rlp", append([]byte{Version}, snappy.Encode(nil, []byte{0xc5, 1})...), MiniBlocks, chainID, ErrMalformed},
		{"short signature", append([]byte{Version}, snappy.Encode(nil, raw)...), MiniBlocks, chainID, ErrBadSigning},
		{"decompresses too large", append([]byte{Version}, hugeLen...), MiniBlocks, chainID, ErrTooLarge},
		{"too large", make([]byte, MaxMessageSize+1), MiniBlocks, chainID, ErrTooLarge},
		{"other kind", good, Blocks, chainID, ErrWrongKey},
		{"other chain", good, MiniBlocks, chainID + 1, ErrWrongKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := OpenFrom(tc.data, tc.kind, tc.id, seqAddr); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
	forged, _ := Seal(forgerKey, MiniBlocks, chainID, []byte("hello"))
	if _, err := OpenFrom(forged, MiniBlocks, chainID, seqAddr); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("forged: err %v, want ErrWrongKey", err)
	}
}

type memProvider map[Kind][][]byte // message n at index n-1

func (p memProvider) Range(kind Kind, from, count uint64) ([][]byte, error) {
	msgs := p[kind]
	if from == 0 || from > uint64(len(msgs)) {
		return nil, nil
	}
	return msgs[from-1 : min(uint64(len(msgs)), from-1+count)], nil
}

func newNode(t *testing.T, cfg Config) *Node {
	t.Helper()
	return newNodeLogging(t, cfg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel))
}

func newNodeLogging(t *testing.T, cfg Config, log zerolog.Logger) *Node {
	t.Helper()
	cfg.ChainID = chainID
	if cfg.Signers == nil {
		cfg.Signers = map[Kind][]common.Address{MiniBlocks: {seqAddr}, Blocks: {seqAddr}}
	}
	n, err := New(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func connect(t *testing.T, a, b *Node) {
	t.Helper()
	if err := a.Connect(context.Background(), b.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
}

// joins starts watching n's mini-block topic and returns a func that waits
// until count peers have joined it.
func joins(t *testing.T, ctx context.Context, n *Node, count int) func() {
	t.Helper()
	ch, err := n.PeerJoins(ctx, MiniBlocks)
	if err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		for seen := map[string]bool{}; len(seen) < count; {
			select {
			case p := <-ch:
				seen[p.String()] = true
			case <-time.After(20 * time.Second):
				t.Fatalf("saw %d of %d peers join", len(seen), count)
			}
		}
	}
}

func next(t *testing.T, s *Subscription) Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("no message: %v", err)
	}
	return m
}

// TestGossipRelaysOnlySignedMessages runs sequencer — relay — replica and a
// forger attached to the relay: the replica gets the sequencer's message
// through the relay; the forger's message is rejected by the relay, never
// reaches the replica, and costs the forger score.
func TestGossipRelaysOnlySignedMessages(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seq := newNode(t, Config{})
	relay := newNode(t, Config{})
	replica := newNode(t, Config{})
	forger := newNode(t, Config{Signers: map[Kind][]common.Address{MiniBlocks: {forgerAddr}}})

	relayJoins := joins(t, ctx, relay, 3)
	seqJoins := joins(t, ctx, seq, 1)
	replicaJoins := joins(t, ctx, replica, 1)
	forgerJoins := joins(t, ctx, forger, 1)
	sub, err := replica.Subscribe(MiniBlocks)
	if err != nil {
		t.Fatal(err)
	}
	relaySub, err := relay.Subscribe(MiniBlocks)
	if err != nil {
		t.Fatal(err)
	}
	seqSub, _ := seq.Subscribe(MiniBlocks)
	defer seqSub.Cancel()
	forgerSub, _ := forger.Subscribe(MiniBlocks)
	defer forgerSub.Cancel()
	connect(t, seq, relay)
	connect(t, replica, relay)
	connect(t, forger, relay)
	// Everyone must know its neighbours are on the topic before anyone
	// publishes: gossipsub only sends to peers it knows subscribed.
	relayJoins()
	seqJoins()
	replicaJoins()
	forgerJoins()
	// The relay forwards only to its mesh; wait until the replica is in it.
	meshCtx, meshCancel := context.WithTimeout(ctx, 20*time.Second)
	defer meshCancel()
	if err := relay.WaitMesh(meshCtx, MiniBlocks, replica.ID()); err != nil {
		t.Fatalf("replica not in the relay's mesh: %v", err)
	}

	forged, _ := Seal(forgerKey, MiniBlocks, chainID, []byte("forged"))
	if err := forger.Publish(ctx, MiniBlocks, forged); err != nil {
		t.Fatal(err)
	}
	good := seal(t, MiniBlocks, "mini-block 1")
	if err := seq.Publish(ctx, MiniBlocks, good); err != nil {
		t.Fatal(err)
	}
	// The relay delivers only the sequencer's message; gossip preserves the
	// order of one publisher, and the replica sees nothing else.
	if m := next(t, relaySub); string(m.Payload) != "mini-block 1" {
		t.Fatalf("relay delivered %q", m.Payload)
	}
	if m := next(t, sub); string(m.Payload) != "mini-block 1" || !bytes.Equal(m.Data, good) {
		t.Fatalf("replica got %q", m.Payload)
	}
	deadline := time.After(20 * time.Second)
	for {
		if s, ok := relay.Score(forger.ID()); ok && s < 0 {
			break
		}
		select {
		case <-deadline:
			s, _ := relay.Score(forger.ID())
			t.Fatalf("forger's score at the relay is %v, want negative", s)
		case <-time.After(50 * time.Millisecond):
		}
	}
	// Validation runs concurrently per message, so the rejection is counted
	// by the time it has cost the forger score, not before.
	if relay.Rejected() == 0 {
		t.Fatal("relay did not count the forged message as rejected")
	}
	// A second honest message still flows; nothing forged arrived in between.
	if err := seq.Publish(ctx, MiniBlocks, seal(t, MiniBlocks, "mini-block 2")); err != nil {
		t.Fatal(err)
	}
	if m := next(t, sub); string(m.Payload) != "mini-block 2" {
		t.Fatalf("replica got %q after the forgery, want mini-block 2", m.Payload)
	}
}

func TestFetchRange(t *testing.T) {
	stored := memProvider{}
	for i := 1; i <= 5; i++ {
		stored[MiniBlocks] = append(stored[MiniBlocks], seal(t, MiniBlocks, fmt.Sprintf("mb %d", i)))
	}
	forged, _ := Seal(forgerKey, Blocks, chainID, []byte("bad block"))
	stored[Blocks] = [][]byte{seal(t, Blocks, "block 1"), forged}
	seq := newNode(t, Config{Provider: stored})
	replica := newNode(t, Config{})
	connect(t, replica, seq)
	ctx := context.Background()

	msgs, err := replica.Fetch(ctx, seq.ID(), MiniBlocks, 2, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		got = append(got, string(m.Payload))
	}
	if strings.Join(got, ",") != "mb 2,mb 3,mb 4,mb 5" {
		t.Fatalf("fetched %v, want mb 2..5", got)
	}
	if msgs, err := replica.Fetch(ctx, seq.ID(), MiniBlocks, 9, 1); err != nil || len(msgs) != 0 {
		t.Fatalf("past the end: %d msgs, %v", len(msgs), err)
	}
	// A served message signed by someone else is refused, the good ones kept.
	msgs, err = replica.Fetch(ctx, seq.ID(), Blocks, 1, 2)
	if !errors.Is(err, ErrWrongKey) || len(msgs) != 1 {
		t.Fatalf("forged block: %d msgs, err %v; want 1 and ErrWrongKey", len(msgs), err)
	}
	if _, err := replica.Fetch(ctx, seq.ID(), MiniBlocks, 1, MaxRange+1); err == nil {
		t.Fatal("oversize range accepted")
	}
	// The server refuses what it does not serve, with a reason.
	plain := newNode(t, Config{})
	connect(t, replica, plain)
	if _, err := replica.Fetch(ctx, plain.ID(), MiniBlocks, 1, 1); err == nil || !strings.Contains(err.Error(), "not serving") {
		t.Fatalf("fetch from a node without a provider: %v", err)
	}
	if msgs, err := replica.FetchAny(ctx, MiniBlocks, 5, 1); err != nil || len(msgs) != 1 {
		t.Fatalf("FetchAny: %d msgs, %v", len(msgs), err)
	}
}

func TestNodeKeyPersists(t *testing.T) {
	file := filepath.Join(t.TempDir(), "p2p", "nodekey")
	a := newNode(t, Config{KeyFile: file})
	id := a.ID()
	a.Close()
	b := newNode(t, Config{KeyFile: file})
	if b.ID() != id {
		t.Fatalf("restarted with id %s, want %s", b.ID(), id)
	}
	if err := os.WriteFile(file, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), Config{ChainID: chainID, KeyFile: file}, zerolog.Nop()); err == nil {
		t.Fatal("a corrupt node key was accepted")
	}
}

type fakeProvider map[uint64][]byte

func (f fakeProvider) Range(_ Kind, from, count uint64) ([][]byte, error) {
	var out [][]byte
	for n := from; n < from+count; n++ {
		d, ok := f[n]
		if !ok {
			break
		}
		out = append(out, d)
	}
	return out, nil
}

func TestCacheServesNewestAndFallsBack(t *testing.T) {
	store := fakeProvider{}
	c := NewCache(4, store)
	for n := uint64(0); n < 10; n++ {
		store[n] = []byte{'s', byte(n)}
		c.Add(Blocks, n, []byte{'c', byte(n)})
	}
	got, err := c.Range(Blocks, 7, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0][0] != 'c' || got[2][1] != 9 {
		t.Fatalf("range 7+5 = %q, want the cached 7..9", got)
	}
	got, _ = c.Range(Blocks, 2, 3)
	if len(got) != 3 || got[0][0] != 's' || got[0][1] != 2 {
		t.Fatalf("range 2+3 = %q, want 2..4 from the fallback (evicted from the cache)", got)
	}
	if got, _ := c.Range(MiniBlocks, 0, 2); len(got) != 2 || got[0][0] != 's' {
		t.Fatalf("other kind = %q, want the fallback's", got)
	}
	c.mu.Lock()
	size := len(c.msgs[Blocks])
	c.mu.Unlock()
	if size > 5 {
		t.Fatalf("cache holds %d messages, bound 4", size)
	}
}
