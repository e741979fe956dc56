package rpc

import (
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/meganode/meganode/chain"
)

// revertError is a call that reverted: code 3, data the revert bytes, as geth.
type revertError struct {
	msg    string
	reason string
}

func newRevertError(revert []byte) *revertError {
	msg := chain.ErrExecutionReverted.Error()
	if reason, err := abi.UnpackRevert(revert); err == nil {
		msg += ": " + reason
	}
	return &revertError{msg: msg, reason: hexutil.Encode(revert)}
}

func (e *revertError) Error() string          { return e.msg }
func (e *revertError) ErrorCode() int         { return 3 }
func (e *revertError) ErrorData() interface{} { return e.reason }

// invalidParamsError is −32602.
type invalidParamsError struct{ msg string }

func (e *invalidParamsError) Error() string  { return e.msg }
func (e *invalidParamsError) ErrorCode() int { return -32602 }
