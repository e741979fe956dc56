package rpc

import (
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/vm"
)

// revertError is a call that reverted: code 3, data the revert bytes, as geth.
type revertError struct {
	msg    string
	reason string
}

func newRevertError(revert []byte) *revertError {
	msg := vm.ErrExecutionReverted.Error()
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

// requestError is a JSON-RPC error the HTTP layer writes itself.
type requestError struct {
	code int
	msg  string
}

func (e *requestError) Error() string  { return e.msg }
func (e *requestError) ErrorCode() int { return e.code }
