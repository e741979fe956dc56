package chain

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/holiman/uint256"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
)

// Deposits are L2 transactions that start on L1 (the OP Stack's deposited
// transactions, type 0x7E). They carry no signature and no nonce: the source
// hash names them, the portal on L1 vouches for From, and the gas was bought
// on L1. go-ethereum's types.Transaction cannot hold a type it does not know
// (TxData has unexported methods), so a deposit is its own type here and a
// block carries its deposits beside its transactions, ahead of them in every
// list the header commits to (docs/l1.md, "Deposits on L2").

// DepositTxType is the EIP-2718 type of a deposit transaction.
const DepositTxType = 0x7E

// DepositReceiptVersion is the receipt version OP's Canyon introduced: the
// receipt encodes the deposit nonce and this version.
const DepositReceiptVersion = 1

// ErrBadDeposit is a deposit that cannot be part of a block at all (as
// opposed to a deposit that fails: that one is included with status 0).
var ErrBadDeposit = errors.New("invalid deposit")

// Deposit is a deposit transaction: the OP Stack's fields, in their RLP order.
type Deposit struct {
	SourceHash common.Hash
	From       common.Address
	To         *common.Address `rlp:"nil"` // nil creates a contract
	Mint       *big.Int        // wei minted to From on L2 (msg.value on L1)
	Value      *big.Int        // wei sent from From to To
	Gas        uint64
	IsSystemTx bool // always false: Regolith retired system deposits
	Data       []byte
}

// depositFields is Deposit without its RLP methods: the payload after the
// type byte.
type depositFields Deposit

// normalized is d with nil amounts as zero, so a zero Deposit encodes.
func (d *Deposit) normalized() *Deposit {
	c := *d
	if c.Mint == nil {
		c.Mint = new(big.Int)
	}
	if c.Value == nil {
		c.Value = new(big.Int)
	}
	return &c
}

// MarshalBinary is the OP Stack's L2 encoding
// 0x7E ‖ rlp([sourceHash, from, to, mint, value, gas, isSystemTx, data]),
// a creation's to the empty string.
func (d *Deposit) MarshalBinary() ([]byte, error) {
	enc, err := rlp.EncodeToBytes((*depositFields)(d.normalized()))
	if err != nil {
		return nil, fmt.Errorf("encode deposit %s: %w", d.SourceHash, err)
	}
	return append([]byte{DepositTxType}, enc...), nil
}

// UnmarshalBinary decodes what MarshalBinary produced.
func (d *Deposit) UnmarshalBinary(b []byte) error {
	if len(b) == 0 || b[0] != DepositTxType {
		return fmt.Errorf("%w: not a type %#x transaction", ErrBadDeposit, DepositTxType)
	}
	var out depositFields
	if err := rlp.DecodeBytes(b[1:], &out); err != nil {
		return fmt.Errorf("%w: %v", ErrBadDeposit, err)
	}
	*d = Deposit(out)
	return nil
}

// EncodeRLP makes a deposit inside an RLP message the byte string of its
// binary encoding, as go-ethereum encodes typed transactions in a body.
func (d *Deposit) EncodeRLP(w io.Writer) error {
	enc, err := d.MarshalBinary()
	if err != nil {
		return err
	}
	return rlp.Encode(w, enc)
}

// DecodeRLP decodes what EncodeRLP wrote.
func (d *Deposit) DecodeRLP(s *rlp.Stream) error {
	b, err := s.Bytes()
	if err != nil {
		return err
	}
	return d.UnmarshalBinary(b)
}

// Hash is the deposit's L2 transaction hash: keccak256 of MarshalBinary.
func (d *Deposit) Hash() common.Hash {
	enc, err := d.MarshalBinary()
	if err != nil {
		panic(err) // every field of a normalized deposit encodes
	}
	return crypto.Keccak256Hash(enc)
}

// Check reports a deposit no block may carry: a system deposit (retired by
// Regolith) or an amount beyond 256 bits. Anything else is executed, and a
// deposit that cannot run fails with its mint kept.
func (d *Deposit) Check() error {
	if d.IsSystemTx {
		return fmt.Errorf("%w: %s is a system deposit", ErrBadDeposit, d.SourceHash)
	}
	for _, v := range []*big.Int{d.Mint, d.Value} {
		if v != nil && (v.Sign() < 0 || v.BitLen() > 256) {
			return fmt.Errorf("%w: %s: amount %s out of range", ErrBadDeposit, d.SourceHash, v)
		}
	}
	return nil
}

// mint and value as uint256; Check has ruled out overflow.
func (d *Deposit) amounts() (mint, value *uint256.Int) {
	mint, _ = uint256FromBig(d.Mint)
	value, _ = uint256FromBig(d.Value)
	return mint, value
}

// DepositReceipt is a deposit's receipt: go-ethereum's receipt (Type 0x7E)
// and the two fields OP added that types.Receipt has no room for. The RPC
// layer reads them from here (RPCDepositReceipt).
type DepositReceipt struct {
	*types.Receipt
	// DepositNonce is From's nonce before the deposit ran (a creation's
	// address is CreateAddress(From, DepositNonce)).
	DepositNonce uint64
	// Version is DepositReceiptVersion.
	Version uint64
}

// depositReceiptRLP is OP's (Canyon) consensus encoding of a deposit
// receipt after its type byte.
type depositReceiptRLP struct {
	Status            []byte
	CumulativeGasUsed uint64
	Bloom             types.Bloom
	Logs              []*types.Log
	DepositNonce      uint64
	Version           uint64
}

// MarshalBinary is the receipt's consensus encoding:
// 0x7E ‖ rlp([status, cumulativeGasUsed, bloom, logs, depositNonce, version]).
func (r *DepositReceipt) MarshalBinary() ([]byte, error) {
	status := []byte{}
	if r.Status == types.ReceiptStatusSuccessful {
		status = []byte{1}
	}
	logs := r.Logs
	if logs == nil {
		logs = []*types.Log{}
	}
	var buf bytes.Buffer
	buf.WriteByte(DepositTxType)
	err := rlp.Encode(&buf, &depositReceiptRLP{status, r.CumulativeGasUsed, r.Bloom, logs, r.DepositNonce, r.Version})
	return buf.Bytes(), err
}

// UnmarshalBinary decodes the consensus fields MarshalBinary wrote; the
// derived ones (hash, gas used, contract address, positions) are
// DeriveDepositReceipts'.
func (r *DepositReceipt) UnmarshalBinary(b []byte) error {
	if len(b) == 0 || b[0] != DepositTxType {
		return fmt.Errorf("%w: not a deposit receipt", ErrBadDeposit)
	}
	var dec depositReceiptRLP
	if err := rlp.DecodeBytes(b[1:], &dec); err != nil {
		return fmt.Errorf("%w: receipt: %v", ErrBadDeposit, err)
	}
	rec := &types.Receipt{Type: DepositTxType, CumulativeGasUsed: dec.CumulativeGasUsed, Bloom: dec.Bloom, Logs: dec.Logs}
	switch {
	case len(dec.Status) == 0:
		rec.Status = types.ReceiptStatusFailed
	case len(dec.Status) == 1 && dec.Status[0] == 1:
		rec.Status = types.ReceiptStatusSuccessful
	default:
		return fmt.Errorf("%w: receipt status %x", ErrBadDeposit, dec.Status)
	}
	*r = DepositReceipt{Receipt: rec, DepositNonce: dec.DepositNonce, Version: dec.Version}
	return nil
}

// EncodeRLP and DecodeRLP carry a receipt in messages as the byte string of
// its consensus encoding.
func (r *DepositReceipt) EncodeRLP(w io.Writer) error {
	enc, err := r.MarshalBinary()
	if err != nil {
		return err
	}
	return rlp.Encode(w, enc)
}

func (r *DepositReceipt) DecodeRLP(s *rlp.Stream) error {
	b, err := s.Bytes()
	if err != nil {
		return err
	}
	return r.UnmarshalBinary(b)
}

// DeriveDepositReceipts fills the fields of received deposit receipts that
// the consensus encoding leaves out, as go-ethereum's DeriveFields does for
// transactions: deposits come first in a block, so deposit i is at index i,
// and its logs from logIndex 0.
func DeriveDepositReceipts(deposits []*Deposit, receipts []*DepositReceipt, blockHash common.Hash, number, time uint64) error {
	if len(deposits) != len(receipts) {
		return fmt.Errorf("%w: %d deposits and %d receipts", ErrBadBlock, len(deposits), len(receipts))
	}
	var cum uint64
	var logIndex uint
	for i, r := range receipts {
		d := deposits[i]
		if r.CumulativeGasUsed < cum {
			return fmt.Errorf("%w: deposit receipt %d: cumulative gas %d below %d", ErrBadBlock, i, r.CumulativeGasUsed, cum)
		}
		r.TxHash, r.GasUsed = d.Hash(), r.CumulativeGasUsed-cum
		cum = r.CumulativeGasUsed
		r.EffectiveGasPrice = new(big.Int)
		r.ContractAddress = common.Address{}
		if d.To == nil {
			r.ContractAddress = crypto.CreateAddress(d.From, r.DepositNonce)
		}
		r.BlockHash, r.BlockNumber, r.TransactionIndex = blockHash, new(big.Int).SetUint64(number), uint(i)
		for _, l := range r.Logs {
			l.TxHash, l.TxIndex, l.Index = r.TxHash, uint(i), logIndex
			l.BlockHash, l.BlockNumber, l.BlockTimestamp = blockHash, number, time
			logIndex++
		}
	}
	return nil
}

// blockTxList is a block's transaction list as its header commits to it:
// the deposits, then the transactions.
type blockTxList struct {
	deposits []*Deposit
	txs      types.Transactions
}

func (l blockTxList) Len() int { return len(l.deposits) + len(l.txs) }

func (l blockTxList) EncodeIndex(i int, w *bytes.Buffer) {
	if i < len(l.deposits) {
		enc, _ := l.deposits[i].MarshalBinary()
		w.Write(enc)
		return
	}
	l.txs.EncodeIndex(i-len(l.deposits), w)
}

// blockReceiptList is the receipts in the same order.
type blockReceiptList struct {
	deposits []*DepositReceipt
	receipts types.Receipts
}

func (l blockReceiptList) Len() int { return len(l.deposits) + len(l.receipts) }

func (l blockReceiptList) EncodeIndex(i int, w *bytes.Buffer) {
	if i < len(l.deposits) {
		enc, _ := l.deposits[i].MarshalBinary()
		w.Write(enc)
		return
	}
	l.receipts.EncodeIndex(i-len(l.deposits), w)
}

// TxRoot is the header's transactions root of a block with deposits: the
// trie of deposits then transactions, as OP's (and any client hashing the
// block's transaction list as eth_getBlockByNumber shows it) computes it.
func TxRoot(deposits []*Deposit, txs types.Transactions) common.Hash {
	return types.DeriveSha(blockTxList{deposits, txs}, trie.NewStackTrie(nil))
}

// ReceiptRoot is the header's receipts root of a block with deposits.
func ReceiptRoot(deposits []*DepositReceipt, receipts types.Receipts) common.Hash {
	return types.DeriveSha(blockReceiptList{deposits, receipts}, trie.NewStackTrie(nil))
}
