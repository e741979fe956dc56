package jsonrpc

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

type testAPI struct{ calls int }

type dataError struct{}

func (dataError) Error() string          { return "execution reverted" }
func (dataError) ErrorCode() int         { return 3 }
func (dataError) ErrorData() interface{} { return "0x08c379a0" }

type ptrError struct{ msg string }

func (e *ptrError) Error() string { return e.msg }

type Args struct {
	From *string         `json:"from"`
	Gas  *hexutil.Uint64 `json:"gas"`
}

func (a *testAPI) ChainId() *hexutil.Big { a.calls++; return (*hexutil.Big)(big.NewInt(1337)) }
func (a *testAPI) Echo(s string, n *int) (string, error) {
	a.calls++
	if n == nil {
		return s, nil
	}
	return strings.Repeat(s, *n), nil
}
func (a *testAPI) WithCtx(ctx context.Context, args Args) (*Args, error) {
	a.calls++
	return &args, ctx.Err()
}
func (a *testAPI) Fails() error                    { a.calls++; return errors.New("plain failure") }
func (a *testAPI) Reverts() (hexutil.Bytes, error) { a.calls++; return nil, dataError{} }
func (a *testAPI) PtrFails() *ptrError             { a.calls++; return &ptrError{"pointer failure"} }
func (a *testAPI) PtrOK() *ptrError                { a.calls++; return nil }
func (a *testAPI) Nothing()                        { a.calls++ }
func (a *testAPI) Crashes() (int, error)           { a.calls++; panic("boom") }
func (a *testAPI) Unmarshalable() (interface{}, error) {
	a.calls++
	return func() {}, nil
}
func (a *testAPI) Subscribe(ctx context.Context) (*gethrpc.Subscription, error) {
	return nil, errors.New("not here")
}

// TestDirectAnswersAsGethDoes compares Direct's answers with go-ethereum's
// server's, byte for byte, over the same receiver; a request Direct leaves
// alone must run nothing.
func TestDirectAnswersAsGethDoes(t *testing.T) {
	geth := gethrpc.NewServer()
	defer geth.Stop()
	gethAPI, directAPI := &testAPI{}, &testAPI{}
	if err := geth.RegisterName("test", gethAPI); err != nil {
		t.Fatal(err)
	}
	var panicked string
	d := &Direct{OnPanic: func(method string, v any, _ []byte) { panicked = method }}
	if err := d.RegisterName("test", directAPI); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		body   string
		direct bool // Direct answers it
	}{
		{`{"jsonrpc":"2.0","id":1,"method":"test_chainId"}`, true},
		{`{"jsonrpc":"2.0","id":"abc","method":"test_chainId","params":[]}`, true},
		{`{"jsonrpc":"2.0","id":7,"method":"test_chainId","params":null}`, true},
		{`{"jsonrpc":"2.0","id":2,"method":"test_echo","params":["ab"]}`, true},
		{`{"jsonrpc":"2.0","id":3,"method":"test_echo","params":["ab",3]}`, true},
		{`{"jsonrpc":"2.0","id":4,"method":"test_echo","params":["ab",null]}`, true},
		{`{"jsonrpc":"2.0","id":5,"method":"test_withCtx","params":[{"from":"x","gas":"0x10"}]}`, true},
		{`{"jsonrpc":"2.0","id":6,"method":"test_fails","params":[]}`, true},
		{`{"jsonrpc":"2.0","id":8,"method":"test_reverts","params":[]}`, true},
		{`{"jsonrpc":"2.0","id":9,"method":"test_ptrFails","params":[]}`, true},
		{`{"jsonrpc":"2.0","id":10,"method":"test_ptrOK","params":[]}`, true},
		{`{"jsonrpc":"2.0","id":11,"method":"test_nothing","params":[]}`, true},
		{`{"jsonrpc":"2.0","id":12,"method":"test_crashes","params":[]}`, true},
		{`{"jsonrpc":"2.0","id":13,"method":"test_unmarshalable","params":[]}`, true},
		{`{"jsonrpc":"2.0","id":-14,"method":"test_chainId","params":[],"extra":true}`, true},
		// Left to go-ethereum: bad params, unknown methods, odd ids,
		// notifications, subscriptions.
		{`{"jsonrpc":"2.0","id":20,"method":"test_echo","params":[]}`, false},
		{`{"jsonrpc":"2.0","id":21,"method":"test_echo","params":["a",1,2]}`, false},
		{`{"jsonrpc":"2.0","id":22,"method":"test_echo","params":[1]}`, false},
		{`{"jsonrpc":"2.0","id":23,"method":"test_echo","params":{"s":"a"}}`, false},
		{`{"jsonrpc":"2.0","id":24,"method":"test_missing","params":[]}`, false},
		{`{"jsonrpc":"2.0","id":null,"method":"test_chainId","params":[]}`, false},
		{`{"jsonrpc":"2.0","id":{"a":1},"method":"test_chainId","params":[]}`, false},
		{`{"jsonrpc":"2.0","method":"test_chainId","params":[]}`, false},
		{`{"jsonrpc":"2.0","id":25,"method":"test_subscribe","params":[]}`, false},
	} {
		var call Call
		if err := json.Unmarshal([]byte(tc.body), &call); err != nil {
			t.Fatalf("%s: %v", tc.body, err)
		}
		before := directAPI.calls
		got, ok := d.Answer(context.Background(), call)
		if ok != tc.direct {
			t.Errorf("%s: answered directly %v, want %v", tc.body, ok, tc.direct)
			continue
		}
		if !ok {
			if directAPI.calls != before {
				t.Errorf("%s: left to go-ethereum but ran", tc.body)
			}
			continue
		}
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		geth.ServeHTTP(rec, req)
		if want := rec.Body.String(); string(got) != want {
			t.Errorf("%s:\n direct %q\n go-ethereum %q", tc.body, got, want)
		}
	}
	if panicked != "test_crashes" {
		t.Errorf("OnPanic told of %q, want test_crashes", panicked)
	}
}
