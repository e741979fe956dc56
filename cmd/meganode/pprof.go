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
	"golang.org/x/sys/unix"
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
		// GOGC=400 lets the heap grow to five times what is live: with a
		// large state (a million accounts, gigabytes live) that outgrows
		// the machine. Near this soft limit the collector works harder
		// instead.
		if limit := memoryLimit(); limit > 0 && os.Getenv("GOMEMLIMIT") == "" {
			debug.SetMemoryLimit(limit)
			log.Debug().Int64("gomemlimit_mib", limit>>20).Msg("heap soft limit at 70% of the machine's memory (set GOMEMLIMIT to override)")
		}
	}
	if os.Getenv("GOMAXPROCS") == "" && moreProcs {
		n := runtime.GOMAXPROCS(0) + 2
		runtime.GOMAXPROCS(n)
		log.Debug().Int("gomaxprocs", n).Msg("Go processors raised for sequencing (set GOMAXPROCS to override)")
	}
}

// memoryLimit is 70% of the machine's memory, 0 when unknown.
func memoryLimit() int64 {
	var info unix.Sysinfo_t
	if err := unix.Sysinfo(&info); err != nil || info.Totalram == 0 {
		return 0
	}
	return int64(uint64(info.Totalram) * uint64(info.Unit) / 10 * 7)
}
