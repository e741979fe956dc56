package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/eth/tracers"
	"github.com/ethereum/go-ethereum/rlp"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/rpc/limits"
)

// DebugAPI is the debug namespace: go-ethereum's tracers over the sealed
// chain, and the raw encodings. Tracing replays sealed blocks from the
// archive state; "latest" and "pending" name the last sealed block.
type DebugAPI struct {
	b       Backend
	tracers *tracers.API
	limits  *limits.Limiter // heavy.go
}

func newDebugAPI(b Backend, l *limits.Limiter) *DebugAPI {
	return &DebugAPI{b: b, limits: l, tracers: chain.NewTracerAPI(b.Chain, l.Config().GasCap, b.tagNumber)}
}

// traceTransaction re-executes a sealed tx under a tracer.
func (api *DebugAPI) traceTransaction(ctx context.Context, hash common.Hash, config *tracers.TraceConfig) (interface{}, error) {
	if tx, _, _, _ := api.b.Chain.Transaction(hash); tx != nil {
		return api.tracers.TraceTransaction(ctx, hash, config)
	}
	if _, _, _, _, ok := api.b.Latest.PendingTx(hash); ok {
		return nil, errors.New("transaction is preconfirmed but its block is not sealed yet; trace it once the block is sealed (within a second)")
	}
	return api.tracers.TraceTransaction(ctx, hash, config)
}

// traceBlockByNumber traces every tx of a sealed block.
func (api *DebugAPI) traceBlockByNumber(ctx context.Context, number gethrpc.BlockNumber, config *tracers.TraceConfig) (interface{}, error) {
	if out, ok, err := api.traceDevBlock(ctx, chain.BlockByTag(api.b.Chain, number), config); ok {
		return out, err
	}
	return api.tracers.TraceBlockByNumber(ctx, number, config)
}

// traceBlockByHash traces every tx of a sealed block.
func (api *DebugAPI) traceBlockByHash(ctx context.Context, hash common.Hash, config *tracers.TraceConfig) (interface{}, error) {
	if out, ok, err := api.traceDevBlock(ctx, api.b.Chain.BlockByHash(hash), config); ok {
		return out, err
	}
	return api.tracers.TraceBlockByHash(ctx, hash, config)
}

// txTraceResult is one tx of a block trace, in go-ethereum's shape.
type txTraceResult struct {
	TxHash common.Hash `json:"txHash"`
	Result interface{} `json:"result,omitempty"`
	Error  string      `json:"error,omitempty"`
}

// traceDevBlock traces a dev chain's block with edits or impersonated txs
// tx by tx (each replay applies the block's edits and reads impersonated
// senders); ok is false for any other block, which go-ethereum traces.
func (api *DebugAPI) traceDevBlock(ctx context.Context, block *types.Block, config *tracers.TraceConfig) (interface{}, bool, error) {
	if block == nil {
		return nil, false, nil
	}
	dev, err := chain.HasDevEntries(api.b.Chain, block)
	if err != nil || !dev {
		return nil, err != nil, err
	}
	out := make([]*txTraceResult, 0, len(block.Transactions()))
	for _, tx := range block.Transactions() {
		res, err := api.tracers.TraceTransaction(ctx, tx.Hash(), config)
		r := &txTraceResult{TxHash: tx.Hash(), Result: res}
		if err != nil {
			r.Result, r.Error = nil, err.Error()
		}
		out = append(out, r)
	}
	return out, true, nil
}

// traceBlock traces every tx of an RLP-encoded block on top of its parent.
func (api *DebugAPI) traceBlock(ctx context.Context, blob hexutil.Bytes, config *tracers.TraceConfig) (interface{}, error) {
	return api.tracers.TraceBlock(ctx, blob, config)
}

// intermediateRoots returns the state root after each tx of a block.
func (api *DebugAPI) intermediateRoots(ctx context.Context, hash common.Hash, config *tracers.TraceConfig) ([]common.Hash, error) {
	return api.tracers.IntermediateRoots(ctx, hash, config)
}

// traceCall is go-ethereum's TraceCall, whose argument type lives in an
// internal package: it is called by reflection with chain.TraceCallArgs so
// the arguments mean exactly what they mean to geth.
var traceCall = reflect.ValueOf((*tracers.API).TraceCall)

// traceCall traces a call on top of a block, with state and block overrides.
func (api *DebugAPI) traceCall(ctx context.Context, args json.RawMessage, bnh *gethrpc.BlockNumberOrHash, config *tracers.TraceCallConfig) (interface{}, error) {
	v := reflect.New(chain.TraceCallArgs)
	if err := json.Unmarshal(args, v.Interface()); err != nil {
		return nil, &invalidParamsError{fmt.Sprintf("invalid argument 0: %v", err)}
	}
	out := traceCall.Call([]reflect.Value{reflect.ValueOf(api.tracers), reflect.ValueOf(ctx), v.Elem(),
		reflect.ValueOf(bnh), reflect.ValueOf(config)})
	err, _ := out[1].Interface().(error)
	return out[0].Interface(), err
}

// blockHash resolves a block parameter to a sealed block's hash.
func (api *DebugAPI) blockHash(bnh gethrpc.BlockNumberOrHash) (common.Hash, bool) {
	if h, ok := bnh.Hash(); ok {
		return h, true
	}
	num, _ := bnh.Number()
	if n, ok := api.b.tagNumber(num); ok {
		num = gethrpc.BlockNumber(n)
	}
	b := chain.BlockByTag(api.b.Chain, num)
	if b == nil {
		return common.Hash{}, false
	}
	return b.Hash(), true
}

// GetRawHeader returns the RLP of a sealed header.
func (api *DebugAPI) GetRawHeader(bnh gethrpc.BlockNumberOrHash) (hexutil.Bytes, error) {
	hash, ok := api.blockHash(bnh)
	if !ok {
		return nil, nil
	}
	h := api.b.Chain.GetHeaderByHash(hash)
	if h == nil {
		return nil, fmt.Errorf("header #%d not found", hash)
	}
	return rlp.EncodeToBytes(h)
}

// GetRawBlock returns the RLP of a sealed block.
func (api *DebugAPI) GetRawBlock(bnh gethrpc.BlockNumberOrHash) (hexutil.Bytes, error) {
	hash, ok := api.blockHash(bnh)
	if !ok {
		return nil, nil
	}
	b := api.b.Chain.BlockByHash(hash)
	if b == nil {
		return nil, fmt.Errorf("block #%d not found", hash)
	}
	return rlp.EncodeToBytes(b)
}

// GetRawReceipts returns the consensus encoding of a sealed block's receipts.
func (api *DebugAPI) GetRawReceipts(bnh gethrpc.BlockNumberOrHash) ([]hexutil.Bytes, error) {
	hash, ok := api.blockHash(bnh)
	if !ok {
		return nil, nil
	}
	h := api.b.Chain.GetHeaderByHash(hash)
	if h == nil {
		return nil, errors.New("block receipts not found")
	}
	receipts := api.b.Chain.Receipts(hash, h.Number.Uint64())
	out := make([]hexutil.Bytes, len(receipts))
	for i, r := range receipts {
		b, err := r.MarshalBinary()
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// GetRawTransaction returns a sealed, preconfirmed or pooled tx's encoding.
func (api *DebugAPI) GetRawTransaction(hash common.Hash) (hexutil.Bytes, error) {
	return (&EthAPI{b: api.b}).GetRawTransactionByHash(hash)
}

// ExecutionWitness returns the witness the sequencer recorded when it built a
// sealed block: every trie node, code and header stateless execution reads.
func (api *DebugAPI) ExecutionWitness(bnh gethrpc.BlockNumberOrHash) (*chain.ExtWitness, error) {
	hash, ok := api.blockHash(bnh)
	h := api.b.Chain.GetHeaderByHash(hash)
	if !ok || h == nil {
		return &chain.ExtWitness{}, fmt.Errorf("block %v not found", bnh.String())
	}
	bundle, err := api.b.Chain.Bundle(h.Number.Uint64())
	if err != nil {
		return nil, err
	}
	if bundle == nil || len(bundle.Witness) == 0 {
		return &chain.ExtWitness{}, fmt.Errorf("block %v has no witness (the genesis block has none; a devnet running the sequencer alone records none: add --roles fullnode or prover)", bnh.String())
	}
	return chain.DecodeExtWitness(h.Number.Uint64(), bundle.Witness)
}
