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
