package main

import (
	"context"
	"fmt"
	"net"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/meganode/meganode/eigenda"
	"github.com/meganode/meganode/node"
	"github.com/meganode/meganode/storage"
)

// daFlags point a role at the DA layer; followers may also derive from it.
func daFlags(follower bool) []cli.Flag {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "da.url", Usage: "eigenda-proxy (or `meganode da`) URL; the sequencer posts every block there, a follower reads it with --sync-from-da", EnvVars: env("DA_URL")},
		&cli.StringFlag{Name: "da.mode", Value: string(eigenda.ModeStandard), Usage: "commitment mode: standard or optimism_generic (OP alt-DA)", EnvVars: env("DA_MODE")},
	}
	if follower {
		flags = append(flags,
			&cli.BoolFlag{Name: "sync-from-da", Usage: "derive the chain from DA blobs (listed by the index) instead of p2p gossip; needs --da.url", EnvVars: env("SYNC_FROM_DA")},
			&cli.StringFlag{Name: "da.index-url", Usage: "JSON-RPC URL serving mega_getDACommitments (default --sequencer.url)", EnvVars: env("DA_INDEX_URL")},
		)
	}
	return flags
}

// applyDAFlags fills cfg from the DA flags.
func applyDAFlags(c *cli.Context, cfg *node.DAConfig) error {
	cfg.URL, cfg.Mode = c.String("da.url"), eigenda.Mode(c.String("da.mode"))
	if cfg.Mode != eigenda.ModeStandard && cfg.Mode != eigenda.ModeOptimism {
		return fmt.Errorf("--da.mode %q: want standard or optimism_generic", cfg.Mode)
	}
	cfg.SyncFrom, cfg.IndexURL = c.Bool("sync-from-da"), c.String("da.index-url")
	if cfg.SyncFrom && cfg.URL == "" {
		return fmt.Errorf("--sync-from-da needs --da.url")
	}
	return nil
}

// daCommand serves the eigenda-proxy REST API from a pebble store: the DA
// layer of a devnet or a test network.
func daCommand() *cli.Command {
	return &cli.Command{
		Name:  "da",
		Usage: "run the embedded DA server: eigenda-proxy's REST API (memstore semantics) over pebble",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1", Usage: "listen address", EnvVars: env("DA_ADDR")},
			&cli.IntFlag{Name: "port", Value: 3100, Usage: "listen port (0: any free port)", EnvVars: env("DA_PORT")},
			&cli.StringFlag{Name: "datadir", Value: "meganode-da", Usage: "directory of the blob store; empty keeps blobs in memory", EnvVars: env("DATADIR")},
			&cli.DurationFlag{Name: "memstore.put-latency", Usage: "wait this long before answering a put", EnvVars: env("DA_PUT_LATENCY")},
			&cli.DurationFlag{Name: "memstore.get-latency", Usage: "wait this long before answering a get", EnvVars: env("DA_GET_LATENCY")},
			&cli.BoolFlag{Name: "memstore.put-returns-failover-error", Usage: "answer every put with 503 (disperser unavailable)", EnvVars: env("DA_PUT_RETURNS_FAILOVER_ERROR")},
			&cli.IntFlag{Name: "memstore.max-blob-size", Value: eigenda.MaxBlobSize, Usage: "largest blob taken, bytes", EnvVars: env("DA_MAX_BLOB_SIZE")},
			logFormatFlag, logLevelFlag,
		},
		Action: runDA,
	}
}

func runDA(c *cli.Context) error {
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	db, err := storage.OpenKV(c.String("datadir"), 0)
	if err != nil {
		return err
	}
	defer db.Close()
	cfg := eigenda.DefaultMemConfig()
	cfg.PutLatency = eigenda.Duration(c.Duration("memstore.put-latency"))
	cfg.GetLatency = eigenda.Duration(c.Duration("memstore.get-latency"))
	cfg.PutReturnsFailoverError = c.Bool("memstore.put-returns-failover-error")
	cfg.MaxBlobSizeBytes = c.Int("memstore.max-blob-size")
	srv := eigenda.NewServer(db, cfg, log)
	if err := srv.Listen(net.JoinHostPort(c.String("addr"), strconv.Itoa(c.Int("port")))); err != nil {
		return err
	}
	fmt.Printf("\nmeganode da: eigenda-proxy REST API (/put, /get/0x…, /health, /memstore/config), blobs in %q\n\nListening on %s\n\n", c.String("datadir"), srv.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Close(sctx)
}
