package chain

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
)

// The JSON of deposits is op-geth's, so viem's and ethers' OP Stack
// formatters read it: rpc/ serves DepositTxJSON wherever it serves a
// transaction (eth_getTransactionByHash, by block and index, full blocks)
// and DepositReceiptJSON wherever it serves a receipt. It lives here, beside
// the type, because go-ethereum's types have no room for the fields and
// rpc/'s RPCTransaction is the shape of signed transactions.

// DepositTxJSON is a deposit as a transaction object: the shape of
// rpc.RPCTransaction without fee caps, chain id or yParity, a zero gas price
// and signature, and OP's sourceHash, mint, isSystemTx and
// depositReceiptVersion. Its nonce is the receipt's depositNonce (0 before
// the deposit ran).
type DepositTxJSON struct {
	BlockHash             *common.Hash    `json:"blockHash"`
	BlockNumber           *hexutil.Big    `json:"blockNumber"`
	BlockTimestamp        *hexutil.Uint64 `json:"blockTimestamp"`
	From                  common.Address  `json:"from"`
	Gas                   hexutil.Uint64  `json:"gas"`
	GasPrice              *hexutil.Big    `json:"gasPrice"`
	Hash                  common.Hash     `json:"hash"`
	Input                 hexutil.Bytes   `json:"input"`
	Nonce                 hexutil.Uint64  `json:"nonce"`
	To                    *common.Address `json:"to"`
	TransactionIndex      *hexutil.Uint64 `json:"transactionIndex"`
	Value                 *hexutil.Big    `json:"value"`
	Type                  hexutil.Uint64  `json:"type"`
	V                     *hexutil.Big    `json:"v"`
	R                     *hexutil.Big    `json:"r"`
	S                     *hexutil.Big    `json:"s"`
	SourceHash            common.Hash     `json:"sourceHash"`
	Mint                  *hexutil.Big    `json:"mint"`
	IsSystemTx            bool            `json:"isSystemTx"`
	DepositReceiptVersion *hexutil.Uint64 `json:"depositReceiptVersion,omitempty"`
}

// NewDepositTxJSON is d as deposit index of its block; r (its receipt) is
// nil while it is not in a block, and then so are the location fields.
func NewDepositTxJSON(d *Deposit, r *DepositReceipt, blockHash common.Hash, number, time, index uint64) *DepositTxJSON {
	d = d.normalized()
	out := &DepositTxJSON{
		From:       d.From,
		Gas:        hexutil.Uint64(d.Gas),
		GasPrice:   (*hexutil.Big)(new(big.Int)),
		Hash:       d.Hash(),
		Input:      hexutil.Bytes(common.CopyBytes(d.Data)),
		To:         d.To,
		Value:      (*hexutil.Big)(d.Value),
		Type:       DepositTxType,
		V:          (*hexutil.Big)(new(big.Int)),
		R:          (*hexutil.Big)(new(big.Int)),
		S:          (*hexutil.Big)(new(big.Int)),
		SourceHash: d.SourceHash,
		Mint:       (*hexutil.Big)(d.Mint),
		IsSystemTx: d.IsSystemTx,
	}
	if out.Input == nil {
		out.Input = hexutil.Bytes{}
	}
	if r != nil {
		out.BlockHash = &blockHash
		out.BlockNumber = (*hexutil.Big)(new(big.Int).SetUint64(number))
		out.BlockTimestamp = (*hexutil.Uint64)(&time)
		out.TransactionIndex = (*hexutil.Uint64)(&index)
		out.Nonce = hexutil.Uint64(r.DepositNonce)
		v := hexutil.Uint64(r.Version)
		out.DepositReceiptVersion = &v
	}
	return out
}

// DepositReceiptJSON is r as eth_getTransactionReceipt shows it: the keys of
// rpc's marshalReceipt (geth's MarshalReceipt) with a zero effective gas
// price, plus OP's depositNonce and depositReceiptVersion.
func DepositReceiptJSON(d *Deposit, r *DepositReceipt, blockHash common.Hash, number, index uint64) map[string]any {
	logs := r.Logs
	if logs == nil {
		logs = []*types.Log{}
	}
	fields := map[string]any{
		"blockHash":             blockHash,
		"blockNumber":           hexutil.Uint64(number),
		"transactionHash":       d.Hash(),
		"transactionIndex":      hexutil.Uint64(index),
		"from":                  d.From,
		"to":                    d.To,
		"gasUsed":               hexutil.Uint64(r.GasUsed),
		"cumulativeGasUsed":     hexutil.Uint64(r.CumulativeGasUsed),
		"contractAddress":       nil,
		"logs":                  logs,
		"logsBloom":             r.Bloom,
		"type":                  hexutil.Uint(DepositTxType),
		"effectiveGasPrice":     (*hexutil.Big)(new(big.Int)),
		"status":                hexutil.Uint(r.Status),
		"depositNonce":          hexutil.Uint64(r.DepositNonce),
		"depositReceiptVersion": hexutil.Uint64(r.Version),
	}
	if r.ContractAddress != (common.Address{}) {
		fields["contractAddress"] = r.ContractAddress
	}
	return fields
}
