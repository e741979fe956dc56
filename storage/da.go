package storage

import (
	"encoding/binary"
	"fmt"
	"github.com/ethereum/go-ethereum/common"

	"github.com/ethereum/go-ethereum/rlp"

	"github.com/meganode/meganode/chain"
)

var (
	daPrefix    = []byte("mg-da-")    // + last block number → RLP(chain.DACommitment)
	daSeqPrefix = []byte("mg-daseq-") // + blob sequence number → last block number
	daLastKey   = []byte("mg-dalast")
)

// WriteDACommitment records a posted blob, durably: a sequencer resumes
// posting after the last recorded block.
func (s *Store) WriteDACommitment(c *chain.DACommitment) error {
	data, err := rlp.EncodeToBytes(c)
	if err != nil {
		return fmt.Errorf("encode DA commitment of blocks %d-%d: %w", c.First, c.Last, err)
	}
	batch := s.kv.NewBatch()
	if err := batch.Put(numKey(daPrefix, c.Last), data); err != nil {
		return err
	}
	if err := batch.Put(numKey(daSeqPrefix, c.Seq), numKey(nil, c.Last)); err != nil {
		return err
	}
	if err := batch.Put(daLastKey, numKey(nil, c.Last)); err != nil {
		return err
	}
	if err := batch.Write(); err != nil {
		return err
	}
	return s.kv.SyncKeyValue()
}

// MarkDARecorded notes where the seq-th posted blob's record in the L1 DA
// inbox is (the inbox recorder's receipt); the other records and the
// posting position are untouched.
func (s *Store) MarkDARecorded(seq, l1Block uint64, l1Tx common.Hash) error {
	c, err := s.DACommitmentBySeq(seq)
	if err != nil {
		return err
	}
	if c == nil {
		return fmt.Errorf("mark DA blob %d recorded on L1: no such blob", seq)
	}
	c.L1Block, c.L1Tx = l1Block, l1Tx
	data, err := rlp.EncodeToBytes(c)
	if err != nil {
		return err
	}
	if err := s.kv.Put(numKey(daPrefix, c.Last), data); err != nil {
		return err
	}
	return s.kv.SyncKeyValue()
}

// DACommitments returns up to limit recorded blobs, in block order, from the
// one holding block from.
func (s *Store) DACommitments(from uint64, limit int) ([]*chain.DACommitment, error) {
	it := s.kv.NewIterator(daPrefix, numKey(nil, from))
	defer it.Release()
	var out []*chain.DACommitment
	for len(out) < limit && it.Next() {
		c := new(chain.DACommitment)
		if err := rlp.DecodeBytes(it.Value(), c); err != nil {
			return nil, fmt.Errorf("decode DA commitment %x: %w", it.Key(), err)
		}
		out = append(out, c)
	}
	return out, it.Error()
}

// DACommitment returns the recorded blob holding block n, or nil.
func (s *Store) DACommitment(n uint64) (*chain.DACommitment, error) {
	cs, err := s.DACommitments(n, 1)
	if err != nil || len(cs) == 0 || !cs[0].Holds(n) {
		return nil, err
	}
	return cs[0], nil
}

// DACommitmentBySeq returns the seq-th recorded blob, or nil.
func (s *Store) DACommitmentBySeq(seq uint64) (*chain.DACommitment, error) {
	last, err := s.kv.Get(numKey(daSeqPrefix, seq))
	if err != nil || len(last) != 8 {
		return nil, nil
	}
	// The blob's record is keyed by its last block: a direct read.
	data, err := s.kv.Get(numKey(daPrefix, binary.BigEndian.Uint64(last)))
	if err != nil {
		return nil, nil
	}
	c := new(chain.DACommitment)
	if err := rlp.DecodeBytes(data, c); err != nil {
		return nil, fmt.Errorf("decode DA commitment %d: %w", seq, err)
	}
	return c, nil
}

// LastPosted is the newest recorded blob, nil for none.
func (s *Store) LastPosted() (*chain.DACommitment, error) {
	data, err := s.kv.Get(daLastKey)
	if err != nil || len(data) != 8 {
		return nil, nil
	}
	return s.DACommitment(binary.BigEndian.Uint64(data))
}
