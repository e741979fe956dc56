package storage_test

import (
	"bytes"
	"errors"
	"math/big"
	"slices"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/storage"
)

func TestReopenResumesHead(t *testing.T) {
	dir := t.TempDir()
	log := zerolog.New(zerolog.NewTestWriter(t))
	g, accts, err := chain.Genesis(chain.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	s, err := storage.Open(storage.Config{Dir: dir}, g, log)
	if err != nil {
		t.Fatal(err)
	}
	parent := s.CurrentHeader()
	header := chain.NextHeader(g.Config, parent, parent.Time+1, g.GasLimit, common.Address{})
	b, err := chain.NewBlockBuilder(g.Config, s, s.StateDatabase(), parent, header)
	if err != nil {
		t.Fatal(err)
	}
	to := common.HexToAddress("0xbeef")
	tx := types.MustSignNewTx(accts[0].Key, types.LatestSigner(g.Config), &types.DynamicFeeTx{ChainID: g.Config.ChainID, To: &to, Gas: params.TxGas, GasFeeCap: big.NewInt(params.GWei * 10), Value: big.NewInt(42)})
	if _, err := b.ApplyTx(tx); err != nil {
		t.Fatal(err)
	}
	if err := s.JournalMiniBlock(1, &storage.JournalEntry{Txs: types.Transactions{tx}}); err != nil {
		t.Fatal(err)
	}
	sb, err := b.Seal()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WriteSealed(sb, 7); err != nil {
		t.Fatal(err)
	}
	if txs, _ := s.Journaled(1); len(txs) != 0 {
		t.Fatalf("journal of a sealed block still holds %d txs", len(txs))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = storage.Open(storage.Config{Dir: dir}, g, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.CurrentHeader().Hash(); got != sb.Block.Hash() {
		t.Fatalf("head after reopen %s, want %s", got, sb.Block.Hash())
	}
	if s.MiniBlockCount() != 7 {
		t.Fatalf("mini-block count %d, want 7", s.MiniBlockCount())
	}
	got, bh, n, idx := s.Transaction(tx.Hash())
	if got == nil || bh != sb.Block.Hash() || n != 1 || idx != 0 {
		t.Fatalf("tx lookup: %v %s %d %d", got, bh, n, idx)
	}
	if r := s.Receipts(bh, 1); len(r) != 1 || r[0].Status != types.ReceiptStatusSuccessful || r[0].BlockHash != bh {
		t.Fatalf("receipts after reopen: %+v", r)
	}
	st, err := chain.StateAt(s.StateDatabase(), s.CurrentHeader().Root)
	if err != nil {
		t.Fatal(err)
	}
	if bal := st.GetBalance(to).Uint64(); bal != 42 {
		t.Fatalf("balance after reopen %d, want 42", bal)
	}
}

func TestGenesisMismatch(t *testing.T) {
	dir := t.TempDir()
	log := zerolog.New(zerolog.NewTestWriter(t))
	g, _, _ := chain.Genesis(chain.DefaultConfig())
	s, err := storage.Open(storage.Config{Dir: dir}, g, log)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	cfg := chain.DefaultConfig()
	cfg.ChainID = 99
	other, _, _ := chain.Genesis(cfg)
	if _, err := storage.Open(storage.Config{Dir: dir}, other, log); !errors.Is(err, storage.ErrGenesisMismatch) {
		t.Fatalf("opening with another genesis: %v, want ErrGenesisMismatch", err)
	}
}

// A chain from a genesis file is the chain geth makes of it: the same
// genesis hash, the file's predeploy in its state.
func TestCustomGenesisIsGeths(t *testing.T) {
	faucet := common.HexToAddress("0x00000000000000000000000000000000000fa0c7")
	file := core.DeveloperGenesisBlock(30_000_000, &faucet)
	file.Config.ChainID, file.Config.BogotaTime = big.NewInt(777), nil
	code := common.FromHex("0x60005460005260206000f3")
	file.Alloc[common.HexToAddress("0xc0de")] = types.Account{Code: code, Balance: big.NewInt(0)}
	cfg := chain.DefaultConfig()
	cfg.Custom = file
	g, _, err := chain.Genesis(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := storage.Open(storage.Config{Dir: t.TempDir()}, g, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, want := s.Genesis().Hash(), file.ToBlock().Hash(); got != want {
		t.Fatalf("genesis hash %s, geth's %s", got, want)
	}
	st, err := state.New(s.Genesis().Root(), s.StateDatabase())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(st.GetCode(common.HexToAddress("0xc0de")), code) {
		t.Fatal("the predeploy's code is not in the genesis state")
	}
}

// Attestations kept for peers survive a reopen, each once.
func TestAttestationsKept(t *testing.T) {
	dir := t.TempDir()
	log := zerolog.New(zerolog.NewTestWriter(t))
	g, _, err := chain.Genesis(chain.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	s, err := storage.Open(storage.Config{Dir: dir}, g, log)
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range [][]byte{{1, 2}, {1, 2}, {3}} {
		if err := s.AddAttestation(7, msg); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = storage.Open(storage.Config{Dir: dir}, g, log); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	msgs, err := s.Attestations(7)
	if err != nil || len(msgs) != 2 || !bytes.Equal(msgs[0], []byte{1, 2}) || !bytes.Equal(msgs[1], []byte{3}) {
		t.Fatalf("attestations of block 7 after reopen: %x (%v), want 0102 and 03", msgs, err)
	}
	if msgs, _ := s.Attestations(8); msgs != nil {
		t.Fatalf("attestations of block 8: %x, want none", msgs)
	}
}

// Fraud proofs kept for a restart survive a reopen, each once and at most
// a bounded number a block; the blocks that have some are listed lowest
// first, and a rewind forgets those of the blocks it removes.
func TestFraudProofsKept(t *testing.T) {
	dir := t.TempDir()
	log := zerolog.New(zerolog.NewTestWriter(t))
	g, _, err := chain.Genesis(chain.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	s, err := storage.Open(storage.Config{Dir: dir}, g, log)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // blocks 1 and 2, for the rewind
		parent := s.CurrentHeader()
		b, err := chain.NewBlockBuilder(g.Config, s, s.StateDatabase(), parent, chain.NextHeader(g.Config, parent, parent.Time+1, g.GasLimit, common.Address{}))
		if err != nil {
			t.Fatal(err)
		}
		sb, err := b.Seal()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.WriteSealed(sb, 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, add := range []struct {
		n   uint64
		msg []byte
	}{{2, []byte{1, 2}}, {2, []byte{1, 2}}, {2, []byte{3}}, {1, []byte{4}}, {256, []byte{5}}} {
		if err := s.AddFraudProof(add.n, add.msg); err != nil {
			t.Fatal(err)
		}
	}
	// Attestations of the same block are another kind.
	if err := s.AddAttestation(2, []byte{9}); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		err := s.AddFraudProof(300, []byte{byte(i)})
		if err != nil {
			if i != 8 {
				t.Fatalf("block 300 took %d fraud proofs before refusing one (%v), want 8", i, err)
			}
			break
		}
		if i > 8 {
			t.Fatal("block 300 takes fraud proofs without bound")
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = storage.Open(storage.Config{Dir: dir}, g, log); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	msgs, err := s.FraudProofs(2)
	if err != nil || len(msgs) != 2 || !bytes.Equal(msgs[0], []byte{1, 2}) || !bytes.Equal(msgs[1], []byte{3}) {
		t.Fatalf("fraud proofs of block 2 after reopen: %x (%v), want 0102 and 03", msgs, err)
	}
	if msgs, _ := s.FraudProofs(3); msgs != nil {
		t.Fatalf("fraud proofs of block 3: %x, want none", msgs)
	}
	blocks, err := s.FraudProofBlocks()
	if err != nil || !slices.Equal(blocks, []uint64{1, 2, 256, 300}) {
		t.Fatalf("blocks with fraud proofs %v (%v), want [1 2 256 300]", blocks, err)
	}
	if _, err := s.Rewind(1); err != nil {
		t.Fatal(err)
	}
	if msgs, _ := s.FraudProofs(2); msgs != nil {
		t.Fatalf("fraud proofs of block 2 after a rewind to block 1: %x, want none", msgs)
	}
	if msgs, _ := s.FraudProofs(1); len(msgs) != 1 {
		t.Fatalf("fraud proofs of block 1 after a rewind to it: %x, want one", msgs)
	}
}
