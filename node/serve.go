package node

import (
	"context"
	"errors"
	"math/big"
	"sync"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/rpc"
	"github.com/meganode/meganode/storage"
)

// ErrReadOnly answers transaction submissions on a node without a sequencer.
var ErrReadOnly = errors.New("read-only node: it serves a stored chain and has no sequencer to send transactions to")

// ServeConfig configures a read-only node.
type ServeConfig struct {
	Storage storage.Config
	RPC     rpc.Config
}

// Served is a read-only node: the RPC over a stored chain (an imported one,
// or a devnet's data directory), with no sequencer. Its head is final:
// latest, safe and finalized all name it.
type Served struct {
	store    *storage.Store
	rpc      *rpc.Server
	stopOnce sync.Once
	stopErr  error
}

// NewServed opens the chain in cfg.Storage.Dir and builds the RPC over it.
func NewServed(cfg ServeConfig, log zerolog.Logger) (*Served, error) {
	if err := cfg.RPC.Check(); err != nil {
		return nil, err
	}
	store, err := storage.Open(cfg.Storage, nil, log)
	if err != nil {
		return nil, err
	}
	ro := &readOnly{store: store}
	cfg.RPC.Role = "serve"
	server, err := rpc.NewServer(cfg.RPC, rpc.Backend{Chain: store, Latest: ro, Txs: ro, Feeds: ro}, nil, log)
	if err != nil {
		store.Close()
		return nil, err
	}
	return &Served{store: store, rpc: server}, nil
}

// Store returns the chain store.
func (s *Served) Store() *storage.Store { return s.store }

// RPCAddr is the address the RPC server listens on.
func (s *Served) RPCAddr() string { return s.rpc.Addr() }

// Start starts the RPC server.
func (s *Served) Start(ctx context.Context) error { return s.rpc.Start(ctx) }

// Stop stops the RPC server and closes the store; it is idempotent.
func (s *Served) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() { s.stopErr = errors.Join(s.rpc.Stop(ctx), s.store.Close()) })
	return s.stopErr
}

// readOnly is the head of a chain nothing extends: latest is the sealed head,
// the pending block an empty child of it, and the feeds never fire.
type readOnly struct {
	store  *storage.Store
	blocks chain.Feed[*chain.MiniBlock]
	heads  chain.Feed[*chain.Head]
	txs    chain.Feed[*types.Transaction]
}

func (r *readOnly) LatestState() (*state.StateDB, *types.Header, error) {
	head := r.store.CurrentHeader()
	st, err := chain.StateAt(r.store.StateDatabase(), head.Root)
	return st, head, err
}

func (r *readOnly) PendingBlock() (*types.Header, types.Transactions, []*types.Receipt) {
	head := r.store.CurrentHeader()
	h := types.CopyHeader(head)
	h.ParentHash, h.Number, h.Time, h.GasUsed = head.Hash(), new(big.Int).Add(head.Number, common.Big1), head.Time+1, 0
	h.TxHash, h.ReceiptHash, h.Bloom = types.EmptyTxsHash, types.EmptyReceiptsHash, types.Bloom{}
	if config := r.store.ChainConfig(); config.IsLondon(h.Number) {
		h.BaseFee = eip1559.CalcBaseFee(config, head)
	}
	return h, nil, nil
}

func (r *readOnly) PendingTx(common.Hash) (*types.Transaction, *types.Receipt, uint64, uint64, bool) {
	return nil, nil, 0, 0, false
}

func (r *readOnly) PendingNonce(addr common.Address) (uint64, error) {
	st, _, err := r.LatestState()
	if err != nil {
		return 0, err
	}
	return st.GetNonce(addr), nil
}

func (r *readOnly) PooledTx(common.Hash) *types.Transaction { return nil }
func (r *readOnly) MiniBlockCount() uint64                  { return r.store.MiniBlockCount() }

func (r *readOnly) SendTransaction(*types.Transaction) error { return ErrReadOnly }
func (r *readOnly) SubmitAwait(*types.Transaction, bool) (<-chan chain.TxOutcome, func(), error) {
	return nil, nil, ErrReadOnly
}

func (r *readOnly) MiniBlocks(n int) *chain.Subscription[*chain.MiniBlock] {
	return r.blocks.Subscribe(n)
}
func (r *readOnly) Heads(n int) *chain.Subscription[*chain.Head] { return r.heads.Subscribe(n) }
func (r *readOnly) PendingTxs(n int) *chain.Subscription[*types.Transaction] {
	return r.txs.Subscribe(n)
}
