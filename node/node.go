// Package node assembles meganode's roles into a process. It is the only
// package that knows every other one: it builds the store, the sequencer and
// the RPC server from one Config, starts them dependencies first and stops
// them in reverse.
package node

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/rs/zerolog"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/rpc"
	"github.com/meganode/meganode/sequencer"
	"github.com/meganode/meganode/storage"
)

// Config is a devnet's whole configuration.
type Config struct {
	Chain     chain.Config
	Storage   storage.Config
	Sequencer sequencer.Config
	RPC       rpc.Config
}

// DefaultConfig returns the devnet defaults.
func DefaultConfig() Config {
	return Config{
		Chain:     chain.DefaultConfig(),
		Sequencer: sequencer.DefaultConfig(),
		RPC:       rpc.DefaultConfig(),
	}
}

// Check validates every part.
func (c Config) Check() error {
	if err := c.Chain.Check(); err != nil {
		return fmt.Errorf("chain: %w", err)
	}
	if err := c.Sequencer.Check(); err != nil {
		return err
	}
	return c.RPC.Check()
}

// Devnet is every role in one process: sequencer, storage and RPC.
type Devnet struct {
	log      zerolog.Logger
	store    *storage.Store
	seq      *sequencer.Sequencer
	rpc      *rpc.Server
	accounts []chain.DevAccount
	stopOnce sync.Once
	stopErr  error
}

// NewDevnet builds a devnet; it starts nothing and releases what it opened
// on failure.
func NewDevnet(cfg Config, log zerolog.Logger) (*Devnet, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	genesis, accounts, err := chain.Genesis(cfg.Chain)
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	store, err := storage.Open(cfg.Storage, genesis, log)
	if err != nil {
		return nil, err
	}
	seqCfg := cfg.Sequencer
	seqCfg.GasLimit, seqCfg.Coinbase = cfg.Chain.GasLimit, cfg.Chain.Coinbase
	seq, err := sequencer.New(seqCfg, store, nil, log)
	if err != nil {
		store.Close()
		return nil, err
	}
	backend := rpc.Backend{Chain: store, Latest: seq, Txs: seq, Feeds: seq, Pool: seq.Pool(), Dev: accounts}
	server, err := rpc.NewServer(cfg.RPC, backend, seq.Healthy, log)
	if err != nil {
		store.Close()
		return nil, err
	}
	return &Devnet{log: log, store: store, seq: seq, rpc: server, accounts: accounts}, nil
}

// Accounts returns the prefunded dev accounts.
func (d *Devnet) Accounts() []chain.DevAccount { return d.accounts }

// Store returns the chain store.
func (d *Devnet) Store() *storage.Store { return d.store }

// Sequencer returns the sequencer.
func (d *Devnet) Sequencer() *sequencer.Sequencer { return d.seq }

// RPCAddr is the address the RPC server listens on.
func (d *Devnet) RPCAddr() string { return d.rpc.Addr() }

// Start starts the sequencer, then the RPC server.
func (d *Devnet) Start(ctx context.Context) error {
	if err := d.seq.Start(ctx); err != nil {
		return err
	}
	if err := d.rpc.Start(ctx); err != nil {
		return errors.Join(err, d.seq.Stop(ctx))
	}
	return nil
}

// Stop stops the RPC server, the sequencer and closes the store; it is
// idempotent.
func (d *Devnet) Stop(ctx context.Context) error {
	d.stopOnce.Do(func() {
		d.stopErr = errors.Join(d.rpc.Stop(ctx), d.seq.Stop(ctx), d.store.Close())
	})
	return d.stopErr
}
