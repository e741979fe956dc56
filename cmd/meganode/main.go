// Command meganode runs meganode's roles. `meganode devnet` runs every role in
// one process for local development.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"

	"github.com/meganode/meganode/bench"
	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/node"
	"github.com/meganode/meganode/rpc"
	"github.com/meganode/meganode/storage"
)

func env(name string) []string { return []string{"MEGANODE_" + name} }

func main() {
	defaults := node.DefaultConfig()
	app := &cli.App{
		Name:    "meganode",
		Usage:   "a real-time Ethereum L2 node: sequencer, replicas, full nodes, provers",
		Version: rpc.Version,
		Commands: []*cli.Command{
			{
				Name:  "devnet",
				Usage: "run a local devnet (sequencer, storage and RPC in one process)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "http.addr", Value: defaults.RPC.Addr, Usage: "RPC listen address", EnvVars: env("HTTP_ADDR")},
					&cli.IntFlag{Name: "http.port", Value: defaults.RPC.Port, Usage: "RPC listen port (HTTP and websocket)", EnvVars: env("HTTP_PORT")},
					&cli.StringFlag{Name: "datadir", Usage: "data directory; empty keeps the chain in memory", EnvVars: env("DATADIR")},
					&cli.Uint64Flag{Name: "chain-id", Value: defaults.Chain.ChainID, Usage: "chain id", EnvVars: env("CHAIN_ID")},
					&cli.Uint64Flag{Name: "gas-limit", Value: defaults.Chain.GasLimit, Usage: "block gas limit", EnvVars: env("GAS_LIMIT")},
					&cli.DurationFlag{Name: "miniblock-time", Value: defaults.Sequencer.MiniBlockTime, Usage: "mini-block interval", EnvVars: env("MINIBLOCK_TIME")},
					&cli.DurationFlag{Name: "block-time", Value: defaults.Sequencer.BlockTime, Usage: "EVM block interval (at least 1s)", EnvVars: env("BLOCK_TIME")},
					&cli.BoolFlag{Name: "miniblock-eager", Aliases: []string{"eager"}, Value: defaults.Sequencer.Eager, Usage: "seal a mini-block as soon as a tx executed while the sequencer is idle; off: strictly periodic", EnvVars: env("MINIBLOCK_EAGER")},
					&cli.IntFlag{Name: "miniblock-eager-max-txs", Value: defaults.Sequencer.EagerMaxTxs, Usage: "txs per interval above which eager sealing pauses and the load batches at the interval", EnvVars: env("MINIBLOCK_EAGER_MAX_TXS")},
					&cli.StringFlag{Name: "preconf-block-hash", Value: defaults.Sequencer.PreconfHash.Hex(), Usage: "blockHash of receipts and logs preconfirmed in a mini-block", EnvVars: env("PRECONF_BLOCK_HASH")},
					&cli.DurationFlag{Name: "rpc.sync-timeout", Value: defaults.RPC.Realtime.SyncTimeout, Usage: "eth_sendRawTransactionSync default wait", EnvVars: env("RPC_SYNC_TIMEOUT")},
					&cli.DurationFlag{Name: "rpc.sync-max-timeout", Value: defaults.RPC.Realtime.SyncMaxTimeout, Usage: "longest eth_sendRawTransactionSync wait a caller may ask for", EnvVars: env("RPC_SYNC_MAX_TIMEOUT")},
					&cli.DurationFlag{Name: "rpc.realtime-timeout", Value: defaults.RPC.Realtime.RealtimeTimeout, Usage: "realtime_sendRawTransaction wait before \"realtime transaction expired\"", EnvVars: env("RPC_REALTIME_TIMEOUT")},
					&cli.DurationFlag{Name: "rpc.callafter-timeout", Value: defaults.RPC.Realtime.CallAfterTimeout, Usage: "eth_callAfter default wait", EnvVars: env("RPC_CALLAFTER_TIMEOUT")},
					&cli.DurationFlag{Name: "rpc.callafter-max-timeout", Value: defaults.RPC.Realtime.CallAfterMax, Usage: "longest eth_callAfter wait", EnvVars: env("RPC_CALLAFTER_MAX_TIMEOUT")},
					&cli.DurationFlag{Name: "rpc.filter-timeout", Value: defaults.RPC.Filters.Timeout, Usage: "remove an installed filter (eth_newFilter) not polled this long", EnvVars: env("RPC_FILTER_TIMEOUT")},
					&cli.IntFlag{Name: "rpc.logs-page-size", Value: defaults.RPC.Realtime.LogsPageSize, Usage: "logs per eth_getLogsWithCursor page", EnvVars: env("RPC_LOGS_PAGE_SIZE")},
					&cli.IntFlag{Name: "ws.max-conns-per-ip", Value: defaults.RPC.WS.MaxConnsPerIP, Usage: "concurrent websocket connections per remote IP", EnvVars: env("WS_MAX_CONNS_PER_IP")},
					&cli.IntFlag{Name: "ws.max-subs", Value: defaults.RPC.WS.MaxSubsPerConn, Usage: "subscriptions per websocket connection", EnvVars: env("WS_MAX_SUBS")},
					&cli.Float64Flag{Name: "ws.msgs-per-second", Value: defaults.RPC.WS.MsgsPerSecond, Usage: "requests per second per websocket connection", EnvVars: env("WS_MSGS_PER_SECOND")},
					&cli.DurationFlag{Name: "ws.idle-timeout", Value: defaults.RPC.WS.IdleTimeout, Usage: "close a websocket connection after this long without a request", EnvVars: env("WS_IDLE_TIMEOUT")},
					&cli.IntFlag{Name: "ws.send-queue", Value: defaults.RPC.WS.SendQueue, Usage: "messages queued per websocket connection before it is closed as too slow", EnvVars: env("WS_SEND_QUEUE")},
					&cli.IntFlag{Name: "ws.replay", Value: defaults.RPC.WS.ReplayMiniBlocks, Usage: "recent mini-blocks kept for subscribers resuming with from_mini_block_number", EnvVars: env("WS_REPLAY")},
					&cli.StringFlag{Name: "mnemonic", Value: defaults.Chain.Mnemonic, Usage: "mnemonic of the dev accounts", EnvVars: env("MNEMONIC")},
					&cli.IntFlag{Name: "accounts", Value: defaults.Chain.Accounts, Usage: "number of prefunded dev accounts", EnvVars: env("ACCOUNTS")},
					&cli.Uint64Flag{Name: "balance", Value: 10_000, Usage: "balance of each dev account in ETH", EnvVars: env("BALANCE")},
					logFormatFlag, logLevelFlag,
				},
				Action: runDevnet,
			},
			{
				Name:      "import",
				Usage:     "verify and import a chain export (concatenated RLP blocks, as geth export writes them; .gz too)",
				ArgsUsage: "chain.rlp",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "genesis", Usage: "genesis.json of the chain (geth's format)", Required: true},
					&cli.StringFlag{Name: "datadir", Usage: "data directory to import into", Value: "meganode-data", EnvVars: env("DATADIR")},
					logFormatFlag, logLevelFlag,
				},
				Action: runImport,
			},
			{
				Name:  "serve",
				Usage: "serve a stored chain (imported, or a devnet's data directory) over RPC, read-only; its head is final",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "datadir", Usage: "data directory holding the chain", Value: "meganode-data", EnvVars: env("DATADIR")},
					&cli.StringFlag{Name: "http.addr", Value: defaults.RPC.Addr, Usage: "RPC listen address", EnvVars: env("HTTP_ADDR")},
					&cli.IntFlag{Name: "http.port", Value: defaults.RPC.Port, Usage: "RPC listen port (HTTP and websocket)", EnvVars: env("HTTP_PORT")},
					logFormatFlag, logLevelFlag,
				},
				Action: runServe,
			},
			bench.Command(),
		},
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

var (
	logFormatFlag = &cli.StringFlag{Name: "log.format", Value: "auto", Usage: "log format: auto (console in a terminal, JSON otherwise), console, json", EnvVars: env("LOG_FORMAT")}
	logLevelFlag  = &cli.StringFlag{Name: "log.level", Value: "info", Usage: "log level: debug, info, warn, error", EnvVars: env("LOG_LEVEL")}
)

func runImport(c *cli.Context) error {
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	if c.NArg() != 1 {
		return fmt.Errorf("want one chain file, have %d arguments", c.NArg())
	}
	genesis, err := chain.ReadGenesisFile(c.String("genesis"))
	if err != nil {
		return err
	}
	res, err := storage.Import(storage.Config{Dir: c.String("datadir")}, genesis, c.Args().First(), log)
	if res != nil && res.Blocks > 0 {
		log.Info().Uint64("blocks", res.Blocks).Uint64("txs", res.Txs).Msg("imported")
	}
	if err != nil {
		return fmt.Errorf("import stopped at %w", err)
	}
	log.Info().Uint64("head", res.Head.Number.Uint64()).Stringer("hash", res.Head.Hash()).Str("elapsed", res.Elapsed.Round(time.Millisecond).String()).
		Msgf("import done: serve it with `meganode serve --datadir %s`", c.String("datadir"))
	return nil
}

func runServe(c *cli.Context) error {
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	cfg := node.ServeConfig{Storage: storage.Config{Dir: c.String("datadir")}, RPC: rpc.DefaultConfig()}
	cfg.RPC.Addr, cfg.RPC.Port = c.String("http.addr"), c.Int("http.port")
	s, err := node.NewServed(cfg, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := s.Start(ctx); err != nil {
		return errors.Join(err, s.Stop(ctx))
	}
	head := s.Store().CurrentHeader()
	fmt.Printf("\nmeganode %s serving %s read-only: chain id %s, head %d (%s)\n\nListening on %s (HTTP and websocket)\n\n",
		rpc.Version, cfg.Storage.Dir, s.Store().ChainConfig().ChainID, head.Number, head.Hash(), s.RPCAddr())
	<-ctx.Done()
	log.Info().Msg("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.Stop(sctx)
}

func newLogger(c *cli.Context) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(c.String("log.level"))
	if err != nil {
		return zerolog.Logger{}, fmt.Errorf("log.level: %w", err)
	}
	var w io.Writer = os.Stderr
	switch c.String("log.format") {
	case "console":
		w = zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly}
	case "json":
	case "auto":
		if isatty.IsTerminal(os.Stderr.Fd()) {
			w = zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly}
		}
	default:
		return zerolog.Logger{}, fmt.Errorf("log.format %q: want auto, console or json", c.String("log.format"))
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger(), nil
}

func runDevnet(c *cli.Context) error {
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	cfg := node.DefaultConfig()
	cfg.RPC.Addr, cfg.RPC.Port = c.String("http.addr"), c.Int("http.port")
	cfg.Storage.Dir = c.String("datadir")
	cfg.Chain.ChainID, cfg.Chain.GasLimit = c.Uint64("chain-id"), c.Uint64("gas-limit")
	cfg.Chain.Mnemonic, cfg.Chain.Accounts = c.String("mnemonic"), c.Int("accounts")
	cfg.Chain.AccountFunds = new(big.Int).Mul(new(big.Int).SetUint64(c.Uint64("balance")), big.NewInt(params.Ether))
	cfg.Sequencer.MiniBlockTime, cfg.Sequencer.BlockTime = c.Duration("miniblock-time"), c.Duration("block-time")
	cfg.Sequencer.Eager, cfg.Sequencer.EagerMaxTxs = c.Bool("miniblock-eager"), c.Int("miniblock-eager-max-txs")
	preconf, err := hexutil.Decode(c.String("preconf-block-hash"))
	if err != nil || len(preconf) != common.HashLength {
		return fmt.Errorf("--preconf-block-hash: want 32 bytes of hex, have %q", c.String("preconf-block-hash"))
	}
	cfg.Sequencer.PreconfHash = common.BytesToHash(preconf)
	rt := &cfg.RPC.Realtime
	rt.SyncTimeout, rt.SyncMaxTimeout, rt.RealtimeTimeout = c.Duration("rpc.sync-timeout"), c.Duration("rpc.sync-max-timeout"), c.Duration("rpc.realtime-timeout")
	rt.CallAfterTimeout, rt.CallAfterMax, rt.LogsPageSize = c.Duration("rpc.callafter-timeout"), c.Duration("rpc.callafter-max-timeout"), c.Int("rpc.logs-page-size")
	cfg.RPC.Filters.Timeout = c.Duration("rpc.filter-timeout")
	ws := &cfg.RPC.WS
	ws.MaxConnsPerIP, ws.MaxSubsPerConn, ws.MsgsPerSecond = c.Int("ws.max-conns-per-ip"), c.Int("ws.max-subs"), c.Float64("ws.msgs-per-second")
	ws.IdleTimeout, ws.SendQueue, ws.ReplayMiniBlocks = c.Duration("ws.idle-timeout"), c.Int("ws.send-queue"), c.Int("ws.replay")

	d, err := node.NewDevnet(cfg, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := d.Start(ctx); err != nil {
		return err
	}
	printBanner(os.Stdout, cfg, d)
	<-ctx.Done()
	log.Info().Msg("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return d.Stop(sctx)
}

// printBanner shows the dev accounts and keys the way anvil does.
func printBanner(w io.Writer, cfg node.Config, d *node.Devnet) {
	var b strings.Builder
	eth := new(big.Int).Div(cfg.Chain.AccountFunds, big.NewInt(params.Ether))
	b.WriteString("\nmeganode devnet " + rpc.Version + "\n\nAvailable Accounts\n==================\n\n")
	for i, a := range d.Accounts() {
		fmt.Fprintf(&b, "(%d) %s (%s ETH)\n", i, a.Address, eth)
	}
	b.WriteString("\nPrivate Keys\n==================\n\n")
	for i, a := range d.Accounts() {
		fmt.Fprintf(&b, "(%d) %s\n", i, hexutil.Encode(crypto.FromECDSA(a.Key)))
	}
	fmt.Fprintf(&b, "\nWallet\n==================\nMnemonic:          %s\nDerivation path:   m/44'/60'/0'/0/\n\n", cfg.Chain.Mnemonic)
	fmt.Fprintf(&b, "Chain ID:          %d\nBlock gas limit:   %d\nMini-block time:   %s\nBlock time:        %s\n", cfg.Chain.ChainID, cfg.Chain.GasLimit, cfg.Sequencer.MiniBlockTime, cfg.Sequencer.BlockTime)
	if cfg.Storage.Dir != "" {
		fmt.Fprintf(&b, "Data directory:    %s\n", cfg.Storage.Dir)
	}
	fmt.Fprintf(&b, "\nListening on %s (HTTP and websocket)\n\n", d.RPCAddr())
	fmt.Fprint(w, b.String())
}
