package rpc

import (
	"encoding/hex"
	"encoding/json"
	"math/big"
	"strconv"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/meganode/meganode/chain"
)

// appendMiniBlock appends the miniBlocks notification payload of mb: the
// bytes json.Marshal(api.marshalMiniBlock(mb)) gives (TestMiniBlockJSON
// holds them equal), written directly. Every mini-block under load is
// encoded once for its subscribers, and reflection over the receipt maps
// cost a sixth of the sequencer's CPU with one subscriber.
func (api *EthAPI) appendMiniBlock(b []byte, mb *chain.MiniBlock) []byte {
	b = append(b, `{"block_number":`...)
	b = appendUint(b, mb.BlockNumber)
	b = append(b, `,"block_timestamp":`...)
	b = appendUint(b, mb.BlockTimestamp)
	b = append(b, `,"index":`...)
	b = appendUint(b, mb.Index)
	b = append(b, `,"mini_block_number":`...)
	b = appendUint(b, mb.Number)
	b = append(b, `,"mini_block_timestamp":`...)
	b = appendUint(b, mb.TimestampMicros)
	b = append(b, `,"gas_used":`...)
	b = appendUint(b, mb.GasUsed)
	b = append(b, `,"transactions":[`...)
	for i, tx := range mb.Txs {
		if i > 0 {
			b = append(b, ',')
		}
		r := mb.Receipts[i]
		b = appendTransaction(b, newRPCTransaction(tx, r.BlockHash, mb.BlockNumber, mb.BlockTimestamp, uint64(r.TransactionIndex), nil, api.config))
	}
	b = append(b, `],"receipts":[`...)
	for i, tx := range mb.Txs {
		if i > 0 {
			b = append(b, ',')
		}
		b = api.appendReceipt(b, mb.Receipts[i], mb.BlockNumber, tx)
	}
	return append(b, "]}"...)
}

// appendTransaction appends t as encoding/json does: fields in struct order,
// the omitempty ones left out when empty.
func appendTransaction(b []byte, t *RPCTransaction) []byte {
	b = append(b, `{"blockHash":`...)
	if t.BlockHash == nil {
		b = append(b, "null"...)
	} else {
		b = appendHex(b, t.BlockHash[:])
	}
	b = append(b, `,"blockNumber":`...)
	b = appendBig(b, (*big.Int)(t.BlockNumber))
	b = append(b, `,"blockTimestamp":`...)
	b = appendUintPtr(b, t.BlockTimestamp)
	b = append(b, `,"from":`...)
	b = appendHex(b, t.From[:])
	b = append(b, `,"gas":`...)
	b = appendUint(b, uint64(t.Gas))
	b = append(b, `,"gasPrice":`...)
	b = appendBig(b, (*big.Int)(t.GasPrice))
	if t.GasFeeCap != nil {
		b = append(b, `,"maxFeePerGas":`...)
		b = appendBig(b, (*big.Int)(t.GasFeeCap))
	}
	if t.GasTipCap != nil {
		b = append(b, `,"maxPriorityFeePerGas":`...)
		b = appendBig(b, (*big.Int)(t.GasTipCap))
	}
	if t.MaxFeePerBlobGas != nil {
		b = append(b, `,"maxFeePerBlobGas":`...)
		b = appendBig(b, (*big.Int)(t.MaxFeePerBlobGas))
	}
	b = append(b, `,"hash":`...)
	b = appendHex(b, t.Hash[:])
	b = append(b, `,"input":`...)
	b = appendHex(b, t.Input)
	b = append(b, `,"nonce":`...)
	b = appendUint(b, uint64(t.Nonce))
	b = append(b, `,"to":`...)
	b = appendAddressPtr(b, t.To)
	b = append(b, `,"transactionIndex":`...)
	b = appendUintPtr(b, t.TransactionIndex)
	b = append(b, `,"value":`...)
	b = appendBig(b, (*big.Int)(t.Value))
	b = append(b, `,"type":`...)
	b = appendUint(b, uint64(t.Type))
	// The rare list fields go through encoding/json.
	if t.Accesses != nil {
		b = appendJSON(append(b, `,"accessList":`...), t.Accesses)
	}
	if t.ChainID != nil {
		b = append(b, `,"chainId":`...)
		b = appendBig(b, (*big.Int)(t.ChainID))
	}
	if len(t.BlobVersionedHashes) > 0 {
		b = appendJSON(append(b, `,"blobVersionedHashes":`...), t.BlobVersionedHashes)
	}
	if len(t.AuthorizationList) > 0 {
		b = appendJSON(append(b, `,"authorizationList":`...), t.AuthorizationList)
	}
	b = append(b, `,"v":`...)
	b = appendBig(b, (*big.Int)(t.V))
	b = append(b, `,"r":`...)
	b = appendBig(b, (*big.Int)(t.R))
	b = append(b, `,"s":`...)
	b = appendBig(b, (*big.Int)(t.S))
	if t.YParity != nil {
		b = append(b, `,"yParity":`...)
		b = appendUint(b, uint64(*t.YParity))
	}
	return append(b, '}')
}

// appendReceipt appends marshalReceipt's map as encoding/json does: keys
// sorted.
func (api *EthAPI) appendReceipt(b []byte, r *types.Receipt, blockNumber uint64, tx *types.Transaction) []byte {
	from, _ := chain.SenderOf(api.signer, tx)
	b = append(b, '{')
	if tx.Type() == types.BlobTxType {
		b = append(b, `"blobGasPrice":`...)
		b = appendBig(b, r.BlobGasPrice)
		b = append(b, `,"blobGasUsed":`...)
		b = appendUint(b, r.BlobGasUsed)
		b = append(b, ',')
	}
	b = append(b, `"blockHash":`...)
	b = appendHex(b, r.BlockHash[:])
	b = append(b, `,"blockNumber":`...)
	b = appendUint(b, blockNumber)
	b = append(b, `,"contractAddress":`...)
	if r.ContractAddress == (common.Address{}) {
		b = append(b, "null"...)
	} else {
		b = appendHex(b, r.ContractAddress[:])
	}
	b = append(b, `,"cumulativeGasUsed":`...)
	b = appendUint(b, r.CumulativeGasUsed)
	b = append(b, `,"effectiveGasPrice":`...)
	b = appendBig(b, r.EffectiveGasPrice)
	b = append(b, `,"from":`...)
	b = appendHex(b, from[:])
	b = append(b, `,"gasUsed":`...)
	b = appendUint(b, r.GasUsed)
	b = append(b, `,"logs":[`...)
	for i, l := range r.Logs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendLog(b, l)
	}
	b = append(b, `],"logsBloom":`...)
	b = appendHex(b, r.Bloom[:])
	if len(r.PostState) > 0 {
		b = append(b, `,"root":`...)
		b = appendHex(b, r.PostState)
	} else {
		b = append(b, `,"status":`...)
		b = appendUint(b, r.Status)
	}
	b = append(b, `,"to":`...)
	b = appendAddressPtr(b, tx.To())
	b = append(b, `,"transactionHash":`...)
	h := tx.Hash()
	b = appendHex(b, h[:])
	b = append(b, `,"transactionIndex":`...)
	b = appendUint(b, uint64(r.TransactionIndex))
	b = append(b, `,"type":`...)
	b = appendUint(b, uint64(tx.Type()))
	return append(b, '}')
}

// appendLog appends l as go-ethereum's generated Log.MarshalJSON does.
func appendLog(b []byte, l *types.Log) []byte {
	b = append(b, `{"address":`...)
	b = appendHex(b, l.Address[:])
	b = append(b, `,"topics":`...)
	if l.Topics == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, t := range l.Topics {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendHex(b, t[:])
		}
		b = append(b, ']')
	}
	b = append(b, `,"data":`...)
	b = appendHex(b, l.Data)
	b = append(b, `,"blockNumber":`...)
	b = appendUint(b, l.BlockNumber)
	b = append(b, `,"transactionHash":`...)
	b = appendHex(b, l.TxHash[:])
	b = append(b, `,"transactionIndex":`...)
	b = appendUint(b, uint64(l.TxIndex))
	b = append(b, `,"blockHash":`...)
	b = appendHex(b, l.BlockHash[:])
	b = append(b, `,"blockTimestamp":`...)
	b = appendUint(b, l.BlockTimestamp)
	b = append(b, `,"logIndex":`...)
	b = appendUint(b, uint64(l.Index))
	b = append(b, `,"removed":`...)
	b = strconv.AppendBool(b, l.Removed)
	return append(b, '}')
}

// appendUint appends v as a quoted hexutil quantity.
func appendUint(b []byte, v uint64) []byte {
	b = append(b, `"0x`...)
	b = strconv.AppendUint(b, v, 16)
	return append(b, '"')
}

func appendUintPtr(b []byte, v *hexutil.Uint64) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	return appendUint(b, uint64(*v))
}

// appendBig appends v as a quoted hexutil.Big, null when nil.
func appendBig(b []byte, v *big.Int) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = append(b, hexutil.EncodeBig(v)...)
	return append(b, '"')
}

// appendHex appends data as quoted 0x-prefixed lower-case hex.
func appendHex(b []byte, data []byte) []byte {
	b = append(b, `"0x`...)
	b = hex.AppendEncode(b, data)
	return append(b, '"')
}

func appendAddressPtr(b []byte, a *common.Address) []byte {
	if a == nil {
		return append(b, "null"...)
	}
	return appendHex(b, a[:])
}

func appendJSON(b []byte, v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, data...)
}
