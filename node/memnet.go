package node

import (
	"context"
	"fmt"
	"sync"

	"github.com/ethereum/go-ethereum/common"

	"github.com/meganode/meganode/p2p"
)

// memNet is the devnet's in-process transport: what the sequencer and the
// prover publish is checked exactly as gossip would check it (version, size,
// signature of one of the kind's signers) and handed to the in-process
// roles; their range requests go straight to the publishers' providers.
type memNet struct {
	chainID   uint64
	signers   map[p2p.Kind][]common.Address
	providers map[p2p.Kind]p2p.Provider

	mu   sync.RWMutex
	subs map[p2p.Kind][]func(m p2p.Message)
	drop func(kind p2p.Kind, data []byte) bool // tests: lose a message
}

func newMemNet(chainID uint64) *memNet {
	return &memNet{chainID: chainID, signers: make(map[p2p.Kind][]common.Address), providers: make(map[p2p.Kind]p2p.Provider),
		subs: make(map[p2p.Kind][]func(p2p.Message))}
}

// publisher registers who signs kinds and where their range requests go.
func (m *memNet) publisher(signer common.Address, provider p2p.Provider, kinds ...p2p.Kind) {
	for _, k := range kinds {
		m.signers[k] = append(m.signers[k], signer)
		m.providers[k] = provider
	}
}

func (m *memNet) subscribe(kind p2p.Kind, deliver func(m p2p.Message)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subs[kind] = append(m.subs[kind], deliver)
}

// Publish delivers a message to every subscriber of its kind; a message that
// fails validation is refused as gossipsub's validator would refuse it.
func (m *memNet) Publish(_ context.Context, kind p2p.Kind, data []byte) error {
	payload, signer, err := p2p.OpenFromAny(data, kind, m.chainID, m.signers[kind])
	if err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.drop != nil && m.drop(kind, data) {
		return nil
	}
	for _, deliver := range m.subs[kind] {
		deliver(p2p.Message{Kind: kind, Payload: payload, Data: data, Signer: signer})
	}
	return nil
}

// FetchAny answers from the kind's publisher.
func (m *memNet) FetchAny(_ context.Context, kind p2p.Kind, from, count uint64) ([]p2p.Message, error) {
	provider, ok := m.providers[kind]
	if !ok {
		return nil, fmt.Errorf("p2p: nobody serves %s", kind)
	}
	raw, err := provider.Range(kind, from, count)
	out := make([]p2p.Message, 0, len(raw))
	for _, data := range raw {
		payload, signer, err := p2p.OpenFromAny(data, kind, m.chainID, m.signers[kind])
		if err != nil {
			return out, err
		}
		out = append(out, p2p.Message{Kind: kind, Payload: payload, Data: data, Signer: signer})
	}
	return out, err
}
