package storage

import (
	"bytes"
	"fmt"

	"github.com/ethereum/go-ethereum/rlp"

	"github.com/meganode/meganode/chain"
)

var (
	finalityPrefix   = []byte("mg-fin-") // + number → RLP(chain.BlockFinality)
	finalityHeadsKey = []byte("mg-finheads")
	// + number → RLP([][]byte): the signed attestation messages of the block
	attestationPrefix = []byte("mg-att-")
)

// maxAttestations bounds the messages kept per block: one per prover of a
// quorum, with room for the set to change.
const maxAttestations = 64

// AddAttestation keeps the signed wire message of an attestation this node
// checked and counted for block number, so that it can serve it to a peer
// that asks after this node restarted (a node rejoining with an empty data
// directory). A message kept already is not added again. Not synced: a
// power cut costs a re-fetch.
func (s *Store) AddAttestation(number uint64, msg []byte) error {
	msgs, err := s.Attestations(number)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if bytes.Equal(m, msg) {
			return nil
		}
	}
	if len(msgs) >= maxAttestations {
		return fmt.Errorf("block %d has %d attestations kept already", number, len(msgs))
	}
	data, err := rlp.EncodeToBytes(append(msgs, msg))
	if err != nil {
		return fmt.Errorf("encode attestations of block %d: %w", number, err)
	}
	return s.kv.Put(numKey(attestationPrefix, number), data)
}

// Attestations returns the signed attestation messages kept for block
// number, nil if none.
func (s *Store) Attestations(number uint64) ([][]byte, error) {
	data, err := s.kv.Get(numKey(attestationPrefix, number))
	if err != nil {
		return nil, nil
	}
	var msgs [][]byte
	if err := rlp.DecodeBytes(data, &msgs); err != nil {
		return nil, fmt.Errorf("decode attestations of block %d: %w", number, err)
	}
	return msgs, nil
}

// WriteFinality persists the finality heads and the records that changed,
// in one batch.
func (s *Store) WriteFinality(heads chain.FinalityHeads, blocks []*chain.BlockFinality) error {
	batch := s.kv.NewBatch()
	for _, b := range blocks {
		data, err := rlp.EncodeToBytes(b)
		if err != nil {
			return fmt.Errorf("encode finality of block %d: %w", b.Number, err)
		}
		if err := batch.Put(numKey(finalityPrefix, b.Number), data); err != nil {
			return err
		}
	}
	data, err := rlp.EncodeToBytes(&heads)
	if err != nil {
		return fmt.Errorf("encode finality heads: %w", err)
	}
	if err := batch.Put(finalityHeadsKey, data); err != nil {
		return err
	}
	return batch.Write()
}

// FinalityHeads returns the persisted heads; a store that has none starts
// with every head at genesis.
func (s *Store) FinalityHeads() (chain.FinalityHeads, error) {
	var heads chain.FinalityHeads
	data, err := s.kv.Get(finalityHeadsKey)
	if err != nil {
		g := chain.BlockID{Number: 0, Hash: s.genesis.Hash()}
		return chain.FinalityHeads{Sealed: g, Safe: g, Proven: g, Finalized: g}, nil
	}
	if err := rlp.DecodeBytes(data, &heads); err != nil {
		return heads, fmt.Errorf("decode finality heads: %w", err)
	}
	return heads, nil
}

// BlockFinality returns a block's persisted finality record, or nil.
func (s *Store) BlockFinality(number uint64) (*chain.BlockFinality, error) {
	data, err := s.kv.Get(numKey(finalityPrefix, number))
	if err != nil {
		return nil, nil
	}
	b := new(chain.BlockFinality)
	if err := rlp.DecodeBytes(data, b); err != nil {
		return nil, fmt.Errorf("decode finality of block %d: %w", number, err)
	}
	return b, nil
}

// OpenFinality returns the records of blocks above number, in order: what a
// restarted node's ladder resumes with.
func (s *Store) OpenFinality(number uint64) ([]*chain.BlockFinality, error) {
	it := s.kv.NewIterator(finalityPrefix, numKey(nil, number+1))
	defer it.Release()
	var out []*chain.BlockFinality
	for it.Next() {
		b := new(chain.BlockFinality)
		if err := rlp.DecodeBytes(it.Value(), b); err != nil {
			return nil, fmt.Errorf("decode finality record %x: %w", it.Key(), err)
		}
		out = append(out, b)
	}
	return out, it.Error()
}
