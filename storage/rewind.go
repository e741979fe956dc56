package storage

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/meganode/meganode/chain"
)

// RemovedBlock is a block Rewind took off the chain, with its receipts.
type RemovedBlock struct {
	Block    *types.Block
	Receipts types.Receipts
}

// Rewind makes block number the head again (a dev chain's evm_revert): the
// blocks above it, their receipts, tx lookups and bundles, the DA records of
// blobs that held them and the journals of unsealed blocks are deleted in
// one batch. The state of number is kept in the hash scheme (every state
// is); the path scheme recovers it from its state history if it is older
// than the diff layers. It returns the
// removed blocks, oldest first, so their logs can be announced as removed.
func (s *Store) Rewind(number uint64) ([]RemovedBlock, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	head := s.head.Number.Uint64()
	if number >= head {
		return nil, nil
	}
	target := s.headerByNumber(number)
	if target == nil {
		return nil, fmt.Errorf("rewind: block %d not found", number)
	}
	if err := s.rewindState(target); err != nil {
		return nil, err
	}
	miniCount := uint64(0)
	if number > s.genesis.NumberU64() { // a forked chain's genesis is numbered after the block it forks
		data, err := s.kv.Get(numKey(bundlePrefix, number))
		if err != nil {
			return nil, fmt.Errorf("rewind: bundle of block %d: %w", number, err)
		}
		var rec bundleRecord
		if err := rlp.DecodeBytes(data, &rec); err != nil {
			return nil, fmt.Errorf("rewind: decode bundle %d: %w", number, err)
		}
		miniCount = rec.MiniCount
	}
	batch := s.kv.NewBatch()
	var removed []RemovedBlock
	for n := number + 1; n <= head; n++ {
		hash := rawdb.ReadCanonicalHash(s.kv, n)
		if hash == (common.Hash{}) {
			continue
		}
		c := s.cachedByHash(hash, n)
		if c != nil {
			receipts := s.receiptsOf(c)
			if c.deps != nil && len(c.deps.Receipts) > 0 { // deposits' logs came first
				all := make(types.Receipts, 0, len(c.deps.Receipts)+len(receipts))
				for _, r := range c.deps.Receipts {
					all = append(all, r.Receipt)
				}
				receipts = append(all, receipts...)
			}
			removed = append(removed, RemovedBlock{Block: c.block, Receipts: receipts})
			hashes := make([]common.Hash, 0, len(c.block.Transactions()))
			for _, tx := range c.block.Transactions() {
				hashes = append(hashes, tx.Hash())
			}
			rawdb.DeleteTxLookupEntries(batch, hashes)
		}
		rawdb.DeleteBlock(batch, hash, n)
		rawdb.DeleteCanonicalHash(batch, n)
		if err := batch.Delete(numKey(bundlePrefix, n)); err != nil {
			return nil, err
		}
		if err := deleteDeposits(batch, c, n); err != nil {
			return nil, err
		}
	}
	if err := s.rewindDA(batch, number, head); err != nil {
		return nil, err
	}
	for n := number + 1; n <= head; n++ { // records are keyed by block: no iterator (memorydb's sorts every key)
		if err := batch.Delete(numKey(finalityPrefix, n)); err != nil {
			return nil, err
		}
		if err := batch.Delete(numKey(attestationPrefix, n)); err != nil {
			return nil, err
		}
		if err := batch.Delete(numKey(fraudProofPrefix, n)); err != nil {
			return nil, err
		}
	}
	hash := target.Hash()
	rawdb.WriteHeadBlockHash(batch, hash)
	rawdb.WriteHeadHeaderHash(batch, hash)
	rawdb.WriteHeadFastBlockHash(batch, hash)
	if err := batch.Put(miniCountKey, binary.BigEndian.AppendUint64(nil, miniCount)); err != nil {
		return nil, err
	}
	if err := batch.Write(); err != nil {
		return nil, fmt.Errorf("rewind to block %d: %w", number, err)
	}
	if !s.noSync {
		if err := s.kv.SyncKeyValue(); err != nil {
			return nil, fmt.Errorf("sync rewind to block %d: %w", number, err)
		}
	}
	s.head = target
	if s.fork != nil {
		s.fork.Rewind(number)
	}
	for _, r := range removed {
		s.blocks.Remove(r.Block.Hash())
	}
	s.dropJournalsIf(func(n uint64) bool { return n > number })
	return removed, nil
}

// headerByNumber is GetHeaderByNumber for a caller holding mu; a block the
// cache holds is not read and decoded again.
func (s *Store) headerByNumber(n uint64) *types.Header {
	hash := rawdb.ReadCanonicalHash(s.kv, n)
	if hash == (common.Hash{}) {
		return nil
	}
	if c, ok := s.blocks.Get(hash); ok {
		return c.block.Header()
	}
	return rawdb.ReadHeader(s.kv, hash, n)
}

// rewindDA deletes the records of blobs holding blocks above number: the
// batcher posts the blocks after the newest remaining one again. Records
// are keyed by their blob's last block, which is at most head.
func (s *Store) rewindDA(batch interface {
	Put([]byte, []byte) error
	Delete([]byte) error
}, number, head uint64) error {
	minSeq := uint64(0)
	for n := number + 1; n <= head; n++ {
		data, err := s.kv.Get(numKey(daPrefix, n))
		if err != nil {
			continue // no blob ends at n
		}
		c := new(chain.DACommitment)
		if err := rlp.DecodeBytes(data, c); err != nil {
			return fmt.Errorf("decode DA commitment of block %d: %w", n, err)
		}
		if err := batch.Delete(numKey(daPrefix, n)); err != nil {
			return err
		}
		if err := batch.Delete(numKey(daSeqPrefix, c.Seq)); err != nil {
			return err
		}
		if minSeq == 0 || c.Seq < minSeq {
			minSeq = c.Seq
		}
	}
	if minSeq == 0 {
		return nil
	}
	// Blobs are numbered in posting order: the one before the first removed
	// is the newest that stays.
	if minSeq > 1 {
		if kept, err := s.DACommitmentBySeq(minSeq - 1); err == nil && kept != nil {
			return batch.Put(daLastKey, numKey(nil, kept.Last))
		}
	}
	return batch.Delete(daLastKey)
}

// Refork replaces a forked chain's genesis (anvil_reset with forking
// parameters): the chain, rewound to its genesis first, starts again from
// genesis, the new fork block, with src beneath its state.
func (s *Store) Refork(genesis *core.Genesis, src chain.ForkSource) error {
	if s.fork == nil {
		return errors.New("refork: the chain is not forked")
	}
	if _, err := s.Rewind(s.genesis.NumberU64()); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.genesis
	s.fork.Reset(src)
	s.fork.RecordAlloc(genesis.Number, allocSlots(genesis))
	batch := s.kv.NewBatch()
	rawdb.DeleteBlock(batch, old.Hash(), old.NumberU64())
	rawdb.DeleteCanonicalHash(batch, old.NumberU64())
	if err := batch.Write(); err != nil {
		return fmt.Errorf("refork: %w", err)
	}
	block, err := s.commitGenesis(genesis)
	if err != nil {
		return fmt.Errorf("refork: commit genesis: %w", err)
	}
	if err := s.commitGenesisState(block.Root()); err != nil {
		return fmt.Errorf("refork: %w", err)
	}
	s.blocks.Remove(old.Hash())
	s.genesis, s.head = block, block.Header()
	return nil
}

// allocSlots lists a genesis alloc's accounts with their storage slots.
func allocSlots(genesis *core.Genesis) map[common.Address][]common.Hash {
	alloc := make(map[common.Address][]common.Hash, len(genesis.Alloc))
	for addr, a := range genesis.Alloc {
		slots := make([]common.Hash, 0, len(a.Storage))
		for slot := range a.Storage {
			slots = append(slots, slot)
		}
		alloc[addr] = slots
	}
	return alloc
}
