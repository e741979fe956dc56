package prover

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/meganode/meganode/chain"
)

// l1Log logs deposits per L1 block and knows the L1 up to head; its block
// n has hash n+1000.
type l1Log struct {
	head   uint64
	blocks map[uint64]int // deposits per L1 block
}

func l1At(n uint64) chain.L1Origin {
	return chain.L1Origin{Number: n, Hash: common.BigToHash(new(big.Int).SetUint64(n + 1000))}
}

func (l l1Log) Between(after, through chain.L1Origin) ([]*chain.Deposit, bool, error) {
	if through.Number > l.head {
		return nil, false, nil
	}
	if through != l1At(through.Number) {
		return nil, false, errors.New("not the L1's block")
	}
	var out []*chain.Deposit
	for n := after.Number + 1; n <= through.Number; n++ {
		for range l.blocks[n] {
			out = append(out, &chain.Deposit{})
		}
	}
	return out, true, nil
}

type needs struct {
	n     uint64
	ready bool
}

func (w needs) Required(uint64) (chain.L1Origin, bool, error) { return l1At(w.n), w.ready, nil }

// TestCheckCursor: the prover's parent-free deposit rules.
func TestCheckCursor(t *testing.T) {
	l1 := l1Log{head: 10, blocks: map[uint64]int{4: 1}}
	block := types.NewBlockWithHeader(&types.Header{Number: big.NewInt(3), Time: 50})
	cases := []struct {
		name   string
		window chain.DepositWindow
		cursor chain.L1Origin
		want   error
	}{
		{"canonical cursor, no window", nil, l1At(5), nil},
		{"zero cursor, no window", nil, chain.L1Origin{}, nil},
		{"not the L1's block", nil, chain.L1Origin{Number: 5, Hash: common.Hash{5}}, chain.ErrDepositRule},
		{"past the L1 read", nil, l1At(11), chain.ErrL1Behind},
		{"window met", needs{5, true}, l1At(5), nil},
		{"window behind over empty L1 blocks", needs{3, true}, l1At(1), nil},
		{"window behind over a deposit", needs{6, true}, l1At(2), chain.ErrDepositRule},
		{"window undecided", needs{0, false}, l1At(5), chain.ErrL1Behind},
	}
	for _, tc := range cases {
		p := &Prover{cfg: Config{Deposits: l1, Window: tc.window}}
		err := p.checkCursor(&chain.BlockBundle{Block: block, L1Origin: tc.cursor})
		switch {
		case tc.want == nil && err != nil:
			t.Errorf("%s: %v, want nil", tc.name, err)
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}
