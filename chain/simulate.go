package chain

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"slices"

	"github.com/holiman/uint256"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/consensus/misc/eip4844"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/types/bal"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
)

// Limits and defaults of eth_simulateV1, as go-ethereum sets them.
const (
	SimMaxBlocks        = 256
	SimMaxCallsPerBlock = 5000
	SimMaxCalls         = 10000
	simTimeIncrement    = 12 // seconds between simulated blocks without a time override
)

// JSON-RPC codes of eth_simulateV1's errors (execution-apis).
const (
	SimCodeNonceTooLow       = -38010
	SimCodeNonceTooHigh      = -38011
	SimCodeBaseFeeTooLow     = -38012
	SimCodeIntrinsicGas      = -38013
	SimCodeInsufficientFunds = -38014
	SimCodeBlockGasLimit     = -38015
	SimCodeBlockNumber       = -38020
	SimCodeBlockTimestamp    = -38021
	SimCodeSenderNotEOA      = -38024
	SimCodeMaxInitCodeSize   = -38025
	SimCodeClientLimit       = -38026
	SimCodeInvalidParams     = -32602
	SimCodeInternal          = -32603
	SimCodeVMError           = -32015
)

// SimError is an eth_simulateV1 failure that carries its JSON-RPC code.
type SimError struct {
	Code int
	Msg  string
}

func (e *SimError) Error() string  { return e.Msg }
func (e *SimError) ErrorCode() int { return e.Code }

// simTxError gives a message that failed validation the code the spec
// assigns to its reason.
func simTxError(err error) *SimError {
	code := SimCodeInternal
	switch {
	case errors.Is(err, core.ErrNonceTooHigh):
		code = SimCodeNonceTooHigh
	case errors.Is(err, core.ErrNonceTooLow):
		code = SimCodeNonceTooLow
	case errors.Is(err, core.ErrSenderNoEOA):
		code = SimCodeSenderNotEOA
	case errors.Is(err, core.ErrFeeCapVeryHigh), errors.Is(err, core.ErrTipVeryHigh), errors.Is(err, core.ErrTipAboveFeeCap):
		code = SimCodeInvalidParams
	case errors.Is(err, core.ErrFeeCapTooLow):
		code = SimCodeBaseFeeTooLow
	case errors.Is(err, core.ErrInsufficientFunds), errors.Is(err, core.ErrInsufficientFundsForTransfer):
		code = SimCodeInsufficientFunds
	case errors.Is(err, core.ErrIntrinsicGas):
		code = SimCodeIntrinsicGas
	case errors.Is(err, vm.ErrMaxInitCodeSizeExceeded):
		code = SimCodeMaxInitCodeSize
	}
	return &SimError{Code: code, Msg: err.Error()}
}

// SimCall is one call of a simulated block: transaction arguments, where nil
// means "default" as in eth_call.
type SimCall struct {
	From                 common.Address
	To                   *common.Address
	Gas                  *uint64
	GasPrice             *big.Int
	MaxFeePerGas         *big.Int
	MaxPriorityFeePerGas *big.Int
	Value                *big.Int
	Nonce                *uint64
	Data                 []byte
	AccessList           *types.AccessList
	ChainID              *big.Int
	AuthList             []types.SetCodeAuthorization
	BlobHashes           []common.Hash // non-nil: a blob transaction
	MaxFeePerBlobGas     *big.Int
}

// SimBlockOverrides are the header fields a simulated block may set.
type SimBlockOverrides struct {
	Number       *big.Int
	Difficulty   *big.Int
	Time         *uint64
	GasLimit     *uint64
	FeeRecipient *common.Address
	PrevRandao   *common.Hash
	BaseFee      *big.Int
	BlobBaseFee  *big.Int
	BeaconRoot   *common.Hash
	Withdrawals  *types.Withdrawals
}

// SimBlock is one block of eth_simulateV1: header overrides, state overrides
// applied before its calls, and the calls.
type SimBlock struct {
	Overrides SimBlockOverrides
	State     map[common.Address]AccountOverride
	Calls     []SimCall
}

// SimOptions are eth_simulateV1's flags.
type SimOptions struct {
	TraceTransfers bool // report ether transfers as ERC-20 style logs from 0xeeee…eeee
	Validation     bool // check nonces, balances and base fees as a real block would
}

// SimCallResult is the outcome of one simulated call.
type SimCallResult struct {
	Return     []byte
	Logs       []*types.Log
	GasUsed    uint64
	MaxUsedGas uint64
	Err        error  // the EVM error of a failed call
	Revert     []byte // the revert data when Err is a revert
	GasCapped  bool   // the gas was cut to the RPC gas cap
}

// SimBlockResult is one simulated block, assembled with its roots, and the
// results of its calls.
type SimBlockResult struct {
	Block   *types.Block
	Calls   []SimCallResult
	Senders map[common.Hash]common.Address // the unsigned txs' senders
}

// TransferTopic and TransferAddress name the logs TraceTransfers adds.
var (
	TransferTopic   = crypto.Keccak256Hash([]byte("Transfer(address,address,uint256)"))
	TransferAddress = common.HexToAddress("0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE")
)

// Simulate runs blocks of calls on top of e.Header and e.State (which it
// modifies), the semantics of go-ethereum's eth_simulateV1: numbers and
// times default to the parent's plus one and plus 12 s, gaps are filled with
// empty blocks, each block's state overrides apply before its calls, and
// every block is assembled with real roots so later blocks can BLOCKHASH it.
// e.GasCap bounds the gas of all calls together (0 = no bound).
func Simulate(ctx context.Context, e CallEnv, blocks []SimBlock, opts SimOptions) ([]SimBlockResult, error) {
	blocks, err := simSanitize(e.Header, blocks)
	if err != nil {
		return nil, err
	}
	headers, err := simHeaders(e.Config, e.Header, blocks)
	if err != nil {
		return nil, err
	}
	s := &simulator{env: e, opts: opts, budget: e.GasCap}
	if s.budget == 0 {
		s.budget = math.MaxUint64
	}
	results := make([]SimBlockResult, len(blocks))
	parent := e.Header
	for i := range blocks {
		res, err := s.processBlock(ctx, &blocks[i], headers[i], parent, headers[:i])
		if err != nil {
			return nil, err
		}
		headers[i] = res.Block.Header()
		results[i] = *res
		parent = headers[i]
	}
	return results, nil
}

// simSanitize fills in numbers and times, checks they increase, and fills
// gaps in the numbers with empty blocks.
func simSanitize(base *types.Header, blocks []SimBlock) ([]SimBlock, error) {
	var (
		out      = make([]SimBlock, 0, len(blocks))
		prevNum  = base.Number
		prevTime = base.Time
	)
	for _, b := range blocks {
		o := &b.Overrides
		if o.Number == nil {
			o.Number = new(big.Int).Add(prevNum, common.Big1)
		}
		if o.Withdrawals == nil {
			o.Withdrawals = &types.Withdrawals{}
		}
		diff := new(big.Int).Sub(o.Number, prevNum)
		if diff.Sign() <= 0 {
			return nil, &SimError{SimCodeBlockNumber, fmt.Sprintf("block numbers must be in order: %d <= %d", o.Number.Uint64(), prevNum)}
		}
		if new(big.Int).Sub(o.Number, base.Number).Cmp(big.NewInt(SimMaxBlocks)) > 0 {
			return nil, &SimError{SimCodeClientLimit, "too many blocks"}
		}
		for gap := uint64(1); gap < diff.Uint64(); gap++ {
			t := prevTime + simTimeIncrement
			out = append(out, SimBlock{Overrides: SimBlockOverrides{
				Number:      new(big.Int).Add(prevNum, new(big.Int).SetUint64(gap)),
				Time:        &t,
				Withdrawals: &types.Withdrawals{},
			}})
			prevTime = t
		}
		prevNum = o.Number
		if o.Time == nil {
			t := prevTime + simTimeIncrement
			o.Time = &t
		} else if *o.Time <= prevTime {
			return nil, &SimError{SimCodeBlockTimestamp, fmt.Sprintf("block timestamps must be in order: %d <= %d", *o.Time, prevTime)}
		}
		prevTime = *o.Time
		out = append(out, b)
	}
	return out, nil
}

// simHeaders makes each block's header before execution: what it inherits
// from its parent plus its overrides.
func simHeaders(config *params.ChainConfig, base *types.Header, blocks []SimBlock) ([]*types.Header, error) {
	out := make([]*types.Header, len(blocks))
	prev := base
	for i, b := range blocks {
		o := b.Overrides
		number, time := o.Number, *o.Time
		h := &types.Header{
			UncleHash:   types.EmptyUncleHash,
			ReceiptHash: types.EmptyReceiptsHash,
			TxHash:      types.EmptyTxsHash,
			Coinbase:    prev.Coinbase,
			Difficulty:  prev.Difficulty,
			GasLimit:    prev.GasLimit,
			Number:      number,
			Time:        time,
		}
		if config.IsShanghai(number, time) {
			h.WithdrawalsHash = &types.EmptyWithdrawalsHash
		}
		if config.IsCancun(number, time) {
			h.ParentBeaconRoot = new(common.Hash)
			if o.BeaconRoot != nil {
				h.ParentBeaconRoot = o.BeaconRoot
			}
		}
		if config.IsPostMerge(number.Uint64(), time) {
			h.Difficulty = new(big.Int)
		}
		if o.Difficulty != nil {
			if h.Difficulty.Sign() == 0 {
				return nil, &SimError{SimCodeInvalidParams, fmt.Sprintf("block %d: difficulty override is not allowed after the merge", number)}
			}
			h.Difficulty = o.Difficulty
		}
		if prev.SlotNumber != nil {
			slot := *prev.SlotNumber + 1
			h.SlotNumber = &slot
		}
		if o.GasLimit != nil {
			h.GasLimit = *o.GasLimit
		}
		if o.FeeRecipient != nil {
			h.Coinbase = *o.FeeRecipient
		}
		if o.PrevRandao != nil {
			h.MixDigest = *o.PrevRandao
		}
		if o.BaseFee != nil {
			h.BaseFee = o.BaseFee
		}
		out[i] = h
		prev = h
	}
	return out, nil
}

type simulator struct {
	env    CallEnv
	opts   SimOptions
	budget uint64 // gas left for all remaining calls
}

func (s *simulator) processBlock(ctx context.Context, b *SimBlock, header, parent *types.Header, done []*types.Header) (*SimBlockResult, error) {
	config, st := s.env.Config, s.env.State
	header.ParentHash = parent.Hash()
	if config.IsLondon(header.Number) && header.BaseFee == nil {
		// Without validation the base fee is 0, so calls with no fee fields run.
		header.BaseFee = new(big.Int)
		if s.opts.Validation {
			header.BaseFee = eip1559.CalcBaseFee(config, parent)
		}
	}
	if config.IsCancun(header.Number, header.Time) {
		var excess uint64
		if config.IsCancun(parent.Number, parent.Time) {
			excess = eip4844.CalcExcessBlobGas(config, parent, header.Time)
		}
		header.ExcessBlobGas = &excess
	}
	chainCtx := NewChainContext(config, &simHeaderReader{HeaderReader: s.env.Chain, known: append([]*types.Header{s.env.Header}, done...)})
	blockCtx := core.NewEVMBlockContext(header, chainCtx, nil)
	if b.Overrides.BlobBaseFee != nil {
		blockCtx.BlobBaseFee = b.Overrides.BlobBaseFee
	}
	rules := config.Rules(header.Number, header.Difficulty.Sign() == 0, header.Time)
	precompiles := vm.ActivePrecompiledContracts(rules)
	if err := applyOverrides(st, b.State, precompiles); err != nil {
		return nil, err
	}

	var (
		gp          = core.NewGasPool(blockCtx.GasLimit)
		blobGasUsed uint64
		txs         = make([]*types.Transaction, len(b.Calls))
		receipts    = make([]*types.Receipt, len(b.Calls))
		results     = make([]SimCallResult, len(b.Calls))
		senders     = make(map[common.Hash]common.Address, len(b.Calls))
		access      = bal.NewConstructionBlockAccessList()
		allLogs     []*types.Log
		// From Amsterdam the protocol itself logs transfers (EIP-7708).
		tracer = &simLogTracer{transfers: s.opts.TraceTransfers && !config.IsAmsterdam(header.Number, header.Time), number: header.Number.Uint64(), time: header.Time}
	)
	hooked := state.NewHookedState(st, tracer.hooks())
	evm := vm.NewEVM(blockCtx, hooked, config, vm.Config{NoBaseFee: !s.opts.Validation, Tracer: tracer.hooks()})
	defer evm.Release()
	evm.SetPrecompiles(precompiles)
	stop := context.AfterFunc(ctx, evm.Cancel)
	defer stop()
	access.Merge(core.PreExecution(ctx, header.ParentBeaconRoot, parent, config, evm, header.Number, header.Time))

	for i := range b.Calls {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		call := b.Calls[i]
		capped, err := s.defaults(&call, header, gp)
		if err != nil {
			return nil, err
		}
		tx := call.transaction()
		txs[i] = tx
		senders[tx.Hash()] = call.From
		tracer.reset(tx.Hash(), uint(i))
		st.SetTxContext(tx.Hash(), i, uint32(i+1))
		msg := call.message(header.BaseFee, !s.opts.Validation)
		res, err := core.ApplyMessage(evm, msg, gp)
		if evm.Cancelled() {
			return nil, fmt.Errorf("execution aborted: %w", ctx.Err())
		}
		if err != nil {
			return nil, simTxError(fmt.Errorf("err: %w (supplied gas %d)", err, msg.GasLimit))
		}
		var root []byte
		if config.IsByzantium(header.Number) {
			access.Merge(hooked.Finalise(evm.GetRules()))
		} else {
			root = st.IntermediateRoot(evm.GetRules()).Bytes()
		}
		receipts[i] = core.MakeReceipt(evm, res, st, header.Number, common.Hash{}, header.Time, tx, gp.CumulativeUsed(), root)
		blobGasUsed += receipts[i].BlobGasUsed
		if res.UsedGas > s.budget {
			return nil, &SimError{SimCodeInternal, fmt.Sprintf("RPC gas cap exhausted: need %d, remaining %d", res.UsedGas, s.budget)}
		}
		s.budget -= res.UsedGas

		r := SimCallResult{Return: res.Return(), Logs: tracer.logs(), GasUsed: res.UsedGas, MaxUsedGas: res.MaxUsedGas, GasCapped: capped}
		if res.Failed() {
			r.Err = res.Err
			if errors.Is(res.Err, vm.ErrExecutionReverted) {
				r.Revert = res.Revert()
			}
		} else {
			allLogs = append(allLogs, r.Logs...)
		}
		results[i] = r
	}
	header.GasUsed = gp.Used()
	if config.IsCancun(header.Number, header.Time) {
		header.BlobGasUsed = &blobGasUsed
	}
	body := &types.Body{Transactions: txs}
	if config.IsShanghai(header.Number, header.Time) {
		body.Withdrawals = *b.Overrides.Withdrawals
	}
	requests, post, err := core.PostExecution(ctx, config, header.Number, header.Time, allLogs, body.Withdrawals, evm, uint32(len(b.Calls)+1))
	if err != nil {
		return nil, err
	}
	if requests != nil {
		h := types.CalcRequestsHash(requests)
		header.RequestsHash = &h
	}
	access.Merge(post)
	engineChain := chainCtx.(*chainContext)
	engineChain.Engine().Finalize(engineChain, header, st, body)
	block := core.AssembleBlock(engineChain, header, st, body, receipts, access)
	for i := range results {
		for _, l := range results[i].Logs {
			l.BlockHash = block.Hash()
		}
	}
	return &SimBlockResult{Block: block, Calls: results, Senders: senders}, nil
}

// defaults fills in a call's nonce, gas and fees the way eth_simulateV1
// does; it reports whether the gas was cut to the remaining RPC gas budget.
func (s *simulator) defaults(c *SimCall, header *types.Header, gp *core.GasPool) (bool, error) {
	config := s.env.Config
	if c.Nonce == nil {
		n := s.env.State.GetNonce(c.From)
		c.Nonce = &n
	}
	amsterdam := config.IsAmsterdam(header.Number, header.Time)
	remaining := gp.Available(amsterdam)
	if amsterdam && !s.opts.Validation {
		remaining = min(remaining, header.GasLimit-gp.CumulativeExecution())
	}
	if c.Gas == nil {
		g := remaining
		c.Gas = &g
	}
	if remaining < *c.Gas {
		return false, &SimError{SimCodeBlockGasLimit, fmt.Sprintf("block gas limit reached: remaining: %d, required: %d", remaining, *c.Gas)}
	}
	gas := min(*c.Gas, s.budget)
	capped := gas < *c.Gas
	c.Gas = &gas

	if c.GasPrice != nil && (c.MaxFeePerGas != nil || c.MaxPriorityFeePerGas != nil) {
		return capped, errors.New("both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified")
	}
	if c.To == nil && c.AuthList != nil {
		return capped, core.ErrSetCodeTxCreate
	}
	if c.ChainID == nil {
		c.ChainID = config.ChainID
	} else if c.ChainID.Cmp(config.ChainID) != 0 {
		return capped, fmt.Errorf("chainId does not match node's (have=%v, want=%v)", c.ChainID, config.ChainID)
	}
	if c.Value == nil {
		c.Value = new(big.Int)
	}
	if header.BaseFee == nil {
		if c.MaxFeePerGas != nil || c.MaxPriorityFeePerGas != nil {
			return capped, errors.New("maxFeePerGas and maxPriorityFeePerGas are not valid before London is active")
		}
		if c.GasPrice == nil {
			c.GasPrice = new(big.Int)
		}
	} else {
		if c.MaxFeePerGas == nil {
			c.MaxFeePerGas = new(big.Int)
		}
		if c.MaxPriorityFeePerGas == nil {
			c.MaxPriorityFeePerGas = new(big.Int)
		}
	}
	return capped, nil
}

// transaction is the unsigned transaction a defaulted call stands for: a
// set-code tx with an authorization list, a legacy or access-list tx with a
// gas price, a dynamic-fee tx otherwise.
func (c *SimCall) transaction() *types.Transaction {
	al := types.AccessList{}
	if c.AccessList != nil {
		al = *c.AccessList
	}
	u256 := func(b *big.Int) *uint256.Int { return uint256.MustFromBig(b) }
	switch {
	case c.GasPrice != nil && c.AccessList != nil:
		return types.NewTx(&types.AccessListTx{To: c.To, ChainID: c.ChainID, Nonce: *c.Nonce, Gas: *c.Gas, GasPrice: c.GasPrice, Value: c.Value, Data: c.Data, AccessList: al})
	case c.GasPrice != nil:
		return types.NewTx(&types.LegacyTx{To: c.To, Nonce: *c.Nonce, Gas: *c.Gas, GasPrice: c.GasPrice, Value: c.Value, Data: c.Data})
	case c.BlobHashes != nil && c.To != nil:
		return types.NewTx(&types.BlobTx{To: *c.To, ChainID: u256(c.ChainID), Nonce: *c.Nonce, Gas: *c.Gas, GasFeeCap: u256(c.MaxFeePerGas), GasTipCap: u256(c.MaxPriorityFeePerGas),
			Value: u256(c.Value), Data: c.Data, AccessList: al, BlobFeeCap: u256(orZero(c.MaxFeePerBlobGas)), BlobHashes: c.BlobHashes})
	case c.AuthList != nil:
		return types.NewTx(&types.SetCodeTx{To: *c.To, ChainID: u256(c.ChainID), Nonce: *c.Nonce, Gas: *c.Gas, GasFeeCap: u256(c.MaxFeePerGas), GasTipCap: u256(c.MaxPriorityFeePerGas), Value: u256(c.Value), Data: c.Data, AccessList: al, AuthList: c.AuthList})
	default:
		return types.NewTx(&types.DynamicFeeTx{To: c.To, ChainID: c.ChainID, Nonce: *c.Nonce, Gas: *c.Gas, GasFeeCap: c.MaxFeePerGas, GasTipCap: c.MaxPriorityFeePerGas, Value: c.Value, Data: c.Data, AccessList: al})
	}
}

func orZero(b *big.Int) *big.Int {
	if b == nil {
		return new(big.Int)
	}
	return b
}

// message is the core message of a defaulted call.
func (c *SimCall) message(baseFee *big.Int, skipChecks bool) *core.Message {
	u := func(b *big.Int) *uint256.Int {
		if b == nil {
			return new(uint256.Int)
		}
		v, _ := uint256.FromBig(b)
		return v
	}
	var price, feeCap, tipCap *uint256.Int
	switch {
	case baseFee == nil || c.GasPrice != nil:
		price = u(c.GasPrice)
		feeCap, tipCap = price, price
	default:
		feeCap, tipCap = u(c.MaxFeePerGas), u(c.MaxPriorityFeePerGas)
		price = new(uint256.Int)
		if feeCap.Sign() > 0 || tipCap.Sign() > 0 {
			price = new(uint256.Int).Add(tipCap, u(baseFee))
			if price.Cmp(feeCap) > 0 {
				price = feeCap
			}
		}
	}
	var al types.AccessList
	if c.AccessList != nil {
		al = *c.AccessList
	}
	msg := &core.Message{
		From: c.From, To: c.To, Value: u(c.Value), Nonce: *c.Nonce, GasLimit: *c.Gas,
		GasPrice: price, GasFeeCap: feeCap, GasTipCap: tipCap, Data: c.Data,
		AccessList: al, SetCodeAuthorizations: c.AuthList,
	}
	if c.BlobHashes != nil {
		msg.BlobHashes, msg.BlobGasFeeCap = c.BlobHashes, u(c.MaxFeePerBlobGas)
	}
	if skipChecks {
		msg.SkipNonceCheck()
		msg.SkipExecutionGasCapCheck()
	}
	return msg.SkipEOACheck().SkipGasLimitCapCheck()
}

// simHeaderReader answers for the base header and the blocks simulated so
// far, so BLOCKHASH and the parent-hash system call see them.
type simHeaderReader struct {
	HeaderReader
	known []*types.Header
}

func (r *simHeaderReader) GetHeader(hash common.Hash, number uint64) *types.Header {
	for _, h := range r.known {
		if h.Number.Uint64() == number && h.Hash() == hash {
			return h
		}
	}
	return r.HeaderReader.GetHeader(hash, number)
}

func (r *simHeaderReader) GetHeaderByNumber(number uint64) *types.Header {
	for _, h := range r.known {
		if h.Number.Uint64() == number {
			return h
		}
	}
	return r.HeaderReader.GetHeaderByNumber(number)
}

// simLogTracer collects a call's logs, drops those of reverted frames and,
// with transfers set, adds an ERC-20 style Transfer log per ether transfer.
type simLogTracer struct {
	transfers bool
	number    uint64
	time      uint64
	txHash    common.Hash
	txIndex   uint
	count     int            // logs of the block so far: indexes run across txs
	frames    [][]*types.Log // logs per open call frame
}

func (t *simLogTracer) hooks() *tracing.Hooks {
	return &tracing.Hooks{OnEnter: t.onEnter, OnExit: t.onExit, OnLog: t.onLog}
}

func (t *simLogTracer) reset(txHash common.Hash, index uint) {
	t.txHash, t.txIndex, t.frames = txHash, index, nil
}

func (t *simLogTracer) logs() []*types.Log {
	if len(t.frames) == 0 {
		return nil
	}
	return t.frames[0]
}

func (t *simLogTracer) onEnter(depth int, typ byte, from, to common.Address, input []byte, gas uint64, value *big.Int) {
	t.frames = append(t.frames, nil)
	op := vm.OpCode(typ)
	if t.transfers && op != vm.DELEGATECALL && op != vm.CALLCODE && value != nil && value.Sign() > 0 {
		t.add(TransferAddress, []common.Hash{TransferTopic, common.BytesToHash(from.Bytes()), common.BytesToHash(to.Bytes())}, common.BigToHash(value).Bytes())
	}
}

func (t *simLogTracer) onExit(depth int, output []byte, gasUsed uint64, err error, reverted bool) {
	if depth == 0 {
		if reverted && len(t.frames) > 0 {
			t.count -= len(t.frames[0])
			t.frames[0] = nil
		}
		return
	}
	n := len(t.frames)
	if n <= 1 {
		return
	}
	frame := t.frames[n-1]
	t.frames = t.frames[:n-1]
	if reverted {
		t.count -= len(frame)
		return
	}
	t.frames[n-2] = append(t.frames[n-2], frame...)
}

func (t *simLogTracer) onLog(l *types.Log) {
	t.add(l.Address, l.Topics, l.Data)
}

func (t *simLogTracer) add(addr common.Address, topics []common.Hash, data []byte) {
	top := len(t.frames) - 1
	t.frames[top] = append(t.frames[top], &types.Log{
		Address: addr, Topics: topics, Data: data,
		BlockNumber: t.number, BlockTimestamp: t.time, TxHash: t.txHash, TxIndex: t.txIndex, Index: uint(t.count),
	})
	t.count++
}

// applyOverrides is ApplyOverrides for a call whose precompiles can be moved
// (movePrecompileToAddress): overriding a precompile's address replaces it.
func applyOverrides(st *state.StateDB, overrides map[common.Address]AccountOverride, precompiles vm.PrecompiledContracts) error {
	moved := make(map[common.Address]bool)
	for _, addr := range slices.SortedFunc(maps.Keys(overrides), common.Address.Cmp) {
		o := overrides[addr]
		if moved[addr] {
			return fmt.Errorf("account %s has already been overridden by a precompile", addr.Hex())
		}
		p, isPrecompile := precompiles[addr]
		if o.MovePrecompileTo != nil {
			if !isPrecompile {
				return fmt.Errorf("account %s is not a precompile", addr.Hex())
			}
			if _, ok := overrides[*o.MovePrecompileTo]; ok {
				return fmt.Errorf("account %s is already overridden", o.MovePrecompileTo.Hex())
			}
			precompiles[*o.MovePrecompileTo] = p
			moved[*o.MovePrecompileTo] = true
		}
		if isPrecompile {
			delete(precompiles, addr)
		}
	}
	return ApplyOverrides(st, overrides)
}
