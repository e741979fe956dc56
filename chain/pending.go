package chain

import (
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// PendingBlock is the EVM block in progress as mini-blocks fill it: shared
// append-only between its one writer and readers, each of which knows from
// its own snapshot how many txs it may see.
type PendingBlock struct {
	Header   *types.Header // template: Root, GasUsed and hashes unset
	mu       sync.RWMutex
	txs      types.Transactions
	receipts []*types.Receipt
	index    map[common.Hash]int
	// deposits run first in the block: the first mini-block carries them.
	deposits        []*Deposit
	depositReceipts []*DepositReceipt
}

// NewPendingBlock opens an empty block with header as its template.
func NewPendingBlock(header *types.Header) *PendingBlock {
	return &PendingBlock{Header: header, index: make(map[common.Hash]int)}
}

// Append adds a mini-block's txs and receipts.
func (pb *PendingBlock) Append(txs types.Transactions, receipts []*types.Receipt) {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	for i, tx := range txs {
		pb.index[tx.Hash()] = len(pb.txs)
		pb.txs = append(pb.txs, tx)
		pb.receipts = append(pb.receipts, receipts[i])
	}
}

// SetDeposits records the block's deposits and their preconfirmed
// receipts, which the first mini-block carries.
func (pb *PendingBlock) SetDeposits(ds []*Deposit, rs []*DepositReceipt) {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	pb.deposits, pb.depositReceipts = ds, rs
}

// Deposits returns the block's deposits and their receipts (nil before the
// first mini-block, or for a block without).
func (pb *PendingBlock) Deposits() ([]*Deposit, []*DepositReceipt) {
	pb.mu.RLock()
	defer pb.mu.RUnlock()
	return pb.deposits, pb.depositReceipts
}

// Tx returns a preconfirmed tx and its receipt if it is among the first n.
func (pb *PendingBlock) Tx(hash common.Hash, n int) (*types.Transaction, *types.Receipt, int, bool) {
	pb.mu.RLock()
	defer pb.mu.RUnlock()
	i, ok := pb.index[hash]
	if !ok || i >= n {
		return nil, nil, 0, false
	}
	return pb.txs[i], pb.receipts[i], i, true
}

// Txs returns the first n txs and receipts.
func (pb *PendingBlock) Txs(n int) (types.Transactions, []*types.Receipt) {
	pb.mu.RLock()
	defer pb.mu.RUnlock()
	return pb.txs[:n:n], pb.receipts[:n:n]
}

// Block returns the block in progress as far as its first n txs, which used
// gasUsed: the answer to "pending" block queries.
func (pb *PendingBlock) Block(n int, gasUsed uint64) (*types.Header, types.Transactions, []*types.Receipt) {
	txs, receipts := pb.Txs(n)
	h := types.CopyHeader(pb.Header)
	h.GasUsed = gasUsed
	return h, txs, receipts
}

// Lookup returns a preconfirmed tx among the first n with its receipt, block
// number and index.
func (pb *PendingBlock) Lookup(hash common.Hash, n int) (*types.Transaction, *types.Receipt, uint64, uint64, bool) {
	tx, r, i, ok := pb.Tx(hash, n)
	if !ok {
		return nil, nil, 0, 0, false
	}
	return tx, r, pb.Header.Number.Uint64(), uint64(i), true
}
