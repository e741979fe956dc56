package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/meganode/meganode/chain"
)

// Command is `meganode bench`.
func Command() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "load-test any Ethereum JSON-RPC endpoint with ETH transfers",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "rpc", Value: "http://127.0.0.1:8545", Usage: "JSON-RPC URL"},
			&cli.StringFlag{Name: "key", Usage: "funder private key (hex); default: dev account 0 of the test mnemonic"},
			&cli.IntFlag{Name: "senders", Value: 200, Usage: "sending accounts"},
			&cli.IntFlag{Name: "txs", Value: 20000, Usage: "transfers in the throughput run"},
			&cli.IntFlag{Name: "conns", Value: 4, Usage: "concurrent connections"},
			&cli.IntFlag{Name: "batch", Value: 100, Usage: "calls per JSON-RPC batch"},
			&cli.IntFlag{Name: "latency", Value: 200, Usage: "sequential sends timed for latency"},
			&cli.DurationFlag{Name: "timeout", Value: 10 * time.Minute, Usage: "give up the whole run after"},
			&cli.DurationFlag{Name: "inclusion-timeout", Value: time.Minute, Usage: "after submitting, wait this long for inclusion, then count what was included"},
			&cli.Uint64Flag{Name: "seed", Value: uint64(time.Now().UnixNano()), Usage: "sender key seed"},
			&cli.StringFlag{Name: "json", Usage: "also write the result as JSON to this file"},
		},
		Action: func(c *cli.Context) error {
			o := Options{URL: c.String("rpc"), Senders: c.Int("senders"), Txs: c.Int("txs"), Conns: c.Int("conns"),
				Batch: c.Int("batch"), Latency: c.Int("latency"), Timeout: c.Duration("timeout"), Inclusion: c.Duration("inclusion-timeout"), Seed: c.Uint64("seed")}
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
			out, _ := json.MarshalIndent(res, "", "  ")
			fmt.Println(string(out))
			if f := c.String("json"); f != "" {
				return os.WriteFile(f, out, 0o644)
			}
			return nil
		},
	}
}

func trim0x(s string) string {
	if len(s) > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		return s[2:]
	}
	return s
}
