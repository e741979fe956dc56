package l1

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"math/big"
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
}

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

// Step records every posted blob not yet in the inbox.
func (r *InboxRecorder) Step(ctx context.Context) error {
	r.mu.Lock()
	next := r.next
	r.mu.Unlock()
	if next == 0 {
		head, err := r.c.b.HeaderByNumber(ctx, nil)
		if err != nil {
			return fmt.Errorf("L1 head: %w", err)
		}
		records, err := r.c.scanRecords(ctx, r.cfg.StartBlock, head.Number.Uint64(), r.cfg.MaxRange)
		if err != nil {
			return err
		}
		next = uint64(len(records)) + 1
		r.mu.Lock()
		r.next = next
		r.mu.Unlock()
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
		next++
		r.mu.Lock()
		r.next, r.gas = next, rc.GasUsed
		r.count++
		r.mu.Unlock()
		r.log.Debug().Uint64("blob", c.Seq).Uint64("last_block", c.Last).Uint64("l1_block", rc.BlockNumber.Uint64()).Uint64("gas", rc.GasUsed).Msg("recorded a DA blob on L1")
		if r.recorded != nil {
			r.recorded(c, rc)
		}
	}
}

// InboxIndex lists DA blobs from the L1 inbox's records (confirmed ones
// only): what a follower reads to check, or derive, the chain from DA
// without trusting any node's RPC. It answers eigenda's Index.
type InboxIndex struct {
	c   *Client
	cfg InboxConfig

	mu      sync.Mutex
	records []*chain.DACommitment // in record order, Seq 1, 2, …
	scanned uint64                // L1 blocks below this are read
}

// NewInboxIndex is an index of c's inbox.
func NewInboxIndex(c *Client, cfg InboxConfig) *InboxIndex {
	cfg = cfg.withDefaults()
	return &InboxIndex{c: c, cfg: cfg, scanned: cfg.StartBlock}
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
	head, err := x.c.b.HeaderByNumber(ctx, nil)
	if err != nil {
		return fmt.Errorf("L1 head: %w", err)
	}
	tip := head.Number.Uint64()
	if tip < x.cfg.Confirmations {
		return nil
	}
	to := tip - x.cfg.Confirmations
	x.mu.Lock()
	from := x.scanned
	x.mu.Unlock()
	if to < from {
		return nil
	}
	rs, err := x.c.scanRecords(ctx, from, to, x.cfg.MaxRange)
	if err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	records := x.records
	for _, r := range rs {
		if n := len(records); n > 0 && r.First != records[n-1].Last+1 {
			return fmt.Errorf("DA inbox record of blocks %d..%d (L1 block %d) does not follow the record of blocks ..%d", r.First, r.Last, r.L1BlockNumber, records[n-1].Last)
		}
		records = append(records, r.DACommitment(uint64(len(records))+1))
	}
	x.records, x.scanned = records, to+1
	return nil
}
