package chain

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/holiman/uint256"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
)

// Dev chains (the devnet, a sequencer started with --dev) let tests edit
// state and send as any account. Both travel inside the chain's own
// messages, signed by the sequencer, so every role follows them:
//
//   - a state edit (anvil_setBalance, _setCode, _setNonce, _setStorageAt) is
//     a DevEdit applied between two transactions of a block; the block
//     message lists them with their position (BlockEdits) and re-execution
//     applies them at the same place;
//   - a transaction sent from an impersonated account carries the
//     impersonation signature below, from which every role reads its sender.
//
// A sequencer that is not a dev chain refuses both.

// Kinds of DevEdit.
const (
	EditBalance uint8 = iota + 1
	EditNonce
	EditCode
	EditStorage
)

// DevEdit sets one field of one account: the balance (Value: big-endian
// amount), the nonce (Value: big-endian), the code (Value) or the storage
// slot Slot (Value: 32 bytes).
type DevEdit struct {
	Kind    uint8
	Address common.Address
	Slot    common.Hash
	Value   []byte
}

// BlockEdits are the edits applied before the block's transaction TxIndex
// (after the last one when TxIndex is the number of transactions).
type BlockEdits struct {
	TxIndex uint64
	Edits   []DevEdit
}

// ErrBadEdit is a DevEdit that cannot be applied.
var ErrBadEdit = errors.New("invalid dev edit")

// Check reports an edit that cannot be applied.
func (e DevEdit) Check() error {
	switch e.Kind {
	case EditBalance:
		if len(e.Value) > 32 {
			return fmt.Errorf("%w: balance of %d bytes", ErrBadEdit, len(e.Value))
		}
	case EditNonce:
		if len(e.Value) > 8 {
			return fmt.Errorf("%w: nonce of %d bytes", ErrBadEdit, len(e.Value))
		}
	case EditCode:
	case EditStorage:
		if len(e.Value) != 32 {
			return fmt.Errorf("%w: storage value of %d bytes", ErrBadEdit, len(e.Value))
		}
	default:
		return fmt.Errorf("%w: kind %d", ErrBadEdit, e.Kind)
	}
	return nil
}

// BalanceEdit, NonceEdit, CodeEdit and StorageEdit build edits.
func BalanceEdit(addr common.Address, v *uint256.Int) DevEdit {
	return DevEdit{Kind: EditBalance, Address: addr, Value: v.Bytes()}
}

func NonceEdit(addr common.Address, n uint64) DevEdit {
	return DevEdit{Kind: EditNonce, Address: addr, Value: new(big.Int).SetUint64(n).Bytes()}
}

func CodeEdit(addr common.Address, code []byte) DevEdit {
	return DevEdit{Kind: EditCode, Address: addr, Value: common.CopyBytes(code)}
}

func StorageEdit(addr common.Address, slot, value common.Hash) DevEdit {
	return DevEdit{Kind: EditStorage, Address: addr, Slot: slot, Value: value.Bytes()}
}

// applyEdit writes e into st.
func applyEdit(st *state.StateDB, e DevEdit) error {
	if err := e.Check(); err != nil {
		return err
	}
	switch e.Kind {
	case EditBalance:
		st.SetBalance(e.Address, new(uint256.Int).SetBytes(e.Value), tracing.BalanceChangeUnspecified)
	case EditNonce:
		st.SetNonce(e.Address, new(big.Int).SetBytes(e.Value).Uint64(), tracing.NonceChangeUnspecified)
	case EditCode:
		st.SetCode(e.Address, e.Value, tracing.CodeChangeUnspecified)
	case EditStorage:
		st.SetState(e.Address, e.Slot, common.BytesToHash(e.Value))
	}
	return nil
}

// ApplyEdits writes edits into st in order (for reads that must see them
// without a block builder).
func ApplyEdits(st *state.StateDB, edits []DevEdit) error {
	for _, e := range edits {
		if err := applyEdit(st, e); err != nil {
			return err
		}
	}
	return nil
}

// The impersonation signature: R is 2^160 + the sender's address, S a fixed
// constant no signing key produces in practice (it would have to hit it by
// chance). It is valid as signature values, so the tx encodes, hashes
// (uniquely per sender) and decodes like any other; every role reads the
// sender from R instead of recovering it. Only a dev sequencer admits such a
// tx, and only from an account it impersonates.
var (
	impersonationS = new(big.Int).Rsh(new(big.Int).SetBytes(crypto.Keccak256([]byte("meganode: impersonated sender"))), 2)
	impersonationR = new(big.Int).Lsh(common.Big1, 160)
)

// Impersonate returns tx (unsigned) with the impersonation signature of
// from, for signer's chain.
func Impersonate(signer types.Signer, tx *types.Transaction, from common.Address) (*types.Transaction, error) {
	sig := make([]byte, crypto.SignatureLength)
	new(big.Int).Add(impersonationR, new(big.Int).SetBytes(from[:])).FillBytes(sig[:32])
	impersonationS.FillBytes(sig[32:64])
	return tx.WithSignature(signer, sig)
}

// ImpersonatedSender returns the sender of a tx with the impersonation
// signature.
func ImpersonatedSender(tx *types.Transaction) (common.Address, bool) {
	_, r, s := tx.RawSignatureValues()
	if s == nil || r == nil || s.Cmp(impersonationS) != 0 || r.BitLen() != 161 {
		return common.Address{}, false
	}
	return common.BytesToAddress(new(big.Int).Sub(r, impersonationR).Bytes()), true
}

// devSigner reads impersonated senders and recovers every other one.
type devSigner struct{ types.Signer }

func (s devSigner) Sender(tx *types.Transaction) (common.Address, error) {
	if from, ok := ImpersonatedSender(tx); ok {
		return from, nil
	}
	return s.Signer.Sender(tx)
}

func (s devSigner) Equal(o types.Signer) bool {
	d, ok := o.(devSigner)
	return ok && s.Signer.Equal(d.Signer)
}

// NewSigner is go-ethereum's types.MakeSigner; on a dev chain it also
// reads the sender of impersonated transactions. A chain that is not a dev
// chain recovers every sender, so a block with a forged impersonation does
// not verify there.
func NewSigner(config *params.ChainConfig, number *big.Int, time uint64, dev bool) types.Signer {
	s := types.MakeSigner(config, number, time)
	if dev {
		return devSigner{s}
	}
	return s
}

// NewLatestSigner is types.LatestSigner, reading impersonated senders on a
// dev chain.
func NewLatestSigner(config *params.ChainConfig, dev bool) types.Signer {
	s := types.LatestSigner(config)
	if dev {
		return devSigner{s}
	}
	return s
}

// SignDev signs txdata with a dev account's key and records the account as
// the tx's sender in go-ethereum's sender cache (types.Sender), so that a
// signer equal to signer (the pool's, the block's) reads it instead of
// recovering from the signature the key has just made: an
// eth_sendTransaction spends one ECDSA operation instead of two.
func SignDev(acct DevAccount, signer types.Signer, txdata types.TxData) (*types.Transaction, error) {
	tx, err := types.SignNewTx(acct.Key, signer, txdata)
	if err != nil {
		return nil, err
	}
	_, _ = types.Sender(knownSender{Signer: signer, from: acct.Address}, tx)
	return tx, nil
}

// knownSender is signer for a tx whose sender is known: the key that made
// its signature. It equals what signer equals, so the sender it gives
// types.Sender is what those signers would recover.
type knownSender struct {
	types.Signer
	from common.Address
}

func (k knownSender) Sender(*types.Transaction) (common.Address, error) { return k.from, nil }
func (k knownSender) Equal(o types.Signer) bool                         { return k.Signer.Equal(o) }

// SenderOf is the sender of tx as shown to users: an impersonated sender as
// its signature names it, any other recovered with signer (whose cache
// answers a tx the pool recovered with the same kind of signer).
func SenderOf(signer types.Signer, tx *types.Transaction) (common.Address, error) {
	if from, ok := ImpersonatedSender(tx); ok {
		return from, nil
	}
	return types.Sender(signer, tx)
}

// displaySigner reads impersonated senders on any chain: for derived fields
// only (a creation's contract address), never for execution.
func displaySigner(config *params.ChainConfig, number *big.Int, time uint64) types.Signer {
	return NewSigner(config, number, time, true)
}

// MiningMode is how a dev chain's sequencer makes blocks.
type MiningMode int

const (
	// MineRealtime executes txs as they arrive into a mini-block every
	// MiniBlockTime and seals a block every BlockTime.
	MineRealtime MiningMode = iota
	// MineAuto seals every tx in a block of its own as soon as it arrives
	// (anvil's and Hardhat's automine): its receipt has its block's hash.
	MineAuto
	// MineManual executes nothing until Mine.
	MineManual
)

func (m MiningMode) String() string {
	switch m {
	case MineAuto:
		return "auto"
	case MineManual:
		return "manual"
	}
	return "realtime"
}

// AppendRemovedLogs appends copies of receipts' logs marked Removed, as a
// reorg announces them.
func AppendRemovedLogs(out []*types.Log, receipts []*types.Receipt) []*types.Log {
	for _, r := range receipts {
		for _, l := range r.Logs {
			cp := *l
			cp.Removed = true
			out = append(out, &cp)
		}
	}
	return out
}

// DropAbove deletes the entries of m keyed above n (what a rewind to block
// n leaves behind in a role's buffers).
func DropAbove[V any](m map[uint64]V, n uint64) {
	for k := range m {
		if k > n {
			delete(m, k)
		}
	}
}
