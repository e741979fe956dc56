package l1

import (
	"context"
	"fmt"
	"math/big"

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
