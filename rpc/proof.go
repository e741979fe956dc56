package rpc

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
)

// AccountResult is the eth_getProof answer (EIP-1186).
type AccountResult struct {
	Address      common.Address  `json:"address"`
	AccountProof []string        `json:"accountProof"`
	Balance      *hexutil.Big    `json:"balance"`
	CodeHash     common.Hash     `json:"codeHash"`
	Nonce        hexutil.Uint64  `json:"nonce"`
	StorageHash  common.Hash     `json:"storageHash"`
	StorageProof []StorageResult `json:"storageProof"`
}

// StorageResult is one slot's proof.
type StorageResult struct {
	Key   string       `json:"key"`
	Value *hexutil.Big `json:"value"`
	Proof []string     `json:"proof"`
}

// proofList collects trie proof nodes as hex strings.
type proofList []string

func (n *proofList) Put(_ []byte, value []byte) error {
	*n = append(*n, hexutil.Encode(value))
	return nil
}

func (n *proofList) Delete([]byte) error { return fmt.Errorf("proof list is append-only") }

// latestOverlay is a node whose newest state is a sealed root under a
// mini-block overlay (the sequencer, a replica).
type latestOverlay interface {
	LatestOverlay() (root common.Hash, o *chain.Overlay, header *types.Header)
}

// GetProof returns Merkle proofs of an account and some of its slots. At
// "latest" and "pending" they prove the newest state — the one eth_getBalance
// and eth_call read, mini-blocks (and a dev chain's unmined edits) included:
// its tries are hashed in memory, so before the block seals the proofs hold
// against that state's root, which no header carries yet.
func (api *EthAPI) GetProof(ctx context.Context, address common.Address, storageKeys []string, bnh *gethrpc.BlockNumberOrHash) (*AccountResult, error) {
	if len(storageKeys) > maxStorageSlots {
		return nil, &invalidParamsError{fmt.Sprintf("too many storage keys requested (max %d, got %d)", maxStorageSlots, len(storageKeys))}
	}
	keys := make([]common.Hash, len(storageKeys))
	lengths := make([]int, len(storageKeys))
	for i, hexKey := range storageKeys {
		var err error
		if keys[i], lengths[i], err = decodeHash(hexKey); err != nil {
			return nil, &invalidParamsError{fmt.Sprintf("%v: %q", err, hexKey)}
		}
	}
	target := gethrpc.BlockNumberOrHashWithNumber(gethrpc.LatestBlockNumber)
	if bnh != nil {
		target = *bnh
	}
	if num, ok := target.Number(); ok && (num == gethrpc.LatestBlockNumber || num == gethrpc.PendingBlockNumber) {
		if lo, ok := api.b.Latest.(latestOverlay); ok {
			if root, o, h := lo.LatestOverlay(); o != nil {
				return api.proveLatest(root, o, h, address, keys, lengths)
			}
		}
	}
	header, err := api.resolveHeader(target)
	if err != nil {
		return nil, err
	}
	st, err := state.New(header.Root, api.b.Chain.StateDatabase())
	if err != nil {
		return nil, fmt.Errorf("state of block %d not available: %w", header.Number, err)
	}
	storageRoot := st.GetStorageRoot(address)
	proofs := make([]StorageResult, len(keys))
	var storageTrie state.Trie
	if len(keys) > 0 && storageRoot != types.EmptyRootHash && storageRoot != (common.Hash{}) {
		if storageTrie, err = st.Database().OpenStorageTrie(header.Root, address, storageRoot, nil); err != nil {
			return nil, err
		}
	}
	for i, key := range keys {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out := proofKey(key, lengths[i])
		if storageTrie == nil {
			proofs[i] = StorageResult{out, &hexutil.Big{}, []string{}}
			continue
		}
		var proof proofList
		if err := storageTrie.Prove(crypto.Keccak256(key.Bytes()), &proof); err != nil {
			return nil, err
		}
		proofs[i] = StorageResult{out, (*hexutil.Big)(st.GetState(address, key).Big()), proof}
	}
	tr, err := st.Database().OpenTrie(header.Root)
	if err != nil {
		return nil, err
	}
	var accountProof proofList
	if err := tr.Prove(crypto.Keccak256(address.Bytes()), &accountProof); err != nil {
		return nil, err
	}
	return &AccountResult{
		Address:      address,
		AccountProof: accountProof,
		Balance:      (*hexutil.Big)(st.GetBalance(address).ToBig()),
		CodeHash:     st.GetCodeHash(address),
		Nonce:        hexutil.Uint64(st.GetNonce(address)),
		StorageHash:  storageRoot,
		StorageProof: proofs,
	}, st.Error()
}

// proveLatest answers eth_getProof from the newest state: root with o.
func (api *EthAPI) proveLatest(root common.Hash, o *chain.Overlay, h *types.Header, address common.Address, keys []common.Hash, lengths []int) (*AccountResult, error) {
	p, err := chain.ProveLatest(api.b.Chain.StateDatabase(), api.config.Rules(h.Number, true, h.Time), root, o, address, keys)
	if err != nil {
		return nil, err
	}
	res := &AccountResult{
		Address:      address,
		AccountProof: hexProof(p.AccountProof),
		Balance:      (*hexutil.Big)(p.Account.Balance.ToBig()),
		CodeHash:     common.BytesToHash(p.Account.CodeHash),
		Nonce:        hexutil.Uint64(p.Account.Nonce),
		StorageHash:  p.Account.Root,
		StorageProof: make([]StorageResult, len(keys)),
	}
	for i, key := range keys {
		res.StorageProof[i] = StorageResult{proofKey(key, lengths[i]), (*hexutil.Big)(p.Values[i].Big()), hexProof(p.StorageProofs[i])}
	}
	return res, nil
}

func hexProof(nodes [][]byte) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = hexutil.Encode(n)
	}
	return out
}

// proofKey echoes a 32-byte key as given, anything shorter as a quantity:
// what geth answers.
func proofKey(key common.Hash, length int) string {
	if length != 32 {
		return hexutil.EncodeBig(key.Big())
	}
	return hexutil.Encode(key[:])
}
