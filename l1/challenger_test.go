package l1

import (
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"

	"github.com/meganode/meganode/chain"
)

// TestChallenger: an output root that disagrees with the prover's
// attestation is challenged with the prover's signature and deleted on L1,
// whichever of the two the challenger hears first; one that agrees is left.
func TestChallenger(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SubmissionInterval = 2 })
	e.advance(30 * time.Second)
	good, bad := common.Hash{0x60, 0x0d}, common.Hash{0xba, 0xd0}
	if _, err := e.c.ProposeL2Output(e.ctx, e.opts(e.proposer), good, 2, common.Hash{}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.ProposeL2Output(e.ctx, e.opts(e.proposer), bad, 4, common.Hash{}, 0); err != nil {
		t.Fatal(err)
	}
	x := NewChallenger(e.c, e.prover.Key, e.outsider.Key, zerolog.Nop())
	run := func() { // what Run does, one event at a time
		t.Helper()
		select {
		case f := <-x.events:
			f(e.ctx)
		default:
			t.Fatal("no event")
		}
	}
	x.Attested(2, good)
	run()
	x.L1Output(chain.L1Output{Index: 0, L2Block: 2, Root: good})
	run()
	x.L1Output(chain.L1Output{Index: 1, L2Block: 4, Root: bad})
	run()
	if x.Challenged() != 0 {
		t.Fatal("challenged before the prover verified block 4")
	}
	x.Attested(4, common.Hash{0x4}) // the prover's root for block 4
	run()
	if x.Challenged() != 1 {
		t.Fatalf("challenged %d outputs, want the bad one", x.Challenged())
	}
	if n, err := e.c.NextOutputIndex(e.ctx); err != nil || n != 1 {
		t.Fatalf("next output index %d (%v), want 1: output 1 deleted, output 0 kept", n, err)
	}
}
