package p2p

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
)

// memState serves state from maps; items past what it has end the answer.
type memState struct {
	head    uint64
	root    common.Hash
	nodes   map[string][]byte
	codes   map[common.Hash][]byte
	headers [][]byte // header n at index n
}

func (m *memState) SyncHead() (uint64, error) { return m.head, nil }

func (m *memState) TrieNodes(root common.Hash, paths [][]byte, _ []common.Hash, maxBytes int) ([][]byte, error) {
	if root != m.root {
		return nil, fmt.Errorf("state of root %s not served", root)
	}
	var out [][]byte
	size := 0
	for _, p := range paths {
		n, ok := m.nodes[string(p)]
		if size += len(n); !ok || (size > maxBytes && len(out) > 0) {
			break
		}
		out = append(out, n)
	}
	return out, nil
}

func (m *memState) Codes(hashes []common.Hash, _ int) ([][]byte, error) {
	var out [][]byte
	for _, h := range hashes {
		c, ok := m.codes[h]
		if !ok {
			break
		}
		out = append(out, c)
	}
	return out, nil
}

func (m *memState) Headers(from, count uint64, _ int) ([][]byte, error) {
	if from >= uint64(len(m.headers)) {
		return nil, fmt.Errorf("header %d not here", from)
	}
	return m.headers[from:min(uint64(len(m.headers)), from+count)], nil
}

// syncingState is a provider whose node is syncing its own state.
type syncingState struct{ *memState }

func (syncingState) SyncHead() (uint64, error) {
	return 0, errors.New("this node is syncing its own state")
}

// The state protocol between two nodes: head, nodes, codes and headers
// come back as served, a prefix when the server has less, the server's
// refusals as errors, and a node without a state provider says so.
func TestStateProtocol(t *testing.T) {
	root := common.HexToHash("0x0101")
	st := &memState{head: 42, root: root, nodes: map[string][]byte{"": {0xc1, 0x80}, "\x01": {0xc2, 0x80, 0x80}},
		codes: map[common.Hash][]byte{{0x0c}: {0x00, 0x60}}, headers: [][]byte{{0xc0}, {0xc1, 0x01}, {0xc1, 0x02}}}
	server := newNode(t, Config{State: st})
	client := newNode(t, Config{})
	connect(t, client, server)
	ctx := context.Background()

	if h, err := client.SyncHead(ctx, server.ID()); err != nil || h != 42 {
		t.Fatalf("head %d, %v", h, err)
	}
	nodes, err := client.TrieNodes(ctx, server.ID(), root, [][]byte{{}, {0x01}, {0x02}}, make([]common.Hash, 3))
	if err != nil || len(nodes) != 2 || !bytes.Equal(nodes[1], []byte{0xc2, 0x80, 0x80}) {
		t.Fatalf("nodes: %x, %v (want the two served)", nodes, err)
	}
	if _, err := client.TrieNodes(ctx, server.ID(), common.HexToHash("0x02"), [][]byte{{}}, make([]common.Hash, 1)); err == nil || !strings.Contains(err.Error(), "not served") {
		t.Fatalf("nodes of another root: %v", err)
	}
	// Code may start with 0x00 (STOP): it is an item, not an error.
	if codes, err := client.Codes(ctx, server.ID(), []common.Hash{{0x0c}}); err != nil || len(codes) != 1 || codes[0][0] != 0x00 {
		t.Fatalf("codes: %x, %v", codes, err)
	}
	if hs, err := client.Headers(ctx, server.ID(), 1, 5); err != nil || len(hs) != 2 {
		t.Fatalf("headers: %d, %v", len(hs), err)
	}
	if _, err := client.TrieNodes(ctx, server.ID(), root, make([][]byte, MaxStateItems+1), make([]common.Hash, MaxStateItems+1)); err == nil {
		t.Fatal("a request over MaxStateItems was answered")
	}
	if _, err := client.TrieNodes(ctx, server.ID(), root, [][]byte{{}}, nil); err == nil {
		t.Fatal("paths without hashes were answered")
	}
	// A node that is syncing its own state answers its head with an error.
	syncing := newNode(t, Config{State: syncingState{st}})
	connect(t, client, syncing)
	if _, err := client.SyncHead(ctx, syncing.ID()); err == nil || !strings.Contains(err.Error(), "syncing") {
		t.Fatalf("head from a syncing node: %v", err)
	}
	plain := newNode(t, Config{})
	connect(t, client, plain)
	if _, err := client.SyncHead(ctx, plain.ID()); err == nil || !strings.Contains(err.Error(), "not serving state") {
		t.Fatalf("head from a node without state: %v", err)
	}
}

// TestStateGolden pins the state protocol's wire format: an RLP request,
// an answer of a status byte and uvarint-framed items.
func TestStateGolden(t *testing.T) {
	var out strings.Builder
	for _, req := range []stateRequest{
		{Kind: StateHead},
		{Kind: StateNodes, Root: common.HexToHash("0x01"), Paths: [][]byte{{}, {0x0a, 0x03}}, Hashes: []common.Hash{common.HexToHash("0x02"), common.HexToHash("0x03")}},
		{Kind: StateCodes, Hashes: []common.Hash{common.HexToHash("0x04")}},
		{Kind: StateHeaders, From: 7, Count: 256},
	} {
		enc, err := rlp.EncodeToBytes(&req)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "request %s %x\n", req.Kind, enc)
	}
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	w.WriteByte(stateOK)
	writeItem(w, []byte{0xc1, 0x80})
	writeItem(w, []byte{0x00, 0x60})
	writeItem(w, nil)
	w.WriteByte(stateError)
	w.WriteString("state of root 0x01 not served")
	w.Flush()
	fmt.Fprintf(&out, "answers %x\n", b.Bytes())
	file := filepath.Join("testdata", "state.golden")
	if *update {
		if err := os.WriteFile(file, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Fatalf("state wire format changed:\n got: %s\nwant: %s", out.String(), want)
	}
}

// FuzzStateRequest: whatever a peer sends, the server answers or refuses
// without a panic and never more items than asked.
func FuzzStateRequest(f *testing.F) {
	for _, req := range []stateRequest{{Kind: StateHead}, {Kind: StateNodes, Paths: [][]byte{{}}, Hashes: []common.Hash{{}}}, {Kind: StateCodes, Hashes: []common.Hash{{0x0c}}}, {Kind: StateHeaders, From: 1, Count: 2}} {
		enc, _ := rlp.EncodeToBytes(&req)
		f.Add(enc)
	}
	st := &memState{head: 1, nodes: map[string][]byte{"": {0xc0}}, codes: map[common.Hash][]byte{{0x0c}: {0x00}}, headers: [][]byte{{0xc0}, {0xc0}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := readStateRequest(bytes.NewReader(data))
		if err != nil {
			return
		}
		items, err := answerState(st, req)
		if err == nil && len(items) > max(len(req.Paths), len(req.Hashes), int(min(req.Count, MaxStateItems)), 1) {
			t.Fatalf("%d items for %+v", len(items), req)
		}
	})
}

// FuzzStateAnswer: a peer's answer gives at most max items of bounded size
// or an error, never a panic or a huge allocation.
func FuzzStateAnswer(f *testing.F) {
	frame := func(status byte, items ...[]byte) []byte {
		var b bytes.Buffer
		w := bufio.NewWriter(&b)
		w.WriteByte(status)
		for _, it := range items {
			writeItem(w, it)
		}
		w.Flush()
		return b.Bytes()
	}
	f.Add(frame(stateOK, []byte{1}, []byte{2}, nil), uint8(2))
	f.Add(frame(stateOK, []byte{1}, []byte{2}, nil), uint8(1))
	f.Add(append([]byte{stateError}, "no"...), uint8(1))
	var huge [binary.MaxVarintLen64 + 1]byte
	huge[0] = stateOK
	f.Add(huge[:1+binary.PutUvarint(huge[1:], 1<<62)], uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, max uint8) {
		items, err := readStateAnswer(bufio.NewReader(bytes.NewReader(data)), int(max), "peer")
		if len(items) > int(max) {
			t.Fatalf("%d items for %d asked (err %v)", len(items), max, err)
		}
		if err != nil && errors.Is(err, ErrTooLarge) && len(items) > 0 {
			for _, it := range items {
				if len(it) > maxStateItemSize {
					t.Fatal("an oversize item was kept")
				}
			}
		}
	})
}
