package chain

import (
	"context"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/stateless"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethdb/memorydb"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
)

// MessagePasser is the L2-to-L1 message passer predeploy, at the op-stack's
// address. Its storage root is part of every output root.
var MessagePasser = common.HexToAddress("0x4200000000000000000000000000000000000016")

// OutputVersionV0 is the version of the output root formula below.
var OutputVersionV0 common.Hash

// OutputRoot is the op-stack V0 output root of a block:
// keccak256(version ‖ stateRoot ‖ messagePasserStorageRoot ‖ blockHash).
func OutputRoot(stateRoot, passerRoot, blockHash common.Hash) common.Hash {
	return crypto.Keccak256Hash(OutputVersionV0[:], stateRoot[:], passerRoot[:], blockHash[:])
}

// Attestation is a prover's signed statement that a block re-executes, over
// its witness, to the state root in its header.
type Attestation struct {
	Number     uint64
	BlockHash  common.Hash
	StateRoot  common.Hash
	OutputRoot common.Hash
}

// FraudProof is what convinces any node that the sequencer signed a block
// whose header does not follow from its parent: the block exactly as the
// sequencer signed and gossiped it (its wire message, signature included)
// and the witness over which it re-executes to another result.
type FraudProof struct {
	SignedBlock []byte // the sequencer's wire message on the blocks topic
	Witness     []byte // RLP of go-ethereum's stateless.Witness
}

// Verdict is the outcome of a stateless check of one block.
type Verdict struct {
	Number    uint64
	BlockHash common.Hash
	Valid     bool
	StateRoot common.Hash // the state root re-execution gives (valid blocks: the header's)
	Reason    string      // why the block is invalid
}

// ErrUnverifiable says a block could not be checked at all: the witness is
// not the parent's or lacks state the execution reads. It proves nothing
// either way.
var ErrUnverifiable = errors.New("block cannot be verified over this witness")

// VerifyStateless re-executes block over its witness with go-ethereum's
// core.ExecuteStateless. A block whose roots match is valid. When anything
// differs the block is executed once more with meganode's block builder,
// which notices state the witness lacks: a complete witness that still gives
// another result makes the block invalid (a fraud), an incomplete one makes
// it unverifiable.
func VerifyStateless(config *params.ChainConfig, block *types.Block, witnessRLP []byte) (*Verdict, error) {
	num := block.NumberU64()
	var w stateless.Witness
	if err := rlp.DecodeBytes(witnessRLP, &w); err != nil {
		return nil, fmt.Errorf("%w: block %d: decode witness: %v", ErrUnverifiable, num, err)
	}
	if len(w.Headers) == 0 || w.Headers[0].Hash() != block.ParentHash() {
		return nil, fmt.Errorf("%w: block %d: the witness does not start at its parent %s", ErrUnverifiable, num, block.ParentHash())
	}
	v := &Verdict{Number: num, BlockHash: block.Hash()}
	h := block.Header()
	stripped := types.CopyHeader(h)
	stripped.Root, stripped.ReceiptHash = common.Hash{}, common.Hash{}
	root, receiptRoot, err := core.ExecuteStateless(context.Background(), config, vm.Config{}, types.NewBlockWithHeader(stripped).WithBody(*block.Body()), &w)
	if err == nil && root == h.Root && receiptRoot == h.ReceiptHash {
		v.Valid, v.StateRoot = true, root
		return v, nil
	}
	// Establish whether the difference is the block's or the witness's.
	db, _, derr := WitnessDatabase(witnessRLP)
	if derr != nil {
		return nil, fmt.Errorf("%w: block %d: %v", ErrUnverifiable, num, derr)
	}
	_, rerr := Replay(config, witnessHeaders(w.Headers), db, w.Headers[0], block, nil)
	switch {
	case rerr == nil:
		return nil, fmt.Errorf("%w: block %d: go-ethereum's stateless execution (%v) and the block builder disagree", ErrUnverifiable, num, err)
	case !errors.Is(rerr, ErrBadBlock):
		return nil, fmt.Errorf("%w: block %d: %v", ErrUnverifiable, num, rerr)
	}
	v.StateRoot, v.Reason = root, rerr.Error()
	return v, nil
}

// VerifyDev is VerifyStateless for a block of a dev chain: one with state
// edits or impersonated senders is re-executed with the block builder over
// the witness (go-ethereum's stateless execution knows neither); any other
// block as VerifyStateless does.
func VerifyDev(config *params.ChainConfig, block *types.Block, witnessRLP []byte, edits []BlockEdits) (*Verdict, error) {
	dev := len(edits) > 0
	for _, tx := range block.Transactions() {
		if _, ok := ImpersonatedSender(tx); ok {
			dev = true
			break
		}
	}
	if !dev {
		return VerifyStateless(config, block, witnessRLP)
	}
	return verifyReplay(config, block, witnessRLP, ReplayOptions{Dev: true, Edits: edits})
}

// VerifyWithDeposits is VerifyDev (dev set) or VerifyStateless for a block
// that may start with deposits. go-ethereum's stateless execution knows no
// deposits, so a block with any is re-executed by the block builder over
// the witness, deposits first.
func VerifyWithDeposits(config *params.ChainConfig, block *types.Block, witnessRLP []byte, dev bool, edits []BlockEdits, deposits []*Deposit) (*Verdict, error) {
	switch {
	case len(deposits) > 0:
		return verifyReplay(config, block, witnessRLP, ReplayOptions{Dev: dev, Edits: edits, Deposits: deposits})
	case dev:
		return VerifyDev(config, block, witnessRLP, edits)
	}
	return VerifyStateless(config, block, witnessRLP)
}

// verifyReplay re-executes block with the block builder over the witness.
func verifyReplay(config *params.ChainConfig, block *types.Block, witnessRLP []byte, opts ReplayOptions) (*Verdict, error) {
	num := block.NumberU64()
	db, w, err := WitnessDatabase(witnessRLP)
	if err != nil {
		return nil, fmt.Errorf("%w: block %d: %v", ErrUnverifiable, num, err)
	}
	if len(w.Headers) == 0 || w.Headers[0].Hash() != block.ParentHash() {
		return nil, fmt.Errorf("%w: block %d: the witness does not start at its parent %s", ErrUnverifiable, num, block.ParentHash())
	}
	v := &Verdict{Number: num, BlockHash: block.Hash()}
	sb, rerr := ReplayWith(config, witnessHeaders(w.Headers), db, w.Headers[0], block, opts)
	switch {
	case rerr == nil:
		v.Valid, v.StateRoot = true, sb.Block.Root()
		return v, nil
	case !errors.Is(rerr, ErrBadBlock):
		return nil, fmt.Errorf("%w: block %d: %v", ErrUnverifiable, num, rerr)
	}
	v.Reason = rerr.Error()
	return v, nil
}

// CheckFraudProof re-checks a fraud proof's block (already taken out of its
// signed message, whose signature the caller checked) over the proof's
// witness, deposits first (the signed message's). It returns the verdict
// only when the block is invalid.
func CheckFraudProof(config *params.ChainConfig, block *types.Block, witnessRLP []byte, deposits []*Deposit) (*Verdict, error) {
	v, err := VerifyWithDeposits(config, block, witnessRLP, false, nil, deposits)
	if err != nil {
		return nil, fmt.Errorf("fraud proof of block %d: %w", block.NumberU64(), err)
	}
	if v.Valid {
		return nil, fmt.Errorf("fraud proof of block %d: the block re-executes to its header's roots", block.NumberU64())
	}
	return v, nil
}

// witnessHeaders serves the headers a witness carries (BLOCKHASH reads).
type witnessHeaders []*types.Header

func (w witnessHeaders) GetHeader(hash common.Hash, number uint64) *types.Header {
	for _, h := range w {
		if h.Number.Uint64() == number && h.Hash() == hash {
			return h
		}
	}
	return nil
}

func (w witnessHeaders) GetHeaderByNumber(number uint64) *types.Header {
	for _, h := range w {
		if h.Number.Uint64() == number {
			return h
		}
	}
	return nil
}

func (w witnessHeaders) CurrentHeader() *types.Header { return w[0] }

// AccountProof returns the Merkle proof of addr in the state trie of root.
func AccountProof(db state.Database, root common.Hash, addr common.Address) ([][]byte, error) {
	tr, err := db.OpenTrie(root)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", root, err)
	}
	proof := memorydb.New()
	if err := tr.Prove(crypto.Keccak256(addr.Bytes()), proof); err != nil {
		return nil, err
	}
	var out [][]byte
	it := proof.NewIterator(nil, nil)
	defer it.Release()
	for it.Next() {
		out = append(out, common.CopyBytes(it.Value()))
	}
	return out, nil
}

// StorageRootFromProof checks an account proof against a state root and
// returns the account's storage root (the empty root for no account).
func StorageRootFromProof(root common.Hash, addr common.Address, proof [][]byte) (common.Hash, error) {
	db := memorydb.New()
	for _, node := range proof {
		if err := db.Put(crypto.Keccak256(node), node); err != nil {
			return common.Hash{}, err
		}
	}
	val, err := trie.VerifyProof(root, crypto.Keccak256(addr.Bytes()), db)
	if err != nil {
		return common.Hash{}, fmt.Errorf("proof of %s against %s: %w", addr, root, err)
	}
	if len(val) == 0 {
		return types.EmptyRootHash, nil
	}
	acct, err := types.FullAccount(val)
	if err != nil {
		return common.Hash{}, fmt.Errorf("proof of %s: %w", addr, err)
	}
	return acct.Root, nil
}

// MessagePasserRoot reads the message passer's storage root in the state of
// root from a database holding that state.
func MessagePasserRoot(db state.Database, root common.Hash) (common.Hash, error) {
	r, err := db.Reader(root)
	if err != nil {
		return common.Hash{}, fmt.Errorf("state %s: %w", root, err)
	}
	acct, err := r.Account(MessagePasser)
	if err != nil {
		return common.Hash{}, fmt.Errorf("state %s: %w", root, err)
	}
	if acct == nil {
		return types.EmptyRootHash, nil
	}
	return acct.Root, nil
}
