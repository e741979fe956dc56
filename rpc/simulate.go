package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
)

// simBlockArgs is one entry of eth_simulateV1's blockStateCalls.
type simBlockArgs struct {
	BlockOverrides *BlockOverrides
	StateOverrides *StateOverride
	Calls          []TransactionArgs
}

// UnmarshalJSON rejects override keys that name no field (or the same field
// twice), as geth does: a misspelt override must not be silently ignored.
func (b *simBlockArgs) UnmarshalJSON(input []byte) error {
	var dec struct {
		BlockOverrides json.RawMessage
		StateOverrides map[common.Address]json.RawMessage
		Calls          []TransactionArgs
	}
	if err := json.Unmarshal(input, &dec); err != nil {
		return err
	}
	res := simBlockArgs{Calls: dec.Calls}
	if dec.BlockOverrides != nil {
		if err := checkKeys(dec.BlockOverrides, reflect.TypeFor[BlockOverrides](), "block override"); err != nil {
			return err
		}
		if err := json.Unmarshal(dec.BlockOverrides, &res.BlockOverrides); err != nil {
			return err
		}
	}
	if dec.StateOverrides != nil {
		so := make(StateOverride, len(dec.StateOverrides))
		for addr, raw := range dec.StateOverrides {
			if err := checkKeys(raw, reflect.TypeFor[OverrideAccount](), "state override for "+addr.Hex()); err != nil {
				return err
			}
			var acct OverrideAccount
			if err := json.Unmarshal(raw, &acct); err != nil {
				return err
			}
			so[addr] = acct
		}
		res.StateOverrides = &so
	}
	*b = res
	return nil
}

// checkKeys reports a key of the JSON object that matches no field of t
// (case-insensitively, as encoding/json matches), or a field two keys name.
func checkKeys(input json.RawMessage, t reflect.Type, what string) error {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(input, &keys); err != nil || keys == nil {
		return nil
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	slices.Sort(names)
	seen := make(map[int]string)
	for _, key := range names {
		field := -1
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" {
				name = f.Name
			}
			if f.IsExported() && name != "-" && strings.EqualFold(key, name) {
				field = i
				break
			}
		}
		if field < 0 {
			return fmt.Errorf("unknown field %q in %s", key, what)
		}
		if prev, ok := seen[field]; ok {
			return fmt.Errorf("keys %q and %q in %s name the same field", prev, key, what)
		}
		seen[field] = key
	}
	return nil
}

// simOpts is eth_simulateV1's first parameter.
type simOpts struct {
	BlockStateCalls        []simBlockArgs
	TraceTransfers         bool
	Validation             bool
	ReturnFullTransactions bool
}

// simCallResult is one call's entry in a simulated block's "calls".
type simCallResult struct {
	ReturnData hexutil.Bytes  `json:"returnData"`
	Logs       []*types.Log   `json:"logs"`
	GasUsed    hexutil.Uint64 `json:"gasUsed"`
	MaxUsedGas hexutil.Uint64 `json:"maxUsedGas"`
	Status     hexutil.Uint64 `json:"status"`
	Error      *simCallError  `json:"error,omitempty"`
}

type simCallError struct {
	Message string `json:"message"`
	Code    int    `json:"code"`
	Data    string `json:"data,omitempty"`
}

// simulateV1 runs blocks of calls on top of a block (latest by default: the
// block being built, with its preconfirmed state) and returns the blocks
// they would make, without changing anything.
func (api *EthAPI) simulateV1(ctx context.Context, opts simOpts, bnh *gethrpc.BlockNumberOrHash) ([]map[string]interface{}, error) {
	if len(opts.BlockStateCalls) == 0 {
		return nil, &invalidParamsError{"empty input"}
	}
	if len(opts.BlockStateCalls) > chain.SimMaxBlocks {
		return nil, &chain.SimError{Code: chain.SimCodeClientLimit, Msg: "too many blocks"}
	}
	blocks := make([]chain.SimBlock, len(opts.BlockStateCalls))
	total := 0
	for i, b := range opts.BlockStateCalls {
		if len(b.Calls) > chain.SimMaxCallsPerBlock {
			return nil, &chain.SimError{Code: chain.SimCodeClientLimit, Msg: fmt.Sprintf("too many calls in block: %d > %d", len(b.Calls), chain.SimMaxCallsPerBlock)}
		}
		if total += len(b.Calls); total > chain.SimMaxCalls {
			return nil, &chain.SimError{Code: chain.SimCodeClientLimit, Msg: fmt.Sprintf("too many calls: %d > %d", total, chain.SimMaxCalls)}
		}
		sb, err := b.toChain()
		if err != nil {
			return nil, err
		}
		blocks[i] = sb
	}
	st, base, err := api.stateAt(bnh)
	if err != nil {
		return nil, err
	}
	env := chain.CallEnv{Config: api.config, Chain: api.b.Chain, State: st, Header: base, GasCap: api.limits.Config().GasCap}
	results, err := chain.Simulate(ctx, env, blocks, chain.SimOptions{TraceTransfers: opts.TraceTransfers, Validation: opts.Validation})
	if err != nil {
		return nil, err
	}
	out := make([]map[string]interface{}, len(results))
	for i, r := range results {
		fields := marshalBlock(r.Block, opts.ReturnFullTransactions, api.config)
		if opts.ReturnFullTransactions {
			for _, tx := range fields["transactions"].([]interface{}) {
				rtx := tx.(*RPCTransaction)
				rtx.From = r.Senders[rtx.Hash]
			}
		}
		calls := make([]simCallResult, len(r.Calls))
		for j, c := range r.Calls {
			cr := simCallResult{ReturnData: c.Return, Logs: c.Logs, GasUsed: hexutil.Uint64(c.GasUsed), MaxUsedGas: hexutil.Uint64(c.MaxUsedGas), Status: hexutil.Uint64(types.ReceiptStatusSuccessful)}
			if cr.Logs == nil {
				cr.Logs = []*types.Log{}
			}
			if c.Err != nil {
				cr.Status = hexutil.Uint64(types.ReceiptStatusFailed)
				if errors.Is(c.Err, chain.ErrExecutionReverted) {
					re := newRevertError(c.Revert)
					cr.Error = &simCallError{Message: re.Error(), Code: re.ErrorCode(), Data: re.reason}
				} else {
					msg := c.Err.Error()
					if c.GasCapped {
						msg += " (gas limit was capped by the RPC server's global gas cap)"
					}
					cr.Error = &simCallError{Message: msg, Code: chain.SimCodeVMError}
				}
			}
			calls[j] = cr
		}
		fields["calls"] = calls
		out[i] = fields
	}
	return out, nil
}

func (b *simBlockArgs) toChain() (chain.SimBlock, error) {
	var sb chain.SimBlock
	if o := b.BlockOverrides; o != nil {
		sb.Overrides = chain.SimBlockOverrides{
			Number: o.Number.ToInt(), Difficulty: o.Difficulty.ToInt(), BaseFee: o.BaseFeePerGas.ToInt(), BlobBaseFee: o.BlobBaseFee.ToInt(),
			Time: (*uint64)(o.Time), GasLimit: (*uint64)(o.GasLimit),
			FeeRecipient: o.FeeRecipient, PrevRandao: o.PrevRandao, BeaconRoot: o.BeaconRoot, Withdrawals: o.Withdrawals,
		}
	}
	state, err := b.StateOverrides.toChain(true)
	if err != nil {
		return sb, err
	}
	sb.State = state
	sb.Calls = make([]chain.SimCall, len(b.Calls))
	for i, a := range b.Calls {
		c := chain.SimCall{
			To: a.To, Gas: (*uint64)(a.Gas), Nonce: (*uint64)(a.Nonce), Data: a.data(), AccessList: a.AccessList, AuthList: a.AuthorizationList,
			GasPrice: a.GasPrice.ToInt(), MaxFeePerGas: a.MaxFeePerGas.ToInt(), MaxPriorityFeePerGas: a.MaxPriorityFeePerGas.ToInt(),
			Value: a.Value.ToInt(), ChainID: a.ChainID.ToInt(),
			BlobHashes: a.BlobVersionedHashes, MaxFeePerBlobGas: a.MaxFeePerBlobGas.ToInt(),
		}
		if a.From != nil {
			c.From = *a.From
		}
		sb.Calls[i] = c
	}
	return sb, nil
}
