package bench

import (
	"encoding/json"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
)

// The pre-encoded batches are JSON-RPC batches of eth_sendRawTransaction
// carrying every tx once, in order, with distinct ids.
func TestEncodeBatches(t *testing.T) {
	signer := types.LatestSignerForChainID(big.NewInt(1))
	to := common.HexToAddress("0xbeef")
	var txs []*types.Transaction
	for i := 0; i < 5; i++ {
		txs = append(txs, types.MustSignNewTx(senderKey(1, i), signer, &types.DynamicFeeTx{ChainID: big.NewInt(1), Nonce: uint64(i), To: &to, Gas: 21000, GasFeeCap: big.NewInt(1), Value: big.NewInt(1)}))
	}
	bodies := encodeBatches(txs, 2)
	if len(bodies) != 3 {
		t.Fatalf("%d batches for 5 txs of 2, want 3", len(bodies))
	}
	seen := map[int]bool{}
	n := 0
	for _, body := range bodies {
		var calls []struct {
			JSONRPC string          `json:"jsonrpc"`
			ID      int             `json:"id"`
			Method  string          `json:"method"`
			Params  []hexutil.Bytes `json:"params"`
		}
		if err := json.Unmarshal(body, &calls); err != nil {
			t.Fatalf("batch %s is not JSON: %v", body, err)
		}
		for _, c := range calls {
			want, _ := txs[n].MarshalBinary()
			if c.JSONRPC != "2.0" || c.Method != "eth_sendRawTransaction" || len(c.Params) != 1 || string(c.Params[0]) != string(want) || seen[c.ID] {
				t.Fatalf("call %d: %+v, want tx %d's raw bytes with a fresh id", n, c, n)
			}
			seen[c.ID] = true
			n++
		}
	}
	if n != len(txs) {
		t.Fatalf("%d calls, want %d", n, len(txs))
	}
}

func TestIntervalRecorderResult(t *testing.T) {
	r := &intervalRecorder{stamps: []uint64{1_000_000, 1_010_000, 1_021_000, 1_030_000}} // µs
	n, p, us := r.result()
	if n != 4 {
		t.Errorf("count: got %d, want 4", n)
	}
	if want := []int64{10_000, 11_000, 9_000}; !slices.Equal(us, want) {
		t.Errorf("intervals: got %v, want %v in arrival order", us, want)
	}
	if p.Count != 3 || p.P50 != 10*time.Millisecond || p.Max != 11*time.Millisecond {
		t.Errorf("percentiles: got %+v, want 3 intervals, p50 10ms, max 11ms", p)
	}
}
