package l1

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/contracts"
)

// DepositVersion0 is the only TransactionDeposited version there is.
const DepositVersion0 = 0

// DepositTxType is the EIP-2718 type of a deposit transaction on L2.
const DepositTxType = chain.DepositTxType

// AliasOffset is what the portal adds to a contract caller's address, as the
// OP Stack does: an L1 contract cannot act as the L2 account at its address.
var AliasOffset = common.HexToAddress("0x1111000000000000000000000000000000001111")

var aliasModulus = new(big.Int).Lsh(big.NewInt(1), 160)

// ApplyAlias is an L1 contract's address as the from of its deposits.
func ApplyAlias(a common.Address) common.Address {
	sum := new(big.Int).Add(new(big.Int).SetBytes(a[:]), new(big.Int).SetBytes(AliasOffset[:]))
	return common.BigToAddress(sum.Mod(sum, aliasModulus)) // uint160 arithmetic wraps
}

// ErrBadDeposit says a log is not a TransactionDeposited this package reads.
var ErrBadDeposit = errors.New("malformed TransactionDeposited log")

// Deposit is the L2 deposit transaction (chain.Deposit) one
// TransactionDeposited log derives, and where the log is on L1.
type Deposit struct {
	chain.Deposit

	L1BlockHash   common.Hash
	L1BlockNumber uint64
	L1TxHash      common.Hash
	LogIndex      uint // the log's index in its L1 block
}

// UserDepositSourceHash is the OP Stack's source hash of a user deposit:
// keccak256(bytes32(0) ‖ keccak256(l1BlockHash ‖ bytes32(logIndex))).
func UserDepositSourceHash(l1BlockHash common.Hash, logIndex uint64) common.Hash {
	var idx [32]byte
	binary.BigEndian.PutUint64(idx[24:], logIndex)
	depositID := crypto.Keccak256(l1BlockHash[:], idx[:])
	var domain [32]byte // 0: user deposit
	return crypto.Keccak256Hash(domain[:], depositID)
}

// depositTopic is TransactionDeposited's event id.
func depositTopic() common.Hash {
	return mustArtifact(contracts.Portal).ABI.Events["TransactionDeposited"].ID
}

// DepositFromLog decodes a TransactionDeposited log; the portal's address is
// the caller's to check.
func DepositFromLog(l *types.Log) (*Deposit, error) {
	if len(l.Topics) != 4 || l.Topics[0] != depositTopic() {
		return nil, fmt.Errorf("%w: not a TransactionDeposited log", ErrBadDeposit)
	}
	if v := l.Topics[3].Big(); v.Sign() != DepositVersion0 {
		return nil, fmt.Errorf("%w: version %s", ErrBadDeposit, v)
	}
	out, err := mustArtifact(contracts.Portal).ABI.Events["TransactionDeposited"].Inputs.NonIndexed().Unpack(l.Data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadDeposit, err)
	}
	// opaqueData = mint (32) ‖ value (32) ‖ gasLimit (8) ‖ isCreation (1) ‖ data
	opaque := out[0].([]byte)
	if len(opaque) < 73 {
		return nil, fmt.Errorf("%w: %d bytes of opaque data, want at least 73", ErrBadDeposit, len(opaque))
	}
	d := &Deposit{
		Deposit: chain.Deposit{
			SourceHash: UserDepositSourceHash(l.BlockHash, uint64(l.Index)),
			From:       common.BytesToAddress(l.Topics[1][12:]),
			Mint:       new(big.Int).SetBytes(opaque[0:32]),
			Value:      new(big.Int).SetBytes(opaque[32:64]),
			Gas:        binary.BigEndian.Uint64(opaque[64:72]),
			Data:       common.CopyBytes(opaque[73:]),
		},
		L1BlockHash:   l.BlockHash,
		L1BlockNumber: l.BlockNumber,
		L1TxHash:      l.TxHash,
		LogIndex:      l.Index,
	}
	switch opaque[72] {
	case 0:
		to := common.BytesToAddress(l.Topics[2][12:])
		d.To = &to
	case 1: // a creation: the portal wants to == 0
	default:
		return nil, fmt.Errorf("%w: isCreation byte %#x", ErrBadDeposit, opaque[72])
	}
	return d, nil
}

// DepositsFromReceipt decodes the deposits portal logged in a receipt.
func DepositsFromReceipt(r *types.Receipt, portal common.Address) ([]*Deposit, error) {
	var out []*Deposit
	topic := depositTopic()
	for _, l := range r.Logs {
		if l.Address != portal || len(l.Topics) == 0 || l.Topics[0] != topic {
			continue
		}
		d, err := DepositFromLog(l)
		if err != nil {
			return nil, fmt.Errorf("log %d of %s: %w", l.Index, r.TxHash, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// DepositArgs are depositTransaction's arguments; msg.value (the mint) is
// the transaction options' Value.
type DepositArgs struct {
	To         common.Address
	Value      *big.Int
	GasLimit   uint64
	IsCreation bool
	Data       []byte
}

// Deposit calls the portal's depositTransaction.
func (c *Client) Deposit(ctx context.Context, opts *bind.TransactOpts, a DepositArgs) (*types.Receipt, error) {
	value := a.Value
	if value == nil {
		value = new(big.Int)
	}
	data := a.Data
	if data == nil {
		data = []byte{}
	}
	return transact(ctx, c.b, opts, c.portal, "depositTransaction", a.To, value, a.GasLimit, a.IsCreation, data)
}

// Deposits reads the deposits the portal logged in L1 blocks from..to.
func (c *Client) Deposits(ctx context.Context, from, to uint64) ([]*Deposit, error) {
	return readDeposits(ctx, c.b, c.addrs.Portal, from, to)
}

// readDeposits reads the deposits portal logged in L1 blocks from..to.
func readDeposits(ctx context.Context, b ethereum.LogFilterer, portal common.Address, from, to uint64) ([]*Deposit, error) {
	logs, err := b.FilterLogs(ctx, ethereum.FilterQuery{
		FromBlock: new(big.Int).SetUint64(from), ToBlock: new(big.Int).SetUint64(to),
		Addresses: []common.Address{portal}, Topics: [][]common.Hash{{depositTopic()}},
	})
	if err != nil {
		return nil, fmt.Errorf("deposits in L1 blocks %d..%d: %w", from, to, err)
	}
	out := make([]*Deposit, 0, len(logs))
	for i := range logs {
		d, err := DepositFromLog(&logs[i])
		if err != nil {
			return nil, fmt.Errorf("log %d of L1 block %d: %w", logs[i].Index, logs[i].BlockNumber, err)
		}
		out = append(out, d)
	}
	return out, nil
}
