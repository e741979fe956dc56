package rpc

import (
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"
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

// TestAutomineAnswersBeforeTheSeal: a single call over HTTP that mines
// (eth_sendTransaction, evm_mine, hardhat_mine) answers before its blocks
// are sealed, and whatever the client asks next sees them sealed: the
// receipt has its block's hash, that block holds the tx alone, the head has
// moved by the blocks mined. A batch and a websocket message mine before
// they answer, so a later call of the same batch sees the block too.
func TestAutomineAnswersBeforeTheSeal(t *testing.T) {
	e := newAutomineEnv(t)
	from := e.accts[0].Address.Hex()
	sendBody := func(id int) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"eth_sendTransaction","params":[{"from":%q,"to":"0x000000000000000000000000000000000000beef","value":"0x1","gas":"0x5208"}]}`, id, from)
	}
	receiptBody := func(id int, hash string) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"eth_getTransactionReceipt","params":[%q]}`, id, hash)
	}
	type receipt struct{ BlockHash, BlockNumber, Status string }
	checkSealed := func(t *testing.T, hash string, rc receipt) {
		t.Helper()
		b := e.postAs("", fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByHash","params":[%q,false]}`, rc.BlockHash))
		var block struct {
			Number       string
			Transactions []string
		}
		if b.Error != nil || json.Unmarshal(b.Result, &block) != nil || block.Number != rc.BlockNumber || len(block.Transactions) != 1 || block.Transactions[0] != hash {
			t.Fatalf("block %s of receipt %+v: got %s %+v, want block %s holding the tx alone", rc.BlockHash, rc, b.Result, b.Error, rc.BlockNumber)
		}
	}
	blockNumber := func(t *testing.T) uint64 {
		t.Helper()
		m := e.postAs("", `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`)
		var n hexutil.Uint64
		if m.Error != nil || json.Unmarshal(m.Result, &n) != nil {
			t.Fatalf("eth_blockNumber: %s %+v", m.Result, m.Error)
		}
		return uint64(n)
	}
	t.Run("single calls", func(t *testing.T) {
		for i := 0; i < 30; i++ {
			before := blockNumber(t)
			m := e.postAs("", sendBody(1))
			var hash string
			if m.Error != nil || json.Unmarshal(m.Result, &hash) != nil {
				t.Fatalf("send: %s %+v", m.Result, m.Error)
			}
			r := e.postAs("", receiptBody(2, hash))
			var rc receipt
			if r.Error != nil || json.Unmarshal(r.Result, &rc) != nil || rc.Status != "0x1" || rc.BlockNumber != hexutil.EncodeUint64(before+1) {
				t.Fatalf("receipt right after the send: got %s %+v, want status 1 in block %d", r.Result, r.Error, before+1)
			}
			checkSealed(t, hash, rc)
			if m := e.postAs("", `{"jsonrpc":"2.0","id":3,"method":"hardhat_mine","params":["0x3"]}`); m.Error != nil {
				t.Fatalf("hardhat_mine: %+v", m.Error)
			}
			if got := blockNumber(t); got != before+4 {
				t.Fatalf("after a send and hardhat_mine 3 from block %d: head %d, want %d", before, got, before+4)
			}
			if m := e.postAs("", `{"jsonrpc":"2.0","id":4,"method":"evm_mine","params":[]}`); m.Error != nil {
				t.Fatalf("evm_mine: %+v", m.Error)
			}
			if got := blockNumber(t); got != before+5 {
				t.Fatalf("after evm_mine: head %d, want %d", got, before+5)
			}
		}
	})
	t.Run("batch", func(t *testing.T) {
		// The receipt's hash is not known before the send answers: the
		// batch asks for the head block instead, which must be the send's.
		before := blockNumber(t)
		resp := e.postRaw(`[` + sendBody(1) + `,{"jsonrpc":"2.0","id":2,"method":"eth_getBlockByNumber","params":["latest",false]}]`)
		var answers []struct {
			ID     int
			Result json.RawMessage
		}
		if err := json.Unmarshal(resp, &answers); err != nil || len(answers) != 2 {
			t.Fatalf("batch answer %s: %v", resp, err)
		}
		var hash string
		var block struct {
			Number       string
			Transactions []string
		}
		for _, a := range answers {
			switch a.ID {
			case 1:
				_ = json.Unmarshal(a.Result, &hash)
			case 2:
				_ = json.Unmarshal(a.Result, &block)
			}
		}
		if hash == "" || block.Number != hexutil.EncodeUint64(before+1) || len(block.Transactions) != 1 || block.Transactions[0] != hash {
			t.Fatalf("batch [send, latest block]: got %s, want the head at block %d holding tx %s", resp, before+1, hash)
		}
	})
	t.Run("websocket", func(t *testing.T) {
		c := e.dial()
		m := c.call("eth_sendTransaction", map[string]string{"from": from, "to": "0x000000000000000000000000000000000000beef", "value": "0x1", "gas": "0x5208"})
		var hash string
		if m.Error != nil || json.Unmarshal(m.Result, &hash) != nil {
			t.Fatalf("send over websocket: %s %+v", m.Result, m.Error)
		}
		r := c.call("eth_getTransactionReceipt", hash)
		var rc receipt
		if r.Error != nil || json.Unmarshal(r.Result, &rc) != nil || rc.Status != "0x1" {
			t.Fatalf("receipt over websocket: %s %+v", r.Result, r.Error)
		}
		checkSealed(t, hash, rc)
	})
}

// postRaw posts body to the server and returns the answer's body.
func (e *wsEnv) postRaw(body string) []byte {
	e.t.Helper()
	resp, err := http.Post("http://"+e.srv.Addr(), "application/json", strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// On a dev chain an eth_call at a zero gas price sees the block's base fee
// (BASEFEE), as on anvil and Hardhat; elsewhere it sees 0, as on geth.
func TestCallBaseFee(t *testing.T) {
	// init code: BASEFEE PUSH0 MSTORE PUSH1 32 PUSH0 RETURN
	const body = `{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{"data":"0x485f5260205ff3"},"latest"]}`
	for _, tc := range []struct {
		name string
		env  func(testing.TB) *wsEnv
		dev  bool
	}{
		{"dev chain", newAutomineEnv, true},
		{"production", func(t testing.TB) *wsEnv { return newWSEnv(t, nil) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.env(t)
			m := e.postAs("", body)
			var out hexutil.Bytes
			if m.Error != nil || json.Unmarshal(m.Result, &out) != nil {
				t.Fatalf("eth_call: %s %+v", m.Result, m.Error)
			}
			want := new(big.Int)
			if tc.dev {
				want = e.store.CurrentHeader().BaseFee
			}
			if want.Sign() == 0 && tc.dev {
				t.Fatal("the head has no base fee to see")
			}
			if got := new(big.Int).SetBytes(out); got.Cmp(want) != 0 {
				t.Fatalf("BASEFEE in eth_call: %v, want %v", got, want)
			}
		})
	}
	// A dev chain's replica or full node answers as its sequencer does.
	t.Run("dev follower", func(t *testing.T) {
		e := newAutomineEnv(t)
		c := e.serve(Backend{Chain: e.store, Latest: e.seq, Txs: e.seq, Feeds: e.seq, DevFollower: true})
		var out hexutil.Bytes
		if err := c.Call(&out, "eth_call", map[string]string{"data": "0x485f5260205ff3"}, "latest"); err != nil {
			t.Fatal(err)
		}
		if got, want := new(big.Int).SetBytes(out), e.store.CurrentHeader().BaseFee; want.Sign() == 0 || got.Cmp(want) != 0 {
			t.Fatalf("BASEFEE in a dev follower's eth_call: %v, want %v", got, want)
		}
	})
}
