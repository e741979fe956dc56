package chain

import (
	"encoding/json"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

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
	// L1Block and L1Tx are the blob's record in the L1 DA inbox, once this
	// node saw it there (zero before, and on chains without an inbox).
	L1Block uint64      `rlp:"optional"`
	L1Tx    common.Hash `rlp:"optional"`
}

// Holds reports whether the blob holds block n.
func (c *DACommitment) Holds(n uint64) bool { return n >= c.First && n <= c.Last }

// daCommitmentJSON is mega_getDACommitments' shape of a blob.
type daCommitmentJSON struct {
	Seq           hexutil.Uint64 `json:"seq"`
	FirstBlock    hexutil.Uint64 `json:"firstBlock"`
	LastBlock     hexutil.Uint64 `json:"lastBlock"`
	LastBlockHash common.Hash    `json:"lastBlockHash"`
	Commitment    hexutil.Bytes  `json:"commitment"`
	Size          hexutil.Uint64 `json:"size"`
	Posted        hexutil.Uint64 `json:"posted"` // unix ms
	L1Block       hexutil.Uint64 `json:"l1BlockNumber,omitempty"`
	L1Tx          *common.Hash   `json:"l1TransactionHash,omitempty"`
}

// MarshalJSON writes the RPC shape (docs/rpc.md).
func (c DACommitment) MarshalJSON() ([]byte, error) {
	j := daCommitmentJSON{Seq: hexutil.Uint64(c.Seq), FirstBlock: hexutil.Uint64(c.First), LastBlock: hexutil.Uint64(c.Last),
		LastBlockHash: c.LastHash, Commitment: c.Commitment, Size: hexutil.Uint64(c.Size), Posted: hexutil.Uint64(c.Posted), L1Block: hexutil.Uint64(c.L1Block)}
	if c.L1Tx != (common.Hash{}) {
		j.L1Tx = &c.L1Tx
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the RPC shape.
func (c *DACommitment) UnmarshalJSON(data []byte) error {
	var j daCommitmentJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	*c = DACommitment{Seq: uint64(j.Seq), First: uint64(j.FirstBlock), Last: uint64(j.LastBlock), LastHash: j.LastBlockHash,
		Commitment: j.Commitment, Size: uint64(j.Size), Posted: uint64(j.Posted), L1Block: uint64(j.L1Block)}
	if j.L1Tx != nil {
		c.L1Tx = *j.L1Tx
	}
	return nil
}
