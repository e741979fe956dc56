package storage

import (
	"encoding/binary"
	"fmt"

	"github.com/ethereum/go-ethereum/rlp"

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
	meter := s.progress.Start(s.log, "re-execute imported blocks", "blocks", head-from+1)
	defer meter.Done()
	for n := from; n <= head; n++ {
		block := s.BlockByNumber(n)
		parent := s.GetHeaderByNumber(n - 1)
		if block == nil || parent == nil {
			return n - from, fmt.Errorf("imported block %d or its parent missing", n)
		}
		sb, err := chain.ReplayWith(s.config, s, s.state, parent, block, chain.ReplayOptions{Witness: true})
		if err != nil {
			return n - from, fmt.Errorf("imported block %d does not re-execute as the sequencer executes: %w", n, err)
		}
		// The state is on disk already; the replay's nodes, the same ones,
		// only pass through the trie database.
		if err := s.triedb.Dereference(sb.Update.Root); err != nil {
			return n - from, err
		}
		count++
		rec, err := rlp.EncodeToBytes(&bundleRecord{Diff: sb.Diff, Witness: sb.Witness, MiniCount: count})
		if err != nil {
			return n - from, fmt.Errorf("encode bundle %d: %w", n, err)
		}
		batch := s.kv.NewBatch()
		if err := batch.Put(numKey(bundlePrefix, n), rec); err != nil {
			return n - from, err
		}
		if err := batch.Put(miniCountKey, binary.BigEndian.AppendUint64(nil, count)); err != nil {
			return n - from, err
		}
		if err := batch.Write(); err != nil {
			return n - from, fmt.Errorf("write bundle %d: %w", n, err)
		}
		meter.Add(1)
	}
	meter.Done()
	s.log.Info().Uint64("from", from).Uint64("to", head).Msg("filled the bundles of imported blocks")
	return head - from + 1, nil
}
