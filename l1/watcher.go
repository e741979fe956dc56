package l1

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/contracts"
)

// OutputEvents hears what an OutputWatcher reads on L1, in L1 order.
type OutputEvents interface {
	// L1Output is a proposal, not checked against any L2 block yet.
	L1Output(o chain.L1Output)
	// L1Deleted: the outputs from index on were deleted.
	L1Deleted(index uint64)
	// L1Head is the L1 as the watcher read it: the block its logs are read
	// through and the L1's head, safe and finalized blocks (the ladder's
	// finalized block and clock come from it).
	L1Head(v chain.L1View)
}

// OutputWatcher follows the OutputOracle for a node's finality ladder: its
// proposals and deletions, and the L1's finalized block and clock.
type OutputWatcher struct {
	c       *Client
	cfg     InboxConfig
	sink    OutputEvents
	log     zerolog.Logger
	scanned uint64 // L1 blocks below this are read
	window  uint64 // the oracle's FINALIZATION_PERIOD_SECONDS, read once
	read    bool   // window is set
}

// NewOutputWatcher watches c's oracle for sink.
func NewOutputWatcher(c *Client, cfg InboxConfig, sink OutputEvents, log zerolog.Logger) *OutputWatcher {
	cfg = cfg.withDefaults()
	return &OutputWatcher{c: c, cfg: cfg, sink: sink, scanned: cfg.StartBlock, log: log.With().Str("component", "l1-outputs").Logger()}
}

// Run watches until ctx ends; failures are logged once and retried.
func (w *OutputWatcher) Run(ctx context.Context) {
	poll(ctx, w.cfg.Poll, w.log, "L1 outputs unreadable: proven and finalized wait", "L1 outputs readable again", w.Step)
}

var (
	outputProposedTopic = func() common.Hash { return mustArtifact(contracts.OutputOracle).ABI.Events["OutputProposed"].ID }
	outputsDeletedTopic = func() common.Hash { return mustArtifact(contracts.OutputOracle).ABI.Events["OutputsDeleted"].ID }
)

// Step reads the oracle's logs since the last step, then the L1's head.
func (w *OutputWatcher) Step(ctx context.Context) error {
	if !w.read {
		d, err := w.c.FinalizationPeriod(ctx)
		if err != nil {
			return err
		}
		w.window, w.read = uint64(d/time.Second), true
	}
	head, err := w.c.b.HeaderByNumber(ctx, nil)
	if err != nil {
		return fmt.Errorf("L1 head: %w", err)
	}
	tip := head.Number.Uint64()
	for from := w.scanned; from <= tip; {
		to := min(tip, from+w.cfg.MaxRange-1)
		logs, err := w.c.b.FilterLogs(ctx, ethereum.FilterQuery{
			FromBlock: new(big.Int).SetUint64(from), ToBlock: new(big.Int).SetUint64(to),
			Addresses: []common.Address{w.c.addrs.OutputOracle}, Topics: [][]common.Hash{{outputProposedTopic(), outputsDeletedTopic()}},
		})
		if err != nil {
			return fmt.Errorf("oracle logs in L1 blocks %d..%d: %w", from, to, err)
		}
		for i := range logs {
			if err := w.deliver(&logs[i]); err != nil {
				return err
			}
		}
		from = to + 1
		w.scanned = from
	}
	v := chain.L1View{Current: chain.L1BlockOf(head), Head: chain.L1BlockOf(head)}
	if w.cfg.HeadIsFinal {
		v.Safe, v.Finalized = v.Head, v.Head
		w.sink.L1Head(v)
		return nil
	}
	for _, tag := range []struct {
		ref  *chain.L1Block
		num  rpc.BlockNumber
		name string
	}{{&v.Safe, rpc.SafeBlockNumber, "safe"}, {&v.Finalized, rpc.FinalizedBlockNumber, "finalized"}} {
		h, err := w.c.b.HeaderByNumber(ctx, big.NewInt(int64(tag.num)))
		switch {
		case err == nil:
			*tag.ref = chain.L1BlockOf(h)
		case errors.Is(err, ethereum.NotFound): // none yet
		default:
			return fmt.Errorf("L1 %s block: %w", tag.name, err)
		}
	}
	w.sink.L1Head(v)
	return nil
}

func (w *OutputWatcher) deliver(l *types.Log) error {
	switch {
	case len(l.Topics) == 4 && l.Topics[0] == outputProposedTopic():
		if len(l.Data) != 32 {
			return fmt.Errorf("OutputProposed log %d of L1 block %d: %d bytes of data", l.Index, l.BlockNumber, len(l.Data))
		}
		w.sink.L1Output(chain.L1Output{
			Index: l.Topics[2].Big().Uint64(), L2Block: l.Topics[3].Big().Uint64(), Root: l.Topics[1],
			L1Block: l.BlockNumber, L1Tx: l.TxHash, L1Time: new(big.Int).SetBytes(l.Data).Uint64(), Window: w.window,
		})
	case len(l.Topics) == 3 && l.Topics[0] == outputsDeletedTopic():
		w.sink.L1Deleted(l.Topics[2].Big().Uint64())
	}
	return nil
}
