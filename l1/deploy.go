package l1

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/meganode/meganode/contracts"
)

// Addresses are where the contract set lives on the L1.
type Addresses struct {
	Portal       common.Address `json:"portal"`
	OutputOracle common.Address `json:"outputOracle"`
	DAInbox      common.Address `json:"daInbox"`
}

// Config is the contract set's constructor parameters.
type Config struct {
	SubmissionInterval  uint64           // L2 blocks between outputs, default 10
	L2BlockTime         uint64           // seconds, default 1 (DESIGN.md §2's block time)
	StartingBlockNumber uint64           // the L2 block outputs count from, default 0
	StartingTimestamp   uint64           // that block's timestamp; 0: the L1's latest block time
	FinalizationPeriod  time.Duration    // the challenge window, default 7 days
	ProofMaturityDelay  time.Duration    // from proving to finalizing a withdrawal, default 7 days
	Proposer            common.Address   // posts output roots
	Challengers         []common.Address // the provers' keys
	Batcher             common.Address   // records DA blobs
}

// DefaultConfig is the OP Stack's mainnet windows with meganode's block time;
// the addresses are left to fill in.
func DefaultConfig() Config {
	return Config{
		SubmissionInterval: 10,
		L2BlockTime:        1,
		FinalizationPeriod: 7 * 24 * time.Hour,
		ProofMaturityDelay: 7 * 24 * time.Hour,
	}
}

// Check validates the configuration.
func (c Config) Check() error {
	switch {
	case c.SubmissionInterval == 0:
		return errors.New("submission interval must be at least one block")
	case c.L2BlockTime == 0:
		return errors.New("L2 block time must be at least one second")
	case c.FinalizationPeriod < 0 || c.FinalizationPeriod%time.Second != 0:
		return fmt.Errorf("finalization period %s is not a whole number of seconds", c.FinalizationPeriod)
	case c.ProofMaturityDelay < 0 || c.ProofMaturityDelay%time.Second != 0:
		return fmt.Errorf("proof maturity delay %s is not a whole number of seconds", c.ProofMaturityDelay)
	case c.Proposer == (common.Address{}):
		return errors.New("a proposer address is needed")
	case c.Batcher == (common.Address{}):
		return errors.New("a batcher address is needed")
	}
	return nil
}

// Deployment is a deployed contract set and the receipts that deployed it.
type Deployment struct {
	Addresses Addresses
	Receipts  []*types.Receipt // oracle, portal, inbox
}

// Deploy deploys OutputOracle, Portal and DAInbox from opts' account, in that
// order and at consecutive nonces, and waits for them to be mined.
func Deploy(ctx context.Context, b Backend, opts *bind.TransactOpts, cfg Config) (*Deployment, error) {
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("l1: %w", err)
	}
	if cfg.StartingTimestamp == 0 {
		head, err := headerByNumber(ctx, b)
		if err != nil {
			return nil, err
		}
		cfg.StartingTimestamp = head.Time
	}
	nonce, err := b.PendingNonceAt(ctx, opts.From)
	if err != nil {
		return nil, fmt.Errorf("deploy: nonce of %s: %w", opts.From, err)
	}
	secs := func(d time.Duration) *big.Int { return new(big.Int).SetUint64(uint64(d / time.Second)) }
	u := func(x uint64) *big.Int { return new(big.Int).SetUint64(x) }
	challengers := cfg.Challengers
	if challengers == nil {
		challengers = []common.Address{}
	}
	// The portal's constructor takes the oracle's address, known from the nonce
	// before the oracle is mined, so the three can share a block.
	oracle := crypto.CreateAddress(opts.From, nonce)
	steps := []struct {
		name string
		args []any
	}{
		{contracts.OutputOracle, []any{u(cfg.SubmissionInterval), u(cfg.L2BlockTime), u(cfg.StartingBlockNumber), u(cfg.StartingTimestamp), cfg.Proposer, challengers, secs(cfg.FinalizationPeriod)}},
		{contracts.Portal, []any{oracle, secs(cfg.ProofMaturityDelay)}},
		{contracts.DAInbox, []any{cfg.Batcher}},
	}
	var txs []*types.Transaction
	for i, s := range steps {
		a := mustArtifact(s.name)
		input, err := a.ABI.Pack("", s.args...)
		if err != nil {
			return nil, fmt.Errorf("deploy %s: constructor arguments: %w", s.name, err)
		}
		o := *opts
		o.Context, o.Nonce = ctx, u(nonce+uint64(i))
		_, tx, err := bind.DeployContract(&o, a.Bytecode, b, input)
		if err != nil {
			return nil, fmt.Errorf("deploy %s: %w", s.name, err)
		}
		txs = append(txs, tx)
	}
	d := &Deployment{}
	for i, tx := range txs {
		r, err := bind.WaitMined(ctx, b, tx.Hash())
		if err != nil {
			return nil, fmt.Errorf("deploy %s: wait for %s: %w", steps[i].name, tx.Hash(), err)
		}
		if r.Status != types.ReceiptStatusSuccessful {
			return nil, fmt.Errorf("deploy %s in %s: %w", steps[i].name, tx.Hash(), ErrReverted)
		}
		d.Receipts = append(d.Receipts, r)
	}
	d.Addresses = Addresses{OutputOracle: d.Receipts[0].ContractAddress, Portal: d.Receipts[1].ContractAddress, DAInbox: d.Receipts[2].ContractAddress}
	return d, nil
}

func headerByNumber(ctx context.Context, b Backend) (*types.Header, error) {
	h, err := b.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("latest L1 header: %w", err)
	}
	return h, nil
}

// Client drives a deployed contract set on an L1.
type Client struct {
	b       Backend
	addrs   Addresses
	chainID *big.Int
	portal  *bound
	oracle  *bound
	inbox   *bound
}

// NewClient binds the contract set at addrs on b.
func NewClient(ctx context.Context, b Backend, addrs Addresses) (*Client, error) {
	id, err := b.ChainID(ctx)
	if err != nil {
		return nil, fmt.Errorf("l1 chain id: %w", err)
	}
	return &Client{
		b: b, addrs: addrs, chainID: id,
		portal: newBound(b, contracts.Portal, addrs.Portal),
		oracle: newBound(b, contracts.OutputOracle, addrs.OutputOracle),
		inbox:  newBound(b, contracts.DAInbox, addrs.DAInbox),
	}, nil
}

// Addresses returns where the contracts are.
func (c *Client) Addresses() Addresses { return c.addrs }

// ChainID is the L1's chain id.
func (c *Client) ChainID() *big.Int { return new(big.Int).Set(c.chainID) }

// Transactor makes transaction options that sign with key on this L1.
func (c *Client) Transactor(key *ecdsa.PrivateKey) *bind.TransactOpts {
	return bind.NewKeyedTransactor(key, c.chainID)
}
