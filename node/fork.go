package node

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/holiman/uint256"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/rpc"
	"github.com/meganode/meganode/sequencer"
)

// ForkConfig forks a devnet from another chain (anvil's --fork-url).
type ForkConfig struct {
	URL   string  // the chain's JSON-RPC endpoint
	Block *uint64 // the block forked; nil: the endpoint's latest
	// KeepChainID keeps Chain.ChainID instead of the forked chain's.
	KeepChainID bool
	Timeout     time.Duration // per request, default 30s
}

// forkSource reads the forked chain's state over JSON-RPC at the fork block.
type forkSource struct {
	c       *gethrpc.Client
	block   string
	timeout time.Duration
}

func (f *forkSource) Account(addr common.Address) (uint64, *uint256.Int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	var (
		nonce   hexutil.Uint64
		balance hexutil.Big
		code    hexutil.Bytes
	)
	batch := []gethrpc.BatchElem{
		{Method: "eth_getTransactionCount", Args: []interface{}{addr, f.block}, Result: &nonce},
		{Method: "eth_getBalance", Args: []interface{}{addr, f.block}, Result: &balance},
		{Method: "eth_getCode", Args: []interface{}{addr, f.block}, Result: &code},
	}
	if err := f.c.BatchCallContext(ctx, batch); err != nil {
		return 0, nil, nil, err
	}
	for _, b := range batch {
		if b.Error != nil {
			return 0, nil, nil, fmt.Errorf("%s: %w", b.Method, b.Error)
		}
	}
	bal, overflow := uint256.FromBig(balance.ToInt())
	if overflow {
		return 0, nil, nil, fmt.Errorf("balance of %s above 2^256", addr)
	}
	return uint64(nonce), bal, code, nil
}

func (f *forkSource) Storage(addr common.Address, slot common.Hash) (common.Hash, error) {
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	var v hexutil.Bytes
	if err := f.c.CallContext(ctx, &v, "eth_getStorageAt", addr, slot, f.block); err != nil {
		return common.Hash{}, err
	}
	return common.BytesToHash(v), nil
}

// openFork connects to the forked chain and returns the fork point, the
// chain id and the state source; an endpoint that does not answer is a
// clear error.
func openFork(cfg ForkConfig) (*chain.ForkPoint, uint64, *forkSource, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := gethrpc.DialContext(ctx, cfg.URL)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("fork: %s: %w", cfg.URL, err)
	}
	var id hexutil.Big
	if err := c.CallContext(ctx, &id, "eth_chainId"); err != nil {
		c.Close()
		return nil, 0, nil, fmt.Errorf("fork: %s does not answer eth_chainId: %w", cfg.URL, err)
	}
	tag := "latest"
	if cfg.Block != nil {
		tag = hexutil.EncodeUint64(*cfg.Block)
	}
	var h *types.Header
	if err := c.CallContext(ctx, &h, "eth_getBlockByNumber", tag, false); err != nil {
		c.Close()
		return nil, 0, nil, fmt.Errorf("fork: block %s of %s: %w", tag, cfg.URL, err)
	}
	if h == nil {
		c.Close()
		return nil, 0, nil, fmt.Errorf("fork: %s has no block %s", cfg.URL, tag)
	}
	if !id.ToInt().IsUint64() || id.ToInt().Sign() == 0 {
		c.Close()
		return nil, 0, nil, errors.New("fork: the chain id is not a positive 64-bit number")
	}
	point := &chain.ForkPoint{Number: h.Number.Uint64(), Hash: h.Hash(), ParentHash: h.ParentHash, Time: h.Time}
	if h.BaseFee != nil {
		point.BaseFee = new(big.Int).Set(h.BaseFee)
	}
	src := &forkSource{c: c, block: hexutil.EncodeUint64(point.Number), timeout: cfg.Timeout}
	return point, id.ToInt().Uint64(), src, nil
}

// devFork is a forked devnet's fork: anvil_reset forks anew through it.
type devFork struct {
	chain chain.Config // the devnet's chain configuration, Fork unset
	seq   *sequencer.Sequencer
	log   zerolog.Logger

	mu    sync.Mutex
	cfg   ForkConfig // URL "" once forking ended
	point *chain.ForkPoint
	src   *forkSource
}

func (f *devFork) Forked() rpc.ForkInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cfg.URL == "" {
		return rpc.ForkInfo{}
	}
	return rpc.ForkInfo{URL: f.cfg.URL, Block: f.point.Number, Hash: f.point.Hash, Genesis: f.point.Number}
}

// Refork forks url (the current endpoint when "") at block (its latest when
// nil) anew, or with disable ends forking: the chain starts again from a
// genesis at block 0 with nothing beneath it. The chain id cannot change
// while the node runs.
func (f *devFork) Refork(url string, block *uint64, disable bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	cfg := f.chain
	if disable {
		if err := f.seq.Refork(cfg, nil); err != nil {
			return err
		}
		f.close()
		f.cfg.URL, f.point = "", nil
		f.log.Info().Msg("forking ended: the chain starts again from its own genesis")
		return nil
	}
	next := f.cfg
	if url != "" {
		next.URL = url
	}
	if next.URL == "" {
		return &rpcParamError{"no fork url: give forking.jsonRpcUrl"}
	}
	next.Block = block
	point, id, src, err := openFork(next)
	if err != nil {
		return &rpcParamError{err.Error()}
	}
	if !next.KeepChainID && id != cfg.ChainID {
		src.c.Close()
		return &rpcParamError{fmt.Sprintf("%s is chain %d, this devnet chain %d: the chain id cannot change while the node runs; restart with --fork-url", next.URL, id, cfg.ChainID)}
	}
	cfg.Fork = point
	if err := f.seq.Refork(cfg, src); err != nil {
		src.c.Close()
		return err
	}
	f.close()
	f.cfg, f.point, f.src = next, point, src
	f.log.Info().Str("url", next.URL).Uint64("block", point.Number).Stringer("hash", point.Hash).Msg("forked anew")
	return nil
}

func (f *devFork) close() {
	if f.src != nil {
		f.src.c.Close()
		f.src = nil
	}
}

// rpcParamError is an invalid-params JSON-RPC error (−32602).
type rpcParamError struct{ msg string }

func (e *rpcParamError) Error() string  { return e.msg }
func (e *rpcParamError) ErrorCode() int { return -32602 }
