package rpc

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"
)

// TestPendingCallsRunInTheNextBlock: after evm_setNextBlockTimestamp an
// automining devnet's eth_call and eth_estimateGas tagged "pending" see the
// next block's number and timestamp (anvil's answer), "latest" the head's.
func TestPendingCallsRunInTheNextBlock(t *testing.T) {
	e := newAutomineEnv(t)
	head := e.store.CurrentHeader()
	next := head.Time + 1000
	if err := e.seq.SetNextBlockTimestamp(next); err != nil {
		t.Fatal(err)
	}
	// init codes returning TIMESTAMP and NUMBER as one word
	const timestamp, number = "0x425f5260205ff3", "0x435f5260205ff3"
	// reverts unless TIMESTAMP >= next: PUSH8 next TIMESTAMP LT PUSH1 0x0f JUMPI STOP JUMPDEST PUSH0 PUSH0 REVERT
	gate := fmt.Sprintf("0x67%016x4210600f57005b5f5ffd", next)
	for _, tc := range []struct {
		name, method, data, tag string
		want                    uint64
	}{
		{"pending timestamp", "eth_call", timestamp, "pending", next},
		{"pending number", "eth_call", number, "pending", head.Number.Uint64() + 1},
		{"latest timestamp", "eth_call", timestamp, "latest", head.Time},
		{"latest number", "eth_call", number, "latest", head.Number.Uint64()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := e.postAs("", fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q,"params":[{"data":%q},%q]}`, tc.method, tc.data, tc.tag))
			var out hexutil.Bytes
			if m.Error != nil || out.UnmarshalJSON(m.Result) != nil || len(out) != 32 {
				t.Fatalf("got %s %+v, want a word", m.Result, m.Error)
			}
			if hexutil.Encode(out) != fmt.Sprintf("0x%064x", tc.want) {
				t.Fatalf("got %s, want %d", out, tc.want)
			}
		})
	}
	if m := e.postAs("", fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"eth_estimateGas","params":[{"data":%q},"pending"]}`, gate)); m.Error != nil {
		t.Fatalf("pending estimate: got error %+v, want gas", m.Error)
	}
	if m := e.postAs("", fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"eth_estimateGas","params":[{"data":%q},"latest"]}`, gate)); m.Error == nil || !strings.Contains(m.Error.Message, "revert") {
		t.Fatalf("latest estimate: got %s %+v, want a revert", m.Result, m.Error)
	}
}
