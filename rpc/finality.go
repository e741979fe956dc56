package rpc

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
)

// FinalityReader is a node's finality ladder (docs/finality.md).
type FinalityReader interface {
	FinalityHeads() chain.FinalityHeads
	// BlockFinality is what the node knows of a block's stages, nil for a
	// block it holds no record of.
	BlockFinality(number uint64) (*chain.BlockFinality, error)
	FinalityChanges(buffer int) *chain.Subscription[*chain.FinalityChange]
	// PreconfirmedAt is when the node saw the tx at index i of block n in a
	// mini-block (unix ms, the sequencer's clock), 0 if it did not.
	PreconfirmedAt(n, i uint64) uint64
}

// tagNumber resolves "safe" and "finalized" to the node's heads; without a
// finality ladder both name the sealed head.
func (b *Backend) tagNumber(num gethrpc.BlockNumber) (uint64, bool) {
	if num != gethrpc.SafeBlockNumber && num != gethrpc.FinalizedBlockNumber {
		return 0, false
	}
	if b.Finality == nil {
		return b.Chain.CurrentHeader().Number.Uint64(), true
	}
	h := b.Finality.FinalityHeads()
	if num == gethrpc.SafeBlockNumber {
		return h.Safe.Number, true
	}
	return h.Finalized.Number, true
}

// FinalityAPI is the mega_ finality methods.
type FinalityAPI struct{ b Backend }

// Finality is mega_getFinality's answer.
type Finality struct {
	Stage           chain.Stage               `json:"stage"`
	BlockNumber     hexutil.Uint64            `json:"blockNumber"`
	BlockHash       *common.Hash              `json:"blockHash"` // null while preconfirmed
	TransactionHash *common.Hash              `json:"transactionHash,omitempty"`
	Timestamps      map[string]hexutil.Uint64 `json:"timestamps"` // unix ms this node saw each stage reached
	OutputRoot      *common.Hash              `json:"outputRoot,omitempty"`
	// L1 is the output root on L1 the block was proven (and finalized)
	// under, on a node anchored on an L1; absent otherwise.
	L1 *L1OutputJSON `json:"l1,omitempty"`
	// Inbox is the L1 DA inbox record of the blob holding the block, once
	// this node saw it (the record that makes the block safe on a chain
	// with an inbox); absent otherwise.
	Inbox   *InboxRecordJSON  `json:"inbox,omitempty"`
	Heads   FinalityHeadsJSON `json:"heads"`
	Dispute *DisputeJSON      `json:"dispute"`
}

// InboxRecordJSON is a blob's record in the L1 DA inbox.
type InboxRecordJSON struct {
	Seq             hexutil.Uint64 `json:"seq"` // the blob's place among the posted blobs
	L1BlockNumber   hexutil.Uint64 `json:"l1BlockNumber"`
	TransactionHash common.Hash    `json:"l1TransactionHash"`
}

// L1OutputJSON is an output root proposal on the L1 oracle.
type L1OutputJSON struct {
	OutputIndex     hexutil.Uint64 `json:"outputIndex"`
	L2BlockNumber   hexutil.Uint64 `json:"l2BlockNumber"` // the output's block: it covers this block
	OutputRoot      common.Hash    `json:"outputRoot"`
	L1BlockNumber   hexutil.Uint64 `json:"l1BlockNumber"`
	TransactionHash common.Hash    `json:"l1TransactionHash"`
	L1Timestamp     hexutil.Uint64 `json:"l1Timestamp"` // seconds
	FinalizesAt     hexutil.Uint64 `json:"finalizesAt"` // L1 seconds at which the oracle's window ends
}

// FinalityHeadsJSON numbers the newest block at each stage.
type FinalityHeadsJSON struct {
	Sealed    hexutil.Uint64 `json:"sealed"`
	Safe      hexutil.Uint64 `json:"safe"`
	Proven    hexutil.Uint64 `json:"proven"`
	Finalized hexutil.Uint64 `json:"finalized"`
}

// DisputeJSON is the block a valid fraud proof convicted, or the block an
// output root on L1 disagrees with.
type DisputeJSON struct {
	BlockNumber hexutil.Uint64 `json:"blockNumber"`
	BlockHash   common.Hash    `json:"blockHash"`
	StateRoot   common.Hash    `json:"stateRoot"` // the root the block really gives
	Reason      string         `json:"reason"`
	Timestamp   hexutil.Uint64 `json:"timestamp"`
	// L1Output is the output on L1 that disagrees, absent for a fraud
	// proof: the dispute is lifted once L1 deletes it.
	L1Output *L1OutputJSON `json:"l1Output,omitempty"`
}

func disputeJSON(d *chain.Dispute) *DisputeJSON {
	if d == nil {
		return nil
	}
	j := &DisputeJSON{BlockNumber: hexutil.Uint64(d.Number), BlockHash: d.Hash, StateRoot: d.StateRoot, Reason: d.Reason, Timestamp: hexutil.Uint64(d.At)}
	if d.Output != nil {
		j.L1Output = l1OutputJSON(d.Output)
	}
	return j
}

func l1OutputJSON(o *chain.L1Output) *L1OutputJSON {
	return &L1OutputJSON{OutputIndex: hexutil.Uint64(o.Index), L2BlockNumber: hexutil.Uint64(o.L2Block), OutputRoot: o.Root,
		L1BlockNumber: hexutil.Uint64(o.L1Block), TransactionHash: o.L1Tx, L1Timestamp: hexutil.Uint64(o.L1Time), FinalizesAt: hexutil.Uint64(o.L1Time + o.Window)}
}

// GetFinality answers where a transaction (by hash) or a block (by number,
// tag or hash) stands on the finality ladder; null when the node knows
// neither.
func (api *FinalityAPI) GetFinality(target json.RawMessage) (*Finality, error) {
	var s string
	if err := json.Unmarshal(target, &s); err != nil {
		return nil, &invalidParamsError{"want a transaction hash, a block hash or a block number: " + string(target)}
	}
	heads := api.b.Finality.FinalityHeads()
	if len(s) == 66 && strings.HasPrefix(s, "0x") {
		hash := common.HexToHash(s)
		if tx, bh, num, index := api.b.Chain.Transaction(hash); tx != nil {
			f, err := api.blockFinality(num, bh, heads)
			if f != nil {
				f.TransactionHash = &hash
				preconfirmedAt(f, api.b.Finality.PreconfirmedAt(num, index))
			}
			return f, err
		}
		if api.b.Latest != nil {
			if _, _, num, index, ok := api.b.Latest.PendingTx(hash); ok {
				f := &Finality{Stage: chain.StagePreconfirmed, BlockNumber: hexutil.Uint64(num), TransactionHash: &hash,
					Timestamps: map[string]hexutil.Uint64{}, Heads: headsJSON(heads), Dispute: disputeJSON(heads.Dispute)}
				preconfirmedAt(f, api.b.Finality.PreconfirmedAt(num, index))
				return f, nil
			}
		}
		if h := api.b.Chain.GetHeaderByHash(hash); h != nil {
			return api.blockFinality(h.Number.Uint64(), hash, heads)
		}
		return nil, nil
	}
	var num gethrpc.BlockNumber
	if err := num.UnmarshalJSON(target); err != nil {
		return nil, &invalidParamsError{"want a transaction hash, a block hash or a block number: " + err.Error()}
	}
	n, ok := api.b.tagNumber(num)
	switch {
	case ok:
	case num == gethrpc.LatestBlockNumber:
		n = api.b.Chain.CurrentHeader().Number.Uint64()
	case num == gethrpc.EarliestBlockNumber:
		n = 0
	case num == gethrpc.PendingBlockNumber:
		n = api.b.Chain.CurrentHeader().Number.Uint64() + 1
	default:
		n = uint64(num)
	}
	h := api.b.Chain.GetHeaderByNumber(n)
	if h == nil && heads.Dispute != nil && n >= heads.Dispute.Number {
		// A block at or after a convicted one, which this node refused.
		f := &Finality{Stage: chain.StageDisputed, BlockNumber: hexutil.Uint64(n), Timestamps: map[string]hexutil.Uint64{},
			Heads: headsJSON(heads), Dispute: disputeJSON(heads.Dispute)}
		if n == heads.Dispute.Number {
			f.BlockHash = &heads.Dispute.Hash
		}
		return f, nil
	}
	if h == nil {
		if n == api.b.Chain.CurrentHeader().Number.Uint64()+1 && api.b.Latest != nil {
			return &Finality{Stage: chain.StagePreconfirmed, BlockNumber: hexutil.Uint64(n), Timestamps: map[string]hexutil.Uint64{},
				Heads: headsJSON(heads), Dispute: disputeJSON(heads.Dispute)}, nil
		}
		return nil, nil
	}
	return api.blockFinality(n, h.Hash(), heads)
}

func preconfirmedAt(f *Finality, at uint64) {
	if at != 0 {
		f.Timestamps[string(chain.StagePreconfirmed)] = hexutil.Uint64(at)
	}
}

func headsJSON(h chain.FinalityHeads) FinalityHeadsJSON {
	return FinalityHeadsJSON{Sealed: hexutil.Uint64(h.Sealed.Number), Safe: hexutil.Uint64(h.Safe.Number), Proven: hexutil.Uint64(h.Proven.Number), Finalized: hexutil.Uint64(h.Finalized.Number)}
}

func (api *FinalityAPI) blockFinality(n uint64, hash common.Hash, heads chain.FinalityHeads) (*Finality, error) {
	f := &Finality{Stage: heads.StageOf(n), BlockNumber: hexutil.Uint64(n), BlockHash: &hash, Timestamps: map[string]hexutil.Uint64{},
		Heads: headsJSON(heads), Dispute: disputeJSON(heads.Dispute)}
	rec, err := api.b.Finality.BlockFinality(n)
	if err != nil {
		return nil, err
	}
	if rec != nil && rec.Hash == hash {
		for stage, t := range map[chain.Stage]uint64{chain.StageSealed: rec.Sealed, chain.StageSafe: rec.Safe, chain.StageProven: rec.Proven, chain.StageFinalized: rec.Finalized} {
			if t != 0 {
				f.Timestamps[string(stage)] = hexutil.Uint64(t)
			}
		}
		if rec.Available != 0 {
			f.Timestamps["available"] = hexutil.Uint64(rec.Available) // DA blob confirmed
		}
		if rec.OutputRoot != (common.Hash{}) {
			root := rec.OutputRoot
			f.OutputRoot = &root
		}
		if o := rec.L1; o != nil {
			f.L1 = l1OutputJSON(o)
		}
	}
	if api.b.DA != nil {
		if cs, err := api.b.DA.DACommitments(n, 1); err == nil && len(cs) == 1 && cs[0].Holds(n) && cs[0].L1Block != 0 {
			f.Inbox = &InboxRecordJSON{Seq: hexutil.Uint64(cs[0].Seq), L1BlockNumber: hexutil.Uint64(cs[0].L1Block), TransactionHash: cs[0].L1Tx}
		}
	}
	return f, nil
}

// OptimismAPI is the op-node rollup methods a bridge or exchange polls.
type OptimismAPI struct{ b Backend }

// L1BlockRef is op-node's L1 block reference; the zero reference where the
// node follows no L1.
type L1BlockRef struct {
	Hash       common.Hash `json:"hash"`
	Number     uint64      `json:"number"`
	ParentHash common.Hash `json:"parentHash"`
	Time       uint64      `json:"timestamp"`
}

// L2BlockRef is op-node's L2 block reference.
type L2BlockRef struct {
	Hash           common.Hash `json:"hash"`
	Number         uint64      `json:"number"`
	ParentHash     common.Hash `json:"parentHash"`
	Time           uint64      `json:"timestamp"`
	L1Origin       BlockIDJSON `json:"l1origin"`
	SequenceNumber uint64      `json:"sequenceNumber"`
}

// BlockIDJSON is op-node's block id.
type BlockIDJSON struct {
	Hash   common.Hash `json:"hash"`
	Number uint64      `json:"number"`
}

// SyncStatus has op-node's optimism_syncStatus shape; proven_l2 and dispute
// are meganode's additions.
type SyncStatus struct {
	CurrentL1          L1BlockRef   `json:"current_l1"`
	CurrentL1Finalized L1BlockRef   `json:"current_l1_finalized"`
	HeadL1             L1BlockRef   `json:"head_l1"`
	SafeL1             L1BlockRef   `json:"safe_l1"`
	FinalizedL1        L1BlockRef   `json:"finalized_l1"`
	UnsafeL2           L2BlockRef   `json:"unsafe_l2"`
	SafeL2             L2BlockRef   `json:"safe_l2"`
	FinalizedL2        L2BlockRef   `json:"finalized_l2"`
	PendingSafeL2      L2BlockRef   `json:"pending_safe_l2"`
	CrossUnsafeL2      L2BlockRef   `json:"cross_unsafe_l2"`
	LocalSafeL2        L2BlockRef   `json:"local_safe_l2"`
	ProvenL2           L2BlockRef   `json:"proven_l2"`
	Dispute            *DisputeJSON `json:"dispute"`
}

// L1Viewer is a finality reader anchored on an L1: what it last read there.
type L1Viewer interface {
	L1View() (chain.L1View, bool)
}

// L1Origins is a chain that records each block's L1 origin, the newest L1
// block whose deposits the block and its ancestors include; zero before the
// first. It never decreases along the chain.
type L1Origins interface {
	L1Origin(number uint64) (chain.L1Origin, error)
}

func l1Ref(b chain.L1Block) L1BlockRef {
	return L1BlockRef{Hash: b.Hash, Number: b.Number, ParentHash: b.ParentHash, Time: b.Time}
}

func (api *OptimismAPI) ref(n uint64) L2BlockRef {
	h := api.b.Chain.GetHeaderByNumber(n)
	if h == nil {
		return L2BlockRef{}
	}
	ref := L2BlockRef{Hash: h.Hash(), Number: n, ParentHash: h.ParentHash, Time: h.Time}
	if o, ok := api.b.Chain.(L1Origins); ok {
		if origin, err := o.L1Origin(n); err == nil && origin != (chain.L1Origin{}) {
			ref.L1Origin = BlockIDJSON{Hash: origin.Hash, Number: origin.Number}
			ref.SequenceNumber = n - api.firstOf(o, origin, n)
		}
	}
	return ref
}

// firstOf is the first block of the chain up to n with L1 origin origin
// (n has it): origins never decrease, so a binary search finds it.
func (api *OptimismAPI) firstOf(o L1Origins, origin chain.L1Origin, n uint64) uint64 {
	lo, hi := api.b.firstBlock(), n
	for lo < hi {
		mid := lo + (hi-lo)/2
		if got, err := o.L1Origin(mid); err == nil && got.Number >= origin.Number {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// SyncStatus returns the node's heads in op-node's shape: unsafe is the
// sealed head, safe and finalized the ladder's; the L1 fields are what the
// node last read of the L1 its ladder is anchored on (current_l1: the block
// it read the output oracle through), zero without one.
func (api *OptimismAPI) SyncStatus() *SyncStatus {
	h := api.b.Finality.FinalityHeads()
	unsafe := api.ref(api.b.Chain.CurrentHeader().Number.Uint64())
	safe := api.ref(h.Safe.Number)
	st := &SyncStatus{
		UnsafeL2: unsafe, CrossUnsafeL2: unsafe,
		SafeL2: safe, LocalSafeL2: safe, PendingSafeL2: safe,
		FinalizedL2: api.ref(h.Finalized.Number),
		ProvenL2:    api.ref(h.Proven.Number),
		Dispute:     disputeJSON(h.Dispute),
	}
	if v, ok := api.b.Finality.(L1Viewer); ok {
		if view, ok := v.L1View(); ok {
			st.CurrentL1, st.HeadL1, st.SafeL1, st.FinalizedL1 = l1Ref(view.Current), l1Ref(view.Head), l1Ref(view.Safe), l1Ref(view.Finalized)
			st.CurrentL1Finalized = st.FinalizedL1 // op-node's legacy field: the same
		}
	}
	return st
}

// OutputResponse is optimism_outputAtBlock's answer.
type OutputResponse struct {
	Version               common.Hash `json:"version"`
	OutputRoot            common.Hash `json:"outputRoot"`
	BlockRef              L2BlockRef  `json:"blockRef"`
	WithdrawalStorageRoot common.Hash `json:"withdrawalStorageRoot"`
	StateRoot             common.Hash `json:"stateRoot"`
	Status                *SyncStatus `json:"syncStatus"`
}

// OutputAtBlock computes a block's output root from this node's own state
// (op-stack V0: the message passer's storage root at 0x4200…0016).
func (api *OptimismAPI) OutputAtBlock(number hexutil.Uint64) (*OutputResponse, error) {
	h := api.b.Chain.GetHeaderByNumber(uint64(number))
	if h == nil {
		return nil, fmt.Errorf("block %d not found", uint64(number))
	}
	passer, err := chain.MessagePasserRoot(api.b.Chain.StateDatabase(), h.Root)
	if err != nil {
		return nil, fmt.Errorf("state of block %d not available: %w", uint64(number), err)
	}
	return &OutputResponse{
		Version:               chain.OutputVersionV0,
		OutputRoot:            chain.OutputRoot(h.Root, passer, h.Hash()),
		BlockRef:              api.ref(uint64(number)),
		WithdrawalStorageRoot: passer,
		StateRoot:             h.Root,
		Status:                api.SyncStatus(),
	}, nil
}

// marshalFinalityChange is one notification of the finality subscription:
// the block's header as newHeads sends it, with the stage it reached.
func marshalFinalityChange(c *chain.FinalityChange, h *types.Header, heads chain.FinalityHeads) map[string]any {
	out := map[string]any{}
	if h != nil {
		out = marshalHeader(h)
	}
	out["number"] = hexutil.Uint64(c.Block.Number)
	out["hash"] = c.Block.Hash
	out["stage"] = c.Stage
	out["heads"] = headsJSON(heads)
	if c.Stage == chain.StageDisputed || c.Stage == chain.StageResumed {
		// Resumed: the dispute that still halts finality, null for none.
		out["dispute"] = disputeJSON(heads.Dispute)
	}
	return out
}
