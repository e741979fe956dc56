package main

import (
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/meganode/meganode/l1"
	"github.com/meganode/meganode/node"
)

// parseL1Flags runs args through flags and apply, as a role's command does.
func parseL1Flags(t *testing.T, flags []cli.Flag, apply func(*cli.Context, *node.L1Config) error, args ...string) (node.L1Config, error) {
	t.Helper()
	var cfg node.L1Config
	var applyErr error
	app := &cli.App{Flags: flags, Action: func(c *cli.Context) error {
		if applyErr = apply(c, &cfg); applyErr == nil {
			applyErr = cfg.Check()
		}
		return nil
	}}
	if err := app.Run(append([]string{"meganode"}, args...)); err != nil {
		return cfg, err
	}
	return cfg, applyErr
}

// TestDepositCheckFlags: replicas, full nodes and provers take --l1.portal
// and --l1.sequencing-window (default an hour), and refuse a portal
// without an L1 or a negative window with a message naming the flags.
func TestDepositCheckFlags(t *testing.T) {
	const portal = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
	roles := map[string]struct {
		flags []cli.Flag
		apply func(*cli.Context, *node.L1Config) error
	}{
		"replica":  {followerL1Flags(false), applyFollowerL1Flags},
		"fullnode": {followerL1Flags(true), applyFollowerL1Flags},
		"prover":   {challengerFlags(), applyChallengerFlags},
	}
	for name, r := range roles {
		cfg, err := parseL1Flags(t, r.flags, r.apply, "--l1.url", "http://127.0.0.1:8545", "--l1.portal", portal)
		if err != nil || cfg.Portal.Hex() != portal || cfg.SequencingWindow != l1.DefaultSequencingWindow {
			t.Errorf("%s: %+v, %v; want the portal and a window of %v", name, cfg, err, l1.DefaultSequencingWindow)
		}
		if cfg, err = parseL1Flags(t, r.flags, r.apply, "--l1.url", "http://127.0.0.1:8545", "--l1.portal", portal, "--l1.sequencing-window", "3s"); err != nil || cfg.SequencingWindow != 3*time.Second {
			t.Errorf("%s --l1.sequencing-window 3s: %v, %v", name, cfg.SequencingWindow, err)
		}
		if _, err := parseL1Flags(t, r.flags, r.apply, "--l1.portal", portal); err == nil || !strings.Contains(err.Error(), "--l1.portal") || !strings.Contains(err.Error(), "--l1.url") {
			t.Errorf("%s: a portal without an L1: %v, want an error naming both flags", name, err)
		}
		if _, err := parseL1Flags(t, r.flags, r.apply, "--l1.url", "http://127.0.0.1:8545", "--l1.sequencing-window", "-1s"); err == nil || !strings.Contains(err.Error(), "sequencing window") {
			t.Errorf("%s: a negative window: %v, want an error naming it", name, err)
		}
		if _, err := parseL1Flags(t, r.flags, r.apply, "--l1.portal", "0x12"); err == nil || !strings.Contains(err.Error(), "not an address") {
			t.Errorf("%s: a bad portal: %v, want an error naming it", name, err)
		}
	}
}
