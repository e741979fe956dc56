package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/ethereum/go-ethereum/rlp"

	"github.com/meganode/meganode/chain"
)

var (
	finalityPrefix   = []byte("mg-fin-") // + number → RLP(chain.BlockFinality)
	finalityHeadsKey = []byte("mg-finheads")
	// + number → RLP([][]byte): the signed attestation messages of the block
	attestationPrefix = []byte("mg-att-")
	// + number → RLP([][]byte): the signed fraud proof messages of the block
	fraudProofPrefix = []byte("mg-fp-")
)

// maxAttestations bounds the messages kept per block: one per prover of a
// quorum, with room for the set to change.
const maxAttestations = 64

// maxFraudProofs bounds the fraud proofs kept per block. A node keeps one per
// block hash it believed convicted, so a block number has one unless a dev
// chain went back over it (a rewind deletes them) or provers' messages differ.
const maxFraudProofs = 8

// AddAttestation keeps the signed wire message of an attestation this node
// checked and counted for block number, so that it can serve it to a peer
// that asks after this node restarted (a node rejoining with an empty data
// directory). A message kept already is not added again. Not synced: a
// power cut costs a re-fetch.
func (s *Store) AddAttestation(number uint64, msg []byte) error {
	return s.addMessage(attestationPrefix, "attestations", maxAttestations, number, msg, false)
}

// Attestations returns the signed attestation messages kept for block
// number, nil if none.
func (s *Store) Attestations(number uint64) ([][]byte, error) {
	return s.messages(attestationPrefix, "attestations", number)
}

// AddFraudProof keeps the signed wire message of a fraud proof this node
// checked and believed for block number: a restarted node checks it again
// and is disputed at once, and serves it to peers that ask. A message kept
// already is not added again. Synced (unless the store is opened NoSync): a
// fraud proof is rare, and the prover that sent it does not send it again,
// so a power cut must not forget the dispute.
func (s *Store) AddFraudProof(number uint64, msg []byte) error {
	return s.addMessage(fraudProofPrefix, "fraud proofs", maxFraudProofs, number, msg, !s.noSync)
}

// FraudProofs returns the signed fraud proof messages kept for block number,
// nil if none.
func (s *Store) FraudProofs(number uint64) ([][]byte, error) {
	return s.messages(fraudProofPrefix, "fraud proofs", number)
}

// FraudProofBlocks returns the numbers of the blocks that have fraud proofs
// kept, lowest first.
func (s *Store) FraudProofBlocks() ([]uint64, error) {
	it := s.kv.NewIterator(fraudProofPrefix, nil)
	defer it.Release()
	var out []uint64
	for it.Next() {
		k := it.Key()
		if len(k) != len(fraudProofPrefix)+8 {
			return out, fmt.Errorf("fraud proof key %x", k)
		}
		out = append(out, binary.BigEndian.Uint64(k[len(fraudProofPrefix):]))
	}
	return out, it.Error()
}

// addMessage adds msg to the messages kept under prefix for block number,
// at most limit of them, each once.
func (s *Store) addMessage(prefix []byte, what string, limit int, number uint64, msg []byte, sync bool) error {
	msgs, err := s.messages(prefix, what, number)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if bytes.Equal(m, msg) {
			return nil
		}
	}
	if len(msgs) >= limit {
		return fmt.Errorf("block %d has %d %s kept already", number, len(msgs), what)
	}
	data, err := rlp.EncodeToBytes(append(msgs, msg))
	if err != nil {
		return fmt.Errorf("encode %s of block %d: %w", what, number, err)
	}
	if err := s.kv.Put(numKey(prefix, number), data); err != nil {
		return err
	}
	if sync {
		if err := s.kv.SyncKeyValue(); err != nil {
			return fmt.Errorf("sync %s of block %d: %w", what, number, err)
		}
	}
	return nil
}

func (s *Store) messages(prefix []byte, what string, number uint64) ([][]byte, error) {
	data, err := s.kv.Get(numKey(prefix, number))
	if err != nil {
		return nil, nil
	}
	var msgs [][]byte
	if err := rlp.DecodeBytes(data, &msgs); err != nil {
		return nil, fmt.Errorf("decode %s of block %d: %w", what, number, err)
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
