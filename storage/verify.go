package storage

import (
	"bytes"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/trie"
)

// VerifyState walks the whole state at root, every account trie node,
// storage trie node and contract code, and fails on the first one that is
// missing. It reads everything: for crash-recovery tests and tools, not for
// a serving node's hot path.
func (s *Store) VerifyState(root common.Hash) error {
	accounts, err := trie.NewStateTrie(trie.StateTrieID(root), s.triedb)
	if err != nil {
		return fmt.Errorf("state %s: %w", root, err)
	}
	it, err := accounts.NodeIterator(nil)
	if err != nil {
		return fmt.Errorf("state %s: %w", root, err)
	}
	n := 0
	for it.Next(true) {
		if !it.Leaf() {
			continue
		}
		n++
		acct, err := types.FullAccount(it.LeafBlob())
		if err != nil {
			return fmt.Errorf("state %s: account %x: %w", root, it.LeafKey(), err)
		}
		owner := common.BytesToHash(it.LeafKey())
		if acct.Root != types.EmptyRootHash {
			st, err := trie.NewStateTrie(trie.StorageTrieID(root, owner, acct.Root), s.triedb)
			if err != nil {
				return fmt.Errorf("state %s: storage of %x: %w", root, owner, err)
			}
			sit, err := st.NodeIterator(nil)
			if err != nil {
				return fmt.Errorf("state %s: storage of %x: %w", root, owner, err)
			}
			for sit.Next(true) {
			}
			if err := sit.Error(); err != nil {
				return fmt.Errorf("state %s: storage of %x: %w", root, owner, err)
			}
		}
		if h := common.BytesToHash(acct.CodeHash); h != types.EmptyCodeHash {
			code := rawdb.ReadCode(s.kv, h)
			if len(code) == 0 || !bytes.Equal(crypto.Keccak256(code), h[:]) {
				return fmt.Errorf("state %s: code %s of %x missing", root, h, owner)
			}
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("state %s: %w", root, err)
	}
	if n == 0 {
		return fmt.Errorf("state %s: no accounts", root)
	}
	return nil
}
