package l1

import (
	"math/big"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
)

type outputLog struct {
	outputs []chain.L1Output
	deleted []uint64
	view    chain.L1View
}

func (o *outputLog) L1Output(x chain.L1Output) { o.outputs = append(o.outputs, x) }
func (o *outputLog) L1Deleted(i uint64)        { o.deleted = append(o.deleted, i) }
func (o *outputLog) L1Head(v chain.L1View)     { o.view = v }

// TestOutputWatcher: proposals and deletions reach the ladder in L1 order
// with where they are on L1 and the oracle's window, then the L1's
// finalized block and time.
func TestOutputWatcher(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SubmissionInterval = 2 })
	e.advance(30 * time.Second)
	roots := []common.Hash{{1}, {2}}
	var l1Blocks []uint64
	for i, root := range roots {
		r, err := e.c.ProposeL2Output(e.ctx, e.opts(e.proposer), root, uint64(2*(i+1)), common.Hash{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		l1Blocks = append(l1Blocks, r.BlockNumber.Uint64())
	}
	if _, err := e.c.DeleteL2Outputs(e.ctx, e.opts(e.prover), 1); err != nil {
		t.Fatal(err)
	}
	sink := &outputLog{}
	w := NewOutputWatcher(e.c, InboxConfig{MaxRange: 1}, sink, zerolog.Nop())
	if err := w.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	if len(sink.outputs) != 2 || len(sink.deleted) != 1 || sink.deleted[0] != 1 {
		t.Fatalf("outputs %+v, deleted %v: want two proposals, then index 1 deleted", sink.outputs, sink.deleted)
	}
	o := sink.outputs[1]
	if o.Index != 1 || o.L2Block != 4 || o.Root != roots[1] || o.L1Block != l1Blocks[1] || o.Window != 100 || o.L1Time == 0 || o.L1Tx == (common.Hash{}) {
		t.Fatalf("second output %+v", o)
	}
	head, _ := e.l1.Client().HeaderByNumber(e.ctx, nil)
	safe, _ := e.l1.Client().HeaderByNumber(e.ctx, big.NewInt(int64(rpc.SafeBlockNumber)))
	fin, _ := e.l1.Client().HeaderByNumber(e.ctx, big.NewInt(int64(rpc.FinalizedBlockNumber)))
	want := chain.L1View{Current: chain.L1BlockOf(head), Head: chain.L1BlockOf(head), Safe: chain.L1BlockOf(safe), Finalized: chain.L1BlockOf(fin)}
	if sink.view != want || want.Head.Hash != head.Hash() || want.Head.Time != head.Time || want.Head.ParentHash != head.ParentHash {
		t.Fatalf("L1 view %+v, want %+v", sink.view, want)
	}
	// Nothing is delivered twice; an embedded L1's head is final.
	w.cfg.HeadIsFinal = true
	if err := w.Step(e.ctx); err != nil || len(sink.outputs) != 2 || sink.view.Finalized != want.Head || sink.view.Safe != want.Head {
		t.Fatalf("second step: %d outputs, view %+v (%v)", len(sink.outputs), sink.view, err)
	}
}
