package rpc

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/meganode/meganode/chain"
)

type haStub struct{}

func (haStub) Status() chain.HAStatus { return chain.HAStatus{ID: "a", Leader: "a", Leading: true} }
func (haStub) Members() ([]chain.HAMember, error) {
	return []chain.HAMember{{ID: "a", Voter: true, Leader: true}}, nil
}
func (haStub) TransferLeadership(string) error        { return nil }
func (haStub) AddMember(string, string, string) error { return nil }
func (haStub) AddVoter(string, string) error          { return nil }
func (haStub) RemoveMember(string) error              { return nil }
func (haStub) Partition(bool) error                   { return nil }

// TestHASendsAnswerOnceCommitted: on an HA leader a batch of raw sends is
// answered only after the mini-block holding them is sealed (committed),
// all together, in the batch's order with the other calls.
func TestHASendsAnswerOnceCommitted(t *testing.T) {
	e := newServerEnv(t, nil, haStub{})
	var calls []string
	var waits []func()
	for i := range 3 {
		tx := e.transfer(0, uint64(i), 1_000_000_000)
		raw, _ := tx.MarshalBinary()
		waits = append(waits, e.pooled(tx))
		calls = append(calls, `{"jsonrpc":"2.0","id":`+string(rune('1'+i))+`,"method":"eth_sendRawTransaction","params":["`+hexutil.Encode(raw)+`"]}`)
	}
	calls = append(calls, `{"jsonrpc":"2.0","id":9,"method":"ha_leader"}`)
	answered := make(chan string, 1)
	go func() {
		resp, err := http.Post("http://"+e.srv.Addr(), "application/json", strings.NewReader("["+strings.Join(calls, ",")+"]"))
		if err != nil {
			answered <- err.Error()
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		answered <- string(body)
	}()
	for _, w := range waits {
		w()
	}
	select {
	case body := <-answered:
		t.Fatalf("answered before the mini-block was sealed: %s", body)
	default:
	}
	e.tick()
	var out []struct {
		ID     int             `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  any             `json:"error"`
	}
	body := <-answered
	if err := json.Unmarshal([]byte(body), &out); err != nil || len(out) != 4 {
		t.Fatalf("answer %s: %v", body, err)
	}
	for i, a := range out[:3] {
		if a.ID != i+1 || a.Error != nil || len(a.Result) != 68 {
			t.Fatalf("send %d answered %+v", i, a)
		}
	}
	if out[3].ID != 9 || !strings.Contains(string(out[3].Result), `"self":true`) {
		t.Fatalf("ha_leader answered %+v", out[3])
	}
}
