package chain

import "fmt"

// CodeNotLeader is the JSON-RPC error code of NotLeaderError: EIP-1474's
// "resource unavailable", which clients and the gateway treat as retryable.
const CodeNotLeader = -32002

// NotLeaderError refuses a transaction sent to a standby sequencer of a
// high-availability set: nothing was pooled, and the same transaction may be
// sent again to the leader.
type NotLeaderError struct {
	Leader string // raft id of the leader, or "" during an election
}

func (e *NotLeaderError) Error() string {
	if e.Leader == "" {
		return "not the sequencer leader (election in progress); the transaction was not pooled, send it again"
	}
	return fmt.Sprintf("not the sequencer leader (leader is %s); the transaction was not pooled, send it again", e.Leader)
}

// ErrorCode makes the error's JSON-RPC code CodeNotLeader.
func (e *NotLeaderError) ErrorCode() int { return CodeNotLeader }

// HAMember is one candidate of a sequencer HA set as ha_members lists it.
type HAMember struct {
	ID     string `json:"id"`
	Addr   string `json:"addr"`
	Voter  bool   `json:"voter"`
	Leader bool   `json:"leader"`
}

// HAStatus is one candidate's view of its raft group (ha_status).
type HAStatus struct {
	ID           string `json:"id"`
	State        string `json:"state"` // Leader, Follower, Candidate, Shutdown
	Leader       string `json:"leader"`
	Leading      bool   `json:"leading"` // its sequencer produces blocks
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commitIndex"`
	AppliedIndex uint64 `json:"appliedIndex"`
	MiniBlock    uint64 `json:"miniBlock"` // mini-blocks its sequencer has executed
	Block        uint64 `json:"block"`     // its sealed head
}
