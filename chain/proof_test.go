package chain

import (
	"bytes"
	"testing"

	"github.com/holiman/uint256"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethdb/memorydb"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/triedb"
)

func TestProveLatestProvesTheOverlaidState(t *testing.T) {
	db := state.NewDatabase(triedb.NewDatabase(rawdb.NewMemoryDatabase(), nil), nil)
	rules := params.MergedTestChainConfig.Rules(common.Big1, true, 0)
	a, gone := common.HexToAddress("0xa1"), common.HexToAddress("0xc1")
	s1, s2, s3 := common.HexToHash("0x01"), common.HexToHash("0x02"), common.HexToHash("0x03")
	st, _ := state.New(types.EmptyRootHash, db)
	st.SetBalance(a, uint256.NewInt(5), tracing.BalanceChangeUnspecified)
	st.SetState(a, s1, common.HexToHash("0x11"))
	st.SetState(a, s2, common.HexToHash("0x22"))
	st.SetBalance(gone, uint256.NewInt(9), tracing.BalanceChangeUnspecified)
	root, err := st.Commit(rules, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Two mini-blocks: a's balance and slots change (one cleared, one new),
	// an account is deleted.
	o := (*Overlay)(nil).Push([]AccountChange{{Address: a, Nonce: 1, Balance: uint256.NewInt(7), CodeHash: types.EmptyCodeHash,
		Storage: []SlotChange{{Slot: s1, Value: common.HexToHash("0x33")}}}})
	o = o.Push([]AccountChange{
		{Address: a, Nonce: 2, Balance: uint256.NewInt(8), CodeHash: types.EmptyCodeHash, Storage: []SlotChange{{Slot: s2}, {Slot: s3, Value: common.HexToHash("0x44")}}},
		{Address: gone, Deleted: true},
	})
	p, err := ProveLatest(db, rules, root, o, a, []common.Hash{s1, s2, s3})
	if err != nil {
		t.Fatal(err)
	}

	// The same changes committed the ordinary way give the same root.
	want, _ := state.New(root, db)
	want.SetNonce(a, 2, tracing.NonceChangeUnspecified)
	want.SetBalance(a, uint256.NewInt(8), tracing.BalanceChangeUnspecified)
	want.SetState(a, s1, common.HexToHash("0x33"))
	want.SetState(a, s2, common.Hash{})
	want.SetState(a, s3, common.HexToHash("0x44"))
	want.SelfDestruct(gone)
	wantRoot, err := want.Commit(rules, 1)
	if err != nil {
		t.Fatal(err)
	}
	if p.Root != wantRoot || p.Root == root {
		t.Fatalf("proved root %s, want the overlaid state's %s (sealed %s)", p.Root, wantRoot, root)
	}
	if p.Account.Nonce != 2 || p.Account.Balance.Uint64() != 8 {
		t.Fatalf("account nonce %d balance %s, want 2 and 8", p.Account.Nonce, p.Account.Balance)
	}
	leaf := verify(t, p.Root, crypto.Keccak256(a.Bytes()), p.AccountProof)
	var acct types.StateAccount
	if err := rlp.DecodeBytes(leaf, &acct); err != nil || acct.Nonce != 2 || acct.Root != p.Account.Root {
		t.Fatalf("proved account leaf %+v (%v), want nonce 2 and storage root %s", acct, err, p.Account.Root)
	}
	for i, want := range []common.Hash{common.HexToHash("0x33"), {}, common.HexToHash("0x44")} {
		if p.Values[i] != want {
			t.Fatalf("slot %d reads %s, want %s", i, p.Values[i], want)
		}
		leaf := verify(t, p.Account.Root, crypto.Keccak256([]common.Hash{s1, s2, s3}[i].Bytes()), p.StorageProofs[i])
		var enc []byte
		if want != (common.Hash{}) {
			enc, _ = rlp.EncodeToBytes(common.TrimLeftZeroes(want[:]))
		}
		if !bytes.Equal(leaf, enc) {
			t.Fatalf("slot %d proves %x, want %x", i, leaf, enc)
		}
	}
	// The deleted account proves absent.
	gp, err := ProveLatest(db, rules, root, o, gone, nil)
	if err != nil {
		t.Fatal(err)
	}
	if leaf := verify(t, gp.Root, crypto.Keccak256(gone.Bytes()), gp.AccountProof); leaf != nil {
		t.Fatalf("deleted account still proves a leaf %x", leaf)
	}
}

// verify checks a proof against root and returns the proved value (nil:
// proved absent).
func verify(t *testing.T, root common.Hash, key []byte, proof [][]byte) []byte {
	t.Helper()
	nodes := memorydb.New()
	for _, n := range proof {
		_ = nodes.Put(crypto.Keccak256(n), n)
	}
	v, err := trie.VerifyProof(root, key, nodes)
	if err != nil {
		t.Fatalf("proof of %x against %s: %v", key, root, err)
	}
	return v
}
