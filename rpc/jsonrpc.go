package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/rpc/jsonrpc"
)

// rpcCall is one JSON-RPC request as this package reads it before the
// go-ethereum server does.
type rpcCall = jsonrpc.Call

var parseCalls, rawID = jsonrpc.ParseCalls, jsonrpc.RawID

func isSubscriptionCall(method string) bool {
	return method == "eth_subscribe" || method == "eth_unsubscribe"
}

func isSubscription(c rpcCall) bool { return isSubscriptionCall(c.Method) }

// hasDevMethodName is a cheap test before parsing a body for dev calls.
func hasDevMethodName(body []byte) bool {
	return bytes.Contains(body, []byte(`"anvil_`)) || bytes.Contains(body, []byte(`"hardhat_`)) ||
		bytes.Contains(body, []byte(`"evm_`)) || bytes.Contains(body, []byte(`"eth_sendUnsignedTransaction"`)) || jsonrpc.HasEscape(body)
}

// refusal is the −32601 error the server answers a call with itself, or
// nil: an admin method (served only on the admin listener) or a dev method
// off a dev chain. The go-ethereum server would say only that the method
// does not exist.
func (s *Server) refusal(method string) error {
	switch {
	case jsonrpc.IsAdmin(method):
		return adminOnlyError{method}
	case !s.devChain && isDevMethod(method):
		return notDevError{method}
	}
	return nil
}

// answerRefused answers a body that holds a refused call: those with their
// error, the others in process. ok is false when nothing is refused.
func (s *Server) answerRefused(ctx context.Context, body []byte) (resp []byte, ok bool) {
	if !jsonrpc.MayHoldAdmin(body) && (s.devChain || !hasDevMethodName(body)) {
		return nil, false
	}
	calls, batch, err := parseCalls(body)
	if err != nil || !slices.ContainsFunc(calls, s.refused) {
		return nil, false
	}
	resps := s.answerMixed(ctx, calls, s.refused, func(call rpcCall) []byte { return errorFrom(call.ID, s.refusal(call.Method)) })
	if len(resps) == 0 {
		return nil, true
	}
	return joinResponses(resps, batch), true
}

func (s *Server) refused(c rpcCall) bool { return s.refusal(c.Method) != nil }

func hasSubscriptionCall(calls []rpcCall) bool {
	for _, c := range calls {
		if isSubscriptionCall(c.Method) {
			return true
		}
	}
	return false
}

func resultResponse(id json.RawMessage, result interface{}) []byte {
	out, err := json.Marshal(struct {
		Version string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Result  interface{}     `json:"result"`
	}{"2.0", rawID(id), result})
	if err != nil {
		return errorResponse(id, -32603, "marshal result: "+err.Error(), nil)
	}
	return out
}

type jsonError struct {
	Code    int         `json:"code"`
	Message string      `json:"message"`
	Data    interface{} `json:"data,omitempty"`
}

func errorResponse(id json.RawMessage, code int, msg string, data interface{}) []byte {
	out, _ := json.Marshal(struct {
		Version string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   jsonError       `json:"error"`
	}{"2.0", rawID(id), jsonError{code, msg, data}})
	return out
}

// errorFrom renders err with its JSON-RPC code and data, as the go-ethereum
// server does (−32000 when it has none).
func errorFrom(id json.RawMessage, err error) []byte {
	code := -32000
	var ce gethrpc.Error
	if errors.As(err, &ce) {
		code = ce.ErrorCode()
	}
	var data interface{}
	var de gethrpc.DataError
	if errors.As(err, &de) {
		data = de.ErrorData()
	}
	return errorResponse(id, code, err.Error(), data)
}

func joinResponses(resps [][]byte, batch bool) []byte {
	if !batch && len(resps) == 1 {
		return resps[0]
	}
	return append(append([]byte{'['}, bytes.Join(resps, []byte{','})...), ']')
}

// answerMixed answers calls in order: subscription calls through native,
// everything else through the go-ethereum server in process, as one batch.
func (s *Server) answerMixed(ctx context.Context, calls []rpcCall, isNative func(rpcCall) bool, native func(rpcCall) []byte) [][]byte {
	var forward []rpcCall
	for _, call := range calls {
		if !isNative(call) {
			forward = append(forward, call)
		}
	}
	byID := s.callByID(ctx, forward)
	var out [][]byte
	for _, call := range calls {
		if isNative(call) {
			if resp := native(call); resp != nil && call.ID != nil {
				out = append(out, resp)
			}
			continue
		}
		if resp, ok := byID[string(call.ID)]; ok && call.ID != nil {
			out = append(out, resp)
		}
	}
	return out
}

// callByID runs calls in process as one batch and returns the answers by
// their id.
func (s *Server) callByID(ctx context.Context, calls []rpcCall) map[string][]byte {
	byID := map[string][]byte{}
	if len(calls) == 0 {
		return byID
	}
	body, _ := json.Marshal(calls)
	for _, resp := range s.callInProc(ctx, body) {
		var head struct {
			ID json.RawMessage `json:"id"`
		}
		if json.Unmarshal(resp, &head) == nil {
			byID[string(head.ID)] = resp
		}
	}
	return byID
}

// callInProc runs a batch through the go-ethereum server's HTTP handler and
// returns its responses.
func (s *Server) callInProc(ctx context.Context, body []byte) []json.RawMessage {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/", bytes.NewReader(body))
	if err != nil {
		return nil
	}
	req.Header.Set("Content-Type", "application/json")
	rec := &bufferWriter{header: http.Header{}}
	s.rpc.ServeHTTP(rec, req)
	var out []json.RawMessage
	if json.Unmarshal(rec.body.Bytes(), &out) != nil {
		return nil
	}
	return out
}

// bufferWriter is an http.ResponseWriter that keeps the body.
type bufferWriter struct {
	header http.Header
	body   bytes.Buffer
}

func (w *bufferWriter) Header() http.Header         { return w.header }
func (w *bufferWriter) Write(b []byte) (int, error) { return w.body.Write(b) }
func (w *bufferWriter) WriteHeader(int)             {}

// limitError is a request refused by a configured limit (EIP-1474 −32005).
type limitError struct{ msg string }

func (e *limitError) Error() string  { return e.msg }
func (e *limitError) ErrorCode() int { return -32005 }

// wsRequiredError answers subscription calls over HTTP.
type wsRequiredError struct{}

func (wsRequiredError) Error() string  { return "WebSocket connection required" }
func (wsRequiredError) ErrorCode() int { return -32000 }
