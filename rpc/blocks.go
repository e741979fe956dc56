package rpc

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/consensus/misc/eip4844"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
)

// maxStorageSlots bounds eth_getStorageValues and eth_getProof, as geth.
const maxStorageSlots = 1024

// errCodeClientLimit is geth's code for a request over a server limit.
const errCodeClientLimit = -38026

// sealedBlock is the sealed block num names, or nil.
func (api *EthAPI) sealedBlock(num gethrpc.BlockNumber) *types.Block {
	h, err := api.resolveHeader(gethrpc.BlockNumberOrHashWithNumber(num))
	if err != nil || h == nil {
		return nil
	}
	return api.b.Chain.BlockByHash(h.Hash())
}

// GetBlockTransactionCountByHash returns the tx count of a sealed block.
func (api *EthAPI) GetBlockTransactionCountByHash(hash common.Hash) *hexutil.Uint {
	block := api.b.Chain.BlockByHash(hash)
	if block == nil {
		return nil
	}
	ds, _ := api.b.deposits(block.Hash(), block.NumberU64())
	n := hexutil.Uint(len(ds) + len(block.Transactions()))
	return &n
}

// GetTransactionByBlockNumberAndIndex returns the index-th tx of a block;
// "pending" reads the block being built.
func (api *EthAPI) GetTransactionByBlockNumberAndIndex(arg blockNumberArg, index hexutil.Uint) any {
	num := gethrpc.BlockNumber(arg)
	if api.isPending(num) {
		h, txs, _ := api.b.Latest.PendingBlock()
		ds, rs := api.b.pendingDeposits()
		if int(index) < len(ds) {
			return chain.NewDepositTxJSON(ds[index], rs[index], chain.PreconfBlockHash, h.Number.Uint64(), h.Time, uint64(index))
		}
		i := int(index) - len(ds)
		if i >= len(txs) {
			return nil
		}
		return newRPCTransaction(txs[i], chain.PreconfBlockHash, h.Number.Uint64(), h.Time, uint64(index), h.BaseFee, api.config)
	}
	return api.txAt(api.sealedBlock(num), uint64(index))
}

// GetTransactionByBlockHashAndIndex returns the index-th tx of a sealed block.
func (api *EthAPI) GetTransactionByBlockHashAndIndex(hash common.Hash, index hexutil.Uint) any {
	return api.txAt(api.b.Chain.BlockByHash(hash), uint64(index))
}

// txAt is the index-th transaction of a sealed block, its deposits first:
// an *RPCTransaction, a *chain.DepositTxJSON, or nil (JSON null).
func (api *EthAPI) txAt(block *types.Block, index uint64) any {
	if block == nil {
		return nil
	}
	ds, rs := api.b.deposits(block.Hash(), block.NumberU64())
	if index < uint64(len(ds)) {
		return depositTx(ds, rs, block, int(index))
	}
	i := index - uint64(len(ds))
	if i >= uint64(len(block.Transactions())) {
		return nil
	}
	return newRPCTransaction(block.Transactions()[i], block.Hash(), block.NumberU64(), block.Time(), index, block.BaseFee(), api.config)
}

// GetRawTransactionByBlockNumberAndIndex returns the index-th tx of a block
// in its binary encoding.
func (api *EthAPI) GetRawTransactionByBlockNumberAndIndex(num gethrpc.BlockNumber, index hexutil.Uint) hexutil.Bytes {
	if api.isPending(num) {
		_, txs, _ := api.b.Latest.PendingBlock()
		if int(index) >= len(txs) {
			return nil
		}
		b, _ := txs[index].MarshalBinary()
		return b
	}
	return rawTxAt(api.sealedBlock(num), uint64(index))
}

// GetRawTransactionByBlockHashAndIndex is the same by block hash.
func (api *EthAPI) GetRawTransactionByBlockHashAndIndex(hash common.Hash, index hexutil.Uint) hexutil.Bytes {
	return rawTxAt(api.b.Chain.BlockByHash(hash), uint64(index))
}

func rawTxAt(block *types.Block, index uint64) hexutil.Bytes {
	if block == nil || index >= uint64(len(block.Transactions())) {
		return nil
	}
	b, _ := block.Transactions()[index].MarshalBinary()
	return b
}

// GetRawTransactionByHash returns a sealed, preconfirmed or pooled tx in its
// binary encoding.
func (api *EthAPI) GetRawTransactionByHash(hash common.Hash) (hexutil.Bytes, error) {
	tx, _, _, _ := api.b.Chain.Transaction(hash)
	if tx == nil {
		if ptx, _, _, _, ok := api.b.Latest.PendingTx(hash); ok {
			tx = ptx
		} else if tx = api.b.Latest.PooledTx(hash); tx == nil {
			return nil, nil
		}
	}
	return tx.MarshalBinary()
}

// GetUncleCountByBlockNumber is 0 for every block: there are no uncles.
func (api *EthAPI) GetUncleCountByBlockNumber(arg blockNumberArg) *hexutil.Uint {
	num := gethrpc.BlockNumber(arg)
	if api.isPending(num) || api.sealedBlock(num) != nil {
		n := hexutil.Uint(0)
		return &n
	}
	return nil
}

// GetUncleCountByBlockHash is 0 for every sealed block.
func (api *EthAPI) GetUncleCountByBlockHash(hash common.Hash) *hexutil.Uint {
	if api.b.Chain.GetHeaderByHash(hash) == nil {
		return nil
	}
	n := hexutil.Uint(0)
	return &n
}

// GetUncleByBlockNumberAndIndex is always null.
func (api *EthAPI) GetUncleByBlockNumberAndIndex(blockNumberArg, hexutil.Uint) map[string]interface{} {
	return nil
}

// GetUncleByBlockHashAndIndex is always null.
func (api *EthAPI) GetUncleByBlockHashAndIndex(common.Hash, hexutil.Uint) map[string]interface{} {
	return nil
}

// GetHeaderByNumber returns a header; "pending" the block being built.
func (api *EthAPI) GetHeaderByNumber(num gethrpc.BlockNumber) map[string]interface{} {
	if api.isPending(num) {
		h, _, receipts := api.b.Latest.PendingBlock()
		fields := marshalHeader(h)
		fields["logsBloom"] = types.MergeBloom(receipts)
		for _, f := range []string{"hash", "nonce", "miner"} {
			fields[f] = nil
		}
		return fields
	}
	h, err := api.resolveHeader(gethrpc.BlockNumberOrHashWithNumber(num))
	if err != nil || h == nil {
		return nil
	}
	return marshalHeader(h)
}

// GetHeaderByHash returns a sealed header.
func (api *EthAPI) GetHeaderByHash(hash common.Hash) map[string]interface{} {
	h := api.b.Chain.GetHeaderByHash(hash)
	if h == nil {
		return nil
	}
	return marshalHeader(h)
}

// BaseFee is the base fee of the next sealed block.
func (api *EthAPI) BaseFee() *hexutil.Big {
	head := api.b.Chain.CurrentHeader()
	if !api.config.IsLondon(new(big.Int).Add(head.Number, common.Big1)) {
		return nil
	}
	return (*hexutil.Big)(api.nextBaseFee(head))
}

// BlobBaseFee is the blob base fee of the next sealed block.
func (api *EthAPI) BlobBaseFee() *hexutil.Big {
	head := api.b.Chain.CurrentHeader()
	if head.ExcessBlobGas == nil {
		return nil
	}
	return (*hexutil.Big)(eip4844.CalcBlobFee(api.config, head))
}

// GetStorageValues reads many slots of many accounts at once.
func (api *EthAPI) GetStorageValues(requests map[common.Address][]common.Hash, bnh *gethrpc.BlockNumberOrHash) (map[common.Address][]hexutil.Bytes, error) {
	total := 0
	for _, keys := range requests {
		total += len(keys)
		if total > maxStorageSlots {
			return nil, &rpcError{code: errCodeClientLimit, msg: fmt.Sprintf("too many slots (max %d)", maxStorageSlots)}
		}
	}
	if total == 0 {
		return nil, &invalidParamsError{"empty request"}
	}
	st, _, err := api.stateAt(bnh)
	if err != nil {
		return nil, err
	}
	out := make(map[common.Address][]hexutil.Bytes, len(requests))
	for addr, keys := range requests {
		vals := make([]hexutil.Bytes, len(keys))
		for i, k := range keys {
			v := st.GetState(addr, k)
			vals[i] = v[:]
		}
		out[addr] = vals
	}
	return out, st.Error()
}

// Config implements EIP-7910: the fork in force at the head, the next
// scheduled one and the last one.
func (api *EthAPI) Config() (*chain.ForkConfigs, error) {
	genesis := api.b.Chain.GetHeaderByNumber(api.b.firstBlock())
	if genesis == nil {
		return nil, fmt.Errorf("unable to load genesis")
	}
	return chain.DescribeForks(api.config, genesis, api.b.Chain.CurrentHeader().Time), nil
}

// capabilityResource is one resource of eth_capabilities (execution-apis
// #755, geth's shape).
type capabilityResource struct {
	Disabled    bool            `json:"disabled"`
	OldestBlock *hexutil.Uint64 `json:"oldestBlock,omitempty"`
}

// capabilities is eth_capabilities' answer.
type capabilities struct {
	Head struct {
		Number hexutil.Uint64 `json:"number"`
		Hash   common.Hash    `json:"hash"`
	} `json:"head"`
	State       capabilityResource `json:"state"`
	Tx          capabilityResource `json:"tx"`
	Logs        capabilityResource `json:"logs"`
	Receipts    capabilityResource `json:"receipts"`
	Blocks      capabilityResource `json:"blocks"`
	StateProofs capabilityResource `json:"stateproofs"`
}

// Capabilities reports which history the node serves: every node keeps
// every block, receipt, tx lookup and (hash scheme, committed each block)
// every state, so each resource starts at genesis with no deletion window,
// as geth reports an archive node of the hash scheme.
func (api *EthAPI) Capabilities() *capabilities {
	head := api.b.Chain.CurrentHeader()
	c := &capabilities{}
	c.Head.Number, c.Head.Hash = hexutil.Uint64(head.Number.Uint64()), head.Hash()
	genesis := hexutil.Uint64(0)
	all := capabilityResource{OldestBlock: &genesis}
	c.State, c.Tx, c.Logs, c.Receipts, c.Blocks, c.StateProofs = all, all, all, all, all, all
	return c
}
