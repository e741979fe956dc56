package jsonrpc

import (
	"encoding/json"
	"reflect"
	"testing"
)

var callSamples = []string{
	`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`,
	`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}`,
	` { "jsonrpc" : "2.0" , "id" : "a-b" , "method" : "eth_getBalance" , "params" : [ "0x71", "latest" ] } `,
	`{"id":-12,"params":[{"to":"0x70","data":"0x70a08231"},"latest"],"method":"eth_call","jsonrpc":"2.0"}`,
	`{"jsonrpc":"2.0","id":0,"method":"m","params":[{"a":"]}\"["},[1,[2]],null,true,-1.5e3]}`,
	`{}`,
	// Left to encoding/json: each of these is outside the common shape.
	`{"jsonrpc":"2.0","id":1,"method":"m","params":[1 2]}`,
	`{"jsonrpc":"2.0","id":1,"method":"m","params":[1,]}`,
	`{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":1}}`,
	`{"jsonrpc":"2.0","id":1,"method":"m","params":null}`,
	`{"jsonrpc":"2.0","id":01,"method":"m"}`,
	`{"jsonrpc":"2.0","id":1.5,"method":"m"}`,
	`{"jsonrpc":"2.0","id":null,"method":"m"}`,
	`{"jsonrpc":"2.0","id":"a\"b","method":"m"}`,
	`{"jsonrpc":"2.0","ID":1,"method":"m"}`,
	`{"jsonrpc":"2.0","id":1,"method":"a","method":"b"}`,
	`{"jsonrpc":"2.0","id":1,"method":"m\u0041"}`,
	`{"jsonrpc":"2.0","id":1,"method":"m","extra":1}`,
	`{"jsonrpc":"2.0","id":1,"method":"m"} x`,
	`{"jsonrpc":"2.0","id":1,"method":"m",}`,
	`{"jsonrpc":"2.0","id":1 "method":"m"}`,
	`[{"jsonrpc":"2.0","id":1,"method":"m"}]`,
	`{"jsonrpc":"2.0","id":1,"method":"m","params":[tru]}`,
	`{"jsonrpc":"2.0","id":1,"method":"m","params":["\x01"]}`,
	``,
}

func TestDecodeCallMatchesEncodingJSON(t *testing.T) {
	accepted := 0
	for _, s := range callSamples {
		if checkDecodeCall(t, []byte(s)) {
			accepted++
		}
	}
	if accepted != 6 {
		t.Errorf("DecodeCall took %d samples, want the 6 in the common shape", accepted)
	}
}

// checkDecodeCall fails t when DecodeCall takes data and json.Unmarshal
// decodes it differently or refuses it.
func checkDecodeCall(t *testing.T, data []byte) bool {
	got, ok := DecodeCall(data)
	if !ok {
		return false
	}
	var want Call
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("DecodeCall took %q, which encoding/json refuses: %v", data, err)
	}
	if got.Version != want.Version || got.Method != want.Method || string(got.ID) != string(want.ID) || string(got.Params) != string(want.Params) {
		t.Fatalf("DecodeCall(%q) = %+v, encoding/json %+v", data, got, want)
	}
	return true
}

func FuzzDecodeCall(f *testing.F) {
	for _, s := range callSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecodeCall(t, data)
		// The params of an accepted call split into the elements
		// encoding/json sees.
		call, ok := DecodeCall(data)
		if !ok || len(call.Params) == 0 {
			return
		}
		elems, err := splitArray(call.Params)
		if err != nil {
			t.Fatalf("params %q of an accepted call: %v", call.Params, err)
		}
		var want []json.RawMessage
		if err := json.Unmarshal(call.Params, &want); err != nil {
			t.Fatal(err)
		}
		got := make([]json.RawMessage, len(elems))
		for i, e := range elems {
			got[i] = e
		}
		if len(got) != len(want) || (len(got) > 0 && !reflect.DeepEqual(got, want)) {
			t.Fatalf("splitArray(%q) = %q, encoding/json %q", call.Params, got, want)
		}
	})
}

func TestPositionalArgs(t *testing.T) {
	types := []reflect.Type{reflect.TypeFor[string](), reflect.TypeFor[*int]()}
	for _, tc := range []struct {
		params string
		ok     bool
		n      int
	}{
		{`["a",1]`, true, 2},
		{`["a"]`, true, 2},
		{` [ "a" , 1 ] `, true, 2},
		{``, false, 0},
		{`null`, false, 0},
		{`[]`, false, 0},
		{`["a",1,2]`, false, 0},
		{`{"a":1}`, false, 0},
		{`[1,1]`, false, 0},
		{`["a",1,]`, false, 0},
		{`["a" 1]`, false, 0},
	} {
		args, err := positionalArgs(json.RawMessage(tc.params), types)
		if (err == nil) != tc.ok || len(args) != tc.n {
			t.Errorf("positionalArgs(%q): got %d args, err %v; want ok %v with %d", tc.params, len(args), err, tc.ok, tc.n)
		}
	}
}
