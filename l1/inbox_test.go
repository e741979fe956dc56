package l1

import (
	"bytes"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/meganode/meganode/chain"
)

func TestDAInbox(t *testing.T) {
	e := newEnv(t, nil)
	blobs := []*chain.DACommitment{
		{First: 1, Last: 40, LastHash: root("40"), Commitment: append([]byte{0x00}, root("blob 1").Bytes()...)},
		{First: 41, Last: 41, LastHash: root("41"), Commitment: []byte{0x01, 0x00, 0xaa}},
	}
	var last uint64
	for _, b := range blobs {
		r, err := e.c.RecordBlob(e.ctx, e.opts(e.batcher), b)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := BlobRecordFromLog(r.Logs[0])
		if err != nil {
			t.Fatal(err)
		}
		if rec.L1TxHash != r.TxHash || rec.L1BlockHash != r.BlockHash {
			t.Errorf("record's L1 position: got %s/%s, want %s/%s", rec.L1TxHash, rec.L1BlockHash, r.TxHash, r.BlockHash)
		}
		last = r.BlockNumber.Uint64()
	}
	recs, err := e.c.BlobRecords(e.ctx, 0, last)
	if err != nil || len(recs) != len(blobs) {
		t.Fatalf("records: got %d (%v), want %d", len(recs), err, len(blobs))
	}
	for i, b := range blobs {
		r := recs[i]
		if r.First != b.First || r.Last != b.Last || r.LastHash != b.LastHash || !bytes.Equal(r.Commitment, b.Commitment) {
			t.Errorf("record %d: got %+v, want %+v", i, r, b)
		}
	}

	_, err = e.c.RecordBlob(e.ctx, e.opts(e.outsider), blobs[0])
	wantRevert(t, "non-batcher", err, "DAInbox: only the batcher can record blobs")
	_, err = e.c.RecordBlob(e.ctx, e.opts(e.batcher), &chain.DACommitment{First: 5, Last: 4, Commitment: []byte{1}})
	wantRevert(t, "reversed range", err, "DAInbox: empty block range")
	_, err = e.c.RecordBlob(e.ctx, e.opts(e.batcher), &chain.DACommitment{First: 5, Last: 5, LastHash: common.Hash{}, Commitment: []byte{}})
	wantRevert(t, "empty commitment", err, "DAInbox: empty commitment")
}

// postedBlobs is a batcher's store of posted blobs.
type postedBlobs []*chain.DACommitment

func (p *postedBlobs) DACommitmentBySeq(seq uint64) (*chain.DACommitment, error) {
	if seq == 0 || seq > uint64(len(*p)) {
		return nil, nil
	}
	return (*p)[seq-1], nil
}

// TestInboxRecorderAndIndex: the recorder puts every posted blob in the
// inbox once, in order, and picks up after a restart where the inbox
// stops; the index lists them back from L1 as the batcher numbered them.
func TestInboxRecorderAndIndex(t *testing.T) {
	e := newEnv(t, nil)
	blob := func(seq, first, last uint64) *chain.DACommitment {
		return &chain.DACommitment{Seq: seq, First: first, Last: last, LastHash: root(string(rune('a' + last))), Commitment: []byte{0x01, byte(seq)}}
	}
	posted := postedBlobs{blob(1, 1, 3), blob(2, 4, 4)}
	var heard []uint64
	rec := NewInboxRecorder(e.c, e.batcher.Key, &posted, InboxConfig{}, func(c *chain.DACommitment, _ *types.Receipt) { heard = append(heard, c.Seq) }, zerolog.Nop())
	if err := rec.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	if err := rec.Step(e.ctx); err != nil { // nothing new: nothing sent
		t.Fatal(err)
	}
	if s := rec.Stats(); s.Recorded != 2 || s.Next != 3 || len(heard) != 2 || s.Gas == 0 {
		t.Fatalf("recorder %+v heard %v, want blobs 1 and 2 recorded once", s, heard)
	}
	// A new recorder (a restart) finds the inbox's two records and goes on
	// from blob 3.
	posted = append(posted, blob(3, 5, 9))
	again := NewInboxRecorder(e.c, e.batcher.Key, &posted, InboxConfig{}, nil, zerolog.Nop())
	if err := again.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	if s := again.Stats(); s.Recorded != 1 || s.Next != 4 {
		t.Fatalf("restarted recorder %+v, want only blob 3 recorded", s)
	}
	idx := NewInboxIndex(e.c, InboxConfig{MaxRange: 2})
	cs, err := idx.Commitments(e.ctx, 4, 10)
	if err != nil || len(cs) != 2 {
		t.Fatalf("index from block 4: %d blobs (%v), want 2", len(cs), err)
	}
	if cs[0].Seq != 2 || cs[0].First != 4 || cs[1].Seq != 3 || cs[1].Last != 9 || !bytes.Equal(cs[1].Commitment, posted[2].Commitment) || cs[1].LastHash != posted[2].LastHash {
		t.Fatalf("index %+v %+v, want blobs 2 and 3 as posted", cs[0], cs[1])
	}
}
