package chain

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
)

// maxOverlayDepth bounds how many layers a lookup walks before Push flattens.
const maxOverlayDepth = 32

// Overlay is an immutable stack of mini-block state changes over a sealed
// state root: the "latest" state of MegaETH semantics without copying a
// StateDB every mini-block. A nil *Overlay is the empty overlay.
type Overlay struct {
	parent   *Overlay
	depth    int
	accounts map[common.Address]*overlayAccount
	codes    map[common.Hash][]byte
}

type overlayAccount struct {
	change  AccountChange
	wiped   bool // deleted in this layer: older layers and the trie hold no slots for it
	storage map[common.Hash]common.Hash
}

// Push returns a new overlay with changes on top of o; o is unchanged.
// changes name each address at most once, as BlockBuilder.TakeChanges does.
func (o *Overlay) Push(changes []AccountChange) *Overlay {
	if len(changes) == 0 {
		return o
	}
	n := &Overlay{parent: o, accounts: make(map[common.Address]*overlayAccount, len(changes)), codes: make(map[common.Hash][]byte)}
	if o != nil {
		n.depth = o.depth + 1
	}
	for _, c := range changes {
		a := &overlayAccount{change: c, wiped: c.Deleted, storage: make(map[common.Hash]common.Hash, len(c.Storage))}
		for _, s := range c.Storage {
			a.storage[s.Slot] = s.Value
		}
		n.accounts[c.Address] = a
		if len(c.Code) > 0 {
			n.codes[c.CodeHash] = c.Code
		}
	}
	if n.depth >= maxOverlayDepth {
		return n.flatten()
	}
	return n
}

// flatten merges every layer into one, oldest first.
func (o *Overlay) flatten() *Overlay {
	var layers []*Overlay
	for l := o; l != nil; l = l.parent {
		layers = append(layers, l)
	}
	flat := &Overlay{accounts: make(map[common.Address]*overlayAccount), codes: make(map[common.Hash][]byte)}
	for i := len(layers) - 1; i >= 0; i-- {
		for addr, a := range layers[i].accounts {
			fa, ok := flat.accounts[addr]
			if !ok || a.wiped {
				fa = &overlayAccount{wiped: a.wiped, storage: make(map[common.Hash]common.Hash)}
				flat.accounts[addr] = fa
			}
			fa.change = a.change
			for k, v := range a.storage {
				fa.storage[k] = v
			}
		}
		for h, c := range layers[i].codes {
			flat.codes[h] = c
		}
	}
	return flat
}

// Reader returns a state.Reader that answers from the overlay first and from
// base (the reader of the sealed root) for everything the overlay lacks.
func (o *Overlay) Reader(base state.Reader) state.Reader {
	if o == nil {
		return base
	}
	return &overlayReader{top: o, base: base}
}

type overlayReader struct {
	top  *Overlay
	base state.Reader
}

func (r *overlayReader) Account(addr common.Address) (*types.StateAccount, error) {
	for l := r.top; l != nil; l = l.parent {
		a, ok := l.accounts[addr]
		if !ok {
			continue
		}
		if a.change.Deleted {
			return nil, nil
		}
		acct := &types.StateAccount{
			Nonce:    a.change.Nonce,
			Balance:  a.change.Balance.Clone(),
			Root:     types.EmptyRootHash,
			CodeHash: a.change.CodeHash.Bytes(),
		}
		// The storage root is only known at seal; report the sealed one.
		if base, err := r.base.Account(addr); err == nil && base != nil {
			acct.Root = base.Root
		}
		return acct, nil
	}
	return r.base.Account(addr)
}

func (r *overlayReader) Storage(addr common.Address, slot common.Hash) (common.Hash, error) {
	for l := r.top; l != nil; l = l.parent {
		a, ok := l.accounts[addr]
		if !ok {
			continue
		}
		if v, ok := a.storage[slot]; ok {
			return v, nil
		}
		if a.wiped {
			return common.Hash{}, nil
		}
	}
	return r.base.Storage(addr, slot)
}

func (r *overlayReader) code(codeHash common.Hash) []byte {
	for l := r.top; l != nil; l = l.parent {
		if c, ok := l.codes[codeHash]; ok {
			return c
		}
	}
	return nil
}

func (r *overlayReader) Has(addr common.Address, codeHash common.Hash) bool {
	return r.code(codeHash) != nil || r.base.Has(addr, codeHash)
}

func (r *overlayReader) Code(addr common.Address, codeHash common.Hash) []byte {
	if c := r.code(codeHash); c != nil {
		return c
	}
	return r.base.Code(addr, codeHash)
}

func (r *overlayReader) CodeSize(addr common.Address, codeHash common.Hash) int {
	if c := r.code(codeHash); c != nil {
		return len(c)
	}
	return r.base.CodeSize(addr, codeHash)
}
