package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	gethlog "github.com/ethereum/go-ethereum/log"
)

// TestGethLogsReachTheNodeLog: go-ethereum's warnings and errors (its RPC
// server's "RPC method … crashed") appear in the node's log with their
// attributes; its info records do not.
func TestGethLogsReachTheNodeLog(t *testing.T) {
	var buf bytes.Buffer
	gethLogs(zerolog.New(&buf).Level(zerolog.InfoLevel))
	t.Cleanup(func() { gethlog.SetDefault(gethlog.NewLogger(gethlog.DiscardHandler())) })

	gethlog.Error("RPC method eth_x crashed: boom", "stack", "main.go:1")
	gethlog.New("db", "state").Warn("commit slow", "ms", 12)
	gethlog.Info("Served eth_blockNumber")
	out := buf.String()
	for _, want := range []string{`"level":"error"`, `"component":"geth"`, `RPC method eth_x crashed: boom`, `"stack":"main.go:1"`, `"level":"warn"`, `"db":"state"`, `"ms":12`} {
		if !strings.Contains(out, want) {
			t.Errorf("node log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Served") {
		t.Errorf("an info record of go-ethereum was logged:\n%s", out)
	}
}

// TestGethLogsFollowTheNodeLevel: --log.level error keeps go-ethereum's
// warnings out too.
func TestGethLogsFollowTheNodeLevel(t *testing.T) {
	var buf bytes.Buffer
	gethLogs(zerolog.New(&buf).Level(zerolog.ErrorLevel))
	t.Cleanup(func() { gethlog.SetDefault(gethlog.NewLogger(gethlog.DiscardHandler())) })
	gethlog.Warn("a warning")
	gethlog.Error("an error")
	if out := buf.String(); strings.Contains(out, "a warning") || !strings.Contains(out, "an error") {
		t.Fatalf("at error level: %s", out)
	}
}
