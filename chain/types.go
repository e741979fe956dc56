package chain

import (
	"math/big"

	"github.com/holiman/uint256"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// PreconfBlockHash is the default blockHash of receipts and logs that are in a
// mini-block but not yet in a sealed EVM block.
var PreconfBlockHash = common.HexToHash("0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")

// AccountChange is one account's state after a mini-block (or a block): what
// the stateChanges subscription streams and what a replica applies.
type AccountChange struct {
	Address  common.Address
	Nonce    uint64
	Balance  *uint256.Int
	CodeHash common.Hash
	Code     []byte // set only when the code changed
	Storage  []SlotChange
	Deleted  bool // the account no longer exists (EIP-161 cleanup)
}

// SlotChange is a storage slot's value after the change.
type SlotChange struct {
	Slot  common.Hash
	Value common.Hash
}

// MiniBlock is what the sequencer seals every mini-block interval. Number is
// global and strictly +1 so consumers detect gaps; Index counts mini-blocks
// within BlockNumber.
type MiniBlock struct {
	BlockNumber     uint64
	BlockTimestamp  uint64 // seconds, the header time of BlockNumber
	Index           uint64
	Number          uint64
	TimestampMicros uint64
	GasUsed         uint64
	Txs             types.Transactions
	Receipts        []*types.Receipt
	StateChanges    []AccountChange
	// The block's deposits and their receipts, in its first mini-block
	// only (Index 0): they run before every transaction.
	Deposits        []*Deposit        `rlp:"optional"`
	DepositReceipts []*DepositReceipt `rlp:"optional"`
}

// StateDiff is a sealed block's authoritative state change, taken from
// go-ethereum's state.StateUpdate: accounts with their final values, deletions,
// changed storage slots and new code.
type StateDiff struct {
	OriginRoot common.Hash
	Root       common.Hash
	Accounts   []AccountChange
}

// BlockBundle is everything the downstream roles need for one sealed block.
type BlockBundle struct {
	Block     *types.Block
	Receipts  types.Receipts
	StateDiff *StateDiff `rlp:"nil"` // nil only for genesis (a rewind to it)
	Witness   []byte     // RLP of go-ethereum's stateless.Witness
	// Deposits ran first in the block; the header's transaction and
	// receipt roots cover them and their receipts ahead of the rest.
	Deposits        []*Deposit        `rlp:"optional"`
	DepositReceipts []*DepositReceipt `rlp:"optional"`
	// L1Origin is the newest L1 block whose deposits this block and its
	// ancestors include, all of them, in log order (zero before the first).
	L1Origin L1Origin `rlp:"optional"`
}

// L1Origin names an L1 block: the deposit cursor of an L2 block. Not in the
// header; the sequencer signs it with the block message, and a node with L1
// access checks it (docs/l1.md, "Deposits on L2").
type L1Origin struct {
	Number uint64
	Hash   common.Hash
}

// EffectiveGasPrice returns min(tip + baseFee, feeCap) as receipts report it.
func EffectiveGasPrice(tx *types.Transaction, baseFee *big.Int) *big.Int {
	if baseFee == nil {
		return tx.GasPrice()
	}
	tip, _ := tx.EffectiveGasTip(baseFee)
	if tip == nil {
		return tx.GasFeeCap()
	}
	return tip.Add(tip, baseFee)
}

func uint256FromBig(b *big.Int) (*uint256.Int, bool) {
	if b == nil {
		return new(uint256.Int), false
	}
	return uint256.FromBig(b)
}
