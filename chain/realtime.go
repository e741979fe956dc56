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
	// Rewound: the chain went back to Header (a dev chain's revert); Removed
	// are the logs of the blocks taken off, Removed set, newest block last.
	Rewound bool
	Removed []*types.Log
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
	// Dev chains mining a block per tx: the block is sealed (Receipt has
	// its hash) and a failed tx's EVM error and revert data.
	Sealed bool
	VMErr  error
	Revert []byte
}

// NonceGapError refuses a transaction whose nonce is ahead of the sender's
// next executable nonce, for callers that want it executed now or not at all.
type NonceGapError struct {
	Got, Expected uint64
}

func (e *NonceGapError) Error() string {
	return fmt.Sprintf("nonce too high: tx nonce %d, next executable nonce %d", e.Got, e.Expected)
}
