package gateway

import (
	"bytes"
	"encoding/json"
	"strings"
)

// class is where a call goes.
type class int

const (
	classRead     class = iota // replicas (the sequencer when none can serve)
	classWrite                 // the sequencer: submissions, its pool, its dev accounts
	classFinality              // full nodes (replicas when there are none)
	classFilter                // installed filters: one fixed backend, as they live there
)

func (c class) String() string {
	return [...]string{"read", "write", "finality", "filter"}[c]
}

// writeMethods go to the sequencer.
var writeMethods = map[string]bool{
	"eth_sendRawTransaction":      true,
	"eth_sendRawTransactionSync":  true,
	"realtime_sendRawTransaction": true,
	"eth_sendTransaction":         true, // devnet dev accounts live on the sequencer
	"eth_signTransaction":         true,
	"eth_sign":                    true,
	"eth_signTypedData_v4":        true,
	"eth_accounts":                true,
}

// finalityMethods answer from a node's finality ladder.
var finalityMethods = map[string]bool{
	"mega_getFinality":       true,
	"optimism_syncStatus":    true,
	"optimism_outputAtBlock": true,
}

// waitMethods wait for the chain; they get the longer timeout.
var waitMethods = map[string]bool{
	"eth_sendRawTransactionSync":  true,
	"realtime_sendRawTransaction": true,
	"eth_callAfter":               true,
}

// rawTxMethods may use the larger body limit.
var rawTxMethods = map[string]bool{
	"eth_sendRawTransaction":      true,
	"eth_sendRawTransactionSync":  true,
	"realtime_sendRawTransaction": true,
}

// classify returns where a call goes: by method, then by its block tag.
func classify(method string, params json.RawMessage) class {
	switch {
	case writeMethods[method], strings.HasPrefix(method, "txpool_"):
		return classWrite
	case method == "eth_getTransactionCount" && bytes.Contains(params, []byte(`"pending"`)):
		return classWrite // the pool is on the sequencer: the next nonce a wallet should sign
	case finalityMethods[method]:
		return classFinality
	case strings.HasPrefix(method, "eth_") && strings.Contains(method, "Filter"):
		return classFilter
	case bytes.Contains(params, []byte(`"safe"`)) || bytes.Contains(params, []byte(`"finalized"`)):
		return classFinality
	}
	return classRead
}

// allowList matches methods against exact names and "ns_*" namespaces.
type allowList struct {
	exact      map[string]bool
	namespaces []string
}

func newAllowList(entries []string) *allowList {
	a := &allowList{exact: map[string]bool{}}
	for _, e := range entries {
		if ns, ok := strings.CutSuffix(e, "*"); ok {
			a.namespaces = append(a.namespaces, ns)
			continue
		}
		a.exact[e] = true
	}
	return a
}

func (a *allowList) allows(method string) bool {
	if a.exact[method] {
		return true
	}
	for _, ns := range a.namespaces {
		if strings.HasPrefix(method, ns) {
			return true
		}
	}
	return false
}
