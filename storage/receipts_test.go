package storage

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/rs/zerolog"

	"github.com/meganode/meganode/chain"
)

// Receipts derived from the cached block are go-ethereum's: every field
// rawdb.ReadReceipts derives from the body and header it reads again.
func TestDerivedReceiptsAreGeths(t *testing.T) {
	genesis, err := chain.ReadGenesisFile(filepath.Join(testChain, "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := Import(Config{Dir: dir}, genesis, filepath.Join(testChain, "chain.rlp"), zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Config{Dir: dir}, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	txs := 0
	for n := uint64(1); n <= s.CurrentHeader().Number.Uint64(); n++ {
		b := s.BlockByNumber(n)
		got, err := json.Marshal(s.deriveReceipts(b))
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(rawdb.ReadReceipts(s.kv, b.Hash(), n, b.Time(), s.config))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("block %d receipts:\n got %s\nwant %s", n, got, want)
		}
		txs += len(b.Transactions())
	}
	if txs == 0 {
		t.Fatal("the test chain has no transactions to compare receipts of")
	}
}
