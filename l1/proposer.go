package l1

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/crypto"
)

// OutputSource gives the proposer what it proposes: the output root
// preimage of an L2 block, once the node is willing to vouch for it.
type OutputSource interface {
	// Output returns block n's OutputRootProof, or false while n is not yet
	// ready (not sealed, or not proven where the node keeps a ladder).
	Output(n uint64) (OutputRootProof, bool, error)
}

// ProposerConfig configures a Proposer.
type ProposerConfig struct {
	Poll time.Duration // how often the oracle is read, default 1 s
}

// Proposer posts output roots to the OutputOracle as op-proposer does for
// L2OutputOracle: whenever the oracle's next block (latest +
// SUBMISSION_INTERVAL) is ready at the source and its L2 time has passed on
// L1, it proposes that block's root from Key's account.
type Proposer struct {
	c   *Client
	key *ecdsa.PrivateKey
	src OutputSource
	cfg ProposerConfig
	log zerolog.Logger

	mu       sync.Mutex
	proposed uint64 // L2 block of the newest output this proposer posted
	count    uint64
	gas      uint64 // of the newest proposal
	err      error
}

// NewProposer proposes src's outputs to c's oracle with key.
func NewProposer(c *Client, key *ecdsa.PrivateKey, src OutputSource, cfg ProposerConfig, log zerolog.Logger) *Proposer {
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	return &Proposer{c: c, key: key, src: src, cfg: cfg, log: log.With().Str("component", "l1-proposer").Logger()}
}

// ProposerStats are a proposer's counters.
type ProposerStats struct {
	Proposed uint64 // outputs posted
	Latest   uint64 // L2 block of the newest one
	Gas      uint64 // L1 gas of the newest one
}

// Stats returns the proposer's counters.
func (p *Proposer) Stats() ProposerStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return ProposerStats{Proposed: p.count, Latest: p.proposed, Gas: p.gas}
}

// Err is why the last round failed, nil after a good one.
func (p *Proposer) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Run proposes until ctx ends; failures are logged once and retried.
func (p *Proposer) Run(ctx context.Context) {
	poll(ctx, p.cfg.Poll, p.log, "output proposal failed; retrying", "output proposals resumed", p.Step)
}

// Step proposes every output that is due and ready, oldest first.
func (p *Proposer) Step(ctx context.Context) error {
	err := p.step(ctx)
	p.mu.Lock()
	p.err = err
	p.mu.Unlock()
	return err
}

// errNotYet ends a round that has nothing more to propose.
var errNotYet = errors.New("not yet")

func (p *Proposer) step(ctx context.Context) error {
	for {
		err := p.proposeNext(ctx)
		if errors.Is(err, errNotYet) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (p *Proposer) proposeNext(ctx context.Context) error {
	next, err := p.c.NextBlockNumber(ctx)
	if err != nil {
		return err
	}
	proof, ok, err := p.src.Output(next)
	if err != nil {
		return fmt.Errorf("output of L2 block %d: %w", next, err)
	}
	if !ok {
		return errNotYet
	}
	due, err := p.c.oracle.callBig(ctx, "computeL2Timestamp", new(big.Int).SetUint64(next))
	if err != nil {
		return err
	}
	head, err := p.c.b.HeaderByNumber(ctx, nil)
	if err != nil {
		return fmt.Errorf("L1 head: %w", err)
	}
	// The oracle takes a block once its L2 time is before the time of the
	// L1 block that includes the proposal; gas estimation runs in the
	// pending block, which some L1s time as the head.
	if due.Uint64() >= head.Time {
		return errNotYet
	}
	r, err := p.c.ProposeL2Output(ctx, p.c.Transactor(p.key), proof.Root(), next, [32]byte{}, 0)
	if err != nil {
		return fmt.Errorf("propose the output of L2 block %d: %w", next, err)
	}
	p.mu.Lock()
	p.proposed, p.gas = next, r.GasUsed
	p.count++
	p.mu.Unlock()
	p.log.Info().Uint64("l2_block", next).Stringer("output_root", proof.Root()).Uint64("l1_block", r.BlockNumber.Uint64()).
		Uint64("gas", r.GasUsed).Str("proposer", crypto.PubkeyToAddress(p.key.PublicKey).Hex()).Msg("proposed an output root")
	return nil
}
