package l1

import (
	"context"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/meganode/meganode/contracts"
)

// Withdrawal is a withdrawal initiated at the L2's L2ToL1MessagePasser; the
// field names are the portal's WithdrawalTransaction's, for the ABI.
type Withdrawal struct {
	Nonce    *big.Int // the message passer's versioned nonce
	Sender   common.Address
	Target   common.Address
	Value    *big.Int
	GasLimit *big.Int
	Data     []byte
}

// Hash is the message passer's withdrawal hash:
// keccak256(abi.encode(nonce, sender, target, value, gasLimit, data)).
func (w *Withdrawal) Hash() common.Hash {
	word := func(x *big.Int) []byte { return common.LeftPadBytes(x.Bytes(), 32) }
	enc := append(word(w.Nonce), common.LeftPadBytes(w.Sender[:], 32)...)
	enc = append(enc, common.LeftPadBytes(w.Target[:], 32)...)
	enc = append(enc, word(w.Value)...)
	enc = append(enc, word(w.GasLimit)...)
	enc = append(enc, word(big.NewInt(6*32))...) // offset of data
	enc = append(enc, word(big.NewInt(int64(len(w.Data))))...)
	enc = append(enc, common.RightPadBytes(w.Data, (len(w.Data)+31)/32*32)...)
	return crypto.Keccak256Hash(enc)
}

// StorageSlot is the message passer's slot of sentMessages[w.Hash()]: the
// mapping is at slot 0, so keccak256(abi.encode(hash, uint256(0))).
func (w *Withdrawal) StorageSlot() common.Hash {
	h := w.Hash()
	return crypto.Keccak256Hash(h[:], make([]byte, 32))
}

// OutputRootProof is an output root's preimage (OutputRoot's arguments).
type OutputRootProof struct {
	Version                  [32]byte
	StateRoot                [32]byte
	MessagePasserStorageRoot [32]byte
	LatestBlockhash          [32]byte
}

// Root is the output root the proof is the preimage of.
func (p OutputRootProof) Root() common.Hash {
	return OutputRoot(p.StateRoot, p.MessagePasserStorageRoot, p.LatestBlockhash)
}

// ProveWithdrawal proves w against the output at index: proof is the
// message passer's storage proof of w.StorageSlot() in the trie of
// p.MessagePasserStorageRoot (go-ethereum's eth_getProof storageProof).
func (c *Client) ProveWithdrawal(ctx context.Context, opts *bind.TransactOpts, w *Withdrawal, index uint64, p OutputRootProof, proof [][]byte) (*types.Receipt, error) {
	return transact(ctx, c.b, opts, c.portal, "proveWithdrawalTransaction", *w, new(big.Int).SetUint64(index), p, proof)
}

// FinalizeWithdrawal executes a proven withdrawal on L1.
func (c *Client) FinalizeWithdrawal(ctx context.Context, opts *bind.TransactOpts, w *Withdrawal) (*types.Receipt, error) {
	return transact(ctx, c.b, opts, c.portal, "finalizeWithdrawalTransaction", *w)
}

// WithdrawalFinalized reports whether the portal finalized the withdrawal with hash h.
func (c *Client) WithdrawalFinalized(ctx context.Context, h common.Hash) (bool, error) {
	out, err := c.portal.call(ctx, "finalizedWithdrawals", h)
	if err != nil {
		return false, err
	}
	return out[0].(bool), nil
}

// WithdrawalFromLog decodes the L2 message passer's MessagePassed log: the
// withdrawal and the hash the passer stored (which Hash reproduces).
func WithdrawalFromLog(l *types.Log) (*Withdrawal, common.Hash, error) {
	ev := mustArtifact(contracts.MessagePasser).ABI.Events["MessagePassed"]
	if len(l.Topics) != 4 || l.Topics[0] != ev.ID {
		return nil, common.Hash{}, fmt.Errorf("log %d: not a MessagePassed log", l.Index)
	}
	out, err := ev.Inputs.NonIndexed().Unpack(l.Data)
	if err != nil {
		return nil, common.Hash{}, fmt.Errorf("log %d: MessagePassed: %w", l.Index, err)
	}
	w := &Withdrawal{
		Nonce: l.Topics[1].Big(), Sender: common.BytesToAddress(l.Topics[2][12:]), Target: common.BytesToAddress(l.Topics[3][12:]),
		Value: out[0].(*big.Int), GasLimit: out[1].(*big.Int), Data: out[2].([]byte),
	}
	return w, out[3].([32]byte), nil
}
