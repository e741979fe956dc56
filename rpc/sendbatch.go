package rpc

import (
	"encoding/json"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
)

// answerRawBatch answers a batch made only of eth_sendRawTransaction calls
// without the go-ethereum server's per-call dispatch: the transactions are
// decoded, admitted together (senders recovered in parallel) and every call
// gets the answer eth_sendRawTransaction gives it alone. ok is false for any
// other body, which the go-ethereum server answers, errors included.
func (s *Server) answerRawBatch(body []byte) (resps [][]byte, ok bool) {
	calls, batch, err := parseCalls(body)
	if err != nil || !batch || len(calls) < 2 || len(calls) > s.cfg.BatchLimit {
		return nil, false
	}
	txs := make([]*types.Transaction, 0, len(calls))
	at := make([]int, len(calls)) // index in txs, or -1 when the tx did not decode
	bad := make([]error, len(calls))
	for i, c := range calls {
		var params []hexutil.Bytes
		if c.Version != "2.0" || c.Method != "eth_sendRawTransaction" || !plainID(c.ID) ||
			json.Unmarshal(c.Params, &params) != nil || len(params) != 1 {
			return nil, false
		}
		tx := new(types.Transaction)
		if err := tx.UnmarshalBinary(params[0]); err != nil {
			at[i], bad[i] = -1, err
			continue
		}
		at[i] = len(txs)
		txs = append(txs, tx)
	}
	errs := s.batchSends.SendTransactions(txs)
	for i, c := range calls {
		switch {
		case c.Notification():
		case at[i] < 0:
			resps = append(resps, errorFrom(c.ID, bad[i]))
		case errs[at[i]] != nil:
			resps = append(resps, errorFrom(c.ID, errs[at[i]]))
		default:
			resps = append(resps, resultResponse(c.ID, txs[at[i]].Hash()))
		}
	}
	return resps, true
}

// plainID is an id the go-ethereum server takes as is: absent, a string or
// a number.
func plainID(id json.RawMessage) bool {
	return len(id) == 0 || id[0] == '"' || id[0] == '-' || (id[0] >= '0' && id[0] <= '9')
}
