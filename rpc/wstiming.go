package rpc

import (
	"sync"
	"time"
)

// maxPendingCalls bounds the calls a websocket connection times at once. An
// answer whose id is not the one its call came with (geth escapes <, > and &
// in string ids) leaves its entry behind; when the table fills up it is
// emptied, so such entries cost a few lost samples, never memory.
const maxPendingCalls = 1024

// wsTiming times the calls of one websocket connection: the reader notes a
// call's id, method label and arrival, the writer looks the id up in each
// answer it is about to write. Calls on a connection run concurrently and are
// answered in any order, so they are matched by id, not by position (a
// client that reuses an id still in flight gets one sample for the two).
type wsTiming struct {
	m *serverMetrics

	mu      sync.Mutex
	pending map[string]pendingCall // raw JSON id → call
}

type pendingCall struct {
	label string
	start time.Time
}

// called notes the call (or a batch's first call) in msg, read at start.
// msg is valid JSON.
func (t *wsTiming) called(msg []byte, start time.Time) {
	id, method, batch := scanCall(msg)
	if id == nil {
		return // a notification: nothing will answer it
	}
	label := "batch"
	if !batch {
		label = t.m.labelBytes(method)
	}
	t.mu.Lock()
	if t.pending == nil || len(t.pending) >= maxPendingCalls {
		t.pending = make(map[string]pendingCall)
	}
	t.pending[string(id)] = pendingCall{label, start}
	t.mu.Unlock()
}

// answered observes the call msg answers, if it is one being timed.
// Subscription notifications, most of what a busy connection writes, cost
// a lock and a length check while no call is pending and a scan of their
// first two keys while one is.
func (t *wsTiming) answered(msg []byte) {
	t.mu.Lock()
	if len(t.pending) == 0 {
		t.mu.Unlock()
		return
	}
	id := answerID(msg)
	c, ok := t.pending[string(id)]
	if ok {
		delete(t.pending, string(id))
	}
	t.mu.Unlock()
	if ok {
		t.m.observeWS(c.label, c.start)
	}
}

// scanCall finds, in valid JSON, the id and method of a single call, or for
// a batch the id of its first call (the one whose id the answer array, or
// geth's batch-too-large error, leads with). id is nil when there is no call
// to answer: a notification, an id that is an object or an array (geth
// answers those with an id it does not copy), or an empty batch.
func scanCall(data []byte) (id, method []byte, batch bool) {
	i := skipSpace(data, 0)
	if i >= len(data) {
		return nil, nil, false
	}
	if data[i] != '[' {
		id, method = scanObject(data, i)
		return id, method, false
	}
	for i = skipSpace(data, i+1); i < len(data) && data[i] != ']'; {
		if data[i] == '{' {
			if id, method := scanObject(data, i); id != nil && method != nil {
				return id, nil, true
			}
		}
		i = skipSpace(data, skipValue(data, i))
		if i < len(data) && data[i] == ',' {
			i = skipSpace(data, i+1)
		}
	}
	return nil, nil, true
}

// scanObject returns the raw id and the method name of the object at i,
// with the last of repeated keys winning as in encoding/json.
func scanObject(data []byte, i int) (id, method []byte) {
	for i = skipSpace(data, i+1); i < len(data) && data[i] == '"'; {
		kend := skipValue(data, i)
		v := skipSpace(data, skipSpace(data, kend)+1) // past the colon
		if kend < i+2 || data[kend-1] != '"' || v >= len(data) {
			return nil, nil
		}
		key := data[i+1 : kend-1]
		vend := skipValue(data, v)
		switch string(key) {
		case "id":
			id = data[v:vend]
			if len(id) == 0 || id[0] == '{' || id[0] == '[' {
				id = nil
			}
		case "method":
			method = nil
			if data[v] == '"' && vend-1 > v {
				method = data[v+1 : vend-1]
			}
		}
		i = skipSpace(data, vend)
		if i < len(data) && data[i] == ',' {
			i = skipSpace(data, i+1)
		}
	}
	if method == nil {
		id = nil // a response from the client, or invalid: geth writes nothing that matches
	}
	return id, method
}

// answerID is the id an answer leads with: the first key after "jsonrpc" in
// what geth and this package write, so the scan stops before the result.
// It is nil for a notification (a "method" key comes first) and for anything
// not shaped like an answer.
func answerID(msg []byte) []byte {
	i := skipSpace(msg, 0)
	if i < len(msg) && msg[i] == '[' {
		i = skipSpace(msg, i+1)
	}
	if i >= len(msg) || msg[i] != '{' {
		return nil
	}
	for i = skipSpace(msg, i+1); i < len(msg) && msg[i] == '"'; {
		kend := skipValue(msg, i)
		v := skipSpace(msg, skipSpace(msg, kend)+1)
		if kend < i+2 || msg[kend-1] != '"' || v >= len(msg) {
			return nil
		}
		key := msg[i+1 : kend-1]
		switch string(key) {
		case "id":
			return msg[v:skipValue(msg, v)]
		case "method", "result", "error", "params":
			return nil
		}
		i = skipSpace(msg, skipValue(msg, v))
		if i < len(msg) && msg[i] == ',' {
			i = skipSpace(msg, i+1)
		}
	}
	return nil
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value at i (or len(data) when it
// does not end): a string with its escapes, an object or array with its
// nesting, or a scalar up to the next delimiter.
func skipValue(data []byte, i int) int {
	if i >= len(data) {
		return len(data)
	}
	switch data[i] {
	case '"':
		for j := i + 1; j < len(data); j++ {
			switch data[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return len(data)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				j = skipValue(data, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return len(data)
	default:
		j := i
		for j < len(data) && data[j] != ',' && data[j] != '}' && data[j] != ']' && data[j] != ' ' && data[j] != '\t' && data[j] != '\r' && data[j] != '\n' {
			j++
		}
		return j
	}
}
