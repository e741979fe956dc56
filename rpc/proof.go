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

// GetProof returns Merkle proofs of an account and some of its slots. A proof
// must verify against a header's stateRoot, so "latest" and "pending" prove
// against the last sealed block: mini-block state has no trie of its own.
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
		// A 32-byte key is echoed as given, anything shorter as a quantity:
		// what geth answers.
		out := hexutil.Encode(key[:])
		if lengths[i] != 32 {
			out = hexutil.EncodeBig(key.Big())
		}
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
