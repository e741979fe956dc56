package p2p

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// Config is one node's network setup.
type Config struct {
	ChainID uint64
	// Genesis is the hash of the chain's genesis block: a peer that reports
	// another (or another chain id) is refused.
	Genesis common.Hash
	// Listen are multiaddrs to listen on; default /ip4/127.0.0.1/tcp/0.
	Listen []string
	// KeyFile holds the node's libp2p identity, created on first start; empty
	// means a fresh identity every start.
	KeyFile string
	// Peers are static peers and bootnodes: multiaddrs ending in /p2p/<id>.
	Peers []string
	// Signers says who may sign each kind (the sequencer; the provers for
	// attestations and fraud proofs); a kind without signers is not
	// subscribed to or relayed.
	Signers map[Kind][]common.Address
	// Provider serves gap requests from other nodes; nil serves none.
	Provider Provider
	// State serves state sync to joining nodes; nil serves none.
	State StateProvider
}

// Message is a validated message: its payload and the wire bytes it came in
// (to store and serve again over request-response).
type Message struct {
	Kind    Kind
	Payload []byte
	Data    []byte
	From    peer.ID
	Signer  common.Address
}

// Node is a libp2p host with the gossipsub topics and the request-response
// protocol.
type Node struct {
	cfg      Config
	log      zerolog.Logger
	host     host.Host
	ps       *pubsub.PubSub
	topics   map[Kind]*pubsub.Topic
	rejected atomic.Uint64
	scores   atomic.Pointer[map[peer.ID]float64]
	mesh     *meshTracer
	stop     context.CancelFunc
	done     chan struct{}

	status       status
	refusals     *refusals
	refusedCount atomic.Uint64
	stateSlots   chan struct{} // state requests being answered (stateServers)
}

// redialInterval is how often static peers that dropped are dialled again.
const redialInterval = time.Second

// Gossipsub scoring: an invalid message costs its sender 100 points and the
// penalty decays by 10% a second, so a peer forging a handful of messages is
// graylisted (its messages ignored) until it behaves.
const (
	invalidMessageWeight = -100
	graylistThreshold    = -400
)

// New starts a node: host, gossipsub with our signing rules, validators,
// the request-response handler, and dials the static peers.
func New(ctx context.Context, cfg Config, log zerolog.Logger) (*Node, error) {
	key, err := loadOrCreateKey(cfg.KeyFile)
	if err != nil {
		return nil, err
	}
	listen := cfg.Listen
	if len(listen) == 0 {
		listen = []string{"/ip4/127.0.0.1/tcp/0"}
	}
	refused := newRefusals(time.Now)
	h, err := libp2p.New(libp2p.Identity(key), libp2p.ListenAddrStrings(listen...), libp2p.ConnectionGater(refused))
	if err != nil {
		return nil, fmt.Errorf("p2p host: %w", err)
	}
	n := &Node{cfg: cfg, log: log.With().Str("component", "p2p").Logger(), host: h, topics: make(map[Kind]*pubsub.Topic), mesh: newMeshTracer(),
		status: status{ChainID: cfg.ChainID, Genesis: cfg.Genesis}, refusals: refused, stateSlots: make(chan struct{}, stateServers)}
	loopCtx, stop := context.WithCancel(context.Background())
	n.stop, n.done = stop, make(chan struct{})
	h.SetStreamHandler(statusProtocol, n.serveStatus)
	h.Network().Notify(&network.NotifyBundle{ConnectedF: func(_ network.Network, c network.Conn) {
		go n.checkPeer(loopCtx, c.RemotePeer())
	}})

	topicScores := make(map[string]*pubsub.TopicScoreParams)
	for kind := range cfg.Signers {
		topicScores[Topic(cfg.ChainID, kind)] = &pubsub.TopicScoreParams{
			SkipAtomicValidation:           true,
			TopicWeight:                    1,
			TimeInMeshQuantum:              time.Second, // unused (weight 0) but a divisor
			TimeInMeshCap:                  1,
			InvalidMessageDeliveriesWeight: invalidMessageWeight,
			InvalidMessageDeliveriesDecay:  0.9,
		}
	}
	ps, err := pubsub.NewGossipSub(ctx, h,
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithNoAuthor(),
		// Ids go into protobuf strings (IHAVE, IWANT, IDONTWANT), which must
		// be UTF-8: hex, not raw hash bytes.
		pubsub.WithMessageIdFn(func(m *pb.Message) string { return hex.EncodeToString(crypto.Keccak256(m.Data)) }),
		pubsub.WithMaxMessageSize(MaxMessageSize),
		// The producer sends to every subscribed peer, not only its mesh: the
		// first mini-blocks after a start must not wait for the mesh to form.
		pubsub.WithFloodPublish(true),
		pubsub.WithRawTracer(n.mesh),
		pubsub.WithPeerScore(&pubsub.PeerScoreParams{
			SkipAtomicValidation: true,
			Topics:               topicScores,
			DecayInterval:        time.Second,
			DecayToZero:          0.01,
		}, &pubsub.PeerScoreThresholds{
			SkipAtomicValidation: true,
			GossipThreshold:      graylistThreshold / 4,
			PublishThreshold:     graylistThreshold / 2,
			GraylistThreshold:    graylistThreshold,
		}),
		pubsub.WithPeerScoreInspect(func(s map[peer.ID]float64) { n.scores.Store(&s) }, time.Second),
	)
	if err != nil {
		stop()
		h.Close()
		return nil, fmt.Errorf("gossipsub: %w", err)
	}
	n.ps = ps
	for kind, signers := range cfg.Signers {
		if err := n.join(kind, signers); err != nil {
			stop()
			h.Close()
			return nil, err
		}
	}
	h.SetStreamHandler(requestProtocol(cfg.ChainID), n.serveRequest)
	h.SetStreamHandler(stateProtocol(cfg.ChainID), n.serveState)
	for _, p := range cfg.Peers {
		if err := n.Connect(ctx, p); err != nil {
			// A static peer that is down now is dialled again every
			// redialInterval; the node still starts, as geth does.
			n.log.Warn().Str("peer", p).Err(err).Msg("static peer not reachable")
		}
	}
	go n.redial(loopCtx)
	return n, nil
}

// redial keeps the static peers connected: a restarted sequencer or replica
// is found again at its address.
func (n *Node) redial(ctx context.Context) {
	defer close(n.done)
	t := time.NewTicker(redialInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, addr := range n.cfg.Peers {
			m, err := ma.NewMultiaddr(addr)
			if err != nil {
				continue
			}
			info, err := peer.AddrInfoFromP2pAddr(m)
			if err != nil || n.host.Network().Connectedness(info.ID) == network.Connected {
				continue
			}
			// Past libp2p's dial backoff, which after a failed dial would
			// keep a restarted peer unreachable for several seconds more.
			dctx, cancel := context.WithTimeout(network.WithForceDirectDial(ctx, "static peer"), redialInterval)
			if err := n.host.Connect(dctx, *info); err == nil {
				n.log.Info().Str("peer", addr).Msg("reconnected to static peer")
			}
			cancel()
		}
	}
}

// validated is what a topic validator hands the subscription.
type validated struct {
	payload []byte
	signer  common.Address
}

func (n *Node) join(kind Kind, signers []common.Address) error {
	topic := Topic(n.cfg.ChainID, kind)
	err := n.ps.RegisterTopicValidator(topic, func(_ context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
		payload, signer, err := OpenFromAny(m.Data, kind, n.cfg.ChainID, signers)
		if err != nil {
			n.rejected.Add(1)
			n.log.Warn().Str("topic", topic).Str("peer", from.String()).Err(err).Msg("rejected gossip message")
			return pubsub.ValidationReject
		}
		m.ValidatorData = validated{payload, signer}
		return pubsub.ValidationAccept
	})
	if err != nil {
		return fmt.Errorf("validator for %s: %w", topic, err)
	}
	t, err := n.ps.Join(topic)
	if err != nil {
		return fmt.Errorf("join %s: %w", topic, err)
	}
	n.topics[kind] = t
	return nil
}

// Publish sends wire bytes (from Seal) on kind's topic; they pass the same
// validation as received messages.
func (n *Node) Publish(ctx context.Context, kind Kind, data []byte) error {
	t, ok := n.topics[kind]
	if !ok {
		return fmt.Errorf("p2p: no topic for %s", kind)
	}
	return t.Publish(ctx, data)
}

// Subscription delivers the validated messages of one kind.
type Subscription struct {
	kind Kind
	sub  *pubsub.Subscription
}

// Subscribe starts receiving kind's messages.
func (n *Node) Subscribe(kind Kind) (*Subscription, error) {
	t, ok := n.topics[kind]
	if !ok {
		return nil, fmt.Errorf("p2p: no topic for %s", kind)
	}
	sub, err := t.Subscribe()
	if err != nil {
		return nil, err
	}
	return &Subscription{kind: kind, sub: sub}, nil
}

// Next blocks for the next message.
func (s *Subscription) Next(ctx context.Context) (Message, error) {
	m, err := s.sub.Next(ctx)
	if err != nil {
		return Message{}, err
	}
	v, _ := m.ValidatorData.(validated)
	return Message{Kind: s.kind, Payload: v.payload, Data: m.Data, From: m.ReceivedFrom, Signer: v.signer}, nil
}

// Pump hands each message to deliver until ctx ends or deliver returns
// false; it blocks, so callers run it on a goroutine of their own.
func (s *Subscription) Pump(ctx context.Context, deliver func(Message) bool) {
	for {
		m, err := s.Next(ctx)
		if err != nil || !deliver(m) {
			return
		}
	}
}

// Cancel stops the subscription.
func (s *Subscription) Cancel() { s.sub.Cancel() }

// TopicPeers returns the peers known to be subscribed to kind.
func (n *Node) TopicPeers(kind Kind) []peer.ID {
	if t, ok := n.topics[kind]; ok {
		return t.ListPeers()
	}
	return nil
}

// PeerJoins returns a channel of peers joining kind's topic, for callers that
// wait for a mesh without polling.
func (n *Node) PeerJoins(ctx context.Context, kind Kind) (<-chan peer.ID, error) {
	t, ok := n.topics[kind]
	if !ok {
		return nil, fmt.Errorf("p2p: no topic for %s", kind)
	}
	h, err := t.EventHandler()
	if err != nil {
		return nil, err
	}
	out := make(chan peer.ID, 16)
	go func() {
		defer h.Cancel()
		defer close(out)
		for {
			ev, err := h.NextPeerEvent(ctx)
			if err != nil {
				return
			}
			if ev.Type == pubsub.PeerJoin {
				select {
				case out <- ev.Peer:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// Rejected counts messages that failed validation.
func (n *Node) Rejected() uint64 { return n.rejected.Load() }

// Score returns gossipsub's score of a peer as of the last inspection (once
// a second) and whether it had one.
func (n *Node) Score(p peer.ID) (float64, bool) {
	s := n.scores.Load()
	if s == nil {
		return 0, false
	}
	v, ok := (*s)[p]
	return v, ok
}

// Peers returns the connected peers.
func (n *Node) Peers() []peer.ID { return n.host.Network().Peers() }

// ID is the node's peer id.
func (n *Node) ID() peer.ID { return n.host.ID() }

// Addrs returns the node's dialable multiaddrs with its /p2p/ id.
func (n *Node) Addrs() []string {
	info := peer.AddrInfo{ID: n.host.ID(), Addrs: n.host.Addrs()}
	addrs, _ := peer.AddrInfoToP2pAddrs(&info)
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}

// Connect dials a peer given as a multiaddr ending in /p2p/<id>.
func (n *Node) Connect(ctx context.Context, addr string) error {
	m, err := ma.NewMultiaddr(addr)
	if err != nil {
		return fmt.Errorf("peer address %q: %w", addr, err)
	}
	info, err := peer.AddrInfoFromP2pAddr(m)
	if err != nil {
		return fmt.Errorf("peer address %q: %w", addr, err)
	}
	return n.host.Connect(ctx, *info)
}

// Close stops the node.
func (n *Node) Close() error {
	n.stop()
	<-n.done
	return n.host.Close()
}

// loadOrCreateKey reads the node key from path, or creates one there. An
// empty path gives a fresh key.
func loadOrCreateKey(path string) (lcrypto.PrivKey, error) {
	if path == "" {
		k, _, err := lcrypto.GenerateEd25519Key(rand.Reader)
		return k, err
	}
	if data, err := os.ReadFile(path); err == nil {
		k, err := lcrypto.UnmarshalPrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("node key %s: %w", path, err)
		}
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("node key: %w", err)
	}
	k, _, err := lcrypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, err
	}
	data, err := lcrypto.MarshalPrivateKey(k)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return nil, fmt.Errorf("node key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("node key: %w", err)
	}
	return k, nil
}
