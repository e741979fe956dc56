package l1

import (
	"bytes"
	"testing"

	"github.com/ethereum/go-ethereum/common"

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
