package p2p

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ethereum/go-ethereum/common"
)

// The status exchange: once a connection is up each side asks the other for
// its chain id and genesis hash. A peer of another chain or genesis is
// disconnected with an error naming both, and neither dialled nor accepted
// again for refuseFor (the connection gater), so a misconfigured node is
// refused, not retried every second. A peer that does not answer is not
// refused: it may be restarting.
const (
	statusProtocol = protocol.ID("/meganode/status/1")
	statusSize     = 8 + common.HashLength
	statusTimeout  = 5 * time.Second
	refuseFor      = time.Minute
)

// status is what a node says of its chain.
type status struct {
	ChainID uint64
	Genesis common.Hash
}

func (s status) encode() []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, statusSize), s.ChainID), s.Genesis[:]...)
}

func decodeStatus(b []byte) (status, error) {
	if len(b) != statusSize {
		return status{}, fmt.Errorf("%w: status of %d bytes, want %d", ErrMalformed, len(b), statusSize)
	}
	return status{ChainID: binary.BigEndian.Uint64(b), Genesis: common.BytesToHash(b[8:])}, nil
}

func (s status) String() string { return fmt.Sprintf("chain %d, genesis %s", s.ChainID, s.Genesis) }

// refusals are the peers refused lately, shared with the connection gater.
type refusals struct {
	mu    sync.Mutex
	until map[peer.ID]time.Time
	now   func() time.Time
}

func newRefusals(now func() time.Time) *refusals {
	return &refusals{until: make(map[peer.ID]time.Time), now: now}
}

// add refuses p for refuseFor; false if it was refused already.
func (r *refusals) add(p peer.ID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	fresh := !r.now().Before(r.until[p])
	r.until[p] = r.now().Add(refuseFor)
	return fresh
}

func (r *refusals) refused(p peer.ID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	until, ok := r.until[p]
	if ok && !r.now().Before(until) {
		delete(r.until, p)
		return false
	}
	return ok
}

// The connection gater keeps refused peers out, dialled or dialling.
func (r *refusals) InterceptPeerDial(p peer.ID) bool                 { return !r.refused(p) }
func (r *refusals) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return !r.refused(p) }
func (r *refusals) InterceptAccept(network.ConnMultiaddrs) bool      { return true }
func (r *refusals) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return !r.refused(p)
}
func (r *refusals) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

// serveStatus answers a peer's status request with this node's.
func (n *Node) serveStatus(s network.Stream) {
	defer s.Close()
	_ = s.SetWriteDeadline(time.Now().Add(statusTimeout))
	_, _ = s.Write(n.status.encode())
}

// checkPeer asks p for its status and refuses it when its chain or genesis
// is not this node's.
func (n *Node) checkPeer(ctx context.Context, p peer.ID) {
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	theirs, err := n.peerStatus(ctx, p)
	switch {
	case ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled):
		return // closing
	case err != nil && n.host.Network().Connectedness(p) != network.Connected:
		return // gone meanwhile
	case err != nil:
		// No answer is not a wrong answer: a peer dying or slow under load
		// (kill -9, a restart) stays welcome; only a mismatch is refused.
		n.log.Warn().Str("peer", p.String()).Err(err).Msg("peer did not answer the status request")
	case theirs != n.status:
		n.refuse(p, fmt.Errorf("the peer runs %s, this node %s: every node of a network needs the same genesis", theirs, n.status))
	}
}

func (n *Node) peerStatus(ctx context.Context, p peer.ID) (status, error) {
	s, err := n.host.NewStream(ctx, p, statusProtocol)
	if err != nil {
		return status{}, err
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetReadDeadline(dl)
	}
	buf := make([]byte, statusSize)
	if _, err := io.ReadFull(s, buf); err != nil {
		return status{}, err
	}
	return decodeStatus(buf)
}

// refuse disconnects p and keeps it out for refuseFor.
func (n *Node) refuse(p peer.ID, why error) {
	if n.refusals.add(p) {
		n.log.Error().Str("peer", p.String()).Err(why).Dur("for", refuseFor).Msg("peer refused")
	}
	n.refusedCount.Add(1)
	_ = n.host.Network().ClosePeer(p)
}

// Refused counts the peers refused by the status exchange.
func (n *Node) Refused() uint64 { return n.refusedCount.Load() }
