package chain

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/bitutil"
	"github.com/ethereum/go-ethereum/consensus/misc/eip4844"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/stateless"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/triedb"
)

// ErrBadBlock wraps every reason a received block is refused: its contents do
// not match its header, or re-executing it gives another result.
var ErrBadBlock = errors.New("bad block")

// ErrLocalState means this node's state database failed a block's reads
// or writes (closed, failing, or missing the state): no verdict on the
// block, which is not at fault.
var ErrLocalState = errors.New("local state database failed")

// BlockMessage is a sealed block as the sequencer publishes it: the bundle
// without its witness (replicas do not need it; it travels on its own topic),
// the chain's mini-block count after the block, and the senders of its
// transactions, recovered once by the sequencer.
type BlockMessage struct {
	Bundle         *BlockBundle
	MiniBlockCount uint64
	Senders        []common.Address
	// Dev chains only: the block's state edits, and Rewind, set when the
	// sequencer went back to this block (evm_revert): a follower whose chain
	// holds this block drops every block after it.
	Edits  []BlockEdits `rlp:"optional"`
	Rewind bool         `rlp:"optional"`
}

// WitnessMessage is a sealed block's execution witness, with the Merkle
// proof of the message passer account in the block's post-state: a
// stateless prover checks it against the root it computes and takes the
// output root's storage root from it.
type WitnessMessage struct {
	Number      uint64
	Hash        common.Hash
	Witness     []byte
	PasserProof [][]byte `rlp:"optional"`
}

// DeriveMiniBlock fills the fields a received mini-block's receipts do not
// carry on the wire (they travel in consensus form): tx hashes, gas used,
// effective gas price, contract addresses, block number and the preconfirmed
// block hash, and the block-wide tx and log indexes. txOffset, logOffset and
// cumGas are the txs, logs and gas of the block's earlier mini-blocks, their
// deposits included. The first mini-block's deposits are derived first and
// its transactions follow them.
func DeriveMiniBlock(config *params.ChainConfig, mb *MiniBlock, baseFee *big.Int, blockHash common.Hash, txOffset, logOffset uint, cumGas uint64) error {
	if len(mb.Txs) != len(mb.Receipts) {
		return fmt.Errorf("%w: mini-block %d has %d txs and %d receipts", ErrBadBlock, mb.Number, len(mb.Txs), len(mb.Receipts))
	}
	if len(mb.Deposits) > 0 || len(mb.DepositReceipts) > 0 {
		if mb.Index != 0 {
			return fmt.Errorf("%w: mini-block %d (index %d in block %d) carries deposits", ErrBadBlock, mb.Number, mb.Index, mb.BlockNumber)
		}
		if err := DeriveDepositReceipts(mb.Deposits, mb.DepositReceipts, blockHash, mb.BlockNumber, mb.BlockTimestamp); err != nil {
			return fmt.Errorf("mini-block %d: %w", mb.Number, err)
		}
		for _, r := range mb.DepositReceipts {
			txOffset, logOffset, cumGas = txOffset+1, logOffset+uint(len(r.Logs)), r.CumulativeGasUsed
		}
	}
	signer := displaySigner(config, new(big.Int).SetUint64(mb.BlockNumber), mb.BlockTimestamp)
	for i, r := range mb.Receipts {
		if r.CumulativeGasUsed < cumGas {
			return fmt.Errorf("%w: mini-block %d receipt %d: cumulative gas %d below %d", ErrBadBlock, mb.Number, i, r.CumulativeGasUsed, cumGas)
		}
		r.DeriveFields(signer, types.DeriveReceiptContext{
			BlockHash: blockHash, BlockNumber: mb.BlockNumber, BlockTime: mb.BlockTimestamp,
			BaseFee: baseFee, GasUsed: r.CumulativeGasUsed - cumGas,
			LogIndex: logOffset, Tx: mb.Txs[i], TxIndex: txOffset + uint(i),
		})
		cumGas = r.CumulativeGasUsed
		logOffset += uint(len(r.Logs))
	}
	return nil
}

// CheckBody checks a sealed block's body and receipts against its header and
// parent: parent hash and number, transaction root, receipts root, gas used
// and bloom. It derives the receipts' fields (they travel in consensus form).
func CheckBody(config *params.ChainConfig, parent *types.Header, block *types.Block, receipts types.Receipts) error {
	return CheckBodyWithDeposits(config, parent, block, receipts, nil, nil)
}

// CheckBodyWithDeposits is CheckBody for a block that starts with deposits:
// the roots cover the deposits and their receipts first, the gas and bloom
// include theirs, and the receipts of both are derived.
func CheckBodyWithDeposits(config *params.ChainConfig, parent *types.Header, block *types.Block, receipts types.Receipts, deposits []*Deposit, depositReceipts []*DepositReceipt) error {
	h, num := block.Header(), block.NumberU64()
	if h.ParentHash != parent.Hash() || num != parent.Number.Uint64()+1 {
		if num == 1 && parent.Number.Sign() == 0 {
			return fmt.Errorf("%w: block 1's parent %s is not this node's genesis %s: the sequencer runs another genesis (every node of a network needs the same --genesis)", ErrBadBlock, h.ParentHash, parent.Hash())
		}
		return fmt.Errorf("%w: block %d (parent %s) does not extend head %d (%s)", ErrBadBlock, num, h.ParentHash, parent.Number, parent.Hash())
	}
	if got := TxRoot(deposits, block.Transactions()); got != h.TxHash {
		return fmt.Errorf("%w: block %d transaction root %s, header says %s", ErrBadBlock, num, got, h.TxHash)
	}
	if err := DeriveBlockReceipts(config, block, receipts, deposits, depositReceipts); err != nil {
		return err
	}
	if got := ReceiptRoot(depositReceipts, receipts); got != h.ReceiptHash {
		return fmt.Errorf("%w: block %d receipts root %s, header says %s", ErrBadBlock, num, got, h.ReceiptHash)
	}
	var cum uint64
	if n := len(depositReceipts); n > 0 {
		cum = depositReceipts[n-1].CumulativeGasUsed
	}
	gas := cum
	if n := len(receipts); n > 0 {
		gas = receipts[n-1].CumulativeGasUsed
	}
	if gas != h.GasUsed {
		return fmt.Errorf("%w: block %d receipts use %d gas, header says %d", ErrBadBlock, num, gas, h.GasUsed)
	}
	bloom := types.MergeBloom(receipts)
	for _, r := range depositReceipts {
		bitutil.ORBytes(bloom[:], bloom[:], r.Bloom[:])
	}
	if bloom != h.Bloom {
		return fmt.Errorf("%w: block %d bloom differs from its receipts'", ErrBadBlock, num)
	}
	return nil
}

// DeriveBlockReceipts fills the derived fields of a block's receipts and of
// its deposits' receipts, which come first (indexes, log indexes and gas
// count them), as they travel or are stored in consensus form. It checks
// their counts and cumulative gas, not the header's roots (CheckBodyWithDeposits).
func DeriveBlockReceipts(config *params.ChainConfig, block *types.Block, receipts types.Receipts, deposits []*Deposit, depositReceipts []*DepositReceipt) error {
	h, num := block.Header(), block.NumberU64()
	var blobGasPrice *big.Int
	if h.ExcessBlobGas != nil {
		blobGasPrice = eip4844.CalcBlobFee(config, h)
	}
	if err := DeriveDepositReceipts(deposits, depositReceipts, block.Hash(), num, block.Time()); err != nil {
		return fmt.Errorf("block %d: %w", num, err)
	}
	var cum uint64
	var logs uint
	for _, r := range depositReceipts {
		cum, logs = r.CumulativeGasUsed, logs+uint(len(r.Logs))
	}
	return deriveReceipts(config, block, receipts, blobGasPrice, uint(len(deposits)), logs, cum)
}

// deriveReceipts fills the derived fields of a sealed block's receipts as
// go-ethereum's Receipts.DeriveFields does, except the blooms: those came
// with the receipts, the receipts root covers them and the header bloom is
// checked against their union, so hashing every log again is not needed.
// The block's deposits come first: txOffset, logIndex and cum are theirs.
func deriveReceipts(config *params.ChainConfig, block *types.Block, receipts types.Receipts, blobGasPrice *big.Int, txOffset, logIndex uint, cum uint64) error {
	txs, num := block.Transactions(), block.NumberU64()
	if len(txs) != len(receipts) {
		return fmt.Errorf("%w: block %d has %d txs and %d receipts", ErrBadBlock, num, len(txs), len(receipts))
	}
	signer := displaySigner(config, block.Number(), block.Time())
	hash, baseFee := block.Hash(), block.BaseFee()
	for i, r := range receipts {
		tx := txs[i]
		if r.CumulativeGasUsed < cum {
			return fmt.Errorf("%w: block %d receipt %d: cumulative gas %d below %d", ErrBadBlock, num, i, r.CumulativeGasUsed, cum)
		}
		r.Type, r.TxHash, r.GasUsed = tx.Type(), tx.Hash(), r.CumulativeGasUsed-cum
		r.EffectiveGasPrice = EffectiveGasPrice(tx, baseFee)
		if tx.Type() == types.BlobTxType {
			r.BlobGasUsed, r.BlobGasPrice = tx.BlobGas(), blobGasPrice
		}
		r.BlockHash, r.BlockNumber, r.TransactionIndex = hash, block.Number(), txOffset+uint(i)
		r.ContractAddress = common.Address{}
		if tx.To() == nil {
			from, err := types.Sender(signer, tx)
			if err != nil {
				return fmt.Errorf("%w: block %d tx %d: %v", ErrBadBlock, num, i, err)
			}
			r.ContractAddress = crypto.CreateAddress(from, tx.Nonce())
		}
		for _, l := range r.Logs {
			l.BlockNumber, l.BlockHash, l.BlockTimestamp = num, hash, block.Time()
			l.TxHash, l.TxIndex, l.Index = r.TxHash, txOffset+uint(i), logIndex
			logIndex++
		}
		cum = r.CumulativeGasUsed
	}
	return nil
}

// ApplyDiff applies a sealed block's state diff to the parent's state in db
// without executing anything, checks that the result is the header's root and
// commits the trie nodes to db's trie database (persisted with the block).
// A diff that gives another root is refused and nothing is committed.
func ApplyDiff(config *params.ChainConfig, db state.Database, parent, header *types.Header, diff *StateDiff) (*SealedBlock, error) {
	num := header.Number.Uint64()
	if diff == nil {
		return nil, fmt.Errorf("%w: block %d has no state diff", ErrBadBlock, num)
	}
	if diff.OriginRoot != parent.Root || diff.Root != header.Root {
		return nil, fmt.Errorf("%w: block %d diff goes from %s to %s, chain goes from %s to %s", ErrBadBlock, num, diff.OriginRoot, diff.Root, parent.Root, header.Root)
	}
	st, err := state.New(parent.Root, db)
	if err != nil {
		return nil, fmt.Errorf("%w: open state %s of block %d: %w", ErrLocalState, parent.Root, parent.Number, err)
	}
	for _, c := range diff.Accounts {
		if c.Deleted {
			st.SelfDestruct(c.Address)
			continue
		}
		if c.Balance == nil {
			return nil, fmt.Errorf("%w: block %d diff: account %s has no balance", ErrBadBlock, num, c.Address)
		}
		st.SetNonce(c.Address, c.Nonce, tracing.NonceChangeUnspecified)
		st.SetBalance(c.Address, c.Balance, tracing.BalanceChangeUnspecified)
		switch {
		case len(c.Code) > 0:
			st.SetCode(c.Address, c.Code, tracing.CodeChangeUnspecified)
		case c.CodeHash == types.EmptyCodeHash && st.GetCodeHash(c.Address) != types.EmptyCodeHash:
			st.SetCode(c.Address, nil, tracing.CodeChangeUnspecified) // an EIP-7702 delegation cleared
		}
		if got := st.GetCodeHash(c.Address); got != c.CodeHash {
			return nil, fmt.Errorf("%w: block %d diff: account %s has code hash %s, the diff says %s without giving that code", ErrBadBlock, num, c.Address, got, c.CodeHash)
		}
		for _, s := range c.Storage {
			st.SetState(c.Address, s.Slot, s.Value)
		}
	}
	rules := config.Rules(header.Number, true, header.Time)
	if root := st.IntermediateRoot(rules); root != header.Root {
		return nil, fmt.Errorf("%w: block %d state diff gives root %s, header says %s", ErrBadBlock, num, root, header.Root)
	}
	root, update, err := st.CommitWithUpdate(rules, num)
	if err != nil {
		return nil, fmt.Errorf("%w: commit state of block %d: %w", ErrLocalState, num, err)
	}
	if root != header.Root {
		return nil, fmt.Errorf("block %d: committed root %s differs from intermediate root %s", num, root, header.Root)
	}
	return &SealedBlock{Update: update, Diff: diff}, nil
}

// senderHints is a signer that answers the senders a block arrived with
// instead of recovering them; unknown txs fall back to recovery.
type senderHints struct {
	types.Signer
	from map[common.Hash]common.Address
}

func (s senderHints) Sender(tx *types.Transaction) (common.Address, error) {
	if a, ok := s.from[tx.Hash()]; ok {
		return a, nil
	}
	return s.Signer.Sender(tx)
}

// WitnessDatabase opens a state database holding only a witness's trie nodes
// and codes: re-execution over it reads nothing from disk.
func WitnessDatabase(witnessRLP []byte) (state.Database, *stateless.Witness, error) {
	var w stateless.Witness
	if err := rlp.DecodeBytes(witnessRLP, &w); err != nil {
		return nil, nil, fmt.Errorf("%w: decode witness: %v", ErrBadBlock, err)
	}
	mem := w.MakeHashDB()
	return state.NewDatabase(triedb.NewDatabase(mem, triedb.HashDefaults), state.NewCodeDB(mem)), &w, nil
}

// Replay re-executes block on parent's state in db with go-ethereum's rules
// (pre-execution system calls, every tx, post-execution requests) and
// compares the result with the block: state root, receipts root, gas used,
// bloom and finally the whole header. senders, when given, are used instead
// of recovering each signature (auxiliary data; see docs/architecture.md).
// The result's trie nodes are committed to db's trie database.
func Replay(config *params.ChainConfig, hr HeaderReader, db state.Database, parent *types.Header, block *types.Block, senders []common.Address) (*SealedBlock, error) {
	return ReplayWith(config, hr, db, parent, block, ReplayOptions{Senders: senders})
}

// ReplayOptions are what a replay knows beyond the block.
type ReplayOptions struct {
	Senders []common.Address // recovered by the sequencer (auxiliary data)
	// Dev: the block is of a dev chain; its state edits are applied where
	// they were and impersonated senders are read from their signatures.
	// Without it a block with edits is refused.
	Dev   bool
	Edits []BlockEdits
	// Witness collects the execution witness, as the sequencer does (a
	// dev chain rebuilt from a state file serves it to provers).
	Witness bool
	// Deposits run before the block's transactions, as the sequencer ran
	// them; the header's roots cover them.
	Deposits []*Deposit
}

// ReplayWith is Replay with the block's dev edits and options.
func ReplayWith(config *params.ChainConfig, hr HeaderReader, db state.Database, parent *types.Header, block *types.Block, opts ReplayOptions) (*SealedBlock, error) {
	num := block.NumberU64()
	in := block.Header()
	if in.ParentHash != parent.Hash() {
		return nil, fmt.Errorf("%w: block %d does not extend %s", ErrBadBlock, num, parent.Hash())
	}
	if len(opts.Edits) > 0 && !opts.Dev {
		return nil, fmt.Errorf("%w: block %d carries dev state edits and this is not a dev chain", ErrBadBlock, num)
	}
	txs := block.Transactions()
	for i, e := range opts.Edits {
		if e.TxIndex > uint64(len(txs)) || (i > 0 && e.TxIndex <= opts.Edits[i-1].TxIndex) {
			return nil, fmt.Errorf("%w: block %d: dev edits at position %d of %d txs out of order", ErrBadBlock, num, e.TxIndex, len(txs))
		}
	}
	base := NewSigner(config, in.Number, in.Time, opts.Dev)
	var signer types.Signer = base
	if senders := opts.Senders; len(senders) > 0 {
		if len(senders) != len(txs) {
			return nil, fmt.Errorf("%w: block %d has %d txs and %d senders", ErrBadBlock, num, len(txs), len(senders))
		}
		hints := senderHints{Signer: base, from: make(map[common.Hash]common.Address, len(senders))}
		for i, tx := range txs {
			hints.from[tx.Hash()] = senders[i]
		}
		signer = hints
	}
	h := types.CopyHeader(in)
	h.Root, h.ReceiptHash, h.Bloom, h.GasUsed, h.TxHash = common.Hash{}, common.Hash{}, types.Bloom{}, 0, common.Hash{}
	b, err := newBlockBuilder(config, hr, db, parent, parent.Root, h, opts.Witness, signer)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLocalState, err) // the parent's state cannot be opened
	}
	b.dev = opts.Dev
	edits := opts.Edits
	applyEdits := func(at int) error {
		if len(edits) > 0 && edits[0].TxIndex == uint64(at) {
			if err := b.ApplyEdits(edits[0].Edits); err != nil {
				return fmt.Errorf("%w: block %d: %v", ErrBadBlock, num, err)
			}
			edits = edits[1:]
		}
		return nil
	}
	for i, d := range opts.Deposits {
		if _, err := b.ApplyDeposit(d); err != nil {
			b.evm.Release()
			if serr := b.state.Error(); serr != nil {
				return nil, fmt.Errorf("%w: block %d deposit %d (%s): state not available: %w", ErrLocalState, num, i, d.SourceHash, serr)
			}
			return nil, fmt.Errorf("%w: block %d deposit %d (%s): %v", ErrBadBlock, num, i, d.SourceHash, err)
		}
	}
	for i, tx := range txs {
		if err := applyEdits(i); err != nil {
			b.evm.Release()
			return nil, err
		}
		if _, err := b.ApplyTx(tx); err != nil {
			b.evm.Release()
			if serr := b.state.Error(); serr != nil {
				// The tx read state the database lacks: no verdict on the block.
				return nil, fmt.Errorf("%w: block %d tx %d (%s): state not available: %w", ErrLocalState, num, i, tx.Hash(), serr)
			}
			return nil, fmt.Errorf("%w: block %d tx %d (%s): %v", ErrBadBlock, num, i, tx.Hash(), err)
		}
	}
	if err := applyEdits(len(txs)); err != nil {
		b.evm.Release()
		return nil, err
	}
	sb, err := b.Seal()
	if serr := b.state.Error(); serr != nil {
		// Reads the database failed (a system call's, the root's): what
		// re-execution gave says nothing about the block.
		return nil, fmt.Errorf("%w: block %d: state not available: %w", ErrLocalState, num, serr)
	}
	if err != nil {
		return nil, err
	}
	got := sb.Block.Header()
	switch {
	case got.Root != in.Root:
		return nil, fmt.Errorf("%w: block %d re-executes to state root %s, header says %s", ErrBadBlock, num, got.Root, in.Root)
	case got.ReceiptHash != in.ReceiptHash:
		return nil, fmt.Errorf("%w: block %d re-executes to receipts root %s, header says %s", ErrBadBlock, num, got.ReceiptHash, in.ReceiptHash)
	case got.GasUsed != in.GasUsed:
		return nil, fmt.Errorf("%w: block %d re-executes to %d gas, header says %d", ErrBadBlock, num, got.GasUsed, in.GasUsed)
	case got.Bloom != in.Bloom:
		return nil, fmt.Errorf("%w: block %d re-executes to another bloom", ErrBadBlock, num)
	case sb.Block.Hash() != block.Hash():
		return nil, fmt.Errorf("%w: block %d re-executes to hash %s, received %s", ErrBadBlock, num, sb.Block.Hash(), block.Hash())
	}
	return sb, nil
}

// SameDiff reports whether two state diffs are the same change.
func SameDiff(a, b *StateDiff) bool {
	if a == nil || b == nil {
		return a == b
	}
	ea, err1 := rlp.EncodeToBytes(a)
	eb, err2 := rlp.EncodeToBytes(b)
	return err1 == nil && err2 == nil && bytes.Equal(ea, eb)
}

// BlockMessageRewind reports whether a BlockMessage's RLP is a rewind (its
// fifth item, the optional Rewind flag, is set) without decoding the block.
func BlockMessageRewind(payload []byte) bool {
	content, _, err := rlp.SplitList(payload)
	if err != nil {
		return false
	}
	for i := 0; i < 5; i++ {
		if len(content) == 0 {
			return false
		}
		kind, val, rest, err := rlp.Split(content)
		if err != nil {
			return false
		}
		if i == 4 {
			return kind != rlp.List && len(val) == 1 && val[0] == 1
		}
		content = rest
	}
	return false
}

// BlockMessageHeader decodes only the header of a BlockMessage's block (the
// first item of the block, of the bundle, of the message) from its RLP.
func BlockMessageHeader(payload []byte) (*types.Header, error) {
	b := payload
	for range 3 {
		content, _, err := rlp.SplitList(b)
		if err != nil {
			return nil, err
		}
		b = content
	}
	_, _, rest, err := rlp.Split(b)
	if err != nil {
		return nil, err
	}
	h := new(types.Header)
	if err := rlp.DecodeBytes(b[:len(b)-len(rest)], h); err != nil {
		return nil, err
	}
	if h.Number == nil {
		return nil, errors.New("header without a number")
	}
	return h, nil
}
