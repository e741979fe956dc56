package l1

import (
	"context"
	"crypto/ecdsa"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/meganode/meganode/chain"
)

// Challenger deletes, during their window, the output roots on L1 that its
// prover knows to be wrong, signing with the prover's key (one of the
// oracle's challengers) and sending from a sender account that pays the gas
// (any account may):
//   - an output whose root disagrees with the prover's attestation of its
//     block: `challenge(index, attestedRoot, sig)`;
//   - an output of a block the prover convicted with a fraud proof (the
//     block does not re-execute to its header's state root), whose root
//     agrees with that bad block: `challengeBlock(index, preimage, header,
//     reexecutedRoot, sig)`, where L1 checks that the preimage is the
//     output's and the header the preimage's block.
//
// It hears outputs as an OutputWatcher's sink, and attestations (Attested)
// and fraud claims (Fraud) from its prover.
type Challenger struct {
	c        *Client
	prover   *ecdsa.PrivateKey
	sender   *ecdsa.PrivateKey
	log      zerolog.Logger
	events   chan func(context.Context)
	attested map[uint64]common.Hash // the prover's output roots, newest blocks
	frauds   map[uint64]FraudClaim  // blocks the prover convicted
	outputs  map[uint64]chain.L1Output
	done     map[uint64]bool // output indexes challenged
	mu       sync.Mutex
	count    uint64 // outputs deleted, either way
	blocks   uint64 // of which with challengeBlock
}

// FraudClaim is a block the prover convicted with a fraud proof, as a
// challenge of its output needs it.
type FraudClaim struct {
	Header *types.Header // the block's header, as the sequencer signed it
	// Claimed is the state root the prover's re-execution of the block gave
	// (chain.Verdict.StateRoot); zero when it gave none (the block failed
	// before its end), and then only a self-contradicting output can be
	// challenged.
	Claimed common.Hash
	// PasserRoots are the message passer storage roots an output of the
	// block may have been computed with (the proposer reads it in the state
	// of the header's root, which the prover does not have): the candidates
	// the challenger tries until one rebuilds the output's root.
	PasserRoots []common.Hash
}

// attestedLimit bounds the output roots a challenger remembers.
const attestedLimit = 1 << 16

// fraudLimit bounds the fraud claims a challenger remembers: a sequencer
// convicted once is rarely convicted again.
const fraudLimit = 1024

// NewChallenger challenges with prover's signature, paid by sender.
func NewChallenger(c *Client, prover, sender *ecdsa.PrivateKey, log zerolog.Logger) *Challenger {
	return &Challenger{c: c, prover: prover, sender: sender, log: log.With().Str("component", "l1-challenger").Logger(),
		events: make(chan func(context.Context), 1024), attested: make(map[uint64]common.Hash), frauds: make(map[uint64]FraudClaim),
		outputs: make(map[uint64]chain.L1Output), done: make(map[uint64]bool)}
}

// Challenged is how many outputs this challenger deleted.
func (x *Challenger) Challenged() uint64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.count
}

// BlocksChallenged is how many of them it deleted with challengeBlock.
func (x *Challenger) BlocksChallenged() uint64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.blocks
}

// Attested records the output root the prover attested for block n.
func (x *Challenger) Attested(n uint64, root common.Hash) {
	x.events <- func(ctx context.Context) {
		if len(x.attested) >= attestedLimit {
			for k := range x.attested {
				if k+attestedLimit/2 < n {
					delete(x.attested, k)
				}
			}
		}
		x.attested[n] = root
		x.checkBlock(ctx, n)
	}
}

// Fraud records a block the prover convicted.
func (x *Challenger) Fraud(f FraudClaim) {
	x.events <- func(ctx context.Context) {
		n := f.Header.Number.Uint64()
		if _, ok := x.frauds[n]; !ok && len(x.frauds) >= fraudLimit {
			x.log.Warn().Uint64("l2_block", n).Msg("too many fraud claims remembered; this one is not challenged on L1")
			return
		}
		x.frauds[n] = f
		x.checkBlock(ctx, n)
	}
}

// checkBlock checks the outputs of block n heard so far.
func (x *Challenger) checkBlock(ctx context.Context, n uint64) {
	for i, o := range x.outputs {
		if o.L2Block == n {
			x.check(ctx, i)
		}
	}
}

// L1Output, L1Deleted and L1Head make the challenger an OutputWatcher sink.
func (x *Challenger) L1Output(o chain.L1Output) {
	x.events <- func(ctx context.Context) {
		x.outputs[o.Index] = o
		x.check(ctx, o.Index)
	}
}

func (x *Challenger) L1Deleted(index uint64) {
	x.events <- func(context.Context) {
		for i := range x.outputs {
			if i >= index {
				delete(x.outputs, i)
			}
		}
		// The oracle reuses the indexes for the outputs proposed next.
		for i := range x.done {
			if i >= index {
				delete(x.done, i)
			}
		}
	}
}

func (x *Challenger) L1Head(chain.L1View) {}

// Run handles what it hears until ctx ends.
func (x *Challenger) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-x.events:
			f(ctx)
		}
	}
}

// check challenges output i if its block is one the prover convicted and
// the output is that block's, or if the prover attested another root for
// its block; an output it agrees with is left, and one of a block it has
// neither verified nor convicted waits for that.
func (x *Challenger) check(ctx context.Context, i uint64) {
	o, ok := x.outputs[i]
	if !ok || x.done[i] {
		return
	}
	if f, ok := x.frauds[o.L2Block]; ok {
		if pre, signed, ok := f.preimage(o.Root); ok {
			x.challengeBlock(ctx, o, f, pre, signed)
			return
		}
		// Another block at that height (a dev chain went back over the
		// convicted one), or a passer root the prover cannot guess: the
		// attestation, if any, decides.
		x.log.Warn().Uint64("output", o.Index).Uint64("l2_block", o.L2Block).Stringer("output_root", o.Root).Stringer("convicted", f.Header.Hash()).
			Msg("output of a convicted block's height whose preimage this prover cannot rebuild")
	}
	mine, ok := x.attested[o.L2Block]
	if !ok {
		return
	}
	if mine == o.Root {
		delete(x.outputs, i)
		return
	}
	out := &Output{Index: o.Index, OutputRoot: o.Root, L2BlockNumber: o.L2Block, Timestamp: o.L1Time}
	sig, err := x.c.SignChallenge(x.prover, out, mine)
	if err != nil {
		x.log.Error().Err(err).Msg("sign a challenge")
		return
	}
	x.send(ctx, o, "challenge", func(ctx context.Context) (*types.Receipt, error) {
		return x.c.Challenge(ctx, x.c.Transactor(x.sender), o.Index, mine, sig)
	}, func(e *zerolog.Event) *zerolog.Event { return e.Stringer("attested_root", mine) })
}

// preimage finds the output root preimage of root among those the claim's
// block may have: the header's state root (the sequencer's claim, which a
// proposer that trusts it posts) or the re-executed one (an output that
// contradicts its own header), with each candidate passer root. signed
// says the preimage has the header's root, so L1 needs the prover's word.
func (f FraudClaim) preimage(root common.Hash) (OutputRootProof, bool, bool) {
	hash := f.Header.Hash()
	for _, state := range []common.Hash{f.Header.Root, f.Claimed} {
		if state == (common.Hash{}) {
			continue
		}
		for _, passer := range f.PasserRoots {
			p := OutputRootProof{StateRoot: state, MessagePasserStorageRoot: passer, LatestBlockhash: hash}
			if p.Root() == root {
				return p, state == f.Header.Root, true
			}
		}
	}
	return OutputRootProof{}, false, false
}

// challengeBlock deletes the output o of the convicted block with its
// preimage and header; signed: the prover signs its re-executed root.
func (x *Challenger) challengeBlock(ctx context.Context, o chain.L1Output, f FraudClaim, pre OutputRootProof, signed bool) {
	var sig []byte
	claimed := f.Claimed
	if signed {
		if claimed == (common.Hash{}) || claimed == f.Header.Root {
			// The oracle takes only a claim of another state root: a block
			// convicted for its receipts, gas or a failing transaction
			// cannot be challenged this way.
			x.done[o.Index] = true
			x.log.Error().Uint64("output", o.Index).Uint64("l2_block", o.L2Block).Stringer("claimed_root", claimed).
				Msg("output of a convicted block not challenged: the fraud proof claims no other state root")
			return
		}
		var err error
		if sig, err = x.c.SignFraud(x.prover, o.Index, f.Header.Hash(), claimed); err != nil {
			x.log.Error().Err(err).Msg("sign a fraud claim")
			return
		}
	}
	if x.send(ctx, o, "challengeBlock", func(ctx context.Context) (*types.Receipt, error) {
		return x.c.ChallengeBlock(ctx, x.c.Transactor(x.sender), o.Index, pre, f.Header, claimed, sig)
	}, func(e *zerolog.Event) *zerolog.Event {
		return e.Stringer("block_hash", f.Header.Hash()).Stringer("header_root", f.Header.Root).Stringer("claimed_root", claimed)
	}) {
		x.mu.Lock()
		x.blocks++
		x.mu.Unlock()
	}
}

// send sends a challenge of output o, retrying what may pass later; it
// reports whether the output was deleted.
func (x *Challenger) send(ctx context.Context, o chain.L1Output, what string, call func(context.Context) (*types.Receipt, error), fields func(*zerolog.Event) *zerolog.Event) bool {
	i := o.Index
	for attempt := 0; attempt < 5 && ctx.Err() == nil; attempt++ {
		r, err := call(ctx)
		if err == nil {
			x.done[i] = true
			delete(x.outputs, i)
			x.mu.Lock()
			x.count++
			x.mu.Unlock()
			fields(x.log.Warn().Str("call", what).Uint64("output", o.Index).Uint64("l2_block", o.L2Block).Stringer("disputed_root", o.Root)).
				Uint64("l1_block", r.BlockNumber.Uint64()).Msg("challenged an output root on L1: deleted")
			return true
		}
		if strings.Contains(err.Error(), "execution reverted") {
			// The oracle refuses it (out of its window, deleted meanwhile):
			// sending it again changes nothing.
			x.done[i] = true
			x.log.Error().Err(err).Str("call", what).Uint64("output", o.Index).Uint64("l2_block", o.L2Block).Stringer("disputed_root", o.Root).Msg("the oracle refused the challenge of an output")
			return false
		}
		x.log.Warn().Err(err).Str("call", what).Uint64("output", o.Index).Msg("challenge failed; retrying")
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return false
}
