package rpc

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"

	"github.com/ethereum/go-ethereum/common/hexutil"
)

// jwtIATWindow is how far a token's issued-at may lie from now, either way:
// the engine API's ±60 s (execution-apis, authentication.md), as geth's
// --authrpc.
const jwtIATWindow = 60 * time.Second

// jwtHandler admits a request carrying "Authorization: Bearer <token>", an
// HS256 JWT signed with the shared secret whose iat is within jwtIATWindow
// of now; anything else is answered 401. It is geth's node/jwt_handler.go
// with the clock injected.
type jwtHandler struct {
	secret []byte
	now    func() time.Time
	next   http.Handler
}

func newJWTHandler(secret []byte, now func() time.Time, next http.Handler) http.Handler {
	return &jwtHandler{secret: secret, now: now, next: next}
}

func (h *jwtHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.check(r.Header.Get("Authorization")); err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="meganode admin"`)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	h.next.ServeHTTP(w, r)
}

// check verifies an Authorization header's token.
func (h *jwtHandler) check(auth string) error {
	var token string
	if len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		token = auth[7:]
	}
	if token == "" {
		return errors.New("missing token: send Authorization: Bearer <HS256 JWT with iat>")
	}
	var claims jwt.RegisteredClaims
	// Only HS256; the library's claim checks are off because they refuse an
	// iat a little in the future, which the ±60 s window allows.
	parsed, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (interface{}, error) { return h.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithoutClaimsValidation())
	now := h.now()
	switch {
	case err != nil:
		return fmt.Errorf("invalid token: %w", err)
	case !parsed.Valid:
		return errors.New("invalid token")
	case !claims.VerifyExpiresAt(now, false):
		return errors.New("token is expired")
	case claims.IssuedAt == nil:
		return errors.New("missing issued-at (iat) claim")
	case now.Sub(claims.IssuedAt.Time) > jwtIATWindow:
		return fmt.Errorf("stale token: issued %s ago, at most %s", now.Sub(claims.IssuedAt.Time).Truncate(time.Second), jwtIATWindow)
	case claims.IssuedAt.Time.Sub(now) > jwtIATWindow:
		return fmt.Errorf("future token: issued %s from now, at most %s", claims.IssuedAt.Time.Sub(now).Truncate(time.Second), jwtIATWindow)
	}
	return nil
}

// LoadJWTSecret reads the hex-encoded 32-byte secret at path (0x prefix and
// surrounding whitespace allowed), or, when there is no file, generates one
// and writes it there with mode 0600, as geth does with --authrpc.jwtsecret.
// created tells which happened.
func LoadJWTSecret(path string) (secret []byte, created bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, false, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, false, fmt.Errorf("jwt secret %s: %w", path, err)
		}
		// O_EXCL: a file that appeared meanwhile is not overwritten.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, false, fmt.Errorf("jwt secret %s: %w", path, err)
		}
		_, err = f.WriteString(hexutil.Encode(secret))
		if err = errors.Join(err, f.Close()); err != nil {
			return nil, false, fmt.Errorf("jwt secret %s: %w", path, err)
		}
		return secret, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("jwt secret %s: %w", path, err)
	}
	secret, err = hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(string(data)), "0x"))
	if err != nil || len(secret) != 32 {
		return nil, false, fmt.Errorf("jwt secret %s: want 32 bytes of hex (64 digits), as `openssl rand -hex 32` writes", path)
	}
	return secret, false, nil
}
