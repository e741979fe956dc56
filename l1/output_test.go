package l1

import (
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/meganode/meganode/chain"
)

func root(s string) common.Hash { return crypto.Keccak256Hash([]byte(s)) }

func TestOutputRoot(t *testing.T) {
	s, p, b := root("state"), root("passer"), root("block")
	want := crypto.Keccak256Hash(make([]byte, 32), s[:], p[:], b[:])
	if got := OutputRoot(s, p, b); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if got := (OutputRootProof{StateRoot: s, MessagePasserStorageRoot: p, LatestBlockhash: b}).Root(); got != want {
		t.Fatalf("OutputRootProof.Root: got %s, want %s", got, want)
	}
}

func TestProposeL2Output(t *testing.T) {
	e := newEnv(t, nil)
	next, err := e.c.NextBlockNumber(e.ctx)
	if err != nil || next != 10 {
		t.Fatalf("next block number: got %d (%v), want 10", next, err)
	}
	_, err = e.c.ProposeL2Output(e.ctx, e.opts(e.proposer), root("10"), 10, common.Hash{}, 0)
	wantRevert(t, "block 10 before its L2 time", err, "L2OutputOracle: cannot propose L2 output in the future")
	e.advance(30 * time.Second)

	_, err = e.c.ProposeL2Output(e.ctx, e.opts(e.outsider), root("10"), 10, common.Hash{}, 0)
	wantRevert(t, "non-proposer", err, "L2OutputOracle: only the proposer address can propose new outputs")
	_, err = e.c.ProposeL2Output(e.ctx, e.opts(e.proposer), root("11"), 11, common.Hash{}, 0)
	wantRevert(t, "off the interval", err, "L2OutputOracle: block number must be equal to next expected block number")
	_, err = e.c.ProposeL2Output(e.ctx, e.opts(e.proposer), common.Hash{}, 10, common.Hash{}, 0)
	wantRevert(t, "zero root", err, "L2OutputOracle: L2 output proposal cannot be the zero hash")

	// An older block than the head: gas estimation runs in the head's context,
	// where blockhash(head) is zero.
	head, err := e.l1.Client().HeaderByNumber(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if head, err = e.l1.Client().HeaderByHash(e.ctx, head.ParentHash); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.ProposeL2Output(e.ctx, e.opts(e.proposer), root("10"), 10, root("not an L1 block"), head.Number.Uint64())
	wantRevert(t, "wrong L1 block hash", err, "L2OutputOracle: block hash does not match the hash at the expected height")
	r, err := e.c.ProposeL2Output(e.ctx, e.opts(e.proposer), root("10"), 10, head.Hash(), head.Number.Uint64())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.ProposeL2Output(e.ctx, e.opts(e.proposer), root("20"), 20, common.Hash{}, 0); err != nil {
		t.Fatal(err)
	}
	out, err := e.c.L2Output(e.ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	block, err := e.l1.Client().HeaderByHash(e.ctx, r.BlockHash)
	if err != nil {
		t.Fatal(err)
	}
	if out.OutputRoot != root("10") || out.L2BlockNumber != 10 || out.Timestamp != block.Time {
		t.Errorf("output 0: got %+v, want root(10) at block 10, time %d", out, block.Time)
	}
	for _, tc := range []struct{ block, index uint64 }{{1, 0}, {10, 0}, {11, 1}, {20, 1}} {
		if got, err := e.c.L2OutputIndexAfter(e.ctx, tc.block); err != nil || got != tc.index {
			t.Errorf("output index after block %d: got %d (%v), want %d", tc.block, got, err, tc.index)
		}
	}
	_, err = e.c.L2OutputIndexAfter(e.ctx, 21)
	wantRevert(t, "index after an unproposed block", err, "L2OutputOracle: cannot get output for a block that has not been proposed")
	latest, _ := e.c.LatestBlockNumber(e.ctx)
	next, _ = e.c.NextBlockNumber(e.ctx)
	if latest != 20 || next != 30 {
		t.Errorf("latest, next block: got %d, %d, want 20, 30", latest, next)
	}
}

// propose posts outputs for blocks interval, 2·interval, … after moving the
// L1 clock past their L2 times.
func (e *env) propose(roots ...string) {
	e.t.Helper()
	e.advance(time.Duration(len(roots)*int(e.deployConf.SubmissionInterval)+5) * time.Second)
	for _, r := range roots {
		next, err := e.c.NextBlockNumber(e.ctx)
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := e.c.ProposeL2Output(e.ctx, e.opts(e.proposer), root(r), next, common.Hash{}, 0); err != nil {
			e.t.Fatal(err)
		}
	}
}

func TestDeleteL2Outputs(t *testing.T) {
	e := newEnv(t, nil)
	e.propose("10", "20", "30")
	_, err := e.c.DeleteL2Outputs(e.ctx, e.opts(e.outsider), 1)
	wantRevert(t, "non-challenger", err, "L2OutputOracle: only the challenger address can delete outputs")
	_, err = e.c.DeleteL2Outputs(e.ctx, e.opts(e.prover), 3)
	wantRevert(t, "past the latest", err, "L2OutputOracle: cannot delete outputs after the latest output index")
	r, err := e.c.DeleteL2Outputs(e.ctx, e.opts(e.prover), 1)
	if err != nil {
		t.Fatal(err)
	}
	ev := e.c.oracle.abi.Events["OutputsDeleted"]
	if len(r.Logs) != 1 || r.Logs[0].Topics[0] != ev.ID || r.Logs[0].Topics[1].Big().Uint64() != 3 || r.Logs[0].Topics[2].Big().Uint64() != 1 {
		t.Errorf("OutputsDeleted: got %+v, want (3, 1)", r.Logs)
	}
	if n, _ := e.c.NextOutputIndex(e.ctx); n != 1 {
		t.Errorf("outputs after deleting from 1: got %d, want 1", n)
	}
	if next, _ := e.c.NextBlockNumber(e.ctx); next != 20 {
		t.Errorf("next block after deleting: got %d, want 20 again", next)
	}
	_, err = e.c.L2Output(e.ctx, 1)
	wantRevert(t, "read a deleted output", err, "L2OutputOracle: no output at this index")
	// The proposer posts block 20 again; once out of the window it stays.
	e.propose("20 again")
	e.advance(101 * time.Second)
	_, err = e.c.DeleteL2Outputs(e.ctx, e.opts(e.prover), 1)
	wantRevert(t, "after the window", err, "L2OutputOracle: cannot delete outputs that have already been finalized")
}

func TestChallenge(t *testing.T) {
	e := newEnv(t, nil)
	e.propose("10", "20 (bad)")
	bad, err := e.c.L2Output(e.ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	good := root("20")
	out, err := e.c.oracle.call(e.ctx, "challengeDigest", bigU(1), bad.OutputRoot, bigU(20), good)
	if err != nil {
		t.Fatal(err)
	}
	if want := ChallengeDigest(e.c.ChainID(), e.dep.Addresses.OutputOracle, 1, bad.OutputRoot, 20, good); common.Hash(out[0].([32]byte)) != want {
		t.Fatalf("challengeDigest: contract %x, Go %s", out[0], want)
	}

	byOutsider, _ := e.c.SignChallenge(e.outsider.Key, bad, good)
	_, err = e.c.Challenge(e.ctx, e.opts(e.outsider), 1, good, byOutsider)
	wantRevert(t, "dispute signed by a non-challenger", err, "L2OutputOracle: the dispute is not signed by a challenger")
	sig, err := e.c.SignChallenge(e.prover.Key, bad, good)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.c.Challenge(e.ctx, e.opts(e.outsider), 0, good, sig)
	wantRevert(t, "signature over another output", err, "L2OutputOracle: the dispute is not signed by a challenger")
	_, err = e.c.Challenge(e.ctx, e.opts(e.outsider), 1, root("other"), sig)
	wantRevert(t, "signature over another claim", err, "L2OutputOracle: the dispute is not signed by a challenger")
	same, _ := e.c.SignChallenge(e.prover.Key, bad, bad.OutputRoot)
	_, err = e.c.Challenge(e.ctx, e.opts(e.outsider), 1, bad.OutputRoot, same)
	wantRevert(t, "claim equal to the output", err, "L2OutputOracle: the claimed output root is the proposed one")

	// Anyone relays the prover's signed dispute.
	r, err := e.c.Challenge(e.ctx, e.opts(e.outsider), 1, good, sig)
	if err != nil {
		t.Fatal(err)
	}
	ev := e.c.oracle.abi.Events["OutputChallenged"]
	if len(r.Logs) != 2 || r.Logs[0].Topics[0] != ev.ID || common.BytesToAddress(r.Logs[0].Topics[2][12:]) != e.prover.Address {
		t.Errorf("OutputChallenged: got %+v, want one naming the prover %s", r.Logs, e.prover.Address)
	}
	if n, _ := e.c.NextOutputIndex(e.ctx); n != 1 {
		t.Errorf("outputs after the challenge: got %d, want 1", n)
	}

	// Out of the window a dispute deletes nothing.
	e.propose("20")
	e.advance(101 * time.Second)
	fine, _ := e.c.L2Output(e.ctx, 1)
	late, _ := e.c.SignChallenge(e.prover.Key, fine, root("x"))
	_, err = e.c.Challenge(e.ctx, e.opts(e.prover), 1, root("x"), late)
	wantRevert(t, "dispute after the window", err, "L2OutputOracle: cannot delete outputs that have already been finalized")
}

// l2Header is a post-Prague L2 header of block n claiming state root.
func l2Header(n uint64, state common.Hash) *types.Header {
	zero := uint64(0)
	return &types.Header{
		ParentHash: root("parent"), UncleHash: types.EmptyUncleHash, Root: state, TxHash: types.EmptyTxsHash,
		ReceiptHash: types.EmptyReceiptsHash, Difficulty: new(big.Int), Number: new(big.Int).SetUint64(n),
		GasLimit: 30_000_000, Time: 1_700_000_000 + n, BaseFee: big.NewInt(7), WithdrawalsHash: &types.EmptyWithdrawalsHash,
		BlobGasUsed: &zero, ExcessBlobGas: &zero, ParentBeaconRoot: &common.Hash{}, RequestsHash: &types.EmptyRequestsHash,
	}
}

func TestChallengeBlock(t *testing.T) {
	e := newEnv(t, nil)
	honest := l2Header(10, root("state 10"))
	bad := l2Header(20, root("state 20 as the sequencer signed it"))
	reexecuted := root("state 20 as it re-executes")
	pre := func(h *types.Header, state common.Hash) OutputRootProof {
		return OutputRootProof{StateRoot: state, MessagePasserStorageRoot: root("passer"), LatestBlockhash: h.Hash()}
	}
	e.advance(40 * time.Second)
	for _, p := range []OutputRootProof{pre(honest, honest.Root), pre(bad, bad.Root)} {
		next, _ := e.c.NextBlockNumber(e.ctx)
		if _, err := e.c.ProposeL2Output(e.ctx, e.opts(e.proposer), p.Root(), next, common.Hash{}, 0); err != nil {
			t.Fatal(err)
		}
	}
	out, err := e.c.oracle.call(e.ctx, "fraudDigest", bigU(1), bad.Hash(), reexecuted)
	if err != nil {
		t.Fatal(err)
	}
	if want := FraudDigest(e.c.ChainID(), e.dep.Addresses.OutputOracle, 1, bad.Hash(), reexecuted); common.Hash(out[0].([32]byte)) != want {
		t.Fatalf("fraudDigest: contract %x, Go %s", out[0], want)
	}
	sig, err := e.c.SignFraud(e.prover.Key, 1, bad.Hash(), reexecuted)
	if err != nil {
		t.Fatal(err)
	}
	otherPasser := pre(bad, bad.Root)
	otherPasser.MessagePasserStorageRoot = root("other")
	wrongNumber := l2Header(21, bad.Root)
	for _, tc := range []struct {
		name     string
		index    uint64
		disputed OutputRootProof
		header   *types.Header
		claimed  common.Hash
		sig      []byte
		reason   string
	}{
		{"not the output's preimage", 1, otherPasser, bad, reexecuted, sig, "L2OutputOracle: not the preimage of the disputed output"},
		{"another block's header", 1, pre(bad, bad.Root), honest, reexecuted, sig, "L2OutputOracle: not the header of the output's block"},
		{"claim equal to the header", 1, pre(bad, bad.Root), bad, bad.Root, sig, "L2OutputOracle: the claimed state root is the header's"},
		{"signed by a non-challenger", 1, pre(bad, bad.Root), bad, reexecuted, mustSign(t, e, e.outsider, 1, bad.Hash(), reexecuted), "L2OutputOracle: the fraud claim is not signed by a challenger"},
		{"signature for another output", 0, pre(honest, honest.Root), honest, reexecuted, sig, "L2OutputOracle: the fraud claim is not signed by a challenger"},
		{"no output there", 2, pre(bad, bad.Root), bad, reexecuted, sig, "L2OutputOracle: cannot delete outputs after the latest output index"},
		{"preimage of no proposed output", 1, pre(wrongNumber, bad.Root), wrongNumber, reexecuted, sig, "L2OutputOracle: not the preimage of the disputed output"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.c.ChallengeBlock(e.ctx, e.opts(e.outsider), tc.index, tc.disputed, tc.header, tc.claimed, tc.sig)
			wantRevert(t, tc.name, err, tc.reason)
		})
	}
	r, err := e.c.ChallengeBlock(e.ctx, e.opts(e.outsider), 1, pre(bad, bad.Root), bad, reexecuted, sig)
	if err != nil {
		t.Fatal(err)
	}
	ev := e.c.oracle.abi.Events["BlockChallenged"]
	if len(r.Logs) != 2 || r.Logs[0].Topics[0] != ev.ID || common.BytesToAddress(r.Logs[0].Topics[2][12:]) != e.prover.Address {
		t.Errorf("BlockChallenged: got %+v, want one naming the prover", r.Logs)
	}
	if n, _ := e.c.NextOutputIndex(e.ctx); n != 1 {
		t.Fatalf("outputs after the challenge: got %d, want 1", n)
	}

	// An output for a header of another number is refused once its preimage is right.
	if _, err := e.c.ProposeL2Output(e.ctx, e.opts(e.proposer), pre(wrongNumber, bad.Root).Root(), 20, common.Hash{}, 0); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.ChallengeBlock(e.ctx, e.opts(e.outsider), 1, pre(wrongNumber, bad.Root), wrongNumber, reexecuted, sig)
	wantRevert(t, "header of another number", err, "L2OutputOracle: the header is not of the output's block number")
	if _, err := e.c.DeleteL2Outputs(e.ctx, e.opts(e.prover), 1); err != nil {
		t.Fatal(err)
	}

	// An output that does not hold its own header's state root falls on
	// anyone's word, with no signature.
	lying := pre(bad, root("not the header's root"))
	if _, err := e.c.ProposeL2Output(e.ctx, e.opts(e.proposer), lying.Root(), 20, common.Hash{}, 0); err != nil {
		t.Fatal(err)
	}
	if r, err = e.c.ChallengeBlock(e.ctx, e.opts(e.outsider), 1, lying, bad, common.Hash{}, nil); err != nil {
		t.Fatal(err)
	}
	if common.BytesToAddress(r.Logs[0].Topics[2][12:]) != (common.Address{}) {
		t.Errorf("self-contradicting output: BlockChallenged names %x, want no prover", r.Logs[0].Topics[2])
	}
	if n, _ := e.c.NextOutputIndex(e.ctx); n != 1 {
		t.Errorf("outputs after the self-contradicting one: got %d, want 1", n)
	}
}

func mustSign(t *testing.T, e *env, a chain.DevAccount, index uint64, blockHash, claimed common.Hash) []byte {
	t.Helper()
	sig, err := e.c.SignFraud(a.Key, index, blockHash, claimed)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}
