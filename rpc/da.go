package rpc

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/meganode/meganode/chain"
)

// DAIndex is the node's record of the blobs the sequencer posted to DA.
type DAIndex interface {
	// DACommitments returns up to limit blobs in block order, from the one
	// holding block from.
	DACommitments(from uint64, limit int) ([]*chain.DACommitment, error)
}

// DAAPI serves the DA commitment index (docs/eigenda.md).
type DAAPI struct{ b Backend }

// DACommitmentJSON is one posted blob.
type DACommitmentJSON struct {
	Seq           hexutil.Uint64 `json:"seq"`
	FirstBlock    hexutil.Uint64 `json:"firstBlock"`
	LastBlock     hexutil.Uint64 `json:"lastBlock"`
	LastBlockHash common.Hash    `json:"lastBlockHash"`
	Commitment    hexutil.Bytes  `json:"commitment"`
	Size          hexutil.Uint64 `json:"size"`
	Posted        hexutil.Uint64 `json:"posted"` // unix ms
}

// maxDACommitments bounds one answer.
const maxDACommitments = 1000

// GetDACommitments lists the blobs holding blocks from fromBlock on (at most
// limit, default and cap 1000): where a node deriving the chain from DA
// finds its data.
func (api *DAAPI) GetDACommitments(fromBlock hexutil.Uint64, limit *hexutil.Uint64) ([]DACommitmentJSON, error) {
	n := maxDACommitments
	if limit != nil && *limit > 0 && uint64(*limit) < maxDACommitments {
		n = int(*limit)
	}
	cs, err := api.b.DA.DACommitments(uint64(fromBlock), n)
	if err != nil {
		return nil, err
	}
	out := make([]DACommitmentJSON, 0, len(cs))
	for _, c := range cs {
		out = append(out, DACommitmentJSON{Seq: hexutil.Uint64(c.Seq), FirstBlock: hexutil.Uint64(c.First), LastBlock: hexutil.Uint64(c.Last), LastBlockHash: c.LastHash,
			Commitment: c.Commitment, Size: hexutil.Uint64(c.Size), Posted: hexutil.Uint64(c.Posted)})
	}
	return out, nil
}
