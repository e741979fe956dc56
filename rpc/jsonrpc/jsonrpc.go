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
	for _, h := range CORSHeaders(r.Header.Get("Origin"), origins) {
		w.Header().Set(h[0], h[1])
	}
}

// CORSHeaders are the headers that answer a request from origin, none when
// origin is empty or not one of origins ("*" allows every origin).
func CORSHeaders(origin string, origins []string) [][2]string {
	if origin == "" {
		return nil
	}
	for _, o := range origins {
		if o == "*" || o == origin {
			return [][2]string{
				{"Access-Control-Allow-Origin", origin},
				{"Access-Control-Allow-Methods", "POST, GET, OPTIONS"},
				{"Access-Control-Allow-Headers", "Content-Type, Authorization"},
				{"Vary", "Origin"},
			}
		}
	}
	return nil
}
