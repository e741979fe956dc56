package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"

	"github.com/meganode/meganode/chain"
)

// State sync: a new node fetches the state of a recent sealed block from
// its peers, trie node by trie node from the root down (go-ethereum's
// trie.Sync, by path in the path scheme), checking each node and each
// contract's code against the hash its parent names; then the block and
// the headers before it (their hashes chained from the block's parent
// hash) make it the head, and the node follows the chain from there. The
// blocks before it are not fetched: their headers (for BLOCKHASH) are, the
// rest of history stays with the nodes that replayed it.

// StateSource is where state sync fetches from: the network's peers (the
// node package adapts p2p). Each returns a prefix of what was asked, in
// order; nothing it returns is trusted.
type StateSource interface {
	TrieNodes(ctx context.Context, root common.Hash, paths [][]byte, hashes []common.Hash) ([][]byte, error)
	Codes(ctx context.Context, hashes []common.Hash) ([][]byte, error)
}

// ErrPeersLackState means no peer served the state asked for: it fell
// out of their recent states (a pivot that is too old) or they are gone.
// State sync starts again from a newer block; what was fetched is kept.
var ErrPeersLackState = errors.New("state unavailable from peers")

// ErrSyncUnfinished means a state sync was cut short (the process stopped
// before the state was complete): the data directory has no usable state
// until a state sync finishes.
var ErrSyncUnfinished = errors.New("state sync unfinished")

// syncBatch is how many items one request asks for; syncFlush how many
// bytes of fetched nodes are buffered before they are written.
const (
	syncBatch = 1024
	syncFlush = 32 << 20
	// syncStrikes is how many requests in a row may bring nothing before
	// the source counts as unable to serve the state.
	syncStrikes = 4
)

// SyncStats says what a state sync fetched.
type SyncStats struct {
	Nodes, Codes uint64
	Bytes        uint64
	Elapsed      time.Duration
}

// syncTargetKey holds the root a state sync is fetching, from its start
// until WriteSyncedBlock makes the synced block the head (in the same
// batch): a stop in between, even after pathdb took the fetched state,
// leaves a directory that says its sync is unfinished.
var syncTargetKey = []byte("mg-sync-target")

// Syncing reports a state sync that was started and not finished in this
// data directory (the state is not usable: sync again).
func (s *Store) Syncing() bool {
	if ok, _ := s.kv.Has(syncTargetKey); ok {
		return true
	}
	return rawdb.ReadSnapSyncStatusFlag(s.kv) == rawdb.StateSyncRunning
}

// SyncState fetches the state with root from src into the store: the store
// must hold no chain beyond its genesis (or an unfinished state sync). On
// return without an error the state of root is the store's, ready for
// WriteSyncedBlock. Cut short, it can be called again, with the same or
// another root: the nodes fetched already are kept where they still fit.
func (s *Store) SyncState(ctx context.Context, root common.Hash, src StateSource) (st SyncStats, err error) {
	if s.fork != nil {
		return st, errors.New("state sync: a forked chain cannot be synced")
	}
	if h := s.CurrentHeader(); h.Number.Uint64() > s.genesis.NumberU64() && !s.Syncing() {
		return st, fmt.Errorf("state sync: the data directory holds a chain up to block %d; state sync fills an empty one", h.Number)
	}
	start := time.Now()
	defer func() { st.Elapsed = time.Since(start) }()
	pathdbSyncing := rawdb.ReadSnapSyncStatusFlag(s.kv) == rawdb.StateSyncRunning
	if have, _ := s.kv.Get(syncTargetKey); common.BytesToHash(have) == root && len(have) == common.HashLength && !pathdbSyncing && s.hasState(root) {
		return st, nil // fetched before a stop; the block is still to be written
	}
	if err := s.kv.Put(syncTargetKey, root[:]); err != nil {
		return st, fmt.Errorf("state sync: %w", err)
	}
	if s.scheme == PathScheme && !pathdbSyncing {
		// The disk layer goes stale: its state is overwritten by the one
		// fetched, and nothing reads it until Enable.
		if err := s.triedb.Disable(); err != nil {
			return st, fmt.Errorf("state sync: %w", err)
		}
	}
	sched := state.NewStateSync(root, s.kv, nil, s.scheme)
	meter := s.progress.Start(s.log, "state sync", "trie nodes", 0)
	defer meter.Done()
	type wanted struct {
		path []byte
		hash common.Hash
	}
	var nodes []wanted
	var codes []common.Hash
	strikes := 0
	flush := func() error {
		batch := s.kv.NewBatch()
		if err := sched.Commit(batch); err != nil {
			return err
		}
		return batch.Write()
	}
	for {
		if len(nodes) < syncBatch && len(codes) < syncBatch {
			paths, hashes, cs := sched.Missing(syncBatch)
			for i, p := range paths {
				nodes = append(nodes, wanted{[]byte(p), hashes[i]})
			}
			codes = append(codes, cs...)
		}
		if len(nodes) == 0 && len(codes) == 0 {
			break
		}
		got := 0
		if len(nodes) > 0 {
			ask := nodes[:min(len(nodes), syncBatch)]
			paths, hashes := make([][]byte, len(ask)), make([]common.Hash, len(ask))
			for i, w := range ask {
				paths[i], hashes[i] = w.path, w.hash
			}
			data, err := src.TrieNodes(ctx, root, paths, hashes)
			if ctx.Err() != nil {
				return st, errors.Join(ctx.Err(), flush()) // keep what was checked
			}
			for i, d := range data {
				if crypto.Keccak256Hash(d) != hashes[i] {
					err = fmt.Errorf("a trie node of hash %s for %s", crypto.Keccak256Hash(d), hashes[i])
					break
				}
				if perr := sched.ProcessNode(trie.NodeSyncResult{Path: string(paths[i]), Data: d}); perr != nil && !errors.Is(perr, trie.ErrAlreadyProcessed) && !errors.Is(perr, trie.ErrNotRequested) {
					return st, fmt.Errorf("state sync: node %x: %w", paths[i], perr)
				}
				got++
				st.Nodes++
				st.Bytes += uint64(len(d))
			}
			nodes = nodes[got:]
			if err != nil {
				s.log.Debug().Err(err).Int("nodes", got).Msg("state sync: a request fell short")
			}
		}
		if len(codes) > 0 {
			ask := codes[:min(len(codes), syncBatch)]
			data, err := src.Codes(ctx, ask)
			if ctx.Err() != nil {
				return st, errors.Join(ctx.Err(), flush())
			}
			n := 0
			for i, d := range data {
				if crypto.Keccak256Hash(d) != ask[i] {
					err = fmt.Errorf("code of hash %s for %s", crypto.Keccak256Hash(d), ask[i])
					break
				}
				if perr := sched.ProcessCode(trie.CodeSyncResult{Hash: ask[i], Data: d}); perr != nil && !errors.Is(perr, trie.ErrAlreadyProcessed) && !errors.Is(perr, trie.ErrNotRequested) {
					return st, fmt.Errorf("state sync: code %s: %w", ask[i], perr)
				}
				n++
				st.Codes++
				st.Bytes += uint64(len(d))
			}
			codes = codes[n:]
			got += n
			if err != nil {
				s.log.Debug().Err(err).Int("codes", n).Msg("state sync: a request fell short")
			}
		}
		if got == 0 {
			if strikes++; strikes == syncStrikes {
				if err := flush(); err != nil {
					return st, fmt.Errorf("state sync: write: %w", err)
				}
				return st, fmt.Errorf("%w: root %s", ErrPeersLackState, root)
			}
		} else {
			strikes = 0
		}
		meter.SetTotal(st.Nodes + uint64(sched.Pending()))
		meter.Set(st.Nodes)
		if sched.MemSize() > syncFlush {
			if err := flush(); err != nil {
				return st, fmt.Errorf("state sync: write: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return st, fmt.Errorf("state sync: write: %w", err)
	}
	if s.scheme == PathScheme {
		// pathdb takes the fetched trie as its disk layer and builds the
		// flat state from it in the background (reads fall back to the
		// trie meanwhile); its state history starts here.
		if err := s.triedb.Enable(root); err != nil {
			return st, fmt.Errorf("state sync: %w", err)
		}
	}
	if !s.hasState(root) {
		return st, fmt.Errorf("state sync: root %s incomplete after the sync", root)
	}
	return st, nil
}

// WriteSyncedBlock makes sb, whose state SyncState fetched, the head: its
// body is checked against its header, ancestors (the headers before it,
// oldest first, ending at its parent; BLOCKHASH reads them) against its
// parent hash, and an ancestor list reaching the genesis against this
// store's genesis. The blocks before sb have no bodies here.
func (s *Store) WriteSyncedBlock(sb *chain.SealedBlock, miniCount uint64, ancestors []*types.Header) error {
	block := sb.Block
	if !s.hasState(block.Root()) {
		return fmt.Errorf("synced block %d: its state %s is not here", block.NumberU64(), block.Root())
	}
	want := block.ParentHash()
	for i := len(ancestors) - 1; i >= 0; i-- {
		h := ancestors[i]
		num := block.NumberU64() - uint64(len(ancestors)-i)
		if h.Number.Uint64() != num || h.Hash() != want {
			return fmt.Errorf("synced block %d: header %d (%s) is not its ancestor %d (%s)", block.NumberU64(), h.Number, h.Hash(), num, want)
		}
		want = h.ParentHash
	}
	// want is now the parent hash of the oldest header (the block itself
	// without ancestors): the genesis's when that header is block 1.
	if oldest := block.NumberU64() - uint64(len(ancestors)); oldest == s.genesis.NumberU64()+1 && want != s.genesis.Hash() {
		return fmt.Errorf("%w: the synced chain's genesis is %s, this node's %s", ErrGenesisMismatch, want, s.genesis.Hash())
	}
	batch := s.kv.NewBatch()
	for _, h := range ancestors {
		if h.Number.Uint64() <= s.genesis.NumberU64() {
			continue
		}
		rawdb.WriteHeader(batch, h)
		rawdb.WriteCanonicalHash(batch, h.Hash(), h.Number.Uint64())
	}
	if err := batch.Delete(syncTargetKey); err != nil {
		return err
	}
	return s.writeBlock(batch, sb, miniCount)
}

// FirstHeader is the number of the oldest block after the genesis whose
// header the store holds: 1 (the genesis's next) for a chain replayed or
// made here, the oldest of the headers fetched with the block of a state
// sync (its first block's 256 ancestors). The headers from it to the head
// are contiguous.
func (s *Store) FirstHeader() uint64 {
	first, head := s.genesis.NumberU64()+1, s.CurrentHeader().Number.Uint64()
	if head < first || s.GetHeaderByNumber(first) != nil {
		return first
	}
	lo, hi := first, head // the header at hi is held, the one at lo not
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if s.GetHeaderByNumber(mid) != nil {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// SyncHead is the newest sealed block whose state the store serves to
// joining nodes.
func (s *Store) SyncHead() (uint64, error) {
	if s.Syncing() {
		return 0, errors.New("this node is syncing its own state")
	}
	return s.CurrentHeader().Number.Uint64(), nil
}

// TrieNodes answers a joining node's state sync: the trie nodes at paths
// (trie.Sync's composite paths: nibbles, the account's 64 first for a
// storage trie) in the state of root, while root is one of the recent
// states (the path scheme's diff layers and disk layer). It stops at the
// first node it does not have and after maxBytes.
func (s *Store) TrieNodes(root common.Hash, paths [][]byte, hashes []common.Hash, maxBytes int) ([][]byte, error) {
	if s.Syncing() {
		return nil, errors.New("this node is syncing its own state")
	}
	reader, err := s.triedb.NodeReader(root)
	if err != nil {
		return nil, fmt.Errorf("state of root %s not served: %w", root, err)
	}
	var out [][]byte
	size := 0
	for i, p := range paths {
		if !nibbles(p) {
			return out, fmt.Errorf("path %x is not a trie path", p)
		}
		owner, inner := trie.ResolvePath(p)
		blob, err := reader.Node(owner, inner, hashes[i])
		if err != nil || len(blob) == 0 {
			if len(out) == 0 {
				return nil, fmt.Errorf("trie node %x of root %s not served: %v", p, root, err)
			}
			break
		}
		if size += len(blob); size > maxBytes && len(out) > 0 {
			break
		}
		out = append(out, blob)
	}
	return out, nil
}

// nibbles reports whether p is a composite trie path: nibbles, at most an
// account hash's and a storage key's.
func nibbles(p []byte) bool {
	if len(p) > 4*common.HashLength {
		return false
	}
	for _, b := range p {
		if b > 0x0f {
			return false
		}
	}
	return true
}

// Codes answers a joining node's request for contract code by hash.
func (s *Store) Codes(hashes []common.Hash, maxBytes int) ([][]byte, error) {
	var out [][]byte
	size := 0
	for _, h := range hashes {
		code := rawdb.ReadCode(s.kv, h)
		if len(code) == 0 {
			if len(out) == 0 {
				return nil, fmt.Errorf("code %s not here", h)
			}
			break
		}
		if size += len(code); size > maxBytes && len(out) > 0 {
			break
		}
		out = append(out, code)
	}
	return out, nil
}

// Headers answers a joining node's request for the canonical headers from
// from on, RLP-encoded.
func (s *Store) Headers(from, count uint64, maxBytes int) ([][]byte, error) {
	var out [][]byte
	size := 0
	for n := from; n < from+count; n++ {
		h := s.GetHeaderByNumber(n)
		if h == nil {
			if len(out) == 0 {
				return nil, fmt.Errorf("header %d not here", n)
			}
			break
		}
		data, err := rlp.EncodeToBytes(h)
		if err != nil {
			return out, err
		}
		if size += len(data); size > maxBytes && len(out) > 0 {
			break
		}
		out = append(out, data)
	}
	return out, nil
}
