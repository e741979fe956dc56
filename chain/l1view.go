package chain

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// L1Block is a reference to an L1 block (op-node's L1BlockRef).
type L1Block struct {
	Hash       common.Hash
	Number     uint64
	ParentHash common.Hash
	Time       uint64
}

// L1BlockOf is the reference to the block of h; zero for nil.
func L1BlockOf(h *types.Header) L1Block {
	if h == nil {
		return L1Block{}
	}
	return L1Block{Hash: h.Hash(), Number: h.Number.Uint64(), ParentHash: h.ParentHash, Time: h.Time}
}

// L1View is what a node last read of its L1: Current is the block it has
// read the L1 contracts through, Head, Safe and Finalized the L1's own
// heads then (zero where the L1 names none).
type L1View struct {
	Current, Head, Safe, Finalized L1Block
}
