package chain

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/trie"
)

// LatestProof is an account and some of its slots in the newest state — a
// sealed root with the mini-block overlay applied — with Merkle proofs
// against Root, that state's root (EIP-1186, as eth_getProof answers).
type LatestProof struct {
	Root          common.Hash
	Account       types.StateAccount
	AccountProof  [][]byte
	Values        []common.Hash
	StorageProofs [][][]byte
}

// proofNodes collects the nodes a trie's Prove writes.
type proofNodes [][]byte

func (p *proofNodes) Put(_ []byte, value []byte) error {
	*p = append(*p, common.CopyBytes(value))
	return nil
}

func (p *proofNodes) Delete([]byte) error { return nil }

// ProveLatest proves addr and keys in the state of root with o applied:
// the overlay's changes are hashed into the tries in memory (nothing is
// written), so the proofs hold for the state the chain answers reads with
// before the block is sealed. A nil o proves root itself.
func ProveLatest(db state.Database, rules params.Rules, root common.Hash, o *Overlay, addr common.Address, keys []common.Hash) (*LatestProof, error) {
	st, err := state.New(root, db)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", root, err)
	}
	var flat *Overlay
	if o != nil {
		flat = o.flatten()
		for a, acct := range flat.accounts {
			applyOverlayAccount(st, a, acct, flat.codes)
		}
	}
	res := &LatestProof{Root: st.IntermediateRoot(rules)}
	if err := st.Error(); err != nil {
		return nil, err
	}
	var nodes proofNodes
	if err := st.GetTrie().Prove(crypto.Keccak256(addr.Bytes()), &nodes); err != nil {
		return nil, fmt.Errorf("prove account %s: %w", addr, err)
	}
	res.AccountProof = nodes
	res.Account = types.StateAccount{Nonce: st.GetNonce(addr), Balance: st.GetBalance(addr), Root: st.GetStorageRoot(addr), CodeHash: st.GetCodeHash(addr).Bytes()}
	if res.Account.Root == (common.Hash{}) {
		res.Account.Root = types.EmptyRootHash
	}
	if len(keys) == 0 {
		return res, nil
	}
	// The account's storage trie with the overlay's slots: StateDB keeps the
	// one it hashed to itself, so it is built again here.
	storage, err := storageTrieOf(db, root, addr, flat)
	if err != nil {
		return nil, err
	}
	if storage != nil && storage.Hash() != res.Account.Root {
		return nil, fmt.Errorf("storage of %s: rebuilt root %s, state has %s", addr, storage.Hash(), res.Account.Root)
	}
	for _, k := range keys {
		res.Values = append(res.Values, st.GetState(addr, k))
		var nodes proofNodes
		if storage != nil {
			if err := storage.Prove(crypto.Keccak256(k.Bytes()), &nodes); err != nil {
				return nil, fmt.Errorf("prove slot %s of %s: %w", k, addr, err)
			}
		}
		res.StorageProofs = append(res.StorageProofs, nodes)
	}
	return res, nil
}

// applyOverlayAccount writes one account of a flattened overlay into st.
func applyOverlayAccount(st *state.StateDB, addr common.Address, a *overlayAccount, codes map[common.Hash][]byte) {
	c := a.change
	if c.Deleted {
		if st.Exist(addr) {
			st.SelfDestruct(addr)
		}
		return
	}
	if a.wiped && st.Exist(addr) {
		st.SetStorage(addr, nil) // recreated in the overlay: none of the trie's slots remain
	}
	st.SetNonce(addr, c.Nonce, tracing.NonceChangeUnspecified)
	st.SetBalance(addr, c.Balance, tracing.BalanceChangeUnspecified)
	if code, ok := codes[c.CodeHash]; ok && st.GetCodeHash(addr) != c.CodeHash {
		st.SetCode(addr, code, tracing.CodeChangeUnspecified)
	}
	for k, v := range a.storage {
		st.SetState(addr, k, v)
	}
}

// storageTrieOf opens addr's storage trie at root and applies the overlay's
// slots; nil when the account has no storage.
func storageTrieOf(db state.Database, root common.Hash, addr common.Address, flat *Overlay) (*trie.StateTrie, error) {
	storageRoot := types.EmptyRootHash
	var a *overlayAccount
	if flat != nil {
		a = flat.accounts[addr]
	}
	if a == nil || !a.wiped {
		base, err := state.New(root, db)
		if err != nil {
			return nil, err
		}
		if r := base.GetStorageRoot(addr); r != (common.Hash{}) {
			storageRoot = r
		}
	}
	tr, err := trie.NewStateTrie(trie.StorageTrieID(root, crypto.Keccak256Hash(addr.Bytes()), storageRoot), db.TrieDB())
	if err != nil {
		return nil, fmt.Errorf("storage trie of %s: %w", addr, err)
	}
	if a != nil {
		for k, v := range a.storage {
			if v == (common.Hash{}) {
				err = tr.DeleteStorage(addr, k.Bytes())
			} else {
				err = tr.UpdateStorage(addr, k.Bytes(), common.TrimLeftZeroes(v[:]))
			}
			if err != nil {
				return nil, fmt.Errorf("storage of %s: %w", addr, err)
			}
		}
	}
	if tr.Hash() == types.EmptyRootHash {
		return nil, nil
	}
	return tr, nil
}
