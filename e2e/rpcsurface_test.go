package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// loggerInit deploys code that stores its first calldata word in slot 0 and
// logs it under topic keccak("set").
var loggerInit = func() string {
	runtime := "6000356000556000356000527f" + common.Bytes2Hex(crypto.Keccak256([]byte("set"))) + "60206000a100"
	return fmt.Sprintf("0x60%02x80600b6000396000f3%s", len(runtime)/2, runtime)
}()

// TestFoundryRPCSurface drives the tracing, proof, access-list and log
// methods through cast, against sealed blocks of the binary.
func TestFoundryRPCSurface(t *testing.T) {
	d := startDevnet(t)
	c := d.client(t)
	cast := tool(t, "cast")

	var deployed struct {
		ContractAddress string `json:"contractAddress"`
		Status          string `json:"status"`
	}
	out := run(t, "", cast, "send", "--private-key", key0, "--rpc-url", d.URL, "--json", "--create", loggerInit)
	if err := json.Unmarshal([]byte(out), &deployed); err != nil || deployed.Status != "0x1" {
		t.Fatalf("deploy: %s (%v)", out, err)
	}
	logger := deployed.ContractAddress
	word := "0x" + strings.Repeat("00", 31) + "2a"

	// cast send --sync returns the receipt from eth_sendRawTransactionSync.
	var sent struct {
		TransactionHash string `json:"transactionHash"`
		Status          string `json:"status"`
		Logs            []struct {
			Topics []string `json:"topics"`
		} `json:"logs"`
	}
	out = run(t, "", cast, "send", logger, word, "--private-key", key0, "--rpc-url", d.URL, "--sync", "--json")
	if err := json.Unmarshal([]byte(out), &sent); err != nil || sent.Status != "0x1" || len(sent.Logs) != 1 {
		t.Fatalf("cast send --sync: %s (%v)", out, err)
	}
	waitReceipt(t, c, common.HexToHash(sent.TransactionHash), true) // traces replay sealed blocks

	t.Run("cast run", func(t *testing.T) {
		out := run(t, "", cast, "run", sent.TransactionHash, "--rpc-url", d.URL)
		if !strings.Contains(out, "Transaction successfully executed") {
			t.Fatalf("cast run: %s", out)
		}
	})
	t.Run("cast call --trace", func(t *testing.T) {
		out := run(t, "", cast, "call", logger, word, "--trace", "--rpc-url", d.URL)
		if !strings.Contains(strings.ToLower(out), strings.ToLower(logger[2:])) || !strings.Contains(out, "Transaction successfully executed") {
			t.Fatalf("cast call --trace: %s", out)
		}
	})
	t.Run("debug_traceTransaction callTracer", func(t *testing.T) {
		var frame struct {
			To   string `json:"to"`
			Type string `json:"type"`
		}
		if err := c.Call(&frame, "debug_traceTransaction", sent.TransactionHash, map[string]string{"tracer": "callTracer"}); err != nil {
			t.Fatal(err)
		}
		if !strings.EqualFold(frame.To, logger) || frame.Type != "CALL" {
			t.Fatalf("call frame %+v", frame)
		}
	})
	t.Run("cast logs", func(t *testing.T) {
		out := run(t, "", cast, "logs", "--from-block", "0", "--address", logger, "--rpc-url", d.URL, "--json")
		topic := crypto.Keccak256Hash([]byte("set")).Hex()
		if !strings.Contains(out, topic) || !strings.Contains(out, sent.TransactionHash) {
			t.Fatalf("cast logs: %s", out)
		}
	})
	t.Run("cast proof", func(t *testing.T) {
		var proof struct {
			AccountProof []string `json:"accountProof"`
			StorageProof []struct {
				Value string `json:"value"`
			} `json:"storageProof"`
		}
		out := run(t, "", cast, "proof", logger, "0", "--rpc-url", d.URL)
		if err := json.Unmarshal([]byte(out), &proof); err != nil || len(proof.AccountProof) == 0 || len(proof.StorageProof) != 1 || proof.StorageProof[0].Value != "0x2a" {
			t.Fatalf("cast proof: %s (%v)", out, err)
		}
	})
	t.Run("cast access-list", func(t *testing.T) {
		out := run(t, "", cast, "access-list", logger, word, "--from", addr0, "--rpc-url", d.URL, "--json")
		if !strings.Contains(strings.ToLower(out), "0x0000000000000000000000000000000000000000000000000000000000000000") {
			t.Fatalf("cast access-list: %s", out)
		}
	})
}
