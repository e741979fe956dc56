package rpc

import (
	"encoding/json"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// TestDevFeesFromGenesis compares a devnet's fee answers at genesis and after
// one empty block with anvil 1.7.1's: its first block keeps the genesis's
// 1 gwei, so eth_gasPrice is 2 gwei, and the decay starts at block 2.
// The expected values are anvil's answers to the same calls.
func TestDevFeesFromGenesis(t *testing.T) {
	e := newAutomineEnv(t)
	c, err := gethrpc.Dial("http://" + e.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	type feeHistory struct {
		BaseFeePerGas []string   `json:"baseFeePerGas"`
		GasUsedRatio  []float64  `json:"gasUsedRatio"`
		Reward        [][]string `json:"reward"`
	}
	check := func(stage, gasPrice string, baseFees []string) {
		t.Helper()
		for method, want := range map[string]string{
			"eth_gasPrice":             gasPrice,
			"eth_maxPriorityFeePerGas": "0x3b9aca00",
			"eth_baseFee":              baseFees[len(baseFees)-1],
		} {
			var got hexutil.Big
			if err := c.Call(&got, method); err != nil {
				t.Fatal(err)
			}
			if got.String() != want {
				t.Errorf("%s: %s = %s, want %s", stage, method, got.String(), want)
			}
		}
		var fh feeHistory
		if err := c.Call(&fh, "eth_feeHistory", "0x4", "latest", []float64{25, 50}); err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(fh.BaseFeePerGas)
		want, _ := json.Marshal(baseFees)
		if string(got) != string(want) {
			t.Errorf("%s: eth_feeHistory baseFeePerGas = %s, want %s", stage, got, want)
		}
	}
	check("genesis", "0x77359400", []string{"0x3b9aca00", "0x3b9aca00"})
	if err := c.Call(nil, "evm_mine"); err != nil {
		t.Fatal(err)
	}
	check("block 1", "0x6fc23ac0", []string{"0x3b9aca00", "0x3b9aca00", "0x342770c0"})
	// The next base fee set is the one every answer names, as on anvil.
	if err := c.Call(nil, "anvil_setNextBlockBaseFeePerGas", "0x12a05f200"); err != nil {
		t.Fatal(err)
	}
	check("base fee set", "0x165a0bc00", []string{"0x3b9aca00", "0x3b9aca00", "0x12a05f200"})
}
