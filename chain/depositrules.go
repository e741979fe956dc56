package chain

import (
	"errors"
	"fmt"
)

// DepositChecker reads an L1's deposits for the deposit rules
// (l1.DepositFeed).
type DepositChecker interface {
	// Between returns the deposits of the L1 blocks after after through
	// through, in log order; false while it has not read the L1 that far
	// (or the L1 does not answer). An error: through is not the L1's block.
	Between(after, through L1Origin) ([]*Deposit, bool, error)
}

// DepositWindow is the sequencing window's rule (l1.Window).
type DepositWindow interface {
	// Required is the oldest cursor a block of L2 time t may carry; false
	// while the L1 that decides it has not been read.
	Required(t uint64) (L1Origin, bool, error)
}

var (
	// ErrDepositRule marks a block that breaks a deposit rule (it also
	// wraps ErrBadBlock).
	ErrDepositRule = errors.New("breaks the deposit rules")
	// ErrL1Behind: the node has not read the L1 as far as a block's check
	// needs; the block waits and is checked again.
	ErrL1Behind = errors.New("L1 not read up to what the block's deposit check needs yet")
)

// CheckDeposits checks block b's deposits and cursor against the L1, from
// its parent's cursor from (docs/l1.md): with a window, the cursor is as
// new as the sequencing window requires at the block's time (checked
// first: a cursor the window left behind is the reason, whatever follows
// from it); the cursor never moves back; and the deposits are exactly those
// the L1 logged in the blocks it moved over, in order. window may be nil.
func CheckDeposits(l1 DepositChecker, window DepositWindow, from L1Origin, b *BlockBundle) error {
	num, to := b.Block.NumberU64(), b.L1Origin
	rule := func(format string, args ...any) error {
		return fmt.Errorf("%w: block %d %w: "+format, append([]any{ErrBadBlock, num, ErrDepositRule}, args...)...)
	}
	if window != nil {
		need, ready, err := window.Required(b.Block.Time())
		switch {
		case err != nil || !ready:
			return ErrL1Behind // asked again later
		case need.Number > to.Number:
			return rule("its L1 cursor %d is older than L1 block %d, which the sequencing window requires at L2 time %d", to.Number, need.Number, b.Block.Time())
		}
	}
	switch {
	case to.Number < from.Number || (to.Number == from.Number && to.Hash != from.Hash):
		return rule("it moves the L1 cursor from %d (%s) back to %d (%s)", from.Number, from.Hash, to.Number, to.Hash)
	case to == from:
		if len(b.Deposits) > 0 {
			return rule("it has %d deposits and does not move the L1 cursor", len(b.Deposits))
		}
		return nil
	}
	want, ready, err := l1.Between(from, to)
	switch {
	case err != nil:
		return rule("%v", err)
	case !ready:
		return ErrL1Behind
	case len(want) != len(b.Deposits):
		return rule("it has %d deposits, the L1 logged %d in blocks %d..%d", len(b.Deposits), len(want), from.Number+1, to.Number)
	}
	for i, d := range want {
		if d.Hash() != b.Deposits[i].Hash() {
			return rule("its deposit %d is %s, the L1 logged %s (source %s)", i, b.Deposits[i].Hash(), d.Hash(), d.SourceHash)
		}
	}
	return nil
}

// ForcedCursor is the cursor the rules give block b in place of its own,
// from its parent's cursor from, and the deposits the L1 logged over it:
// b's cursor when the L1 has that block and it does not move back (else
// from), moved up to what the window requires. A block whose deposits are
// these is the block the rules force, under that cursor. ErrL1Behind: the
// node has not read the L1 that far.
func ForcedCursor(l1 DepositChecker, window DepositWindow, from L1Origin, b *BlockBundle) (L1Origin, []*Deposit, error) {
	cursor := from
	if to := b.L1Origin; to.Number > from.Number {
		if _, ready, err := l1.Between(from, to); err == nil && !ready {
			return L1Origin{}, nil, ErrL1Behind
		} else if err == nil {
			cursor = to
		}
	}
	if window != nil {
		need, ready, err := window.Required(b.Block.Time())
		if err != nil || !ready {
			return L1Origin{}, nil, ErrL1Behind
		}
		if need.Number > cursor.Number {
			cursor = need
		}
	}
	if cursor == from {
		return cursor, nil, nil
	}
	deposits, ready, err := l1.Between(from, cursor)
	switch {
	case err != nil:
		return L1Origin{}, nil, fmt.Errorf("%w: block %d: the forced cursor: %v", ErrBadBlock, b.Block.NumberU64(), err)
	case !ready:
		return L1Origin{}, nil, ErrL1Behind
	}
	return cursor, deposits, nil
}

// SameDeposits reports whether two deposit lists are the same deposits in
// the same order.
func SameDeposits(a, b []*Deposit) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Hash() != b[i].Hash() {
			return false
		}
	}
	return true
}
