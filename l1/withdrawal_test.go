package l1

import (
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/holiman/uint256"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/gethclient"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/triedb"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/contracts"
)

// TestWithdrawalHashMatchesMessagePasser runs the L2's message passer (its
// bytecode works on any EVM) and wants Withdrawal.Hash to reproduce the hash
// it stores, with its versioned nonces.
func TestWithdrawalHashMatchesMessagePasser(t *testing.T) {
	e := newEnv(t, nil)
	a := mustArtifact(contracts.MessagePasser)
	r, err := e.sendValue(e.user, common.Address{}, nil, a.Bytecode)
	if err != nil || r.Status != 1 {
		t.Fatalf("deploy the message passer: %v", err)
	}
	for i := 0; i < 2; i++ {
		input, _ := a.ABI.Pack("initiateWithdrawal", common.Address{0xbe, 0xef}, big.NewInt(77_000), []byte("to L1"))
		rr, err := e.sendValue(e.user, r.ContractAddress, big.NewInt(1234), input)
		if err != nil || rr.Status != 1 || len(rr.Logs) != 1 {
			t.Fatalf("initiateWithdrawal: %v", err)
		}
		w, stored, err := WithdrawalFromLog(rr.Logs[0])
		if err != nil {
			t.Fatal(err)
		}
		wantNonce := new(big.Int).Or(new(big.Int).Lsh(big.NewInt(1), 240), big.NewInt(int64(i)))
		if w.Nonce.Cmp(wantNonce) != 0 || w.Sender != e.user.Address || w.Value.Int64() != 1234 || w.GasLimit.Int64() != 77_000 {
			t.Errorf("withdrawal %d: got %+v", i, w)
		}
		if w.Hash() != stored {
			t.Errorf("withdrawal %d: Hash %s, the passer stored %s", i, w.Hash(), stored)
		}
	}
}

// proofList collects trie.Prove's nodes in path order, root first.
type proofList [][]byte

func (p *proofList) Put(_, value []byte) error { *p = append(*p, common.CopyBytes(value)); return nil }
func (p *proofList) Delete([]byte) error       { return nil }

// passerState is an L2 state holding the message passer with sentMessages
// true for every withdrawal given, and decoys around them.
type passerState struct {
	storage    *trie.Trie
	stateRoot  common.Hash
	passerRoot common.Hash
	accountPf  [][]byte
}

func newPasserState(t *testing.T, ws ...*Withdrawal) *passerState {
	t.Helper()
	db := triedb.NewDatabase(rawdb.NewMemoryDatabase(), nil)
	st := trie.NewEmpty(db)
	one, _ := rlp.EncodeToBytes([]byte{1}) // storage values are RLP of the trimmed word
	put := func(slot common.Hash) {
		if err := st.Update(crypto.Keccak256(slot[:]), one); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 200; i++ {
		decoy := &Withdrawal{Nonce: big.NewInt(int64(i)), Sender: common.Address{1}, Target: common.Address{2}, Value: new(big.Int), GasLimit: new(big.Int)}
		put(decoy.StorageSlot())
	}
	for _, w := range ws {
		put(w.StorageSlot())
	}
	ps := &passerState{storage: st, passerRoot: st.Hash()}
	acct, _ := rlp.EncodeToBytes(&types.StateAccount{Balance: uint256.NewInt(5), Root: ps.passerRoot, CodeHash: crypto.Keccak256(chain.MessagePasserCode())})
	state := trie.NewEmpty(db)
	if err := state.Update(crypto.Keccak256(chain.MessagePasser[:]), acct); err != nil {
		t.Fatal(err)
	}
	ps.stateRoot = state.Hash()
	var pf proofList
	if err := state.Prove(crypto.Keccak256(chain.MessagePasser[:]), &pf); err != nil {
		t.Fatal(err)
	}
	ps.accountPf = pf
	return ps
}

// storageProof is the passer's storage proof of w, as eth_getProof gives it.
func (ps *passerState) storageProof(t *testing.T, w *Withdrawal) [][]byte {
	t.Helper()
	slot := w.StorageSlot()
	var pf proofList
	if err := ps.storage.Prove(crypto.Keccak256(slot[:]), &pf); err != nil {
		t.Fatal(err)
	}
	return pf
}

func (ps *passerState) outputProof(block string) OutputRootProof {
	return OutputRootProof{StateRoot: ps.stateRoot, MessagePasserStorageRoot: ps.passerRoot, LatestBlockhash: root(block)}
}

func TestWithdrawalProveAndFinalize(t *testing.T) {
	e := newEnv(t, nil) // window 100 s, maturity 50 s
	// Fund the portal as deposits do.
	opts := e.opts(e.user)
	opts.Value = ether(5)
	if _, err := e.c.Deposit(e.ctx, opts, DepositArgs{To: e.user.Address, GasLimit: 100_000}); err != nil {
		t.Fatal(err)
	}
	target := common.HexToAddress("0x000000000000000000000000000000000000c0de")
	version := new(big.Int).Lsh(big.NewInt(1), 240)
	w := &Withdrawal{Nonce: new(big.Int).Set(version), Sender: e.user.Address, Target: target, Value: ether(1), GasLimit: big.NewInt(100_000), Data: []byte{}}
	w2 := &Withdrawal{Nonce: new(big.Int).Add(version, big.NewInt(1)), Sender: e.user.Address, Target: target, Value: ether(2), GasLimit: big.NewInt(100_000), Data: []byte{}}

	// Output 0 (block 10) holds w; output 1 (block 20) holds w and w2.
	s10, s20 := newPasserState(t, w), newPasserState(t, w, w2)
	if got, err := chain.StorageRootFromProof(s10.stateRoot, chain.MessagePasser, s10.accountPf); err != nil || got != s10.passerRoot {
		t.Fatalf("account proof: storage root %s (%v), want %s", got, err, s10.passerRoot)
	}
	o10, o20 := s10.outputProof("block 10"), s20.outputProof("block 20")
	e.advance(30 * time.Second)
	for _, o := range []OutputRootProof{o10, o20} {
		next, _ := e.c.NextBlockNumber(e.ctx)
		if _, err := e.c.ProposeL2Output(e.ctx, e.opts(e.proposer), o.Root(), next, common.Hash{}, 0); err != nil {
			t.Fatal(err)
		}
	}

	_, err := e.c.FinalizeWithdrawal(e.ctx, e.opts(e.user), w)
	wantRevert(t, "finalize unproven", err, "OptimismPortal: withdrawal has not been proven yet")

	wrongState := o10
	wrongState.StateRoot = root("another state")
	_, err = e.c.ProveWithdrawal(e.ctx, e.opts(e.user), w, 0, wrongState, s10.storageProof(t, w))
	wantRevert(t, "output root preimage", err, "OptimismPortal: invalid output root proof")
	_, err = e.c.ProveWithdrawal(e.ctx, e.opts(e.user), w2, 0, o10, s10.storageProof(t, w2))
	wantRevert(t, "withdrawal absent from the output", err, "MerkleTrie: key not in trie")
	_, err = e.c.ProveWithdrawal(e.ctx, e.opts(e.user), w, 0, o10, s20.storageProof(t, w))
	wantRevert(t, "proof from another trie", err, "MerkleTrie: invalid node hash")
	tampered := s10.storageProof(t, w)
	tampered[len(tampered)-1] = append([]byte{}, tampered[len(tampered)-1]...)
	tampered[len(tampered)-1][len(tampered[len(tampered)-1])-1] ^= 1
	_, err = e.c.ProveWithdrawal(e.ctx, e.opts(e.user), w, 0, o10, tampered)
	wantRevert(t, "tampered leaf", err, "MerkleTrie: invalid node hash")
	_, err = e.c.ProveWithdrawal(e.ctx, e.opts(e.user), w, 0, o10, s10.storageProof(t, w)[:1])
	wantRevert(t, "truncated proof", err, "MerkleTrie: ran out of proof elements")

	r, err := e.c.ProveWithdrawal(e.ctx, e.opts(e.user), w, 0, o10, s10.storageProof(t, w))
	if err != nil {
		t.Fatal(err)
	}
	if ev := e.c.portal.abi.Events["WithdrawalProven"]; len(r.Logs) != 1 || r.Logs[0].Topics[0] != ev.ID || r.Logs[0].Topics[1] != w.Hash() {
		t.Errorf("WithdrawalProven: got %+v, want one for %s", r.Logs, w.Hash())
	}
	t.Logf("proveWithdrawalTransaction: %d gas (%d proof nodes)", r.GasUsed, len(s10.storageProof(t, w)))
	_, err = e.c.ProveWithdrawal(e.ctx, e.opts(e.user), w, 0, o10, s10.storageProof(t, w))
	wantRevert(t, "prove twice", err, "OptimismPortal: withdrawal hash has already been proven")
	if _, err := e.c.ProveWithdrawal(e.ctx, e.opts(e.user), w2, 1, o20, s20.storageProof(t, w2)); err != nil {
		t.Fatal(err)
	}

	_, err = e.c.FinalizeWithdrawal(e.ctx, e.opts(e.user), w)
	wantRevert(t, "finalize immature", err, "OptimismPortal: proven withdrawal has not matured yet")
	// A challenger deletes output 1, which w2 was proven against.
	if _, err := e.c.DeleteL2Outputs(e.ctx, e.opts(e.prover), 1); err != nil {
		t.Fatal(err)
	}
	e.advance(60 * time.Second) // matured (50 s), the output still in its window (100 s)
	_, err = e.c.FinalizeWithdrawal(e.ctx, e.opts(e.user), w)
	wantRevert(t, "finalize in the challenge window", err, "OptimismPortal: output proposal finalization period has not elapsed")
	e.advance(50 * time.Second)

	before := e.balance(e.dep.Addresses.Portal)
	r, err = e.c.FinalizeWithdrawal(e.ctx, e.opts(e.outsider), w) // anyone may finalize
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("finalizeWithdrawalTransaction: %d gas (an ETH transfer to an empty account)", r.GasUsed)
	ev := e.c.portal.abi.Events["WithdrawalFinalized"]
	if len(r.Logs) != 1 || r.Logs[0].Topics[0] != ev.ID || r.Logs[0].Topics[1] != w.Hash() || new(big.Int).SetBytes(r.Logs[0].Data).Uint64() != 1 {
		t.Errorf("WithdrawalFinalized: got %+v, want success for %s", r.Logs, w.Hash())
	}
	if got := e.balance(target); got.Cmp(ether(1)) != 0 {
		t.Errorf("target balance: got %s, want 1 ether", got)
	}
	if got := e.balance(e.dep.Addresses.Portal); new(big.Int).Sub(before, got).Cmp(ether(1)) != 0 {
		t.Errorf("portal balance: got %s, want %s less 1 ether", got, before)
	}
	if done, err := e.c.WithdrawalFinalized(e.ctx, w.Hash()); err != nil || !done {
		t.Errorf("finalizedWithdrawals: got %v (%v), want true", done, err)
	}
	_, err = e.c.FinalizeWithdrawal(e.ctx, e.opts(e.user), w)
	wantRevert(t, "finalize twice", err, "OptimismPortal: withdrawal has already been finalized")
	_, err = e.c.FinalizeWithdrawal(e.ctx, e.opts(e.user), w2)
	wantRevert(t, "finalize against a deleted output", err, "OptimismPortal: output root proven is not the same as current output root")

	// Block 20's output posted again, the same root at the same index: w2's
	// proof stands again, and finalizes once the new output left its window.
	next, _ := e.c.NextBlockNumber(e.ctx)
	if _, err := e.c.ProposeL2Output(e.ctx, e.opts(e.proposer), o20.Root(), next, common.Hash{}, 0); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.FinalizeWithdrawal(e.ctx, e.opts(e.user), w2)
	wantRevert(t, "finalize against the re-posted output in its window", err, "OptimismPortal: output proposal finalization period has not elapsed")
	e.advance(101 * time.Second)
	if _, err := e.c.FinalizeWithdrawal(e.ctx, e.opts(e.user), w2); err != nil {
		t.Fatal(err)
	}
	if got := e.balance(target); got.Cmp(ether(3)) != 0 {
		t.Errorf("target balance: got %s, want 3 ether", got)
	}
}

// TestWithdrawalWithGethProof runs the L2's message passer on the embedded
// chain (any EVM runs it) and proves a withdrawal with what go-ethereum's
// eth_getProof answers for it: the passer's storage root and the storage
// proof, and the account proof tying that root to the block's state root.
func TestWithdrawalWithGethProof(t *testing.T) {
	cfg := DefaultEmbeddedConfig()
	cfg.IPCPath = filepath.Join(t.TempDir(), "l1.ipc")
	e := newEnvOn(t, cfg, nil)
	opts := e.opts(e.user)
	opts.Value = ether(5)
	if _, err := e.c.Deposit(e.ctx, opts, DepositArgs{To: e.user.Address, GasLimit: 100_000}); err != nil {
		t.Fatal(err)
	}
	a := mustArtifact(contracts.MessagePasser)
	r, err := e.sendValue(e.user, common.Address{}, nil, a.Bytecode)
	if err != nil || r.Status != 1 {
		t.Fatalf("deploy the message passer: %v", err)
	}
	passer := r.ContractAddress
	target := common.HexToAddress("0x000000000000000000000000000000000000beef")
	var w *Withdrawal
	for i := 0; i < 3; i++ {
		input, _ := a.ABI.Pack("initiateWithdrawal", target, big.NewInt(60_000), []byte{byte(i)})
		rr, err := e.sendValue(e.user, passer, ether(1), input)
		if err != nil || rr.Status != 1 {
			t.Fatalf("initiateWithdrawal: %v", err)
		}
		if i == 1 {
			if w, _, err = WithdrawalFromLog(rr.Logs[0]); err != nil {
				t.Fatal(err)
			}
		}
	}
	head, err := e.l1.Client().HeaderByNumber(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := gethclient.New(e.l1.RPC()).GetProof(e.ctx, passer, []string{w.StorageSlot().Hex()}, head.Number)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.StorageProof) != 1 || res.StorageProof[0].Value.Int64() != 1 {
		t.Fatalf("eth_getProof: got %+v, want sentMessages[hash] = 1", res.StorageProof)
	}
	decode := func(hexes []string) [][]byte {
		out := make([][]byte, len(hexes))
		for i, h := range hexes {
			out[i] = common.FromHex(h)
		}
		return out
	}
	if got, err := chain.StorageRootFromProof(head.Root, passer, decode(res.AccountProof)); err != nil || got != res.StorageHash {
		t.Fatalf("account proof: storage root %s (%v), want %s", got, err, res.StorageHash)
	}
	pre := OutputRootProof{StateRoot: head.Root, MessagePasserStorageRoot: res.StorageHash, LatestBlockhash: head.Hash()}
	e.advance(20 * time.Second)
	if _, err := e.c.ProposeL2Output(e.ctx, e.opts(e.proposer), pre.Root(), 10, common.Hash{}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.ProveWithdrawal(e.ctx, e.opts(e.user), w, 0, pre, decode(res.StorageProof[0].Proof)); err != nil {
		t.Fatal(err)
	}
	e.advance(101 * time.Second)
	if _, err := e.c.FinalizeWithdrawal(e.ctx, e.opts(e.user), w); err != nil {
		t.Fatal(err)
	}
	if got := e.balance(target); got.Cmp(ether(1)) != 0 {
		t.Errorf("target balance: got %s, want 1 ether", got)
	}
}
