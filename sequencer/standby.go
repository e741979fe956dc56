package sequencer

import (
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/storage"
)

// SetFence makes an HA sequencer (Config.HA) commit its output to f before
// publishing it. Call it before Start.
func (s *Sequencer) SetFence(f Fence) {
	s.fence = f
	s.fenceSpace, _ = f.(FenceSpace)
}

// Reopen opens the block after the store's head again, after a state sync
// made another block the head: an HA candidate that joined by state sync,
// before Start. The raft log's entries above the head are applied on it.
func (s *Sequencer) Reopen() error {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	if s.running.Load() {
		return errors.New("sequencer: Reopen after Start")
	}
	s.miniCount = s.store.MiniBlockCount()
	s.published = s.miniCount
	return s.openBlock(s.clock.Now())
}

// Leading reports whether the sequencer produces blocks: always without HA,
// only as the raft leader with it.
func (s *Sequencer) Leading() bool { return s.leading.Load() }

// TakeRepublish reports, once per leadership, that this candidate has just
// become the leader: the publisher then gossips again the open block's
// mini-blocks and the newest sealed block, which the old leader may have
// committed but not sent.
func (s *Sequencer) TakeRepublish() bool { return s.republish.CompareAndSwap(true, false) }

// Lead makes a standby the producer once it has executed every committed
// entry. The open block continues where the old leader left it.
func (s *Sequencer) Lead(committed []Entry) error {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	if s.failed != nil {
		return fmt.Errorf("sequencer halted: %w", s.failed)
	}
	if s.leading.Load() {
		return nil
	}
	// A full disk could neither write the blocks nor grow the raft log: the
	// candidate stays a standby and says why (its HA loop hands over).
	if err := s.checkSpace(); err != nil {
		return fmt.Errorf("not producing: %w", err)
	}
	if err := s.follow(committed); err != nil {
		if errors.Is(err, errSealHeld) {
			if err = s.diskFull(); err == nil {
				err = storage.ErrDiskFull // a write hit ENOSPC after the check
			}
			return fmt.Errorf("not producing: %w", err)
		}
		s.halt(err)
		return err
	}
	s.opened = time.Unix(int64(s.builder.Header().Time), 0)
	if s.miniIndex == 0 {
		s.opened = s.clock.Now() // a fresh block: give it its full time
	}
	s.intervalTxs, s.prevIntervalTxs = 0, 0
	s.republish.Store(true)
	s.leading.Store(true)
	s.log.Info().Uint64("block", s.builder.Header().Number.Uint64()).Uint64("miniblock", s.miniCount).Msg("leading: producing blocks")
	return nil
}

// standby reports whether this is an HA candidate that neither produces
// nor holds the raft leadership. A leader handing over is none: with a full
// disk it still answers with the disk-full error, since no other candidate
// may be able to take the tx yet.
func (s *Sequencer) standby() bool {
	return s.fence != nil && !s.leading.Load() && !s.fence.IsLeader()
}

func (s *Sequencer) notLeader() error {
	if s.fence == nil {
		return &chain.NotLeaderError{}
	}
	return &chain.NotLeaderError{Leader: s.fence.Leader()}
}

// StepDown stops production at once (leadership lost): see stepDownLocked.
func (s *Sequencer) StepDown(reason error) error {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	return s.stepDownLocked(reason)
}

// stepDownLocked stops production, refuses every pooled tx with a retryable
// error and rebuilds the open block from what the raft group committed:
// whatever this candidate executed past that is discarded unseen.
func (s *Sequencer) stepDownLocked(reason error) error {
	if !s.leading.Swap(false) {
		return nil
	}
	s.log.Warn().Err(reason).Uint64("miniblock", s.miniCount).Msg("stepping down: no longer the leader")
	notLeader := s.notLeader()
	for _, tx := range s.pool.Clear() {
		s.dropped(tx.Hash(), notLeader)
	}
	for _, p := range s.unsealed {
		s.dropped(p.tx.Hash(), notLeader)
	}
	s.unsealed, s.receipts, s.miniGas = s.unsealed[:0], s.receipts[:0], 0
	// A sealed block held for a full disk was committed before the store
	// refused it: the log seals it again below.
	s.heldSeal = nil
	return s.rebuild()
}

// rebuild reopens the block after the stored head and executes the
// committed entries on top.
func (s *Sequencer) rebuild() error {
	s.miniCount = s.store.MiniBlockCount()
	if err := s.openBlock(s.clock.Now()); err != nil {
		return err
	}
	if err := s.follow(s.fence.Committed()); !errors.Is(err, errSealHeld) {
		return err
	}
	return nil
}

// holding reports whether a standby holds a sealed block its full disk
// refused: it follows again, writing it first, once space is back.
func (s *Sequencer) holding() bool {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	return s.heldSeal != nil && !s.leading.Load()
}

// Follow executes committed entries on a standby: the same transactions in
// the same mini-blocks, so its state, receipts and sealed blocks are the
// leader's and it can take over at any entry. Entries it has already
// applied are skipped. A divergence halts it (it must never lead).
func (s *Sequencer) Follow(committed []Entry) {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	if s.leading.Load() || s.failed != nil {
		return
	}
	if err := s.follow(committed); err != nil && !errors.Is(err, errSealHeld) {
		s.halt(err)
	}
}

// follow applies committed entries. A sealed block the store refuses for a
// full disk is held, and so is everything after it (the raft FSM keeps the
// entries above the stored head): errSealHeld, not a halt. The next call
// writes it first once there is space.
func (s *Sequencer) follow(committed []Entry) error {
	if sb := s.heldSeal; sb != nil {
		if err := s.checkSpace(); err != nil {
			return errSealHeld
		}
		if err := s.persistSealed(sb); err != nil {
			if errors.Is(err, storage.ErrDiskFull) {
				return errSealHeld
			}
			return err
		}
		s.heldSeal, s.paused = nil, false
		s.log.Info().Uint64("block", sb.Block.NumberU64()).Msg("disk has space again: held block written, following")
		if err := s.openBlock(s.clock.Now()); err != nil {
			return err
		}
	}
	for _, e := range committed {
		var err error
		if e.Mini != nil {
			err = s.applyMini(e.Mini)
		} else {
			err = s.applySeal(e.Seal)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Sequencer) applyMini(m *MiniEntry) error {
	head := s.store.CurrentHeader().Number.Uint64()
	if m.BlockNumber <= head || m.Number < s.miniCount {
		return nil // applied before
	}
	if m.Number != s.miniCount || m.BlockNumber != head+1 {
		return fmt.Errorf("raft log mini-block %d of block %d does not follow local mini-block %d of block %d: the store is behind the raft log (resync this candidate's datadir)",
			m.Number, m.BlockNumber, s.miniCount, head+1)
	}
	if h := s.builder.Header(); h.Time != m.BlockTime {
		if s.miniIndex > 0 {
			return fmt.Errorf("raft log block %d has time %d, the local open block %d", m.BlockNumber, m.BlockTime, h.Time)
		}
		if err := s.openBlock(time.Unix(int64(m.BlockTime), 0)); err != nil {
			return err
		}
	}
	if m.Index != s.miniIndex {
		return fmt.Errorf("raft log mini-block %d has index %d in block %d, local index %d", m.Number, m.Index, m.BlockNumber, s.miniIndex)
	}
	if m.Index == 0 && (len(m.Deposits) > 0 || m.L1Origin != (chain.L1Origin{})) {
		if err := s.applyDepositEntry(m); err != nil {
			return err
		}
	}
	signer := s.builder.Signer()
	for _, tx := range m.Txs {
		from, err := types.Sender(signer, tx)
		if err != nil {
			return fmt.Errorf("raft log tx %s: %w", tx.Hash(), err)
		}
		receipt, err := s.builder.ApplyTx(tx)
		if err != nil {
			return fmt.Errorf("raft log tx %s in mini-block %d does not execute here: %w", tx.Hash(), m.Number, err)
		}
		s.unsealed = append(s.unsealed, &pooledTx{tx: tx, from: from})
		s.receipts = append(s.receipts, receipt)
		s.miniGas += receipt.GasUsed
	}
	s.publishMiniBlock(m.Txs, m.TimestampMicros)
	return nil
}

// applyDepositEntry runs the leader's deposits of the open block, which a
// standby opened without any.
func (s *Sequencer) applyDepositEntry(m *MiniEntry) error {
	return s.applyDeposits(m.Deposits, m.L1Origin, m.Number)
}

// applyDeposits runs the deposits a raft entry or the journal carries for
// the open block (in mini-block number) and sets its L1 cursor.
func (s *Sequencer) applyDeposits(deposits []*chain.Deposit, origin chain.L1Origin, number uint64) error {
	if err := s.ensureOpen(); err != nil {
		return err
	}
	block := s.builder.Header().Number.Uint64()
	if have, _ := s.builder.Deposits(); len(have) > 0 {
		return fmt.Errorf("mini-block %d brings deposits to block %d, which already ran %d", number, block, len(have))
	}
	for _, d := range deposits {
		if _, err := s.builder.ApplyDeposit(d); err != nil {
			return fmt.Errorf("deposit %s in mini-block %d of block %d does not execute here: %w", d.SourceHash, number, block, err)
		}
	}
	s.builder.SetL1Origin(origin)
	return nil
}

func (s *Sequencer) applySeal(e *SealEntry) error {
	head := s.store.CurrentHeader().Number.Uint64()
	if e.Number <= head {
		return nil
	}
	if n := s.builder.Header().Number.Uint64(); n != e.Number {
		return fmt.Errorf("raft log seals block %d, the local open block is %d", e.Number, n)
	}
	sb, err := s.builder.Seal()
	if err != nil {
		return err
	}
	if sb.Block.Hash() != e.Hash {
		return fmt.Errorf("%w: block %d seals to %s here, the leader committed %s", chain.ErrBadBlock, e.Number, sb.Block.Hash(), e.Hash)
	}
	if err := s.persistSealed(sb); err != nil {
		if errors.Is(err, storage.ErrDiskFull) {
			s.heldSeal = sb
			s.pause(err)
			return errSealHeld
		}
		return err
	}
	return s.openBlock(s.clock.Now())
}
