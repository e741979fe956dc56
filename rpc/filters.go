package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// FilterCriteria is the log filter of eth_getLogs and the logs subscription,
// decoded as geth decodes it: address is one address or a list, each topic
// position null, a hash or a list of hashes.
type FilterCriteria struct {
	BlockHash *common.Hash
	FromBlock *gethrpc.BlockNumber
	ToBlock   *gethrpc.BlockNumber
	Addresses []common.Address
	Topics    [][]common.Hash
}

// UnmarshalJSON decodes the filter object.
func (f *FilterCriteria) UnmarshalJSON(data []byte) error {
	var raw struct {
		BlockHash *common.Hash         `json:"blockHash"`
		FromBlock *gethrpc.BlockNumber `json:"fromBlock"`
		ToBlock   *gethrpc.BlockNumber `json:"toBlock"`
		Address   json.RawMessage      `json:"address"`
		Topics    []json.RawMessage    `json:"topics"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	if raw.BlockHash != nil && (raw.FromBlock != nil || raw.ToBlock != nil) {
		return errors.New("cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other")
	}
	f.BlockHash, f.FromBlock, f.ToBlock = raw.BlockHash, raw.FromBlock, raw.ToBlock
	if len(raw.Address) > 0 && string(raw.Address) != "null" {
		var one common.Address
		if err := json.Unmarshal(raw.Address, &one); err == nil {
			f.Addresses = []common.Address{one}
		} else if err := json.Unmarshal(raw.Address, &f.Addresses); err != nil {
			return fmt.Errorf("invalid addresses in query: %w", err)
		}
	}
	if len(raw.Topics) > 4 {
		return errors.New("too many topics in filter: at most 4")
	}
	for i, t := range raw.Topics {
		var pos []common.Hash
		switch {
		case len(t) == 0 || string(t) == "null":
		case t[0] == '[':
			var list []*common.Hash
			if err := json.Unmarshal(t, &list); err != nil {
				return fmt.Errorf("invalid topic %d: %w", i, err)
			}
			for _, h := range list {
				if h == nil { // a null inside a list matches anything
					pos = nil
					break
				}
				pos = append(pos, *h)
			}
		default:
			var h common.Hash
			if err := json.Unmarshal(t, &h); err != nil {
				return fmt.Errorf("invalid topic %d: %w", i, err)
			}
			pos = []common.Hash{h}
		}
		f.Topics = append(f.Topics, pos)
	}
	return nil
}

// matches reports whether l passes the address and topic filters.
func (f *FilterCriteria) matches(l *types.Log) bool {
	if len(f.Addresses) > 0 {
		found := false
		for _, a := range f.Addresses {
			if a == l.Address {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if len(f.Topics) > len(l.Topics) {
		return false
	}
	for i, pos := range f.Topics {
		if len(pos) == 0 {
			continue
		}
		found := false
		for _, t := range pos {
			if l.Topics[i] == t {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// bloomMatches rules a block out by its bloom.
func (f *FilterCriteria) bloomMatches(bloom types.Bloom) bool {
	if len(f.Addresses) > 0 {
		any := false
		for _, a := range f.Addresses {
			if types.BloomLookup(bloom, a) {
				any = true
				break
			}
		}
		if !any {
			return false
		}
	}
	for _, pos := range f.Topics {
		if len(pos) == 0 {
			continue
		}
		any := false
		for _, t := range pos {
			if types.BloomLookup(bloom, t) {
				any = true
				break
			}
		}
		if !any {
			return false
		}
	}
	return true
}

// removed returns the removed logs of a revert the filter matches.
func (f *FilterCriteria) removed(logs []*types.Log) []*types.Log {
	var out []*types.Log
	for _, l := range logs {
		if f.inRange(l.BlockNumber) && f.matches(l) {
			out = append(out, l)
		}
	}
	return out
}

func (f *FilterCriteria) collect(receipts []*types.Receipt, out []*types.Log) []*types.Log {
	for _, r := range receipts {
		for _, l := range r.Logs {
			if f.matches(l) {
				out = append(out, l)
			}
		}
	}
	return out
}

// getLogs returns the logs matching crit in sealed blocks, and in the block
// being built when toBlock is "pending".
func (api *EthAPI) getLogs(ctx context.Context, crit FilterCriteria) ([]*types.Log, error) {
	logs := []*types.Log{}
	if crit.BlockHash != nil {
		h := api.b.Chain.GetHeaderByHash(*crit.BlockHash)
		if h == nil {
			return nil, errors.New("unknown block")
		}
		if crit.bloomMatches(h.Bloom) {
			logs = crit.collect(api.b.logReceipts(h.Hash(), h.Number.Uint64()), logs)
		}
		return logs, nil
	}
	r, err := api.logRange(&crit)
	if err != nil || r.empty {
		return logs, err
	}
	if err := api.checkRange(r); err != nil {
		return nil, err
	}
	for n := r.from; n <= r.last(); n++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		logs = append(logs, api.blockLogs(&crit, n, r)...)
		if err := api.checkLogCount(len(logs), r, n); err != nil {
			return nil, err
		}
	}
	return logs, nil
}

// blockRange is the blocks a filter covers: sealed from..to, then the block
// being built (head+1) when pending.
type blockRange struct {
	from, to, head uint64
	pending, empty bool
}

func (r blockRange) last() uint64 {
	if r.pending {
		return r.head + 1
	}
	return r.to
}

// logRange resolves a filter's fromBlock and toBlock as geth does, with
// "pending" naming the block being built.
func (api *EthAPI) logRange(crit *FilterCriteria) (blockRange, error) {
	head := api.b.Chain.CurrentHeader().Number.Uint64()
	resolve := func(n *gethrpc.BlockNumber, def uint64) (uint64, bool) {
		if n == nil {
			return def, false
		}
		if t, ok := api.b.tagNumber(*n); ok {
			return min(t, head), false
		}
		switch *n {
		case gethrpc.LatestBlockNumber:
			return head, false
		case gethrpc.PendingBlockNumber:
			return head + 1, true
		case gethrpc.EarliestBlockNumber:
			return 0, false
		}
		return uint64(*n), false
	}
	from, fromPending := resolve(crit.FromBlock, head)
	to, pending := resolve(crit.ToBlock, head)
	if crit.FromBlock != nil && crit.ToBlock != nil && *crit.FromBlock >= 0 && *crit.ToBlock >= 0 && *crit.FromBlock > *crit.ToBlock {
		return blockRange{}, &invalidParamsError{"invalid block range params"}
	}
	r := blockRange{from: from, to: min(to, head), head: head, pending: pending}
	switch {
	case fromPending && !pending:
		return r, &invalidParamsError{"invalid block range params"}
	case from > to && !pending:
		return r, &invalidParamsError{"invalid block range params"}
	case to > head && !pending:
		// geth's answer; the block being built is "pending".
		return r, &invalidParamsError{"block range extends beyond current head block"}
	}
	if from > r.last() {
		r.empty = true
	}
	return r, nil
}

// blockLogs returns the logs of block n that match crit: a sealed block, or
// the block being built when n is past the head.
func (api *EthAPI) blockLogs(crit *FilterCriteria, n uint64, r blockRange) []*types.Log {
	if n > r.head {
		if !r.pending {
			return nil
		}
		_, _, receipts := api.b.Latest.PendingBlock()
		if _, drs := api.b.pendingDeposits(); len(drs) > 0 {
			all := make([]*types.Receipt, 0, len(drs)+len(receipts))
			for _, r := range drs {
				all = append(all, r.Receipt)
			}
			receipts = append(all, receipts...)
		}
		return crit.collect(receipts, nil)
	}
	h := api.b.Chain.GetHeaderByNumber(n)
	if h == nil || !crit.bloomMatches(h.Bloom) {
		return nil
	}
	return crit.collect(api.b.logReceipts(h.Hash(), n), nil)
}
