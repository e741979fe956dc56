package sequencer

import (
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/meganode/meganode/chain"
)

// Kinds of raft log entries: the first byte of an entry, RLP after it.
const (
	entryMiniBlock byte = 1
	entrySeal      byte = 2
)

// MiniEntry is a mini-block as the raft log carries it: what a standby needs
// to execute it into the same mini-block (receipts and state changes follow
// from the transactions).
type MiniEntry struct {
	BlockNumber     uint64
	BlockTime       uint64 // header time of the block it belongs to
	Index           uint64 // within the block
	Number          uint64 // global
	TimestampMicros uint64
	Txs             types.Transactions
	// The block's deposits and cursor, in its first mini-block (Index 0):
	// a standby runs them as the leader did, it never reads the L1 itself.
	Deposits []*chain.Deposit `rlp:"optional"`
	L1Origin chain.L1Origin   `rlp:"optional"`
}

// SealEntry closes a block: every standby seals the same transactions and
// must arrive at the same hash.
type SealEntry struct {
	Number uint64
	Hash   common.Hash
}

// Entry is one committed raft log entry: exactly one of its fields is set.
type Entry struct {
	Mini *MiniEntry
	Seal *SealEntry
}

// Block is the EVM block the entry belongs to.
func (e Entry) Block() uint64 {
	if e.Mini != nil {
		return e.Mini.BlockNumber
	}
	return e.Seal.Number
}

// EncodeEntry is the raft log form of e: a kind byte, then the RLP.
func EncodeEntry(e Entry) ([]byte, error) {
	var kind byte
	var v any
	switch {
	case e.Mini != nil && e.Seal == nil:
		kind, v = entryMiniBlock, e.Mini
	case e.Seal != nil && e.Mini == nil:
		kind, v = entrySeal, e.Seal
	default:
		return nil, errors.New("raft entry must hold exactly one of a mini-block and a seal")
	}
	payload, err := rlp.EncodeToBytes(v)
	if err != nil {
		return nil, err
	}
	return append([]byte{kind}, payload...), nil
}

// DecodeEntry parses an entry EncodeEntry wrote.
func DecodeEntry(data []byte) (Entry, error) {
	if len(data) == 0 {
		return Entry{}, errors.New("empty raft entry")
	}
	switch data[0] {
	case entryMiniBlock:
		m := new(MiniEntry)
		if err := rlp.DecodeBytes(data[1:], m); err != nil {
			return Entry{}, fmt.Errorf("raft mini-block entry: %w", err)
		}
		return Entry{Mini: m}, nil
	case entrySeal:
		s := new(SealEntry)
		if err := rlp.DecodeBytes(data[1:], s); err != nil {
			return Entry{}, fmt.Errorf("raft seal entry: %w", err)
		}
		return Entry{Seal: s}, nil
	}
	return Entry{}, fmt.Errorf("raft entry of unknown kind %d", data[0])
}
