package chain

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/stateless"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
)

// ExecuteStateless re-executes block over its witness alone (go-ethereum's
// core.ExecuteStateless) and returns the state root and receipt root it
// computes, for comparison with the block's header.
func ExecuteStateless(config *params.ChainConfig, block *types.Block, witnessRLP []byte) (stateRoot, receiptRoot common.Hash, err error) {
	var w stateless.Witness
	if err := rlp.DecodeBytes(witnessRLP, &w); err != nil {
		return common.Hash{}, common.Hash{}, fmt.Errorf("decode witness of block %d: %w", block.NumberU64(), err)
	}
	h := block.Header()
	h.Root, h.ReceiptHash = common.Hash{}, common.Hash{}
	stripped := types.NewBlockWithHeader(h).WithBody(*block.Body())
	return core.ExecuteStateless(context.Background(), config, vm.Config{}, stripped, &w)
}

// ExtWitness is the JSON form of a witness (debug_executionWitness).
type ExtWitness = stateless.ExtWitness

// DecodeExtWitness decodes the stored witness of block number.
func DecodeExtWitness(number uint64, witnessRLP []byte) (*ExtWitness, error) {
	var w stateless.Witness
	if err := rlp.DecodeBytes(witnessRLP, &w); err != nil {
		return nil, fmt.Errorf("decode witness of block %d: %w", number, err)
	}
	return w.ToExtWitness(), nil
}
