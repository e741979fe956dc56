package chain

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus"
	"github.com/ethereum/go-ethereum/consensus/beacon"
	"github.com/ethereum/go-ethereum/consensus/ethash"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/eth/tracers"
	"github.com/ethereum/go-ethereum/ethdb"
	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	// The tracers debug_trace* can name: callTracer, prestateTracer,
	// 4byteTracer, ... and JavaScript tracers.
	_ "github.com/ethereum/go-ethereum/eth/tracers/js"
	_ "github.com/ethereum/go-ethereum/eth/tracers/native"
)

// TraceSource is what tracing reads of the sealed chain.
type TraceSource interface {
	HeaderReader
	ChainConfig() *params.ChainConfig
	GetHeaderByHash(hash common.Hash) *types.Header
	BlockByHash(hash common.Hash) *types.Block
	Transaction(hash common.Hash) (*types.Transaction, common.Hash, uint64, uint64)
	StateDatabase() state.Database
}

// NewTracerAPI returns go-ethereum's tracer API (debug_trace*) over the
// sealed chain of src, replayed from its archive state. "latest" and
// "pending" name the last sealed block; tags, when not nil, resolves "safe"
// and "finalized" (without it they name the last sealed block too).
func NewTracerAPI(src TraceSource, gasCap uint64, tags func(gethrpc.BlockNumber) (uint64, bool)) *tracers.API {
	return tracers.NewAPI(&traceBackend{src: src, gasCap: gasCap, tags: tags, engine: beacon.New(ethash.NewFaker()), db: rawdb.NewMemoryDatabase()})
}

// TraceCallArgs is the type of go-ethereum's debug_traceCall arguments, which
// lives in an internal package; callers decode into a reflect.New of it.
var TraceCallArgs = reflect.ValueOf((*tracers.API).TraceCall).Type().In(2)

// BlockByTag resolves a block number or tag to a sealed block, or nil.
func BlockByTag(src TraceSource, num gethrpc.BlockNumber) *types.Block {
	h := (&traceBackend{src: src}).header(num)
	if h == nil {
		return nil
	}
	return src.BlockByHash(h.Hash())
}

// traceBackend is what go-ethereum's tracer API reads of the chain.
type traceBackend struct {
	src    TraceSource
	gasCap uint64
	tags   func(gethrpc.BlockNumber) (uint64, bool)
	engine consensus.Engine
	db     ethdb.Database // holds no bad blocks: a sequencer never imports any
}

func (t *traceBackend) header(num gethrpc.BlockNumber) *types.Header {
	c := t.src
	if t.tags != nil {
		if n, ok := t.tags(num); ok {
			return c.GetHeaderByNumber(n)
		}
	}
	switch num {
	case gethrpc.LatestBlockNumber, gethrpc.PendingBlockNumber, gethrpc.SafeBlockNumber, gethrpc.FinalizedBlockNumber:
		return c.CurrentHeader()
	case gethrpc.EarliestBlockNumber:
		return c.GetHeaderByNumber(0)
	}
	if num < 0 {
		return nil
	}
	return c.GetHeaderByNumber(uint64(num))
}

func (t *traceBackend) HeaderByHash(_ context.Context, hash common.Hash) (*types.Header, error) {
	return t.src.GetHeaderByHash(hash), nil
}

func (t *traceBackend) HeaderByNumber(_ context.Context, num gethrpc.BlockNumber) (*types.Header, error) {
	return t.header(num), nil
}

func (t *traceBackend) CurrentHeader() *types.Header { return t.src.CurrentHeader() }

func (t *traceBackend) BlockByHash(_ context.Context, hash common.Hash) (*types.Block, error) {
	return t.src.BlockByHash(hash), nil
}

func (t *traceBackend) BlockByNumber(_ context.Context, num gethrpc.BlockNumber) (*types.Block, error) {
	return BlockByTag(t.src, num), nil
}

func (t *traceBackend) GetCanonicalTransaction(hash common.Hash) (bool, *types.Transaction, common.Hash, uint64, uint64) {
	tx, bh, bn, idx := t.src.Transaction(hash)
	return tx != nil, tx, bh, bn, idx
}

func (t *traceBackend) TxIndexDone() bool                { return true }
func (t *traceBackend) RPCGasCap() uint64                { return t.gasCap }
func (t *traceBackend) ChainConfig() *params.ChainConfig { return t.src.ChainConfig() }
func (t *traceBackend) Engine() consensus.Engine         { return t.engine }
func (t *traceBackend) ChainDb() ethdb.Database          { return t.db }
func (t *traceBackend) stateOf(b *types.Block) (*state.StateDB, error) {
	st, err := state.New(b.Root(), t.src.StateDatabase())
	if err != nil {
		return nil, fmt.Errorf("state of block %d not available: %w", b.NumberU64(), err)
	}
	return st, nil
}

func (t *traceBackend) StateAtBlock(_ context.Context, block *types.Block, _ *state.StateDB, _ bool, _ bool) (*state.StateDB, tracers.StateReleaseFunc, error) {
	st, err := t.stateOf(block)
	return st, func() {}, err
}

// StateAtTransaction replays block up to (not including) tx txIndex on its
// parent's state, after the pre-execution system calls.
func (t *traceBackend) StateAtTransaction(ctx context.Context, block *types.Block, txIndex int) (*types.Transaction, vm.BlockContext, *state.StateDB, tracers.StateReleaseFunc, error) {
	if block.NumberU64() == 0 {
		return nil, vm.BlockContext{}, nil, nil, errors.New("no transaction in genesis")
	}
	parent := t.src.BlockByHash(block.ParentHash())
	if parent == nil {
		return nil, vm.BlockContext{}, nil, nil, fmt.Errorf("parent %#x not found", block.ParentHash())
	}
	st, err := t.stateOf(parent)
	if err != nil {
		return nil, vm.BlockContext{}, nil, nil, err
	}
	config := t.ChainConfig()
	bctx := core.NewEVMBlockContext(block.Header(), &tracerChain{t}, nil)
	evm := vm.NewEVM(bctx, st, config, vm.Config{})
	defer evm.Release()
	core.PreExecution(ctx, block.BeaconRoot(), parent.Header(), config, evm, block.Number(), block.Time())
	edits, err := t.edits(block)
	if err != nil {
		return nil, vm.BlockContext{}, nil, nil, err
	}
	// A dev chain's edits go in before the tx they precede, as they did
	// when the block was built.
	editAt := func(i int) error {
		for _, be := range edits {
			if be.TxIndex != uint64(i) {
				continue
			}
			for _, e := range be.Edits {
				if err := applyEdit(st, e); err != nil {
					return fmt.Errorf("dev edit before tx %d: %w", i, err)
				}
			}
			st.Finalise(evm.GetRules())
		}
		return nil
	}
	if txIndex == 0 && len(block.Transactions()) == 0 {
		return nil, bctx, st, func() {}, editAt(0)
	}
	signer := displaySigner(config, block.Number(), block.Time())
	for i, tx := range block.Transactions() {
		if err := editAt(i); err != nil {
			return nil, vm.BlockContext{}, nil, nil, err
		}
		if i == txIndex {
			primeImpersonated(config, block, tx)
			return tx, bctx, st, func() {}, nil
		}
		msg, err := core.TransactionToMessage(tx, signer, block.BaseFee())
		if err != nil {
			return nil, vm.BlockContext{}, nil, nil, fmt.Errorf("transaction %#x: %w", tx.Hash(), err)
		}
		st.SetTxContext(tx.Hash(), i, uint32(i+1))
		if _, err := core.ApplyMessage(evm, msg, nil); err != nil {
			return nil, vm.BlockContext{}, nil, nil, fmt.Errorf("transaction %#x failed: %v", tx.Hash(), err)
		}
		st.Finalise(evm.GetRules())
	}
	return nil, vm.BlockContext{}, nil, nil, fmt.Errorf("transaction index %d out of range for block %#x", txIndex, block.Hash())
}

// editSource is a TraceSource that keeps a dev chain's edits.
type editSource interface {
	BlockEdits(hash common.Hash, number uint64) ([]BlockEdits, error)
}

func (t *traceBackend) edits(block *types.Block) ([]BlockEdits, error) {
	if es, ok := t.src.(editSource); ok {
		return es.BlockEdits(block.Hash(), block.NumberU64())
	}
	return nil, nil
}

// HasDevEntries reports whether a sealed block holds dev edits or
// impersonated txs: go-ethereum's block tracers replay neither, so such a
// block is traced one tx at a time (TraceTransaction replays both).
func HasDevEntries(src TraceSource, block *types.Block) (bool, error) {
	for _, tx := range block.Transactions() {
		if _, ok := ImpersonatedSender(tx); ok {
			return true, nil
		}
	}
	es, ok := src.(editSource)
	if !ok {
		return false, nil
	}
	edits, err := es.BlockEdits(block.Hash(), block.NumberU64())
	return len(edits) > 0, err
}

// primeImpersonated caches an impersonated tx's sender in tx for the
// plain signer of its block, which go-ethereum's tracer derives its message
// with. Only a dev chain seals such a tx (any other refuses it).
func primeImpersonated(config *params.ChainConfig, block *types.Block, tx *types.Transaction) {
	if _, ok := ImpersonatedSender(tx); ok {
		_, _ = types.Sender(primedSigner{devSigner{types.MakeSigner(config, block.Number(), block.Time())}}, tx)
	}
}

// primedSigner reads impersonated senders and, unlike devSigner, answers
// Equal for the plain signer it wraps: the sender it caches is found by
// that signer.
type primedSigner struct{ devSigner }

func (s primedSigner) Equal(o types.Signer) bool {
	if d, ok := o.(devSigner); ok {
		o = d.Signer
	}
	return s.devSigner.Signer.Equal(o)
}

// tracerChain is the core.ChainContext replays run in.
type tracerChain struct{ t *traceBackend }

func (c *tracerChain) Config() *params.ChainConfig { return c.t.ChainConfig() }
func (c *tracerChain) Engine() consensus.Engine    { return c.t.engine }
func (c *tracerChain) CurrentHeader() *types.Header {
	return c.t.src.CurrentHeader()
}
func (c *tracerChain) GetHeader(hash common.Hash, number uint64) *types.Header {
	return c.t.src.GetHeader(hash, number)
}
func (c *tracerChain) GetHeaderByNumber(number uint64) *types.Header {
	return c.t.src.GetHeaderByNumber(number)
}
func (c *tracerChain) GetHeaderByHash(hash common.Hash) *types.Header {
	return c.t.src.GetHeaderByHash(hash)
}
