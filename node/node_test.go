package node

import (
	"context"
	"net/http"
	"testing"

	"github.com/rs/zerolog"
)

func TestDevnetLifecycle(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RPC.Port = 0
	d, err := NewDevnet(cfg, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + d.RPCAddr() + "/ready")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/ready = %d, want 200", resp.StatusCode)
	}
	if err := d.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(context.Background()); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if d.Sequencer().Healthy() == nil {
		t.Fatal("a stopped sequencer reports healthy")
	}
}

func TestConfigRejectsBadValues(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Sequencer.BlockTime = 0
	if _, err := NewDevnet(cfg, zerolog.Nop()); err == nil {
		t.Fatal("block time 0 accepted")
	}
	cfg = DefaultConfig()
	cfg.RPC.Port = 70000
	if _, err := NewDevnet(cfg, zerolog.Nop()); err == nil {
		t.Fatal("port 70000 accepted")
	}
}
