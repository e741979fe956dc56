package chain

import (
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/txpool"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
)

// go-ethereum's admission errors, re-exported so that callers match them with
// errors.Is without importing core; their texts are what wallets expect.
var (
	ErrNonceTooLow        = core.ErrNonceTooLow
	ErrInsufficientFunds  = core.ErrInsufficientFunds
	ErrIntrinsicGas       = core.ErrIntrinsicGas
	ErrFloorDataGas       = core.ErrFloorDataGas
	ErrFeeCapTooLow       = core.ErrFeeCapTooLow
	ErrTipAboveFeeCap     = core.ErrTipAboveFeeCap
	ErrTxTypeNotSupported = core.ErrTxTypeNotSupported
	ErrGasLimitTooHigh    = core.ErrGasLimitTooHigh
	ErrInvalidChainID     = types.ErrInvalidChainId
	ErrAlreadyKnown       = txpool.ErrAlreadyKnown
	ErrReplaceUnderpriced = txpool.ErrReplaceUnderpriced
	ErrInvalidSender      = txpool.ErrInvalidSender
	ErrOversizedData      = txpool.ErrOversizedData
	ErrGasLimit           = txpool.ErrGasLimit
	ErrTxPoolOverflow     = errors.New("txpool is full")
	ErrAccountLimit       = txpool.ErrAccountLimitExceeded
	ErrNegativeValue      = txpool.ErrNegativeValue
)

// MaxTxSize is the largest transaction the pool admits, as in geth's pool.
const MaxTxSize = 4 * 32 * 1024

// ValidateTx runs the stateless checks geth's pool runs before admission:
// size, type, chain id, signature, gas limits and fee fields. It returns the
// sender.
func ValidateTx(config *params.ChainConfig, signer types.Signer, tx *types.Transaction, head *types.Header) (common.Address, error) {
	if size := tx.Size(); size > MaxTxSize {
		return common.Address{}, fmt.Errorf("%w: transaction size %d, limit %d", ErrOversizedData, size, MaxTxSize)
	}
	switch tx.Type() {
	case types.LegacyTxType, types.AccessListTxType, types.DynamicFeeTxType, types.SetCodeTxType:
	default:
		// Blob transactions need a blob pool and sidecars; the devnet has neither.
		return common.Address{}, fmt.Errorf("%w: type %d", ErrTxTypeNotSupported, tx.Type())
	}
	if tx.Protected() && tx.ChainId().Cmp(config.ChainID) != 0 {
		return common.Address{}, fmt.Errorf("%w: have %d want %d", ErrInvalidChainID, tx.ChainId(), config.ChainID)
	}
	if tx.Value().Sign() < 0 {
		return common.Address{}, ErrNegativeValue
	}
	if tx.GasFeeCap().BitLen() > 256 || tx.GasTipCap().BitLen() > 256 {
		return common.Address{}, fmt.Errorf("%w: fee field above 2^256", ErrInvalidSender)
	}
	if tx.GasFeeCapIntCmp(tx.GasTipCap()) < 0 {
		return common.Address{}, ErrTipAboveFeeCap
	}
	from, err := types.Sender(signer, tx)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: %v", ErrInvalidSender, err)
	}
	if tx.Gas() > head.GasLimit {
		return common.Address{}, fmt.Errorf("%w: gas %d, block limit %d", ErrGasLimit, tx.Gas(), head.GasLimit)
	}
	rules := config.Rules(head.Number, true, head.Time)
	if rules.IsOsaka && tx.Gas() > params.MaxTxGas {
		return common.Address{}, fmt.Errorf("%w (cap: %d, tx: %d)", ErrGasLimitTooHigh, params.MaxTxGas, tx.Gas())
	}
	if tx.Type() == types.SetCodeTxType && len(tx.SetCodeAuthorizations()) == 0 {
		return common.Address{}, fmt.Errorf("%w: set code tx without authorizations", ErrTxTypeNotSupported)
	}
	value, _ := uint256FromBig(tx.Value())
	intrinsic, err := core.IntrinsicGas(tx.Data(), tx.AccessList(), tx.SetCodeAuthorizations(), from, tx.To(), value, rules)
	if err != nil {
		return common.Address{}, err
	}
	if tx.Gas() < intrinsic {
		return common.Address{}, fmt.Errorf("%w: gas %v, minimum needed %v", ErrIntrinsicGas, tx.Gas(), intrinsic)
	}
	if rules.IsPrague {
		floor, err := core.FloorDataGas(rules, from, tx.To(), value, tx.Data(), tx.AccessList())
		if err != nil {
			return common.Address{}, err
		}
		if tx.Gas() < floor {
			return common.Address{}, fmt.Errorf("%w: gas %v, minimum needed %v", ErrFloorDataGas, tx.Gas(), floor)
		}
	}
	if head.BaseFee != nil && tx.GasFeeCapIntCmp(head.BaseFee) < 0 {
		return common.Address{}, fmt.Errorf("%w: address %v, maxFeePerGas: %s, baseFee: %s", ErrFeeCapTooLow, from, tx.GasFeeCap(), head.BaseFee)
	}
	return from, nil
}
