package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/meganode/meganode/rpc"
	"github.com/meganode/meganode/sequencer"
)

// haFlags make a sequencer one candidate of a raft-elected HA set.
func haFlags() []cli.Flag {
	d := sequencer.DefaultHAConfig()
	return []cli.Flag{
		&cli.StringFlag{Name: "ha.id", Usage: "this candidate's id in the sequencer HA set; unset: a lone sequencer", EnvVars: env("HA_ID")},
		syncModeFlag,
		&cli.StringFlag{Name: "ha.addr", Usage: "host:port of this candidate's raft transport (listened on and given to peers)", EnvVars: env("HA_ADDR")},
		&cli.StringSliceFlag{Name: "ha.peers", Usage: "initial voters as id=host:port, this candidate included, the same list on each; none: join a running set through ha_addMember", EnvVars: env("HA_PEERS")},
		&cli.StringFlag{Name: "ha.datadir", Usage: "raft log, stable store and snapshots; default <datadir>/raft", EnvVars: env("HA_DATADIR")},
		&cli.DurationFlag{Name: "ha.heartbeat-timeout", Value: d.HeartbeatTimeout, Usage: "a follower that has not heard from the leader this long starts an election", EnvVars: env("HA_HEARTBEAT_TIMEOUT")},
		&cli.DurationFlag{Name: "ha.lease-timeout", Value: d.LeaseTimeout, Usage: "a leader that has not reached a quorum this long steps down (at most the heartbeat timeout)", EnvVars: env("HA_LEASE_TIMEOUT")},
		&cli.DurationFlag{Name: "ha.stall-timeout", Value: d.StallTimeout, Usage: "a leader whose head has not advanced (or that has fewer than --ha.min-peers peers) this long hands leadership over", EnvVars: env("HA_STALL_TIMEOUT")},
		&cli.IntFlag{Name: "ha.min-peers", Usage: "p2p peers the leader needs to stay leader; 0: not checked", EnvVars: env("HA_MIN_PEERS")},
		&cli.BoolFlag{Name: "ha.fault-injection", Usage: "serve ha_partition, which cuts this candidate's raft traffic (tests only)", EnvVars: env("HA_FAULT_INJECTION")},
	}
}

// haConfig reads the HA flags; nil when --ha.id is unset.
func haConfig(c *cli.Context, datadir string) (*sequencer.HAConfig, error) {
	if c.String("ha.id") == "" {
		for _, f := range []string{"ha.addr", "ha.peers", "ha.datadir"} {
			if c.IsSet(f) {
				return nil, fmt.Errorf("--%s needs --ha.id", f)
			}
		}
		return nil, nil
	}
	cfg := sequencer.DefaultHAConfig()
	cfg.ID, cfg.Addr, cfg.Dir = c.String("ha.id"), c.String("ha.addr"), c.String("ha.datadir")
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(datadir, "raft")
	}
	cfg.HeartbeatTimeout, cfg.LeaseTimeout, cfg.StallTimeout = c.Duration("ha.heartbeat-timeout"), c.Duration("ha.lease-timeout"), c.Duration("ha.stall-timeout")
	cfg.ElectionTimeout = cfg.HeartbeatTimeout
	cfg.MinPeers, cfg.FaultInjection = c.Int("ha.min-peers"), c.Bool("ha.fault-injection")
	for _, v := range c.StringSlice("ha.peers") {
		for _, p := range strings.Split(v, ",") {
			id, addr, ok := strings.Cut(strings.TrimSpace(p), "=")
			if !ok || id == "" || addr == "" {
				return nil, fmt.Errorf("--ha.peers: %q is not id=host:port", p)
			}
			cfg.Peers = append(cfg.Peers, sequencer.HAServer{ID: id, Addr: addr})
		}
	}
	return &cfg, cfg.Check()
}

// adminFlags configure an HA candidate's admin listener, in the style of
// geth's --authrpc.* flags.
func adminFlags() []cli.Flag {
	d := rpc.DefaultAdminConfig()
	return []cli.Flag{
		&cli.StringFlag{Name: "admin.addr", Value: d.Addr, Usage: "admin listener address (ha_ membership, leadership and fault-injection methods, JWT auth); HA candidates only", EnvVars: env("ADMIN_ADDR")},
		&cli.IntFlag{Name: "admin.port", Value: d.Port, Usage: "admin listener port", EnvVars: env("ADMIN_PORT")},
		&cli.StringFlag{Name: "admin.jwtsecret", Usage: "file of the hex 32-byte HS256 secret admin callers sign their JWTs with; default <datadir>/admin.jwtsecret, generated (mode 0600) when missing", EnvVars: env("ADMIN_JWTSECRET")},
	}
}

// adminConfig reads the admin flags of a sequencer; they need --ha.id, the
// only admin methods being the HA ones.
func adminConfig(c *cli.Context, datadir string, ha bool) (rpc.AdminConfig, error) {
	cfg := rpc.DefaultAdminConfig()
	if !ha {
		for _, f := range []string{"admin.addr", "admin.port", "admin.jwtsecret"} {
			if c.IsSet(f) {
				return cfg, fmt.Errorf("--%s needs --ha.id: the admin listener serves the ha_ admin methods", f)
			}
		}
		return cfg, nil
	}
	cfg.Addr, cfg.Port, cfg.JWTSecret = c.String("admin.addr"), c.Int("admin.port"), keyPath(c, "admin.jwtsecret", datadir)
	return cfg, cfg.Check()
}
