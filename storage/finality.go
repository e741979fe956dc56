package storage

import (
	"fmt"

	"github.com/ethereum/go-ethereum/rlp"

	"github.com/meganode/meganode/chain"
)

var (
	finalityPrefix   = []byte("mg-fin-") // + number → RLP(chain.BlockFinality)
	finalityHeadsKey = []byte("mg-finheads")
)

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
