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

// MaxRange bounds the messages one request may ask for.
const MaxRange = 1024

// requestTimeout bounds a whole request-response exchange.
const requestTimeout = 30 * time.Second

func requestProtocol(chainID uint64) protocol.ID {
	return protocol.ID(fmt.Sprintf("/meganode/%d/range/1", chainID))
}

// Provider answers range requests with stored wire messages (as Seal made
// them): mini-blocks by global number, blocks and witnesses by block number.
// It returns at most count messages, in order, stopping early at the first
// one it does not have.
type Provider interface {
	Range(kind Kind, from, count uint64) ([][]byte, error)
}

// rangeRequest asks for count messages of kind from number from on.
type rangeRequest struct {
	Kind  string
	From  uint64
	Count uint64
}

// Each response item is a uvarint length then the message; a zero length
// ends the response. An error is sent as a single item starting with 0x00
// (no message starts with it: messages start with Version).
const errorMarker = 0x00

// maxRequestSize bounds a range request on the wire.
const maxRequestSize = 1024

// readRequest decodes a range request from a peer's stream. The RLP stream
// gets the input limit: without one, go-ethereum's rlp allocates whatever
// size a string header claims (a 10-byte request asking for exabytes made
// makeslice panic; FuzzRangeRequest found it).
func readRequest(r io.Reader) (rangeRequest, error) {
	var req rangeRequest
	err := rlp.NewStream(bufio.NewReader(io.LimitReader(r, maxRequestSize)), maxRequestSize).Decode(&req)
	return req, err
}

func (n *Node) serveRequest(s network.Stream) {
	defer s.Close()
	s.SetDeadline(time.Now().Add(requestTimeout))
	req, err := readRequest(s)
	if err != nil {
		n.writeError(s, fmt.Sprintf("malformed request: %v", err))
		return
	}
	kind := Kind(req.Kind)
	if _, ok := n.cfg.Signers[kind]; !ok || n.cfg.Provider == nil {
		n.writeError(s, fmt.Sprintf("not serving %q", req.Kind))
		return
	}
	if req.Count == 0 || req.Count > MaxRange {
		n.writeError(s, fmt.Sprintf("count %d out of range 1..%d", req.Count, MaxRange))
		return
	}
	msgs, err := n.cfg.Provider.Range(kind, req.From, req.Count)
	if err != nil {
		n.writeError(s, err.Error())
		return
	}
	w := bufio.NewWriter(s)
	for _, m := range msgs[:min(len(msgs), int(req.Count))] {
		if err := writeItem(w, m); err != nil {
			return
		}
	}
	writeItem(w, nil)
	w.Flush()
}

func (n *Node) writeError(s network.Stream, msg string) {
	w := bufio.NewWriter(s)
	writeItem(w, append([]byte{errorMarker}, msg...))
	w.Flush()
}

func writeItem(w *bufio.Writer, b []byte) error {
	var l [binary.MaxVarintLen64]byte
	if _, err := w.Write(l[:binary.PutUvarint(l[:], uint64(len(b)))]); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

// Fetch asks peer p for count messages of kind starting at from, checks each
// like a gossiped one (version, size, signature of kind's signer) and returns
// them with their payloads. A peer that has fewer returns fewer.
func (n *Node) Fetch(ctx context.Context, p peer.ID, kind Kind, from, count uint64) ([]Message, error) {
	signers, ok := n.cfg.Signers[kind]
	if !ok {
		return nil, fmt.Errorf("p2p: no signer for %s", kind)
	}
	if count == 0 || count > MaxRange {
		return nil, fmt.Errorf("p2p: count %d out of range 1..%d", count, MaxRange)
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	s, err := n.request(ctx, p, requestProtocol(n.cfg.ChainID), &rangeRequest{Kind: string(kind), From: from, Count: count})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return readItems(bufio.NewReader(s), kind, n.cfg.ChainID, signers, count, p)
}

// request opens a stream of proto to p, with ctx's deadline, sends req in
// RLP and closes the stream's write side; the caller reads the answer and
// closes the stream.
func (n *Node) request(ctx context.Context, p peer.ID, proto protocol.ID, req any) (network.Stream, error) {
	s, err := n.host.NewStream(ctx, p, proto)
	if err != nil {
		return nil, err
	}
	if d, ok := ctx.Deadline(); ok {
		s.SetDeadline(d)
	}
	if err := rlp.Encode(s, req); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.CloseWrite(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func readItems(r *bufio.Reader, kind Kind, chainID uint64, signers []common.Address, count uint64, p peer.ID) ([]Message, error) {
	var out []Message
	for {
		l, err := binary.ReadUvarint(r)
		if err != nil {
			return out, fmt.Errorf("p2p: response from %s cut short: %w", p, err)
		}
		if l == 0 {
			return out, nil
		}
		if l > MaxMessageSize {
			return out, fmt.Errorf("p2p: response item of %d bytes from %s: %w", l, p, ErrTooLarge)
		}
		data := make([]byte, l)
		if _, err := io.ReadFull(r, data); err != nil {
			return out, fmt.Errorf("p2p: response from %s cut short: %w", p, err)
		}
		if data[0] == errorMarker {
			return out, fmt.Errorf("p2p: peer %s: %s", p, data[1:])
		}
		if uint64(len(out)) == count {
			return out, fmt.Errorf("p2p: peer %s sent more than %d messages", p, count)
		}
		payload, signer, err := OpenFromAny(data, kind, chainID, signers)
		if err != nil {
			return out, fmt.Errorf("p2p: peer %s sent a bad %s message: %w", p, kind, err)
		}
		out = append(out, Message{Kind: kind, Payload: payload, Data: data, From: p, Signer: signer})
	}
}

// errNoPeers is returned when no peer can serve a request.
var errNoPeers = errors.New("p2p: no peer to ask")

// FetchAny asks the topic's peers in turn until one answers with at least
// one message.
func (n *Node) FetchAny(ctx context.Context, kind Kind, from, count uint64) ([]Message, error) {
	var last error = errNoPeers
	for _, p := range n.host.Network().Peers() {
		msgs, err := n.Fetch(ctx, p, kind, from, count)
		if len(msgs) > 0 {
			return msgs, nil
		}
		if err != nil {
			last = err
		}
	}
	return nil, last
}
