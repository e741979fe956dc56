package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/p2p"
	"github.com/meganode/meganode/storage"
)

// The sync modes of a follower with an empty data directory (--sync.mode).
const (
	// SyncFull replays every block from the genesis (the default).
	SyncFull = "full"
	// SyncSnap fetches a recent sealed block's state from peers, checked
	// against the sequencer-signed block, then follows from that block.
	SyncSnap = "snap"
)

// syncAncestors is how many headers before the synced block are fetched:
// the BLOCKHASH opcode reads the 256 before a block.
const syncAncestors = 256

// syncPivots bounds the blocks state sync starts from before it gives up:
// each one that the peers stop serving midway (it fell out of their recent
// states) is replaced by a newer one, keeping what was fetched.
const syncPivots = 8

// syncPeerWait is how often state sync asks again when no peer answers.
const syncPeerWait = 500 * time.Millisecond

// CheckSyncMode checks a --sync.mode value.
func CheckSyncMode(mode string) error {
	switch mode {
	case "", SyncFull, SyncSnap:
		return nil
	}
	return fmt.Errorf("unknown sync mode %q (full or snap)", mode)
}

// syncState brings an empty store to a recent sealed block by state sync
// when mode asks for it: the block message comes signed by the sequencer
// (p2p checks it), the headers before it are checked against its parent
// hash and its body against its header, then its state is fetched and
// checked node by node against its root. A store that holds a chain
// follows from its head. A state sync cut short (a stop, a crash) is
// finished on the next start in snap mode and refused in full.
func (r *Role) syncState(ctx context.Context, mode string) error {
	s := r.store
	if mode != SyncSnap {
		if s.Syncing() {
			return fmt.Errorf("%w in the data directory: start with --sync.mode snap to finish it, or from an empty data directory", storage.ErrSyncUnfinished)
		}
		return nil
	}
	if head := s.CurrentHeader(); head.Number.Uint64() > s.Genesis().NumberU64() && !s.Syncing() {
		r.log.Info().Uint64("head", head.Number.Uint64()).Msg("state sync skipped: the data directory holds a chain, following from its head")
		return nil
	}
	src := &peerState{net: r.net}
	for fruitless := 0; ; {
		m, err := r.syncPivot(ctx, src)
		if err != nil {
			return err
		}
		if m == nil {
			r.log.Info().Msg("state sync skipped: the chain is at its genesis, following from there")
			return nil
		}
		header := m.Bundle.Block.Header()
		ancestors, err := r.syncAncestors(ctx, src, m)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if fruitless++; fruitless == syncPivots {
				return err
			}
			r.log.Warn().Err(err).Msg("state sync: trying another block")
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(syncPeerWait):
			}
			continue
		}
		r.log.Info().Uint64("block", header.Number.Uint64()).Stringer("root", header.Root).Int("peers", len(r.net.Peers())).Msg("state sync: fetching the state of a recent block from peers")
		st, err := s.SyncState(ctx, header.Root, src)
		if errors.Is(err, storage.ErrPeersLackState) {
			// A block the peers stopped serving midway: go on from a newer
			// one with what was fetched; give up only after syncPivots
			// blocks in a row brought nothing.
			if st.Nodes+st.Codes == 0 {
				fruitless++
			} else {
				fruitless = 0
			}
			if fruitless < syncPivots {
				r.log.Warn().Err(err).Uint64("block", header.Number.Uint64()).Uint64("nodes", st.Nodes).Msg("state sync: the peers no longer serve this block's state; going on from a newer one")
				continue
			}
		}
		if err != nil {
			return fmt.Errorf("state sync of block %d: %w", header.Number, err)
		}
		if err := r.writeSynced(m, ancestors); err != nil {
			return err
		}
		r.log.Info().Uint64("block", header.Number.Uint64()).Stringer("hash", header.Hash()).Uint64("nodes", st.Nodes).Uint64("codes", st.Codes).
			Uint64("bytes", st.Bytes).Dur("took", st.Elapsed).Msg("state sync done: following the chain from the synced block")
		return nil
	}
}

// syncPivot waits for a peer that serves state and returns the
// sequencer-signed message of the newest block a peer holds (a lower one
// when that one cannot be fetched), or nil when the chain has no block past
// its genesis. A store whose sync is unfinished waits for a block.
func (r *Role) syncPivot(ctx context.Context, src *peerState) (*chain.BlockMessage, error) {
	waiting := time.Now()
	genesis := r.store.Genesis().NumberU64()
	for {
		heads, err := src.heads(ctx)
		if len(heads) > 0 && heads[0] <= genesis && !r.store.Syncing() {
			return nil, nil
		}
		for _, head := range heads {
			if head <= genesis {
				break
			}
			msgs, ferr := r.net.FetchAny(ctx, p2p.Blocks, head, 1)
			if ferr != nil || len(msgs) != 1 {
				err = fmt.Errorf("block %d: %v", head, ferr)
				continue
			}
			m := new(chain.BlockMessage)
			if derr := rlp.DecodeBytes(msgs[0].Payload, m); derr != nil || m.Bundle == nil || m.Bundle.Block == nil || m.Bundle.Block.NumberU64() != head {
				err = fmt.Errorf("the sequencer's block %d does not decode as block %d: %v", head, head, derr)
				continue
			}
			return m, nil
		}
		if time.Since(waiting) > 10*time.Second {
			r.log.Info().AnErr("last", err).Int("peers", len(r.net.Peers())).Msg("state sync: waiting for a peer to sync from")
			waiting = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(syncPeerWait):
		}
	}
}

// syncAncestors fetches the headers before m's block (syncAncestors of
// them, from the newest down, each batch checked against the parent hash
// above it: a peer that sends others is passed over) and checks the
// block's body against its header and parent.
func (r *Role) syncAncestors(ctx context.Context, src *peerState, m *chain.BlockMessage) ([]*types.Header, error) {
	b := m.Bundle
	num := b.Block.NumberU64()
	first := max(r.store.Genesis().NumberU64()+1, num-min(num, syncAncestors))
	ancestors := make([]*types.Header, num-first)
	want := b.Block.ParentHash()
	for end := num; end > first; { // headers first..end-1 are still to come
		from := max(first, end-min(end, p2p.MaxStateItems))
		var batch []*types.Header
		_, err := src.ask(ctx, func(id peer.ID) ([][]byte, error) {
			items, err := r.net.Headers(ctx, id, from, end-from)
			if err != nil {
				return nil, err
			}
			hs, err := chainedHeaders(items, from, end, want)
			if err != nil {
				return nil, fmt.Errorf("peer %s: %w", id, err)
			}
			batch = hs
			return items, nil
		})
		if err != nil {
			return nil, fmt.Errorf("state sync: headers %d-%d before block %d: %w", from, end-1, num, err)
		}
		copy(ancestors[from-first:], batch)
		want, end = batch[0].ParentHash, from
	}
	parent := r.store.Genesis().Header()
	if len(ancestors) > 0 {
		parent = ancestors[len(ancestors)-1]
	}
	if err := chain.CheckBodyWithDeposits(r.store.ChainConfig(), parent, b.Block, b.Receipts, b.Deposits, b.DepositReceipts); err != nil {
		return nil, fmt.Errorf("state sync: block %d: %w", num, err)
	}
	return ancestors, nil
}

// chainedHeaders decodes the RLP headers of blocks from..end-1 and checks
// that they chain up to want, the hash of block end-1.
func chainedHeaders(items [][]byte, from, end uint64, want common.Hash) ([]*types.Header, error) {
	if uint64(len(items)) != end-from {
		return nil, fmt.Errorf("%d headers for blocks %d-%d", len(items), from, end-1)
	}
	hs := make([]*types.Header, len(items))
	for i := len(items) - 1; i >= 0; i-- {
		h := new(types.Header)
		if err := rlp.DecodeBytes(items[i], h); err != nil {
			return nil, fmt.Errorf("header %d: %w", from+uint64(i), err)
		}
		if h.Number == nil || h.Number.Uint64() != from+uint64(i) || h.Hash() != want {
			return nil, fmt.Errorf("header %d is not the block's ancestor %s", from+uint64(i), want)
		}
		hs[i], want = h, h.ParentHash
	}
	return hs, nil
}

// writeSynced makes m's block the store's head once its state is there,
// with the headers before it.
func (r *Role) writeSynced(m *chain.BlockMessage, ancestors []*types.Header) error {
	b := m.Bundle
	sb := &chain.SealedBlock{Block: b.Block, Receipts: b.Receipts, Diff: b.StateDiff, Witness: b.Witness, Edits: m.Edits,
		Deposits: b.Deposits, DepositReceipts: b.DepositReceipts, L1Origin: b.L1Origin}
	if err := r.store.WriteSyncedBlock(sb, m.MiniBlockCount, ancestors); err != nil {
		return fmt.Errorf("state sync: %w", err)
	}
	if r.rep != nil {
		return r.rep.Reopen()
	}
	return nil
}

// peerState asks the p2p node's peers for state, each request of the next
// peer in turn that answers: a peer that has nothing, or is gone, is
// passed over. What comes back is checked by the store.
type peerState struct {
	net  *p2p.Node
	next int
}

func (p *peerState) ask(ctx context.Context, call func(peer.ID) ([][]byte, error)) ([][]byte, error) {
	peers := p.net.Peers()
	err := errors.New("no peers")
	for range peers {
		id := peers[p.next%len(peers)]
		p.next++
		var items [][]byte
		if items, err = call(id); len(items) > 0 {
			return items, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return nil, err
}

func (p *peerState) TrieNodes(ctx context.Context, root common.Hash, paths [][]byte, hashes []common.Hash) ([][]byte, error) {
	return p.ask(ctx, func(id peer.ID) ([][]byte, error) { return p.net.TrieNodes(ctx, id, root, paths, hashes) })
}

func (p *peerState) Codes(ctx context.Context, hashes []common.Hash) ([][]byte, error) {
	return p.ask(ctx, func(id peer.ID) ([][]byte, error) { return p.net.Codes(ctx, id, hashes) })
}

// heads are the sealed heads the peers that serve state report, newest
// first, without repeats.
func (p *peerState) heads(ctx context.Context) ([]uint64, error) {
	var hs []uint64
	err := errors.New("no peers")
	for _, id := range p.net.Peers() {
		h, herr := p.net.SyncHead(ctx, id)
		if herr != nil {
			err = herr
			continue
		}
		hs = append(hs, h)
	}
	if len(hs) == 0 {
		return nil, err
	}
	slices.Sort(hs)
	slices.Reverse(hs)
	return slices.Compact(hs), nil
}
