package chain

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"slices"
	"sync/atomic"

	"github.com/holiman/uint256"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/gasestimator"
	"github.com/ethereum/go-ethereum/eth/tracers/logger"
	"github.com/ethereum/go-ethereum/params"
)

// CallMsg is a message executed without a transaction: eth_call and
// eth_estimateGas. Nil fee fields mean zero, as in geth.
type CallMsg struct {
	From       common.Address
	To         *common.Address
	Gas        uint64 // 0 means the gas cap
	GasPrice   *big.Int
	GasFeeCap  *big.Int
	GasTipCap  *big.Int
	Value      *big.Int
	Data       []byte
	AccessList types.AccessList
	AuthList   []types.SetCodeAuthorization
}

// CallEnv is the state and block a call runs in.
type CallEnv struct {
	Config *params.ChainConfig
	Chain  HeaderReader
	State  *state.StateDB
	Header *types.Header
	GasCap uint64 // upper bound on gas, 0 = header gas limit
	// RealBaseFee keeps the block's base fee (the BASEFEE opcode) in a call
	// at a zero gas price, as anvil and Hardhat do on dev chains; geth, and
	// this without it, lowers it to 0 there.
	RealBaseFee bool
	// ExactEstimate makes EstimateGas search down to the lowest gas limit
	// that succeeds, as anvil and Hardhat do on dev chains; without it the
	// search stops within geth's 1.5 % (a few runs fewer, above the
	// lowest by up to that much).
	ExactEstimate bool
	// Contexts, when set, keeps the block contexts of recent headers.
	Contexts *BlockContexts
}

// BlockContexts keeps the EVM block context of the last few headers calls
// ran in: the head's header stays the same between mini-blocks, and
// building its context (coinbase through the engine, the blob base fee,
// copies of the numbers) costs about as much as a small call. A header
// must not change after a call ran in it (headers are replaced, never
// edited). Safe for concurrent use.
type BlockContexts struct {
	slots [4]atomic.Pointer[blockContextEntry]
	next  atomic.Uint32
}

type blockContextEntry struct {
	header *types.Header
	config *params.ChainConfig
	ctx    vm.BlockContext // without GetHash, whose cache is per call
}

// blockContext is core.NewEVMBlockContext(e.Header, chain, nil), from the
// cache when it holds the header.
func (e CallEnv) blockContext(chain core.ChainContext) vm.BlockContext {
	c := e.Contexts
	if c != nil {
		for i := range c.slots {
			if en := c.slots[i].Load(); en != nil && en.header == e.Header && en.config == e.Config {
				bc := en.ctx
				bc.GetHash = core.GetHashFn(e.Header, chain)
				return bc
			}
		}
	}
	bc := core.NewEVMBlockContext(e.Header, chain, nil)
	if c != nil {
		en := &blockContextEntry{header: e.Header, config: e.Config, ctx: bc}
		en.ctx.GetHash = nil
		c.slots[c.next.Add(1)%uint32(len(c.slots))].Store(en)
	}
	return bc
}

// ErrExecutionReverted is returned by Call when the EVM reverted; the revert
// data is in the result.
var ErrExecutionReverted = vm.ErrExecutionReverted

func (e CallEnv) message(m CallMsg) *core.Message {
	gas := m.Gas
	limit := e.GasCap
	if limit == 0 {
		limit = e.Header.GasLimit
	}
	if gas == 0 || gas > limit {
		gas = limit
	}
	toU := func(b *big.Int) *uint256.Int {
		if b == nil {
			return new(uint256.Int)
		}
		u, _ := uint256.FromBig(b)
		if u == nil {
			u = new(uint256.Int).SetAllOne()
		}
		return u
	}
	var gasPrice, feeCap, tipCap *uint256.Int
	if m.GasPrice != nil {
		gasPrice = toU(m.GasPrice)
		feeCap, tipCap = gasPrice, gasPrice
	} else {
		feeCap, tipCap = toU(m.GasFeeCap), toU(m.GasTipCap)
		gasPrice = new(uint256.Int)
		if feeCap.Sign() > 0 || tipCap.Sign() > 0 {
			gasPrice = new(uint256.Int).Add(tipCap, toU(e.Header.BaseFee))
			if gasPrice.Cmp(feeCap) > 0 {
				gasPrice = feeCap
			}
		}
	}
	msg := &core.Message{
		From:                  m.From,
		To:                    m.To,
		Value:                 toU(m.Value),
		Nonce:                 e.State.GetNonce(m.From),
		GasLimit:              gas,
		GasPrice:              gasPrice,
		GasFeeCap:             feeCap,
		GasTipCap:             tipCap,
		Data:                  m.Data,
		AccessList:            m.AccessList,
		SetCodeAuthorizations: m.AuthList,
	}
	msg.SkipNonceCheck()
	return msg.SkipEOACheck().SkipGasLimitCapCheck()
}

// Call executes m on e.State (which it modifies) and returns the result. A
// revert is a result with Err set, not an error.
func Call(ctx context.Context, e CallEnv, m CallMsg) (*core.ExecutionResult, error) {
	return call(ctx, e, m, vm.Config{NoBaseFee: true})
}

func call(ctx context.Context, e CallEnv, m CallMsg, vmConfig vm.Config) (*core.ExecutionResult, error) {
	msg := e.message(m)
	blockCtx := e.blockContext(NewChainContext(e.Config, e.Chain))
	if msg.GasPrice.Sign() == 0 && !e.RealBaseFee {
		blockCtx.BaseFee = new(big.Int)
	}
	evm := vm.NewEVM(blockCtx, e.State, e.Config, vmConfig)
	defer evm.Release()
	stop := context.AfterFunc(ctx, evm.Cancel)
	defer stop()
	res, err := core.ApplyMessage(evm, msg, core.NewGasPool(math.MaxUint64))
	if evm.Cancelled() {
		return nil, fmt.Errorf("execution aborted: %w", ctx.Err())
	}
	if err := e.State.Error(); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("err: %w (supplied gas %d)", err, msg.GasLimit)
	}
	return res, nil
}

// estimateErrorRatio is geth's eth_estimateGas tolerance
// (internal/ethapi's estimateGasErrorRatio).
const estimateErrorRatio = 0.015

// EstimateGas returns the lowest gas limit with which m succeeds. On a revert
// it returns ErrExecutionReverted and the revert data.
func EstimateGas(ctx context.Context, e CallEnv, m CallMsg) (uint64, []byte, error) {
	msg := e.message(m)
	if m.Gas == 0 {
		msg.GasLimit = 0
	}
	limit := e.GasCap
	if limit == 0 {
		limit = e.Header.GasLimit
	}
	opts := &gasestimator.Options{
		Config:     e.Config,
		Chain:      NewChainContext(e.Config, e.Chain),
		Header:     e.Header,
		State:      e.State,
		ErrorRatio: estimateErrorRatio,
	}
	if e.ExactEstimate {
		opts.ErrorRatio = 0
	}
	gas, revert, err := gasestimator.Estimate(ctx, msg, opts, limit)
	if err != nil {
		if len(revert) > 0 || errors.Is(err, vm.ErrExecutionReverted) {
			return 0, revert, ErrExecutionReverted
		}
		return 0, nil, err
	}
	return gas, nil, nil
}

// CreateAccessList runs m until the access list it touches stops growing, as
// geth's eth_createAccessList does: sender, recipient, precompiles and valid
// authorities are left out. It returns the list, the gas used with it and
// the EVM error of the last run (a revert is not an error of the call).
func CreateAccessList(ctx context.Context, e CallEnv, m CallMsg) (types.AccessList, uint64, error, error) {
	to := crypto.CreateAddress(m.From, e.State.GetNonce(m.From))
	if m.To != nil {
		to = *m.To
	}
	rules := e.Config.Rules(e.Header.Number, e.Header.Difficulty.Sign() == 0, e.Header.Time)
	exclude := map[common.Address]struct{}{m.From: {}, to: {}}
	for _, addr := range vm.ActivePrecompiles(rules) {
		exclude[addr] = struct{}{}
	}
	for _, auth := range m.AuthList {
		if (!auth.ChainID.IsZero() && auth.ChainID.CmpBig(e.Config.ChainID) != 0) || auth.Nonce+1 < auth.Nonce {
			continue
		}
		if authority, err := auth.Authority(); err == nil {
			exclude[authority] = struct{}{}
		}
	}
	prev := logger.NewAccessListTracer(m.AccessList, exclude)
	base := e.State
	for {
		if err := ctx.Err(); err != nil {
			return nil, 0, nil, err
		}
		list := prev.AccessList()
		m.AccessList = list
		if !rules.IsBerlin {
			// Before EIP-2930 a message cannot carry a list; the trace still
			// reports what the call touches (what geth v1.17.5 answers).
			m.AccessList = nil
		}
		tracer := logger.NewAccessListTracer(list, exclude)
		run := e
		run.State = base.Copy()
		res, err := call(ctx, run, m, vm.Config{Tracer: tracer.Hooks(), NoBaseFee: true})
		if err != nil {
			return nil, 0, nil, err
		}
		if tracer.Equal(prev) {
			return list, res.UsedGas, res.Err, nil
		}
		prev = tracer
	}
}

// AccountOverride replaces parts of an account for one call (eth_call's
// state override set). State replaces the whole storage, StateDiff patches
// slots; at most one of them may be set.
type AccountOverride struct {
	Nonce     *uint64
	Code      *[]byte
	Balance   *uint256.Int
	State     map[common.Hash]common.Hash
	StateDiff map[common.Hash]common.Hash
	// MovePrecompileTo moves the precompile at this address elsewhere
	// (eth_simulateV1); the address can then be given code.
	MovePrecompileTo *common.Address
}

// ApplyOverrides writes overrides into st as if a transaction before the call
// had made them.
func ApplyOverrides(st *state.StateDB, overrides map[common.Address]AccountOverride) error {
	for _, addr := range slices.SortedFunc(maps.Keys(overrides), common.Address.Cmp) {
		o := overrides[addr]
		if o.State != nil && o.StateDiff != nil {
			return fmt.Errorf("account %s has both 'state' and 'stateDiff'", addr.Hex())
		}
		if o.Nonce != nil {
			st.SetNonce(addr, *o.Nonce, tracing.NonceChangeUnspecified)
		}
		if o.Code != nil {
			st.SetCode(addr, *o.Code, tracing.CodeChangeUnspecified)
		}
		if o.Balance != nil {
			st.SetBalance(addr, o.Balance, tracing.BalanceChangeUnspecified)
		}
		if o.State != nil {
			st.SetStorage(addr, o.State)
		}
		for k, v := range o.StateDiff {
			st.SetState(addr, k, v)
		}
	}
	st.Finalise(params.Rules{})
	return nil
}
