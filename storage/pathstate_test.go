package storage_test

import (
	"bytes"
	"errors"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/storage"
)

var pathRecipient = common.HexToAddress("0xbeef")

// sealTransfers seals n blocks on s, block i paying pathRecipient i wei
// more, so the recipient's balance names the block whose state is read.
func sealTransfers(t *testing.T, s *storage.Store, g *core.Genesis, accts []chain.DevAccount, n int) {
	t.Helper()
	signer := types.LatestSigner(g.Config)
	for i := 0; i < n; i++ {
		parent := s.CurrentHeader()
		header := chain.NextHeader(g.Config, parent, parent.Time+1, g.GasLimit, common.Address{})
		b, err := chain.NewBlockBuilder(g.Config, s, s.StateDatabase(), parent, header)
		if err != nil {
			t.Fatal(err)
		}
		num := header.Number.Uint64()
		tx := types.MustSignNewTx(accts[0].Key, signer, &types.DynamicFeeTx{ChainID: g.Config.ChainID, Nonce: num - 1, To: &pathRecipient,
			Gas: params.TxGas, GasFeeCap: big.NewInt(params.GWei * 10), Value: new(big.Int).SetUint64(num)})
		if _, err := b.ApplyTx(tx); err != nil {
			t.Fatal(err)
		}
		sb, err := b.Seal()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.WriteSealed(sb, num); err != nil {
			t.Fatal(err)
		}
	}
}

// balanceAt is pathRecipient's balance in block number's state: 1+2+...+number.
func balanceAt(s *storage.Store, number uint64) (uint64, error) {
	st, err := chain.StateAt(s.StateDatabase(), s.GetHeaderByNumber(number).Root)
	if err != nil {
		return 0, err
	}
	return st.GetBalance(pathRecipient).Uint64(), nil
}

func sum(n uint64) uint64 { return n * (n + 1) / 2 }

// waitIndexed polls until the state history answers a read of block
// number (go-ethereum indexes it in the background).
func waitIndexed(t *testing.T, s *storage.Store, number uint64) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := balanceAt(s, number)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("state of block %d still not readable: %v", number, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func pathGenesis(t *testing.T) (*core.Genesis, []chain.DevAccount) {
	t.Helper()
	g, accts, err := chain.Genesis(chain.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return g, accts
}

// A data directory keeps the path scheme: past the 128 states pathdb holds
// in memory, older blocks' state is read from the state history, and a
// clean stop journals the newest states so a restart has them at once.
func TestPathSchemeHistoryAndJournal(t *testing.T) {
	dir := t.TempDir()
	g, accts := pathGenesis(t)
	log := zerolog.New(zerolog.NewTestWriter(t))
	s, err := storage.Open(storage.Config{Dir: dir}, g, log)
	if err != nil {
		t.Fatal(err)
	}
	if s.Scheme() != storage.PathScheme {
		t.Fatalf("a data directory keeps the %s scheme, want path", s.Scheme())
	}
	const blocks = 200
	sealTransfers(t, s, g, accts, blocks)
	waitIndexed(t, s, 10)
	for _, n := range []uint64{0, 10, 71, 72, 73, 150, blocks} {
		if got, err := balanceAt(s, n); err != nil || got != sum(n) {
			t.Fatalf("balance at block %d: %d, %v; want %d", n, got, err, sum(n))
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s, err = storage.Open(storage.Config{Dir: dir}, g, zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if strings.Contains(logs.String(), "state recovered") {
		t.Fatal("a clean stop's restart applied blocks again: the state journal was not used")
	}
	if got, err := balanceAt(s, blocks); err != nil || got != sum(blocks) {
		t.Fatalf("head balance after reopen: %d, %v", got, err)
	}
	sealTransfers(t, s, g, accts, 1)
	if got, err := balanceAt(s, blocks+1); err != nil || got != sum(blocks+1) {
		t.Fatalf("balance of the block sealed after reopen: %d, %v", got, err)
	}
}

// Blocks older than the history window are refused with
// ErrStateUnavailable, not answered from some other state.
func TestPathSchemeHistoryWindow(t *testing.T) {
	g, accts := pathGenesis(t)
	s, err := storage.Open(storage.Config{Dir: t.TempDir(), History: 16}, g, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const blocks = 200 // the disk layer is block 72; history reaches 56
	sealTransfers(t, s, g, accts, blocks)
	waitIndexed(t, s, 60)
	for _, n := range []uint64{60, 72, 100} {
		if got, err := balanceAt(s, n); err != nil || got != sum(n) {
			t.Fatalf("balance at block %d: %d, %v; want %d", n, got, err, sum(n))
		}
	}
	for _, n := range []uint64{0, 20, 50} {
		if got, err := balanceAt(s, n); !errors.Is(err, storage.ErrStateUnavailable) {
			t.Fatalf("balance at block %d, outside the window: %d, %v; want ErrStateUnavailable", n, got, err)
		}
	}
	// A rewind beyond the window is refused and changes nothing.
	if _, err := s.Rewind(20); !errors.Is(err, storage.ErrStateUnavailable) {
		t.Fatalf("rewind outside the window: %v", err)
	}
	if s.CurrentHeader().Number.Uint64() != blocks {
		t.Fatalf("a refused rewind moved the head to %d", s.CurrentHeader().Number)
	}
	// One inside the window but below the diff layers reverts the disk
	// layer from the history.
	if _, err := s.Rewind(60); err != nil {
		t.Fatal(err)
	}
	if got, err := balanceAt(s, 60); err != nil || got != sum(60) {
		t.Fatalf("balance after rewinding to 60: %d, %v", got, err)
	}
	if err := s.VerifyState(s.CurrentHeader().Root); err != nil {
		t.Fatal(err)
	}
	sealTransfers(t, s, g, accts, 3)
	if got, err := balanceAt(s, 63); err != nil || got != sum(63) {
		t.Fatalf("balance of a block sealed after the rewind: %d, %v", got, err)
	}
}

// A kill -9 or a power cut leaves the state on disk behind the blocks
// (pathdb writes it behind): the next start applies the blocks' stored
// diffs again, executing nothing.
func TestPathSchemeRecoversAfterUncleanStop(t *testing.T) {
	dir := t.TempDir()
	g, accts := pathGenesis(t)
	s, err := storage.Open(storage.Config{Dir: dir}, g, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	const blocks = 150
	sealTransfers(t, s, g, accts, blocks)
	// What kill -9 leaves: the files as they are, no state journal.
	crashed := t.TempDir()
	if err := os.CopyFS(crashed, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	var logs bytes.Buffer
	s, err = storage.Open(storage.Config{Dir: crashed}, g, zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.Contains(logs.String(), "state recovered") {
		t.Fatalf("no state recovery logged:\n%s", logs.String())
	}
	if s.CurrentHeader().Number.Uint64() != blocks {
		t.Fatalf("head %d after recovery, want %d", s.CurrentHeader().Number, blocks)
	}
	if err := s.VerifyState(s.CurrentHeader().Root); err != nil {
		t.Fatal(err)
	}
	if got, err := balanceAt(s, blocks); err != nil || got != sum(blocks) {
		t.Fatalf("head balance after recovery: %d, %v", got, err)
	}
	sealTransfers(t, s, g, accts, 1)
}

// An archive keeps every block's state readable.
func TestPathSchemeArchive(t *testing.T) {
	g, accts := pathGenesis(t)
	s, err := storage.Open(storage.Config{Dir: t.TempDir(), History: 4, Archive: true}, g, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sealTransfers(t, s, g, accts, 160)
	waitIndexed(t, s, 1)
	for _, n := range []uint64{0, 1, 31, 100} {
		if got, err := balanceAt(s, n); err != nil || got != sum(n) {
			t.Fatalf("archive balance at block %d: %d, %v", n, got, err)
		}
	}
}

// A data directory keeps the scheme it was made with; a hash directory
// (earlier versions) is refused unless asked for, and asking for the other
// scheme is refused, each with a message saying what to do.
func TestSchemeOfADataDirectory(t *testing.T) {
	g, accts := pathGenesis(t)
	for _, made := range []string{storage.HashScheme, storage.PathScheme} {
		dir := t.TempDir()
		s, err := storage.Open(storage.Config{Dir: dir, Scheme: made}, g, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		sealTransfers(t, s, g, accts, 2)
		s.Close()
		s, err = storage.Open(storage.Config{Dir: dir}, g, zerolog.Nop())
		if made == storage.HashScheme {
			// What earlier versions wrote: refused by default, naming the
			// ways forward; kept when asked for.
			if !errors.Is(err, storage.ErrSchemeMismatch) || !strings.Contains(err.Error(), "--state.scheme hash") || !strings.Contains(err.Error(), "meganode import") {
				t.Fatalf("a hash directory opened by default: %v", err)
			}
			s, err = storage.Open(storage.Config{Dir: dir, Scheme: storage.HashScheme}, g, zerolog.Nop())
		}
		if err != nil {
			t.Fatal(err)
		}
		if s.Scheme() != made {
			t.Fatalf("a %s directory reopened as %s", made, s.Scheme())
		}
		s.Close()
		other := storage.PathScheme
		if made == other {
			other = storage.HashScheme
		}
		if _, err := storage.Open(storage.Config{Dir: dir, Scheme: other}, g, zerolog.Nop()); !errors.Is(err, storage.ErrSchemeMismatch) {
			t.Fatalf("a %s directory opened as %s: %v", made, other, err)
		}
	}
	if _, err := storage.Open(storage.Config{Scheme: "flat"}, g, zerolog.Nop()); err == nil {
		t.Fatal("an unknown scheme was accepted")
	}
}

// Proofs below the diff layers need the trie-node history, kept only when
// ProofHistory asks for it (as geth's --history.trienode).
func TestPathSchemeProofHistory(t *testing.T) {
	g, accts := pathGenesis(t)
	for _, proofs := range []uint64{0, 32} {
		s, err := storage.Open(storage.Config{Dir: t.TempDir(), History: 32, ProofHistory: proofs}, g, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		sealTransfers(t, s, g, accts, 170) // the disk layer is block 42
		waitIndexed(t, s, 30)
		root := s.GetHeaderByNumber(30).Root
		openTrie := func() error {
			tr, err := s.StateDatabase().OpenTrie(root)
			if err == nil && tr.Hash() != root {
				return errors.New("the trie opened at block 30 hashes to another root")
			}
			return err
		}
		if proofs == 0 {
			if err := openTrie(); !errors.Is(err, storage.ErrStateUnavailable) {
				t.Fatalf("trie of block 30 without trie-node history: %v, want ErrStateUnavailable", err)
			}
		} else {
			deadline := time.Now().Add(time.Minute)
			for err := openTrie(); err != nil; err = openTrie() {
				if time.Now().After(deadline) {
					t.Fatalf("trie of block 30 with trie-node history: %v", err)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		s.Close()
	}
}
