package l1

import (
	"context"
	"crypto/ecdsa"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"

	"github.com/meganode/meganode/chain"
)

// Challenger deletes, during their window, the output roots on L1 that
// disagree with what its prover attested: it signs the oracle's challenge
// digest with the prover's key (one of the oracle's challengers) and sends
// `challenge` from a sender account that pays the gas (any account may).
// It hears outputs as an OutputWatcher's sink and attestations from its
// prover (Attested).
type Challenger struct {
	c        *Client
	prover   *ecdsa.PrivateKey
	sender   *ecdsa.PrivateKey
	log      zerolog.Logger
	events   chan func(context.Context)
	attested map[uint64]common.Hash // the prover's output roots, newest blocks
	outputs  map[uint64]chain.L1Output
	done     map[uint64]bool // output indexes challenged
	mu       sync.Mutex
	count    uint64
}

// attestedLimit bounds the output roots a challenger remembers.
const attestedLimit = 1 << 16

// NewChallenger challenges with prover's signature, paid by sender.
func NewChallenger(c *Client, prover, sender *ecdsa.PrivateKey, log zerolog.Logger) *Challenger {
	return &Challenger{c: c, prover: prover, sender: sender, log: log.With().Str("component", "l1-challenger").Logger(),
		events: make(chan func(context.Context), 1024), attested: make(map[uint64]common.Hash), outputs: make(map[uint64]chain.L1Output), done: make(map[uint64]bool)}
}

// Challenged is how many outputs this challenger deleted.
func (x *Challenger) Challenged() uint64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.count
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
		for i, o := range x.outputs {
			if o.L2Block == n {
				x.check(ctx, i)
			}
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

// check challenges output i if the prover attested another root for its
// block; an output it agrees with, or whose block it has not verified yet,
// is left (the latter until the attestation comes).
func (x *Challenger) check(ctx context.Context, i uint64) {
	o, ok := x.outputs[i]
	if !ok || x.done[i] {
		return
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
	for attempt := 0; attempt < 5 && ctx.Err() == nil; attempt++ {
		r, err := x.c.Challenge(ctx, x.c.Transactor(x.sender), o.Index, mine, sig)
		if err == nil {
			x.done[i] = true
			delete(x.outputs, i)
			x.mu.Lock()
			x.count++
			x.mu.Unlock()
			x.log.Warn().Uint64("output", o.Index).Uint64("l2_block", o.L2Block).Stringer("disputed_root", o.Root).Stringer("attested_root", mine).
				Uint64("l1_block", r.BlockNumber.Uint64()).Msg("challenged an output root on L1: deleted")
			return
		}
		if strings.Contains(err.Error(), "execution reverted") {
			// The oracle refuses it (out of its window, deleted meanwhile):
			// sending it again changes nothing.
			x.done[i] = true
			x.log.Error().Err(err).Uint64("output", o.Index).Uint64("l2_block", o.L2Block).Stringer("disputed_root", o.Root).Msg("the oracle refused the challenge of a disagreeing output")
			return
		}
		x.log.Warn().Err(err).Uint64("output", o.Index).Msg("challenge failed; retrying")
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}
