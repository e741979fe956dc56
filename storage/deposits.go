package storage

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus/misc/eip4844"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethdb"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/meganode/meganode/chain"
)

// depositsPrefix keys a block's deposits, their receipts and its deposit
// cursor, written only for a block with deposits or a cursor: most blocks
// have neither, and a miss is one pebble bloom-filter probe.
var depositsPrefix = []byte("mg-dep-") // + number → RLP(depositsRecord)

type depositsRecord struct {
	Deposits []*chain.Deposit
	Receipts []*chain.DepositReceipt // consensus form; derived on read
	L1Origin chain.L1Origin
}

// writeDeposits adds sb's deposits and cursor to batch, with a tx lookup
// entry for each deposit hash.
func writeDeposits(batch ethdb.KeyValueWriter, sb *chain.SealedBlock) error {
	if len(sb.Deposits) == 0 && sb.L1Origin == (chain.L1Origin{}) {
		return nil
	}
	num := sb.Block.NumberU64()
	data, err := rlp.EncodeToBytes(&depositsRecord{Deposits: sb.Deposits, Receipts: sb.DepositReceipts, L1Origin: sb.L1Origin})
	if err != nil {
		return fmt.Errorf("encode deposits of block %d: %w", num, err)
	}
	for _, d := range sb.Deposits {
		rawdb.WriteTxLookupEntries(batch, num, []common.Hash{d.Hash()})
	}
	return batch.Put(numKey(depositsPrefix, num), data)
}

// deleteDeposits removes what writeDeposits wrote for block num.
func deleteDeposits(batch ethdb.KeyValueWriter, c *cachedBlock, num uint64) error {
	if c != nil && c.deps != nil {
		hashes := make([]common.Hash, len(c.deps.Deposits))
		for i, d := range c.deps.Deposits {
			hashes[i] = d.Hash()
		}
		rawdb.DeleteTxLookupEntries(batch, hashes)
	}
	return batch.Delete(numKey(depositsPrefix, num))
}

// readDeposits decodes block num's deposits record; nil without one.
func (s *Store) readDeposits(num uint64) (*depositsRecord, error) {
	data, err := s.kv.Get(numKey(depositsPrefix, num))
	if err != nil || len(data) == 0 {
		return nil, nil
	}
	var rec depositsRecord
	if err := rlp.DecodeBytes(data, &rec); err != nil {
		return nil, fmt.Errorf("decode deposits of block %d: %w", num, err)
	}
	return &rec, nil
}

// Deposits returns the deposits of the canonical block hash at number and
// their receipts with every derived field set (nil for a block without).
// They are shared with other readers: do not modify them.
func (s *Store) Deposits(hash common.Hash, number uint64) ([]*chain.Deposit, []*chain.DepositReceipt) {
	c := s.cachedByHash(hash, number)
	if c == nil {
		return nil, nil
	}
	s.receiptsOf(c)
	if c.deps == nil {
		return nil, nil
	}
	return c.deps.Deposits, c.deps.Receipts
}

// L1Origin returns the deposit cursor of canonical block number: the
// newest L1 block whose deposits it and its ancestors include (zero before
// the first deposit was read).
func (s *Store) L1Origin(number uint64) (chain.L1Origin, error) {
	rec, err := s.readDeposits(number)
	if rec == nil {
		return chain.L1Origin{}, err
	}
	return rec.L1Origin, nil
}

// Deposit looks a sealed deposit up by its L2 hash and returns it with its
// receipt, block hash, block number and index in the block, or nil.
func (s *Store) Deposit(hash common.Hash) (*chain.Deposit, *chain.DepositReceipt, common.Hash, uint64, uint64) {
	num := rawdb.ReadTxLookupEntry(s.kv, hash)
	if num == nil {
		return nil, nil, common.Hash{}, 0, 0
	}
	bh := rawdb.ReadCanonicalHash(s.kv, *num)
	deposits, receipts := s.Deposits(bh, *num)
	for i, d := range deposits {
		if d.Hash() == hash {
			return d, receipts[i], bh, *num, uint64(i)
		}
	}
	return nil, nil, common.Hash{}, 0, 0
}

// blockReceipts derives a block's receipts, and those of its deposits when
// it has any: go-ethereum's ReadReceipts would number the transactions and
// logs from 0 and count the deposits' gas as the first transaction's.
func (s *Store) blockReceipts(c *cachedBlock) types.Receipts {
	b := c.block
	rec, err := s.readDeposits(b.NumberU64())
	if err != nil || rec == nil || len(rec.Deposits) == 0 {
		if rec != nil {
			c.deps = rec
		}
		return s.deriveReceipts(b)
	}
	receipts := rawdb.ReadRawReceipts(s.kv, b.Hash(), b.NumberU64())
	if err := chain.DeriveBlockReceipts(s.config, b, receipts, rec.Deposits, rec.Receipts); err != nil {
		return nil // stored by this node after CheckBody: a failure is corruption
	}
	c.deps = rec
	return receipts
}

// deriveReceipts is rawdb.ReadReceipts for a block this store has decoded:
// the receipts read, their derived fields taken from b instead of its body
// and header read and decoded again.
func (s *Store) deriveReceipts(b *types.Block) types.Receipts {
	receipts := rawdb.ReadRawReceipts(s.kv, b.Hash(), b.NumberU64())
	if receipts == nil {
		return nil
	}
	baseFee := b.BaseFee()
	if baseFee == nil {
		baseFee = new(big.Int)
	}
	var blobGasPrice *big.Int
	if b.ExcessBlobGas() != nil {
		blobGasPrice = eip4844.CalcBlobFee(s.config, b.Header())
	}
	if err := receipts.DeriveFields(s.config, b.Hash(), b.NumberU64(), b.Time(), baseFee, blobGasPrice, b.Transactions()); err != nil {
		return nil // stored with the block by this node: a failure is corruption
	}
	return receipts
}

// forcedPrefix keys a block a follower derived in place of the sequencer's
// (forced inclusion) by its hash, to the hash of the sequencer's block it
// replaced: the sequencer's next block builds on that one.
var forcedPrefix = []byte("mg-frc-") // + our block hash → the sequencer's block hash

// WriteForced records that block ours replaced the sequencer's block seq.
func (s *Store) WriteForced(ours, seq common.Hash) error {
	if err := s.CheckSpace(); err != nil {
		return err
	}
	return s.kv.Put(append(append([]byte(nil), forcedPrefix...), ours[:]...), seq[:])
}

// Forced returns the sequencer's block that block ours replaced, and
// whether ours is such a block.
func (s *Store) Forced(ours common.Hash) (common.Hash, bool) {
	data, err := s.kv.Get(append(append([]byte(nil), forcedPrefix...), ours[:]...))
	if err != nil || len(data) != common.HashLength {
		return common.Hash{}, false
	}
	return common.BytesToHash(data), true
}
