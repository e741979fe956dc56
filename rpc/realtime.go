package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
)

// EIP-7966 error codes of eth_sendRawTransactionSync.
const (
	codeSyncTimeout  = 4 // pooled, not in a mini-block before the timeout; data: tx hash
	codeSyncNotReady = 5 // left the pool without executing; data: tx hash
	codeSyncNonceGap = 6 // nonce ahead of the account's; data: the expected nonce
)

// rpcError is an error with a JSON-RPC code and optional data.
type rpcError struct {
	code int
	msg  string
	data interface{}
}

func (e *rpcError) Error() string          { return e.msg }
func (e *rpcError) ErrorCode() int         { return e.code }
func (e *rpcError) ErrorData() interface{} { return e.data }

// waitTx submits tx and waits for its mini-block, driven by the sequencer's
// event, not by polling.
func (api *EthAPI) waitTx(ctx context.Context, input hexutil.Bytes, rejectGap bool, timeout time.Duration,
	onTimeout func(common.Hash) error, onDropped func(common.Hash, error) error) (map[string]interface{}, error) {
	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(input); err != nil {
		return nil, err
	}
	ch, cancel, err := api.b.Txs.SubmitAwait(tx, rejectGap)
	var gap *chain.NonceGapError
	if errors.As(err, &gap) {
		return nil, &rpcError{codeSyncNonceGap, fmt.Sprintf("nonce gap: transaction nonce %d, expected nonce %d; the transaction was not pooled", gap.Got, gap.Expected), hexutil.Uint64(gap.Expected)}
	}
	if err != nil {
		return nil, err
	}
	defer cancel()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case out := <-ch:
		var notLeader *chain.NotLeaderError
		if errors.As(out.Dropped, &notLeader) {
			return nil, notLeader // retryable: keep its code
		}
		if out.Dropped != nil {
			return nil, onDropped(tx.Hash(), out.Dropped)
		}
		return marshalReceipt(out.Receipt, out.Receipt.BlockHash, out.BlockNumber, api.signer, out.Tx, int(out.Index)), nil
	case <-timer.C:
		return nil, onTimeout(tx.Hash())
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// SendRawTransactionSync submits a signed transaction and returns its receipt
// as soon as it is in a mini-block (EIP-7966). timeoutMs is a number, a hex
// or decimal string, or null; missing or zero means the default, and longer
// than the maximum means the maximum. A nonce gap is refused without pooling
// the transaction.
func (api *EthAPI) SendRawTransactionSync(ctx context.Context, input hexutil.Bytes, timeoutMs *flexUint64) (interface{}, error) {
	if api.b.Forward != nil {
		var out json.RawMessage
		err := api.b.Forward.CallContext(ctx, &out, "eth_sendRawTransactionSync", input, timeoutMs)
		return out, err
	}
	timeout := api.realtime.SyncTimeout
	if timeoutMs != nil && *timeoutMs > 0 {
		timeout = min(time.Duration(*timeoutMs)*time.Millisecond, api.realtime.SyncMaxTimeout)
	}
	return api.waitTx(ctx, input, true, timeout,
		func(hash common.Hash) error {
			return &rpcError{codeSyncTimeout, fmt.Sprintf("The transaction was added to the transaction pool but wasn't processed in %v", timeout), hash}
		},
		func(hash common.Hash, reason error) error {
			return &rpcError{codeSyncNotReady, fmt.Sprintf("The transaction was added to the transaction pool but wasn't processed: %v", reason), hash}
		})
}

// RealtimeAPI is MegaETH's realtime namespace.
type RealtimeAPI struct{ eth *EthAPI }

// SendRawTransaction submits a signed transaction and returns its receipt as
// soon as it is in a mini-block, or "realtime transaction expired".
func (r *RealtimeAPI) SendRawTransaction(ctx context.Context, input hexutil.Bytes) (interface{}, error) {
	if r.eth.b.Forward != nil {
		var out json.RawMessage
		err := r.eth.b.Forward.CallContext(ctx, &out, "realtime_sendRawTransaction", input)
		return out, err
	}
	return r.eth.waitTx(ctx, input, false, r.eth.realtime.RealtimeTimeout,
		func(hash common.Hash) error {
			return &rpcError{-32000, "realtime transaction expired", hash}
		},
		func(hash common.Hash, reason error) error {
			return &rpcError{-32000, fmt.Sprintf("realtime transaction dropped: %v", reason), hash}
		})
}

// CallCondition is what eth_callAfter waits for: account's nonce reaching
// nonce, for at most timeout milliseconds.
type CallCondition struct {
	Account common.Address `json:"account"`
	Nonce   *flexUint64    `json:"nonce"`
	Timeout *flexUint64    `json:"timeout"`
}

// CallAfter waits until the condition's account has sent nonce transactions
// (its nonce in the newest mini-block reaches the value), then runs eth_call
// on that state.
func (api *EthAPI) CallAfter(ctx context.Context, args TransactionArgs, cond CallCondition, overrides *StateOverride, blockOverrides *BlockOverrides) (hexutil.Bytes, error) {
	if cond.Nonce == nil {
		return nil, &invalidParamsError{"condition: missing nonce"}
	}
	timeout := api.realtime.CallAfterTimeout
	if cond.Timeout != nil && *cond.Timeout > 0 {
		timeout = min(time.Duration(*cond.Timeout)*time.Millisecond, api.realtime.CallAfterMax)
	}
	if err := api.waitNonce(ctx, cond.Account, uint64(*cond.Nonce), timeout); err != nil {
		return nil, err
	}
	latest := gethrpc.BlockNumberOrHashWithNumber(gethrpc.LatestBlockNumber)
	return api.Call(ctx, args, &latest, overrides, blockOverrides)
}

// waitNonce returns once addr's nonce in the newest mini-block is at least
// nonce, checking again only when a mini-block changed addr.
func (api *EthAPI) waitNonce(ctx context.Context, addr common.Address, nonce uint64, timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	current := func() (uint64, error) {
		st, _, err := api.b.Latest.LatestState()
		if err != nil {
			return 0, err
		}
		return st.GetNonce(addr), nil
	}
	for {
		sub := api.b.Feeds.MiniBlocks(256)
		have, err := current()
		if err != nil || have >= nonce {
			sub.Unsubscribe()
			return err
		}
		resubscribe, err := func() (bool, error) {
			defer sub.Unsubscribe()
			for {
				select {
				case mb := <-sub.C():
					if !touches(mb, addr) {
						continue
					}
					if have, err = current(); err != nil || have >= nonce {
						return false, err
					}
				case <-sub.Err():
					return true, nil // fell behind: read the nonce again
				case <-timer.C:
					return false, &rpcError{-32000, fmt.Sprintf("eth_callAfter timed out after %v: nonce of %s is %d, waiting for %d", timeout, addr.Hex(), have, nonce), nil}
				case <-ctx.Done():
					return false, ctx.Err()
				}
			}
		}()
		if !resubscribe {
			return err
		}
	}
}

func touches(mb *chain.MiniBlock, addr common.Address) bool {
	for i := range mb.StateChanges {
		if mb.StateChanges[i].Address == addr {
			return true
		}
	}
	return false
}

// CursorFilter is eth_getLogsWithCursor's parameter: an eth_getLogs filter and
// the cursor of the previous page.
type CursorFilter struct {
	FilterCriteria
	Cursor string
}

// UnmarshalJSON decodes the filter and the cursor.
func (f *CursorFilter) UnmarshalJSON(data []byte) error {
	if err := f.FilterCriteria.UnmarshalJSON(data); err != nil {
		return err
	}
	var c struct {
		Cursor *string `json:"cursor"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return err
	}
	if c.Cursor != nil {
		f.Cursor = *c.Cursor
	}
	return nil
}

// logsPage is eth_getLogsWithCursor's answer; Cursor is set while more
// logs remain.
type logsPage struct {
	Logs   []*types.Log `json:"logs"`
	Cursor string       `json:"cursor,omitempty"`
}

// logCursor is where the next page starts: the first log of block with an
// index of at least index.
type logCursor struct {
	block uint64
	index uint64
}

func (c logCursor) String() string { return fmt.Sprintf("0x%016x%08x", c.block, c.index) }

func parseLogCursor(s string) (logCursor, error) {
	b, err := hexutil.Decode(s)
	if err != nil || len(b) != 12 {
		return logCursor{}, &invalidParamsError{fmt.Sprintf("invalid cursor %q", s)}
	}
	var c logCursor
	for _, x := range b[:8] {
		c.block = c.block<<8 | uint64(x)
	}
	for _, x := range b[8:] {
		c.index = c.index<<8 | uint64(x)
	}
	return c, nil
}

// getLogsWithCursor is eth_getLogs in pages: a page ends after LogsPageSize
// logs or a scan of pageBlocks blocks, and its cursor continues where it ended.
func (api *EthAPI) getLogsWithCursor(ctx context.Context, f CursorFilter) (*logsPage, error) {
	page := &logsPage{Logs: []*types.Log{}}
	limit := api.realtime.LogsPageSize
	if f.BlockHash != nil {
		logs, err := api.getLogs(ctx, f.FilterCriteria)
		if err != nil {
			return nil, err
		}
		start := 0
		if f.Cursor != "" {
			c, err := parseLogCursor(f.Cursor)
			if err != nil {
				return nil, err
			}
			for start < len(logs) && uint64(logs[start].Index) < c.index {
				start++
			}
		}
		end := min(len(logs), start+limit)
		page.Logs = logs[start:end]
		if end < len(logs) {
			page.Cursor = logCursor{logs[end].BlockNumber, uint64(logs[end].Index)}.String()
		}
		return page, nil
	}
	r, err := api.logRange(&f.FilterCriteria)
	if err != nil || r.empty {
		return page, err
	}
	next := logCursor{block: r.from}
	if f.Cursor != "" {
		if next, err = parseLogCursor(f.Cursor); err != nil {
			return nil, err
		}
		if next.block < r.from || next.block > r.last() {
			return nil, &invalidParamsError{fmt.Sprintf("cursor block %d outside the filter's range %d-%d", next.block, r.from, r.last())}
		}
	}
	scanned := uint64(0)
	for n := next.block; n <= r.last(); n++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if scanned == api.pageBlocks() {
			page.Cursor = logCursor{block: n}.String()
			return page, nil
		}
		scanned++
		for _, l := range api.blockLogs(&f.FilterCriteria, n, r) {
			if n == next.block && uint64(l.Index) < next.index {
				continue
			}
			if len(page.Logs) == limit {
				page.Cursor = logCursor{n, uint64(l.Index)}.String()
				return page, nil
			}
			page.Logs = append(page.Logs, l)
		}
	}
	return page, nil
}

// HeadAPI serves mega_miniBlockNumber: how far this node's view of the chain
// reaches, at mini-block resolution (what a gateway polls for lag).
type HeadAPI struct{ latest LatestReader }

// MiniBlockNumber returns the number of the newest mini-block this node has,
// or null before the first one.
func (api *HeadAPI) MiniBlockNumber() *hexutil.Uint64 {
	n := api.latest.MiniBlockCount()
	if n == 0 {
		return nil
	}
	last := hexutil.Uint64(n - 1)
	return &last
}
