// Package eigenda keeps the chain's data available: a client for the
// eigenda-proxy REST API, an embedded server with the same routes, the blob
// codec and the derivation of blocks from blobs (docs/eigenda.md).
package eigenda

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
)

// MaxBlobSize is the largest payload EigenDA takes (eigenda-proxy v1.4.1+).
const MaxBlobSize = 16 << 20

// Client stores payloads on a DA layer and gets them back by commitment.
type Client interface {
	// Put stores payload and returns its commitment once the DA layer took it.
	Put(ctx context.Context, payload []byte) ([]byte, error)
	// Get returns the payload a commitment names.
	Get(ctx context.Context, commitment []byte) ([]byte, error)
}

// Errors a Client returns (wrapped with detail).
var (
	// ErrUnavailable is eigenda-proxy's HTTP 503: the disperser cannot take
	// blobs now; the caller fails over (the batcher keeps the data and
	// retries later). It is not retried within a call.
	ErrUnavailable = errors.New("eigenda: disperser unavailable (HTTP 503), fail over")
	ErrTooLarge    = fmt.Errorf("eigenda: payload above the %d-byte blob cap", MaxBlobSize)
	ErrNotFound    = errors.New("eigenda: no blob under this commitment")
	ErrCommitment  = errors.New("eigenda: malformed commitment")
)

// Mode is how commitments are laid out (eigenda-proxy's commitment modes).
type Mode string

const (
	// ModeStandard: the commitment is the versioned certificate
	// (version byte ‖ certificate); routes take ?commitment_mode=standard.
	ModeStandard Mode = "standard"
	// ModeOptimism: OP alt-DA generic commitments,
	// 0x01 (generic) ‖ 0x00 (EigenDA) ‖ version byte ‖ certificate.
	ModeOptimism Mode = "optimism_generic"
)

// OP alt-DA commitment header bytes.
const (
	opGenericCommitment = 0x01
	eigenDALayer        = 0x00
)

// Certificate strips the mode's header from a commitment and returns the
// versioned certificate.
func Certificate(mode Mode, commitment []byte) ([]byte, error) {
	switch mode {
	case ModeStandard:
		if len(commitment) < 2 {
			return nil, fmt.Errorf("%w: %d bytes", ErrCommitment, len(commitment))
		}
		return commitment, nil
	case ModeOptimism:
		if len(commitment) < 4 || commitment[0] != opGenericCommitment || commitment[1] != eigenDALayer {
			return nil, fmt.Errorf("%w: want 0x0100 ‖ versioned certificate, got %d bytes starting %x", ErrCommitment, len(commitment), commitment[:min(len(commitment), 2)])
		}
		return commitment[2:], nil
	}
	return nil, fmt.Errorf("eigenda: unknown commitment mode %q", mode)
}

// Commitment lays a versioned certificate out for mode.
func Commitment(mode Mode, cert []byte) []byte {
	if mode == ModeOptimism {
		return append([]byte{opGenericCommitment, eigenDALayer}, cert...)
	}
	return cert
}

// HTTPConfig configures the eigenda-proxy client.
type HTTPConfig struct {
	URL     string        // e.g. http://127.0.0.1:3100
	Mode    Mode          // default ModeStandard
	Timeout time.Duration // per request; a real disperser can take minutes to confirm
	Retries int           // further attempts after a network error or a 5xx other than 503
	Backoff time.Duration // first wait between attempts, doubled each time (at most 30 s)
	// Sleep waits between attempts; tests inject it. Default: a timer
	// that ctx cancels.
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultHTTPConfig is the client's default configuration for url.
func DefaultHTTPConfig(url string) HTTPConfig {
	return HTTPConfig{URL: url, Mode: ModeStandard, Timeout: 5 * time.Minute, Retries: 3, Backoff: 500 * time.Millisecond}
}

// HTTPClient speaks the eigenda-proxy REST API.
type HTTPClient struct {
	cfg  HTTPConfig
	http *http.Client
}

// NewHTTPClient builds a client of the proxy at cfg.URL.
func NewHTTPClient(cfg HTTPConfig) (*HTTPClient, error) {
	if cfg.Mode == "" {
		cfg.Mode = ModeStandard
	}
	if cfg.Mode != ModeStandard && cfg.Mode != ModeOptimism {
		return nil, fmt.Errorf("eigenda: unknown commitment mode %q (standard or optimism_generic)", cfg.Mode)
	}
	if !strings.HasPrefix(cfg.URL, "http://") && !strings.HasPrefix(cfg.URL, "https://") {
		return nil, fmt.Errorf("eigenda: proxy URL %q is not http(s)", cfg.URL)
	}
	cfg.URL = strings.TrimSuffix(cfg.URL, "/")
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	return &HTTPClient{cfg: cfg, http: &http.Client{Timeout: cfg.Timeout}}, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Mode returns the client's commitment mode.
func (c *HTTPClient) Mode() Mode { return c.cfg.Mode }

func (c *HTTPClient) query() string {
	if c.cfg.Mode == ModeStandard {
		return "?commitment_mode=standard"
	}
	return ""
}

// Put posts payload to /put and returns the commitment.
func (c *HTTPClient) Put(ctx context.Context, payload []byte) ([]byte, error) {
	if len(payload) > MaxBlobSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(payload))
	}
	if len(payload) == 0 {
		return nil, errors.New("eigenda: empty payload")
	}
	commitment, err := c.do(ctx, http.MethodPost, c.cfg.URL+"/put"+c.query(), payload)
	if err != nil {
		return nil, fmt.Errorf("put %d bytes: %w", len(payload), err)
	}
	if _, err := Certificate(c.cfg.Mode, commitment); err != nil {
		return nil, fmt.Errorf("put: the proxy answered %w", err)
	}
	return commitment, nil
}

// Get fetches the payload of commitment from /get/0x<commitment>.
func (c *HTTPClient) Get(ctx context.Context, commitment []byte) ([]byte, error) {
	if _, err := Certificate(c.cfg.Mode, commitment); err != nil {
		return nil, err
	}
	payload, err := c.do(ctx, http.MethodGet, c.cfg.URL+"/get/"+hexutil.Encode(commitment)+c.query(), nil)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", short(commitment), err)
	}
	return payload, nil
}

// Health asks the proxy's /health.
func (c *HTTPClient) Health(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodGet, c.cfg.URL+"/health", nil)
	return err
}

func short(b []byte) string {
	if len(b) > 12 {
		return hexutil.Encode(b[:12]) + "…"
	}
	return hexutil.Encode(b)
}

// do sends one request, retrying network errors and 5xx answers other than
// 503 with exponential backoff.
func (c *HTTPClient) do(ctx context.Context, method, url string, body []byte) ([]byte, error) {
	wait := c.cfg.Backoff
	for attempt := 0; ; attempt++ {
		out, retry, err := c.once(ctx, method, url, body)
		if err == nil || !retry || attempt >= c.cfg.Retries || ctx.Err() != nil {
			return out, err
		}
		if err := c.cfg.Sleep(ctx, wait); err != nil {
			return nil, err
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// maxResponse bounds what the client reads: a payload, or an error text.
const maxResponse = MaxBlobSize + 1<<20

func (c *HTTPClient) once(ctx context.Context, method, url string, body []byte) ([]byte, bool, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, false, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, true, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, true, fmt.Errorf("read answer: %w", err)
	}
	if len(data) > maxResponse {
		return nil, false, fmt.Errorf("answer above %d bytes", maxResponse)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return data, false, nil
	case resp.StatusCode == http.StatusServiceUnavailable:
		return nil, false, fmt.Errorf("%w: %s", ErrUnavailable, text(data))
	case resp.StatusCode == http.StatusNotFound:
		return nil, false, fmt.Errorf("%w: %s", ErrNotFound, text(data))
	case resp.StatusCode == http.StatusRequestEntityTooLarge:
		return nil, false, fmt.Errorf("%w: %s", ErrTooLarge, text(data))
	case resp.StatusCode >= 500:
		return nil, true, fmt.Errorf("eigenda: HTTP %d: %s", resp.StatusCode, text(data))
	}
	return nil, false, fmt.Errorf("eigenda: HTTP %d: %s", resp.StatusCode, text(data))
}

func text(b []byte) string {
	s := strings.TrimSpace(string(b[:min(len(b), 512)]))
	if s == "" {
		return "(no body)"
	}
	return s
}
