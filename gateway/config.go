// Package gateway is the public JSON-RPC and websocket front of a meganode
// network (DESIGN.md §2): it routes transaction submissions to the
// sequencer, finality queries to full nodes and every other read and
// subscription to the healthiest replica, and it holds the limits a public
// endpoint needs. It is a proxy: it never executes or stores anything.
package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/meganode/meganode/rpc/limits"
)

// Config configures a gateway. Field names are the keys of its TOML file.
type Config struct {
	Addr string `toml:"addr"` // listen address, default 127.0.0.1
	Port int    `toml:"port"` // listen port, default 8545; 0 picks a free one

	// Backends, by role. Sequencer URLs are tried in order for writes (a
	// set of HA candidates: the first healthy one that accepts).
	Sequencers []string `toml:"sequencers"`
	Replicas   []string `toml:"replicas"`
	FullNodes  []string `toml:"fullnodes"`

	PollInterval     Duration `toml:"poll_interval"`       // health poll of every backend, default 100ms
	MaxLagMiniBlocks uint64   `toml:"max_lag_mini_blocks"` // a replica further behind the sequencer is taken out, default 200 (2 s)
	MaxLagBlocks     uint64   `toml:"max_lag_blocks"`      // a backend further behind in sealed blocks is taken out, default 3

	Timeout     Duration `toml:"timeout"`      // per backend request, default 30s
	WaitTimeout Duration `toml:"wait_timeout"` // for methods that wait for the chain (…Sync, realtime_, eth_callAfter), default 70s

	BodyLimit     int `toml:"body_limit"`     // request body, default 128 KiB
	RawTxLimit    int `toml:"raw_tx_limit"`   // body of a request made only of raw transactions, default 2.5 MiB
	BatchLimit    int `toml:"batch_limit"`    // calls per batch, default 500
	ResponseLimit int `toml:"response_limit"` // bytes of one answer (a whole batch), default 25 MB

	// Rate limits per client IP, requests per second (burst the same); 0
	// switches a limit off. MethodRates holds per-method limits.
	RatePerIP   float64            `toml:"rate_per_ip"`
	MethodRates map[string]float64 `toml:"method_rates"`

	MaxConnsPerIP  int `toml:"max_conns_per_ip"`  // websocket connections per client IP, default 1024
	MaxSubsPerConn int `toml:"max_subs_per_conn"` // subscriptions per websocket connection, default 256
	SendQueue      int `toml:"send_queue"`        // messages queued per websocket client before it counts as too slow, default 8192

	// Allow lists the methods served: exact names or a namespace with a
	// star ("eth_*"). Default: eth_*, net_*, web3_*, mega_*, realtime_*,
	// optimism_*.
	Allow []string `toml:"allow"`

	CORSOrigins []string `toml:"cors_origins"` // default "*"
	// TrustedProxies lists the addresses or CIDRs of proxies in front of
	// the gateway whose X-Forwarded-For is believed; a client's IP (for
	// rate limits and read-your-writes) is then the last address in the
	// header that is not one of them.
	TrustedProxies []string `toml:"trusted_proxies"`
}

// Duration is a time.Duration written as "100ms" in TOML.
type Duration time.Duration

// UnmarshalText reads a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// DefaultAllow is the allow-list of a default gateway.
var DefaultAllow = []string{"eth_*", "net_*", "web3_*", "mega_*", "realtime_*", "optimism_*"}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Addr:             "127.0.0.1",
		Port:             8545,
		PollInterval:     Duration(100 * time.Millisecond),
		MaxLagMiniBlocks: 200,
		MaxLagBlocks:     3,
		Timeout:          Duration(30 * time.Second),
		WaitTimeout:      Duration(70 * time.Second),
		BodyLimit:        128 * 1024,
		RawTxLimit:       5 * 512 * 1024,
		BatchLimit:       500,
		ResponseLimit:    25_000_000,
		MaxConnsPerIP:    1024,
		MaxSubsPerConn:   256,
		SendQueue:        8192,
		Allow:            append([]string(nil), DefaultAllow...),
		CORSOrigins:      []string{"*"},
	}
}

// LoadFile reads a TOML file over cfg; keys it does not set keep cfg's
// values, and an unknown key is an error (a typo must not pass silently).
func LoadFile(path string, cfg *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	md, err := toml.Decode(string(data), cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if un := md.Undecoded(); len(un) > 0 {
		keys := make([]string, len(un))
		for i, k := range un {
			keys[i] = k.String()
		}
		return fmt.Errorf("%s: unknown keys %s", path, strings.Join(keys, ", "))
	}
	return nil
}

// Check validates the configuration.
func (c Config) Check() error {
	if len(c.Sequencers) == 0 {
		return errors.New("no sequencer: give at least one sequencer URL")
	}
	if len(c.Replicas) == 0 && len(c.FullNodes) == 0 {
		return errors.New("no read backend: give at least one replica or full node URL")
	}
	for _, group := range [][]string{c.Sequencers, c.Replicas, c.FullNodes} {
		for _, u := range group {
			p, err := url.Parse(u)
			if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
				return fmt.Errorf("backend %q: want an http:// or https:// URL", u)
			}
		}
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("port %d out of range", c.Port)
	}
	if c.PollInterval <= 0 || c.Timeout <= 0 || c.WaitTimeout < c.Timeout {
		return fmt.Errorf("poll interval %v, timeout %v, wait timeout %v: want positive, wait timeout ≥ timeout",
			time.Duration(c.PollInterval), time.Duration(c.Timeout), time.Duration(c.WaitTimeout))
	}
	if c.BodyLimit <= 0 || c.RawTxLimit < c.BodyLimit || c.BatchLimit <= 0 || c.ResponseLimit <= 0 {
		return fmt.Errorf("limits: body %d, raw tx body %d, batch %d, response %d", c.BodyLimit, c.RawTxLimit, c.BatchLimit, c.ResponseLimit)
	}
	if c.MaxConnsPerIP < 1 || c.MaxSubsPerConn < 1 || c.SendQueue < 16 {
		return fmt.Errorf("websocket limits: %d conns per IP, %d subs per conn, queue %d", c.MaxConnsPerIP, c.MaxSubsPerConn, c.SendQueue)
	}
	if c.RatePerIP < 0 {
		return fmt.Errorf("rate per IP %v: want ≥ 0", c.RatePerIP)
	}
	for m, r := range c.MethodRates {
		if r < 0 {
			return fmt.Errorf("rate of %s %v: want ≥ 0", m, r)
		}
	}
	if len(c.Allow) == 0 {
		return errors.New("empty method allow-list")
	}
	if _, err := parseNets(c.TrustedProxies); err != nil {
		return err
	}
	return nil
}

// parseNets reads addresses and CIDRs, as the node's own trusted proxies.
func parseNets(list []string) ([]*net.IPNet, error) {
	return limits.ParseProxies(list)
}
