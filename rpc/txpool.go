package rpc

import (
	"fmt"
	"strconv"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
)

// TxPool is the pool the txpool namespace reads.
type TxPool interface {
	Stats() (pending, queued int)
	Content() (pending, queued map[common.Address][]*types.Transaction)
}

// TxPoolAPI is the txpool namespace, with geth's shapes: executable txs are
// "pending", txs behind a nonce gap "queued".
type TxPoolAPI struct {
	pool   TxPool
	config *params.ChainConfig
}

// Status counts pooled txs.
func (api *TxPoolAPI) Status() map[string]hexutil.Uint {
	p, q := api.pool.Stats()
	return map[string]hexutil.Uint{"pending": hexutil.Uint(p), "queued": hexutil.Uint(q)}
}

// byNonce keys an account's txs by decimal nonce.
func byNonce[T any](txs []*types.Transaction, f func(*types.Transaction) T) map[string]T {
	out := make(map[string]T, len(txs))
	for _, tx := range txs {
		out[strconv.FormatUint(tx.Nonce(), 10)] = f(tx)
	}
	return out
}

func (api *TxPoolAPI) rpcTx(tx *types.Transaction) *RPCTransaction {
	return newRPCTransaction(tx, common.Hash{}, 0, 0, 0, nil, api.config)
}

// Content lists every pooled tx by sender and nonce.
func (api *TxPoolAPI) Content() map[string]map[string]map[string]*RPCTransaction {
	pending, queued := api.pool.Content()
	out := map[string]map[string]map[string]*RPCTransaction{
		"pending": make(map[string]map[string]*RPCTransaction, len(pending)),
		"queued":  make(map[string]map[string]*RPCTransaction, len(queued)),
	}
	for addr, txs := range pending {
		out["pending"][addr.Hex()] = byNonce(txs, api.rpcTx)
	}
	for addr, txs := range queued {
		out["queued"][addr.Hex()] = byNonce(txs, api.rpcTx)
	}
	return out
}

// ContentFrom lists one sender's pooled txs.
func (api *TxPoolAPI) ContentFrom(addr common.Address) map[string]map[string]*RPCTransaction {
	pending, queued := api.pool.Content()
	return map[string]map[string]*RPCTransaction{
		"pending": byNonce(pending[addr], api.rpcTx),
		"queued":  byNonce(queued[addr], api.rpcTx),
	}
}

// Inspect summarises every pooled tx in one line, as geth does.
func (api *TxPoolAPI) Inspect() map[string]map[string]map[string]string {
	pending, queued := api.pool.Content()
	format := func(tx *types.Transaction) string {
		if to := tx.To(); to != nil {
			return fmt.Sprintf("%s: %v wei + %v gas × %v wei", to.Hex(), tx.Value(), tx.Gas(), tx.GasPrice())
		}
		return fmt.Sprintf("contract creation: %v wei + %v gas × %v wei", tx.Value(), tx.Gas(), tx.GasPrice())
	}
	out := map[string]map[string]map[string]string{
		"pending": make(map[string]map[string]string, len(pending)),
		"queued":  make(map[string]map[string]string, len(queued)),
	}
	for addr, txs := range pending {
		out["pending"][addr.Hex()] = byNonce(txs, format)
	}
	for addr, txs := range queued {
		out["queued"][addr.Hex()] = byNonce(txs, format)
	}
	return out
}
