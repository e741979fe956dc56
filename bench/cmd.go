package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/meganode/meganode/chain"
)

// Command is `meganode bench`.
func Command() *cli.Command {
	return &cli.Command{
		Name:        "bench",
		Usage:       "load-test any Ethereum JSON-RPC endpoint with ETH transfers",
		Subcommands: []*cli.Command{realtimeCommand(), devCommand(), readsCommand(), logsCommand(), attackCommand()},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "rpc", Value: "http://127.0.0.1:8545", Usage: "JSON-RPC URL"},
			&cli.StringFlag{Name: "key", Usage: "funder private key (hex); default: dev account 0 of the test mnemonic"},
			&cli.IntFlag{Name: "senders", Value: 200, Usage: "sending accounts"},
			&cli.IntFlag{Name: "txs", Value: 20000, Usage: "transfers in the throughput run"},
			&cli.BoolFlag{Name: "erc20", Usage: "ERC-20 token transfers (a minimal token the funder deploys) instead of ETH transfers"},
			&cli.IntFlag{Name: "conns", Value: 4, Usage: "concurrent connections"},
			&cli.IntFlag{Name: "batch", Value: 100, Usage: "calls per JSON-RPC batch"},
			&cli.IntFlag{Name: "latency", Value: 200, Usage: "sequential sends timed for latency"},
			&cli.DurationFlag{Name: "timeout", Value: 10 * time.Minute, Usage: "give up the whole run after"},
			&cli.DurationFlag{Name: "inclusion-timeout", Value: time.Minute, Usage: "after submitting, wait this long for inclusion, then count what was included"},
			&cli.Uint64Flag{Name: "seed", Value: uint64(time.Now().UnixNano()), Usage: "sender key seed"},
			&cli.Float64Flag{Name: "rate", Usage: "target submission rate in tx/s (0: as fast as the node takes them)"},
			&cli.StringFlag{Name: "ws", Usage: "websocket URL whose miniBlocks subscription times mini-block intervals during the load (\"auto\": the rpc URL with ws://)"},
			&cli.IntFlag{Name: "recipients", Usage: "pay ETH transfers to the first N --state-accounts of a devnet instead of one sink"},
			&cli.BoolFlag{Name: "sync-probe", Usage: "time eth_sendRawTransactionSync sends from one more sender during the load"},
			&cli.StringFlag{Name: "json", Usage: "also write the result as JSON to this file"},
		},
		Action: func(c *cli.Context) error {
			o := Options{URL: c.String("rpc"), Senders: c.Int("senders"), Txs: c.Int("txs"), Conns: c.Int("conns"),
				Batch: c.Int("batch"), Latency: c.Int("latency"), Timeout: c.Duration("timeout"), Inclusion: c.Duration("inclusion-timeout"), Seed: c.Uint64("seed"), ERC20: c.Bool("erc20"),
				Rate: c.Float64("rate"), WS: c.String("ws"), SyncProbe: c.Bool("sync-probe"), Recipients: c.Int("recipients")}
			if o.WS == "auto" {
				o.WS = "ws" + strings.TrimPrefix(o.URL, "http")
			}
			if o.Rate < 0 || o.Recipients < 0 {
				return fmt.Errorf("rate and recipients must not be negative")
			}
			if o.Senders < 1 || o.Conns < 1 || o.Batch < 1 {
				return fmt.Errorf("senders, conns and batch must be positive")
			}
			if k := c.String("key"); k != "" {
				key, err := crypto.HexToECDSA(trim0x(k))
				if err != nil {
					return fmt.Errorf("key: %w", err)
				}
				o.FunderKey = key
			} else {
				accts, err := chain.DeriveAccounts(chain.DefaultMnemonic, 1)
				if err != nil {
					return err
				}
				o.FunderKey = accts[0].Key
			}
			res, err := Run(context.Background(), o, os.Stderr)
			if err != nil {
				return err
			}
			return printResult(res, c.String("json"))
		},
	}
}

// realtimeCommand is `meganode bench realtime`: synchronous-send latency,
// websocket subscribers and mini-block jitter under load.
func realtimeCommand() *cli.Command {
	return &cli.Command{
		Name:  "realtime",
		Usage: "measure eth_sendRawTransactionSync latency, miniBlocks subscribers and mini-block jitter",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "rpc", Value: "http://127.0.0.1:8545", Usage: "JSON-RPC URL"},
			&cli.StringFlag{Name: "ws", Usage: "websocket URL (default: the rpc URL with ws://)"},
			&cli.StringFlag{Name: "key", Usage: "sender private key (hex); default: dev account 1 of the test mnemonic"},
			&cli.IntFlag{Name: "sync", Value: 0, Usage: "sequential eth_sendRawTransactionSync transfers to time (0: skip)"},
			&cli.IntFlag{Name: "subscribers", Value: 0, Usage: "websocket miniBlocks subscribers to hold open (0: skip)"},
			&cli.DurationFlag{Name: "duration", Value: 10 * time.Second, Usage: "how long the subscribers stream"},
			&cli.IntFlag{Name: "jitter-txs", Value: 0, Usage: "transfers of load while mini-block spacing is recorded (0: skip)"},
			&cli.DurationFlag{Name: "target", Value: 10 * time.Millisecond, Usage: "mini-block interval the jitter is measured against"},
			&cli.StringFlag{Name: "json", Usage: "also write the result as JSON to this file"},
		},
		Action: func(c *cli.Context) error {
			ctx := context.Background()
			ws := c.String("ws")
			if ws == "" {
				ws = "ws" + strings.TrimPrefix(c.String("rpc"), "http")
			}
			accts, err := chain.DeriveAccounts(chain.DefaultMnemonic, 2)
			if err != nil {
				return err
			}
			key := accts[1].Key
			if k := c.String("key"); k != "" {
				if key, err = crypto.HexToECDSA(trim0x(k)); err != nil {
					return fmt.Errorf("key: %w", err)
				}
			}
			out := map[string]any{}
			if n := c.Int("sync"); n > 0 {
				p, err := SyncLatency(ctx, c.String("rpc"), key, n)
				if err != nil {
					return fmt.Errorf("sync latency: %w", err)
				}
				out["sync"] = p
			}
			if n := c.Int("subscribers"); n > 0 {
				r, err := Subscribers(ctx, ws, n, c.Duration("duration"), os.Stderr)
				if err != nil {
					return fmt.Errorf("subscribers: %w", err)
				}
				out["subscribers"] = r
			}
			if n := c.Int("jitter-txs"); n > 0 {
				o := Options{URL: c.String("rpc"), FunderKey: accts[0].Key, Senders: 200, Txs: n, Conns: 4, Batch: 100,
					Timeout: 5 * time.Minute, Inclusion: time.Minute, Seed: uint64(time.Now().UnixNano())}
				r, err := Jitter(ctx, o, ws, c.Duration("target"), os.Stderr)
				if err != nil {
					return fmt.Errorf("jitter: %w", err)
				}
				out["jitter"] = r
			}
			return printResult(out, c.String("json"))
		},
	}
}

// printResult prints a command's result as indented JSON and, when path is
// set, writes it there too.
func printResult(v any, path string) error {
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	if path != "" {
		return os.WriteFile(path, out, 0o644)
	}
	return nil
}

func trim0x(s string) string {
	if len(s) > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		return s[2:]
	}
	return s
}
