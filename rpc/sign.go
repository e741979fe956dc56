package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"
)

// The devnet's unlocked accounts sign; no other account exists here.

// signHash signs a 32-byte digest with the unlocked account addr, V as 27/28.
func (api *EthAPI) signHash(addr common.Address, digest []byte) (hexutil.Bytes, error) {
	dev, err := api.devAccount(&addr)
	if err != nil {
		return nil, err
	}
	sig, err := crypto.Sign(digest, dev.Key)
	if err != nil {
		return nil, err
	}
	sig[crypto.RecoveryIDOffset] += 27
	return sig, nil
}

// Sign is eth_sign: an EIP-191 personal-message signature of data.
func (api *EthAPI) Sign(addr common.Address, data hexutil.Bytes) (hexutil.Bytes, error) {
	return api.signHash(addr, accounts.TextHash(data))
}

// SignTransactionResult is eth_signTransaction's answer, as geth.
type SignTransactionResult struct {
	Raw hexutil.Bytes      `json:"raw"`
	Tx  *types.Transaction `json:"tx"`
}

// SignTransaction signs without sending. As geth, gas, fees and nonce must be
// given.
func (api *EthAPI) SignTransaction(ctx context.Context, args TransactionArgs) (*SignTransactionResult, error) {
	switch {
	case args.Gas == nil:
		return nil, errors.New("gas not specified")
	case args.GasPrice == nil && (args.MaxPriorityFeePerGas == nil || args.MaxFeePerGas == nil):
		return nil, errors.New("missing gasPrice or maxFeePerGas/maxPriorityFeePerGas")
	case args.Nonce == nil:
		return nil, errors.New("nonce not specified")
	}
	tx, err := api.signArgs(ctx, args)
	if err != nil {
		return nil, err
	}
	raw, err := tx.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return &SignTransactionResult{Raw: raw, Tx: tx}, nil
}

// typedDataParam accepts EIP-712 typed data as a JSON object or as a string
// holding one (what MetaMask and ethers send).
type typedDataParam struct{ apitypes.TypedData }

func (p *typedDataParam) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		b = []byte(s)
	}
	return json.Unmarshal(b, &p.TypedData)
}

// SignTypedData_v4 is eth_signTypedData_v4: an EIP-712 signature.
func (api *EthAPI) SignTypedData_v4(addr common.Address, data typedDataParam) (hexutil.Bytes, error) {
	digest, _, err := apitypes.TypedDataAndHash(data.TypedData)
	if err != nil {
		return nil, &invalidParamsError{fmt.Sprintf("invalid typed data: %v", err)}
	}
	return api.signHash(addr, digest)
}

// SignTypedData is eth_signTypedData, which wallets treat as v4.
func (api *EthAPI) SignTypedData(addr common.Address, data typedDataParam) (hexutil.Bytes, error) {
	return api.SignTypedData_v4(addr, data)
}
