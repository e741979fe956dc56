package main

import (
	"context"
	"fmt"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/urfave/cli/v2"

	"github.com/meganode/meganode/gateway"
)

// gatewayCommand is `meganode gateway`: the public endpoint in front of a
// sequencer, replicas and full nodes (docs/gateway.md).
func gatewayCommand() *cli.Command {
	d := gateway.DefaultConfig()
	return &cli.Command{
		Name:  "gateway",
		Usage: "public JSON-RPC/websocket endpoint: writes to the sequencer, reads and subscriptions to replicas, finality to full nodes",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "TOML file of gateway settings (docs/gateway.md); flags given on the command line override it", EnvVars: env("GATEWAY_CONFIG")},
			&cli.StringFlag{Name: "http.addr", Value: d.Addr, Usage: "listen address", EnvVars: env("HTTP_ADDR")},
			&cli.IntFlag{Name: "http.port", Value: d.Port, Usage: "listen port (HTTP and websocket)", EnvVars: env("HTTP_PORT")},
			&cli.StringSliceFlag{Name: "sequencer", Usage: "sequencer RPC URL; repeat for an HA set (writes go to the first healthy one that takes them)", EnvVars: env("GATEWAY_SEQUENCER")},
			&cli.StringSliceFlag{Name: "replica", Usage: "replica RPC URL (repeatable): reads and subscriptions", EnvVars: env("GATEWAY_REPLICA")},
			&cli.StringSliceFlag{Name: "fullnode", Usage: "full node RPC URL (repeatable): safe/finalized reads and finality queries", EnvVars: env("GATEWAY_FULLNODE")},
			&cli.DurationFlag{Name: "gateway.poll", Value: time.Duration(d.PollInterval), Usage: "health poll interval of every backend", EnvVars: env("GATEWAY_POLL")},
			&cli.Uint64Flag{Name: "gateway.max-lag-mini-blocks", Value: d.MaxLagMiniBlocks, Usage: "take a replica out when it is this many mini-blocks behind", EnvVars: env("GATEWAY_MAX_LAG_MINI_BLOCKS")},
			&cli.Uint64Flag{Name: "gateway.max-lag-blocks", Value: d.MaxLagBlocks, Usage: "take a backend out when it is this many sealed blocks behind", EnvVars: env("GATEWAY_MAX_LAG_BLOCKS")},
			&cli.DurationFlag{Name: "gateway.timeout", Value: time.Duration(d.Timeout), Usage: "backend request timeout", EnvVars: env("GATEWAY_TIMEOUT")},
			&cli.DurationFlag{Name: "gateway.wait-timeout", Value: time.Duration(d.WaitTimeout), Usage: "timeout of calls that wait for the chain (eth_sendRawTransactionSync, realtime_, eth_callAfter)", EnvVars: env("GATEWAY_WAIT_TIMEOUT")},
			&cli.IntFlag{Name: "gateway.body-limit", Value: d.BodyLimit, Usage: "request body limit, bytes", EnvVars: env("GATEWAY_BODY_LIMIT")},
			&cli.IntFlag{Name: "gateway.raw-tx-limit", Value: d.RawTxLimit, Usage: "body limit when every call is a raw transaction, bytes", EnvVars: env("GATEWAY_RAW_TX_LIMIT")},
			&cli.IntFlag{Name: "gateway.batch-limit", Value: d.BatchLimit, Usage: "calls per batch", EnvVars: env("GATEWAY_BATCH_LIMIT")},
			&cli.IntFlag{Name: "gateway.response-limit", Value: d.ResponseLimit, Usage: "bytes of one answer", EnvVars: env("GATEWAY_RESPONSE_LIMIT")},
			&cli.Float64Flag{Name: "gateway.rate-per-ip", Usage: "requests per second per client IP (0: no limit)", EnvVars: env("GATEWAY_RATE_PER_IP")},
			&cli.StringSliceFlag{Name: "gateway.method-rate", Usage: "per-client limit of one method, method=requests/s (repeatable)", EnvVars: env("GATEWAY_METHOD_RATE")},
			&cli.IntFlag{Name: "ws.max-conns-per-ip", Value: d.MaxConnsPerIP, Usage: "websocket connections per client IP", EnvVars: env("WS_MAX_CONNS_PER_IP")},
			&cli.IntFlag{Name: "ws.max-subs", Value: d.MaxSubsPerConn, Usage: "subscriptions per websocket connection", EnvVars: env("WS_MAX_SUBS")},
			&cli.IntFlag{Name: "ws.send-queue", Value: d.SendQueue, Usage: "messages queued per websocket client before it is closed as too slow", EnvVars: env("WS_SEND_QUEUE")},
			&cli.StringSliceFlag{Name: "gateway.allow", Value: cli.NewStringSlice(d.Allow...), Usage: "methods served: names or namespaces (eth_*)", EnvVars: env("GATEWAY_ALLOW")},
			&cli.StringSliceFlag{Name: "cors", Value: cli.NewStringSlice(d.CORSOrigins...), Usage: "allowed CORS origins", EnvVars: env("CORS")},
			&cli.StringSliceFlag{Name: "gateway.trusted-proxies", Usage: "IPs or CIDRs of proxies whose X-Forwarded-For is believed", EnvVars: env("GATEWAY_TRUSTED_PROXIES")},
			logFormatFlag, logLevelFlag,
		},
		Action: runGateway,
	}
}

// gatewayConfig reads the config file, then the flags the user set (or
// every flag when there is no file).
func gatewayConfig(c *cli.Context) (gateway.Config, error) {
	cfg := gateway.DefaultConfig()
	file := c.String("config")
	if file != "" {
		if err := gateway.LoadFile(file, &cfg); err != nil {
			return cfg, err
		}
	}
	set := func(name string) bool { return file == "" || c.IsSet(name) }
	if set("http.addr") {
		cfg.Addr = c.String("http.addr")
	}
	if set("http.port") {
		cfg.Port = c.Int("http.port")
	}
	lists := []struct {
		flag string
		dst  *[]string
	}{{"sequencer", &cfg.Sequencers}, {"replica", &cfg.Replicas}, {"fullnode", &cfg.FullNodes},
		{"gateway.allow", &cfg.Allow}, {"cors", &cfg.CORSOrigins}, {"gateway.trusted-proxies", &cfg.TrustedProxies}}
	for _, l := range lists {
		if c.IsSet(l.flag) || (file == "" && len(c.StringSlice(l.flag)) > 0) {
			*l.dst = splitList(c.StringSlice(l.flag))
		}
	}
	durations := map[string]*gateway.Duration{"gateway.poll": &cfg.PollInterval, "gateway.timeout": &cfg.Timeout, "gateway.wait-timeout": &cfg.WaitTimeout}
	for name, dst := range durations {
		if set(name) {
			*dst = gateway.Duration(c.Duration(name))
		}
	}
	ints := map[string]*int{"gateway.body-limit": &cfg.BodyLimit, "gateway.raw-tx-limit": &cfg.RawTxLimit, "gateway.batch-limit": &cfg.BatchLimit,
		"gateway.response-limit": &cfg.ResponseLimit, "ws.max-conns-per-ip": &cfg.MaxConnsPerIP, "ws.max-subs": &cfg.MaxSubsPerConn, "ws.send-queue": &cfg.SendQueue}
	for name, dst := range ints {
		if set(name) {
			*dst = c.Int(name)
		}
	}
	if set("gateway.max-lag-mini-blocks") {
		cfg.MaxLagMiniBlocks = c.Uint64("gateway.max-lag-mini-blocks")
	}
	if set("gateway.max-lag-blocks") {
		cfg.MaxLagBlocks = c.Uint64("gateway.max-lag-blocks")
	}
	if set("gateway.rate-per-ip") {
		cfg.RatePerIP = c.Float64("gateway.rate-per-ip")
	}
	for _, kv := range splitList(c.StringSlice("gateway.method-rate")) {
		method, r, ok := strings.Cut(kv, "=")
		var rate float64
		if _, err := fmt.Sscan(r, &rate); !ok || err != nil {
			return cfg, fmt.Errorf("--gateway.method-rate %q: want method=requests/s", kv)
		}
		if cfg.MethodRates == nil {
			cfg.MethodRates = map[string]float64{}
		}
		cfg.MethodRates[method] = rate
	}
	return cfg, cfg.Check()
}

// splitList accepts repeated flags and comma-separated values alike.
func splitList(in []string) []string {
	var out []string
	for _, v := range in {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func runGateway(c *cli.Context) error {
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	cfg, err := gatewayConfig(c)
	if err != nil {
		return err
	}
	gw, err := gateway.New(cfg, log)
	if err != nil {
		return err
	}
	// The process's own metrics, as the roles export them.
	gw.Registry().MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := gw.Start(ctx); err != nil {
		return err
	}
	fmt.Printf("\nmeganode gateway\n\nSequencer:  %s\nReplicas:   %s\nFull nodes: %s\n\nListening on %s\n\n",
		strings.Join(cfg.Sequencers, ", "), strings.Join(cfg.Replicas, ", "), strings.Join(cfg.FullNodes, ", "), gw.Addr())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return gw.Stop(sctx)
}
