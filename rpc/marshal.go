package rpc

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/meganode/meganode/chain"
)

// marshalHeader is geth's RPCMarshalHeader.
func marshalHeader(head *types.Header) map[string]interface{} {
	result := map[string]interface{}{
		"number":           (*hexutil.Big)(head.Number),
		"hash":             head.Hash(),
		"parentHash":       head.ParentHash,
		"nonce":            head.Nonce,
		"mixHash":          head.MixDigest,
		"sha3Uncles":       head.UncleHash,
		"logsBloom":        head.Bloom,
		"stateRoot":        head.Root,
		"miner":            head.Coinbase,
		"difficulty":       (*hexutil.Big)(head.Difficulty),
		"extraData":        hexutil.Bytes(head.Extra),
		"gasLimit":         hexutil.Uint64(head.GasLimit),
		"gasUsed":          hexutil.Uint64(head.GasUsed),
		"timestamp":        hexutil.Uint64(head.Time),
		"transactionsRoot": head.TxHash,
		"receiptsRoot":     head.ReceiptHash,
	}
	if head.BaseFee != nil {
		result["baseFeePerGas"] = (*hexutil.Big)(head.BaseFee)
	}
	if head.WithdrawalsHash != nil {
		result["withdrawalsRoot"] = head.WithdrawalsHash
	}
	if head.BlobGasUsed != nil {
		result["blobGasUsed"] = hexutil.Uint64(*head.BlobGasUsed)
	}
	if head.ExcessBlobGas != nil {
		result["excessBlobGas"] = hexutil.Uint64(*head.ExcessBlobGas)
	}
	if head.ParentBeaconRoot != nil {
		result["parentBeaconBlockRoot"] = head.ParentBeaconRoot
	}
	if head.RequestsHash != nil {
		result["requestsHash"] = head.RequestsHash
	}
	return result
}

// marshalBlock is geth's RPCMarshalBlock with transactions included.
func marshalBlock(block *types.Block, fullTx bool, config *params.ChainConfig) map[string]interface{} {
	return marshalBlockWithDeposits(block, nil, nil, fullTx, config)
}

// marshalBlockWithDeposits is marshalBlock for a block that starts with
// deposits: they come first in its transactions, as on the OP Stack.
func marshalBlockWithDeposits(block *types.Block, deposits []*chain.Deposit, depositReceipts []*chain.DepositReceipt, fullTx bool, config *params.ChainConfig) map[string]interface{} {
	fields := marshalHeader(block.Header())
	fields["size"] = hexutil.Uint64(block.Size())
	txs := block.Transactions()
	transactions := make([]interface{}, 0, len(deposits)+len(txs))
	for i, d := range deposits {
		if fullTx {
			transactions = append(transactions, depositTx(deposits, depositReceipts, block, i))
		} else {
			transactions = append(transactions, d.Hash())
		}
	}
	offset := uint64(len(deposits))
	for i, tx := range txs {
		if fullTx {
			transactions = append(transactions, newRPCTransaction(tx, block.Hash(), block.NumberU64(), block.Time(), offset+uint64(i), block.BaseFee(), config))
		} else {
			transactions = append(transactions, tx.Hash())
		}
	}
	fields["transactions"] = transactions
	fields["uncles"] = []common.Hash{}
	if block.Withdrawals() != nil {
		fields["withdrawals"] = block.Withdrawals()
	}
	return fields
}

// marshalPendingBlock renders the block being built: geth's pending shape,
// with hash, nonce and miner null, its preconfirmed deposits first.
func marshalPendingBlock(h *types.Header, txs types.Transactions, receipts []*types.Receipt, deposits []*chain.Deposit, depositReceipts []*chain.DepositReceipt, fullTx bool, config *params.ChainConfig) map[string]interface{} {
	block := types.NewBlockWithHeader(h).WithBody(types.Body{Transactions: txs, Withdrawals: []*types.Withdrawal{}})
	fields := marshalBlock(block, false, config)
	transactions := make([]interface{}, 0, len(deposits)+len(txs))
	for i, d := range deposits {
		if fullTx {
			transactions = append(transactions, chain.NewDepositTxJSON(d, depositReceipts[i], chain.PreconfBlockHash, h.Number.Uint64(), h.Time, uint64(i)))
		} else {
			transactions = append(transactions, d.Hash())
		}
	}
	offset := uint64(len(deposits))
	for i, tx := range txs {
		if fullTx {
			transactions = append(transactions, newRPCTransaction(tx, chain.PreconfBlockHash, h.Number.Uint64(), h.Time, offset+uint64(i), h.BaseFee, config))
		} else {
			transactions = append(transactions, tx.Hash())
		}
	}
	fields["transactions"] = transactions
	all := make([]*types.Receipt, 0, len(depositReceipts)+len(receipts))
	for _, r := range depositReceipts {
		all = append(all, r.Receipt)
	}
	fields["logsBloom"] = types.MergeBloom(append(all, receipts...))
	for _, f := range []string{"hash", "nonce", "miner"} {
		fields[f] = nil
	}
	return fields
}

// RPCTransaction is geth's transaction JSON.
type RPCTransaction struct {
	BlockHash           *common.Hash                 `json:"blockHash"`
	BlockNumber         *hexutil.Big                 `json:"blockNumber"`
	BlockTimestamp      *hexutil.Uint64              `json:"blockTimestamp"`
	From                common.Address               `json:"from"`
	Gas                 hexutil.Uint64               `json:"gas"`
	GasPrice            *hexutil.Big                 `json:"gasPrice"`
	GasFeeCap           *hexutil.Big                 `json:"maxFeePerGas,omitempty"`
	GasTipCap           *hexutil.Big                 `json:"maxPriorityFeePerGas,omitempty"`
	MaxFeePerBlobGas    *hexutil.Big                 `json:"maxFeePerBlobGas,omitempty"`
	Hash                common.Hash                  `json:"hash"`
	Input               hexutil.Bytes                `json:"input"`
	Nonce               hexutil.Uint64               `json:"nonce"`
	To                  *common.Address              `json:"to"`
	TransactionIndex    *hexutil.Uint64              `json:"transactionIndex"`
	Value               *hexutil.Big                 `json:"value"`
	Type                hexutil.Uint64               `json:"type"`
	Accesses            *types.AccessList            `json:"accessList,omitempty"`
	ChainID             *hexutil.Big                 `json:"chainId,omitempty"`
	BlobVersionedHashes []common.Hash                `json:"blobVersionedHashes,omitempty"`
	AuthorizationList   []types.SetCodeAuthorization `json:"authorizationList,omitempty"`
	V                   *hexutil.Big                 `json:"v"`
	R                   *hexutil.Big                 `json:"r"`
	S                   *hexutil.Big                 `json:"s"`
	YParity             *hexutil.Uint64              `json:"yParity,omitempty"`
}

// newRPCTransaction mirrors geth: location fields only when blockHash is set,
// gasPrice the effective price once in a block.
func newRPCTransaction(tx *types.Transaction, blockHash common.Hash, blockNumber, blockTime, index uint64, baseFee *big.Int, config *params.ChainConfig) *RPCTransaction {
	signer := chain.NewLatestSigner(config, false)
	from, _ := chain.SenderOf(signer, tx)
	v, r, s := tx.RawSignatureValues()
	result := &RPCTransaction{
		Type:     hexutil.Uint64(tx.Type()),
		From:     from,
		Gas:      hexutil.Uint64(tx.Gas()),
		GasPrice: (*hexutil.Big)(tx.GasPrice()),
		Hash:     tx.Hash(),
		Input:    hexutil.Bytes(tx.Data()),
		Nonce:    hexutil.Uint64(tx.Nonce()),
		To:       tx.To(),
		Value:    (*hexutil.Big)(tx.Value()),
		V:        (*hexutil.Big)(v),
		R:        (*hexutil.Big)(r),
		S:        (*hexutil.Big)(s),
	}
	if blockHash != (common.Hash{}) {
		result.BlockHash = &blockHash
		result.BlockNumber = (*hexutil.Big)(new(big.Int).SetUint64(blockNumber))
		result.BlockTimestamp = (*hexutil.Uint64)(&blockTime)
		result.TransactionIndex = (*hexutil.Uint64)(&index)
	}
	if tx.Type() == types.LegacyTxType {
		if id := tx.ChainId(); id.Sign() != 0 {
			result.ChainID = (*hexutil.Big)(id)
		}
		return result
	}
	al := tx.AccessList()
	yparity := hexutil.Uint64(v.Sign())
	result.Accesses = &al
	result.ChainID = (*hexutil.Big)(tx.ChainId())
	result.YParity = &yparity
	if tx.Type() == types.AccessListTxType {
		return result
	}
	result.GasFeeCap = (*hexutil.Big)(tx.GasFeeCap())
	result.GasTipCap = (*hexutil.Big)(tx.GasTipCap())
	if baseFee != nil && blockHash != (common.Hash{}) {
		result.GasPrice = (*hexutil.Big)(chain.EffectiveGasPrice(tx, baseFee))
	} else {
		result.GasPrice = (*hexutil.Big)(tx.GasFeeCap())
	}
	switch tx.Type() {
	case types.BlobTxType:
		result.MaxFeePerBlobGas = (*hexutil.Big)(tx.BlobGasFeeCap())
		result.BlobVersionedHashes = tx.BlobHashes()
	case types.SetCodeTxType:
		result.AuthorizationList = tx.SetCodeAuthorizations()
	}
	return result
}

// marshalReceipt is geth's MarshalReceipt.
func marshalReceipt(receipt *types.Receipt, blockHash common.Hash, blockNumber uint64, signer types.Signer, tx *types.Transaction, txIndex int) map[string]interface{} {
	from, _ := chain.SenderOf(signer, tx)
	fields := map[string]interface{}{
		"blockHash":         blockHash,
		"blockNumber":       hexutil.Uint64(blockNumber),
		"transactionHash":   tx.Hash(),
		"transactionIndex":  hexutil.Uint64(txIndex),
		"from":              from,
		"to":                tx.To(),
		"gasUsed":           hexutil.Uint64(receipt.GasUsed),
		"cumulativeGasUsed": hexutil.Uint64(receipt.CumulativeGasUsed),
		"contractAddress":   nil,
		"logs":              receipt.Logs,
		"logsBloom":         receipt.Bloom,
		"type":              hexutil.Uint(tx.Type()),
		"effectiveGasPrice": (*hexutil.Big)(receipt.EffectiveGasPrice),
	}
	if len(receipt.PostState) > 0 {
		fields["root"] = hexutil.Bytes(receipt.PostState)
	} else {
		fields["status"] = hexutil.Uint(receipt.Status)
	}
	if receipt.Logs == nil {
		fields["logs"] = []*types.Log{}
	}
	if tx.Type() == types.BlobTxType {
		fields["blobGasUsed"] = hexutil.Uint64(receipt.BlobGasUsed)
		fields["blobGasPrice"] = (*hexutil.Big)(receipt.BlobGasPrice)
	}
	if receipt.ContractAddress != (common.Address{}) {
		fields["contractAddress"] = receipt.ContractAddress
	}
	return fields
}
