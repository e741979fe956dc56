package main

import (
	"context"
	"log/slog"

	"github.com/rs/zerolog"

	gethlog "github.com/ethereum/go-ethereum/log"
)

// gethLogs sends go-ethereum's own log records at warn and above — a method
// that crashed in its RPC server, a failed state commit — to the node's log
// as component "geth". go-ethereum discards its logs unless told otherwise;
// its info and debug records (every call served, every trie flush) stay
// discarded.
func gethLogs(log zerolog.Logger) {
	gethlog.SetDefault(gethlog.NewLogger(&gethHandler{log: log.With().Str("component", "geth").Logger()}))
}

// gethHandler is a slog.Handler over zerolog.
type gethHandler struct {
	log   zerolog.Logger
	attrs []slog.Attr
}

func (h *gethHandler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= slog.LevelWarn && h.log.GetLevel() <= zerologLevel(level)
}

func (h *gethHandler) Handle(_ context.Context, r slog.Record) error {
	ev := h.log.WithLevel(zerologLevel(r.Level))
	for _, a := range h.attrs {
		ev = ev.Any(a.Key, a.Value.Any())
	}
	r.Attrs(func(a slog.Attr) bool {
		ev = ev.Any(a.Key, a.Value.Any())
		return true
	})
	ev.Msg(r.Message)
	return nil
}

func (h *gethHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &gethHandler{log: h.log, attrs: append(append([]slog.Attr{}, h.attrs...), attrs...)}
}

// WithGroup is not used by go-ethereum's logger; groups are flattened.
func (h *gethHandler) WithGroup(string) slog.Handler { return h }

func zerologLevel(l slog.Level) zerolog.Level {
	switch {
	case l >= gethlog.LevelCrit:
		return zerolog.FatalLevel // WithLevel logs it without exiting (go-ethereum's Crit exits itself)
	case l >= slog.LevelError:
		return zerolog.ErrorLevel
	case l >= slog.LevelWarn:
		return zerolog.WarnLevel
	case l >= slog.LevelInfo:
		return zerolog.InfoLevel
	}
	return zerolog.DebugLevel
}
