package chain

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// TestGenesisTime: the built-in genesis takes Config.GenesisTime (0 by
// default, so every node of a network hashes the same genesis); a fork keeps
// its block's time.
func TestGenesisTime(t *testing.T) {
	at := uint64(1_800_000_000)
	def, _, err := Genesis(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.GenesisTime = at
	timed, _, err := Genesis(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Fork = &ForkPoint{Number: 100, ParentHash: common.HexToHash("0x01"), Time: 1_700_000_000, BaseFee: big.NewInt(1)}
	forked, _, err := Genesis(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		got  uint64
		want uint64
	}{{"default", def.Timestamp, 0}, {"timed", timed.Timestamp, at}, {"forked", forked.Timestamp, 1_700_000_000}} {
		if tc.got != tc.want {
			t.Errorf("%s genesis time %d, want %d", tc.name, tc.got, tc.want)
		}
	}
	if def.ToBlock().Hash() == timed.ToBlock().Hash() {
		t.Error("a timed genesis hashes as the default one")
	}
}
