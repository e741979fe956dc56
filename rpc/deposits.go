package rpc

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/meganode/meganode/chain"
)

// DepositReader is a ChainReader that keeps deposits (storage.Store): the
// server serves them, first in their blocks, where it serves transactions
// and receipts (op-geth's JSON, chain/depositjson.go). A chain without
// one has no deposits.
type DepositReader interface {
	Deposits(hash common.Hash, number uint64) ([]*chain.Deposit, []*chain.DepositReceipt)
	Deposit(hash common.Hash) (*chain.Deposit, *chain.DepositReceipt, common.Hash, uint64, uint64)
}

// PendingDepositReader is a LatestState that preconfirms deposits (the
// sequencer, a replica): the block being built lists them first, as a
// sealed block does.
type PendingDepositReader interface {
	PendingDeposits() ([]*chain.Deposit, []*chain.DepositReceipt)
}

// pendingDeposits returns the deposits of the block being built.
func (b *Backend) pendingDeposits() ([]*chain.Deposit, []*chain.DepositReceipt) {
	if d, ok := b.Latest.(PendingDepositReader); ok {
		return d.PendingDeposits()
	}
	return nil, nil
}

// pendingDeposit finds a preconfirmed deposit by hash, with its receipt
// and its index in the block being built.
func (b *Backend) pendingDeposit(hash common.Hash) (*chain.Deposit, *chain.DepositReceipt, int) {
	ds, rs := b.pendingDeposits()
	for i, d := range ds {
		if d.Hash() == hash {
			return d, rs[i], i
		}
	}
	return nil, nil, 0
}

// deposits returns a sealed block's deposits and their receipts.
func (b *Backend) deposits(hash common.Hash, number uint64) ([]*chain.Deposit, []*chain.DepositReceipt) {
	if d, ok := b.Chain.(DepositReader); ok {
		return d.Deposits(hash, number)
	}
	return nil, nil
}

// deposit looks a sealed deposit up by hash.
func (b *Backend) deposit(hash common.Hash) (*chain.Deposit, *chain.DepositReceipt, common.Hash, uint64, uint64) {
	if d, ok := b.Chain.(DepositReader); ok {
		return d.Deposit(hash)
	}
	return nil, nil, common.Hash{}, 0, 0
}

// logReceipts are a sealed block's receipts with its deposits' first, for
// the logs they hold: log filters, subscriptions and eth_getLogs see every
// log of the block in its order.
func (b *Backend) logReceipts(hash common.Hash, number uint64) types.Receipts {
	receipts := b.Chain.Receipts(hash, number)
	_, drs := b.deposits(hash, number)
	if len(drs) == 0 {
		return receipts
	}
	out := make(types.Receipts, 0, len(drs)+len(receipts))
	for _, r := range drs {
		out = append(out, r.Receipt)
	}
	return append(out, receipts...)
}

// depositTx is deposit i of a sealed block as a transaction object.
func depositTx(ds []*chain.Deposit, rs []*chain.DepositReceipt, block *types.Block, i int) *chain.DepositTxJSON {
	return chain.NewDepositTxJSON(ds[i], rs[i], block.Hash(), block.NumberU64(), block.Time(), uint64(i))
}
