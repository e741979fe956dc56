package l1

import (
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum"
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

// TestChallengerChallengeBlock: an output whose root agrees with a block
// the prover convicted (the header's state root, the passer root the
// proposer read) is deleted with challengeBlock and the prover's signed
// re-executed root, whichever the challenger hears first; one that names
// the convicted block with another state root contradicts its header and
// is deleted on no signature; one of another block at that height, whose
// preimage the claim does not rebuild, is left to the attestation.
func TestChallengerChallengeBlock(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SubmissionInterval = 2 })
	e.advance(60 * time.Second)
	bad := l2Header(2, root("state 2 as the sequencer signed it"))
	reexecuted, passer := root("state 2 as it re-executes"), root("passer")
	claim := FraudClaim{Header: bad, Claimed: reexecuted, PasserRoots: []common.Hash{root("another passer root"), passer}}
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
	propose := func(root common.Hash) {
		t.Helper()
		if _, err := e.c.ProposeL2Output(e.ctx, e.opts(e.proposer), root, 2, common.Hash{}, 0); err != nil {
			t.Fatal(err)
		}
	}
	challenged := func(what string, want common.Address) {
		t.Helper()
		logs, err := e.l1.Client().FilterLogs(e.ctx, ethereum.FilterQuery{Addresses: []common.Address{e.dep.Addresses.OutputOracle},
			Topics: [][]common.Hash{{e.c.oracle.abi.Events["BlockChallenged"].ID}}})
		if err != nil {
			t.Fatal(err)
		}
		last := logs[len(logs)-1]
		if got := common.BytesToAddress(last.Topics[2][12:]); got != want || common.BytesToHash(last.Data[:32]) != bad.Hash() {
			t.Fatalf("%s: BlockChallenged names %s and block %x, want %s and %s", what, got, last.Data[:32], want, bad.Hash())
		}
		if n, err := e.c.NextOutputIndex(e.ctx); err != nil || n != 0 {
			t.Fatalf("%s: %d outputs stand (%v), want the output deleted", what, n, err)
		}
	}

	// The output the proposer posts for the bad block, heard first.
	propose(OutputRoot(bad.Root, passer, bad.Hash()))
	x.L1Output(chain.L1Output{Index: 0, L2Block: 2, Root: OutputRoot(bad.Root, passer, bad.Hash())})
	run()
	if x.Challenged() != 0 {
		t.Fatal("challenged before the prover convicted block 2")
	}
	x.Fraud(claim)
	run()
	if x.Challenged() != 1 || x.BlocksChallenged() != 1 {
		t.Fatalf("challenged %d outputs, %d with challengeBlock; want the bad block's", x.Challenged(), x.BlocksChallenged())
	}
	challenged("output of the convicted block", e.prover.Address)
	x.L1Deleted(0) // as the watcher reads it
	run()

	// An output naming the convicted block with the re-executed root, heard
	// after the claim, at the index the oracle reuses.
	contradicting := OutputRoot(reexecuted, passer, bad.Hash())
	propose(contradicting)
	x.L1Output(chain.L1Output{Index: 0, L2Block: 2, Root: contradicting})
	run()
	if x.Challenged() != 2 || x.BlocksChallenged() != 2 {
		t.Fatalf("challenged %d outputs, %d with challengeBlock; want the self-contradicting one too", x.Challenged(), x.BlocksChallenged())
	}
	challenged("output contradicting its header", common.Address{})
	x.L1Deleted(0)
	run()

	// Another block at height 2 (a dev chain went back over the bad one):
	// the claim rebuilds no preimage, and the prover's attestation agrees.
	other := l2Header(2, root("state 2 of another block"))
	honest := OutputRoot(other.Root, passer, other.Hash())
	propose(honest)
	x.L1Output(chain.L1Output{Index: 0, L2Block: 2, Root: honest})
	run()
	x.Attested(2, honest)
	run()
	if x.Challenged() != 2 {
		t.Fatalf("challenged %d outputs, want the other block's left", x.Challenged())
	}
	if n, err := e.c.NextOutputIndex(e.ctx); err != nil || n != 1 {
		t.Fatalf("%d outputs stand (%v), want the other block's", n, err)
	}
}
