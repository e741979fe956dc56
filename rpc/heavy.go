package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/eth/tracers"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/rpc/limits"
)

// The heavy methods: each is admitted by the server's limits.Limiter (a
// slot per client IP and a global one, within the class's time limit)
// before its body in eth.go, simulate.go, filters.go, realtime.go or
// debug.go runs. A heavy method never calls another one's exported form,
// which would take a second slot.

func heavy[T any](ctx context.Context, l *limits.Limiter, class limits.Class, method string, run func(context.Context) (T, error)) (res T, err error) {
	ctx, done, err := l.Enter(ctx, class, method)
	if err != nil {
		return res, err
	}
	// Deferred: a handler that panics (the server recovers it as "method
	// handler crashed") must still give its slots back.
	ended := false
	defer func() {
		if ended {
			return
		}
		if class == limits.Trace && limits.TimedOut(ctx) {
			if v := recover(); v != nil {
				res, err = *new(T), done(errTracerStopped)
				return
			}
		}
		done(nil)
	}()
	if n := l.Config().Nice; n > 0 {
		res, err = runNiced(n, func() (T, error) { return run(ctx) })
	} else {
		res, err = run(ctx)
	}
	ended = true
	return res, done(err)
}

// runNiced runs f on a new OS thread whose nice value is raised by n, and
// waits for it. The thread is never handed back to the Go scheduler: it
// ends with its goroutine (LockOSThread without Unlock), so no other
// goroutine ever runs at its priority. A panic in f is raised again on the
// caller's goroutine, where the server recovers it.
func runNiced[T any](n int, f func() (T, error)) (res T, err error) {
	var crashed any
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		runtime.LockOSThread()
		lowerThreadPriority(n)
		defer func() { crashed = recover() }()
		res, err = f()
	}()
	<-finished
	if crashed != nil {
		panic(crashed)
	}
	return res, err
}

// errTracerStopped stands for a trace that panicked after its time limit
// had stopped it. go-ethereum's callTracer (v1.17) indexes its call stack
// in OnTxEnd even when Stop came before the traced call was entered, which
// happens when the limit runs out as a tx's trace starts (in a block of
// many txs); done turns it into the time limit's error.
var errTracerStopped = errors.New("tracer stopped by the time limit")

// Call executes a message without creating a transaction.
func (api *EthAPI) Call(ctx context.Context, args TransactionArgs, bnh *gethrpc.BlockNumberOrHash, overrides *StateOverride, blockOverrides *BlockOverrides) (hexutil.Bytes, error) {
	return heavy(ctx, api.limits, limits.Call, "eth_call", func(ctx context.Context) (hexutil.Bytes, error) {
		return api.call(ctx, args, bnh, overrides, blockOverrides)
	})
}

// EstimateGas returns the gas a message needs.
func (api *EthAPI) EstimateGas(ctx context.Context, args TransactionArgs, bnh *gethrpc.BlockNumberOrHash, overrides *StateOverride, blockOverrides *BlockOverrides) (hexutil.Uint64, error) {
	return heavy(ctx, api.limits, limits.Call, "eth_estimateGas", func(ctx context.Context) (hexutil.Uint64, error) {
		return api.estimateGas(ctx, args, bnh, overrides, blockOverrides)
	})
}

// CreateAccessList returns the access list a message touches and the gas it
// uses with it; latest and pending run on the newest mini-block.
func (api *EthAPI) CreateAccessList(ctx context.Context, args TransactionArgs, bnh *gethrpc.BlockNumberOrHash, overrides *StateOverride) (*accessListResult, error) {
	return heavy(ctx, api.limits, limits.Call, "eth_createAccessList", func(ctx context.Context) (*accessListResult, error) {
		return api.createAccessList(ctx, args, bnh, overrides)
	})
}

// SimulateV1 runs blocks of calls on top of a block (latest by default: the
// block being built, with its preconfirmed state) and returns the blocks
// they would make, without changing anything.
func (api *EthAPI) SimulateV1(ctx context.Context, opts simOpts, bnh *gethrpc.BlockNumberOrHash) ([]map[string]interface{}, error) {
	return heavy(ctx, api.limits, limits.Call, "eth_simulateV1", func(ctx context.Context) ([]map[string]interface{}, error) {
		return api.simulateV1(ctx, opts, bnh)
	})
}

// GetLogs returns the logs matching crit in sealed blocks, and in the block
// being built when toBlock is "pending".
func (api *EthAPI) GetLogs(ctx context.Context, crit FilterCriteria) ([]*types.Log, error) {
	return heavy(ctx, api.limits, limits.Logs, "eth_getLogs", func(ctx context.Context) ([]*types.Log, error) {
		return api.getLogs(ctx, crit)
	})
}

// GetLogsWithCursor is eth_getLogs in pages (realtime.go).
func (api *EthAPI) GetLogsWithCursor(ctx context.Context, f CursorFilter) (*logsPage, error) {
	return heavy(ctx, api.limits, limits.Logs, "eth_getLogsWithCursor", func(ctx context.Context) (*logsPage, error) {
		return api.getLogsWithCursor(ctx, f)
	})
}

// GetFilterLogs returns every log a log filter matches, as eth_getLogs.
func (api *EthAPI) GetFilterLogs(ctx context.Context, id gethrpc.ID) ([]*types.Log, error) {
	return heavy(ctx, api.limits, limits.Logs, "eth_getFilterLogs", func(ctx context.Context) ([]*types.Log, error) {
		return api.getFilterLogs(ctx, id)
	})
}

// checkRange refuses an eth_getLogs range over the limit, naming a range
// that would be taken (as Alchemy and Infura do).
func (api *EthAPI) checkRange(r blockRange) error {
	limit := api.limits.Config().RangeLimit
	if limit == 0 || r.last()-r.from <= limit {
		return nil
	}
	return &limits.Error{Msg: fmt.Sprintf("query exceeds max block range %d: blocks %d to %d asked; this block range should work: [%#x, %#x]",
		limit, r.from, r.last(), r.from, r.from+limit)}
}

// checkLogCount refuses an eth_getLogs whose answer has passed the log limit
// at block n (past the first block of the range: one block's logs are
// always served).
func (api *EthAPI) checkLogCount(count int, r blockRange, n uint64) error {
	limit := api.limits.Config().MaxLogs
	if limit == 0 || count <= limit || n == r.from {
		return nil
	}
	return &limits.Error{Msg: fmt.Sprintf("query returned more than %d results; this block range should work: [%#x, %#x]", limit, r.from, n-1)}
}

// pageBlocks is how many blocks one eth_getLogsWithCursor page scans.
func (api *EthAPI) pageBlocks() uint64 {
	if limit := api.limits.Config().RangeLimit; limit > 0 {
		return limit
	}
	return 10_000
}

// TraceTransaction re-executes a sealed tx under a tracer.
func (api *DebugAPI) TraceTransaction(ctx context.Context, hash common.Hash, config *tracers.TraceConfig) (interface{}, error) {
	return heavy(ctx, api.limits, limits.Trace, "debug_traceTransaction", func(ctx context.Context) (interface{}, error) {
		return api.traceTransaction(ctx, hash, config)
	})
}

// TraceBlockByNumber traces every tx of a sealed block.
func (api *DebugAPI) TraceBlockByNumber(ctx context.Context, number gethrpc.BlockNumber, config *tracers.TraceConfig) (interface{}, error) {
	return heavy(ctx, api.limits, limits.Trace, "debug_traceBlockByNumber", func(ctx context.Context) (interface{}, error) {
		return api.traceBlockByNumber(ctx, number, config)
	})
}

// TraceBlockByHash traces every tx of a sealed block.
func (api *DebugAPI) TraceBlockByHash(ctx context.Context, hash common.Hash, config *tracers.TraceConfig) (interface{}, error) {
	return heavy(ctx, api.limits, limits.Trace, "debug_traceBlockByHash", func(ctx context.Context) (interface{}, error) {
		return api.traceBlockByHash(ctx, hash, config)
	})
}

// TraceBlock traces every tx of an RLP-encoded block on top of its parent.
func (api *DebugAPI) TraceBlock(ctx context.Context, blob hexutil.Bytes, config *tracers.TraceConfig) (interface{}, error) {
	return heavy(ctx, api.limits, limits.Trace, "debug_traceBlock", func(ctx context.Context) (interface{}, error) {
		return api.traceBlock(ctx, blob, config)
	})
}

// IntermediateRoots returns the state root after each tx of a block.
func (api *DebugAPI) IntermediateRoots(ctx context.Context, hash common.Hash, config *tracers.TraceConfig) ([]common.Hash, error) {
	return heavy(ctx, api.limits, limits.Trace, "debug_intermediateRoots", func(ctx context.Context) ([]common.Hash, error) {
		return api.intermediateRoots(ctx, hash, config)
	})
}

// TraceCall traces a call on top of a block, with state and block overrides.
func (api *DebugAPI) TraceCall(ctx context.Context, args json.RawMessage, bnh *gethrpc.BlockNumberOrHash, config *tracers.TraceCallConfig) (interface{}, error) {
	return heavy(ctx, api.limits, limits.Trace, "debug_traceCall", func(ctx context.Context) (interface{}, error) {
		return api.traceCall(ctx, args, bnh, config)
	})
}
