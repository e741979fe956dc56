package rpc

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
)

// subscriptionBuffer is how many notifications a feed-driven subscription
// (newHeads, newPendingTransactions, sealed logs) may fall behind before the
// connection is closed as too slow.
const subscriptionBuffer = 1024

// resumeOption is the optional object naming where a mini-block driven
// subscription starts: {"from_mini_block_number": N} (number or hex).
type resumeOption struct {
	From *flexUint64 `json:"from_mini_block_number"`
}

// flexUint64 accepts a JSON number or a hex or decimal string.
type flexUint64 uint64

func (f *flexUint64) UnmarshalJSON(data []byte) error {
	s := strings.Trim(string(data), `"`)
	var (
		v   uint64
		err error
	)
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		v, err = hexutil.DecodeUint64(s)
	} else {
		v, err = strconv.ParseUint(s, 10, 64)
	}
	if err != nil {
		return fmt.Errorf("invalid number %s", data)
	}
	*f = flexUint64(v)
	return nil
}

type subscriptionNotFoundError struct{ name string }

func (e *subscriptionNotFoundError) Error() string {
	return fmt.Sprintf("no %q subscription in eth namespace", e.name)
}
func (e *subscriptionNotFoundError) ErrorCode() int { return -32601 }

// subscribe creates a subscription on c from eth_subscribe params. It returns
// the id and a start func that begins delivery once the id has been queued.
func (s *Server) subscribe(c *wsConn, params json.RawMessage) (string, func(), error) {
	var args []json.RawMessage
	if err := json.Unmarshal(params, &args); err != nil || len(args) == 0 {
		return "", nil, &invalidParamsError{"invalid params: expected [subscription name, ...]"}
	}
	var name string
	if err := json.Unmarshal(args[0], &name); err != nil {
		return "", nil, &invalidParamsError{"invalid subscription name: " + string(args[0])}
	}
	arg := func(i int) json.RawMessage {
		if i < len(args) && string(args[i]) != "null" {
			return args[i]
		}
		return nil
	}
	resume := func(raw json.RawMessage) (uint64, bool, error) {
		if raw == nil {
			return 0, false, nil
		}
		var opt resumeOption
		if err := json.Unmarshal(raw, &opt); err != nil {
			return 0, false, &invalidParamsError{"invalid options: " + err.Error()}
		}
		if opt.From == nil {
			return 0, false, nil
		}
		return uint64(*opt.From), true, nil
	}
	api := s.eth
	if api == nil {
		return "", nil, &subscriptionNotFoundError{name}
	}
	switch name {
	case "miniBlocks":
		from, ok, err := resume(arg(1))
		if err != nil {
			return "", nil, err
		}
		return s.hubSubscribe(c, from, ok, func(it *hubItem) [][]byte { return [][]byte{it.payload()} })

	case "stateChanges":
		var addrs []common.Address
		if raw := arg(1); raw != nil {
			if err := json.Unmarshal(raw, &addrs); err != nil {
				return "", nil, &invalidParamsError{"invalid address list: " + err.Error()}
			}
		}
		from, ok, err := resume(arg(2))
		if err != nil {
			return "", nil, err
		}
		watch := make(map[common.Address]bool, len(addrs))
		for _, a := range addrs {
			watch[a] = true
		}
		return s.hubSubscribe(c, from, ok, func(it *hubItem) [][]byte {
			var out [][]byte
			for i := range it.mb.StateChanges {
				ch := &it.mb.StateChanges[i]
				if len(watch) == 0 || watch[ch.Address] {
					out = append(out, mustJSON(marshalStateChange(ch)))
				}
			}
			return out
		})

	case "logs":
		var crit FilterCriteria
		if raw := arg(1); raw != nil {
			if err := json.Unmarshal(raw, &crit); err != nil {
				return "", nil, &invalidParamsError{"invalid filter: " + err.Error()}
			}
		}
		if crit.BlockHash != nil {
			return "", nil, &invalidParamsError{"a logs subscription cannot name a blockHash"}
		}
		isPending := func(n *gethrpc.BlockNumber) bool { return n != nil && *n == gethrpc.PendingBlockNumber }
		if isPending(crit.FromBlock) || isPending(crit.ToBlock) {
			from, ok, err := resume(arg(1))
			if err != nil {
				return "", nil, err
			}
			return s.hubSubscribe(c, from, ok, func(it *hubItem) [][]byte {
				var out [][]byte
				for _, l := range crit.collect(it.mb.Receipts, nil) {
					out = append(out, mustJSON(l))
				}
				return out
			})
		}
		// Without "pending" logs arrive as go-ethereum sends them: once the
		// block is sealed, with its hash.
		return feedSubscribe(c, api.b.Feeds.Heads(subscriptionBuffer), func(h *chain.Head) [][]byte {
			var out [][]byte
			if h.Rewound { // a dev chain's revert: its logs are gone, as in a reorg
				for _, l := range crit.removed(h.Removed) {
					out = append(out, mustJSON(l))
				}
				return out
			}
			receipts := api.b.logReceipts(h.Header.Hash(), h.Header.Number.Uint64())
			for _, l := range crit.collect(receipts, nil) {
				out = append(out, mustJSON(l))
			}
			return out
		})

	case "newHeads":
		return feedSubscribe(c, api.b.Feeds.Heads(subscriptionBuffer), func(h *chain.Head) [][]byte {
			head := marshalHeader(h.Header)
			head["miniBlockCount"] = hexutil.Uint64(h.MiniBlockCount)
			head["miniBlockOffset"] = hexutil.Uint64(h.MiniBlockOffset)
			return [][]byte{mustJSON(head)}
		})

	case "finality":
		if api.b.Finality == nil {
			return "", nil, &subscriptionNotFoundError{name}
		}
		return feedSubscribe(c, api.b.Finality.FinalityChanges(subscriptionBuffer), func(ch *chain.FinalityChange) [][]byte {
			h := api.b.Chain.GetHeaderByNumber(ch.Block.Number)
			if h != nil && h.Hash() != ch.Block.Hash {
				h = nil // a disputed block this node refused
			}
			return [][]byte{mustJSON(marshalFinalityChange(ch, h, api.b.Finality.FinalityHeads()))}
		})

	case "newPendingTransactions":
		var full bool
		if raw := arg(1); raw != nil {
			if err := json.Unmarshal(raw, &full); err != nil {
				return "", nil, &invalidParamsError{"invalid fullTx flag: " + string(raw)}
			}
		}
		return feedSubscribe(c, api.b.Feeds.PendingTxs(subscriptionBuffer), func(tx *types.Transaction) [][]byte {
			if full {
				return [][]byte{mustJSON(newRPCTransaction(tx, common.Hash{}, 0, 0, 0, nil, api.config))}
			}
			return [][]byte{mustJSON(tx.Hash())}
		})
	}
	return "", nil, &subscriptionNotFoundError{name}
}

// hubSubscribe registers a mini-block driven subscription.
func (s *Server) hubSubscribe(c *wsConn, from uint64, resume bool, render func(*hubItem) [][]byte) (string, func(), error) {
	sub := &hubSub{conn: c, id: newSubscriptionID(), render: render}
	if err := c.addSub(sub.id, func() { s.hub.remove(sub) }); err != nil {
		return "", nil, err
	}
	if err := s.hub.add(sub, from, resume, s.eth.b.Latest.MiniBlockCount()); err != nil {
		c.dropSub(sub.id)
		return "", nil, err
	}
	return sub.id, func() { s.hub.begin(sub) }, nil
}

// feedSubscribe runs a subscription on one of the node's feeds in its own
// goroutine. Falling a whole buffer behind closes the connection with a
// reason: the client never misses a notification without knowing.
func feedSubscribe[T any](c *wsConn, sub *chain.Subscription[T], render func(T) [][]byte) (string, func(), error) {
	id := newSubscriptionID()
	stop := make(chan struct{})
	var once sync.Once
	cancel := func() { once.Do(func() { close(stop) }) }
	if err := c.addSub(id, cancel); err != nil {
		sub.Unsubscribe()
		return "", nil, err
	}
	start := func() {
		go func() {
			defer sub.Unsubscribe()
			for {
				select {
				case <-stop:
					return
				case <-c.done:
					return
				case v := <-sub.C():
					for _, payload := range render(v) {
						if !c.notify(id, payload, slowReason) {
							return
						}
					}
				case <-sub.Err():
					c.fail(closeTooSlow, "slow consumer: subscription buffer full")
					return
				}
			}
		}()
	}
	return id, start, nil
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

// RPCStateChange is the stateChanges notification payload: an account's
// nonce, balance and changed storage after a mini-block.
type RPCStateChange struct {
	Address common.Address              `json:"address"`
	Nonce   uint64                      `json:"nonce"`
	Balance *hexutil.U256               `json:"balance"`
	Storage map[common.Hash]common.Hash `json:"storage"`
}

func marshalStateChange(ch *chain.AccountChange) *RPCStateChange {
	out := &RPCStateChange{Address: ch.Address, Nonce: ch.Nonce, Balance: (*hexutil.U256)(ch.Balance), Storage: make(map[common.Hash]common.Hash, len(ch.Storage))}
	if out.Balance == nil || ch.Deleted {
		out.Balance = new(hexutil.U256)
	}
	for _, sl := range ch.Storage {
		out.Storage[sl.Slot] = sl.Value
	}
	return out
}
