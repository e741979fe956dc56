package node

import (
	"context"
	"errors"
	"fmt"
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
// (p2p checks it), its state is fetched and checked node by node against
// its root, the headers before it against its parent hash. A store that
// holds a chain follows from its head. A state sync cut short (a stop, a
// crash) is finished on the next start in snap mode and refused in full.
func (r *Role) syncState(ctx context.Context, mode string) error {
	s := r.store
	if mode != SyncSnap {
		if s.Syncing() {
			return fmt.Errorf("%w in %s: start with --sync.mode snap to finish it, or from an empty data directory", storage.ErrSyncUnfinished, "the data directory")
		}
		return nil
	}
	if head := s.CurrentHeader(); head.Number.Uint64() > s.Genesis().NumberU64() && !s.Syncing() {
		r.log.Info().Uint64("head", head.Number.Uint64()).Msg("state sync skipped: the data directory holds a chain, following from its head")
		return nil
	}
	src := &peerState{net: r.net}
	for attempt := 1; ; attempt++ {
		m, err := r.syncPivot(ctx, src)
		if err != nil {
			return err
		}
		if m == nil {
			r.log.Info().Msg("state sync skipped: the chain is at its genesis, following from there")
			return nil
		}
		header := m.Bundle.Block.Header()
		r.log.Info().Uint64("block", header.Number.Uint64()).Stringer("root", header.Root).Int("peers", len(r.net.Peers())).Msg("state sync: fetching the state of a recent block from peers")
		st, err := s.SyncState(ctx, header.Root, src)
		if errors.Is(err, storage.ErrPeersLackState) && attempt < syncPivots {
			r.log.Warn().Err(err).Uint64("block", header.Number.Uint64()).Msg("state sync: the peers no longer serve this block's state; going on from a newer one")
			continue
		}
		if err != nil {
			return fmt.Errorf("state sync of block %d: %w", header.Number, err)
		}
		if err := r.writeSynced(ctx, src, m); err != nil {
			return err
		}
		r.log.Info().Uint64("block", header.Number.Uint64()).Stringer("hash", header.Hash()).Uint64("nodes", st.Nodes).Uint64("codes", st.Codes).
			Uint64("bytes", st.Bytes).Dur("took", st.Elapsed).Msg("state sync done: following the chain from the synced block")
		return nil
	}
}

// syncPivot waits for a peer that serves state and returns the
// sequencer-signed message of the newest block the peers hold, or nil
// when the chain has no block past its genesis.
func (r *Role) syncPivot(ctx context.Context, src *peerState) (*chain.BlockMessage, error) {
	waiting := time.Now()
	for {
		head, err := src.head(ctx)
		if err == nil && head <= r.store.Genesis().NumberU64() {
			return nil, nil
		}
		if err == nil {
			msgs, ferr := r.net.FetchAny(ctx, p2p.Blocks, head, 1)
			if ferr == nil && len(msgs) == 1 {
				m := new(chain.BlockMessage)
				if err := rlp.DecodeBytes(msgs[0].Payload, m); err != nil || m.Bundle == nil || m.Bundle.Block == nil || m.Bundle.Block.NumberU64() != head {
					return nil, fmt.Errorf("state sync: the sequencer's block %d does not decode: %v", head, err)
				}
				return m, nil
			}
			err = ferr
		}
		if time.Since(waiting) > 10*time.Second {
			r.log.Info().Err(err).Int("peers", len(r.net.Peers())).Msg("state sync: waiting for a peer to sync from")
			waiting = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(syncPeerWait):
		}
	}
}

// writeSynced makes m's block the store's head once its state is there,
// with the headers before it.
func (r *Role) writeSynced(ctx context.Context, src *peerState, m *chain.BlockMessage) error {
	b := m.Bundle
	num := b.Block.NumberU64()
	from := max(r.store.Genesis().NumberU64()+1, num-min(num, syncAncestors))
	var ancestors []*types.Header
	for n := from; n < num; {
		items, err := src.headers(ctx, n, min(num-n, p2p.MaxStateItems))
		if err != nil {
			return fmt.Errorf("state sync: headers before block %d: %w", num, err)
		}
		for _, it := range items {
			h := new(types.Header)
			if err := rlp.DecodeBytes(it, h); err != nil {
				return fmt.Errorf("state sync: header %d: %w", n, err)
			}
			ancestors = append(ancestors, h)
			n++
		}
	}
	parent := r.store.Genesis().Header()
	if len(ancestors) > 0 {
		parent = ancestors[len(ancestors)-1]
	}
	if err := chain.CheckBodyWithDeposits(r.store.ChainConfig(), parent, b.Block, b.Receipts, b.Deposits, b.DepositReceipts); err != nil {
		return fmt.Errorf("state sync: block %d: %w", num, err)
	}
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

func (p *peerState) headers(ctx context.Context, from, count uint64) ([][]byte, error) {
	return p.ask(ctx, func(id peer.ID) ([][]byte, error) { return p.net.Headers(ctx, id, from, count) })
}

// head is the newest sealed block among the peers that serve state.
func (p *peerState) head(ctx context.Context) (uint64, error) {
	var best uint64
	found := false
	err := errors.New("no peers")
	for _, id := range p.net.Peers() {
		h, herr := p.net.SyncHead(ctx, id)
		if herr != nil {
			err = herr
			continue
		}
		best, found = max(best, h), true
	}
	if !found {
		return 0, err
	}
	return best, nil
}
