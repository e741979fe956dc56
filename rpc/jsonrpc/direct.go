package jsonrpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"unicode"

	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// Direct answers a single JSON-RPC call on the goroutine that read it.
//
// go-ethereum's server runs every call on a goroutine of its own and waits
// for it: two hand-offs between threads per request, which on an idle node
// cost more than most methods do (a devnet under a test suite is idle
// between calls). Direct calls the same receiver methods with go-ethereum's
// conventions — positional params, an optional context.Context first,
// (result, error) returns, ErrorCode/ErrorData on errors, a recovered panic
// as -32603 — and hands back anything it does not answer exactly so
// (params that do not decode, notifications, subscriptions) for the
// go-ethereum server to answer.
type Direct struct {
	methods map[string]*directMethod
	// OnPanic, when set, is told of a method that panicked.
	OnPanic func(method string, v any, stack []byte)
}

type directMethod struct {
	rcvr   reflect.Value
	fn     reflect.Value
	hasCtx bool
	args   []reflect.Type
	errPos int // index of the error result, -1 without one
}

var (
	ctxType          = reflect.TypeFor[context.Context]()
	errType          = reflect.TypeFor[error]()
	subscriptionType = reflect.TypeFor[*gethrpc.Subscription]()
)

// RegisterName adds rcvr's methods as namespace_method, the names
// go-ethereum's Server.RegisterName gives them. Methods it cannot call the
// same way (subscriptions, odd signatures) are left to that server.
func (d *Direct) RegisterName(namespace string, rcvr any) error {
	if d.methods == nil {
		d.methods = make(map[string]*directMethod)
	}
	v := reflect.ValueOf(rcvr)
	t := v.Type()
	for i := 0; i < t.NumMethod(); i++ {
		m := t.Method(i)
		if !m.IsExported() {
			continue
		}
		dm := newDirectMethod(v, m.Func)
		if dm == nil {
			continue
		}
		d.methods[namespace+"_"+lowerFirst(m.Name)] = dm
	}
	return nil
}

func newDirectMethod(rcvr, fn reflect.Value) *directMethod {
	ft := fn.Type()
	dm := &directMethod{rcvr: rcvr, fn: fn, errPos: -1}
	first := 1 // after the receiver
	if ft.NumIn() > first && ft.In(first) == ctxType {
		dm.hasCtx = true
		first++
	}
	for i := first; i < ft.NumIn(); i++ {
		dm.args = append(dm.args, ft.In(i))
	}
	isErr := func(t reflect.Type) bool { return t.Implements(errType) }
	switch ft.NumOut() {
	case 0:
	case 1:
		if isErr(ft.Out(0)) {
			dm.errPos = 0
		}
	case 2:
		if isErr(ft.Out(0)) || !isErr(ft.Out(1)) {
			return nil
		}
		dm.errPos = 1
	default:
		return nil
	}
	if dm.errPos >= 0 {
		if k := ft.Out(dm.errPos).Kind(); k != reflect.Interface && k != reflect.Pointer {
			return nil // an error value that cannot be nil: left to go-ethereum
		}
	}
	if ft.NumOut() > 0 && ft.Out(0) == subscriptionType {
		return nil
	}
	return dm
}

func lowerFirst(name string) string {
	r := []rune(name)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}

// Has reports whether method is answered directly.
func (d *Direct) Has(method string) bool { return d.methods[method] != nil }

// Answer runs call and returns its response, byte for byte as
// go-ethereum's HTTP server writes it. ok is false when the call is not one
// Direct answers; then nothing has run.
func (d *Direct) Answer(ctx context.Context, call Call) (resp []byte, ok bool) {
	m := d.methods[call.Method]
	if m == nil || call.Version != "2.0" || call.Notification() || !validID(call.ID) {
		return nil, false
	}
	args, err := positionalArgs(call.Params, m.args)
	if err != nil {
		return nil, false
	}
	result, err := d.call(ctx, call.Method, m, args)
	if err != nil {
		return errorAnswer(call.ID, err), true
	}
	out, err := json.Marshal(result)
	if err != nil {
		return errorAnswer(call.ID, codeError{-32603, err.Error()}), true
	}
	return answer(call.ID, "result", out), true
}

func (d *Direct) call(ctx context.Context, method string, m *directMethod, args []reflect.Value) (res any, err error) {
	in := make([]reflect.Value, 0, 2+len(args))
	in = append(in, m.rcvr)
	if m.hasCtx {
		in = append(in, reflect.ValueOf(ctx))
	}
	in = append(in, args...)
	defer func() {
		if v := recover(); v != nil {
			if d.OnPanic != nil {
				buf := make([]byte, 64<<10)
				d.OnPanic(method, v, buf[:runtime.Stack(buf, false)])
			}
			res, err = nil, codeError{-32603, "method handler crashed"}
		}
	}()
	out := m.fn.Call(in)
	if len(out) == 0 {
		return nil, nil
	}
	if m.errPos >= 0 && !out[m.errPos].IsNil() {
		return nil, out[m.errPos].Interface().(error)
	}
	if m.errPos == 0 {
		return nil, nil
	}
	return out[0].Interface(), nil
}

// validID is an id go-ethereum accepts: a number, a string or null.
func validID(id json.RawMessage) bool {
	return len(id) > 0 && (id[0] == '"' || id[0] == '-' || (id[0] >= '0' && id[0] <= '9'))
}

// positionalArgs decodes params as go-ethereum does: an array (or nothing,
// or null) whose missing trailing values are allowed for pointer types.
// Each element is decoded on its own, as go-ethereum's json.Decoder does.
func positionalArgs(raw json.RawMessage, types []reflect.Type) ([]reflect.Value, error) {
	var args []reflect.Value
	if t := bytes.TrimSpace(raw); len(t) > 0 && !bytes.Equal(t, []byte("null")) {
		elems, err := splitArray(t)
		if err != nil {
			return nil, errors.New("non-array args")
		}
		if len(elems) > len(types) {
			return nil, errors.New("too many arguments")
		}
		args = make([]reflect.Value, 0, len(types))
		for i, e := range elems {
			v := reflect.New(types[i])
			if err := json.Unmarshal(e, v.Interface()); err != nil {
				return nil, err
			}
			args = append(args, v.Elem())
		}
	}
	for i := len(args); i < len(types); i++ {
		if types[i].Kind() != reflect.Pointer {
			return nil, fmt.Errorf("missing value for required argument %d", i)
		}
		args = append(args, reflect.Zero(types[i]))
	}
	return args, nil
}

type codeError struct {
	code int
	msg  string
}

func (e codeError) Error() string  { return e.msg }
func (e codeError) ErrorCode() int { return e.code }

// errorAnswer is go-ethereum's error response for err: its ErrorCode (or
// -32000), message and ErrorData.
func errorAnswer(id json.RawMessage, err error) []byte {
	body := struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    any    `json:"data,omitempty"`
	}{Code: -32000, Message: err.Error()}
	if ec, ok := err.(interface{ ErrorCode() int }); ok {
		body.Code = ec.ErrorCode()
	}
	if de, ok := err.(interface{ ErrorData() any }); ok {
		body.Data = de.ErrorData()
	}
	out, mErr := json.Marshal(body)
	if mErr != nil {
		out, _ = json.Marshal(struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}{body.Code, body.Message})
	}
	return answer(id, "error", out)
}

func answer(id json.RawMessage, key string, value []byte) []byte {
	b := make([]byte, 0, 32+len(id)+len(value))
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, id...)
	b = append(b, `,"`...)
	b = append(b, key...)
	b = append(b, `":`...)
	b = append(b, value...)
	return append(b, '}')
}
