package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"math/big"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// The first accounts of the test mnemonic.
const (
	key0  = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
	addr0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
	key1  = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
	addr2 = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
	addr3 = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
)

func TestFoundryAgainstDevnet(t *testing.T) {
	d := startDevnet(t)
	cast, forge := tool(t, "cast"), tool(t, "forge")

	t.Run("cast send with a private key", func(t *testing.T) {
		var r struct {
			Status          string `json:"status"`
			TransactionHash string `json:"transactionHash"`
		}
		out := run(t, "", cast, "send", addr3, "--value", "1ether", "--private-key", key0, "--rpc-url", d.URL, "--json")
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("decode receipt %q: %v", out, err)
		}
		if r.Status != "0x1" {
			t.Fatalf("status %s, want 0x1", r.Status)
		}
		if got := run(t, "", cast, "receipt", r.TransactionHash, "status", "--rpc-url", d.URL); got != "true" && !strings.HasPrefix(got, "1") {
			t.Fatalf("cast receipt status = %q, want 1 (success)", got)
		}
	})

	t.Run("cast send unlocked", func(t *testing.T) {
		before := run(t, "", cast, "balance", addr2, "--rpc-url", d.URL)
		out := run(t, "", cast, "send", addr2, "--value", "2ether", "--from", addr0, "--unlocked", "--rpc-url", d.URL, "--json")
		if !strings.Contains(out, `"status":"0x1"`) {
			t.Fatalf("receipt %s, want status 0x1", out)
		}
		after := run(t, "", cast, "balance", addr2, "--rpc-url", d.URL)
		b, _ := new(big.Int).SetString(before, 10)
		a, _ := new(big.Int).SetString(after, 10)
		if diff := new(big.Int).Sub(a, b); diff.Cmp(new(big.Int).Mul(big.NewInt(2), big.NewInt(params.Ether))) != 0 {
			t.Fatalf("balance grew by %s, want 2 ether", diff)
		}
	})

	t.Run("forge script deploys with new and with a CREATE2 salt", func(t *testing.T) {
		dir := foundryProject(t)
		run(t, dir, forge, "script", "script/Deploy.s.sol:Deploy", "--rpc-url", d.URL, "--broadcast", "--private-key", key1)

		bc := readBroadcast(t, dir)
		kinds := map[string]string{}
		for _, tx := range bc.Transactions {
			if tx.TransactionType == "CREATE" || tx.TransactionType == "CREATE2" {
				kinds[tx.TransactionType] = tx.ContractAddress
			}
			if tx.TransactionType == "CREATE2" && !strings.EqualFold(tx.Transaction.To, "0x4e59b44847b379578588920ca78fbf26c0b4956c") {
				t.Errorf("CREATE2 deploy sent to %s, want the deterministic deployer", tx.Transaction.To)
			}
		}
		if len(kinds) != 2 || len(bc.Receipts) != 3 {
			t.Fatalf("broadcast holds %v and %d receipts, want CREATE, CREATE2 and 3 receipts", kinds, len(bc.Receipts))
		}
		for _, r := range bc.Receipts {
			if r.Status != "0x1" {
				t.Fatalf("receipt status %s, want 0x1", r.Status)
			}
		}
		// new Counter(1) was incremented once; the salted Counter(2) not at all.
		if got := run(t, "", cast, "call", kinds["CREATE"], "number()(uint256)", "--rpc-url", d.URL); got != "2" {
			t.Errorf("plain counter = %s, want 2", got)
		}
		if got := run(t, "", cast, "call", kinds["CREATE2"], "number()(uint256)", "--rpc-url", d.URL); got != "2" {
			t.Errorf("salted counter = %s, want 2", got)
		}
		// A revert reaches cast with its reason.
		cmd := exec.Command(cast, "call", kinds["CREATE"], "fail()", "--rpc-url", d.URL)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "counter: nope") {
			t.Errorf("cast call fail(): err %v, output %s; want the revert reason", err, out)
		}
	})
}

func mustKey(t *testing.T, hexKey string) *ecdsa.PrivateKey {
	t.Helper()
	k, err := crypto.HexToECDSA(strings.TrimPrefix(hexKey, "0x"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sendTransfer(t *testing.T, c *gethrpc.Client, key *ecdsa.PrivateKey, nonce uint64, to string, wei *big.Int) common.Hash {
	t.Helper()
	to20 := common.HexToAddress(to)
	tx := types.MustSignNewTx(key, types.LatestSignerForChainID(big.NewInt(4747)), &types.DynamicFeeTx{
		ChainID: big.NewInt(4747), Nonce: nonce, To: &to20, Gas: params.TxGas,
		GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(10 * params.GWei), Value: wei,
	})
	raw, _ := tx.MarshalBinary()
	var h common.Hash
	if err := c.Call(&h, "eth_sendRawTransaction", hexutil.Bytes(raw)); err != nil {
		t.Fatalf("send: %v", err)
	}
	return h
}

type receipt struct {
	BlockHash   common.Hash    `json:"blockHash"`
	BlockNumber hexutil.Uint64 `json:"blockNumber"`
	Status      hexutil.Uint64 `json:"status"`
}

func waitReceipt(t *testing.T, c *gethrpc.Client, h common.Hash, sealed bool) *receipt {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var r *receipt
		if err := c.Call(&r, "eth_getTransactionReceipt", h); err != nil {
			t.Fatal(err)
		}
		if r != nil && (!sealed || r.BlockHash != common.MaxHash) {
			return r
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no receipt for %s", h)
	return nil
}

func blockHash(t *testing.T, c *gethrpc.Client, n uint64) common.Hash {
	t.Helper()
	var b struct {
		Hash common.Hash `json:"hash"`
	}
	if err := c.Call(&b, "eth_getBlockByNumber", hexutil.Uint64(n), false); err != nil {
		t.Fatal(err)
	}
	return b.Hash
}

func TestRestartKeepsChain(t *testing.T) {
	key := mustKey(t, key0)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			d := startDevnet(t, "--datadir", dir)
			c := d.client(t)
			sealedTx := sendTransfer(t, c, key, 0, addr3, big.NewInt(params.Ether))
			r := waitReceipt(t, c, sealedTx, true)
			sealedHash := blockHash(t, c, uint64(r.BlockNumber))
			// A second tx that is preconfirmed (journaled) but, most likely,
			// not yet in a sealed block when the process dies.
			preconfTx := sendTransfer(t, c, key, 1, addr3, big.NewInt(params.Ether))
			waitReceipt(t, c, preconfTx, false)
			d.kill(sig)

			d2 := startDevnet(t, "--datadir", dir)
			c2 := d2.client(t)
			if got := blockHash(t, c2, uint64(r.BlockNumber)); got != sealedHash {
				t.Fatalf("block %d hash after restart %s, want %s", r.BlockNumber, got, sealedHash)
			}
			r2 := waitReceipt(t, c2, preconfTx, true)
			if r2.Status != 1 {
				t.Fatalf("preconfirmed tx status %d after restart, want 1", r2.Status)
			}
			var bal hexutil.Big
			if err := c2.Call(&bal, "eth_getBalance", addr3, "latest"); err != nil {
				t.Fatal(err)
			}
			want := new(big.Int).Mul(big.NewInt(10_002), big.NewInt(params.Ether))
			if bal.ToInt().Cmp(want) != 0 {
				t.Fatalf("balance after restart %s, want %s", bal.ToInt(), want)
			}
		})
	}
}

func TestMiniBlockSubscription(t *testing.T) {
	d := startDevnet(t)
	c, err := gethrpc.Dial(d.WS)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ch := make(chan map[string]interface{}, 1024)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := c.EthSubscribe(ctx, ch, "miniBlocks")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	hc := d.client(t)
	tx := sendTransfer(t, hc, mustKey(t, key0), 0, addr3, big.NewInt(1))

	var got []uint64
	sawTx := false
	timeout := time.After(time.Second)
loop:
	for {
		select {
		case mb := <-ch:
			n, err := hexutil.DecodeUint64(mb["mini_block_number"].(string))
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, n)
			for _, x := range mb["transactions"].([]interface{}) {
				if x.(map[string]interface{})["hash"] == tx.Hex() {
					sawTx = true
				}
			}
		case err := <-sub.Err():
			t.Fatal(err)
		case <-timeout:
			break loop
		}
	}
	if len(got) < 80 {
		t.Errorf("got %d mini-blocks in a second, want about 100", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Fatalf("mini-block numbers jump from %d to %d", got[i-1], got[i])
		}
	}
	if !sawTx {
		t.Errorf("the tx sent during the subscription was in no mini-block")
	}
}

func TestBadInputKeepsNodeUp(t *testing.T) {
	d := startDevnet(t)
	post := func(body []byte) (int, map[string]interface{}) {
		resp, err := http.Post(d.URL, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]interface{}
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatalf("response is not JSON: %v", err)
		}
		return resp.StatusCode, m
	}
	code := func(m map[string]interface{}) float64 {
		e, _ := m["error"].(map[string]interface{})
		c, _ := e["code"].(float64)
		return c
	}
	message := func(m map[string]interface{}) string {
		e, _ := m["error"].(map[string]interface{})
		s, _ := e["message"].(string)
		return s
	}
	tests := []struct {
		name     string
		body     []byte
		wantCode float64
		wantMsg  string
	}{
		{"malformed json", []byte(`{"jsonrpc":"2.0","id":1,"method":`), -32700, "parse error"},
		{"oversized body", append([]byte(`{"jsonrpc":"2.0","id":1,"method":"eth_call","params":["`), append(bytes.Repeat([]byte("a"), 200_000), []byte(`"]}`)...)...), -32600, "too large"},
		{"unknown method", []byte(`{"jsonrpc":"2.0","id":1,"method":"foo_bar","params":[]}`), -32601, "does not exist"},
		{"undecodable tx", []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x02"]}`), -32000, ""},
		{"invalid params", []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0xnothex"]}`), -32602, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, m := post(tc.body)
			if got := code(m); got != tc.wantCode {
				t.Fatalf("code %v (%v), want %v", got, m, tc.wantCode)
			}
			if !strings.Contains(message(m), tc.wantMsg) {
				t.Fatalf("message %q, want it to contain %q", message(m), tc.wantMsg)
			}
		})
	}
	t.Run("underpriced and nonce-too-low txs", func(t *testing.T) {
		c := d.client(t)
		key := mustKey(t, key0)
		h := sendTransfer(t, c, key, 0, addr3, big.NewInt(1))
		waitReceipt(t, c, h, false)
		to := common.HexToAddress(addr3)
		stale := types.MustSignNewTx(key, types.LatestSignerForChainID(big.NewInt(4747)), &types.DynamicFeeTx{ChainID: big.NewInt(4747), Nonce: 0, To: &to, Gas: params.TxGas, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei * 10)})
		raw, _ := stale.MarshalBinary()
		err := c.Call(nil, "eth_sendRawTransaction", hexutil.Bytes(raw))
		if err == nil || !strings.Contains(err.Error(), "nonce too low") {
			t.Fatalf("err %v, want nonce too low", err)
		}
		cheap := types.MustSignNewTx(key, types.LatestSignerForChainID(big.NewInt(4747)), &types.DynamicFeeTx{ChainID: big.NewInt(4747), Nonce: 1, To: &to, Gas: params.TxGas, GasTipCap: big.NewInt(0), GasFeeCap: big.NewInt(1)})
		raw, _ = cheap.MarshalBinary()
		err = c.Call(nil, "eth_sendRawTransaction", hexutil.Bytes(raw))
		if err == nil || !strings.Contains(err.Error(), "max fee per gas less than block base fee") {
			t.Fatalf("err %v, want max fee per gas less than block base fee", err)
		}
	})
	var id hexutil.Big
	if err := d.client(t).Call(&id, "eth_chainId"); err != nil || id.ToInt().Int64() != 4747 {
		t.Fatalf("node not serving after bad input: %v %v", id.ToInt(), err)
	}
}
