package chain

import (
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
)

// ForcedOptions are what ForcedBlock builds from beside the parent.
type ForcedOptions struct {
	// Template is the sequencer's block at this height: its time, fee
	// recipient, gas limit, prevrandao and extra data, and its transactions
	// in order, are kept.
	Template *types.Block
	// Senders are the sequencer's sender hints for Template's transactions
	// (nil: every signature is recovered).
	Senders []common.Address
	// Deposits are the ones the L1 logged after the parent's cursor through
	// Cursor, in log order: they run first, all of them.
	Deposits []*Deposit
	Cursor   L1Origin
	// Dev: a dev chain, whose impersonated senders are read as such.
	Dev bool
}

// ForcedResult is a forced block and what it left out of its template.
type ForcedResult struct {
	*SealedBlock
	// Dropped are the template's transactions that no longer apply on
	// this parent (a nonce or a balance the deposits or an earlier
	// replacement changed), with why.
	Dropped []DroppedTx
}

// DroppedTx is a template transaction a forced block leaves out.
type DroppedTx struct {
	Hash   common.Hash
	Reason error
}

// ForcedBlock builds the block the deposit rules force in place of a
// sequencer's block that broke them (a deposit left out, added or moved,
// a cursor the L1 does not have, or one older than the sequencing window
// allows), or of a block that builds on such a block: on parent, with the
// template's header fields, the due deposits first and then the template's
// transactions that still apply, each as a block builder takes a
// transaction (one that fails validation is left out; one that reverts
// stays). Nothing in it depends on the node that builds it, so every node
// that derives it from the same parent, template and L1 gets the same
// block. Dev edits of the template are not carried over.
func ForcedBlock(config *params.ChainConfig, hr HeaderReader, db state.Database, parent *types.Header, opts ForcedOptions) (*ForcedResult, error) {
	t := opts.Template.Header()
	num := parent.Number.Uint64() + 1
	switch {
	case t.Number.Uint64() != num:
		return nil, fmt.Errorf("%w: template block %d is not at height %d", ErrBadBlock, t.Number.Uint64(), num)
	case t.Time <= parent.Time:
		return nil, fmt.Errorf("%w: template block %d has time %d, not after its parent's %d", ErrBadBlock, num, t.Time, parent.Time)
	}
	h := NextHeader(config, parent, t.Time, t.GasLimit, t.Coinbase)
	h.MixDigest, h.Extra = t.MixDigest, common.CopyBytes(t.Extra)
	txs := opts.Template.Transactions()
	base := NewSigner(config, h.Number, h.Time, opts.Dev)
	var signer types.Signer = base
	if len(opts.Senders) == len(txs) && len(txs) > 0 {
		hints := senderHints{Signer: base, from: make(map[common.Hash]common.Address, len(txs))}
		for i, tx := range txs {
			hints.from[tx.Hash()] = opts.Senders[i]
		}
		signer = hints
	}
	b, err := newBlockBuilder(config, hr, db, parent, parent.Root, h, false, signer)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLocalState, err)
	}
	b.dev = opts.Dev
	fail := func(err error) (*ForcedResult, error) {
		b.evm.Release()
		if serr := b.state.Error(); serr != nil {
			return nil, fmt.Errorf("%w: forced block %d: state not available: %w", ErrLocalState, num, serr)
		}
		return nil, err
	}
	for i, d := range opts.Deposits {
		if _, err := b.ApplyDeposit(d); err != nil {
			if errors.Is(err, ErrBadDeposit) {
				continue // left out by every node alike
			}
			return fail(fmt.Errorf("forced block %d: deposit %d (%s) does not fit: %w", num, i, d.SourceHash, err))
		}
	}
	b.SetL1Origin(opts.Cursor)
	var dropped []DroppedTx
	for _, tx := range txs {
		if _, err := b.ApplyTx(tx); err != nil {
			if b.state.Error() != nil {
				return fail(err)
			}
			dropped = append(dropped, DroppedTx{Hash: tx.Hash(), Reason: err})
		}
	}
	sb, err := b.Seal()
	if serr := b.state.Error(); serr != nil {
		return nil, fmt.Errorf("%w: forced block %d: state not available: %w", ErrLocalState, num, serr)
	}
	if err != nil {
		return nil, err
	}
	return &ForcedResult{SealedBlock: sb, Dropped: dropped}, nil
}
