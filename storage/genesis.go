package storage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/holiman/uint256"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
)

// meteredAlloc is the genesis size (accounts) above which committing it
// reports progress; tests lower it.
var meteredAlloc = largeAlloc

// genesisChunk is the least number of accounts hashed between two reports
// of a large genesis's progress (at most 50 reports).
var genesisChunk = 50_000

// genesisKey is a genesis account under its key in the account trie.
type genesisKey struct {
	hash common.Hash
	addr common.Address
}

// commitGenesisAt0 is core.Genesis.Commit of a genesis numbered 0; a large
// alloc is committed the same way step by step, reporting progress: the
// accounts as they are hashed into the state, then the bytes of trie nodes
// as they are written.
func (s *Store) commitGenesisAt0(g *core.Genesis) (*types.Block, error) {
	if len(g.Alloc) <= meteredAlloc {
		return g.Commit(s.kv, s.triedb, nil)
	}
	if g.Config == nil {
		return nil, fmt.Errorf("genesis without chain config")
	}
	if err := g.Config.CheckConfigForkOrder(); err != nil {
		return nil, err
	}
	// As go-ethereum's flushAlloc.
	statedb, err := state.New(types.EmptyRootHash, state.NewDatabase(s.triedb, nil))
	if err != nil {
		return nil, err
	}
	// The accounts go in in the order of their trie keys, and the trie is
	// hashed after each chunk of them: a chunk dirties its own key range
	// and the few nodes above it, so hashing as it goes costs next to
	// nothing more than hashing once, and the count is of accounts hashed.
	keys := make([]genesisKey, 0, len(g.Alloc))
	for addr := range g.Alloc {
		keys = append(keys, genesisKey{crypto.Keccak256Hash(addr[:]), addr})
	}
	slices.SortFunc(keys, func(a, b genesisKey) int { return bytes.Compare(a.hash[:], b.hash[:]) })
	chunk := max(genesisChunk, len(keys)/50)
	meter := s.progress.Start(s.log, "genesis state", "accounts", uint64(len(keys)))
	for i, k := range keys {
		account := g.Alloc[k.addr]
		if account.Balance != nil {
			statedb.AddBalance(k.addr, uint256.MustFromBig(account.Balance), tracing.BalanceIncreaseGenesisBalance)
		}
		statedb.SetCode(k.addr, account.Code, tracing.CodeChangeGenesis)
		statedb.SetNonce(k.addr, account.Nonce, tracing.NonceChangeGenesis)
		for key, value := range account.Storage {
			statedb.SetState(k.addr, key, value)
		}
		if n := i + 1; n%chunk == 0 || n == len(keys) {
			statedb.IntermediateRoot(params.Rules{}) // the rules Commit runs under below
			meter.Set(uint64(n))
		}
	}
	meter.Done()
	root, update, err := statedb.CommitWithUpdate(params.Rules{}, 0)
	if err != nil {
		return nil, err
	}
	// What the trie database will write: each node under its hash.
	var size uint64
	for _, set := range update.Nodes.Sets {
		for _, n := range set.Nodes {
			size += uint64(len(n.Hash) + len(n.Blob))
		}
	}
	if root != types.EmptyRootHash {
		meter = s.progress.Start(s.log, "genesis state write", "bytes", size)
		s.db.setOnWrite(func(n int) { meter.Add(uint64(n)) })
		err := s.triedb.Commit(root, true)
		s.db.setOnWrite(nil)
		meter.Done()
		if err != nil {
			return nil, err
		}
	}
	// go-ethereum's header of this genesis but for the root, which depends
	// on the alloc alone.
	empty := *g
	empty.Alloc = nil
	shape := empty.ToBlock()
	header := shape.Header()
	header.Root = root
	block := types.NewBlockWithHeader(header).WithBody(*shape.Body())

	blob, err := json.Marshal(g.Alloc)
	if err != nil {
		return nil, err
	}
	batch := s.kv.NewBatch()
	rawdb.WriteGenesisStateSpec(batch, block.Hash(), blob)
	rawdb.WriteBlock(batch, block)
	rawdb.WriteReceipts(batch, block.Hash(), block.NumberU64(), nil)
	rawdb.WriteCanonicalHash(batch, block.Hash(), block.NumberU64())
	rawdb.WriteHeadBlockHash(batch, block.Hash())
	rawdb.WriteHeadFastBlockHash(batch, block.Hash())
	rawdb.WriteHeadHeaderHash(batch, block.Hash())
	rawdb.WriteChainConfig(batch, block.Hash(), g.Config)
	return block, batch.Write()
}
