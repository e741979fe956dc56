package chain

import (
	"fmt"

	"github.com/ethereum/go-ethereum/core/types"
)

// Head is a sealed block header with where its mini-blocks sit in the global
// mini-block sequence: the first is MiniBlockOffset, there are MiniBlockCount.
type Head struct {
	Header          *types.Header
	MiniBlockCount  uint64
	MiniBlockOffset uint64
}

// TxOutcome is what became of a submitted transaction: preconfirmed in a
// mini-block (Receipt set) or removed from the pool without executing
// (Dropped set).
type TxOutcome struct {
	Tx          *types.Transaction
	Receipt     *types.Receipt
	BlockNumber uint64 // the EVM block the tx will seal into
	Index       uint64 // position in that block
	Dropped     error
}

// NonceGapError refuses a transaction whose nonce is ahead of the sender's
// next executable nonce, for callers that want it executed now or not at all.
type NonceGapError struct {
	Got, Expected uint64
}

func (e *NonceGapError) Error() string {
	return fmt.Sprintf("nonce too high: tx nonce %d, next executable nonce %d", e.Got, e.Expected)
}
