package storage

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"

	"github.com/meganode/meganode/chain"
)

// testChain is tools/mkchain's chain: Frontier to BPO2 in 18 blocks.
const testChain = "../rpc/testdata/chain"

func readTestChain(t *testing.T) []*types.Block {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testChain, "chain.rlp"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []*types.Block
	s := rlp.NewStream(bytes.NewReader(data), 0)
	for {
		var b types.Block
		if err := s.Decode(&b); err == io.EOF {
			return blocks
		} else if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, &b)
	}
}

func writeChain(t *testing.T, blocks []*types.Block) string {
	t.Helper()
	var buf bytes.Buffer
	for _, b := range blocks {
		if err := rlp.Encode(&buf, b); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "chain.rlp")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestImportAcrossForks(t *testing.T) {
	genesis, err := chain.ReadGenesisFile(filepath.Join(testChain, "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := readTestChain(t)
	dir := t.TempDir()
	log := zerolog.New(zerolog.NewTestWriter(t))
	res, err := Import(Config{Dir: dir}, genesis, filepath.Join(testChain, "chain.rlp"), log)
	if err != nil {
		t.Fatal(err)
	}
	last := blocks[len(blocks)-1]
	if res.Blocks != uint64(len(blocks)) || res.Head.Hash() != last.Hash() {
		t.Fatalf("imported %d blocks to %s, want %d to %s", res.Blocks, res.Head.Hash(), len(blocks), last.Hash())
	}
	// Importing again skips what is there.
	if res, err = Import(Config{Dir: dir}, genesis, filepath.Join(testChain, "chain.rlp"), log); err != nil || res.Blocks != 0 {
		t.Fatalf("re-import: %d blocks, %v", res.Blocks, err)
	}
	// The store serves it with the config it holds.
	s, err := Open(Config{Dir: dir}, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.CurrentHeader().Hash() != last.Hash() || s.ChainConfig().ChainID.Cmp(genesis.Config.ChainID) != 0 {
		t.Fatalf("store head %s chain %v", s.CurrentHeader().Hash(), s.ChainConfig().ChainID)
	}
	for _, b := range blocks {
		receipts := s.Receipts(b.Hash(), b.NumberU64())
		if len(receipts) != len(b.Transactions()) || types.DeriveSha(receipts, trie.NewStackTrie(nil)) != b.ReceiptHash() {
			t.Fatalf("block %d: receipts do not match the header", b.NumberU64())
		}
		for i, tx := range b.Transactions() {
			if got, bh, _, idx := s.Transaction(tx.Hash()); got == nil || bh != b.Hash() || idx != uint64(i) {
				t.Fatalf("block %d tx %d not indexed", b.NumberU64(), i)
			}
		}
	}
	if _, err := s.state.OpenTrie(blocks[4].Root()); err != nil {
		t.Fatalf("historical state of block 5: %v", err)
	}
}

func TestImportRejectsABadBlock(t *testing.T) {
	genesis, err := chain.ReadGenesisFile(filepath.Join(testChain, "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := readTestChain(t)
	// A block that does not follow its predecessor is named too.
	res, err := Import(Config{Dir: t.TempDir()}, genesis, writeChain(t, append(blocks[:3:3], blocks[4:]...)), zerolog.Nop())
	if err == nil || !strings.Contains(err.Error(), "block 5 ") || res.Blocks != 3 {
		t.Fatalf("import of a chain with a gap: %d blocks, %v", res.Blocks, err)
	}
	for _, tc := range []struct {
		name  string
		block int // index into blocks
		bad   func(h *types.Header)
		want  string
	}{
		{"state root", 4, func(h *types.Header) { h.Root = common.Hash{1} }, "block 5 "},
		{"receipt root", 12, func(h *types.Header) { h.ReceiptHash = common.Hash{2} }, "block 13 "},
		{"gas used", 15, func(h *types.Header) { h.GasUsed++ }, "block 16 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tampered := append([]*types.Block(nil), blocks[:tc.block+1]...)
			h := tampered[tc.block].Header()
			tc.bad(h)
			tampered[tc.block] = types.NewBlockWithHeader(h).WithBody(*tampered[tc.block].Body())
			dir := t.TempDir()
			res, err := Import(Config{Dir: dir}, genesis, writeChain(t, tampered), zerolog.Nop())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("import of a chain with a bad %s: %v, want an error naming %q", tc.name, err, tc.want)
			}
			if res.Blocks != uint64(tc.block) {
				t.Fatalf("imported %d blocks before the bad one, want %d", res.Blocks, tc.block)
			}
		})
	}
}

func TestImportRejectsGarbage(t *testing.T) {
	genesis, err := chain.ReadGenesisFile(filepath.Join(testChain, "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(testChain, "chain.rlp"))
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{
		"truncated": data[:len(data)-7],
		"garbage":   []byte("this is not RLP at all"),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "chain.rlp")
			if err := os.WriteFile(path, body, 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := Import(Config{Dir: t.TempDir()}, genesis, path, zerolog.Nop())
			if err == nil || !strings.Contains(err.Error(), "does not decode") {
				t.Fatalf("import of a %s file: %v, want a decode error naming the position", name, err)
			}
			if name == "truncated" && res.Blocks != 17 {
				t.Fatalf("imported %d blocks before the truncated one, want 17", res.Blocks)
			}
		})
	}
	if _, err := Import(Config{Dir: t.TempDir()}, genesis, filepath.Join(t.TempDir(), "missing.rlp"), zerolog.Nop()); err == nil {
		t.Fatal("import of a missing file succeeded")
	}
}
