package rpc

import (
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
)

// A batch of raw sends answered without the go-ethereum server gives the
// bytes the server gives for the same batch: results, error codes and
// messages, notifications unanswered. Anything else is left to the server.
func TestRawSendBatchAnswersAsTheServer(t *testing.T) {
	fast, slow := newWSEnv(t, nil), newWSEnv(t, nil)
	if fast.srv.batchSends == nil {
		t.Fatal("a sequencer's server has no batch path")
	}
	slow.srv.batchSends = nil
	raw := func(tx *types.Transaction) string {
		b, _ := tx.MarshalBinary()
		return hexutil.Encode(b)
	}
	stranger, _ := crypto.GenerateKey() // holds nothing
	to := common.HexToAddress("0xbeef")
	unfunded := types.MustSignNewTx(stranger, types.LatestSigner(fast.cfg), &types.DynamicFeeTx{
		ChainID: fast.cfg.ChainID, To: &to, Gas: params.TxGas, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei), Value: big.NewInt(1),
	})
	call := func(id, param string) string {
		if id != "" {
			id = `"id":` + id + `,`
		}
		return `{"jsonrpc":"2.0",` + id + `"method":"eth_sendRawTransaction","params":["` + param + `"]}`
	}
	first := fast.transfer(0, 0, params.GWei)
	body := "[" + strings.Join([]string{
		call("1", raw(first)),
		call(`"two"`, "0x1234"),                         // not a transaction
		call("", raw(fast.transfer(1, 0, params.GWei))), // a notification
		call("4", raw(first)),                           // already known
		call("5", raw(unfunded)),                        // insufficient funds
		call("6", raw(fast.transfer(0, 1, params.GWei))),
		call("7", "0x"),
		call("-8", raw(fast.transfer(2, 5, params.GWei))), // queued behind a gap
	}, ",") + "]"
	resps, ok := fast.srv.answerRawBatch([]byte(body))
	if !ok {
		t.Fatal("a batch of raw sends was left to the go-ethereum server")
	}
	got, want := string(joinResponses(resps, true)), postBody(t, "http://"+slow.srv.Addr(), body)
	if got != want {
		t.Fatalf("batch path answered\n%s\nthe server answers\n%s", got, want)
	}
	var answers []json.RawMessage
	if err := json.Unmarshal([]byte(got), &answers); err != nil || len(answers) != 7 {
		t.Fatalf("%d answers (%v), want 7: the notification unanswered", len(answers), err)
	}
	if fast.seq.PooledTx(first.Hash()) == nil {
		t.Fatal("the batch's first tx is not pooled")
	}

	for _, other := range []string{
		"[" + call("1", raw(first)) + `,{"jsonrpc":"2.0","id":2,"method":"eth_chainId"}]`, // mixed
		call("1", raw(first)), // not a batch
		"[" + call("1", raw(first)) + "," + strings.Replace(call("2", raw(first)), `"]}`, `","0x"]}`, 1) + "]", // two params
		"[" + call("1", raw(first)) + "," + call(`{"a":1}`, raw(first)) + "]",                                  // an object id
		"[" + call("1", raw(first)) + "," + strings.Replace(call("2", raw(first)), `"2.0"`, `"1.0"`, 1) + "]",  // a version
	} {
		if _, ok := fast.srv.answerRawBatch([]byte(other)); ok {
			t.Errorf("batch path took %s", other)
		}
	}
}

func postBody(t *testing.T, url, body string) string {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
