package l1

import (
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/params"

	"github.com/meganode/meganode/chain"
)

// TestGasFigures logs the L1 gas (receipt gasUsed, intrinsic gas included) of
// the calls the L2 makes or causes on L1 (docs/l1.md):
//
//	go test -run TestGasFigures -v ./l1/
//
// on the embedded L1's default forks (through Osaka, as mainnet) and on
// go-ethereum's whole dev chain (geth --dev's, with the draft state-gas
// metering that reprices new storage).
func TestGasFigures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		forks *params.ChainConfig
	}{{"osaka", OsakaConfig()}, {"geth-dev", params.AllDevChainProtocolChanges}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultEmbeddedConfig()
			cfg.ChainConfig = tc.forks
			gasFigures(t, newEnvOn(t, cfg, nil))
		})
	}
}

func gasFigures(t *testing.T, e *env) {
	to := common.Address{0xaa}
	for _, tc := range []struct {
		name string
		data int
	}{{"deposit, ETH only", 0}, {"deposit, 100 bytes of calldata", 100}, {"deposit, 1 KiB of calldata", 1024}} {
		opts := e.opts(e.user)
		opts.Value = ether(1)
		r, err := e.c.Deposit(e.ctx, opts, DepositArgs{To: to, GasLimit: 100_000, Data: make([]byte, tc.data)})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%-40s %7d gas", tc.name, r.GasUsed)
	}
	r, err := e.sendValue(e.user, e.dep.Addresses.Portal, ether(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%-40s %7d gas", "deposit, plain ETH transfer to the portal", r.GasUsed)

	e.advance(100 * time.Second) // past the L2 times of the blocks below
	for i := 0; i < 3; i++ {
		next, _ := e.c.NextBlockNumber(e.ctx)
		r, err := e.c.ProposeL2Output(e.ctx, e.opts(e.proposer), root(string(rune(i))), next, common.Hash{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%-40s %7d gas", "output proposal #"+string(rune('1'+i)), r.GasUsed)
	}
	for _, tc := range []struct {
		name string
		size int
	}{{"DA inbox record, 41-byte commitment", 41}, {"DA inbox record, 512-byte commitment", 512}} {
		r, err := e.c.RecordBlob(e.ctx, e.opts(e.batcher), &chain.DACommitment{First: 1, Last: 40, LastHash: root("40"), Commitment: make([]byte, tc.size)})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%-40s %7d gas", tc.name, r.GasUsed)
	}
	out, _ := e.c.L2Output(e.ctx, 2)
	sig, _ := e.c.SignChallenge(e.prover.Key, out, root("right"))
	if r, err = e.c.Challenge(e.ctx, e.opts(e.outsider), 2, root("right"), sig); err != nil {
		t.Fatal(err)
	}
	t.Logf("%-40s %7d gas", "challenge (deletes one output)", r.GasUsed)
	h := l2Header(30, root("signed state"))
	pre := OutputRootProof{StateRoot: h.Root, MessagePasserStorageRoot: root("passer"), LatestBlockhash: h.Hash()}
	if _, err := e.c.ProposeL2Output(e.ctx, e.opts(e.proposer), pre.Root(), 30, common.Hash{}, 0); err != nil {
		t.Fatal(err)
	}
	fsig, _ := e.c.SignFraud(e.prover.Key, 2, h.Hash(), root("re-executed"))
	if r, err = e.c.ChallengeBlock(e.ctx, e.opts(e.outsider), 2, pre, h, root("re-executed"), fsig); err != nil {
		t.Fatal(err)
	}
	t.Logf("%-40s %7d gas", "challengeBlock (header checked)", r.GasUsed)
	if r, err = e.c.DeleteL2Outputs(e.ctx, e.opts(e.prover), 1); err != nil {
		t.Fatal(err)
	}
	t.Logf("%-40s %7d gas", "deleteL2Outputs (one output)", r.GasUsed)
}
