package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
)

// pprofFlag serves Go's profiler, as geth's --pprof does, on its own address
// so it is never exposed with the RPC.
var pprofFlag = &cli.StringFlag{Name: "pprof.addr", Usage: "serve the Go profiler (/debug/pprof/) on this address, e.g. 127.0.0.1:6060; empty: off", EnvVars: env("PPROF_ADDR")}

// startPprof listens on --pprof.addr when it is set.
func startPprof(c *cli.Context, log zerolog.Logger) error {
	addr := c.String("pprof.addr")
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof.addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("pprof server stopped")
		}
	}()
	log.Info().Str("addr", ln.Addr().String()).Msg("profiler listening (/debug/pprof/)")
	return nil
}

// sequencerRuntime tunes Go's runtime in processes that sequence, unless
// the environment sets the knob:
//   - GOGC=400: the garbage collector runs a quarter as often as by default.
//     The production loop allocates per transaction, and each collection
//     takes CPU the 10 ms mini-blocks need. The heap may grow to five times
//     the live data.
//   - GOMAXPROCS two above the CPUs Go would use: with only one Go processor
//     per CPU, RPC goroutines decoding a burst hold them all and the loop,
//     woken for the next mini-block, waits for one (a goroutine runs up to
//     10 ms before Go preempts it); with spare processors it runs at once and
//     the kernel shares the CPUs, where sender recovery yields to it (nice +5).
//     Only with moreProcs: an automined test devnet answers one call at a
//     time, and spare processors there only add thread hand-offs to each
//     call (bench/dev.sh: the Hardhat suite 1.6× anvil's time with them,
//     1.2× without).
func sequencerRuntime(log zerolog.Logger, moreProcs bool) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
		log.Debug().Int("gogc", 400).Msg("garbage collector tuned for sequencing (set GOGC to override)")
	}
	if os.Getenv("GOMAXPROCS") == "" && moreProcs {
		n := runtime.GOMAXPROCS(0) + 2
		runtime.GOMAXPROCS(n)
		log.Debug().Int("gomaxprocs", n).Msg("Go processors raised for sequencing (set GOMAXPROCS to override)")
	}
}
