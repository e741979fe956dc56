package jsonrpc

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzParseCalls reads arbitrary bodies as the node's server and the gateway
// do before any method runs. Besides "an error, never a panic": parsed
// calls survive re-encoding, and the cheap pre-test MayHoldAdmin never
// misses a body that holds an admin call (the public port's refusal of
// admin methods relies on it).
func FuzzParseCalls(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`,
		`[{"jsonrpc":"2.0","id":"a","method":"ha_removeMember","params":["b"]},{"jsonrpc":"2.0","method":"eth_blockNumber"}]`,
		`{"jsonrpc":"2.0","id":null,"method":"ha_status"}`,
		` [ ] `, `[1,2]`, `{"id":{}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		calls, batch, err := ParseCalls(data)
		if err != nil {
			return
		}
		if !batch && len(calls) != 1 {
			t.Fatalf("a single call parsed as %d", len(calls))
		}
		for _, c := range calls {
			if IsAdmin(c.Method) && !MayHoldAdmin(data) {
				t.Fatalf("admin call %q in %q not flagged by MayHoldAdmin", c.Method, data)
			}
		}
		enc, err := json.Marshal(calls)
		if err != nil {
			t.Fatal(err)
		}
		back, _, err := ParseCalls(enc)
		if err != nil || len(back) != len(calls) {
			t.Fatalf("calls change through JSON: %v", err)
		}
		for i := range back {
			if back[i].Method != calls[i].Method || back[i].Version != calls[i].Version ||
				!bytes.Equal(RawID(back[i].ID), compact(RawID(calls[i].ID))) {
				t.Fatalf("call %d changes through JSON: %+v -> %+v", i, calls[i], back[i])
			}
		}
	})
}

func compact(b []byte) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}
