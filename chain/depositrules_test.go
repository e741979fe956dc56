package chain

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// fakeL1 logs deposits per L1 block and knows the L1 up to head.
type fakeL1 struct {
	head   uint64
	blocks map[uint64][]*Deposit
}

func (l *fakeL1) Between(after, through L1Origin) ([]*Deposit, bool, error) {
	if through.Number > l.head {
		return nil, false, nil
	}
	if through.Hash != l1Hash(through.Number) {
		return nil, false, errors.New("not the L1's block")
	}
	var out []*Deposit
	for n := after.Number + 1; n <= through.Number; n++ {
		out = append(out, l.blocks[n]...)
	}
	return out, true, nil
}

func l1Hash(n uint64) common.Hash { return common.BigToHash(new(big.Int).SetUint64(n + 1000)) }
func l1At(n uint64) L1Origin      { return L1Origin{Number: n, Hash: l1Hash(n)} }

// fakeWindow requires L1 block need at every time, or is not ready.
type fakeWindow struct {
	need  uint64
	ready bool
}

func (w fakeWindow) Required(uint64) (L1Origin, bool, error) { return l1At(w.need), w.ready, nil }

// TestCheckDeposits: each deposit rule, and the waits for an L1 not read
// far enough.
func TestCheckDeposits(t *testing.T) {
	d1 := &Deposit{SourceHash: common.Hash{1}, Gas: 100_000}
	d2 := &Deposit{SourceHash: common.Hash{2}, Gas: 100_000}
	l1 := &fakeL1{head: 10, blocks: map[uint64][]*Deposit{4: {d1}, 6: {d2}}}
	block := types.NewBlockWithHeader(&types.Header{Number: big.NewInt(7), Time: 100})
	bundle := func(to L1Origin, ds ...*Deposit) *BlockBundle {
		return &BlockBundle{Block: block, L1Origin: to, Deposits: ds}
	}
	cases := []struct {
		name   string
		window DepositWindow
		from   L1Origin
		b      *BlockBundle
		want   error // nil, ErrL1Behind or ErrDepositRule
	}{
		{"both deposits, cursor moved over them", nil, l1At(2), bundle(l1At(8), d1, d2), nil},
		{"no move, no deposits", nil, l1At(5), bundle(l1At(5)), nil},
		{"one left out", nil, l1At(2), bundle(l1At(8), d2), ErrDepositRule},
		{"reordered", nil, l1At(2), bundle(l1At(8), d2, d1), ErrDepositRule},
		{"one added without moving", nil, l1At(8), bundle(l1At(8), d1), ErrDepositRule},
		{"cursor back", nil, l1At(8), bundle(l1At(7)), ErrDepositRule},
		{"same height, another hash", nil, l1At(8), bundle(L1Origin{Number: 8, Hash: common.Hash{8}}), ErrDepositRule},
		{"cursor not the L1's block", nil, l1At(2), bundle(L1Origin{Number: 8, Hash: common.Hash{8}}, d1, d2), ErrDepositRule},
		{"cursor past the L1 read", nil, l1At(2), bundle(l1At(12), d1, d2), ErrL1Behind},
		{"window met", fakeWindow{need: 8, ready: true}, l1At(2), bundle(l1At(8), d1, d2), nil},
		{"window left behind", fakeWindow{need: 9, ready: true}, l1At(2), bundle(l1At(8), d1, d2), ErrDepositRule},
		{"window undecided", fakeWindow{ready: false}, l1At(2), bundle(l1At(8), d1, d2), ErrL1Behind},
		{"window behind, cursor stuck", fakeWindow{need: 4, ready: true}, l1At(0), bundle(l1At(0)), ErrDepositRule},
	}
	for _, tc := range cases {
		err := CheckDeposits(l1, tc.window, tc.from, tc.b)
		switch {
		case tc.want == nil && err != nil:
			t.Errorf("%s: %v, want nil", tc.name, err)
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		case errors.Is(tc.want, ErrDepositRule) && !errors.Is(err, ErrBadBlock):
			t.Errorf("%s: %v does not wrap ErrBadBlock", tc.name, err)
		}
	}
}

// TestForcedCursor: the sequencer's cursor when the L1 has it and it moves
// on, else the parent's, raised to the window's; the deposits over it.
func TestForcedCursor(t *testing.T) {
	d1 := &Deposit{SourceHash: common.Hash{1}, Gas: 100_000}
	d2 := &Deposit{SourceHash: common.Hash{2}, Gas: 100_000}
	l1 := &fakeL1{head: 10, blocks: map[uint64][]*Deposit{4: {d1}, 6: {d2}}}
	block := types.NewBlockWithHeader(&types.Header{Number: big.NewInt(7), Time: 100})
	cases := []struct {
		name   string
		window DepositWindow
		from   L1Origin
		to     L1Origin
		want   uint64
		ds     []*Deposit
		err    error
	}{
		{"the sequencer's", nil, l1At(2), l1At(5), 5, []*Deposit{d1}, nil},
		{"not the L1's block: the parent's", nil, l1At(2), L1Origin{Number: 5, Hash: common.Hash{5}}, 2, nil, nil},
		{"back: the parent's", nil, l1At(5), l1At(3), 5, nil, nil},
		{"raised by the window", fakeWindow{need: 6, ready: true}, l1At(2), l1At(3), 6, []*Deposit{d1, d2}, nil},
		{"window below the sequencer's", fakeWindow{need: 3, ready: true}, l1At(2), l1At(8), 8, []*Deposit{d1, d2}, nil},
		{"window undecided", fakeWindow{}, l1At(2), l1At(3), 0, nil, ErrL1Behind},
		{"past the L1 read", nil, l1At(2), l1At(12), 0, nil, ErrL1Behind},
	}
	for _, tc := range cases {
		c, ds, err := ForcedCursor(l1, tc.window, tc.from, &BlockBundle{Block: block, L1Origin: tc.to})
		switch {
		case tc.err != nil:
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
			}
		case err != nil || c != l1At(tc.want) || !SameDeposits(ds, tc.ds):
			t.Errorf("%s: %+v %v (%v), want L1 block %d with %d deposits", tc.name, c, ds, err, tc.want, len(tc.ds))
		}
	}
	if SameDeposits([]*Deposit{d1}, []*Deposit{d2}) || SameDeposits([]*Deposit{d1}, nil) || !SameDeposits(nil, nil) {
		t.Error("SameDeposits")
	}
}
