package storage_test

import (
	"testing"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/storage"
)

// MarkDARecorded notes a posted blob's L1 inbox record, kept across a
// reopen, without moving where posting resumes or touching other blobs;
// a blob record of the format before the L1 fields still decodes.
func TestMarkDARecorded(t *testing.T) {
	dir := t.TempDir()
	g, _, err := chain.Genesis(chain.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	s, err := storage.Open(storage.Config{Dir: dir}, g, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []*chain.DACommitment{
		{Seq: 1, First: 1, Last: 4, Commitment: []byte{1}},
		{Seq: 2, First: 5, Last: 9, Commitment: []byte{2}},
	} {
		if err := s.WriteDACommitment(c); err != nil {
			t.Fatal(i, err)
		}
	}
	tx := common.HexToHash("0x77")
	if err := s.MarkDARecorded(1, 40, tx); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDARecorded(3, 41, tx); err == nil {
		t.Fatal("a blob never posted was marked recorded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = storage.Open(storage.Config{Dir: dir}, g, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	one, err := s.DACommitment(3)
	if err != nil || one == nil || one.Seq != 1 || one.L1Block != 40 || one.L1Tx != tx {
		t.Fatalf("blob holding block 3: %+v (%v), want blob 1 recorded in L1 block 40", one, err)
	}
	two, err := s.DACommitment(7)
	if err != nil || two == nil || two.L1Block != 0 || two.L1Tx != (common.Hash{}) {
		t.Fatalf("blob holding block 7: %+v (%v), want it unrecorded", two, err)
	}
	if last, err := s.LastPosted(); err != nil || last == nil || last.Seq != 2 {
		t.Fatalf("last posted %+v (%v), want blob 2", last, err)
	}
	// The record as written before the L1 fields existed.
	old, err := rlp.EncodeToBytes([]any{uint64(1), uint64(1), uint64(4), common.Hash{}, []byte{1}, uint64(0), uint64(0)})
	if err != nil {
		t.Fatal(err)
	}
	var c chain.DACommitment
	if err := rlp.DecodeBytes(old, &c); err != nil || c.Last != 4 || c.L1Block != 0 {
		t.Fatalf("old record: %+v (%v)", c, err)
	}
}
