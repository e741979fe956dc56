package rpc

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	gmath "github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/consensus/misc/eip4844"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/rpc/limits"
)

// defaultTip is the priority fee the node suggests: the devnet has no fee
// market to read one from.
var defaultTip = big.NewInt(params.GWei)

// EthAPI is the eth namespace.
type EthAPI struct {
	nonceMu    sync.Mutex
	nonceLocks map[common.Address]*sync.Mutex
	b          Backend
	config     *params.ChainConfig
	signer     types.Signer
	realtime   RealtimeConfig
	filters    *filterSystem
	limits     *limits.Limiter     // heavy.go
	contexts   chain.BlockContexts // of the headers calls ran in lately
}

func newEthAPI(b Backend, rt RealtimeConfig, fc FilterConfig, l *limits.Limiter) *EthAPI {
	cfg := b.Chain.ChainConfig()
	api := &EthAPI{b: b, config: cfg, signer: chain.NewLatestSigner(cfg, b.DevChain != nil), realtime: rt, limits: l, nonceLocks: make(map[common.Address]*sync.Mutex)}
	api.filters = newFilterSystem(api, fc, time.Now)
	return api
}

// ChainId returns the chain id.
func (api *EthAPI) ChainId() *hexutil.Big { return (*hexutil.Big)(api.config.ChainID) }

// BlockNumber returns the last sealed block number.
func (api *EthAPI) BlockNumber() hexutil.Uint64 {
	return hexutil.Uint64(api.b.Chain.CurrentHeader().Number.Uint64())
}

// Syncing is false: a sequencer is always at its own head.
func (api *EthAPI) Syncing() (interface{}, error) { return false, nil }

// Accounts lists the unlocked dev accounts.
func (api *EthAPI) Accounts() []common.Address {
	out := make([]common.Address, len(api.b.Dev))
	for i, a := range api.b.Dev {
		out[i] = a.Address
	}
	if api.b.DevChain != nil { // impersonated accounts are listed too, as on anvil
		for _, a := range api.b.DevChain.Impersonated() {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

func (api *EthAPI) pendingHeader() *types.Header {
	h, _, _ := api.b.Latest.PendingBlock()
	return h
}

// nextBaseFee is the base fee of the block after h: the block being built's
// when it is h's child (a dev chain's may differ from EIP-1559's, see
// anvil_setNextBlockBaseFee and the first block), else EIP-1559's.
func (api *EthAPI) nextBaseFee(h *types.Header) *big.Int {
	if p := api.pendingHeader(); p != nil && p.BaseFee != nil && p.ParentHash == h.Hash() {
		return p.BaseFee
	}
	return eip1559.CalcBaseFee(api.config, h)
}

// GasPrice suggests a legacy gas price: the next base fee plus the tip.
func (api *EthAPI) GasPrice() *hexutil.Big {
	return (*hexutil.Big)(new(big.Int).Add(api.pendingHeader().BaseFee, defaultTip))
}

// MaxPriorityFeePerGas suggests a tip.
func (api *EthAPI) MaxPriorityFeePerGas() *hexutil.Big {
	return (*hexutil.Big)(new(big.Int).Set(defaultTip))
}

// resolveHeader maps a block number or tag to a sealed header; pending and
// latest map to the sealed head here (state reads handle them separately).
func (api *EthAPI) resolveHeader(bnh gethrpc.BlockNumberOrHash) (*types.Header, error) {
	if hash, ok := bnh.Hash(); ok {
		h := api.b.Chain.GetHeaderByHash(hash)
		if h == nil {
			return nil, fmt.Errorf("header for hash not found")
		}
		if bnh.RequireCanonical && api.b.Chain.GetHeaderByNumber(h.Number.Uint64()) == nil {
			return nil, fmt.Errorf("hash is not currently canonical")
		}
		return h, nil
	}
	num, _ := bnh.Number()
	if n, ok := api.b.tagNumber(num); ok {
		return api.b.Chain.GetHeaderByNumber(n), nil
	}
	switch num {
	case gethrpc.LatestBlockNumber, gethrpc.PendingBlockNumber:
		return api.b.Chain.CurrentHeader(), nil
	case gethrpc.EarliestBlockNumber:
		return api.b.Chain.GetHeaderByNumber(api.b.firstBlock()), nil
	}
	if num < 0 {
		return nil, &invalidParamsError{fmt.Sprintf("invalid block number %d", num)}
	}
	h := api.b.Chain.GetHeaderByNumber(uint64(num))
	if h == nil {
		return nil, fmt.Errorf("header not found")
	}
	return h, nil
}

// stateAt opens the state a read names: latest/pending are the newest
// mini-block, everything else a sealed block. The header is the block context
// calls run in.
func (api *EthAPI) stateAt(bnh *gethrpc.BlockNumberOrHash) (*state.StateDB, *types.Header, error) {
	if bnh == nil {
		latest := gethrpc.BlockNumberOrHashWithNumber(gethrpc.LatestBlockNumber)
		bnh = &latest
	}
	if num, ok := bnh.Number(); ok && (num == gethrpc.LatestBlockNumber || num == gethrpc.PendingBlockNumber) {
		return api.b.Latest.LatestState()
	}
	h, err := api.resolveHeader(*bnh)
	if err != nil {
		return nil, nil, err
	}
	st, err := chain.StateAt(api.b.Chain.StateDatabase(), h.Root)
	if err != nil {
		return nil, nil, fmt.Errorf("state of block %d not available: %w", h.Number, err)
	}
	return st, h, nil
}

// GetBalance returns an account's balance.
func (api *EthAPI) GetBalance(address common.Address, bnh *gethrpc.BlockNumberOrHash) (*hexutil.Big, error) {
	st, _, err := api.stateAt(bnh)
	if err != nil {
		return nil, err
	}
	return (*hexutil.Big)(st.GetBalance(address).ToBig()), st.Error()
}

// GetCode returns an account's code.
func (api *EthAPI) GetCode(address common.Address, bnh *gethrpc.BlockNumberOrHash) (hexutil.Bytes, error) {
	st, _, err := api.stateAt(bnh)
	if err != nil {
		return nil, err
	}
	return st.GetCode(address), st.Error()
}

// GetStorageAt returns a storage slot.
func (api *EthAPI) GetStorageAt(address common.Address, hexKey string, bnh *gethrpc.BlockNumberOrHash) (hexutil.Bytes, error) {
	key, _, err := decodeHash(hexKey)
	if err != nil {
		return nil, &invalidParamsError{fmt.Sprintf("%v: %q", err, hexKey)}
	}
	st, _, err := api.stateAt(bnh)
	if err != nil {
		return nil, err
	}
	v := st.GetState(address, key)
	return v[:], st.Error()
}

// decodeHash parses a hex storage key of up to 32 bytes leniently (odd
// length, short keys), with geth's errors.
func decodeHash(s string) (common.Hash, int, error) {
	if len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X") {
		s = s[2:]
	}
	if len(s)&1 != 0 {
		s = "0" + s
	}
	if len(s) > 64 {
		return common.Hash{}, len(s) / 2, errors.New("storage key too long (want at most 32 bytes)")
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return common.Hash{}, 0, errors.New("invalid hex in storage key")
	}
	return common.BytesToHash(b), len(b), nil
}

// GetTransactionCount returns the nonce; "pending" includes pooled txs.
func (api *EthAPI) GetTransactionCount(address common.Address, bnh *gethrpc.BlockNumberOrHash) (*hexutil.Uint64, error) {
	if bnh != nil {
		if num, ok := bnh.Number(); ok && num == gethrpc.PendingBlockNumber {
			n, err := api.b.Latest.PendingNonce(address)
			return (*hexutil.Uint64)(&n), err
		}
	}
	st, _, err := api.stateAt(bnh)
	if err != nil {
		return nil, err
	}
	n := st.GetNonce(address)
	return (*hexutil.Uint64)(&n), st.Error()
}

// TransactionArgs are the arguments of eth_call, eth_estimateGas and
// eth_sendTransaction.
type TransactionArgs struct {
	From                 *common.Address              `json:"from"`
	To                   *common.Address              `json:"to"`
	Gas                  *hexutil.Uint64              `json:"gas"`
	GasPrice             *hexutil.Big                 `json:"gasPrice"`
	MaxFeePerGas         *hexutil.Big                 `json:"maxFeePerGas"`
	MaxPriorityFeePerGas *hexutil.Big                 `json:"maxPriorityFeePerGas"`
	Value                *hexutil.Big                 `json:"value"`
	Nonce                *hexutil.Uint64              `json:"nonce"`
	Data                 *hexutil.Bytes               `json:"data"`
	Input                *hexutil.Bytes               `json:"input"`
	AccessList           *types.AccessList            `json:"accessList,omitempty"`
	ChainID              *hexutil.Big                 `json:"chainId,omitempty"`
	AuthorizationList    []types.SetCodeAuthorization `json:"authorizationList"`
	Type                 *hexutil.Uint64              `json:"type"`
	BlobVersionedHashes  []common.Hash                `json:"blobVersionedHashes,omitempty"`
	MaxFeePerBlobGas     *hexutil.Big                 `json:"maxFeePerBlobGas"`
}

func (a *TransactionArgs) data() []byte {
	if a.Input != nil {
		return *a.Input
	}
	if a.Data != nil {
		return *a.Data
	}
	return nil
}

func (a *TransactionArgs) check() error {
	if a.Data != nil && a.Input != nil && !bytesEqual(*a.Data, *a.Input) {
		return &invalidParamsError{`both "data" and "input" are set and not equal. Please use "input" to pass transaction call data`}
	}
	if a.GasPrice != nil && (a.MaxFeePerGas != nil || a.MaxPriorityFeePerGas != nil) {
		return &invalidParamsError{"both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified"}
	}
	if a.MaxFeePerGas != nil && a.MaxPriorityFeePerGas != nil && a.MaxFeePerGas.ToInt().Cmp(a.MaxPriorityFeePerGas.ToInt()) < 0 {
		return &invalidParamsError{fmt.Sprintf("maxFeePerGas (%v) < maxPriorityFeePerGas (%v)", a.MaxFeePerGas, a.MaxPriorityFeePerGas)}
	}
	return nil
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

func (a *TransactionArgs) callMsg() chain.CallMsg {
	m := chain.CallMsg{To: a.To, Data: a.data(), AuthList: a.AuthorizationList}
	if a.From != nil {
		m.From = *a.From
	}
	if a.Gas != nil {
		m.Gas = uint64(*a.Gas)
	}
	m.GasPrice, m.GasFeeCap, m.GasTipCap, m.Value = a.GasPrice.ToInt(), a.MaxFeePerGas.ToInt(), a.MaxPriorityFeePerGas.ToInt(), a.Value.ToInt()
	if a.AccessList != nil {
		m.AccessList = *a.AccessList
	}
	return m
}

// callEnv opens the state and block a call runs in, with overrides applied.
func (api *EthAPI) callEnv(bnh *gethrpc.BlockNumberOrHash, overrides *StateOverride, blockOverrides *BlockOverrides) (chain.CallEnv, error) {
	st, h, err := api.stateAt(bnh)
	if err != nil {
		return chain.CallEnv{}, err
	}
	if bnh != nil {
		// "pending" runs in the block being built, as on anvil and geth:
		// its number and the timestamp evm_setNextBlockTimestamp fixed, so
		// ethers' estimate (tagged pending) of a tx that needs that time
		// sees it.
		if num, ok := bnh.Number(); ok && num == gethrpc.PendingBlockNumber {
			if ph, _, _ := api.b.Latest.PendingBlock(); ph != nil {
				h = ph
			}
		}
	}
	if err := overrides.apply(st); err != nil {
		return chain.CallEnv{}, err
	}
	if h, err = blockOverrides.apply(h); err != nil {
		return chain.CallEnv{}, err
	}
	dev := api.b.DevChain != nil || api.b.DevFollower
	return chain.CallEnv{Config: api.config, Chain: api.b.Chain, State: st, Header: h, GasCap: api.limits.Config().GasCap, Contexts: &api.contexts,
		RealBaseFee: dev, ExactEstimate: dev}, nil
}

// call is eth_call (heavy.go admits it).
func (api *EthAPI) call(ctx context.Context, args TransactionArgs, bnh *gethrpc.BlockNumberOrHash, overrides *StateOverride, blockOverrides *BlockOverrides) (hexutil.Bytes, error) {
	if err := args.check(); err != nil {
		return nil, err
	}
	env, err := api.callEnv(bnh, overrides, blockOverrides)
	if err != nil {
		return nil, err
	}
	res, err := chain.Call(ctx, env, args.callMsg())
	if err != nil {
		return nil, err
	}
	if errors.Is(res.Err, chain.ErrExecutionReverted) {
		return nil, newRevertError(res.Revert())
	}
	return res.Return(), res.Err
}

// estimateGas is eth_estimateGas (heavy.go admits it).
func (api *EthAPI) estimateGas(ctx context.Context, args TransactionArgs, bnh *gethrpc.BlockNumberOrHash, overrides *StateOverride, blockOverrides *BlockOverrides) (hexutil.Uint64, error) {
	if err := args.check(); err != nil {
		return 0, err
	}
	env, err := api.callEnv(bnh, overrides, blockOverrides)
	if err != nil {
		return 0, err
	}
	gas, revert, err := chain.EstimateGas(ctx, env, args.callMsg())
	if errors.Is(err, chain.ErrExecutionReverted) {
		return 0, newRevertError(revert)
	}
	return hexutil.Uint64(gas), err
}

// accessListResult is eth_createAccessList's answer.
type accessListResult struct {
	Accesslist *types.AccessList `json:"accessList"`
	Error      string            `json:"error,omitempty"`
	GasUsed    hexutil.Uint64    `json:"gasUsed"`
}

// createAccessList returns the access list a message touches and the gas it
// uses with it; latest and pending run on the newest mini-block.
func (api *EthAPI) createAccessList(ctx context.Context, args TransactionArgs, bnh *gethrpc.BlockNumberOrHash, overrides *StateOverride) (*accessListResult, error) {
	if err := args.check(); err != nil {
		return nil, err
	}
	env, err := api.callEnv(bnh, overrides, nil)
	if err != nil {
		return nil, err
	}
	list, gas, vmErr, err := chain.CreateAccessList(ctx, env, args.callMsg())
	if err != nil {
		return nil, err
	}
	res := &accessListResult{Accesslist: &list, GasUsed: hexutil.Uint64(gas)}
	if vmErr != nil {
		res.Error = vmErr.Error()
	}
	return res, nil
}

// SendRawTransaction admits a signed transaction; under a dev chain's
// automine it returns once the tx's block is sealed.
func (api *EthAPI) SendRawTransaction(ctx context.Context, input hexutil.Bytes) (common.Hash, error) {
	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(input); err != nil {
		return common.Hash{}, err
	}
	if api.b.DevChain != nil && api.b.Forward == nil {
		_, err := api.awaitMined(ctx, tx)
		return tx.Hash(), err
	}
	if api.b.Forward != nil {
		var hash common.Hash
		err := api.b.Forward.CallContext(ctx, &hash, "eth_sendRawTransaction", input)
		return hash, err
	}
	if api.b.HA != nil {
		return tx.Hash(), api.ackCommitted(ctx, tx)
	}
	return tx.Hash(), api.b.Txs.SendTransaction(tx)
}

// ackCommitted admits tx on an HA sequencer and returns once its mini-block
// is committed to the raft group, so a leader that dies right after
// answering loses nothing it acknowledged: a tx refused on the way gets a
// (retryable) error instead. A tx still pooled after the sync timeout (a
// nonce gap, a backlog) is acknowledged as pooled.
func (api *EthAPI) ackCommitted(ctx context.Context, tx *types.Transaction) error {
	ch, cancel, err := api.b.Txs.SubmitAwait(tx, false)
	if err != nil {
		return err
	}
	defer cancel()
	timer := time.NewTimer(api.realtime.SyncTimeout)
	defer timer.Stop()
	select {
	case out := <-ch:
		return out.Dropped
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SendTransaction signs with an unlocked dev account and submits; on a dev
// chain an impersonated account sends unsigned.
func (api *EthAPI) SendTransaction(ctx context.Context, args TransactionArgs) (common.Hash, error) {
	if api.b.Txs == nil {
		return common.Hash{}, errors.New("this node forwards raw transactions only: sign locally and use eth_sendRawTransaction")
	}
	if d := api.b.DevChain; d != nil && args.From != nil && d.Impersonating(*args.From) {
		if _, err := api.devAccount(args.From); err != nil {
			return api.sendImpersonated(ctx, args)
		}
	}
	if args.From != nil {
		// One send per account at a time: concurrent sends from one account
		// get consecutive nonces, not the same one.
		unlock := api.lockNonce(*args.From)
		defer unlock()
	}
	tx, err := api.signArgs(ctx, args)
	if err != nil {
		return common.Hash{}, err
	}
	if api.b.DevChain != nil {
		return api.submitDev(ctx, tx)
	}
	return tx.Hash(), api.b.Txs.SendTransaction(tx)
}

// lockNonce serialises the nonce choice and submission of addr's sends.
func (api *EthAPI) lockNonce(addr common.Address) func() {
	api.nonceMu.Lock()
	l, ok := api.nonceLocks[addr]
	if !ok {
		l = new(sync.Mutex)
		api.nonceLocks[addr] = l
	}
	api.nonceMu.Unlock()
	l.Lock()
	return l.Unlock
}

// devAccount is the unlocked account at addr.
func (api *EthAPI) devAccount(addr *common.Address) (*chain.DevAccount, error) {
	if addr == nil {
		return nil, &invalidParamsError{"missing from address"}
	}
	for i := range api.b.Dev {
		if api.b.Dev[i].Address == *addr {
			return &api.b.Dev[i], nil
		}
	}
	return nil, fmt.Errorf("unknown account %s: only the devnet's unlocked accounts can sign", addr)
}

// signArgs fills the missing fields of args (nonce, gas, fees) and signs with
// the unlocked account args.From.
func (api *EthAPI) signArgs(ctx context.Context, args TransactionArgs) (*types.Transaction, error) {
	dev, err := api.devAccount(args.From)
	if err != nil {
		return nil, err
	}
	txdata, err := api.txData(ctx, args, dev.Address)
	if err != nil {
		return nil, err
	}
	return chain.SignDev(*dev, api.signer, txdata)
}

// txData fills the missing fields of args (nonce, gas, fees) for a tx from
// from.
func (api *EthAPI) txData(ctx context.Context, args TransactionArgs, from common.Address) (types.TxData, error) {
	if err := args.check(); err != nil {
		return nil, err
	}
	if args.ChainID != nil && args.ChainID.ToInt().Cmp(api.config.ChainID) != 0 {
		return nil, fmt.Errorf("chainId does not match node's (have=%v, want=%v)", args.ChainID, api.config.ChainID)
	}
	nonce := uint64(0)
	if args.Nonce != nil {
		nonce = uint64(*args.Nonce)
	} else {
		n, err := api.b.Latest.PendingNonce(from)
		if err != nil {
			return nil, err
		}
		nonce = n
	}
	gas := uint64(0)
	if args.Gas != nil {
		gas = uint64(*args.Gas)
	} else {
		est, err := api.EstimateGas(ctx, args, nil, nil, nil)
		if err != nil {
			return nil, err
		}
		gas = uint64(est)
	}
	var txdata types.TxData
	switch {
	case args.GasPrice != nil:
		txdata = &types.LegacyTx{Nonce: nonce, To: args.To, Gas: gas, GasPrice: args.GasPrice.ToInt(), Value: args.Value.ToInt(), Data: args.data()}
	default:
		tip := defaultTip
		if args.MaxPriorityFeePerGas != nil {
			tip = args.MaxPriorityFeePerGas.ToInt()
		}
		feeCap := new(big.Int).Add(tip, new(big.Int).Mul(api.pendingHeader().BaseFee, big.NewInt(2)))
		if args.MaxFeePerGas != nil {
			feeCap = args.MaxFeePerGas.ToInt()
		}
		al := types.AccessList{}
		if args.AccessList != nil {
			al = *args.AccessList
		}
		txdata = &types.DynamicFeeTx{ChainID: api.config.ChainID, Nonce: nonce, To: args.To, Gas: gas, GasTipCap: tip, GasFeeCap: feeCap, Value: args.Value.ToInt(), Data: args.data(), AccessList: al}
	}
	return txdata, nil
}

// GetTransactionByHash finds a tx sealed, preconfirmed or pooled, or a
// sealed deposit.
func (api *EthAPI) GetTransactionByHash(hash common.Hash) (any, error) {
	if tx, bh, bn, idx := api.b.Chain.Transaction(hash); tx != nil {
		h := api.b.Chain.GetHeader(bh, bn)
		if h == nil {
			return nil, nil
		}
		ds, _ := api.b.deposits(bh, bn)
		return newRPCTransaction(tx, bh, bn, h.Time, uint64(len(ds))+idx, h.BaseFee, api.config), nil
	}
	if tx, r, bn, _, ok := api.b.Latest.PendingTx(hash); ok {
		h := api.pendingHeader()
		return newRPCTransaction(tx, r.BlockHash, bn, h.Time, uint64(r.TransactionIndex), h.BaseFee, api.config), nil
	}
	if tx := api.b.Latest.PooledTx(hash); tx != nil {
		return newRPCTransaction(tx, common.Hash{}, 0, 0, 0, nil, api.config), nil
	}
	if d, r, bh, bn, idx := api.b.deposit(hash); d != nil {
		h := api.b.Chain.GetHeader(bh, bn)
		if h == nil {
			return nil, nil
		}
		return chain.NewDepositTxJSON(d, r, bh, bn, h.Time, idx), nil
	}
	if d, r, idx := api.b.pendingDeposit(hash); d != nil {
		h := api.pendingHeader()
		return chain.NewDepositTxJSON(d, r, chain.PreconfBlockHash, h.Number.Uint64(), h.Time, uint64(idx)), nil
	}
	return nil, nil
}

// GetTransactionReceipt returns a sealed or preconfirmed receipt.
func (api *EthAPI) GetTransactionReceipt(hash common.Hash) (map[string]interface{}, error) {
	if tx, bh, bn, idx := api.b.Chain.Transaction(hash); tx != nil {
		receipts := api.b.Chain.Receipts(bh, bn)
		if int(idx) >= len(receipts) {
			return nil, nil
		}
		r := receipts[idx]
		return marshalReceipt(r, bh, bn, api.signer, tx, int(r.TransactionIndex)), nil
	}
	if tx, r, bn, _, ok := api.b.Latest.PendingTx(hash); ok {
		return marshalReceipt(r, r.BlockHash, bn, api.signer, tx, int(r.TransactionIndex)), nil
	}
	if d, r, bh, bn, idx := api.b.deposit(hash); d != nil {
		return chain.DepositReceiptJSON(d, r, bh, bn, idx), nil
	}
	if d, r, idx := api.b.pendingDeposit(hash); d != nil {
		return chain.DepositReceiptJSON(d, r, r.Receipt.BlockHash, api.pendingHeader().Number.Uint64(), uint64(idx)), nil
	}
	return nil, nil
}

// isPending reports whether num names the block being built: "pending",
// or its number once it holds txs.
func (api *EthAPI) isPending(num gethrpc.BlockNumber) bool {
	if num == gethrpc.PendingBlockNumber {
		return true
	}
	if num < 0 || uint64(num) != api.b.Chain.CurrentHeader().Number.Uint64()+1 {
		return false
	}
	// The number of the block being built names it once it holds a
	// preconfirmed tx (whose receipt carries that number); before, it is a
	// future block, null as geth answers.
	_, txs, _ := api.b.Latest.PendingBlock()
	ds, _ := api.b.pendingDeposits()
	return len(txs)+len(ds) > 0
}

// GetBlockByNumber returns a block; "pending" and the in-progress number
// return the block being built.
func (api *EthAPI) GetBlockByNumber(arg blockNumberArg, fullTx bool) (map[string]interface{}, error) {
	num := gethrpc.BlockNumber(arg)
	if api.isPending(num) {
		h, txs, receipts := api.b.Latest.PendingBlock()
		ds, drs := api.b.pendingDeposits()
		return marshalPendingBlock(h, txs, receipts, ds, drs, fullTx, api.config), nil
	}
	h, err := api.resolveHeader(gethrpc.BlockNumberOrHashWithNumber(num))
	if err != nil || h == nil {
		return nil, nil
	}
	block := api.b.Chain.BlockByHash(h.Hash())
	if block == nil {
		return nil, nil
	}
	return api.marshalSealedBlock(block, fullTx), nil
}

// GetBlockByHash returns a sealed block.
func (api *EthAPI) GetBlockByHash(hash common.Hash, fullTx bool) (map[string]interface{}, error) {
	block := api.b.Chain.BlockByHash(hash)
	if block == nil {
		return nil, nil
	}
	return api.marshalSealedBlock(block, fullTx), nil
}

// marshalSealedBlock is a sealed block with its deposits.
func (api *EthAPI) marshalSealedBlock(block *types.Block, fullTx bool) map[string]interface{} {
	ds, rs := api.b.deposits(block.Hash(), block.NumberU64())
	return marshalBlockWithDeposits(block, ds, rs, fullTx, api.config)
}

// GetBlockReceipts returns every receipt of a block.
func (api *EthAPI) GetBlockReceipts(bnh gethrpc.BlockNumberOrHash) ([]map[string]interface{}, error) {
	if num, ok := bnh.Number(); ok && api.isPending(num) {
		h, txs, receipts := api.b.Latest.PendingBlock()
		ds, drs := api.b.pendingDeposits()
		out := make([]map[string]interface{}, 0, len(ds)+len(txs))
		for i, d := range ds {
			out = append(out, chain.DepositReceiptJSON(d, drs[i], drs[i].Receipt.BlockHash, h.Number.Uint64(), uint64(i)))
		}
		for i, tx := range txs {
			out = append(out, marshalReceipt(receipts[i], receipts[i].BlockHash, h.Number.Uint64(), api.signer, tx, int(receipts[i].TransactionIndex)))
		}
		return out, nil
	}
	h, err := api.resolveHeader(bnh)
	if err != nil || h == nil {
		return nil, nil
	}
	block := api.b.Chain.BlockByHash(h.Hash())
	if block == nil {
		return nil, nil
	}
	receipts := api.b.Chain.Receipts(block.Hash(), block.NumberU64())
	txs := block.Transactions()
	if len(txs) != len(receipts) {
		return nil, fmt.Errorf("receipts length mismatch: %d vs %d", len(txs), len(receipts))
	}
	ds, drs := api.b.deposits(block.Hash(), block.NumberU64())
	out := make([]map[string]interface{}, 0, len(ds)+len(receipts))
	for i, d := range ds {
		out = append(out, chain.DepositReceiptJSON(d, drs[i], block.Hash(), block.NumberU64(), uint64(i)))
	}
	for i, r := range receipts {
		out = append(out, marshalReceipt(r, block.Hash(), block.NumberU64(), api.signer, txs[i], len(ds)+i))
	}
	return out, nil
}

// GetBlockTransactionCountByNumber returns the tx count of a block.
func (api *EthAPI) GetBlockTransactionCountByNumber(arg blockNumberArg) *hexutil.Uint {
	num := gethrpc.BlockNumber(arg)
	if api.isPending(num) {
		_, txs, _ := api.b.Latest.PendingBlock()
		ds, _ := api.b.pendingDeposits()
		n := hexutil.Uint(len(ds) + len(txs))
		return &n
	}
	h, err := api.resolveHeader(gethrpc.BlockNumberOrHashWithNumber(num))
	if err != nil || h == nil {
		return nil
	}
	if block := api.b.Chain.BlockByHash(h.Hash()); block != nil {
		ds, _ := api.b.deposits(block.Hash(), block.NumberU64())
		n := hexutil.Uint(len(ds) + len(block.Transactions()))
		return &n
	}
	return nil
}

// FeeHistory returns base fees, gas used ratios and tip percentiles of up to
// 1024 sealed blocks ending at newest.
func (api *EthAPI) FeeHistory(blockCount gmath.HexOrDecimal64, newest gethrpc.BlockNumber, percentiles []float64) (*feeHistoryResult, error) {
	if blockCount == 0 {
		return &feeHistoryResult{OldestBlock: (*hexutil.Big)(new(big.Int))}, nil
	}
	if blockCount > 1024 {
		blockCount = 1024
	}
	for i, p := range percentiles {
		if p < 0 || p > 100 {
			return nil, &invalidParamsError{fmt.Sprintf("invalid reward percentile: %f", p)}
		}
		if i > 0 && p <= percentiles[i-1] {
			return nil, &invalidParamsError{fmt.Sprintf("invalid reward percentile: #%d:%f >= #%d:%f", i-1, percentiles[i-1], i, p)}
		}
	}
	head, err := api.resolveHeader(gethrpc.BlockNumberOrHashWithNumber(newest))
	if err != nil {
		return nil, err
	}
	last := head.Number.Uint64()
	first := api.b.firstBlock() // a forked chain has no blocks before the one it forks
	if last+1 > uint64(blockCount) {
		first = max(first, last+1-uint64(blockCount))
	}
	res := &feeHistoryResult{OldestBlock: (*hexutil.Big)(new(big.Int).SetUint64(first))}
	for n := first; n <= last; n++ {
		block := api.b.Chain.BlockByNumber(n)
		if block == nil {
			return nil, fmt.Errorf("block %d not found", n)
		}
		h := block.Header()
		baseFee, nextBaseFee := new(big.Int), new(big.Int)
		if h.BaseFee != nil {
			baseFee = h.BaseFee
		}
		if n == last && api.config.IsLondon(new(big.Int).Add(h.Number, common.Big1)) {
			nextBaseFee = api.nextBaseFee(h)
		}
		blobFee, nextBlobFee := new(big.Int), new(big.Int)
		if h.ExcessBlobGas != nil {
			blobFee = eip4844.CalcBlobFee(api.config, h)
			excess := eip4844.CalcExcessBlobGas(api.config, h, h.Time)
			nextBlobFee = eip4844.CalcBlobFee(api.config, &types.Header{Number: h.Number, Time: h.Time, ExcessBlobGas: &excess})
		}
		blobRatio := 0.0
		if h.BlobGasUsed != nil {
			if max := eip4844.MaxBlobGasPerBlock(api.config, h.Time); max != 0 {
				blobRatio = float64(*h.BlobGasUsed) / float64(max)
			}
		}
		res.BaseFee = append(res.BaseFee, (*hexutil.Big)(baseFee))
		res.GasUsedRatio = append(res.GasUsedRatio, float64(h.GasUsed)/float64(h.GasLimit))
		res.BlobBaseFee = append(res.BlobBaseFee, (*hexutil.Big)(blobFee))
		res.BlobGasUsedRatio = append(res.BlobGasUsedRatio, blobRatio)
		if len(percentiles) > 0 {
			res.Reward = append(res.Reward, api.rewards(block, percentiles))
		}
		if n == last {
			res.BaseFee = append(res.BaseFee, (*hexutil.Big)(nextBaseFee))
			res.BlobBaseFee = append(res.BlobBaseFee, (*hexutil.Big)(nextBlobFee))
		}
	}
	return res, nil
}

func (api *EthAPI) rewards(block *types.Block, percentiles []float64) []*hexutil.Big {
	out := make([]*hexutil.Big, len(percentiles))
	txs := block.Transactions()
	if len(txs) == 0 {
		for i := range out {
			out[i] = (*hexutil.Big)(new(big.Int))
		}
		return out
	}
	receipts := api.b.Chain.Receipts(block.Hash(), block.NumberU64())
	type txGas struct {
		gas uint64
		tip *big.Int
	}
	sorted := make([]txGas, len(txs))
	for i, tx := range txs {
		tip, _ := tx.EffectiveGasTip(block.BaseFee())
		gas := uint64(0)
		if i < len(receipts) {
			gas = receipts[i].GasUsed
		}
		sorted[i] = txGas{gas: gas, tip: tip}
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].tip.Cmp(sorted[j].tip) < 0 })
	var txIndex int
	sumGas := sorted[0].gas
	for i, p := range percentiles {
		threshold := uint64(float64(block.GasUsed()) * p / 100)
		for sumGas < threshold && txIndex < len(sorted)-1 {
			txIndex++
			sumGas += sorted[txIndex].gas
		}
		out[i] = (*hexutil.Big)(sorted[txIndex].tip)
	}
	return out
}

type feeHistoryResult struct {
	OldestBlock      *hexutil.Big     `json:"oldestBlock"`
	Reward           [][]*hexutil.Big `json:"reward,omitempty"`
	BaseFee          []*hexutil.Big   `json:"baseFeePerGas,omitempty"`
	GasUsedRatio     []float64        `json:"gasUsedRatio"`
	BlobBaseFee      []*hexutil.Big   `json:"baseFeePerBlobGas,omitempty"`
	BlobGasUsedRatio []float64        `json:"blobGasUsedRatio,omitempty"`
}
