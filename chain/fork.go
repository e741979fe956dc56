package chain

import (
	"fmt"
	"sync"

	"github.com/holiman/uint256"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

// ForkSource reads another chain's state at the block a devnet forked it
// at (an RPC node); it is called at most once per account and slot.
type ForkSource interface {
	Account(addr common.Address) (nonce uint64, balance *uint256.Int, code []byte, err error)
	Storage(addr common.Address, slot common.Hash) (common.Hash, error)
}

// Fork is a forked devnet's state underneath its own: what the local trie
// never wrote is read lazily from the source, once, and kept. The local
// trie holds what the devnet wrote, so its roots are over that part only
// (as anvil's are over its cache). A remote account is presented with an
// empty storage root: slots the devnet never wrote are the source's.
//
// Written marks what the local state has written (from every committed
// state update): there the local value, zero included, is the truth.
type Fork struct {
	src ForkSource
	gen uint64 // counts Resets: a read begun before one is not kept

	mu       sync.Mutex
	accounts map[common.Address]*forkAccount
	slots    map[common.Address]map[common.Hash]common.Hash
	codes    map[common.Hash][]byte
	written  map[common.Address]*forkWrites
}

// forkWrites is what the local state wrote of one account, with the block
// that first wrote it (a revert forgets later writes).
type forkWrites struct {
	block uint64
	slots map[common.Hash]uint64 // hashed slot key → block
}

type forkAccount struct {
	nonce    uint64
	balance  *uint256.Int
	codeHash common.Hash
	exists   bool
}

// NewFork reads the state under a devnet from src.
func NewFork(src ForkSource) *Fork {
	return &Fork{src: src, accounts: make(map[common.Address]*forkAccount), slots: make(map[common.Address]map[common.Hash]common.Hash),
		codes: make(map[common.Hash][]byte), written: make(map[common.Address]*forkWrites)}
}

// Reset forks anew from src (anvil_reset with forking parameters): what
// was read and written is forgotten. A nil src forks nothing: the state is
// the devnet's alone.
func (f *Fork) Reset(src ForkSource) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.src = src
	f.gen++
	f.accounts = make(map[common.Address]*forkAccount)
	f.slots = make(map[common.Address]map[common.Hash]common.Hash)
	f.codes = make(map[common.Hash][]byte)
	f.written = make(map[common.Address]*forkWrites)
}

// Record marks what a committed state update wrote; the commit's state is
// the local truth for those accounts and slots from then on.
func (f *Fork) Record(u *state.StateUpdate) {
	if u == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for addr := range u.AccountsOrigin {
		f.markAccount(addr, u.BlockNumber)
	}
	for addr, slots := range u.StoragesOrigin {
		w := f.markAccount(addr, u.BlockNumber)
		for key := range slots {
			if u.StorageKeyType == state.StorageKeyPlain {
				key = crypto.Keccak256Hash(key[:])
			}
			if _, ok := w.slots[key]; !ok {
				w.slots[key] = u.BlockNumber
			}
		}
	}
}

// RecordAlloc marks a genesis alloc (block number) as the devnet's own.
func (f *Fork) RecordAlloc(number uint64, accounts map[common.Address][]common.Hash) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for addr, slots := range accounts {
		w := f.markAccount(addr, number)
		for _, s := range slots {
			w.slots[crypto.Keccak256Hash(s[:])] = number
		}
	}
}

// Rewind forgets what blocks after number wrote (a revert).
func (f *Fork) Rewind(number uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for addr, w := range f.written {
		if w.block > number {
			delete(f.written, addr)
			continue
		}
		for k, b := range w.slots {
			if b > number {
				delete(w.slots, k)
			}
		}
	}
}

func (f *Fork) markAccount(addr common.Address, block uint64) *forkWrites {
	w, ok := f.written[addr]
	if !ok {
		w = &forkWrites{block: block, slots: make(map[common.Hash]uint64)}
		f.written[addr] = w
	}
	return w
}

// Database wraps local, the devnet's state database, so its readers fall
// back to the fork.
func (f *Fork) Database(local state.Database) state.Database {
	return &forkDatabase{Database: local, fork: f}
}

type forkDatabase struct {
	state.Database
	fork *Fork
}

func (d *forkDatabase) Reader(root common.Hash) (state.Reader, error) {
	r, err := d.Database.Reader(root)
	if err != nil {
		return nil, err
	}
	return &forkReader{local: r, fork: d.fork}, nil
}

type forkReader struct {
	local state.Reader
	fork  *Fork
}

func (r *forkReader) Account(addr common.Address) (*types.StateAccount, error) {
	acct, err := r.local.Account(addr)
	if err != nil || acct != nil || r.fork.wrote(addr) {
		return acct, err
	}
	fa, err := r.fork.account(addr)
	if err != nil || !fa.exists {
		return nil, err
	}
	return &types.StateAccount{Nonce: fa.nonce, Balance: new(uint256.Int).Set(fa.balance), Root: types.EmptyRootHash, CodeHash: fa.codeHash.Bytes()}, nil
}

func (r *forkReader) Storage(addr common.Address, slot common.Hash) (common.Hash, error) {
	v, err := r.local.Storage(addr, slot)
	if err != nil || v != (common.Hash{}) || r.fork.wroteSlot(addr, slot) {
		return v, err
	}
	return r.fork.storage(addr, slot)
}

func (r *forkReader) Has(addr common.Address, codeHash common.Hash) bool {
	return r.local.Has(addr, codeHash) || r.fork.code(codeHash) != nil
}

func (r *forkReader) Code(addr common.Address, codeHash common.Hash) []byte {
	if code := r.local.Code(addr, codeHash); len(code) > 0 {
		return code
	}
	return r.fork.code(codeHash)
}

func (r *forkReader) CodeSize(addr common.Address, codeHash common.Hash) int {
	if n := r.local.CodeSize(addr, codeHash); n > 0 {
		return n
	}
	return len(r.fork.code(codeHash))
}

func (f *Fork) wrote(addr common.Address) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.written[addr]
	return ok
}

// wroteSlot reports whether the local state owns slot of addr: it wrote the
// slot, or the account is the devnet's own (created or edited here, its
// storage is local). An account only touched (balance, nonce) keeps the
// source's other slots.
func (f *Fork) wroteSlot(addr common.Address, slot common.Hash) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	w, ok := f.written[addr]
	if !ok {
		return false
	}
	if _, ok := w.slots[crypto.Keccak256Hash(slot[:])]; ok {
		return true
	}
	a, fetched := f.accounts[addr]
	// An account the source never had is the devnet's: nothing to fall back to.
	return fetched && !a.exists
}

func (f *Fork) code(hash common.Hash) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.codes[hash]
}

func (f *Fork) account(addr common.Address) (*forkAccount, error) {
	f.mu.Lock()
	a, ok := f.accounts[addr]
	f.mu.Unlock()
	if ok {
		return a, nil
	}
	f.mu.Lock()
	src, gen := f.src, f.gen
	f.mu.Unlock()
	if src == nil {
		return &forkAccount{balance: new(uint256.Int), codeHash: types.EmptyCodeHash}, nil
	}
	nonce, balance, code, err := src.Account(addr)
	if err != nil {
		return nil, fmt.Errorf("fork: account %s: %w", addr, err)
	}
	if balance == nil {
		balance = new(uint256.Int)
	}
	a = &forkAccount{nonce: nonce, balance: balance, codeHash: types.EmptyCodeHash, exists: nonce != 0 || !balance.IsZero() || len(code) > 0}
	if len(code) > 0 {
		a.codeHash = crypto.Keccak256Hash(code)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if gen == f.gen {
		if len(code) > 0 {
			f.codes[a.codeHash] = code
		}
		f.accounts[addr] = a
	}
	return a, nil
}

func (f *Fork) storage(addr common.Address, slot common.Hash) (common.Hash, error) {
	f.mu.Lock()
	if v, ok := f.slots[addr][slot]; ok {
		f.mu.Unlock()
		return v, nil
	}
	f.mu.Unlock()
	if a, err := f.account(addr); err != nil || !a.exists {
		return common.Hash{}, err
	}
	f.mu.Lock()
	src, gen := f.src, f.gen
	f.mu.Unlock()
	v, err := src.Storage(addr, slot)
	if err != nil {
		return common.Hash{}, fmt.Errorf("fork: storage %s of %s: %w", slot, addr, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if gen != f.gen {
		return v, nil
	}
	m, ok := f.slots[addr]
	if !ok {
		m = make(map[common.Hash]common.Hash)
		f.slots[addr] = m
	}
	m[slot] = v
	return v, nil
}
