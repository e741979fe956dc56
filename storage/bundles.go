package storage

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/triedb"

	"github.com/meganode/meganode/chain"
)

// FillBundles gives the blocks of an imported chain what the sequencer keeps
// of the blocks it seals: go-ethereum's import writes blocks, receipts and
// state, not the state diff and witness followers take from the sequencer
// (replicas apply the diff, full nodes and provers re-execute over the
// witness). It re-executes the blocks above the newest one that has them,
// checks each against its header and writes its bundle record, counting one
// mini-block per block as a state file's rebuild does. A store whose head
// has its record (every store the sequencer wrote) is left as it is, at the
// cost of one read. It returns the number of blocks filled.
//
// It runs before the store is shared: nothing else may write meanwhile.
func (s *Store) FillBundles() (uint64, error) {
	head := s.CurrentHeader().Number.Uint64()
	first := s.genesis.NumberU64()
	if head == first {
		return 0, nil
	}
	if rec, err := s.bundleRecord(head); err != nil || rec != nil {
		return 0, err
	}
	from, count := head, uint64(0)
	for from > first+1 {
		rec, err := s.bundleRecord(from - 1)
		if err != nil {
			return 0, err
		}
		if rec != nil {
			count = rec.MiniCount
			break
		}
		from--
	}
	// The hash scheme has every block's state on disk: each block is
	// replayed on its parent's. The path scheme has the newest states
	// only: the chain is replayed from its genesis over a trie database in
	// memory, each state dropped once its child is made, and bundles are
	// written from the first block that lacks one.
	db, release := s.state, func(common.Hash) error { return nil }
	replayFrom := from
	if s.scheme == PathScheme {
		var err error
		if db, release, err = s.genesisReplayState(); err != nil {
			return 0, err
		}
		replayFrom = first + 1
	}
	meter := s.progress.Start(s.log, "re-execute imported blocks", "blocks", head-replayFrom+1)
	defer meter.Done()
	filled := uint64(0)
	for n := replayFrom; n <= head; n++ {
		block := s.BlockByNumber(n)
		parent := s.GetHeaderByNumber(n - 1)
		if block == nil || parent == nil {
			return filled, fmt.Errorf("imported block %d or its parent missing", n)
		}
		sb, err := chain.ReplayWith(s.config, s, db, parent, block, chain.ReplayOptions{Witness: n >= from})
		if err != nil {
			return filled, fmt.Errorf("imported block %d does not re-execute as the sequencer executes: %w", n, err)
		}
		if s.scheme == PathScheme {
			err = release(parent.Root)
		} else {
			// The state is on disk already; the replay's nodes, the same
			// ones, only pass through the trie database.
			err = s.triedb.Dereference(sb.Update.Root)
		}
		if err != nil {
			return filled, err
		}
		meter.Add(1)
		if n < from {
			continue
		}
		count++
		rec, err := rlp.EncodeToBytes(&bundleRecord{Diff: sb.Diff, Witness: sb.Witness, MiniCount: count})
		if err != nil {
			return filled, fmt.Errorf("encode bundle %d: %w", n, err)
		}
		batch := s.kv.NewBatch()
		if err := batch.Put(numKey(bundlePrefix, n), rec); err != nil {
			return filled, err
		}
		if err := batch.Put(miniCountKey, binary.BigEndian.AppendUint64(nil, count)); err != nil {
			return filled, err
		}
		if err := batch.Write(); err != nil {
			return filled, fmt.Errorf("write bundle %d: %w", n, err)
		}
		filled++
	}
	meter.Done()
	s.log.Info().Uint64("from", from).Uint64("to", head).Msg("filled the bundles of imported blocks")
	return filled, nil
}

// genesisReplayState is a state database in memory holding the genesis
// state (rebuilt from the genesis spec the store keeps), for replaying the
// chain from its start; release drops a state no longer needed.
func (s *Store) genesisReplayState() (state.Database, func(common.Hash) error, error) {
	spec := rawdb.ReadGenesisStateSpec(s.kv, s.genesis.Hash())
	if spec == nil {
		return nil, nil, fmt.Errorf("the genesis alloc of %s is not stored: the imported chain cannot be replayed", s.genesis.Hash())
	}
	var alloc types.GenesisAlloc
	if err := json.Unmarshal(spec, &alloc); err != nil {
		return nil, nil, fmt.Errorf("stored genesis alloc: %w", err)
	}
	mem := rawdb.NewMemoryDatabase()
	tdb := triedb.NewDatabase(mem, triedb.HashDefaults)
	db := state.NewDatabase(tdb, state.NewCodeDB(mem))
	st, err := state.New(types.EmptyRootHash, db)
	if err != nil {
		return nil, nil, err
	}
	meter := s.progress.Start(s.log, "genesis state", "accounts", uint64(len(alloc)))
	hashAlloc(st, alloc, meter)
	meter.Done()
	root, err := st.Commit(params.Rules{}, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("genesis state: %w", err)
	}
	if root != s.genesis.Root() {
		return nil, nil, fmt.Errorf("the stored genesis alloc gives root %s, the genesis block has %s", root, s.genesis.Root())
	}
	return db, tdb.Dereference, nil
}
