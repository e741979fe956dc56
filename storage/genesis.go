package storage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/holiman/uint256"
	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/triedb"

	"github.com/meganode/meganode/chain/progress"
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
	meter := s.progress.Start(s.log, "genesis state", "accounts", uint64(len(g.Alloc)))
	hashAlloc(statedb, g.Alloc, meter)
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
	block := genesisBlock(g, root)
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

// hashAlloc puts alloc into statedb as go-ethereum's flushAlloc does,
// hashing it as it goes for meter, which counts the accounts hashed.
func hashAlloc(statedb *state.StateDB, alloc types.GenesisAlloc, meter *progress.Meter) {
	// The accounts go in in the order of their trie keys, and the trie is
	// hashed after each chunk of them: a chunk dirties its own key range
	// and the few nodes above it, so hashing as it goes costs next to
	// nothing more than hashing once, and the count is of accounts hashed.
	keys := make([]genesisKey, 0, len(alloc))
	for addr := range alloc {
		keys = append(keys, genesisKey{crypto.Keccak256Hash(addr[:]), addr})
	}
	slices.SortFunc(keys, func(a, b genesisKey) int { return bytes.Compare(a.hash[:], b.hash[:]) })
	chunk := max(genesisChunk, len(keys)/50)
	for i, k := range keys {
		account := alloc[k.addr]
		if account.Balance != nil {
			statedb.AddBalance(k.addr, uint256.MustFromBig(account.Balance), tracing.BalanceIncreaseGenesisBalance)
		}
		statedb.SetCode(k.addr, account.Code, tracing.CodeChangeGenesis)
		statedb.SetNonce(k.addr, account.Nonce, tracing.NonceChangeGenesis)
		for key, value := range account.Storage {
			statedb.SetState(k.addr, key, value)
		}
		if n := i + 1; n%chunk == 0 || n == len(keys) {
			statedb.IntermediateRoot(params.Rules{}) // the rules of go-ethereum's genesis commit
			meter.Set(uint64(n))
		}
	}
}

// genesisBlock is go-ethereum's genesis block of g (ToBlock) for a state
// root computed elsewhere: the rest of the header does not depend on the
// alloc.
func genesisBlock(g *core.Genesis, root common.Hash) *types.Block {
	empty := *g
	empty.Alloc = nil
	shape := empty.ToBlock()
	header := shape.Header()
	header.Root = root
	return types.NewBlockWithHeader(header).WithBody(*shape.Body())
}

// GenesisBlock is g.ToBlock(): the genesis block, its state hashed in memory
// and dropped; a large alloc is hashed reporting its progress to p. For a
// node that must know the genesis hash without a store of its own (the
// prover) or check a stored chain against it.
func GenesisBlock(g *core.Genesis, p progress.Options, log zerolog.Logger) (*types.Block, error) {
	if len(g.Alloc) <= meteredAlloc {
		return g.ToBlock(), nil
	}
	statedb, err := state.New(types.EmptyRootHash, state.NewDatabase(triedb.NewDatabase(rawdb.NewMemoryDatabase(), nil), nil))
	if err != nil {
		return nil, err
	}
	meter := p.Start(log, "genesis hash", "accounts", uint64(len(g.Alloc)))
	hashAlloc(statedb, g.Alloc, meter)
	meter.Done()
	return genesisBlock(g, statedb.IntermediateRoot(params.Rules{})), nil
}

// StoredGenesis is the genesis header of the chain in cfg.Dir, read without
// opening the store (no state, no recovery after an unclean stop): nil when
// the directory holds no chain.
func StoredGenesis(cfg Config) (*types.Header, error) {
	if cfg.Dir == "" {
		return nil, nil
	}
	fs := cfg.FS
	if fs == nil {
		fs = vfs.Default
	}
	path := fs.PathJoin(cfg.Dir, "chaindata")
	if _, err := fs.Stat(path); err != nil {
		return nil, nil
	}
	pdb, err := openPebble(fs, path, 16, 16, true)
	if err != nil {
		return nil, fmt.Errorf("open pebble at %s: %w", cfg.Dir, err)
	}
	kv := rawdb.NewDatabase(pdb)
	defer kv.Close()
	hash := rawdb.ReadCanonicalHash(kv, 0)
	if hash == (common.Hash{}) {
		return nil, nil
	}
	return rawdb.ReadHeader(kv, hash, 0), nil
}
