package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// SnapshotResult is the snapshot/revert benchmark: each round changes
// Accounts accounts, mines a block and times evm_revert to the snapshot
// plus the evm_snapshot that follows (loadFixture's restore).
type SnapshotResult struct {
	Accounts  int
	Rounds    int
	RoundTrip Percentiles
	Revert    Percentiles
}

// SnapshotRevert runs the benchmark against any node with anvil's methods.
func SnapshotRevert(ctx context.Context, url string, accounts, rounds int) (*SnapshotResult, error) {
	c, err := gethrpc.DialContext(ctx, url)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var id string
	if err := c.CallContext(ctx, &id, "evm_snapshot"); err != nil {
		return nil, fmt.Errorf("evm_snapshot: %w", err)
	}
	res := &SnapshotResult{Accounts: accounts, Rounds: rounds}
	var trips, reverts []time.Duration
	for r := 0; r < rounds; r++ {
		// Batches of 500 calls (meganode's default batch limit).
		var batch []gethrpc.BatchElem
		for i := 0; i <= accounts; i++ {
			el := gethrpc.BatchElem{Method: "evm_mine", Result: new(json.RawMessage)}
			if i < accounts {
				addr := common.BigToAddress(big.NewInt(int64(0x10000 + i)))
				el = gethrpc.BatchElem{Method: "anvil_setBalance", Args: []interface{}{addr, hexutil.EncodeUint64(uint64(1 + r))}, Result: new(json.RawMessage)}
			}
			batch = append(batch, el)
			if len(batch) == 500 || i == accounts {
				if err := c.BatchCallContext(ctx, batch); err != nil {
					return nil, err
				}
				for _, b := range batch {
					if b.Error != nil {
						return nil, fmt.Errorf("%s: %w", b.Method, b.Error)
					}
				}
				batch = batch[:0]
			}
		}
		start := time.Now()
		var ok bool
		if err := c.CallContext(ctx, &ok, "evm_revert", id); err != nil || !ok {
			return nil, fmt.Errorf("evm_revert %s: %v %v", id, ok, err)
		}
		reverted := time.Since(start)
		if err := c.CallContext(ctx, &id, "evm_snapshot"); err != nil {
			return nil, fmt.Errorf("evm_snapshot: %w", err)
		}
		trips, reverts = append(trips, time.Since(start)), append(reverts, reverted)
	}
	res.RoundTrip, res.Revert = percentiles(trips), percentiles(reverts)
	return res, nil
}

// devCommand is `meganode bench dev`.
func devCommand() *cli.Command {
	return &cli.Command{
		Name:  "dev",
		Usage: "time evm_snapshot + evm_revert with many accounts changed since the snapshot (any node with anvil's methods)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "rpc", Value: "http://127.0.0.1:8545", Usage: "JSON-RPC URL"},
			&cli.IntFlag{Name: "accounts", Value: 1000, Usage: "accounts changed (anvil_setBalance) and mined before each revert"},
			&cli.IntFlag{Name: "rounds", Value: 30, Usage: "snapshot/revert rounds"},
			&cli.StringFlag{Name: "json", Usage: "also write the result as JSON to this file"},
		},
		Action: func(c *cli.Context) error {
			if c.Int("accounts") < 1 || c.Int("rounds") < 1 {
				return fmt.Errorf("accounts and rounds must be positive")
			}
			res, err := SnapshotRevert(context.Background(), c.String("rpc"), c.Int("accounts"), c.Int("rounds"))
			if err != nil {
				return err
			}
			return printResult(res, c.String("json"))
		},
	}
}
