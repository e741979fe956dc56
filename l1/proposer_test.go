package l1

import (
	"testing"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
)

// readyUpTo is an output source holding blocks up to head.
type readyUpTo struct{ head uint64 }

func (s *readyUpTo) Output(n uint64) (OutputRootProof, bool, error) {
	if n > s.head {
		return OutputRootProof{}, false, nil
	}
	b := common.BigToHash(bigU(n))
	return OutputRootProof{StateRoot: b, MessagePasserStorageRoot: b, LatestBlockhash: b}, true, nil
}

// TestProposer: the proposer posts the oracle's next block whenever the
// source has it and its L2 time has passed on L1, every due one in a round,
// and nothing while the source is behind or the block is in L1's future.
func TestProposer(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SubmissionInterval = 2 })
	src := &readyUpTo{head: 1}
	p := NewProposer(e.c, e.proposer.Key, src, ProposerConfig{}, zerolog.New(zerolog.NewTestWriter(t)))
	if err := p.Step(e.ctx); err != nil || p.Stats().Proposed != 0 {
		t.Fatalf("block 2 not ready: %+v (%v), want nothing proposed", p.Stats(), err)
	}
	// Blocks 2 and 4 are ready, but their L2 time (start + n s) is ahead of
	// L1's until L1 moves on.
	src.head = 5
	e.advance(10 * 1e9)
	if err := p.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.Proposed != 2 || s.Latest != 4 || s.Gas == 0 {
		t.Fatalf("after one round: %+v, want blocks 2 and 4 proposed", s)
	}
	out, err := e.c.L2Output(e.ctx, 1)
	want, _, _ := src.Output(4)
	if err != nil || out.L2BlockNumber != 4 || out.OutputRoot != want.Root() {
		t.Fatalf("output 1 = %+v (%v), want block 4's root %s", out, err, want.Root())
	}
	// Block 1000's L2 time is far in L1's future: not proposed yet.
	src.head = 1000
	before := p.Stats().Proposed
	if err := p.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	if next, _ := e.c.NextBlockNumber(e.ctx); p.Stats().Proposed == before || next > 30 {
		t.Fatalf("proposed %d more, next block %d: want the blocks whose time has passed only", p.Stats().Proposed-before, next)
	}
}
