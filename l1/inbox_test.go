package l1

import (
	"bytes"
	"io"
	"slices"
	"strings"
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
	idx := NewInboxIndex(e.c, InboxConfig{MaxRange: 2}, zerolog.Nop())
	cs, err := idx.Commitments(e.ctx, 4, 10)
	if err != nil || len(cs) != 2 {
		t.Fatalf("index from block 4: %d blobs (%v), want 2", len(cs), err)
	}
	if cs[0].Seq != 2 || cs[0].First != 4 || cs[1].Seq != 3 || cs[1].Last != 9 || !bytes.Equal(cs[1].Commitment, posted[2].Commitment) || cs[1].LastHash != posted[2].LastHash {
		t.Fatalf("index %+v %+v, want blobs 2 and 3 as posted", cs[0], cs[1])
	}
}

// TestInboxReorg: a reorg deeper than the confirmations drops the index's
// records of the blocks it replaced and the new branch's are read, in
// order; the recorder notices its newest record is gone and records that
// blob again, unless the L1 mined the record again itself (go-ethereum's
// pool takes a reorged-out transaction back).
func TestInboxReorg(t *testing.T) {
	for _, tc := range []struct {
		name string
		drop bool // the record's transaction is gone from the L1
	}{
		{name: "record dropped, recorded again", drop: true},
		{name: "record mined again by the L1", drop: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			var logs bytes.Buffer
			log := zerolog.New(io.MultiWriter(zerolog.NewTestWriter(t), &logs))
			posted := postedBlobs{
				{Seq: 1, First: 1, Last: 3, LastHash: root("3"), Commitment: []byte{0x01, 1}},
				{Seq: 2, First: 4, Last: 4, LastHash: root("4"), Commitment: []byte{0x01, 2}},
			}
			var heard []uint64
			rec := NewInboxRecorder(e.c, e.batcher.Key, &posted, InboxConfig{}, func(c *chain.DACommitment, rc *types.Receipt) { heard = append(heard, c.Seq) }, log)
			idx := NewInboxIndex(e.c, InboxConfig{}, log)
			step := func() {
				t.Helper()
				if err := rec.Step(e.ctx); err != nil {
					t.Fatal(err)
				}
			}
			list := func() []*chain.DACommitment {
				t.Helper()
				cs, err := idx.Commitments(e.ctx, 0, 10)
				if err != nil {
					t.Fatal(err)
				}
				return cs
			}
			step()
			before := list()
			if len(before) != 2 || before[1].Seq != 2 {
				t.Fatalf("before the reorg: %d blobs, want 2", len(before))
			}
			second := before[1].L1Block // automined: one L1 block per record
			e.reorg(headHash(t, e, second-1), tc.drop)
			if !tc.drop {
				e.l1.Commit() // the record, back from the pool
			}
			e.l1.Commit()
			e.l1.Commit()
			if got := list(); tc.drop && (len(got) != 1 || got[0].Seq != 1) {
				t.Fatalf("after the reorg dropped blob 2's record: %d blobs, want blob 1 alone", len(got))
			}
			if !strings.Contains(logs.String(), "L1 reorg: DA inbox records of these L1 blocks re-read") {
				t.Fatalf("no reorg warning from the index:\n%s", logs.String())
			}
			step()
			want := []uint64{1, 2}
			if tc.drop {
				want = []uint64{1, 2, 2}
			}
			if !slices.Equal(heard, want) || rec.Stats().Next != 3 {
				t.Fatalf("recorder heard %v, next %d; want %v and 3", heard, rec.Stats().Next, want)
			}
			step() // nothing more
			after := list()
			if len(after) != 2 || after[0].Seq != 1 || after[1].Seq != 2 || after[1].First != 4 || !bytes.Equal(after[1].Commitment, posted[1].Commitment) {
				t.Fatalf("after the reorg: %+v, want blobs 1 and 2 in order", after)
			}
			if after[1].L1Block == 0 || headHash(t, e, after[1].L1Block) == (common.Hash{}) || (tc.drop && after[1].L1Block <= second) {
				t.Fatalf("blob 2 recorded in L1 block %d, want a block of the new branch (old %d)", after[1].L1Block, second)
			}
			if len(heard) != len(want) {
				t.Fatalf("a step without a reorg recorded again: %v", heard)
			}
		})
	}
}

// TestInboxRecordedTwice: a blob recorded twice (the recorder's second
// record after a reorg, and the first one mined again) is one blob to the
// index and to a restarted recorder.
func TestInboxRecordedTwice(t *testing.T) {
	e := newEnv(t, nil)
	posted := postedBlobs{
		{Seq: 1, First: 1, Last: 3, LastHash: root("3"), Commitment: []byte{0x01, 1}},
		{Seq: 2, First: 4, Last: 4, LastHash: root("4"), Commitment: []byte{0x01, 2}},
	}
	for _, b := range []*chain.DACommitment{posted[0], posted[1], posted[1]} {
		if _, err := e.c.RecordBlob(e.ctx, e.opts(e.batcher), b); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := NewInboxIndex(e.c, InboxConfig{}, zerolog.Nop()).Commitments(e.ctx, 0, 10)
	if err != nil || len(cs) != 2 || cs[1].Seq != 2 {
		t.Fatalf("index: %d blobs (%v), want 2", len(cs), err)
	}
	posted = append(posted, &chain.DACommitment{Seq: 3, First: 5, Last: 5, LastHash: root("5"), Commitment: []byte{0x01, 3}})
	rec := NewInboxRecorder(e.c, e.batcher.Key, &posted, InboxConfig{}, nil, zerolog.Nop())
	if err := rec.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	if s := rec.Stats(); s.Recorded != 1 || s.Next != 4 {
		t.Fatalf("restarted recorder %+v, want blob 3 recorded alone", s)
	}
	// A record that overlaps without being the same blob still breaks the order.
	if _, err := e.c.RecordBlob(e.ctx, e.opts(e.batcher), &chain.DACommitment{First: 4, Last: 5, LastHash: root("5"), Commitment: []byte{0x02}}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewInboxIndex(e.c, InboxConfig{}, zerolog.Nop()).Commitments(e.ctx, 0, 10); err == nil || !strings.Contains(err.Error(), "does not follow") {
		t.Fatalf("an overlapping record: %v, want an order error", err)
	}
}

// TestInboxIndexShallowReorgUnseen: the index never reads a record before
// it has the confirmations, so a shallower reorg is no reorg to it.
func TestInboxIndexShallowReorgUnseen(t *testing.T) {
	e := newEnv(t, nil)
	var logs bytes.Buffer
	idx := NewInboxIndex(e.c, InboxConfig{Confirmations: 2}, zerolog.New(io.MultiWriter(zerolog.NewTestWriter(t), &logs)))
	record := func(b *chain.DACommitment) uint64 {
		t.Helper()
		r, err := e.c.RecordBlob(e.ctx, e.opts(e.batcher), b)
		if err != nil {
			t.Fatal(err)
		}
		return r.BlockNumber.Uint64()
	}
	count := func() int {
		t.Helper()
		cs, err := idx.Commitments(e.ctx, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(cs)
	}
	record(&chain.DACommitment{First: 1, Last: 3, LastHash: root("3"), Commitment: []byte{0x01, 1}})
	e.l1.Commit()
	e.l1.Commit()
	blob2 := &chain.DACommitment{First: 4, Last: 4, LastHash: root("4"), Commitment: []byte{0x01, 2}}
	at := record(blob2)
	if n := count(); n != 1 {
		t.Fatalf("with blob 2's record unconfirmed: %d blobs, want 1", n)
	}
	e.reorg(headHash(t, e, at-1), true)
	e.l1.Commit()
	e.l1.Commit()
	if n := count(); n != 1 {
		t.Fatalf("after blob 2's record was reorged out: %d blobs, want 1", n)
	}
	record(blob2)
	e.l1.Commit()
	e.l1.Commit()
	if n := count(); n != 2 {
		t.Fatalf("with blob 2 recorded again and confirmed: %d blobs, want 2", n)
	}
	if strings.Contains(logs.String(), "L1 reorg") {
		t.Fatalf("a reorg above the confirmations was logged:\n%s", logs.String())
	}
}
