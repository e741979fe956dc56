// Package jsonrpc holds the JSON-RPC 2.0 framing the node's server and the
// gateway both read before any method runs: calls, batches, ids and CORS.
package jsonrpc

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// Call is one JSON-RPC request.
type Call struct {
	Version string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params,omitempty"`
}

// Notification tells a call without an id: it gets no answer.
func (c Call) Notification() bool { return len(c.ID) == 0 }

// ParseCalls decodes a single call or a batch; batch tells which it was.
func ParseCalls(data []byte) (calls []Call, batch bool, err error) {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '[' {
		if err := json.Unmarshal(data, &calls); err != nil {
			return nil, true, err
		}
		return calls, true, nil
	}
	var call Call
	if err := json.Unmarshal(data, &call); err != nil {
		return nil, false, err
	}
	return []Call{call}, false, nil
}

// RawID is id as it goes into an answer: null when absent.
func RawID(id json.RawMessage) json.RawMessage {
	if len(id) == 0 {
		return json.RawMessage("null")
	}
	return id
}

// CORS sets the CORS headers for r's Origin when origins allow it ("*"
// allows any).
func CORS(w http.ResponseWriter, r *http.Request, origins []string) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return
	}
	for _, o := range origins {
		if o == "*" || o == origin {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Authorization")
			w.Header().Set("Vary", "Origin")
			return
		}
	}
}
