package chain

import "github.com/ethereum/go-ethereum/common"

// DACommitment is a blob the sequencer posted to the DA layer: the sealed
// blocks First..Last (their signed block and witness messages) under the
// commitment the DA layer returned (docs/eigenda.md).
type DACommitment struct {
	Seq         uint64 // 1 for the first blob, +1 each
	First, Last uint64
	LastHash    common.Hash // hash of block Last
	Commitment  []byte
	Size        uint64 // blob bytes
	Posted      uint64 // unix ms the DA layer took it
}

// Holds reports whether the blob holds block n.
func (c *DACommitment) Holds(n uint64) bool { return n >= c.First && n <= c.Last }
