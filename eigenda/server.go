package eigenda

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethdb"
)

// The embedded server's certificate: version byte 0x00, keccak256 of the
// payload, then its length (uint64 big-endian). The commitment so binds the
// payload: the server keys blobs by the hash and checks it on every get.
const (
	certVersion = 0x00
	certLen     = 1 + 32 + 8
)

func memCert(payload []byte) []byte {
	cert := make([]byte, 0, certLen)
	cert = append(cert, certVersion)
	cert = append(cert, crypto.Keccak256(payload)...)
	return binary.BigEndian.AppendUint64(cert, uint64(len(payload)))
}

// MemConfig is the embedded server's runtime configuration, with the JSON
// shape of eigenda-proxy's memstore (GET/PATCH /memstore/config).
type MemConfig struct {
	MaxBlobSizeBytes        int
	BlobExpiration          Duration // 0: blobs never expire (the only choice here)
	PutLatency, GetLatency  Duration
	PutReturnsFailoverError bool // every put answers 503
}

// Duration is a time.Duration that reads and writes as "1.5s".
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string like \"1.5s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("negative duration %s", s)
	}
	*d = Duration(v)
	return nil
}

// ServerStats counts the server's work.
type ServerStats struct {
	Puts, Gets, Failovers, Bytes uint64
}

// Server is meganode's own DA server: the eigenda-proxy REST routes and
// commitment layouts over a pebble store, with the memstore's latency and
// failover injection. It is an http.Handler.
type Server struct {
	db    ethdb.KeyValueStore
	log   zerolog.Logger
	sleep func(ctx context.Context, d time.Duration) error

	mu  sync.Mutex
	cfg MemConfig

	puts, gets, failovers, bytes atomic.Uint64

	srv *http.Server
	ln  net.Listener
}

// DefaultMemConfig is the server's starting configuration.
func DefaultMemConfig() MemConfig { return MemConfig{MaxBlobSizeBytes: MaxBlobSize} }

// NewServer serves blobs kept in db.
func NewServer(db ethdb.KeyValueStore, cfg MemConfig, log zerolog.Logger) *Server {
	if cfg.MaxBlobSizeBytes <= 0 || cfg.MaxBlobSizeBytes > MaxBlobSize {
		cfg.MaxBlobSizeBytes = MaxBlobSize
	}
	return &Server{db: db, cfg: cfg, log: log.With().Str("component", "da").Logger(), sleep: sleep}
}

// SetSleep replaces how injected latency waits (tests).
func (s *Server) SetSleep(f func(ctx context.Context, d time.Duration) error) { s.sleep = f }

// Config returns the runtime configuration.
func (s *Server) Config() MemConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

// SetConfig replaces the runtime configuration.
func (s *Server) SetConfig(cfg MemConfig) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg = cfg
}

// Stats returns the counters.
func (s *Server) Stats() ServerStats {
	return ServerStats{Puts: s.puts.Load(), Gets: s.gets.Load(), Failovers: s.failovers.Load(), Bytes: s.bytes.Load()}
}

// Listen binds addr (host:port, port 0 for any).
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("da server: %w", err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error().Err(err).Msg("da server stopped")
		}
	}()
	s.log.Info().Str("addr", ln.Addr().String()).Msg("da server listening")
	return nil
}

// Addr is the bound address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops serving.
func (s *Server) Close(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Shutdown(ctx)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case path == "/health" && r.Method == http.MethodGet:
		w.WriteHeader(http.StatusOK)
	case (path == "/put" || path == "/put/") && r.Method == http.MethodPost:
		s.put(w, r)
	case strings.HasPrefix(path, "/get/") && r.Method == http.MethodGet:
		s.get(w, r, strings.TrimPrefix(path, "/get/"))
	case path == "/memstore/config" && r.Method == http.MethodGet:
		s.writeConfig(w)
	case path == "/memstore/config" && r.Method == http.MethodPatch:
		s.patchConfig(w, r)
	default:
		http.Error(w, fmt.Sprintf("no route %s %s", r.Method, path), http.StatusNotFound)
	}
}

func mode(r *http.Request) (Mode, error) {
	switch m := r.URL.Query().Get("commitment_mode"); m {
	case "", string(ModeOptimism):
		return ModeOptimism, nil
	case string(ModeStandard):
		return ModeStandard, nil
	default:
		return "", fmt.Errorf("unsupported commitment_mode %q", m)
	}
}

func (s *Server) put(w http.ResponseWriter, r *http.Request) {
	cfg := s.Config()
	m, err := mode(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	payload, err := io.ReadAll(io.LimitReader(r.Body, int64(cfg.MaxBlobSizeBytes)+1))
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	switch {
	case len(payload) > cfg.MaxBlobSizeBytes:
		http.Error(w, fmt.Sprintf("blob above the %d-byte cap", cfg.MaxBlobSizeBytes), http.StatusRequestEntityTooLarge)
		return
	case len(payload) == 0:
		http.Error(w, "empty blob", http.StatusBadRequest)
		return
	}
	if err := s.sleep(r.Context(), time.Duration(cfg.PutLatency)); err != nil {
		return
	}
	if cfg.PutReturnsFailoverError {
		s.failovers.Add(1)
		http.Error(w, "disperser unavailable (failover injected)", http.StatusServiceUnavailable)
		return
	}
	cert := memCert(payload)
	if err := s.db.Put(cert[1:33], payload); err != nil {
		http.Error(w, "store blob: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if syncer, ok := s.db.(interface{ SyncKeyValue() error }); ok {
		if err := syncer.SyncKeyValue(); err != nil {
			http.Error(w, "sync blob: "+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	s.puts.Add(1)
	s.bytes.Add(uint64(len(payload)))
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(Commitment(m, cert))
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, hexCommitment string) {
	m, err := mode(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	commitment, err := hexutil.Decode(hexCommitment)
	if err != nil {
		http.Error(w, "commitment is not 0x-prefixed hex: "+err.Error(), http.StatusBadRequest)
		return
	}
	cert, err := Certificate(m, commitment)
	if err == nil && (len(cert) != certLen || cert[0] != certVersion) {
		err = fmt.Errorf("%w: not a certificate of this server (version %#x, %d bytes)", ErrCommitment, cert[0], len(cert))
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := s.sleep(r.Context(), time.Duration(s.Config().GetLatency)); err != nil {
		return
	}
	payload, err := s.db.Get(cert[1:33])
	if err != nil || payload == nil {
		http.Error(w, "no blob under this commitment", http.StatusNotFound)
		return
	}
	if !bytes.Equal(memCert(payload), cert) {
		s.log.Error().Str("commitment", hexutil.Encode(commitment)).Msg("stored blob does not match its commitment")
		http.Error(w, "stored blob does not match its commitment", http.StatusInternalServerError)
		return
	}
	s.gets.Add(1)
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(payload)
}

func (s *Server) writeConfig(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s.Config())
}

func (s *Server) patchConfig(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	cfg := s.cfg
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
	dec.DisallowUnknownFields()
	err := dec.Decode(&cfg)
	if err == nil && (cfg.MaxBlobSizeBytes <= 0 || cfg.MaxBlobSizeBytes > MaxBlobSize) {
		err = fmt.Errorf("MaxBlobSizeBytes %d: must be 1..%d", cfg.MaxBlobSizeBytes, MaxBlobSize)
	}
	if err == nil {
		s.cfg = cfg
	}
	s.mu.Unlock()
	if err != nil {
		http.Error(w, "bad config: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.log.Info().Interface("config", cfg).Msg("memstore config changed")
	s.writeConfig(w)
}
