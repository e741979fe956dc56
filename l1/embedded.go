package l1

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
)

// EmbeddedConfig configures the embedded L1.
type EmbeddedConfig struct {
	Mnemonic string   // dev keys are derived from it, default chain.DefaultMnemonic
	Accounts int      // funded dev keys, default 10
	Balance  *big.Int // each key's balance, default 10,000 ETH
	// ChainConfig is the L1's forks, default OsakaConfig (mainnet's rules).
	ChainConfig *params.ChainConfig
	// IPCPath, when set, serves the L1 node's JSON-RPC on that Unix socket
	// (every namespace); default none.
	IPCPath string
	// AutoMine seals a block after every transaction sent through Client, as
	// anvil does by default; without it only Commit seals. Default true.
	AutoMine bool
	// HTTPAddr, when set (host:port, port 0 for any free one), serves the
	// L1's JSON-RPC (eth, net, web3) over HTTP there: users and tools send
	// their L1 transactions to it. Default none.
	HTTPAddr string
	// BlockTime, when set, seals a block that often whatever is pending,
	// as anvil's --block-time: transactions sent over HTTP or IPC wait for
	// it. Default none.
	BlockTime time.Duration
}

// DefaultEmbeddedConfig is anvil's default setup.
func DefaultEmbeddedConfig() EmbeddedConfig {
	return EmbeddedConfig{
		Mnemonic: chain.DefaultMnemonic,
		Accounts: 10,
		Balance:  new(big.Int).Mul(big.NewInt(10_000), big.NewInt(params.Ether)),
		AutoMine: true,
	}
}

// OsakaConfig is go-ethereum's dev chain (chain id 1337) on every fork
// through Osaka, as mainnet runs, without the later forks the dev chain
// also enables (their draft state-gas metering (EIP-8037) makes a new
// storage slot cost several times mainnet's gas).
func OsakaConfig() *params.ChainConfig {
	c := *params.AllDevChainProtocolChanges
	c.AmsterdamTime, c.BogotaTime = nil, nil
	return &c
}

// Check validates the configuration.
func (c EmbeddedConfig) Check() error {
	if c.Accounts < 1 {
		return errors.New("the embedded L1 needs at least one funded account")
	}
	if c.Balance == nil || c.Balance.Sign() <= 0 {
		return errors.New("the embedded L1's accounts need a positive balance")
	}
	return nil
}

// Embedded is an in-process L1: go-ethereum's simulated backend (a dev chain,
// chain id 1337, on the forks of EmbeddedConfig.ChainConfig) with funded dev
// keys. Blocks are sealed on
// demand (Commit, AdjustTime) or after each transaction (AutoMine); block
// times are the wall clock or, once AdjustTime moved past it, one second
// after the parent.
type Embedded struct {
	sim      *simulated.Backend
	client   *embeddedClient
	rpc      *rpc.Client // over IPCPath
	httpURL  string
	stop     chan struct{} // ends the block-time loop
	done     chan struct{}
	Accounts []chain.DevAccount
}

// NewEmbedded starts an embedded L1.
func NewEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("l1: %w", err)
	}
	accounts, err := chain.DeriveAccounts(cfg.Mnemonic, cfg.Accounts)
	if err != nil {
		return nil, fmt.Errorf("l1: dev accounts: %w", err)
	}
	alloc := types.GenesisAlloc{}
	for _, a := range accounts {
		alloc[a.Address] = types.Account{Balance: new(big.Int).Set(cfg.Balance)}
	}
	forks := cfg.ChainConfig
	if forks == nil {
		forks = OsakaConfig()
	}
	var httpHost string
	var httpPort int
	if cfg.HTTPAddr != "" {
		if httpHost, httpPort, err = freeAddr(cfg.HTTPAddr); err != nil {
			return nil, fmt.Errorf("l1: http address: %w", err)
		}
	}
	sim, err := newSimulated(alloc, func(n *node.Config, eth *ethconfig.Config) {
		eth.Genesis.Config = forks
		n.IPCPath = cfg.IPCPath
		if httpHost != "" {
			n.HTTPHost, n.HTTPPort = httpHost, httpPort
			n.HTTPModules = []string{"eth", "net", "web3"}
			n.HTTPVirtualHosts, n.HTTPCors = []string{"*"}, []string{"*"}
		}
	})
	if err != nil {
		return nil, err
	}
	e := &Embedded{sim: sim, Accounts: accounts}
	if httpHost != "" {
		e.httpURL = "http://" + net.JoinHostPort(httpHost, strconv.Itoa(httpPort))
	}
	if cfg.IPCPath != "" {
		if e.rpc, err = rpc.Dial(cfg.IPCPath); err != nil {
			return nil, errors.Join(fmt.Errorf("l1: dial the embedded L1 at %s: %w", cfg.IPCPath, err), sim.Close())
		}
	}
	e.client = &embeddedClient{Client: sim.Client(), e: e, autoMine: cfg.AutoMine}
	if cfg.BlockTime > 0 {
		e.stop, e.done = make(chan struct{}), make(chan struct{})
		go e.mine(cfg.BlockTime)
	}
	return e, nil
}

// newSimulated is simulated.NewBackend, whose failures (a port in use)
// are panics, as an error.
//
// A go-ethereum node without a data directory makes a temporary keystore
// directory and removes it only when it is closed, so every kill -9 of a
// devnet would leave one in the temp dir. The backend never uses its keystore:
// it gets a directory of ours, removed as soon as the node has made it.
func newSimulated(alloc types.GenesisAlloc, opt func(*node.Config, *ethconfig.Config)) (sim *simulated.Backend, err error) {
	keys, err := os.MkdirTemp("", "meganode-l1-keystore")
	if err != nil {
		return nil, fmt.Errorf("l1: start the embedded L1: %w", err)
	}
	defer os.RemoveAll(keys)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("l1: start the embedded L1: %v", r)
		}
	}()
	return simulated.NewBackend(alloc, func(n *node.Config, eth *ethconfig.Config) {
		opt(n, eth)
		n.KeyStoreDir = keys
	}), nil
}

// freeAddr resolves host:port, port 0 to a free port of host. The port is
// free when this returns; go-ethereum's node binds it a moment later.
func freeAddr(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("port %q", port)
	}
	if p != 0 {
		return host, p, nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", 0, err
	}
	defer l.Close()
	return host, l.Addr().(*net.TCPAddr).Port, nil
}

// mine seals a block every period until Close.
func (e *Embedded) mine(period time.Duration) {
	defer close(e.done)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			e.Commit()
		}
	}
}

// HTTPURL is the URL of the L1's JSON-RPC over HTTP (EmbeddedConfig.HTTPAddr;
// empty without one).
func (e *Embedded) HTTPURL() string { return e.httpURL }

// Client is the L1's client (a Backend, for Deploy and NewClient).
func (e *Embedded) Client() simulated.Client { return e.client }

// RPC is a client of the L1 node's IPC endpoint (EmbeddedConfig.IPCPath;
// nil without one), for the methods Client lacks: eth_getProof through
// gethclient, for one. Transactions sent through it are not automined.
func (e *Embedded) RPC() *rpc.Client { return e.rpc }

// Commit seals a block with the pending transactions and returns its hash.
func (e *Embedded) Commit() common.Hash {
	e.client.mu.Lock()
	defer e.client.mu.Unlock()
	return e.sim.Commit()
}

// AdjustTime seals an empty block d after the latest one: how tests move
// through challenge windows without waiting. It fails while transactions
// wait (with AutoMine off, Commit them first).
func (e *Embedded) AdjustTime(d time.Duration) error {
	e.client.mu.Lock()
	defer e.client.mu.Unlock()
	// The transaction pool drops the transactions of a sealed block when it
	// hears of the new head, asynchronously: right after an automined block
	// it may still count them as pending, which AdjustTime refuses. Give it
	// up to a second.
	var err error
	for range 1000 {
		if err = e.sim.AdjustTime(d); err == nil || !strings.Contains(err.Error(), "non-empty block") {
			return err
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("adjust time: %w", err)
}

// SetAutoMine turns sealing after each sent transaction on or off (anvil's
// evm_setAutomine); with it off, transactions wait for Commit.
func (e *Embedded) SetAutoMine(on bool) {
	e.client.mu.Lock()
	defer e.client.mu.Unlock()
	e.client.autoMine = on
}

// Close stops the L1.
func (e *Embedded) Close() error {
	if e.stop != nil {
		close(e.stop)
		<-e.done
		e.stop = nil
	}
	if e.rpc != nil {
		e.rpc.Close()
	}
	return e.sim.Close()
}

// embeddedClient is the simulated client, sealing a block after each sent
// transaction when autoMine is on.
type embeddedClient struct {
	simulated.Client
	e        *Embedded
	autoMine bool
	mu       sync.Mutex // orders sends and seals
}

func (c *embeddedClient) SendTransaction(ctx context.Context, tx *types.Transaction) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.Client.SendTransaction(ctx, tx); err != nil {
		return err
	}
	if c.autoMine {
		c.e.sim.Commit()
	}
	return nil
}
