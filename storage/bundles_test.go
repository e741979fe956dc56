package storage

import (
	"bytes"
	"math/big"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus/beacon"
	"github.com/ethereum/go-ethereum/consensus/ethash"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/chain/progress"
)

// A chain imported on a genesis the sequencer runs gets, from FillBundles,
// the state diff and witness of each block, as if the sequencer had sealed
// it; a second call finds nothing to do.
func TestFillBundlesOfAnImport(t *testing.T) {
	key, _ := crypto.GenerateKey()
	from := crypto.PubkeyToAddress(key.PublicKey)
	genesis := core.DeveloperGenesisBlock(30_000_000, &from)
	genesis.Config.ChainID, genesis.Config.BogotaTime = big.NewInt(777), nil
	if err := chain.CheckGenesis(genesis); err != nil {
		t.Fatal(err)
	}
	to := common.HexToAddress("0xbeef")
	signer := types.LatestSigner(genesis.Config)
	_, blocks, _ := core.GenerateChainWithGenesis(genesis, beacon.New(ethash.NewFaker()), 4, func(i int, b *core.BlockGen) {
		b.AddTx(types.MustSignNewTx(key, signer, &types.DynamicFeeTx{ChainID: genesis.Config.ChainID, Nonce: uint64(i),
			GasTipCap: big.NewInt(1), GasFeeCap: new(big.Int).Mul(b.BaseFee(), big.NewInt(2)), Gas: 21_000, To: &to, Value: big.NewInt(1)}))
	})
	dir := t.TempDir()
	var importLogs bytes.Buffer
	if _, err := Import(Config{Dir: dir, Progress: progress.Options{Every: 1}}, genesis, writeChain(t, blocks), zerolog.New(&importLogs)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(importLogs.Bytes(), []byte(`"work":"import","blocks":4`)) {
		t.Fatalf("the import reported no progress of its 4 blocks:\n%s", importLogs.String())
	}
	var logs bytes.Buffer
	s, err := Open(Config{Dir: dir, Progress: progress.Options{Every: 1}}, genesis, zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if m, _ := s.BlockMessage(1); m != nil {
		t.Fatal("an imported block has a bundle before FillBundles")
	}
	if n, err := s.FillBundles(); err != nil || n != 4 {
		t.Fatalf("FillBundles: %d, %v; want 4 blocks", n, err)
	}
	for i, b := range blocks {
		m, err := s.BlockMessage(b.NumberU64())
		if err != nil || m == nil {
			t.Fatalf("block %d: %v, %v", b.NumberU64(), m, err)
		}
		if m.Bundle.StateDiff.Root != b.Root() || len(m.Bundle.Witness) == 0 || m.MiniBlockCount != uint64(i+1) {
			t.Fatalf("block %d: diff root %s (header %s), %d witness bytes, %d mini-blocks", b.NumberU64(), m.Bundle.StateDiff.Root, b.Root(), len(m.Bundle.Witness), m.MiniBlockCount)
		}
		parent := s.GetHeaderByNumber(b.NumberU64() - 1)
		if _, err := chain.ApplyDiff(s.ChainConfig(), s.StateDatabase(), parent, b.Header(), m.Bundle.StateDiff); err != nil {
			t.Fatalf("block %d's diff does not apply: %v", b.NumberU64(), err)
		}
		if root, _, err := chain.ExecuteStateless(s.ChainConfig(), b, m.Bundle.Witness); err != nil || root != b.Root() {
			t.Fatalf("block %d over its witness: root %s, %v; want %s", b.NumberU64(), root, err, b.Root())
		}
	}
	if s.MiniBlockCount() != 4 {
		t.Fatalf("mini-block count %d, want 4", s.MiniBlockCount())
	}
	if !bytes.Contains(logs.Bytes(), []byte(`"work":"re-execute imported blocks"`)) {
		t.Fatalf("no progress reported:\n%s", logs.String())
	}
	if n, err := s.FillBundles(); err != nil || n != 0 {
		t.Fatalf("second FillBundles: %d, %v; want nothing to do", n, err)
	}
	// Stopped after block 2 (killed): the next start fills from block 3 on,
	// counting mini-blocks on from block 2's.
	want, _ := s.BlockMessage(4)
	for _, n := range []uint64{3, 4} {
		if err := s.kv.Delete(numKey(bundlePrefix, n)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.FillBundles(); err != nil || n != 2 {
		t.Fatalf("resumed FillBundles: %d, %v; want blocks 3 and 4", n, err)
	}
	if got, _ := s.BlockMessage(4); got == nil || got.MiniBlockCount != 4 || !chain.SameDiff(got.Bundle.StateDiff, want.Bundle.StateDiff) {
		t.Fatalf("block 4 after the resumed fill: %+v, want %+v", got, want)
	}
}
