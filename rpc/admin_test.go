package rpc

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/rs/zerolog"

	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// removalsHA is haStub recording ha_removeMember.
type removalsHA struct {
	haStub
	mu      sync.Mutex
	removed []string
}

func (h *removalsHA) RemoveMember(id string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removed = append(h.removed, id)
	return nil
}

func (h *removalsHA) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.removed)
}

// jwtAuth signs each request as an engine-API client does (geth's
// node.NewJWTAuth, whose package this module does not build).
func jwtAuth(t *testing.T, secret []byte) gethrpc.HTTPAuth {
	return func(h http.Header) error {
		h.Set("Authorization", "Bearer "+signToken(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"iat": time.Now().Unix()}))
		return nil
	}
}

// TestAdminListener: the admin methods are served on the admin listener to
// a caller with a valid JWT only, and the public port refuses them, over
// HTTP and websocket, with −32601 naming the admin listener while it keeps
// the read-only ha_ methods.
func TestAdminListener(t *testing.T) {
	ha := &removalsHA{}
	e := newServerEnv(t, nil, ha)
	cfg := DefaultAdminConfig()
	cfg.Port, cfg.JWTSecret = 0, filepath.Join(t.TempDir(), "jwtsecret")
	admin, err := NewAdminServer(cfg, ha, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Stop(context.Background()) })
	secret, _, err := LoadJWTSecret(cfg.JWTSecret)
	if err != nil {
		t.Fatal(err)
	}
	adminURL := "http://" + admin.Addr()
	dial := func(url string, opts ...gethrpc.ClientOption) *gethrpc.Client {
		c, err := gethrpc.DialOptions(context.Background(), url, opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	var ok bool

	// Admin listener: without a token, or with another secret's, 401.
	wrong := make([]byte, 32)
	for name, c := range map[string]*gethrpc.Client{
		"no token":     dial(adminURL),
		"wrong secret": dial(adminURL, gethrpc.WithHTTPAuth(jwtAuth(t, wrong))),
	} {
		err := c.Call(&ok, "ha_removeMember", "b")
		var he gethrpc.HTTPError
		if !errors.As(err, &he) || he.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: got %v, want HTTP 401", name, err)
		}
	}
	if n := ha.count(); n != 0 {
		t.Fatalf("%d removals without a valid token", n)
	}
	// With a valid token, served, read-only methods too.
	authed := dial(adminURL, gethrpc.WithHTTPAuth(jwtAuth(t, secret)))
	if err := authed.Call(&ok, "ha_removeMember", "b"); err != nil || !ok || ha.count() != 1 {
		t.Fatalf("ha_removeMember with a valid token: %v, %v, %d removals", ok, err, ha.count())
	}
	var leader HALeader
	if err := authed.Call(&leader, "ha_leader"); err != nil || leader.ID != "a" {
		t.Fatalf("ha_leader on the admin listener: %+v, %v", leader, err)
	}

	// Public port: every admin method refused, read-only ones served.
	public := dial("http://" + e.srv.Addr())
	for _, m := range []string{"ha_removeMember", "ha_addMember", "ha_addVoter", "ha_transferLeader", "ha_partition", "ha_somethingNew"} {
		err := public.Call(&ok, m, "b")
		var re gethrpc.Error
		if !errors.As(err, &re) || re.ErrorCode() != -32601 || !strings.Contains(err.Error(), "admin listener") {
			t.Errorf("public %s: got %v, want -32601 naming the admin listener", m, err)
		}
	}
	batch := []gethrpc.BatchElem{{Method: "ha_status", Result: new(map[string]any)}, {Method: "ha_removeMember", Args: []any{"b"}, Result: &ok}}
	if err := public.BatchCall(batch); err != nil || batch[0].Error != nil || batch[1].Error == nil {
		t.Fatalf("public batch of ha_status and ha_removeMember: %v, %v, %v", err, batch[0].Error, batch[1].Error)
	}
	ws := e.dial()
	if m := ws.call("ha_removeMember", "b"); m.Error == nil || m.Error.Code != -32601 || !strings.Contains(m.Error.Message, "admin listener") {
		t.Errorf("public websocket ha_removeMember: %+v", m)
	}
	if m := ws.call("ha_members"); m.Error != nil {
		t.Errorf("public websocket ha_members: %+v", m.Error)
	}
	if n := ha.count(); n != 1 {
		t.Fatalf("%d removals, want only the authenticated one", n)
	}
}
