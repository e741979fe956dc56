package main

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/meganode/meganode/storage"
)

// parseStateFlags runs args through stateFlags and applyStateFlags.
func parseStateFlags(t *testing.T, args ...string) (storage.Config, error) {
	t.Helper()
	var cfg storage.Config
	var applyErr error
	app := &cli.App{Flags: stateFlags(), Action: func(c *cli.Context) error {
		applyErr = applyStateFlags(c, &cfg)
		return nil
	}}
	if err := app.Run(append([]string{"meganode"}, args...)); err != nil {
		return cfg, err
	}
	return cfg, applyErr
}

func TestStateFlags(t *testing.T) {
	cfg, err := parseStateFlags(t)
	if err != nil || cfg.Scheme != "" || cfg.History != storage.DefaultHistory || cfg.Archive || cfg.ProofHistory != 0 {
		t.Fatalf("defaults: %+v, %v", cfg, err)
	}
	cfg, err = parseStateFlags(t, "--history.state", "0", "--history.trienode", "0", "--state.scheme", "hash")
	if err != nil || !cfg.Archive || cfg.ProofHistory != storage.EntireChain || cfg.Scheme != storage.HashScheme {
		t.Fatalf("--history.state 0 --history.trienode 0 --state.scheme hash: %+v, %v", cfg, err)
	}
	if cfg, err = parseStateFlags(t, "--state.history", "32", "--history.trienode", "16", "--archive"); err != nil || cfg.History != 32 || cfg.ProofHistory != 16 || !cfg.Archive {
		t.Fatalf("--state.history 32 --history.trienode 16 --archive: %+v, %v", cfg, err)
	}
	for _, bad := range [][]string{{"--state.scheme", "flat"}, {"--state.history", "-1"}, {"--state.history", "many"}, {"--history.trienode", "x"}} {
		if _, err := parseStateFlags(t, bad...); err == nil {
			t.Errorf("%s accepted", strings.Join(bad, " "))
		}
	}
	if _, err := parseStateFlags(t, "--state.scheme", "flat"); err == nil || !strings.Contains(err.Error(), "want path or hash") {
		t.Errorf("--state.scheme flat: %v, want a message naming the schemes", err)
	}
}
