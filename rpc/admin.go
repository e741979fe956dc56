package rpc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/rpc/jsonrpc"
)

// AdminConfig configures the admin listener of a sequencer candidate: the
// operator methods (ha_ membership, leadership, fault injection) on a port
// of their own behind JWT authentication, as geth's --authrpc serves the
// engine API.
type AdminConfig struct {
	Addr string // listen address, default 127.0.0.1
	Port int    // listen port, default 8547 (op-conductor's, whose job this is); 0 picks a free one
	// JWTSecret is the file of the hex-encoded 32-byte HS256 secret; one is
	// generated there (mode 0600) when it does not exist. Required.
	JWTSecret string
}

// DefaultAdminConfig returns the admin listener's defaults; JWTSecret is
// left to the caller (a node puts it in its data directory).
func DefaultAdminConfig() AdminConfig { return AdminConfig{Addr: "127.0.0.1", Port: 8547} }

// Check validates the configuration.
func (c AdminConfig) Check() error {
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("admin port %d out of range", c.Port)
	}
	if c.JWTSecret == "" {
		return errors.New("the admin listener needs a JWT secret file")
	}
	return nil
}

// adminOnlyError answers an admin method on a public port.
type adminOnlyError struct{ method string }

func (e adminOnlyError) Error() string { return jsonrpc.AdminOnlyMessage(e.method) }
func (adminOnlyError) ErrorCode() int  { return -32601 }

// adminBodyLimit bounds an admin request: a few small calls.
const adminBodyLimit = 64 * 1024

// AdminServer serves the admin methods over HTTP JSON-RPC to callers that
// present a valid JWT.
type AdminServer struct {
	httpListener
	cfg AdminConfig
	log zerolog.Logger
	rpc *gethrpc.Server
}

// NewAdminServer loads (or creates) the JWT secret and registers the whole
// ha namespace of ha.
func NewAdminServer(cfg AdminConfig, ha HAAdmin, log zerolog.Logger) (*AdminServer, error) {
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("rpc: %w", err)
	}
	if ha == nil {
		return nil, errors.New("rpc: the admin listener has no admin methods to serve")
	}
	log = log.With().Str("component", "admin-rpc").Logger()
	secret, created, err := LoadJWTSecret(cfg.JWTSecret)
	if err != nil {
		return nil, err
	}
	if created {
		log.Info().Str("path", cfg.JWTSecret).Msg("generated admin jwt secret")
	} else {
		log.Info().Str("path", cfg.JWTSecret).Msg("loaded admin jwt secret")
	}
	srv := gethrpc.NewServer()
	srv.SetHTTPBodyLimit(adminBodyLimit)
	if err := srv.RegisterName("ha", &HAAdminAPI{HAAPI{ha: ha}}); err != nil {
		return nil, err
	}
	s := &AdminServer{cfg: cfg, log: log, rpc: srv}
	s.http = &http.Server{Handler: newJWTHandler(secret, time.Now, srv), ReadHeaderTimeout: 10 * time.Second}
	return s, nil
}

// Start listens and serves.
func (s *AdminServer) Start(context.Context) error {
	if err := s.listen(s.cfg.Addr, s.cfg.Port); err != nil {
		return fmt.Errorf("admin %w", err)
	}
	s.serve(s.log, "admin rpc listening (jwt)")
	return nil
}

// Stop closes the listener and connections; idempotent.
func (s *AdminServer) Stop(ctx context.Context) error {
	s.rpc.Stop()
	if s.ln == nil {
		return nil
	}
	return s.shutdown(ctx)
}
