package p2p

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
)

// The state protocol serves state sync: a joining node asks a peer for its
// sealed head, then for the trie nodes and code of that block's state and
// the headers before it. The answers are not signed: the joining node
// checks every trie node and code against its hash, from the state root of
// a sequencer-signed block down, and headers against the block's parent
// hashes (storage.SyncState, storage.WriteSyncedBlock).

// State request kinds.
const (
	StateHead    = "head"    // the newest sealed block whose state the peer serves
	StateNodes   = "nodes"   // trie nodes of Root by path (trie.Sync's), with their hashes
	StateCodes   = "codes"   // contract code by hash
	StateHeaders = "headers" // RLP headers From..From+Count-1
)

// MaxStateItems bounds the items one state request may ask for, and
// maxStateResponse the bytes one answer carries (as snap/1's soft limit):
// the server stops early and the client asks again for the rest.
const (
	MaxStateItems    = 1024
	maxStateResponse = 2 << 20
	maxStateRequest  = 256 << 10
	maxStateItemSize = 1 << 20 // contract code is at most 48 KiB (EIP-7907 initcode); a trie node ~0.5 KiB
)

// StateProvider answers state requests from what this node stores; the
// store implements it. Each returns at most what fits in maxBytes, in the
// order asked, stopping early at the first item it does not have.
type StateProvider interface {
	SyncHead() (uint64, error)
	TrieNodes(root common.Hash, paths [][]byte, hashes []common.Hash, maxBytes int) ([][]byte, error)
	Codes(hashes []common.Hash, maxBytes int) ([][]byte, error)
	Headers(from, count uint64, maxBytes int) ([][]byte, error)
}

func stateProtocol(chainID uint64) protocol.ID {
	return protocol.ID(fmt.Sprintf("/meganode/%d/state/1", chainID))
}

type stateRequest struct {
	Kind   string
	Root   common.Hash
	Paths  [][]byte
	Hashes []common.Hash
	From   uint64
	Count  uint64
}

// A state answer starts with a status byte: stateOK, then items (uvarint
// length and bytes) ended by a zero length; or stateError and a message.
const (
	stateOK    = 0x01
	stateError = 0x02
)

func readStateRequest(r io.Reader) (stateRequest, error) {
	var req stateRequest
	err := rlp.NewStream(bufio.NewReader(io.LimitReader(r, maxStateRequest)), maxStateRequest).Decode(&req)
	return req, err
}

// answerState runs a decoded request against the provider.
func answerState(p StateProvider, req stateRequest) ([][]byte, error) {
	if len(req.Paths) > MaxStateItems || len(req.Hashes) > MaxStateItems || req.Count > MaxStateItems {
		return nil, fmt.Errorf("more than %d items asked for", MaxStateItems)
	}
	switch req.Kind {
	case StateHead:
		head, err := p.SyncHead()
		if err != nil {
			return nil, err
		}
		return [][]byte{binary.BigEndian.AppendUint64(nil, head)}, nil
	case StateNodes:
		if len(req.Paths) != len(req.Hashes) || len(req.Paths) == 0 {
			return nil, fmt.Errorf("%d paths and %d hashes: want as many, at least one", len(req.Paths), len(req.Hashes))
		}
		return p.TrieNodes(req.Root, req.Paths, req.Hashes, maxStateResponse)
	case StateCodes:
		if len(req.Hashes) == 0 {
			return nil, errors.New("no code hashes asked for")
		}
		return p.Codes(req.Hashes, maxStateResponse)
	case StateHeaders:
		if req.Count == 0 {
			return nil, errors.New("no headers asked for")
		}
		return p.Headers(req.From, req.Count, maxStateResponse)
	default:
		return nil, fmt.Errorf("unknown state request %q", req.Kind)
	}
}

// stateServers bounds the state requests a node answers at once: each
// reads up to MaxStateItems trie nodes from the store, which a sequencer
// also writes. More wait up to stateSlotWait, then are refused ("busy"):
// the asking node asks another peer or again.
const (
	stateServers  = 2
	stateSlotWait = 5 * time.Second
)

func (n *Node) serveState(s network.Stream) {
	defer s.Close()
	s.SetDeadline(time.Now().Add(requestTimeout))
	w := bufio.NewWriter(s)
	defer w.Flush()
	req, err := readStateRequest(s)
	var items [][]byte
	switch {
	case err != nil:
		err = fmt.Errorf("malformed state request: %w", err)
	case n.cfg.State == nil:
		err = errors.New("not serving state")
	default:
		wait := time.NewTimer(stateSlotWait)
		select {
		case n.stateSlots <- struct{}{}:
			items, err = answerState(n.cfg.State, req)
			<-n.stateSlots
		case <-wait.C:
			err = errors.New("busy serving state: ask again")
		}
		wait.Stop()
	}
	if err != nil {
		w.WriteByte(stateError)
		w.WriteString(err.Error())
		return
	}
	w.WriteByte(stateOK)
	for _, it := range items {
		if len(it) == 0 || writeItem(w, it) != nil {
			return
		}
	}
	writeItem(w, nil)
}

// askState sends req to p and reads the items of its answer: at most max,
// each at most maxStateItemSize bytes.
func (n *Node) askState(ctx context.Context, p peer.ID, req stateRequest, max int) ([][]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	s, err := n.request(ctx, p, stateProtocol(n.cfg.ChainID), &req)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return readStateAnswer(bufio.NewReader(s), max, p)
}

func readStateAnswer(r *bufio.Reader, max int, p peer.ID) ([][]byte, error) {
	status, err := r.ReadByte()
	if err != nil {
		return nil, fmt.Errorf("p2p: state answer from %s cut short: %w", p, err)
	}
	switch status {
	case stateOK:
	case stateError:
		msg, _ := io.ReadAll(io.LimitReader(r, 1024))
		return nil, fmt.Errorf("p2p: peer %s: %s", p, msg)
	default:
		return nil, fmt.Errorf("p2p: peer %s sent a state answer of status %#x: %w", p, status, ErrMalformed)
	}
	var out [][]byte
	total := uint64(0)
	for {
		l, err := binary.ReadUvarint(r)
		if err != nil {
			return out, fmt.Errorf("p2p: state answer from %s cut short: %w", p, err)
		}
		if l == 0 {
			return out, nil
		}
		if l > maxStateItemSize {
			return out, fmt.Errorf("p2p: state item of %d bytes from %s: %w", l, p, ErrTooLarge)
		}
		// A server stops past maxStateResponse: one item more at most.
		if total += l; total > maxStateResponse+maxStateItemSize {
			return out, fmt.Errorf("p2p: state answer from %s over %d bytes: %w", p, maxStateResponse+maxStateItemSize, ErrTooLarge)
		}
		if len(out) == max {
			return out, fmt.Errorf("p2p: peer %s sent more than the %d state items asked for", p, max)
		}
		data := make([]byte, l)
		if _, err := io.ReadFull(r, data); err != nil {
			return out, fmt.Errorf("p2p: state answer from %s cut short: %w", p, err)
		}
		out = append(out, data)
	}
}

// SyncHead asks p for the newest sealed block whose state it serves.
func (n *Node) SyncHead(ctx context.Context, p peer.ID) (uint64, error) {
	items, err := n.askState(ctx, p, stateRequest{Kind: StateHead}, 1)
	if err != nil {
		return 0, err
	}
	if len(items) != 1 || len(items[0]) != 8 {
		return 0, fmt.Errorf("p2p: peer %s answered its head with %d items: %w", p, len(items), ErrMalformed)
	}
	return binary.BigEndian.Uint64(items[0]), nil
}

// TrieNodes asks p for the trie nodes at paths (trie.Sync's paths, the
// owner first for a storage trie) in the state of root. A peer answers a
// prefix of them; nothing is checked here but sizes.
func (n *Node) TrieNodes(ctx context.Context, p peer.ID, root common.Hash, paths [][]byte, hashes []common.Hash) ([][]byte, error) {
	return n.askState(ctx, p, stateRequest{Kind: StateNodes, Root: root, Paths: paths, Hashes: hashes}, len(paths))
}

// Codes asks p for contract code by hash; a prefix comes back, unchecked.
func (n *Node) Codes(ctx context.Context, p peer.ID, hashes []common.Hash) ([][]byte, error) {
	return n.askState(ctx, p, stateRequest{Kind: StateCodes, Hashes: hashes}, len(hashes))
}

// Headers asks p for the RLP headers of blocks from..from+count-1; a
// prefix comes back, unchecked.
func (n *Node) Headers(ctx context.Context, p peer.ID, from, count uint64) ([][]byte, error) {
	return n.askState(ctx, p, stateRequest{Kind: StateHeaders, From: from, Count: count}, int(count))
}
