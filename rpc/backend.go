package rpc

import (
	"context"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/meganode/meganode/chain"
)

// ChainReader reads the sealed chain.
type ChainReader interface {
	ChainConfig() *params.ChainConfig
	CurrentHeader() *types.Header
	GetHeader(hash common.Hash, number uint64) *types.Header
	GetHeaderByNumber(number uint64) *types.Header
	GetHeaderByHash(hash common.Hash) *types.Header
	BlockByNumber(number uint64) *types.Block
	BlockByHash(hash common.Hash) *types.Block
	Receipts(hash common.Hash, number uint64) types.Receipts
	Transaction(hash common.Hash) (*types.Transaction, common.Hash, uint64, uint64)
	StateDatabase() state.Database
	Bundle(number uint64) (*chain.BlockBundle, error) // witness and diff of a sealed block
}

// LatestReader reads the head as of the newest mini-block.
type LatestReader interface {
	LatestState() (*state.StateDB, *types.Header, error)
	PendingBlock() (*types.Header, types.Transactions, []*types.Receipt)
	PendingTx(hash common.Hash) (*types.Transaction, *types.Receipt, uint64, uint64, bool)
	PendingNonce(addr common.Address) (uint64, error)
	PooledTx(hash common.Hash) *types.Transaction
	MiniBlockCount() uint64 // mini-blocks sealed so far: the next one's number
}

// TxSubmitter admits transactions.
type TxSubmitter interface {
	SendTransaction(tx *types.Transaction) error
	// SubmitAwait admits tx and yields its outcome once: preconfirmed in a
	// mini-block or dropped from the pool. With rejectGap a nonce gap is
	// refused with *chain.NonceGapError and nothing is pooled.
	SubmitAwait(tx *types.Transaction, rejectGap bool) (<-chan chain.TxOutcome, func(), error)
}

// BatchSubmitter is a TxSubmitter that admits many transactions at once, as
// each would be by SendTransaction, in order (the sequencer recovers their
// senders in parallel). Batches of eth_sendRawTransaction calls go to it
// without the go-ethereum server's per-call dispatch.
type BatchSubmitter interface {
	SendTransactions(txs []*types.Transaction) []error
}

// Feeds streams what the head produces.
type Feeds interface {
	MiniBlocks(buffer int) *chain.Subscription[*chain.MiniBlock]
	Heads(buffer int) *chain.Subscription[*chain.Head]
	PendingTxs(buffer int) *chain.Subscription[*types.Transaction]
}

// Forwarder sends transaction submissions on to the node that sequences
// them and returns its answer, errors with their codes and data included.
// go-ethereum's *rpc.Client is one.
type Forwarder interface {
	CallContext(ctx context.Context, result interface{}, method string, args ...interface{}) error
}

// Backend is what a node hands the server; nil members switch off the
// methods that need them.
type Backend struct {
	Chain  ChainReader
	Latest LatestReader
	Txs    TxSubmitter
	// Forward, when set, takes eth_sendRawTransaction(Sync) and
	// realtime_sendRawTransaction instead of Txs (a replica's upstream).
	Forward Forwarder
	Feeds   Feeds
	Pool    TxPool // txpool namespace; nil switches it off
	// Finality serves the safe and finalized tags, mega_getFinality, the
	// optimism_ methods and the finality subscription; without it both tags
	// name the sealed head.
	Finality FinalityReader
	// DA serves mega_getDACommitments, the index of blobs posted to DA.
	DA  DAIndex
	Dev []chain.DevAccount // unlocked accounts (devnet only)
	// DevChain serves the dev methods (anvil_, hardhat_, evm_): set on a
	// dev chain's sequencer only.
	DevChain DevChain
	// DevFollower marks a dev chain's replica or full node (--dev): its calls
	// answer as the sequencer's do (a zero-price eth_call sees the base fee).
	DevFollower bool
	// Fork is a forked dev chain's fork (--fork-url): nil when not forked.
	Fork DevFork
	// HA serves the ha namespace of a sequencer candidate.
	HA HAAdmin
}

// firstBlock is the number of the chain's genesis: 0, or on a forked dev
// chain the block it forks.
func (b *Backend) firstBlock() uint64 {
	if b.Fork != nil {
		return b.Fork.Forked().Genesis
	}
	return 0
}
