package p2p

import (
	"context"
	"sync"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// meshTracer follows gossipsub's mesh (grafts and prunes) so callers can wait
// for a peer to be in it: a message is forwarded only to the mesh as it
// stands, so a peer grafted later gets it over request-response, not gossip.
type meshTracer struct {
	mu      sync.Mutex
	mesh    map[string]map[peer.ID]bool
	changed chan struct{} // closed and replaced on every change
}

func newMeshTracer() *meshTracer {
	return &meshTracer{mesh: make(map[string]map[peer.ID]bool), changed: make(chan struct{})}
}

func (t *meshTracer) set(p peer.ID, topic string, in bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mesh[topic] == nil {
		t.mesh[topic] = make(map[peer.ID]bool)
	}
	if in {
		t.mesh[topic][p] = true
	} else {
		delete(t.mesh[topic], p)
	}
	close(t.changed)
	t.changed = make(chan struct{})
}

// wait blocks until every peer in ps is in topic's mesh.
func (t *meshTracer) wait(ctx context.Context, topic string, ps []peer.ID) error {
	for {
		t.mu.Lock()
		all := true
		for _, p := range ps {
			all = all && t.mesh[topic][p]
		}
		changed := t.changed
		t.mu.Unlock()
		if all {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (t *meshTracer) Graft(p peer.ID, topic string) { t.set(p, topic, true) }
func (t *meshTracer) Prune(p peer.ID, topic string) { t.set(p, topic, false) }

func (t *meshTracer) OnNewOutboundStream(peer.ID, protocol.ID) {}
func (t *meshTracer) OnClosedOutboundStream(peer.ID)           {}
func (t *meshTracer) Join(string)                              {}
func (t *meshTracer) Leave(string)                             {}
func (t *meshTracer) ValidateMessage(*pubsub.Message)          {}
func (t *meshTracer) DeliverMessage(*pubsub.Message)           {}
func (t *meshTracer) RejectMessage(*pubsub.Message, string)    {}
func (t *meshTracer) DuplicateMessage(*pubsub.Message)         {}
func (t *meshTracer) ThrottlePeer(peer.ID)                     {}
func (t *meshTracer) RecvRPC(*pubsub.RPC)                      {}
func (t *meshTracer) SendRPC(*pubsub.RPC, peer.ID)             {}
func (t *meshTracer) DropRPC(*pubsub.RPC, peer.ID)             {}
func (t *meshTracer) UndeliverableMessage(*pubsub.Message)     {}

// WaitMesh blocks until the given peers are in this node's mesh for kind.
func (n *Node) WaitMesh(ctx context.Context, kind Kind, peers ...peer.ID) error {
	return n.mesh.wait(ctx, Topic(n.cfg.ChainID, kind), peers)
}
