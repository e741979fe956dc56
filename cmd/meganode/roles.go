package main

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/urfave/cli/v2"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/chain/progress"
	"github.com/meganode/meganode/node"
	"github.com/meganode/meganode/rpc"
	"github.com/meganode/meganode/storage"
)

func concat(groups ...[]cli.Flag) []cli.Flag {
	var out []cli.Flag
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

func rpcFlags(defaults node.Config) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "http.addr", Value: defaults.RPC.Addr, Usage: "RPC listen address", EnvVars: env("HTTP_ADDR")},
		&cli.IntFlag{Name: "http.port", Value: defaults.RPC.Port, Usage: "RPC listen port (HTTP and websocket)", EnvVars: env("HTTP_PORT")},
		&cli.DurationFlag{Name: "rpc.sync-timeout", Value: defaults.RPC.Realtime.SyncTimeout, Usage: "eth_sendRawTransactionSync default wait", EnvVars: env("RPC_SYNC_TIMEOUT")},
		&cli.DurationFlag{Name: "rpc.sync-max-timeout", Value: defaults.RPC.Realtime.SyncMaxTimeout, Usage: "longest eth_sendRawTransactionSync wait a caller may ask for", EnvVars: env("RPC_SYNC_MAX_TIMEOUT")},
		&cli.DurationFlag{Name: "rpc.realtime-timeout", Value: defaults.RPC.Realtime.RealtimeTimeout, Usage: "realtime_sendRawTransaction wait before \"realtime transaction expired\"", EnvVars: env("RPC_REALTIME_TIMEOUT")},
		&cli.DurationFlag{Name: "rpc.callafter-timeout", Value: defaults.RPC.Realtime.CallAfterTimeout, Usage: "eth_callAfter default wait", EnvVars: env("RPC_CALLAFTER_TIMEOUT")},
		&cli.DurationFlag{Name: "rpc.callafter-max-timeout", Value: defaults.RPC.Realtime.CallAfterMax, Usage: "longest eth_callAfter wait", EnvVars: env("RPC_CALLAFTER_MAX_TIMEOUT")},
		&cli.DurationFlag{Name: "rpc.filter-timeout", Value: defaults.RPC.Filters.Timeout, Usage: "remove an installed filter (eth_newFilter) not polled this long", EnvVars: env("RPC_FILTER_TIMEOUT")},
		&cli.IntFlag{Name: "rpc.logs-page-size", Value: defaults.RPC.Realtime.LogsPageSize, Usage: "logs per eth_getLogsWithCursor page", EnvVars: env("RPC_LOGS_PAGE_SIZE")},
		&cli.Uint64Flag{Name: "rpc.gascap", Value: defaults.RPC.Limits.GasCap, Usage: "gas cap of eth_call, eth_estimateGas, debug_traceCall, and of all calls of one eth_simulateV1 (geth's flag)", EnvVars: env("RPC_GASCAP")},
		&cli.DurationFlag{Name: "rpc.evmtimeout", Value: defaults.RPC.Limits.CallTimeout, Usage: "time limit of eth_call, eth_estimateGas, eth_createAccessList and eth_simulateV1, waiting for a slot included; 0: none (geth's flag)", EnvVars: env("RPC_EVMTIMEOUT")},
		&cli.DurationFlag{Name: "rpc.trace-timeout", Value: defaults.RPC.Limits.TraceTimeout, Usage: "time limit of a debug_trace* call; 0: none", EnvVars: env("RPC_TRACE_TIMEOUT")},
		&cli.DurationFlag{Name: "rpc.logs-timeout", Value: defaults.RPC.Limits.LogsTimeout, Usage: "time limit of eth_getLogs, eth_getLogsWithCursor and eth_getFilterLogs; 0: none", EnvVars: env("RPC_LOGS_TIMEOUT")},
		&cli.Uint64Flag{Name: "rpc.rangelimit", Value: defaults.RPC.Limits.RangeLimit, Usage: "largest toBlock - fromBlock of an eth_getLogs; 0: none (geth's flag)", EnvVars: env("RPC_RANGELIMIT")},
		&cli.IntFlag{Name: "rpc.logs-max-results", Value: defaults.RPC.Limits.MaxLogs, Usage: "most logs one eth_getLogs answers (one block's logs are always served); 0: none", EnvVars: env("RPC_LOGS_MAX_RESULTS")},
		&cli.IntFlag{Name: "rpc.heavy-concurrency", Value: defaults.RPC.Limits.Concurrency, Usage: "heavy calls (eth_call and the like, debug_trace*, eth_getLogs) running at once, all clients", EnvVars: env("RPC_HEAVY_CONCURRENCY")},
		&cli.IntFlag{Name: "rpc.heavy-concurrency-per-ip", Value: defaults.RPC.Limits.ConcurrencyPerIP, Usage: "heavy calls running at once per client IP", EnvVars: env("RPC_HEAVY_CONCURRENCY_PER_IP")},
		&cli.IntFlag{Name: "rpc.heavy-nice", Value: defaults.RPC.Limits.Nice, Usage: "run each heavy call on a thread of its own this much nicer (Linux), so a busy machine gives the node's own work the CPU first; 0: as any request (a sequencer's default is 10)", EnvVars: env("RPC_HEAVY_NICE")},
		&cli.IntFlag{Name: "rpc.heavy-queue-per-ip", Value: defaults.RPC.Limits.QueuePerIP, Usage: "heavy calls of one client IP waiting for a slot before more are refused", EnvVars: env("RPC_HEAVY_QUEUE_PER_IP")},
		&cli.IntFlag{Name: "rpc.heavy-queue", Value: defaults.RPC.Limits.Queue, Usage: "heavy calls of all clients waiting for a slot before more are refused", EnvVars: env("RPC_HEAVY_QUEUE")},
		&cli.IntFlag{Name: "rpc.batch-request-limit", Value: defaults.RPC.BatchLimit, Usage: "calls in one batch (geth's flag)", EnvVars: env("RPC_BATCH_REQUEST_LIMIT")},
		&cli.IntFlag{Name: "rpc.batch-response-max-size", Value: defaults.RPC.BatchRespSize, Usage: "bytes of one batch's answers (geth's flag)", EnvVars: env("RPC_BATCH_RESPONSE_MAX_SIZE")},
		&cli.StringSliceFlag{Name: "rpc.trusted-proxies", Value: cli.NewStringSlice(defaults.RPC.TrustedProxies...), Usage: "IPs or CIDRs of proxies (the gateway, a load balancer) whose X-Forwarded-For names the client the per-IP limits count", EnvVars: env("RPC_TRUSTED_PROXIES")},
		&cli.IntFlag{Name: "ws.max-conns", Value: defaults.RPC.WS.MaxConns, Usage: "concurrent websocket connections in all", EnvVars: env("WS_MAX_CONNS")},
		&cli.IntFlag{Name: "ws.max-conns-per-ip", Value: defaults.RPC.WS.MaxConnsPerIP, Usage: "concurrent websocket connections per remote IP", EnvVars: env("WS_MAX_CONNS_PER_IP")},
		&cli.IntFlag{Name: "ws.max-subs", Value: defaults.RPC.WS.MaxSubsPerConn, Usage: "subscriptions per websocket connection", EnvVars: env("WS_MAX_SUBS")},
		&cli.Float64Flag{Name: "ws.msgs-per-second", Value: defaults.RPC.WS.MsgsPerSecond, Usage: "requests per second per websocket connection", EnvVars: env("WS_MSGS_PER_SECOND")},
		&cli.DurationFlag{Name: "ws.idle-timeout", Value: defaults.RPC.WS.IdleTimeout, Usage: "close a websocket connection after this long without a request", EnvVars: env("WS_IDLE_TIMEOUT")},
		&cli.IntFlag{Name: "ws.send-queue", Value: defaults.RPC.WS.SendQueue, Usage: "messages queued per websocket connection before it is closed as too slow", EnvVars: env("WS_SEND_QUEUE")},
		pprofFlag,
		&cli.IntFlag{Name: "ws.replay", Value: defaults.RPC.WS.ReplayMiniBlocks, Usage: "recent mini-blocks kept for subscribers resuming with from_mini_block_number", EnvVars: env("WS_REPLAY")},
	}
}

// chainFlags define the genesis: every node of a network must be given the
// same values.
func chainFlags(defaults node.Config) []cli.Flag {
	return []cli.Flag{
		&cli.Uint64Flag{Name: "chain-id", Value: defaults.Chain.ChainID, Usage: "chain id", EnvVars: env("CHAIN_ID")},
		&cli.Uint64Flag{Name: "gas-limit", Value: defaults.Chain.GasLimit, Usage: "block gas limit", EnvVars: env("GAS_LIMIT")},
		&cli.StringFlag{Name: "mnemonic", Value: defaults.Chain.Mnemonic, Usage: "mnemonic of the dev accounts", EnvVars: env("MNEMONIC")},
		&cli.IntFlag{Name: "accounts", Value: defaults.Chain.Accounts, Usage: "number of prefunded dev accounts", EnvVars: env("ACCOUNTS")},
		&cli.Uint64Flag{Name: "balance", Value: 10_000, Usage: "balance of each dev account in ETH", EnvVars: env("BALANCE")},
		&cli.StringFlag{Name: "genesis", Usage: "genesis.json (geth's format: config, alloc, header fields) to start the chain from instead of the built-in devnet genesis; the chain id and gas limit come from it; every node of a network must be given the same file", EnvVars: env("GENESIS")},
		&cli.IntFlag{Name: "state-accounts", Usage: "more accounts holding 1 ETH at genesis (no keys), for measuring costs at a large state; `meganode bench --recipients` pays them", EnvVars: env("STATE_ACCOUNTS")},
	}
}

func sequencerFlags(defaults node.Config) []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "miniblock-time", Value: defaults.Sequencer.MiniBlockTime, Usage: "mini-block interval", EnvVars: env("MINIBLOCK_TIME")},
		&cli.DurationFlag{Name: "block-time", Value: defaults.Sequencer.BlockTime, Usage: "EVM block interval (at least 1s)", EnvVars: env("BLOCK_TIME")},
		&cli.BoolFlag{Name: "miniblock-eager", Aliases: []string{"eager"}, Value: defaults.Sequencer.Eager, Usage: "seal a mini-block as soon as a tx executed while the sequencer is idle; off: strictly periodic", EnvVars: env("MINIBLOCK_EAGER")},
		&cli.IntFlag{Name: "miniblock-eager-max-txs", Value: defaults.Sequencer.EagerMaxTxs, Usage: "txs per interval above which eager sealing pauses and the load batches at the interval", EnvVars: env("MINIBLOCK_EAGER_MAX_TXS")},
		&cli.StringFlag{Name: "preconf-block-hash", Value: defaults.Sequencer.PreconfHash.Hex(), Usage: "blockHash of receipts and logs preconfirmed in a mini-block", EnvVars: env("PRECONF_BLOCK_HASH")},
		&cli.IntFlag{Name: "datadir.min-free", Value: 256, Usage: "MiB of free space on the data directory's disk below which the sequencer stops admitting and sealing until space is freed (an HA candidate: on the data directory's or the raft directory's disk, and it hands leadership over); a ballast of a quarter of it (at most 32 MiB) is kept in each; -1: no check", EnvVars: env("DATADIR_MIN_FREE")},
	}
}

// stateFlags choose how a data directory keeps state (geth's flag names).
func stateFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "state.scheme", Usage: "how state is kept: path (the newest 128 states in memory over one on disk, older ones in a state history; disk stays flat) or hash (every state ever written); default path on disk, hash in memory", EnvVars: env("STATE_SCHEME")},
		&cli.Uint64Flag{Name: "state.history", Aliases: []string{"history.state"}, Value: storage.DefaultHistory, Usage: "blocks of state history the path scheme keeps: state reads (eth_getBalance, eth_call, eth_getStorageAt, debug_trace*) at those blocks and rewinds reach that far back; 0: the entire chain (as --archive)", EnvVars: env("STATE_HISTORY")},
		&cli.BoolFlag{Name: "archive", Usage: "keep the state history of the entire chain, indexed: every block's state stays readable (geth's archive mode)", EnvVars: env("ARCHIVE")},
		&cli.Int64Flag{Name: "history.trienode", Value: -1, Usage: "blocks whose trie nodes the state history keeps too, for eth_getProof below the newest 128 blocks; -1: none (geth's default), 0: the entire chain", EnvVars: env("HISTORY_TRIENODE")},
	}
}

// applyStateFlags fills cfg from stateFlags.
func applyStateFlags(c *cli.Context, cfg *storage.Config) error {
	switch s := c.String("state.scheme"); s {
	case "", storage.PathScheme, storage.HashScheme:
		cfg.Scheme = s
	default:
		return fmt.Errorf("--state.scheme %q: want path or hash", s)
	}
	cfg.History = c.Uint64("state.history")
	cfg.Archive = cfg.History == 0 || c.Bool("archive")
	switch n := c.Int64("history.trienode"); {
	case n < 0:
		cfg.ProofHistory = 0
	case n == 0:
		cfg.ProofHistory = storage.EntireChain
	default:
		cfg.ProofHistory = uint64(n)
	}
	return nil
}

func p2pFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "p2p.listen", Value: cli.NewStringSlice("/ip4/127.0.0.1/tcp/9222"), Usage: "p2p listen multiaddrs", EnvVars: env("P2P_LISTEN")},
		&cli.StringSliceFlag{Name: "p2p.peers", Usage: "static peers and bootnodes: multiaddrs ending in /p2p/<peer id>", EnvVars: env("P2P_PEERS")},
		&cli.StringFlag{Name: "p2p.key", Usage: "file holding the p2p identity; default <datadir>/p2p.key, created on first start", EnvVars: env("P2P_KEY")},
	}
}

// devFlag makes a separately run network a dev chain (DESIGN.md §14): the
// sequencer serves the dev methods, followers and provers take its edits.
var devFlag = &cli.BoolFlag{Name: "dev", Usage: "a dev chain for tests: the sequencer serves the dev methods (anvil_, hardhat_, evm_: snapshots, time, state edits, impersonation) and signs eth_sendTransaction for the dev accounts; replicas, full nodes and provers accept its state edits and reverts. Never on a network that holds value", EnvVars: env("DEV")}

// proversFlag names the provers a node believes (and a prover relays).
var proversFlag = &cli.StringSliceFlag{Name: "prover.addresses", Usage: "signing addresses of the provers whose attestations count; none: no finality ladder (safe and finalized name the sealed head)", EnvVars: env("PROVER_ADDRESSES")}

// finalityFlags set what a node believes about finality.
func finalityFlags() []cli.Flag {
	return []cli.Flag{
		proversFlag,
		&cli.IntFlag{Name: "finality.quorum", Value: 1, Usage: "distinct provers that must attest a block before it is proven", EnvVars: env("FINALITY_QUORUM")},
		&cli.DurationFlag{Name: "finality.window", Value: roleDefaults.Finality.Window, Usage: "challenge window: how long a proven block waits for a fraud proof before it is finalized", EnvVars: env("FINALITY_WINDOW")},
	}
}

func followerFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "sequencer.address", Usage: "address of the sequencer's signing key: messages signed by any other key are rejected", Required: true, EnvVars: env("SEQUENCER_ADDRESS")},
		&cli.StringFlag{Name: "sequencer.url", Usage: "the sequencer's RPC URL, where transactions are forwarded; for an HA set every candidate's, comma-separated (the leader takes them)", Required: true, EnvVars: env("SEQUENCER_URL")},
		&cli.StringFlag{Name: "preconf-block-hash", Value: chainPreconfHash, Usage: "blockHash of receipts and logs preconfirmed in a mini-block", EnvVars: env("PRECONF_BLOCK_HASH")},
		&cli.IntFlag{Name: "datadir.min-free", Value: 256, Usage: "MiB of free space on the data directory's disk below which the node pauses applying blocks (it keeps serving reads) until space is freed; -1: no check", EnvVars: env("DATADIR_MIN_FREE")},
		syncModeFlag,
	}
}

var syncModeFlag = &cli.StringFlag{Name: "sync.mode", Value: node.SyncFull, Usage: "how an empty data directory joins the chain: full (replay every block from genesis; an HA candidate: the raft log) or snap (fetch a recent block's state from peers, checked against the sequencer-signed block, then follow; blocks before it are not kept)", EnvVars: env("SYNC_MODE")}

var chainPreconfHash = node.DefaultConfig().Sequencer.PreconfHash.Hex()

// applyGenesis reads --genesis into cfg: the file's chain id and gas limit
// replace the flags', which may not be given with it.
func applyGenesis(c *cli.Context, cfg *chain.Config) error {
	path := c.String("genesis")
	if path == "" {
		return nil
	}
	for _, f := range []string{"chain-id", "gas-limit", "state-accounts", "fork-url"} {
		if c.IsSet(f) {
			return fmt.Errorf("--%s cannot be given with --genesis: the chain is the genesis file's", f)
		}
	}
	g, err := chain.ReadGenesisFile(path)
	if err == nil {
		err = chain.CheckGenesis(g)
	}
	if err != nil {
		return fmt.Errorf("--genesis %s: %w", path, err)
	}
	cfg.Custom, cfg.ChainID, cfg.GasLimit = g, g.Config.ChainID.Uint64(), g.GasLimit
	return nil
}

// progressOptions: a progress bar on stderr when it is a terminal, log
// lines every 10 s otherwise.
func progressOptions() progress.Options {
	if isatty.IsTerminal(os.Stderr.Fd()) {
		return progress.Options{Bar: os.Stderr}
	}
	return progress.Options{}
}

// applyFlags fills cfg from the flags the command has.
func applyFlags(c *cli.Context, cfg *node.Config) error {
	cfg.RPC.Addr, cfg.RPC.Port = c.String("http.addr"), c.Int("http.port")
	cfg.Progress = progressOptions()
	cfg.Chain.ChainID, cfg.Chain.GasLimit = c.Uint64("chain-id"), c.Uint64("gas-limit")
	cfg.Chain.Mnemonic, cfg.Chain.Accounts = c.String("mnemonic"), c.Int("accounts")
	cfg.Chain.StateAccounts = c.Int("state-accounts")
	if err := applyGenesis(c, &cfg.Chain); err != nil {
		return err
	}
	if c.IsSet("datadir.min-free") {
		cfg.Storage.MinFreeMB = c.Int("datadir.min-free")
	}
	if err := applyStateFlags(c, &cfg.Storage); err != nil {
		return err
	}
	cfg.Chain.AccountFunds = new(big.Int).Mul(new(big.Int).SetUint64(c.Uint64("balance")), big.NewInt(params.Ether))
	if c.IsSet("miniblock-time") || c.Duration("miniblock-time") != 0 {
		cfg.Sequencer.MiniBlockTime, cfg.Sequencer.BlockTime = c.Duration("miniblock-time"), c.Duration("block-time")
		cfg.Sequencer.Eager, cfg.Sequencer.EagerMaxTxs = c.Bool("miniblock-eager"), c.Int("miniblock-eager-max-txs")
	}
	if s := c.String("preconf-block-hash"); s != "" { // not a prover's flag
		preconf, err := hexutil.Decode(s)
		if err != nil || len(preconf) != common.HashLength {
			return fmt.Errorf("--preconf-block-hash: want 32 bytes of hex, have %q", s)
		}
		cfg.Sequencer.PreconfHash = common.BytesToHash(preconf)
	}
	rt := &cfg.RPC.Realtime
	rt.SyncTimeout, rt.SyncMaxTimeout, rt.RealtimeTimeout = c.Duration("rpc.sync-timeout"), c.Duration("rpc.sync-max-timeout"), c.Duration("rpc.realtime-timeout")
	rt.CallAfterTimeout, rt.CallAfterMax, rt.LogsPageSize = c.Duration("rpc.callafter-timeout"), c.Duration("rpc.callafter-max-timeout"), c.Int("rpc.logs-page-size")
	cfg.RPC.Filters.Timeout = c.Duration("rpc.filter-timeout")
	lim := &cfg.RPC.Limits
	lim.GasCap, lim.CallTimeout, lim.TraceTimeout, lim.LogsTimeout = c.Uint64("rpc.gascap"), c.Duration("rpc.evmtimeout"), c.Duration("rpc.trace-timeout"), c.Duration("rpc.logs-timeout")
	lim.RangeLimit, lim.MaxLogs = c.Uint64("rpc.rangelimit"), c.Int("rpc.logs-max-results")
	lim.Concurrency, lim.ConcurrencyPerIP = c.Int("rpc.heavy-concurrency"), c.Int("rpc.heavy-concurrency-per-ip")
	lim.QueuePerIP, lim.Queue, lim.Nice = c.Int("rpc.heavy-queue-per-ip"), c.Int("rpc.heavy-queue"), c.Int("rpc.heavy-nice")
	cfg.RPC.BatchLimit, cfg.RPC.BatchRespSize = c.Int("rpc.batch-request-limit"), c.Int("rpc.batch-response-max-size")
	cfg.RPC.TrustedProxies = nil
	for _, s := range c.StringSlice("rpc.trusted-proxies") {
		cfg.RPC.TrustedProxies = append(cfg.RPC.TrustedProxies, strings.Split(s, ",")...)
	}
	ws := &cfg.RPC.WS
	ws.MaxConns = c.Int("ws.max-conns")
	ws.MaxConnsPerIP, ws.MaxSubsPerConn, ws.MsgsPerSecond = c.Int("ws.max-conns-per-ip"), c.Int("ws.max-subs"), c.Float64("ws.msgs-per-second")
	ws.IdleTimeout, ws.SendQueue, ws.ReplayMiniBlocks = c.Duration("ws.idle-timeout"), c.Int("ws.send-queue"), c.Int("ws.replay")
	return nil
}

// loadOrCreateKey reads a hex secp256k1 key from path, or creates one there.
func loadOrCreateKey(path string) (*ecdsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key, err := crypto.GenerateKey()
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		return key, os.WriteFile(path, []byte(hexutil.Encode(crypto.FromECDSA(key))[2:]+"\n"), 0o600)
	}
	if err != nil {
		return nil, err
	}
	key, err := crypto.HexToECDSA(strings.TrimPrefix(strings.TrimSpace(string(data)), "0x"))
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	return key, nil
}

// runRole runs one role as its own process.
func runRole(role string) cli.ActionFunc {
	return func(c *cli.Context) error {
		log, err := newLogger(c)
		if err != nil {
			return err
		}
		cfg := node.DefaultRoleConfig()
		cfg.Storage.Dir = c.String("datadir")
		if err := applyFlags(c, &cfg.Config); err != nil {
			return err
		}
		if err := startPprof(c, log); err != nil {
			return err
		}
		dev := c.Bool("dev")
		cfg.Sequencer.Dev, cfg.Replica.Dev, cfg.FullNode.Dev, cfg.Prover.Dev = dev, dev, dev, dev
		cfg.P2P.Listen, cfg.P2P.Peers = c.StringSlice("p2p.listen"), c.StringSlice("p2p.peers")
		cfg.P2P.KeyFile = c.String("p2p.key")
		if cfg.P2P.Sync = c.String("sync.mode"); c.IsSet("sync.mode") && role != node.RoleReplica && role != node.RoleFullNode && (role != node.RoleSequencer || !c.IsSet("ha.id")) {
			return errors.New("--sync.mode is for replicas, full nodes and HA sequencer candidates (--ha.id)")
		}
		if err := node.CheckSyncMode(cfg.P2P.Sync); err != nil {
			return fmt.Errorf("--sync.mode: %w", err)
		}
		if cfg.P2P.KeyFile == "" {
			cfg.P2P.KeyFile = filepath.Join(cfg.Storage.Dir, "p2p.key")
		}
		for _, a := range c.StringSlice("prover.addresses") {
			for _, s := range strings.Split(a, ",") {
				if !common.IsHexAddress(strings.TrimSpace(s)) {
					return fmt.Errorf("--prover.addresses: %q is not an address", s)
				}
				cfg.Finality.Provers = append(cfg.Finality.Provers, common.HexToAddress(strings.TrimSpace(s)))
			}
		}
		if c.IsSet("finality.quorum") || c.Int("finality.quorum") != 0 {
			cfg.Finality.Quorum, cfg.Finality.Window = c.Int("finality.quorum"), c.Duration("finality.window")
		}
		if role != node.RoleProver {
			if err := applyDAFlags(c, &cfg.DA); err != nil {
				return err
			}
		}
		var r *node.Role
		switch role {
		case node.RoleSequencer:
			if err := applyL1Flags(c, &cfg.L1); err != nil {
				return err
			}
			sequencerRuntime(log, true)
			if cfg.SequencerKey, err = loadOrCreateKey(keyPath(c, "sequencer.key", cfg.Storage.Dir)); err != nil {
				return err
			}
			if cfg.HA, err = haConfig(c, cfg.Storage.Dir); err != nil {
				return err
			}
			if cfg.Admin, err = adminConfig(c, cfg.Storage.Dir, cfg.HA != nil); err != nil {
				return err
			}
			r, err = node.NewSequencer(cfg, log)
		case node.RoleProver:
			if cfg.ProverKey, err = loadOrCreateKey(keyPath(c, "prover.key", cfg.Storage.Dir)); err != nil {
				return err
			}
			if cfg.SequencerAddress, err = sequencerAddress(c); err != nil {
				return err
			}
			cfg.Prover.Workers, cfg.Prover.Pending = c.Int("prover.workers"), c.Int("prover.pending")
			if err := applyChallengerFlags(c, &cfg.L1); err != nil {
				return err
			}
			if mib := c.Int("prover.memory-limit"); mib > 0 && os.Getenv("GOMEMLIMIT") == "" {
				debug.SetMemoryLimit(int64(mib) << 20)
			}
			r, err = node.NewProver(cfg, log)
		default:
			if cfg.SequencerAddress, err = sequencerAddress(c); err != nil {
				return err
			}
			cfg.SequencerURL = c.String("sequencer.url")
			if err := applyFollowerL1Flags(c, &cfg.L1); err != nil {
				return err
			}
			cfg.Replica.PreconfHash = cfg.Sequencer.PreconfHash
			if role == node.RoleReplica {
				cfg.Replica.GapWait = c.Duration("replica.gap-wait")
				r, err = node.NewReplica(cfg, log)
			} else {
				cfg.FullNode.WitnessWait, cfg.FullNode.RecoverSenders = c.Duration("fullnode.witness-wait"), c.Bool("fullnode.recover-senders")

				r, err = node.NewFullNode(cfg, log)
			}
		}
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := r.Start(ctx); err != nil {
			return err
		}
		var b strings.Builder
		if r.Store() != nil {
			head := r.Store().CurrentHeader()
			fmt.Fprintf(&b, "\nmeganode %s %s: chain id %d, head %d (%s), data directory %s\n\n", role, rpc.Version, cfg.Chain.ChainID, head.Number, head.Hash(), cfg.Storage.Dir)
		} else {
			fmt.Fprintf(&b, "\nmeganode %s %s: chain id %d, data directory %s\n\n", role, rpc.Version, cfg.Chain.ChainID, cfg.Storage.Dir)
		}
		switch {
		case cfg.ProverKey != nil:
			fmt.Fprintf(&b, "Prover signer:     %s\nSequencer signer:  %s\n", crypto.PubkeyToAddress(cfg.ProverKey.PublicKey), cfg.SequencerAddress)
		case cfg.SequencerKey != nil:
			fmt.Fprintf(&b, "Sequencer signer:  %s\n", crypto.PubkeyToAddress(cfg.SequencerKey.PublicKey))
			if cfg.HA != nil {
				fmt.Fprintf(&b, "HA candidate:      %s, raft at %s, raft data %s (standby until elected)\n", cfg.HA.ID, cfg.HA.Addr, cfg.HA.Dir)
				fmt.Fprintf(&b, "Admin listener:    %s (ha_ admin methods; JWT secret %s)\n", r.AdminAddr(), cfg.Admin.JWTSecret)
			}
		default:
			fmt.Fprintf(&b, "Sequencer signer:  %s\nForwarding txs to: %s\n", cfg.SequencerAddress, cfg.SequencerURL)
		}
		switch {
		case cfg.DA.SyncFrom:
			fmt.Fprintf(&b, "Deriving from DA:  %s (%s commitments; index at %s)\n", cfg.DA.URL, cfg.DA.Mode, cmp.Or(cfg.DA.IndexURL, cfg.SequencerURL))
		case cfg.DA.URL != "" && role == node.RoleSequencer:
			fmt.Fprintf(&b, "Posting to DA:     %s (%s commitments)\n", cfg.DA.URL, cfg.DA.Mode)
		}
		if cfg.L1.ProposerKey != nil {
			fmt.Fprintf(&b, "Proposing outputs: %s (oracle %s, proposer %s)\n", cfg.L1.URL, cfg.L1.OutputOracle, crypto.PubkeyToAddress(cfg.L1.ProposerKey.PublicKey))
		}
		if cfg.L1.URL != "" && role == node.RoleSequencer {
			fmt.Fprintf(&b, "Deposits from L1:  %s (portal %s, %d confirmations, from L1 block %d)\n", cfg.L1.URL, cfg.L1.Portal, cfg.L1.Confirmations, cfg.L1.StartBlock)
		}
		if len(cfg.Finality.Provers) > 0 {
			fmt.Fprintf(&b, "Provers believed:  %v (quorum %d, window %s)\n", cfg.Finality.Provers, max(cfg.Finality.Quorum, 1), cfg.Finality.Window)
		}
		for _, a := range r.P2PAddrs() {
			fmt.Fprintf(&b, "P2P address:       %s\n", a)
		}
		fmt.Fprintf(&b, "\nListening on %s (HTTP and websocket; /metrics, /ready)\n\n", r.RPCAddr())
		fmt.Print(b.String())
		<-ctx.Done()
		log.Info().Msg("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return r.Stop(sctx)
	}
}

// keyPath is the file of a signing key: the flag's value, or the file of
// that name in the data directory.
func keyPath(c *cli.Context, flag, dir string) string {
	if p := c.String(flag); p != "" {
		return p
	}
	return filepath.Join(dir, flag)
}

func sequencerAddress(c *cli.Context) (common.Address, error) {
	s := c.String("sequencer.address")
	if !common.IsHexAddress(s) {
		return common.Address{}, fmt.Errorf("--sequencer.address %q is not an address", s)
	}
	return common.HexToAddress(s), nil
}
