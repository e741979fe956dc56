package rpc

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// FuzzWebsocketMessage sends arbitrary messages on a websocket: the path
// HTTP does not take (rate limits, the in-process answers, eth_subscribe's
// params — miniBlocks and stateChanges options, logs filters, resume
// numbers — and eth_unsubscribe). After each message a sentinel call must
// be answered on the same connection, with valid JSON before it: a message
// never kills the connection or the server.
func FuzzWebsocketMessage(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["miniBlocks",{"from_mini_block_number":"0x0"}]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["stateChanges",["0x000000000000000000000000000000000000beef"],{"from_mini_block_number":7}]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["logs",{"fromBlock":"pending","toBlock":"pending","address":"0x000000000000000000000000000000000000beef","topics":[null]}]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newPendingTransactions",true]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_unsubscribe","params":["0x00000000000000000000000000000001"]}`,
		`[{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]},{"jsonrpc":"2.0","id":2,"method":"eth_getLogs","params":[{}]},{"jsonrpc":"2.0","method":"ha_removeMember","params":["x"]}]`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{"to":"0x000000000000000000000000000000000000beef"}]}`,
		`not json`,
	} {
		f.Add([]byte(s))
	}
	e := newWSEnv(f, func(c *Config) { c.WS.MsgsPerSecond = 1e9; c.WS.MaxSubsPerConn = 1 << 20 })
	var ws *websocket.Conn
	n := 0
	f.Fuzz(func(t *testing.T, msg []byte) {
		if len(msg) > 64<<10 {
			return
		}
		if ws == nil {
			var err error
			if ws, _, err = websocket.DefaultDialer.Dial("ws://"+e.srv.Addr(), nil); err != nil {
				t.Fatal(err)
			}
		}
		n++
		sentinel := fmt.Sprintf(`"sentinel-%d"`, n)
		_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := ws.WriteMessage(websocket.TextMessage, msg); err != nil {
			t.Fatal(err)
		}
		if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":`+sentinel+`,"method":"eth_chainId"}`)); err != nil {
			t.Fatal(err)
		}
		for {
			_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, data, err := ws.ReadMessage()
			if err != nil {
				ws.Close()
				ws = nil
				t.Fatalf("after %q the connection ended: %v", msg, err)
			}
			if !json.Valid(data) {
				t.Fatalf("after %q: not JSON: %q", msg, data)
			}
			var m struct {
				ID json.RawMessage `json:"id"`
			}
			if json.Unmarshal(data, &m) == nil && string(m.ID) == sentinel {
				return
			}
		}
	})
}
