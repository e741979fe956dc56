package rpc

import (
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

// maxDACommitments bounds one answer.
const maxDACommitments = 1000

// GetDACommitments lists the blobs holding blocks from fromBlock on (at most
// limit, default and cap 1000): where a node deriving the chain from DA
// finds its data.
func (api *DAAPI) GetDACommitments(fromBlock hexutil.Uint64, limit *hexutil.Uint64) ([]*chain.DACommitment, error) {
	n := maxDACommitments
	if limit != nil && *limit > 0 && uint64(*limit) < maxDACommitments {
		n = int(*limit)
	}
	cs, err := api.b.DA.DACommitments(uint64(fromBlock), n)
	if cs == nil {
		cs = []*chain.DACommitment{} // [] rather than null
	}
	return cs, err
}
