package rpc

import (
	"encoding/json"
	"strings"
	"testing"

	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

func TestBlockNumberArg(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want gethrpc.BlockNumber
		err  string
	}{
		{in: `"0xa"`, want: 10},
		{in: `10`, want: 10},
		{in: `"10"`, want: 10},
		{in: `0`, want: 0},
		{in: `"latest"`, want: gethrpc.LatestBlockNumber},
		{in: `"pending"`, want: gethrpc.PendingBlockNumber},
		{in: `"a"`, err: "hex string without 0x prefix"},
		{in: `-1`, err: "hex string without 0x prefix"},
		{in: `1.5`, err: "hex string without 0x prefix"},
		{in: `9223372036854775808`, err: "hex string without 0x prefix"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			var got blockNumberArg
			err := json.Unmarshal([]byte(tc.in), &got)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %d, %v; want error %q", got, err, tc.err)
				}
				return
			}
			if err != nil || gethrpc.BlockNumber(got) != tc.want {
				t.Fatalf("got %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

// TestGetBlockByNumberTakesAnInteger: eth_getBlockByNumber answers a JSON
// integer block number as anvil does; eth_getBalance keeps geth's strict
// block parameter (anvil refuses an integer there too).
func TestGetBlockByNumberTakesAnInteger(t *testing.T) {
	e := newWSEnv(t, nil)
	m := e.postAs("", `{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":[0,false]}`)
	var b struct{ Number, Hash string }
	if m.Error != nil || json.Unmarshal(m.Result, &b) != nil || b.Number != "0x0" || b.Hash != e.store.CurrentHeader().Hash().Hex() {
		t.Fatalf("got %s %+v, want the genesis block", m.Result, m.Error)
	}
	m = e.postAs("", `{"jsonrpc":"2.0","id":1,"method":"eth_getBlockTransactionCountByNumber","params":["0"]}`)
	if m.Error != nil || string(m.Result) != `"0x0"` {
		t.Fatalf("tx count: got %s %+v, want 0x0", m.Result, m.Error)
	}
	m = e.postAs("", `{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x000000000000000000000000000000000000beef",0]}`)
	wantError(t, "eth_getBalance", m, -32602, "invalid argument 1")
}
