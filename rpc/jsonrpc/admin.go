package jsonrpc

import (
	"bytes"
	"fmt"
	"strings"
)

// publicHA are the read-only ha_ methods a public port keeps: monitoring
// polls ha_status, and a leader asks a joining candidate's public RPC for
// it before promoting it (sequencer.HA).
var publicHA = map[string]bool{"ha_status": true, "ha_leader": true, "ha_members": true}

// IsAdmin reports whether method is an operator method, served only on a
// sequencer candidate's admin listener (JWT) and never on a public port or
// through the gateway: every ha_ method but the read-only ones, so a new
// ha_ method is admin until it is listed as public.
func IsAdmin(method string) bool {
	return strings.HasPrefix(method, "ha_") && !publicHA[method]
}

// MayHoldAdmin is a cheap test of a body before parsing it for admin calls.
// A method name may be written with JSON escapes ("\u0068a_removeMember"),
// so a body with any escape is parsed too.
func MayHoldAdmin(body []byte) bool {
	return bytes.Contains(body, []byte(`"ha_`)) || HasEscape(body)
}

// HasEscape reports whether body holds a JSON \u escape: a cheap test on
// method names must then parse the body.
func HasEscape(body []byte) bool { return bytes.Contains(body, []byte(`\u`)) }

// AdminOnlyMessage is the −32601 message a public port answers an admin
// method with.
func AdminOnlyMessage(method string) string {
	return fmt.Sprintf("the method %s does not exist/is not available on the public RPC: it is an admin method, served only on a sequencer candidate's admin listener (--admin.port, JWT auth)", method)
}
