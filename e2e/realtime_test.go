package e2e

import (
	"context"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

func signedTransfer(t *testing.T, hexKey string, nonce uint64) (*types.Transaction, hexutil.Bytes) {
	t.Helper()
	to := common.HexToAddress(addr3)
	tx := types.MustSignNewTx(mustKey(t, hexKey), types.LatestSignerForChainID(big.NewInt(4747)), &types.DynamicFeeTx{
		ChainID: big.NewInt(4747), Nonce: nonce, To: &to, Gas: params.TxGas,
		GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(10 * params.GWei), Value: big.NewInt(1),
	})
	raw, _ := tx.MarshalBinary()
	return tx, raw
}

// TestRealtimeSendsAgainstBinary drives the synchronous sends of the realtime
// API over a websocket, with go-ethereum's client, in both sealing modes.
func TestRealtimeSendsAgainstBinary(t *testing.T) {
	for _, mode := range []struct {
		name string
		args []string
	}{{"eager", nil}, {"periodic", []string{"--miniblock-eager=false"}}} {
		t.Run(mode.name, func(t *testing.T) {
			d := startDevnet(t, mode.args...)
			c, err := gethrpc.Dial(d.WS)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()

			var r map[string]interface{}
			tx, raw := signedTransfer(t, key0, 0)
			if err := c.CallContext(ctx, &r, "eth_sendRawTransactionSync", raw); err != nil {
				t.Fatal(err)
			}
			if r["transactionHash"] != tx.Hash().Hex() || r["status"] != "0x1" || r["blockHash"] != "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff" {
				t.Fatalf("sync receipt %v", r)
			}
			tx, raw = signedTransfer(t, key0, 1)
			if err := c.CallContext(ctx, &r, "realtime_sendRawTransaction", raw); err != nil {
				t.Fatal(err)
			}
			if r["transactionHash"] != tx.Hash().Hex() {
				t.Fatalf("realtime receipt %v", r)
			}
			// A nonce gap is refused with the expected nonce, and nothing is pooled.
			tx, raw = signedTransfer(t, key0, 7)
			err = c.CallContext(ctx, &r, "eth_sendRawTransactionSync", raw, 1000)
			var rpcErr gethrpc.Error
			var dataErr gethrpc.DataError
			if !errors.As(err, &rpcErr) || rpcErr.ErrorCode() != 6 || !errors.As(err, &dataErr) || dataErr.ErrorData() != "0x2" {
				t.Fatalf("nonce gap: %v", err)
			}
			var pooled map[string]interface{}
			if err := c.CallContext(ctx, &pooled, "eth_getTransactionByHash", tx.Hash()); err != nil || pooled != nil {
				t.Fatalf("gapped tx is visible: %v %v", pooled, err)
			}
			// Subscriptions over HTTP are refused with the realtime API's error.
			hc := d.client(t)
			err = hc.CallContext(ctx, new(string), "eth_subscribe", "miniBlocks")
			if !errors.As(err, &rpcErr) || rpcErr.ErrorCode() != -32000 || err.Error() != "WebSocket connection required" {
				t.Fatalf("subscribe over HTTP: %v", err)
			}
		})
	}
}
