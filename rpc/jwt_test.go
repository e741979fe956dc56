package rpc

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

func signToken(t *testing.T, method jwt.SigningMethod, key interface{}, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestJWTHandler: the admin listener's check, at a fixed time.
func TestJWTHandler(t *testing.T) {
	secret := bytes.Repeat([]byte{0x42}, 32)
	other := bytes.Repeat([]byte{0x43}, 32)
	now := time.Unix(1_800_000_000, 0)
	iat := func(d time.Duration) jwt.MapClaims { return jwt.MapClaims{"iat": now.Add(d).Unix()} }
	hs256 := func(claims jwt.MapClaims) string {
		return "Bearer " + signToken(t, jwt.SigningMethodHS256, secret, claims)
	}
	for _, tc := range []struct {
		name, auth, want string // want: "" when served, else part of the 401 body
	}{
		{"no header", "", "missing token"},
		{"not bearer", "Basic dXNlcjpwYXNz", "missing token"},
		{"empty bearer", "Bearer ", "missing token"},
		{"garbage", "Bearer not.a.jwt", "invalid token"},
		{"bad signature", "Bearer " + signToken(t, jwt.SigningMethodHS256, other, iat(0)), "signature is invalid"},
		{"other alg", "Bearer " + signToken(t, jwt.SigningMethodHS512, secret, iat(0)), "signing method HS512 is invalid"},
		{"alg none", "Bearer " + signToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, iat(0)), "invalid"},
		{"no iat", hs256(jwt.MapClaims{}), "missing issued-at"},
		{"stale iat", hs256(iat(-61 * time.Second)), "stale token"},
		{"future iat", hs256(iat(61 * time.Second)), "future token"},
		{"expired", hs256(jwt.MapClaims{"iat": now.Unix(), "exp": now.Add(-time.Second).Unix()}), "expired"},
		{"good", hs256(iat(0)), ""},
		{"good lowercase bearer", "bearer " + signToken(t, jwt.SigningMethodHS256, secret, iat(0)), ""},
		{"iat 60s old", hs256(iat(-60 * time.Second)), ""},
		{"iat 60s ahead", hs256(iat(60 * time.Second)), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			served := false
			h := newJWTHandler(secret, func() time.Time { return now }, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served = true }))
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`))
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if tc.want == "" {
				if !served || rec.Code != http.StatusOK {
					t.Fatalf("got %d %q, want served", rec.Code, rec.Body.String())
				}
				return
			}
			if served || rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("got %d %q (served %v), want 401 with %q", rec.Code, rec.Body.String(), served, tc.want)
			}
			if rec.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
		})
	}
}

// TestLoadJWTSecret: a missing file is created with a fresh secret and mode
// 0600 and read back the same; a file that is not 32 bytes of hex is refused.
func TestLoadJWTSecret(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "jwtsecret")
	secret, created, err := LoadJWTSecret(path)
	if err != nil || !created || len(secret) != 32 {
		t.Fatalf("create: %x, created %v, %v", secret, created, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode: %v, %v; want 0600", fi.Mode(), err)
	}
	again, created, err := LoadJWTSecret(path)
	if err != nil || created || !bytes.Equal(again, secret) {
		t.Fatalf("reload: %x (created %v, %v), want %x", again, created, err, secret)
	}
	for _, tc := range []struct{ name, content string }{
		{"short", "0x1234"},
		{"not hex", strings.Repeat("zz", 32)},
		{"empty", ""},
	} {
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := LoadJWTSecret(p); err == nil || !strings.Contains(err.Error(), "want 32 bytes of hex") {
			t.Errorf("%s: got %v, want a refusal", tc.name, err)
		}
	}
	p := filepath.Join(dir, "geth")
	if err := os.WriteFile(p, []byte("  "+strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, _, err := LoadJWTSecret(p); err != nil || s[0] != 0xab {
		t.Errorf("geth-style file without 0x: %x, %v", s, err)
	}
}
