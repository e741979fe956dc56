package l1

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/contracts"
)

// BlobRecord is one BlobRecorded log of the DA inbox: a DA blob's
// commitment and the L2 blocks it holds, and where the record is on L1.
type BlobRecord struct {
	First, Last   uint64
	LastHash      common.Hash
	Commitment    []byte
	L1BlockHash   common.Hash
	L1BlockNumber uint64
	L1TxHash      common.Hash
	LogIndex      uint
}

func blobTopic() common.Hash { return mustArtifact(contracts.DAInbox).ABI.Events["BlobRecorded"].ID }

// RecordBlob records a posted blob in the inbox (from the batcher's account).
func (c *Client) RecordBlob(ctx context.Context, opts *bind.TransactOpts, blob *chain.DACommitment) (*types.Receipt, error) {
	return transact(ctx, c.b, opts, c.inbox, "record", blob.First, blob.Last, blob.LastHash, blob.Commitment)
}

// BlobRecordFromLog decodes a BlobRecorded log.
func BlobRecordFromLog(l *types.Log) (*BlobRecord, error) {
	if len(l.Topics) != 2 || l.Topics[0] != blobTopic() {
		return nil, fmt.Errorf("log %d: not a BlobRecorded log", l.Index)
	}
	out, err := mustArtifact(contracts.DAInbox).ABI.Events["BlobRecorded"].Inputs.NonIndexed().Unpack(l.Data)
	if err != nil {
		return nil, fmt.Errorf("log %d: BlobRecorded: %w", l.Index, err)
	}
	return &BlobRecord{
		First: l.Topics[1].Big().Uint64(), Last: out[0].(uint64), LastHash: out[1].([32]byte), Commitment: out[2].([]byte),
		L1BlockHash: l.BlockHash, L1BlockNumber: l.BlockNumber, L1TxHash: l.TxHash, LogIndex: l.Index,
	}, nil
}

// BlobRecords reads the inbox's records in L1 blocks from..to, in L1 order.
func (c *Client) BlobRecords(ctx context.Context, from, to uint64) ([]*BlobRecord, error) {
	logs, err := c.b.FilterLogs(ctx, ethereum.FilterQuery{
		FromBlock: new(big.Int).SetUint64(from), ToBlock: new(big.Int).SetUint64(to),
		Addresses: []common.Address{c.addrs.DAInbox}, Topics: [][]common.Hash{{blobTopic()}},
	})
	if err != nil {
		return nil, fmt.Errorf("blob records in L1 blocks %d..%d: %w", from, to, err)
	}
	out := make([]*BlobRecord, 0, len(logs))
	for i := range logs {
		r, err := BlobRecordFromLog(&logs[i])
		if err != nil {
			return nil, fmt.Errorf("L1 block %d: %w", logs[i].BlockNumber, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// DACommitment is the DA commitment a record names; seq is its place
// among the inbox's records (1 for the first), as the batcher numbered it.
func (r *BlobRecord) DACommitment(seq uint64) *chain.DACommitment {
	return &chain.DACommitment{Seq: seq, First: r.First, Last: r.Last, LastHash: r.LastHash, Commitment: common.CopyBytes(r.Commitment),
		L1Block: r.L1BlockNumber, L1Tx: r.L1TxHash}
}

// PostedBlobs is what an InboxRecorder records: the batcher's posted
// blobs by sequence number (storage.Store).
type PostedBlobs interface {
	DACommitmentBySeq(seq uint64) (*chain.DACommitment, error)
}

// InboxConfig configures an InboxRecorder or an InboxIndex.
type InboxConfig struct {
	StartBlock    uint64        // the inbox's deployment block
	Confirmations uint64        // InboxIndex: L1 blocks that must follow a record
	Poll          time.Duration // default 1 s
	MaxRange      uint64        // L1 blocks per log query, default 2,000
	// HeadIsFinal (OutputWatcher): the L1's head counts as finalized, for an
	// embedded L1, which never reorganizes (go-ethereum's simulated backend
	// finalizes only every 32 blocks).
	HeadIsFinal bool
}

func (c InboxConfig) withDefaults() InboxConfig {
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.MaxRange == 0 {
		c.MaxRange = 2000
	}
	return c
}

// scanRecords reads the inbox's records in L1 blocks from..to, MaxRange
// blocks per query.
func (c *Client) scanRecords(ctx context.Context, from, to, maxRange uint64) ([]*BlobRecord, error) {
	var out []*BlobRecord
	for from <= to {
		end := min(to, from+maxRange-1)
		rs, err := c.BlobRecords(ctx, from, end)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
		from = end + 1
	}
	return out, nil
}

// InboxRecorder records every blob the batcher posted in the DA inbox, in
// order and once each, from the batcher's key: after a restart it reads
// the inbox to find where it stopped. Recorded is called after each.
type InboxRecorder struct {
	c        *Client
	key      *ecdsa.PrivateKey
	blobs    PostedBlobs
	cfg      InboxConfig
	log      zerolog.Logger
	recorded func(*chain.DACommitment, *types.Receipt)

	mu     sync.Mutex
	next   uint64 // the seq to record next; 0 until the inbox was read
	count  uint64
	gas    uint64
	failed error
	// marks are the newest records known in the inbox (this recorder's, or
	// the last ones found reading it), oldest first: a reorg that drops the
	// newest is noticed, and the inbox is read again after base, the newest
	// still canonical (zero: from the start block).
	marks []inboxMark
	base  inboxMark
}

// inboxMark is a record in the inbox: blob seq, whose last L2 block is
// last, recorded in L1 block at.
type inboxMark struct {
	seq, last uint64
	at        chain.L1Origin
}

// marksKept bounds InboxRecorder.marks.
const marksKept = 64

// NewInboxRecorder records blobs on c's inbox; recorded (may be nil) hears
// of each record.
func NewInboxRecorder(c *Client, key *ecdsa.PrivateKey, blobs PostedBlobs, cfg InboxConfig, recorded func(*chain.DACommitment, *types.Receipt), log zerolog.Logger) *InboxRecorder {
	return &InboxRecorder{c: c, key: key, blobs: blobs, cfg: cfg.withDefaults(), recorded: recorded, log: log.With().Str("component", "l1-inbox").Logger()}
}

// InboxStats are a recorder's counters.
type InboxStats struct {
	Recorded uint64 // records sent by this recorder
	Next     uint64 // the next blob to record
	Gas      uint64 // L1 gas of the newest record
}

// Stats returns the recorder's counters.
func (r *InboxRecorder) Stats() InboxStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return InboxStats{Recorded: r.count, Next: r.next, Gas: r.gas}
}

// Run records until ctx ends; failures are logged once and retried.
func (r *InboxRecorder) Run(ctx context.Context) {
	poll(ctx, r.cfg.Poll, r.log, "DA inbox record failed; retrying", "DA inbox records resumed", r.Step)
}

// Step records every posted blob not yet in the inbox, and again one
// whose record an L1 reorg dropped.
func (r *InboxRecorder) Step(ctx context.Context) error {
	if err := r.checkReorg(ctx); err != nil {
		return err
	}
	r.mu.Lock()
	next, base := r.next, r.base
	r.mu.Unlock()
	if next == 0 {
		var err error
		if next, err = r.resume(ctx, base); err != nil {
			return err
		}
	}
	for {
		c, err := r.blobs.DACommitmentBySeq(next)
		if err != nil || c == nil {
			return err
		}
		rc, err := r.c.RecordBlob(ctx, r.c.Transactor(r.key), c)
		if err != nil {
			return fmt.Errorf("record blob %d (blocks %d..%d): %w", c.Seq, c.First, c.Last, err)
		}
		r.mu.Lock()
		r.mark(inboxMark{seq: next, last: c.Last, at: chain.L1Origin{Number: rc.BlockNumber.Uint64(), Hash: rc.BlockHash}})
		next++
		r.next, r.gas = next, rc.GasUsed
		r.count++
		r.mu.Unlock()
		r.log.Debug().Uint64("blob", c.Seq).Uint64("last_block", c.Last).Uint64("l1_block", rc.BlockNumber.Uint64()).Uint64("gas", rc.GasUsed).Msg("recorded a DA blob on L1")
		if r.recorded != nil {
			r.recorded(c, rc)
		}
	}
}

// mark remembers m as the newest record; r.mu is held.
func (r *InboxRecorder) mark(m inboxMark) {
	r.marks = append(r.marks, m)
	if len(r.marks) > marksKept {
		r.marks = slices.Delete(r.marks, 0, 1)
	}
}

// resume reads the inbox's records after base up to the L1's head, as
// after a restart, and returns the blob to record next. A record of blobs
// already counted (one recorded again after a reorg seemed to drop it, and
// then mined twice) is not counted again.
func (r *InboxRecorder) resume(ctx context.Context, base inboxMark) (uint64, error) {
	head, err := r.c.b.HeaderByNumber(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("L1 head: %w", err)
	}
	from := r.cfg.StartBlock
	if base.seq > 0 {
		from = base.at.Number + 1
	}
	records, err := r.c.scanRecords(ctx, from, head.Number.Uint64(), r.cfg.MaxRange)
	if err != nil {
		return 0, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	seq, last := base.seq, base.last
	for _, rec := range records {
		if seq > 0 && rec.Last <= last {
			continue
		}
		seq, last = seq+1, rec.Last
		r.mark(inboxMark{seq: seq, last: last, at: chain.L1Origin{Number: rec.L1BlockNumber, Hash: rec.L1BlockHash}})
	}
	r.next, r.base = seq+1, inboxMark{}
	return r.next, nil
}

// checkReorg finds whether the newest record the recorder knows is still in
// the L1's chain. When a reorg dropped it, the inbox is read again after the
// newest record still there (Step then records what is missing), as after
// a restart.
func (r *InboxRecorder) checkReorg(ctx context.Context) error {
	r.mu.Lock()
	marks := slices.Clone(r.marks)
	r.mu.Unlock()
	if len(marks) == 0 {
		return nil
	}
	lost := marks[len(marks)-1]
	ok, err := canonical(ctx, r.c.b, lost.at)
	if err != nil || ok {
		return err
	}
	keep := 0
	for i := len(marks) - 2; i >= 0; i-- {
		ok, err := canonical(ctx, r.c.b, marks[i].at)
		if err != nil {
			return err
		}
		if ok {
			keep = i + 1
			break
		}
	}
	var base inboxMark
	if keep > 0 {
		base = marks[keep-1]
	}
	r.mu.Lock()
	r.marks, r.base, r.next = marks[:keep:keep], base, 0
	r.mu.Unlock()
	r.log.Warn().Uint64("blob", lost.seq).Uint64("l1_block", lost.at.Number).Stringer("l1_block_hash", lost.at.Hash).Uint64("after_blob", base.seq).
		Msg("L1 reorg dropped a DA inbox record: the inbox is read again, and blobs missing from it are recorded again")
	return nil
}

// InboxIndex lists DA blobs from the L1 inbox's records (confirmed ones
// only): what a follower reads to check, or derive, the chain from DA
// without trusting any node's RPC. It answers eigenda's Index. A reorg
// deeper than the confirmations drops the records of the blocks it
// replaced, and the new branch's are read.
type InboxIndex struct {
	c   *Client
	cfg InboxConfig
	log zerolog.Logger

	refreshing sync.Mutex // one refresh at a time

	mu      sync.Mutex
	records []*chain.DACommitment // in record order, Seq 1, 2, …
	at      []chain.L1Origin      // records[i]'s L1 block
	scanned uint64                // L1 blocks below this are read
	end     chain.L1Origin        // block scanned-1 once one was read
	trail   trail                 // the ends read, to find a reorg's fork
}

// NewInboxIndex is an index of c's inbox.
func NewInboxIndex(c *Client, cfg InboxConfig, log zerolog.Logger) *InboxIndex {
	cfg = cfg.withDefaults()
	return &InboxIndex{c: c, cfg: cfg, scanned: cfg.StartBlock, log: log.With().Str("component", "l1-inbox-index").Logger()}
}

// Commitments returns up to limit blobs in order, from the one holding
// block from, reading the records confirmed on L1 since the last call.
func (x *InboxIndex) Commitments(ctx context.Context, from uint64, limit int) ([]*chain.DACommitment, error) {
	if err := x.refresh(ctx); err != nil {
		return nil, err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []*chain.DACommitment
	for _, c := range x.records {
		if c.Last >= from && len(out) < limit {
			out = append(out, c)
		}
	}
	return out, nil
}

func (x *InboxIndex) refresh(ctx context.Context) error {
	x.refreshing.Lock()
	defer x.refreshing.Unlock()
	head, err := x.c.b.HeaderByNumber(ctx, nil)
	if err != nil {
		return fmt.Errorf("L1 head: %w", err)
	}
	tip := head.Number.Uint64()
	for rollbacks := 0; ; {
		x.mu.Lock()
		from, prev := x.scanned, x.end
		x.mu.Unlock()
		scan := tip >= x.cfg.Confirmations && tip-x.cfg.Confirmations >= from
		var to uint64
		var rs []*BlobRecord
		var end *types.Header
		if scan {
			// As the deposit feed: the last header before and after the
			// logs, and the block they follow still canonical after them.
			to = tip - x.cfg.Confirmations
			before, err := x.c.b.HeaderByNumber(ctx, new(big.Int).SetUint64(to))
			if err != nil {
				return fmt.Errorf("L1 header %d: %w", to, err)
			}
			if rs, err = x.c.scanRecords(ctx, from, to, x.cfg.MaxRange); err != nil {
				return err
			}
			if end, err = x.c.b.HeaderByNumber(ctx, new(big.Int).SetUint64(to)); err != nil {
				return fmt.Errorf("L1 header %d: %w", to, err)
			}
			if end.Hash() != before.Hash() {
				return nil // read again on the next call
			}
		}
		if prev != (chain.L1Origin{}) {
			ok, err := canonical(ctx, x.c.b, prev)
			if err != nil {
				return err
			}
			if !ok {
				if rollbacks++; rollbacks > 3 {
					return errors.New("the L1 keeps reorganising during the DA inbox scan")
				}
				if err := x.rollback(ctx, tip, prev); err != nil {
					return err
				}
				continue
			}
		}
		if !scan {
			return nil
		}
		return x.add(rs, chain.L1Origin{Number: to, Hash: end.Hash()})
	}
}

// add appends the records read through L1 block end, which must follow
// the indexed ones. A record of blobs already indexed, the same, is one the
// recorder recorded again after a reorg seemed to drop it: not a new blob.
func (x *InboxIndex) add(rs []*BlobRecord, end chain.L1Origin) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	records, at := x.records, x.at
	for _, r := range rs {
		n := len(records)
		if n > 0 && r.Last <= records[n-1].Last {
			i := sort.Search(n, func(i int) bool { return records[i].First >= r.First })
			if i < n && sameBlob(records[i], r) {
				continue
			}
		}
		if n > 0 && r.First != records[n-1].Last+1 {
			return fmt.Errorf("DA inbox record of blocks %d..%d (L1 block %d) does not follow the record of blocks ..%d", r.First, r.Last, r.L1BlockNumber, records[n-1].Last)
		}
		records = append(records, r.DACommitment(uint64(n)+1))
		at = append(at, chain.L1Origin{Number: r.L1BlockNumber, Hash: r.L1BlockHash})
	}
	x.records, x.at, x.scanned, x.end = records, at, end.Number+1, end
	x.trail.add(end)
	return nil
}

func sameBlob(c *chain.DACommitment, r *BlobRecord) bool {
	return c.First == r.First && c.Last == r.Last && c.LastHash == r.LastHash && bytes.Equal(c.Commitment, r.Commitment)
}

// rollback drops the records above the newest block read still canonical
// (all of them when none is), for refresh to read again: old is the end
// read that is no longer the L1's.
func (x *InboxIndex) rollback(ctx context.Context, tip uint64, old chain.L1Origin) error {
	x.mu.Lock()
	cands := x.trail.candidates(x.at)
	x.mu.Unlock()
	fork, found, err := forkPoint(ctx, x.c.b, tip, cands)
	if err != nil {
		return err
	}
	from := x.cfg.StartBlock
	if found {
		from = fork.Number + 1
	}
	x.mu.Lock()
	i := len(x.records)
	for i > 0 && x.at[i-1].Number >= from {
		i--
	}
	dropped := len(x.records) - i
	x.records, x.at = x.records[:i:i], x.at[:i:i]
	x.trail.rollback(from)
	x.scanned, x.end = from, fork
	x.mu.Unlock()
	x.log.Warn().Str("l1_blocks", fmt.Sprintf("%d..%d", from, old.Number)).Stringer("orphaned_end", old.Hash).
		Uint64("fork", fork.Number).Stringer("fork_hash", fork.Hash).Int("dropped_records", dropped).
		Msg("L1 reorg: DA inbox records of these L1 blocks re-read")
	return nil
}
