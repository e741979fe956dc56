package storage

import (
	"bytes"
	"math/big"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/chain/progress"
)

// A large genesis is committed step by step with progress, to the block and
// state go-ethereum's Genesis.Commit makes of it.
func TestMeteredGenesisIsGeths(t *testing.T) {
	defer func(n, c int) { meteredAlloc, genesisChunk = n, c }(meteredAlloc, genesisChunk)
	meteredAlloc, genesisChunk = 10, 7 // hashed in chunks, the last one short
	faucet := common.HexToAddress("0xfa0c7")
	g := core.DeveloperGenesisBlock(30_000_000, &faucet)
	g.Config.ChainID, g.Config.BogotaTime = big.NewInt(777), nil
	predeploy := common.HexToAddress("0xc0de1")
	g.Alloc[predeploy] = types.Account{Code: common.FromHex("0x60005460005260206000f3"), Nonce: 1,
		Storage: map[common.Hash]common.Hash{{}: common.BigToHash(big.NewInt(42))}, Balance: big.NewInt(0)}
	for i := range 50 {
		g.Alloc[common.BigToAddress(big.NewInt(int64(0x1000+i)))] = types.Account{Balance: big.NewInt(int64(i + 1))}
	}
	want := g.ToBlock()
	var logs bytes.Buffer
	if got, err := GenesisBlock(g, progress.Options{Every: 1}, zerolog.New(&logs)); err != nil || got.Hash() != want.Hash() {
		t.Fatalf("GenesisBlock: %v, %v; want go-ethereum's %s", got, err, want.Hash())
	}
	if !bytes.Contains(logs.Bytes(), []byte(`"work":"genesis hash","accounts":70,`)) {
		t.Fatalf("no progress of the genesis hash:\n%s", logs.String())
	}
	for _, dir := range []string{"", t.TempDir()} {
		var logs bytes.Buffer
		s, err := Open(Config{Dir: dir, Progress: progress.Options{Every: 1}}, g, zerolog.New(&logs))
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Genesis(); got.Hash() != want.Hash() || got.Root() != want.Root() {
			t.Fatalf("dir %q: genesis %s (root %s), go-ethereum's %s (root %s)", dir, got.Hash(), got.Root(), want.Hash(), want.Root())
		}
		st, err := chain.StateAt(s.StateDatabase(), s.CurrentHeader().Root)
		if err != nil {
			t.Fatal(err)
		}
		if v := st.GetState(predeploy, common.Hash{}); v != common.BigToHash(big.NewInt(42)) || st.GetNonce(predeploy) != 1 || len(st.GetCode(predeploy)) == 0 {
			t.Fatalf("predeploy: slot 0 %s, nonce %d", v, st.GetNonce(predeploy))
		}
		for _, work := range []string{`"work":"genesis state","accounts":70,`, `"work":"genesis state write"`} {
			if dir != "" && !bytes.Contains(logs.Bytes(), []byte(work)) {
				t.Errorf("no progress of %s:\n%s", work, logs.String())
			}
		}
		s.Close()
		if dir != "" {
			s, err := Open(Config{Dir: dir}, g, zerolog.Nop())
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			s.Close()
		}
	}
}

// StoredGenesis reads the genesis header of a data directory's chain
// without opening its state: nil for an empty or missing directory.
func TestStoredGenesis(t *testing.T) {
	dir := t.TempDir()
	if h, err := StoredGenesis(Config{Dir: dir}); h != nil || err != nil {
		t.Fatalf("empty directory: %v, %v", h, err)
	}
	cfg := chain.DefaultConfig()
	cfg.GenesisTime = 1_700_000_000
	g, _, err := chain.Genesis(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(Config{Dir: dir}, g, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	want := s.Genesis().Hash()
	s.Close()
	h, err := StoredGenesis(Config{Dir: dir})
	if err != nil || h == nil || h.Hash() != want || h.Time != cfg.GenesisTime {
		t.Fatalf("stored genesis %v, %v; want %s at time %d", h, err, want, cfg.GenesisTime)
	}
	if h, err := StoredGenesis(Config{}); h != nil || err != nil {
		t.Fatalf("in memory: %v, %v", h, err)
	}
}
