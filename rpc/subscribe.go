package rpc

import (
	"context"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
)

// subscriptionBuffer is how many notifications a subscriber may fall behind
// (10 s of mini-blocks) before it is dropped with an error.
const subscriptionBuffer = 1024

// subscribe runs a subscription: values from sub are rendered and notified
// until the client unsubscribes or the feed drops it as too slow, in which
// case the client gets a final error notification instead of a silent gap.
func subscribe[T any](ctx context.Context, sub *chain.Subscription[T], render func(T) []interface{}) (*gethrpc.Subscription, error) {
	notifier, supported := gethrpc.NotifierFromContext(ctx)
	if !supported {
		sub.Unsubscribe()
		return &gethrpc.Subscription{}, gethrpc.ErrNotificationsUnsupported
	}
	rpcSub := notifier.CreateSubscription()
	go func() {
		defer sub.Unsubscribe()
		for {
			select {
			case v := <-sub.C():
				for _, msg := range render(v) {
					if err := notifier.Notify(rpcSub.ID, msg); err != nil {
						return
					}
				}
			case err := <-sub.Err():
				// Deliver what was buffered before the drop, then say why it ends.
				for {
					select {
					case v := <-sub.C():
						for _, msg := range render(v) {
							_ = notifier.Notify(rpcSub.ID, msg)
						}
						continue
					default:
					}
					break
				}
				_ = notifier.Notify(rpcSub.ID, map[string]interface{}{"error": map[string]interface{}{"code": -32000, "message": err.Error()}})
				return
			case <-rpcSub.Err():
				return
			}
		}
	}()
	return rpcSub, nil
}

// NewHeads streams sealed block headers.
func (api *EthAPI) NewHeads(ctx context.Context) (*gethrpc.Subscription, error) {
	return subscribe(ctx, api.b.Feeds.Heads(subscriptionBuffer), func(h *types.Header) []interface{} {
		return []interface{}{marshalHeader(h)}
	})
}

// Logs streams matching logs as each mini-block seals (blockHash is the
// preconfirmation sentinel until the block seals).
func (api *EthAPI) Logs(ctx context.Context, crit FilterCriteria) (*gethrpc.Subscription, error) {
	return subscribe(ctx, api.b.Feeds.MiniBlocks(subscriptionBuffer), func(mb *chain.MiniBlock) []interface{} {
		var out []interface{}
		for _, l := range crit.collect(mb.Receipts, nil) {
			out = append(out, l)
		}
		return out
	})
}

// MiniBlocks streams every mini-block, empty ones included, in the
// snake_case shape of MegaETH's realtime API.
func (api *EthAPI) MiniBlocks(ctx context.Context) (*gethrpc.Subscription, error) {
	return subscribe(ctx, api.b.Feeds.MiniBlocks(subscriptionBuffer), func(mb *chain.MiniBlock) []interface{} {
		return []interface{}{api.marshalMiniBlock(mb)}
	})
}

// RPCMiniBlock is the miniBlocks notification payload.
type RPCMiniBlock struct {
	BlockNumber        hexutil.Uint64           `json:"block_number"`
	BlockTimestamp     hexutil.Uint64           `json:"block_timestamp"`
	Index              hexutil.Uint64           `json:"index"`
	MiniBlockNumber    hexutil.Uint64           `json:"mini_block_number"`
	MiniBlockTimestamp hexutil.Uint64           `json:"mini_block_timestamp"`
	GasUsed            hexutil.Uint64           `json:"gas_used"`
	Transactions       []*RPCTransaction        `json:"transactions"`
	Receipts           []map[string]interface{} `json:"receipts"`
}

func (api *EthAPI) marshalMiniBlock(mb *chain.MiniBlock) *RPCMiniBlock {
	out := &RPCMiniBlock{
		BlockNumber:        hexutil.Uint64(mb.BlockNumber),
		BlockTimestamp:     hexutil.Uint64(mb.BlockTimestamp),
		Index:              hexutil.Uint64(mb.Index),
		MiniBlockNumber:    hexutil.Uint64(mb.Number),
		MiniBlockTimestamp: hexutil.Uint64(mb.TimestampMicros),
		GasUsed:            hexutil.Uint64(mb.GasUsed),
		Transactions:       make([]*RPCTransaction, len(mb.Txs)),
		Receipts:           make([]map[string]interface{}, len(mb.Txs)),
	}
	for i, tx := range mb.Txs {
		r := mb.Receipts[i]
		out.Transactions[i] = newRPCTransaction(tx, r.BlockHash, mb.BlockNumber, mb.BlockTimestamp, uint64(r.TransactionIndex), nil, api.config)
		out.Receipts[i] = marshalReceipt(r, r.BlockHash, mb.BlockNumber, api.signer, tx, int(r.TransactionIndex))
	}
	return out
}

// Web3API is the web3 namespace.
type Web3API struct{ version string }

// ClientVersion names the node.
func (w *Web3API) ClientVersion() string { return w.version }

// Sha3 is keccak256.
func (w *Web3API) Sha3(input hexutil.Bytes) hexutil.Bytes {
	return common.BytesToHash(keccak(input)).Bytes()
}

// NetAPI is the net namespace.
type NetAPI struct{ chainID uint64 }

// Version is the chain id in decimal, as geth answers.
func (n *NetAPI) Version() string { return uitoa(n.chainID) }

// Listening is true while the server runs.
func (n *NetAPI) Listening() bool { return true }

// PeerCount is zero: the devnet has no peers.
func (n *NetAPI) PeerCount() hexutil.Uint { return 0 }
