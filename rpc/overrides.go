package rpc

import (
	"errors"
	"fmt"

	"github.com/holiman/uint256"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/meganode/meganode/chain"
)

// OverrideAccount is one entry of eth_call's state override set, with
// go-ethereum's field names.
type OverrideAccount struct {
	Nonce            *hexutil.Uint64             `json:"nonce"`
	Code             *hexutil.Bytes              `json:"code"`
	Balance          *hexutil.Big                `json:"balance"`
	State            map[common.Hash]common.Hash `json:"state"`
	StateDiff        map[common.Hash]common.Hash `json:"stateDiff"`
	MovePrecompileTo *common.Address             `json:"movePrecompileToAddress"`
}

// StateOverride maps addresses to the overrides of one call.
type StateOverride map[common.Address]OverrideAccount

func (o *StateOverride) apply(st *state.StateDB) error {
	out, err := o.toChain(false)
	if err != nil || out == nil {
		return err
	}
	return chain.ApplyOverrides(st, out)
}

// toChain converts the overrides; movePrecompileToAddress is honoured only
// where the caller runs the EVM with a movable precompile set (allowMove).
func (o *StateOverride) toChain(allowMove bool) (map[common.Address]chain.AccountOverride, error) {
	if o == nil || len(*o) == 0 {
		return nil, nil
	}
	out := make(map[common.Address]chain.AccountOverride, len(*o))
	for addr, acct := range *o {
		if acct.MovePrecompileTo != nil && !allowMove {
			return nil, &invalidParamsError{fmt.Sprintf("account %s: movePrecompileToAddress is not supported", addr.Hex())}
		}
		ao := chain.AccountOverride{MovePrecompileTo: acct.MovePrecompileTo}
		if acct.Nonce != nil {
			n := uint64(*acct.Nonce)
			ao.Nonce = &n
		}
		if acct.Code != nil {
			code := []byte(*acct.Code)
			ao.Code = &code
		}
		if acct.Balance != nil {
			b, overflow := uint256.FromBig(acct.Balance.ToInt())
			if overflow || acct.Balance.ToInt().Sign() < 0 {
				return nil, &invalidParamsError{fmt.Sprintf("account %s: balance out of range", addr.Hex())}
			}
			ao.Balance = b
		}
		ao.State, ao.StateDiff = acct.State, acct.StateDiff
		out[addr] = ao
	}
	return out, nil
}

// BlockOverrides replaces header fields of the block a call runs in.
type BlockOverrides struct {
	Number        *hexutil.Big
	Difficulty    *hexutil.Big
	Time          *hexutil.Uint64
	GasLimit      *hexutil.Uint64
	FeeRecipient  *common.Address
	PrevRandao    *common.Hash
	BaseFeePerGas *hexutil.Big
	BlobBaseFee   *hexutil.Big
	BeaconRoot    *common.Hash
	Withdrawals   *types.Withdrawals
}

func (o *BlockOverrides) apply(h *types.Header) (*types.Header, error) {
	if o == nil {
		return h, nil
	}
	if o.BeaconRoot != nil {
		return nil, errors.New(`block override "beaconRoot" is not supported for this RPC method`)
	}
	if o.Withdrawals != nil {
		return nil, errors.New(`block override "withdrawals" is not supported for this RPC method`)
	}
	if o.BlobBaseFee != nil {
		return nil, errors.New(`block override "blobBaseFee" is not supported: the chain has no blobs`)
	}
	h = types.CopyHeader(h)
	if o.Number != nil {
		h.Number = o.Number.ToInt()
	}
	if o.Difficulty != nil && h.Difficulty.Sign() != 0 {
		h.Difficulty = o.Difficulty.ToInt()
	}
	if o.Time != nil {
		h.Time = uint64(*o.Time)
	}
	if o.GasLimit != nil {
		h.GasLimit = uint64(*o.GasLimit)
	}
	if o.FeeRecipient != nil {
		h.Coinbase = *o.FeeRecipient
	}
	if o.PrevRandao != nil {
		h.MixDigest = *o.PrevRandao
	}
	if o.BaseFeePerGas != nil {
		h.BaseFee = o.BaseFeePerGas.ToInt()
	}
	return h, nil
}
