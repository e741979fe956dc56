package rpc

import (
	"encoding/json"
	"fmt"
	"testing"
)

// TestAutomineSendOfAFailingTx: under automine eth_sendTransaction of a tx
// that fails without revert data answers its hash (anvil's answer; the
// receipt says status 0), one that reverts answers code 3 with the revert
// data (Hardhat's answer, which fixed-gas revertedWith needs).
func TestAutomineSendOfAFailingTx(t *testing.T) {
	e := newAutomineEnv(t)
	from := e.accts[0].Address.Hex()
	send := func(initCode string) wsMsg {
		return e.postAs("", fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"eth_sendTransaction","params":[{"from":%q,"data":%q,"gas":"0x186a0"}]}`, from, initCode))
	}
	for _, tc := range []struct{ name, code string }{
		{"invalid opcode", "0xfe"},
		{"out of gas", "0x5b5f56"}, // JUMPDEST PUSH0 JUMP: loops until the gas is gone
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := send(tc.code)
			var hash string
			if m.Error != nil || json.Unmarshal(m.Result, &hash) != nil {
				t.Fatalf("got %s %+v, want the tx hash", m.Result, m.Error)
			}
			r := e.postAs("", fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"eth_getTransactionReceipt","params":[%q]}`, hash))
			var rc struct{ Status string }
			if r.Error != nil || json.Unmarshal(r.Result, &rc) != nil || rc.Status != "0x0" {
				t.Fatalf("receipt: got %s %+v, want status 0x0", r.Result, r.Error)
			}
		})
	}
	// PUSH1 0x2a PUSH0 MSTORE PUSH1 32 PUSH0 REVERT: reverts with one word
	m := send("0x602a5f5260205ffd")
	wantError(t, "reverting send", m, 3, "execution reverted")
	if want := `"0x` + fmt.Sprintf("%064x", 42) + `"`; string(m.Error.Data) != want {
		t.Fatalf("revert data: got %s, want %s", m.Error.Data, want)
	}
}
