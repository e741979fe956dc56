// Command gethdiff records go-ethereum's answers for the differential test.
// It imports tools/mkchain's chain into a real geth (built with
// `go install github.com/ethereum/go-ethereum/cmd/geth@v1.17.5`), asks it
// every request of the suite and writes the pairs as rpc/testdata/geth/*.io
// in the execution-apis format. `make test` replays the same requests against
// meganode serving the same chain and fails on any difference.
//
//	go run ./tools/gethdiff -geth $(go env GOPATH)/bin/geth
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
)

func main() {
	gethBin := flag.String("geth", "geth", "geth binary (v1.17.x)")
	chainDir := flag.String("chain", "rpc/testdata/chain", "directory with genesis.json and chain.rlp")
	out := flag.String("out", "rpc/testdata/geth", "directory to write the .io files into")
	flag.Parse()
	if err := run(*gethBin, *chainDir, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gethdiff:", err)
		os.Exit(1)
	}
}

type suite struct {
	name string
	reqs []string
}

func run(gethBin, chainDir, out string) error {
	blocks, err := readChain(filepath.Join(chainDir, "chain.rlp"))
	if err != nil {
		return err
	}
	datadir, err := os.MkdirTemp("", "gethdiff")
	if err != nil {
		return err
	}
	defer os.RemoveAll(datadir)
	base := []string{"--datadir", datadir, "--state.scheme", "hash"}
	common := append(base, "--gcmode", "archive")
	for _, args := range [][]string{
		append([]string{"init"}, append(base, filepath.Join(chainDir, "genesis.json"))...),
		append([]string{"import"}, append(common, filepath.Join(chainDir, "chain.rlp"))...),
	} {
		cmd := exec.Command(gethBin, args...)
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("geth %s: %v\n%s", args[0], err, b)
		}
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	cmd := exec.Command(gethBin, append(common, "--nodiscover", "--maxpeers", "0", "--port", "0", "--authrpc.port", "0", "--ipcdisable",
		"--http", "--http.addr", "127.0.0.1", "--http.port", fmt.Sprint(port), "--http.api", "eth,net,web3,debug,txpool")...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := post(url, `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("geth did not answer:\n%s", logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, s := range suites(blocks) {
		var buf bytes.Buffer
		for i, r := range s.reqs {
			req := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,%s}`, i+1, r)
			resp, err := post(url, req)
			if err != nil {
				return fmt.Errorf("%s: %w", req, err)
			}
			fmt.Fprintf(&buf, ">> %s\n<< %s\n", req, resp)
		}
		if err := os.WriteFile(filepath.Join(out, s.name+".io"), buf.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Printf("%s: %d requests\n", s.name, len(s.reqs))
	}
	return nil
}

func readChain(path string) ([]*types.Block, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var blocks []*types.Block
	s := rlp.NewStream(bytes.NewReader(data), 0)
	for {
		var b types.Block
		if err := s.Decode(&b); err == io.EOF {
			return blocks, nil
		} else if err != nil {
			return nil, err
		}
		blocks = append(blocks, &b)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func post(url, body string) (string, error) {
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return strings.TrimSpace(string(b)), nil
	}
	return buf.String(), nil
}

func call(method string, params ...interface{}) string {
	if params == nil {
		params = []interface{}{}
	}
	p, _ := json.Marshal(params)
	return fmt.Sprintf(`"method":%q,"params":%s`, method, p)
}

// suites lists the requests, grouped by area, for the mkchain chain.
func suites(blocks []*types.Block) []suite {
	num := func(n uint64) string { return hexutil.EncodeUint64(n) }
	head := uint64(len(blocks))
	key := func(i int) common.Address {
		k, _ := crypto.ToECDSA(crypto.Keccak256([]byte(fmt.Sprintf("meganode mkchain key %d", i))))
		return crypto.PubkeyToAddress(k.PublicKey)
	}
	logger := crypto.CreateAddress(key(0), 0)
	accounts := []common.Address{key(0), key(1), key(2), logger, common.HexToAddress("0x000F3df6D732807Ef1319fB7B8bB8522d0Beac02"), {}}

	var chain, txs, state, logs, trace, raw, errs []string
	chain = append(chain, call("eth_chainId"), call("net_version"), call("eth_blockNumber"), call("eth_syncing"),
		call("eth_config"), call("eth_blobBaseFee"), call("eth_getUncleCountByBlockNumber", num(3)),
		call("eth_feeHistory", "0x12", "latest", []float64{10, 50, 90}), call("eth_feeHistory", "0x4", num(9), []float64{}))
	for _, b := range blocks {
		n := b.NumberU64()
		chain = append(chain, call("eth_getBlockByNumber", num(n), true), call("eth_getBlockByHash", b.Hash(), false),
			call("eth_getBlockTransactionCountByNumber", num(n)), call("eth_getBlockTransactionCountByHash", b.Hash()),
			call("eth_getHeaderByNumber", num(n)), call("eth_getUncleCountByBlockHash", b.Hash()))
		txs = append(txs, call("eth_getBlockReceipts", num(n)))
		for i, tx := range b.Transactions() {
			txs = append(txs, call("eth_getTransactionByHash", tx.Hash()), call("eth_getTransactionReceipt", tx.Hash()),
				call("eth_getRawTransactionByHash", tx.Hash()))
			if i == 0 {
				txs = append(txs, call("eth_getTransactionByBlockNumberAndIndex", num(n), "0x0"), call("eth_getTransactionByBlockHashAndIndex", b.Hash(), "0x0"),
					call("eth_getRawTransactionByBlockNumberAndIndex", num(n), "0x0"))
				trace = append(trace, call("debug_traceTransaction", tx.Hash()),
					call("debug_traceTransaction", tx.Hash(), map[string]interface{}{"tracer": "callTracer", "tracerConfig": map[string]bool{"withLog": true}}),
					call("debug_traceTransaction", tx.Hash(), map[string]interface{}{"tracer": "prestateTracer", "tracerConfig": map[string]bool{"diffMode": true}}))
			}
		}
		raw = append(raw, call("debug_getRawHeader", num(n)), call("debug_getRawBlock", num(n)), call("debug_getRawReceipts", num(n)))
		if n%4 == 1 || n == head {
			trace = append(trace, call("debug_traceBlockByNumber", num(n), map[string]string{"tracer": "callTracer"}),
				call("debug_traceBlockByHash", b.Hash(), map[string]string{"tracer": "4byteTracer"}))
		}
	}
	for _, n := range []uint64{0, 1, 5, 9, 10, 13, head} {
		for _, a := range accounts {
			state = append(state, call("eth_getBalance", a, num(n)), call("eth_getTransactionCount", a, num(n)), call("eth_getCode", a, num(n)))
		}
		state = append(state, call("eth_getStorageAt", logger, "0x0", num(n)),
			call("eth_getProof", logger, []string{"0x0", "0x0000000000000000000000000000000000000000000000000000000000000001"}, num(n)),
			call("eth_getProof", key(2), []string{}, num(n)),
			call("eth_call", map[string]interface{}{"to": logger, "data": "0x01"}, num(n)),
			call("eth_call", map[string]interface{}{"from": key(1), "to": logger, "data": "0xff"}, num(n)),
			call("eth_estimateGas", map[string]interface{}{"from": key(1), "to": logger, "data": "0x0102"}, num(n)),
			call("eth_createAccessList", map[string]interface{}{"from": key(1), "to": logger, "data": "0x0102"}, num(n)))
	}
	state = append(state, call("eth_getStorageValues", map[common.Address][]string{logger: {"0x0000000000000000000000000000000000000000000000000000000000000000"}}, num(head)),
		call("eth_call", map[string]interface{}{"to": logger, "data": "0x01"}, "latest", map[common.Address]map[string]string{logger: {"balance": "0x1"}}),
		call("debug_traceCall", map[string]interface{}{"from": key(1), "to": logger, "data": "0x0102"}, num(head), map[string]string{"tracer": "callTracer"}))
	topic := crypto.Keccak256Hash([]byte("set"))
	logs = append(logs, call("eth_getLogs", map[string]interface{}{"fromBlock": "0x0", "toBlock": "latest"}),
		call("eth_getLogs", map[string]interface{}{"fromBlock": num(3), "toBlock": num(12), "address": logger}),
		call("eth_getLogs", map[string]interface{}{"fromBlock": "earliest", "topics": []interface{}{topic}}),
		call("eth_getLogs", map[string]interface{}{"blockHash": blocks[14].Hash()}),
		call("eth_getLogs", map[string]interface{}{"fromBlock": num(5), "toBlock": num(2)}),
		call("eth_getLogs", map[string]interface{}{"fromBlock": "0x0", "address": common.Address{1}}))
	errs = append(errs, call("eth_getBlockByNumber", num(head+5), false), call("eth_getBalance", key(0), num(head+5)),
		call("eth_getTransactionByHash", common.Hash{1}), call("eth_getTransactionReceipt", common.Hash{1}),
		call("eth_getBlockByHash", common.Hash{1}, false), call("eth_getProof", logger, []string{"0xzz"}, "latest"),
		call("eth_nope"), call("eth_getStorageAt", logger, "0x"+strings.Repeat("00", 33), "latest"),
		call("debug_traceTransaction", common.Hash{1}), call("eth_getBlockReceipts", num(head+5)),
		call("eth_getUncleCountByBlockNumber", num(head+5)), call("eth_getTransactionByBlockNumberAndIndex", num(1), "0x9"))
	return []suite{{"chain", chain}, {"txs", txs}, {"state", state}, {"logs", logs}, {"trace", trace}, {"raw", raw}, {"errors", errs},
		{"simulate", simulateSuite(head, key, logger)}}
}

// simulateSuite is eth_simulateV1 over the chain's forks: transfers with
// traced transfer logs, logs and reverts, gaps, overrides of every kind,
// validation failures and malformed input.
func simulateSuite(head uint64, key func(int) common.Address, logger common.Address) []string {
	num := func(n uint64) string { return hexutil.EncodeUint64(n) }
	type m = map[string]interface{}
	sim := func(opts m, block string) string { return call("eth_simulateV1", opts, block) }
	probe := common.HexToAddress("0x000000000000000000000000000000000000c0de")
	blobHash := "0x01" + strings.Repeat("ab", 31)
	// BLOCKHASH(NUMBER-1), then BLOBBASEFEE, then TIMESTAMP, COINBASE: 4 words.
	probeCode := "0x600143034060005260" + "4a" + "60205260" + "42" + "60405260" + "41" + "606052" + "60806000f3"
	transfer := m{"from": key(0), "to": key(2), "value": "0x3e8"}
	var out []string
	for _, n := range []uint64{1, 5, 9, 13, head} {
		out = append(out, sim(m{"blockStateCalls": []m{{"calls": []m{transfer, {"from": key(1), "to": logger, "data": "0x01"}, {"from": key(1), "to": logger, "data": "0xff"}}}}, "traceTransfers": true}, num(n)))
	}
	out = append(out,
		// Three blocks with a gap, BLOCKHASH of simulated parents, full txs.
		sim(m{"blockStateCalls": []m{
			{"stateOverrides": m{probe.Hex(): m{"code": probeCode}}, "calls": []m{{"to": probe}}},
			{"blockOverrides": m{"number": num(head + 4), "time": "0x7fffffff", "feeRecipient": key(2), "blobBaseFee": "0x7"}, "calls": []m{{"to": probe}, transfer}},
			{"calls": []m{{"to": probe, "gasPrice": "0x1"}, {"from": key(0), "to": probe, "accessList": []m{{"address": logger, "storageKeys": []string{}}}}}},
		}, "returnFullTransactions": true}, "latest"),
		// Validation: fees and nonces are checked, the base fee follows the parent.
		sim(m{"blockStateCalls": []m{{"calls": []m{{"from": key(0), "to": key(2), "value": "0x1", "maxFeePerGas": "0x3b9aca00", "maxPriorityFeePerGas": "0x1"}}}}, "validation": true}, "latest"),
		sim(m{"blockStateCalls": []m{{"calls": []m{{"from": key(0), "to": key(2), "nonce": "0x0", "maxFeePerGas": "0x3b9aca00"}}}}, "validation": true}, "latest"),
		sim(m{"blockStateCalls": []m{{"calls": []m{{"from": key(0), "to": key(2), "nonce": "0x7f"}}}}, "validation": true}, "latest"),
		sim(m{"blockStateCalls": []m{{"calls": []m{{"from": common.Address{9}, "to": key(2), "value": "0x1"}}}}, "validation": true}, "latest"),
		sim(m{"blockStateCalls": []m{{"calls": []m{{"from": key(0), "to": key(2), "maxFeePerGas": "0x1"}}}}, "validation": true}, "latest"),
		// State overrides: balance, nonce, storage, a moved precompile.
		sim(m{"blockStateCalls": []m{{"stateOverrides": m{
			common.Address{9}.Hex(): m{"balance": "0xde0b6b3a7640000", "nonce": "0x5"},
			logger.Hex():            m{"stateDiff": m{"0x0000000000000000000000000000000000000000000000000000000000000000": "0x00000000000000000000000000000000000000000000000000000000000000ff"}},
			"0x0000000000000000000000000000000000000002": m{"movePrecompileToAddress": "0x0000000000000000000000000000000000123456", "code": "0x60ff60005260206000f3"},
		}, "calls": []m{
			{"from": common.Address{9}, "to": key(2), "value": "0x1"},
			{"to": "0x0000000000000000000000000000000000000002", "data": "0x01"},
			{"to": "0x0000000000000000000000000000000000123456", "data": "0x01"},
		}}}}, "latest"),
		// A contract creation, withdrawals and a beacon root override.
		sim(m{"blockStateCalls": []m{{"blockOverrides": m{"withdrawals": []m{{"index": "0x0", "validatorIndex": "0x1", "address": key(2), "amount": "0x10"}}, "beaconRoot": common.Hash{1}},
			"calls": []m{{"from": key(0), "data": "0x600a600c600039600a6000f3602a60005260206000f3"}}}}}, "latest"),
		// Errors: nothing to do, numbers or times going back, unknown keys,
		// difficulty after the merge, more gas than the block has.
		sim(m{"blockStateCalls": []m{}}, "latest"),
		sim(m{"blockStateCalls": []m{{"blockOverrides": m{"number": num(head)}}}}, "latest"),
		sim(m{"blockStateCalls": []m{{"blockOverrides": m{"time": "0x1"}}}}, "latest"),
		sim(m{"blockStateCalls": []m{{"blockOverrides": m{"numbr": "0x1"}}}}, "latest"),
		sim(m{"blockStateCalls": []m{{"stateOverrides": m{logger.Hex(): m{"balanse": "0x1"}}}}}, "latest"),
		sim(m{"blockStateCalls": []m{{"blockOverrides": m{"difficulty": "0x1"}}}}, "latest"),
		sim(m{"blockStateCalls": []m{{"blockOverrides": m{"difficulty": "0x1"}}}}, num(2)),
		sim(m{"blockStateCalls": []m{{"blockOverrides": m{"gasLimit": "0x5208"}, "calls": []m{transfer, transfer}}}}, "latest"),
		sim(m{"blockStateCalls": []m{{"blockOverrides": m{"number": num(head + 300)}}}}, "latest"),
		sim(m{"blockStateCalls": []m{{"stateOverrides": m{logger.Hex(): m{"state": m{}, "stateDiff": m{}}}}}}, "latest"),
		sim(m{"blockStateCalls": []m{{"stateOverrides": m{logger.Hex(): m{"movePrecompileToAddress": key(2)}}}}}, "latest"),
		sim(m{"blockStateCalls": []m{{"calls": []m{{"from": key(0), "to": key(2), "chainId": "0x1"}}}}}, "latest"),
		sim(m{"blockStateCalls": []m{{"calls": []m{{"from": key(0), "to": key(2), "gasPrice": "0x1", "maxFeePerGas": "0x1"}}}}}, "latest"),
		sim(m{"blockStateCalls": []m{{"calls": []m{{"from": key(0), "authorizationList": []m{}}}}}}, "latest"),
		sim(m{"blockStateCalls": []m{{"calls": []m{{"from": key(0), "to": key(2)}}}}}, num(head+5)),
		sim(m{"blockStateCalls": []m{{"calls": []m{{"from": key(0), "to": key(2), "gasPrice": "0x2", "accessList": []m{}}}}}}, "latest"),
		// Blob transactions, with and without validation.
		sim(m{"blockStateCalls": []m{{"calls": []m{{"from": key(0), "to": key(2), "blobVersionedHashes": []string{blobHash}, "maxFeePerBlobGas": "0x10"}}}}}, "latest"),
		sim(m{"blockStateCalls": []m{{"calls": []m{{"from": key(0), "to": key(2), "blobVersionedHashes": []string{blobHash}, "maxFeePerBlobGas": "0x10", "maxFeePerGas": "0x3b9aca00"}}}}, "validation": true}, "latest"),
		sim(m{"blockStateCalls": []m{{"calls": []m{{"from": key(0), "to": key(2), "blobVersionedHashes": []string{}, "maxFeePerBlobGas": "0x10"}}}}}, "latest"),
		// A sender whose nonce is at its maximum.
		sim(m{"blockStateCalls": []m{{"stateOverrides": m{common.Address{7}.Hex(): m{"balance": "0xde0b6b3a7640000", "nonce": "0xffffffffffffffff"}},
			"calls": []m{{"from": common.Address{7}, "to": key(2), "value": "0x1"}}}}}, "latest"),
		sim(m{"blockStateCalls": []m{{"stateOverrides": m{common.Address{7}.Hex(): m{"balance": "0xde0b6b3a7640000", "nonce": "0xffffffffffffffff"}},
			"calls": []m{{"from": common.Address{7}, "to": key(2), "value": "0x1", "maxFeePerGas": "0x3b9aca00"}}}}, "validation": true}, "latest"),
		// Overrides, several blocks and validation together.
		sim(m{"blockStateCalls": []m{
			{"stateOverrides": m{common.Address{8}.Hex(): m{"balance": "0xde0b6b3a7640000"}}, "blockOverrides": m{"baseFeePerGas": "0x7"},
				"calls": []m{{"from": common.Address{8}, "to": key(2), "value": "0x1", "nonce": "0x0", "maxFeePerGas": "0x3b9aca00", "maxPriorityFeePerGas": "0x1"}}},
			{"blockOverrides": m{"time": "0x7fffffff"}, "stateOverrides": m{common.Address{8}.Hex(): m{"nonce": "0x5"}},
				"calls": []m{{"from": common.Address{8}, "to": key(2), "value": "0x1", "nonce": "0x5", "maxFeePerGas": "0x3b9aca00"}, {"from": common.Address{8}, "to": key(2), "nonce": "0x5", "maxFeePerGas": "0x3b9aca00"}}},
		}, "validation": true, "traceTransfers": true}, "latest"),
	)
	return out
}
