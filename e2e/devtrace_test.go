package e2e

import (
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// TestTraceOfDevBlock traces a tx sent from an impersonated account in a
// block that also holds dev edits (code and a storage slot set just
// before): the replay reads the impersonated sender and applies the edits.
func TestTraceOfDevBlock(t *testing.T) {
	d := startDevnet(t, "--automine")
	c := d.client(t)
	const imp = "0x000000000000000000000000000000000000dEaD"
	const target = "0x00000000000000000000000000000000000c0de1"
	slot := common.Hash{}.Hex()
	want := common.BigToHash(common.Big3).Hex()
	for _, call := range [][]interface{}{
		{"anvil_setBalance", imp, "0xde0b6b3a7640000"},
		{"anvil_impersonateAccount", imp},
		{"anvil_setCode", target, "0x60005460005260206000f3"}, // return sload(0)
		{"anvil_setStorageAt", target, slot, want},
	} {
		if err := c.Call(nil, call[0].(string), call[1:]...); err != nil {
			t.Fatalf("%s: %v", call[0], err)
		}
	}
	var hash common.Hash
	if err := c.Call(&hash, "eth_sendTransaction", map[string]interface{}{"from": imp, "to": target, "gas": "0x186a0"}); err != nil {
		t.Fatal(err)
	}
	r := waitReceipt(t, c, hash, true)
	if r.Status != 1 {
		t.Fatalf("impersonated tx failed: status %d", r.Status)
	}

	var pre map[string]struct {
		Balance *hexutil.Big           `json:"balance"`
		Storage map[string]common.Hash `json:"storage"`
	}
	if err := c.Call(&pre, "debug_traceTransaction", hash, map[string]string{"tracer": "prestateTracer"}); err != nil {
		t.Fatalf("prestate trace: %v", err)
	}
	if got := pre[strings.ToLower(target)].Storage[slot]; got.Hex() != want {
		t.Fatalf("traced pre-state of slot 0: %s, want the edited %s (prestate %+v)", got.Hex(), want, pre)
	}
	if b := pre[strings.ToLower(imp)].Balance; b == nil || b.ToInt().Sign() == 0 {
		t.Fatalf("traced pre-state of the impersonated sender: %+v, want its edited balance", pre[strings.ToLower(imp)])
	}
	type call struct {
		From   string        `json:"from"`
		Output hexutil.Bytes `json:"output"`
		Error  string        `json:"error"`
	}
	var top call
	if err := c.Call(&top, "debug_traceTransaction", hash, map[string]string{"tracer": "callTracer"}); err != nil {
		t.Fatalf("call trace: %v", err)
	}
	if !strings.EqualFold(top.From, imp) || common.BytesToHash(top.Output).Hex() != want || top.Error != "" {
		t.Fatalf("call trace from %s output %x error %q, want from %s returning %s", top.From, top.Output, top.Error, imp, want)
	}
	var block []struct {
		TxHash common.Hash `json:"txHash"`
		Result call        `json:"result"`
		Error  string      `json:"error"`
	}
	if err := c.Call(&block, "debug_traceBlockByNumber", r.BlockNumber, map[string]string{"tracer": "callTracer"}); err != nil {
		t.Fatalf("block trace: %v", err)
	}
	if len(block) != 1 || block[0].TxHash != hash || !strings.EqualFold(block[0].Result.From, imp) || common.BytesToHash(block[0].Result.Output).Hex() != want {
		t.Fatalf("block trace %+v, want the impersonated tx returning %s", block, want)
	}
}
