package gateway

import (
	"context"
	"encoding/json"
	"testing"
)

// FuzzRequest sends arbitrary bodies through the gateway's parsing, limits
// and routing to fake backends: every body gets a JSON answer (one object,
// or an array with one answer per call that has an id), never a panic.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`,
		`[{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x00"]},{"jsonrpc":"2.0","id":"a","method":"eth_getBalance","params":["0x000000000000000000000000000000000000beef","latest"]},{"jsonrpc":"2.0","method":"mega_getFinality","params":["safe"]}]`,
		`[{"jsonrpc":"2.0","id":1,"method":"eth_newFilter","params":[{}]},{"jsonrpc":"2.0","id":2,"method":"eth_getFilterChanges","params":["0x1"]}]`,
		`{"jsonrpc":"2.0","id":3,"method":"ha_removeMember","params":["b"]}`,
		`{"jsonrpc":"2.0","id":4,"method":"eth_subscribe","params":["newHeads"]}`,
		`{"jsonrpc":"2.0","id":5,"method":"eth_call","params":[{"to":"0x000000000000000000000000000000000000beef"},"0x10"]}`,
		`[]`, `[1]`, `{"id":null}`,
	} {
		f.Add([]byte(s))
	}
	e := newTestEnv(f, func(c *Config) { c.RatePerIP, c.MethodRates = 0, nil })
	f.Fuzz(func(t *testing.T, body []byte) {
		_, out := e.gw.answer(context.Background(), body, "192.0.2.1", "", false)
		if len(out) > 0 && !json.Valid(out) {
			t.Fatalf("answer to %q is not JSON: %q", body, out)
		}
		calls, batch, err := parseCalls(body)
		if err != nil || !batch || len(calls) == 0 || len(calls) > e.gw.cfg.BatchLimit {
			return
		}
		var items []json.RawMessage
		if json.Unmarshal(out, &items) != nil {
			return // one error for the whole batch
		}
		want := 0
		for _, c := range calls {
			if !c.Notification() {
				want++
			}
		}
		if len(items) != want {
			t.Fatalf("%d answers to %d calls with ids: %s -> %s", len(items), want, body, out)
		}
	})
}

// FuzzBackendAnswer feeds arbitrary backend answers to the code that splits
// a batch answer and puts the client's ids back.
func FuzzBackendAnswer(f *testing.F) {
	f.Add([]byte(`[{"jsonrpc":"2.0","id":0,"result":"0x1"},{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"x"}}]`), []byte(`"client id"`))
	f.Add([]byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32005,"message":"rate limited"}}`), []byte(`7`))
	f.Fuzz(func(t *testing.T, data, id []byte) {
		if !json.Valid(id) {
			id = []byte(`1`)
		}
		answers, err := splitAnswers(data, []int{0, 1, 2})
		if err != nil {
			return
		}
		for _, item := range answers {
			if out := withID(id, item); !json.Valid(out) {
				t.Fatalf("answer %q with id %s is not JSON: %q", item, id, out)
			}
		}
	})
}
