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

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"

	"github.com/meganode/meganode/bench"
	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/eigenda"
	"github.com/meganode/meganode/node"
	"github.com/meganode/meganode/rpc"
	"github.com/meganode/meganode/storage"
)

func env(name string) []string { return []string{"MEGANODE_" + name} }

var roleDefaults = node.DefaultRoleConfig()

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
				Flags: concat(rpcFlags(defaults), chainFlags(defaults), sequencerFlags(defaults), stateFlags(), l1Flags(true), []cli.Flag{
					&cli.StringFlag{Name: "datadir", Usage: "data directory; empty keeps the chain in memory", EnvVars: env("DATADIR")},
					&cli.StringSliceFlag{Name: "roles", Value: cli.NewStringSlice(defaults.Roles...), Usage: "roles to run in process: sequencer (always), replica (RPC on http.port+1), fullnode (http.port+2), prover", EnvVars: env("ROLES")},
					&cli.DurationFlag{Name: "finality.window", Value: defaults.FinalityWindow, Usage: "challenge window: how long a proven block waits for a fraud proof before it is finalized", EnvVars: env("FINALITY_WINDOW")},
					&cli.StringFlag{Name: "da.url", Usage: "post every block to this eigenda-proxy (or `meganode da`) instead of the embedded DA server", EnvVars: env("DA_URL")},
					&cli.StringFlag{Name: "da.mode", Value: string(eigenda.ModeStandard), Usage: "commitment mode: standard or optimism_generic (OP alt-DA)", EnvVars: env("DA_MODE")},
					&cli.BoolFlag{Name: "da.embedded", Value: defaults.EmbeddedDA, Usage: "run a DA server in process (on http.port+3) when no --da.url is given; blocks are safe once posted", EnvVars: env("DA_EMBEDDED")},
					&cli.BoolFlag{Name: "automine", Usage: "seal every transaction in a block of its own as it arrives, as anvil and Hardhat do (receipts carry their block's hash at once: for test suites); off: realtime mini-blocks and blocks", EnvVars: env("AUTOMINE")},
					&cli.StringFlag{Name: "state", Usage: "state file: loaded at start when it exists, written at exit and every --state-interval (anvil's --state; the chain, blocks included, survives a restart)", EnvVars: env("STATE")},
					&cli.DurationFlag{Name: "state-interval", Value: time.Minute, Usage: "how often --state is written while running; 0: only at exit", EnvVars: env("STATE_INTERVAL")},
					&cli.StringFlag{Name: "fork-url", Aliases: []string{"f", "rpc-url"}, Usage: "fork this chain's JSON-RPC endpoint: accounts, code and storage are read from it lazily at --fork-block-number and cached (anvil's --fork-url); the chain id is its own unless --chain-id is given; the sequencer runs alone, in memory", EnvVars: env("FORK_URL")},
					&cli.Uint64Flag{Name: "fork-block-number", Usage: "the block --fork-url is forked at (default: its latest)", EnvVars: env("FORK_BLOCK_NUMBER")},
					&cli.BoolFlag{Name: "no-mining", Usage: "execute nothing until evm_mine / anvil_mine (anvil's --no-mining)", EnvVars: env("NO_MINING")},
					&cli.Uint64Flag{Name: "dev.faulty-root-at", Usage: "fault injection (devnet only): seal this block with a wrong state root", EnvVars: env("DEV_FAULTY_ROOT_AT")},
					&cli.BoolFlag{Name: "dev.censor-deposits", Usage: "fault injection (devnet only): the sequencer takes no L1 deposit and never moves its L1 cursor (with --l1.sequencing-window the full node forces them in)", EnvVars: env("DEV_CENSOR_DEPOSITS")},
					logFormatFlag, logLevelFlag,
				}),
				Action: runDevnet,
			},
			{
				Name:      "import",
				Usage:     "verify and import a chain export (concatenated RLP blocks, as geth export writes them; .gz too)",
				ArgsUsage: "chain.rlp",
				Flags: concat(stateFlags(), []cli.Flag{
					&cli.StringFlag{Name: "genesis", Usage: "genesis.json of the chain (geth's format)", Required: true},
					&cli.StringFlag{Name: "datadir", Usage: "data directory to import into", Value: "meganode-data", EnvVars: env("DATADIR")},
					logFormatFlag, logLevelFlag,
				}),
				Action: runImport,
			},
			{
				Name:  "serve",
				Usage: "serve a stored chain (imported, or a devnet's data directory) over RPC, read-only; its head is final",
				Flags: concat(stateFlags(), []cli.Flag{
					&cli.StringFlag{Name: "datadir", Usage: "data directory holding the chain", Value: "meganode-data", EnvVars: env("DATADIR")},
					&cli.StringFlag{Name: "http.addr", Value: defaults.RPC.Addr, Usage: "RPC listen address", EnvVars: env("HTTP_ADDR")},
					&cli.IntFlag{Name: "http.port", Value: defaults.RPC.Port, Usage: "RPC listen port (HTTP and websocket)", EnvVars: env("HTTP_PORT")},
					&cli.DurationFlag{Name: "rpc.logs-timeout", Value: defaults.RPC.Limits.LogsTimeout, Usage: "time limit of eth_getLogs, eth_getLogsWithCursor and eth_getFilterLogs; 0: none", EnvVars: env("RPC_LOGS_TIMEOUT")},
					&cli.Uint64Flag{Name: "rpc.rangelimit", Value: defaults.RPC.Limits.RangeLimit, Usage: "largest toBlock - fromBlock of an eth_getLogs; 0: none (geth's flag)", EnvVars: env("RPC_RANGELIMIT")},
					&cli.IntFlag{Name: "rpc.logs-max-results", Value: defaults.RPC.Limits.MaxLogs, Usage: "most logs one eth_getLogs answers (one block's logs are always served); 0: none", EnvVars: env("RPC_LOGS_MAX_RESULTS")},
					pprofFlag, logFormatFlag, logLevelFlag,
				}),
				Action: runServe,
			},
			{
				Name:  "sequencer",
				Usage: "run the sequencer alone: it produces blocks and publishes them over p2p, signed with its key",
				Flags: concat(rpcFlags(node.SequencerPublicDefaults(defaults)), chainFlags(defaults), sequencerFlags(defaults), stateFlags(), p2pFlags(), finalityFlags(), daFlags(false), haFlags(), adminFlags(), l1Flags(false), []cli.Flag{
					devFlag,
					&cli.StringFlag{Name: "datadir", Value: "meganode-sequencer", Usage: "data directory", EnvVars: env("DATADIR")},
					&cli.StringFlag{Name: "sequencer.key", Usage: "file holding the sequencer's signing key (hex); default <datadir>/sequencer.key, created on first start", EnvVars: env("SEQUENCER_KEY")},
					logFormatFlag, logLevelFlag,
				}),
				Action: runRole(node.RoleSequencer),
			},
			{
				Name:  "replica",
				Usage: "follow the sequencer: apply its state diffs without executing, serve reads and subscriptions, forward transactions",
				Flags: concat(rpcFlags(defaults), chainFlags(defaults), stateFlags(), p2pFlags(), followerFlags(), finalityFlags(), daFlags(true), followerL1Flags(false), []cli.Flag{
					devFlag,
					&cli.StringFlag{Name: "datadir", Value: "meganode-replica", Usage: "data directory", EnvVars: env("DATADIR")},
					&cli.DurationFlag{Name: "replica.gap-wait", Value: roleDefaults.Replica.GapWait, Usage: "how long a missing mini-block or block may stay missing before it is requested from peers", EnvVars: env("REPLICA_GAP_WAIT")},
					logFormatFlag, logLevelFlag,
				}),
				Action: runRole(node.RoleReplica),
			},
			{
				Name:  "fullnode",
				Usage: "verify the sequencer: re-execute every block with its witness, advance the safe head, alert on a mismatch",
				Flags: concat(rpcFlags(defaults), chainFlags(defaults), stateFlags(), p2pFlags(), followerFlags(), finalityFlags(), daFlags(true), followerL1Flags(true), []cli.Flag{
					devFlag,
					&cli.StringFlag{Name: "datadir", Value: "meganode-fullnode", Usage: "data directory", EnvVars: env("DATADIR")},
					&cli.DurationFlag{Name: "fullnode.witness-wait", Value: roleDefaults.FullNode.WitnessWait, Usage: "how long a block waits for its witness before it is re-executed from local state", EnvVars: env("FULLNODE_WITNESS_WAIT")},
					&cli.BoolFlag{Name: "fullnode.recover-senders", Usage: "recover every signature instead of taking the senders the sequencer signed", EnvVars: env("FULLNODE_RECOVER_SENDERS")},
					logFormatFlag, logLevelFlag,
				}),
				Action: runRole(node.RoleFullNode),
			},
			{
				Name:  "prover",
				Usage: "check the sequencer statelessly: re-execute every block over its witness, publish a signed attestation or a fraud proof",
				Flags: concat(rpcFlags(defaults), chainFlags(defaults), p2pFlags(), challengerFlags(), []cli.Flag{
					devFlag,
					&cli.StringFlag{Name: "datadir", Value: "meganode-prover", Usage: "directory of the prover's keys (it keeps no chain)", EnvVars: env("DATADIR")},
					&cli.StringFlag{Name: "sequencer.address", Usage: "address of the sequencer's signing key", Required: true, EnvVars: env("SEQUENCER_ADDRESS")},
					&cli.StringFlag{Name: "prover.key", Usage: "file holding the prover's signing key (hex); default <datadir>/prover.key, created on first start", EnvVars: env("PROVER_KEY")},
					&cli.IntFlag{Name: "prover.workers", Value: roleDefaults.Prover.Workers, Usage: "blocks verified at once", EnvVars: env("PROVER_WORKERS")},
					&cli.IntFlag{Name: "prover.pending", Value: roleDefaults.Prover.Pending, Usage: "blocks and witnesses held while waiting for their pair (bounds memory)", EnvVars: env("PROVER_PENDING")},
					&cli.IntFlag{Name: "prover.memory-limit", Value: 384, Usage: "soft limit of the Go heap in MiB (the runtime collects harder near it; GOMEMLIMIT overrides it); 0: none", EnvVars: env("PROVER_MEMORY_LIMIT")},
					proversFlag, logFormatFlag, logLevelFlag,
				}),
				Action: runRole(node.RoleProver),
			},
			daCommand(),
			l1Command(),
			gatewayCommand(),
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
	scfg := storage.Config{Dir: c.String("datadir"), Progress: progressOptions()}
	if err := applyStateFlags(c, &scfg); err != nil {
		return err
	}
	res, err := storage.Import(scfg, genesis, c.Args().First(), log)
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
	if err := applyStateFlags(c, &cfg.Storage); err != nil {
		return err
	}
	cfg.RPC.Addr, cfg.RPC.Port = c.String("http.addr"), c.Int("http.port")
	lim := &cfg.RPC.Limits
	lim.LogsTimeout, lim.RangeLimit, lim.MaxLogs = c.Duration("rpc.logs-timeout"), c.Uint64("rpc.rangelimit"), c.Int("rpc.logs-max-results")
	if err := startPprof(c, log); err != nil {
		return err
	}
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
	log := zerolog.New(w).Level(level).With().Timestamp().Logger()
	gethLogs(log)
	return log, nil
}

func runDevnet(c *cli.Context) error {
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	cfg := node.DefaultConfig()
	cfg.Storage.Dir = c.String("datadir")
	cfg.Roles = c.StringSlice("roles")
	cfg.FinalityWindow = c.Duration("finality.window")
	cfg.Sequencer.FaultyRootAt = c.Uint64("dev.faulty-root-at")
	cfg.L1.CensorDeposits = c.Bool("dev.censor-deposits")
	switch {
	case c.Bool("automine") && c.Bool("no-mining"):
		return errors.New("--automine and --no-mining exclude each other")
	case c.Bool("automine"):
		cfg.Sequencer.Mining = chain.MineAuto
	case c.Bool("no-mining"):
		cfg.Sequencer.Mining = chain.MineManual
	}
	if url := c.String("fork-url"); url != "" {
		cfg.Fork = node.ForkConfig{URL: url, KeepChainID: c.IsSet("chain-id")}
		if c.IsSet("fork-block-number") {
			n := c.Uint64("fork-block-number")
			cfg.Fork.Block = &n
		}
		if !c.IsSet("roles") { // followers and provers cannot read the forked chain
			cfg.Roles = []string{node.RoleSequencer}
		}
	} else if c.IsSet("fork-block-number") {
		return errors.New("--fork-block-number needs --fork-url")
	}
	if cfg.Sequencer.Mining != chain.MineRealtime && !c.IsSet("roles") {
		// Test-suite mode: a block per tx, and no in-process verifiers
		// re-doing each one on the CPUs the suite runs on (--roles adds them).
		cfg.Roles = []string{node.RoleSequencer}
	}
	cfg.EmbeddedDA = c.Bool("da.embedded")
	if err := applyDAFlags(c, &cfg.DA); err != nil {
		return err
	}
	if err := applyFlags(c, &cfg); err != nil {
		return err
	}
	if err := applyDevL1Flags(c, &cfg); err != nil {
		return err
	}
	if err := startPprof(c, log); err != nil {
		return err
	}
	// A test suite's automined devnet answers one call at a time: more Go
	// processors than CPUs would only add thread hand-offs to each.
	sequencerRuntime(log, cfg.Sequencer.Mining == chain.MineRealtime)
	// The genesis is timed at the start, as anvil's; a state file's chain
	// is rebuilt on its own genesis, timed as it was (and a data
	// directory's chain keeps its genesis).
	now := uint64(time.Now().Unix())
	cfg.GenesisTime = &now
	stateFile := c.String("state")
	if stateFile != "" {
		t, err := node.StateFileGenesisTime(stateFile)
		if err != nil {
			return err
		}
		if t != nil {
			cfg.GenesisTime = t
		}
	}
	d, err := node.NewDevnet(cfg, log)
	if err != nil {
		return err
	}
	if stateFile != "" {
		if err := d.LoadStateFile(stateFile); err != nil {
			d.Stop(context.Background())
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := d.Start(ctx); err != nil {
		return err
	}
	printBanner(os.Stdout, cfg, d)
	var tick <-chan time.Time
	if every := c.Duration("state-interval"); stateFile != "" && every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	for running := true; running; {
		select {
		case <-ctx.Done():
			running = false
		case <-tick:
			if err := d.SaveStateFile(stateFile); err != nil {
				log.Error().Err(err).Str("file", stateFile).Msg("write state file")
			}
		}
	}
	log.Info().Msg("shutting down")
	if stateFile != "" {
		if err := d.SaveStateFile(stateFile); err != nil {
			log.Error().Err(err).Str("file", stateFile).Msg("write state file")
		} else {
			log.Info().Str("file", stateFile).Msg("wrote state file")
		}
	}
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
	if r := d.ReplicaNode(); r != nil {
		fmt.Fprintf(&b, "Replica RPC:       http://%s (in process, applies state diffs)\n", r.RPCAddr())
	}
	if r := d.FullNodeRole(); r != nil {
		fmt.Fprintf(&b, "Full node RPC:     http://%s (in process, re-executes with witnesses)\n", r.RPCAddr())
	}
	if p := d.ProverNode(); p != nil {
		fmt.Fprintf(&b, "Prover:            %s (in process; blocks finalize %s after they are proven)\n", p.Address(), cfg.FinalityWindow)
	}
	if u := d.DAURL(); u != "" {
		fmt.Fprintf(&b, "DA server:         %s (eigenda-proxy API; mega_getDACommitments lists the blobs)\n", u)
	}
	if u, addrs := d.L1(); u != "" {
		kind := "external"
		if cfg.L1.Embedded {
			kind = "embedded, chain id 1337, the accounts above funded"
		}
		fmt.Fprintf(&b, "L1:                %s (%s)\nL1 portal:         %s (send ETH to it, or depositTransaction, to deposit on L2)\n", u, kind, addrs.Portal)
		fmt.Fprintf(&b, "L1 output oracle:  %s\nL1 DA inbox:       %s\n", addrs.OutputOracle, addrs.DAInbox)
	}
	if cfg.L1.CensorDeposits {
		fmt.Fprintf(&b, "Fault injection:   the sequencer censors every L1 deposit\n")
	}
	if cfg.Sequencer.FaultyRootAt != 0 {
		fmt.Fprintf(&b, "Fault injection:   block %d is sealed with a wrong state root\n", cfg.Sequencer.FaultyRootAt)
	}
	fmt.Fprintf(&b, "\nListening on %s (HTTP and websocket)\n\n", d.RPCAddr())
	fmt.Fprint(w, b.String())
}
