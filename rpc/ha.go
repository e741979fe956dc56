package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"sync"

	"github.com/meganode/meganode/chain"
)

// HAAdmin is a sequencer candidate's raft group, for operators.
type HAAdmin interface {
	Status() chain.HAStatus
	Members() ([]chain.HAMember, error)
	TransferLeadership(id string) error
	AddMember(id, addr, rpcURL string) error
	AddVoter(id, addr string) error
	RemoveMember(id string) error
	Partition(on bool) error
}

// HAAPI is the read-only part of a sequencer candidate's ha namespace, on
// its public port too (monitoring, and a leader promoting a joining
// candidate, ask ha_status).
type HAAPI struct{ ha HAAdmin }

// HAAdminAPI is the whole ha namespace, served only on the admin listener:
// the read-only methods and those that change the group
// (jsonrpc.IsAdmin).
type HAAdminAPI struct{ HAAPI }

// HALeader is who leads, as ha_leader answers.
type HALeader struct {
	ID   string `json:"id"`   // "" during an election
	Addr string `json:"addr"` // its raft address
	Self bool   `json:"self"` // this candidate
}

// Leader returns the current leader.
func (api *HAAPI) Leader() (HALeader, error) {
	st := api.ha.Status()
	out := HALeader{ID: st.Leader, Self: st.Leader != "" && st.Leader == st.ID}
	members, err := api.ha.Members()
	if err != nil {
		return out, err
	}
	for _, m := range members {
		if m.ID == st.Leader {
			out.Addr = m.Addr
		}
	}
	return out, nil
}

// Status returns this candidate's view of the group.
func (api *HAAPI) Status() chain.HAStatus { return api.ha.Status() }

// Members lists the group.
func (api *HAAPI) Members() ([]chain.HAMember, error) { return api.ha.Members() }

// TransferLeader hands leadership to id, or to the most up-to-date follower
// when id is omitted. Send it to the leader.
func (api *HAAdminAPI) TransferLeader(id *string) (bool, error) {
	target := ""
	if id != nil {
		target = *id
	}
	return true, api.ha.TransferLeadership(target)
}

// AddMember adds a candidate as a non-voter; with its RPC URL the leader
// promotes it to voter once it has caught up.
func (api *HAAdminAPI) AddMember(id, addr string, rpcURL *string) (bool, error) {
	url := ""
	if rpcURL != nil {
		url = *rpcURL
	}
	return true, api.ha.AddMember(id, addr, url)
}

// AddVoter adds or promotes a voter at once.
func (api *HAAdminAPI) AddVoter(id, addr string) (bool, error) {
	return true, api.ha.AddVoter(id, addr)
}

// RemoveMember removes a member from the group.
func (api *HAAdminAPI) RemoveMember(id string) (bool, error) { return true, api.ha.RemoveMember(id) }

// Partition cuts or restores this candidate's raft traffic (only with
// --ha.fault-injection).
func (api *HAAdminAPI) Partition(on bool) (bool, error) { return true, api.ha.Partition(on) }

// answerSends answers a batch on an HA sequencer, whose raw sends return
// only once committed: each send runs on its own so they wait together, the
// other calls run in process as one batch, and the answers keep the batch's
// order.
func (s *Server) answerSends(ctx context.Context, calls []rpcCall) [][]byte {
	sends := make([][]byte, len(calls))
	var wg sync.WaitGroup
	var rest []rpcCall
	for i, call := range calls {
		if call.Method != "eth_sendRawTransaction" {
			rest = append(rest, call)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, _ := json.Marshal([]rpcCall{call})
			if out := s.callInProc(ctx, body); len(out) == 1 {
				sends[i] = out[0]
			}
		}()
	}
	byID := s.callByID(ctx, rest)
	wg.Wait()
	var out [][]byte
	for i, call := range calls {
		switch {
		case call.ID == nil:
		case sends[i] != nil:
			out = append(out, sends[i])
		case call.Method == "eth_sendRawTransaction":
			out = append(out, errorFrom(call.ID, errors.New("internal error: no answer to the send")))
		default:
			if resp, ok := byID[string(call.ID)]; ok {
				out = append(out, resp)
			}
		}
	}
	return out
}

// rawSends counts a batch's eth_sendRawTransaction calls.
func rawSends(calls []rpcCall) int {
	n := 0
	for _, c := range calls {
		if c.Method == "eth_sendRawTransaction" {
			n++
		}
	}
	return n
}
