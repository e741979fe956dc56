package node

import (
	"context"
	"sync"

	"github.com/ethereum/go-ethereum/common"

	"github.com/meganode/meganode/p2p"
)

// memNet is the devnet's in-process transport: what the sequencer publishes
// is checked exactly as gossip would check it (version, size, signature of
// the sequencer key) and handed to the in-process roles; their range
// requests go straight to the publisher's provider.
type memNet struct {
	chainID  uint64
	signer   common.Address
	provider p2p.Provider

	mu   sync.RWMutex
	subs map[p2p.Kind][]func(payload, data []byte)
	drop func(kind p2p.Kind, data []byte) bool // tests: lose a message
}

func newMemNet(chainID uint64, signer common.Address, provider p2p.Provider) *memNet {
	return &memNet{chainID: chainID, signer: signer, provider: provider, subs: make(map[p2p.Kind][]func(payload, data []byte))}
}

func (m *memNet) subscribe(kind p2p.Kind, deliver func(payload, data []byte)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subs[kind] = append(m.subs[kind], deliver)
}

// Publish delivers a message to every subscriber of its kind; a message that
// fails validation is refused as gossipsub's validator would refuse it.
func (m *memNet) Publish(_ context.Context, kind p2p.Kind, data []byte) error {
	payload, err := p2p.OpenFrom(data, kind, m.chainID, m.signer)
	if err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.drop != nil && m.drop(kind, data) {
		return nil
	}
	for _, deliver := range m.subs[kind] {
		deliver(payload, data)
	}
	return nil
}

// FetchAny answers from the publisher's provider.
func (m *memNet) FetchAny(_ context.Context, kind p2p.Kind, from, count uint64) ([]p2p.Message, error) {
	raw, err := m.provider.Range(kind, from, count)
	out := make([]p2p.Message, 0, len(raw))
	for _, data := range raw {
		payload, err := p2p.OpenFrom(data, kind, m.chainID, m.signer)
		if err != nil {
			return out, err
		}
		out = append(out, p2p.Message{Kind: kind, Payload: payload, Data: data})
	}
	return out, err
}
