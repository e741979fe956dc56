package rpc_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/rpc"
	"github.com/meganode/meganode/sequencer"
	"github.com/meganode/meganode/storage"
)

var update = flag.Bool("update", false, "rewrite rpc/testdata/*.io responses")

type fixedClock struct{ now time.Time }

func (c *fixedClock) Now() time.Time { return c.now }

// revertCode is runtime code that reverts with Error("nope"): it stores the
// ABI encoding at memory 0 and reverts with those 0x64 bytes.
var revertCode = func() []byte {
	word := func(b []byte) []byte { return append([]byte{0x7f}, common.RightPadBytes(b, 32)...) } // PUSH32
	var c []byte
	c = append(c, word(common.FromHex("08c379a0"))...)
	c = append(c, 0x60, 0x00, 0x52)             // MSTORE(0, selector)
	c = append(c, 0x60, 0x20, 0x60, 0x04, 0x52) // MSTORE(4, 0x20)
	c = append(c, 0x60, 0x04, 0x60, 0x24, 0x52) // MSTORE(0x24, 4)
	c = append(c, word([]byte("nope"))...)
	c = append(c, 0x60, 0x44, 0x52)             // MSTORE(0x44, "nope")
	c = append(c, 0x60, 0x64, 0x60, 0x00, 0xfd) // REVERT(0, 0x64)
	return c
}()

// loggerCode is runtime code that stores 42 in slot 0 and emits LOG1 with
// topic keccak("set") over the first calldata word.
var loggerCode = func() []byte {
	c := common.FromHex("602a600055")                 // SSTORE(0, 42)
	c = append(c, 0x60, 0x00, 0x35, 0x60, 0x00, 0x52) // MSTORE(0, CALLDATALOAD(0))
	c = append(c, 0x7f)                               // PUSH32 topic
	c = append(c, crypto.Keccak256([]byte("set"))...)
	return append(c, 0x60, 0x20, 0x60, 0x00, 0xa1, 0x00) // LOG1(0, 32, topic); STOP
}()

// newGoldenNode builds a deterministic chain: block 1 holds a transfer and a
// contract deployment, and one more transfer is preconfirmed in block 2.
func newGoldenNode(t testing.TB) string {
	t.Helper()
	return "http://" + newGoldenServer(t).Addr()
}

// newGoldenServer is newGoldenNode's server.
func newGoldenServer(t testing.TB) *rpc.Server {
	t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(t))
	g, accts, err := chain.Genesis(chain.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	store, err := storage.Open(storage.Config{}, g, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clock := &fixedClock{now: time.Unix(1_800_000_000, 0)}
	cfg := sequencer.DefaultConfig()
	cfg.Eager = false
	seq, err := sequencer.New(cfg, store, clock, log)
	if err != nil {
		t.Fatal(err)
	}
	signer := types.LatestSigner(g.Config)
	to := common.HexToAddress("0x000000000000000000000000000000000000beef")
	send := func(tx types.TxData) {
		if err := seq.SendTransaction(types.MustSignNewTx(accts[0].Key, signer, tx)); err != nil {
			t.Fatal(err)
		}
	}
	tick := func() {
		clock.now = clock.now.Add(10 * time.Millisecond)
		seq.Step(true)
	}
	send(&types.DynamicFeeTx{ChainID: g.Config.ChainID, Nonce: 0, To: &to, Gas: params.TxGas, GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(10 * params.GWei), Value: big.NewInt(params.Ether)})
	initCode := append(common.FromHex("60"+common.Bytes2Hex([]byte{byte(len(revertCode))})+"80600b6000396000f3"), revertCode...)
	send(&types.DynamicFeeTx{ChainID: g.Config.ChainID, Nonce: 1, Gas: 200_000, GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(10 * params.GWei), Data: initCode})
	// A contract that stores 42 in slot 0 and logs topic "set" (nonce 2),
	// then a call to it (nonce 3): something for proofs, traces and filters.
	initLogger := append(common.FromHex("60"+common.Bytes2Hex([]byte{byte(len(loggerCode))})+"80600b6000396000f3"), loggerCode...)
	send(&types.DynamicFeeTx{ChainID: g.Config.ChainID, Nonce: 2, Gas: 200_000, GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(10 * params.GWei), Data: initLogger})
	logger := crypto.CreateAddress(accts[0].Address, 2)
	send(&types.DynamicFeeTx{ChainID: g.Config.ChainID, Nonce: 3, To: &logger, Gas: 100_000, GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(10 * params.GWei), Data: []byte{1, 2, 3, 4}})
	for i := 0; i < 100; i++ {
		tick()
	}
	if store.CurrentHeader().Number.Uint64() != 1 {
		t.Fatalf("head %d, want 1", store.CurrentHeader().Number)
	}
	send(&types.LegacyTx{Nonce: 4, To: &to, Gas: params.TxGas, GasPrice: big.NewInt(10 * params.GWei), Value: big.NewInt(7)})
	tick()
	// A tx behind a nonce gap waits in the pool's queue (txpool_*).
	gapped := types.MustSignNewTx(accts[1].Key, signer, &types.LegacyTx{Nonce: 3, To: &to, Gas: params.TxGas, GasPrice: big.NewInt(10 * params.GWei), Value: big.NewInt(1)})
	if err := seq.SendTransaction(gapped); err != nil {
		t.Fatal(err)
	}

	srvCfg := rpc.DefaultConfig()
	srvCfg.Port = 0
	srv, err := rpc.NewServer(srvCfg, rpc.Backend{Chain: store, Latest: seq, Txs: seq, Feeds: seq, Pool: seq.Pool(), Dev: accts[:2]}, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(context.Background()) })
	return srv
}

func TestGolden(t *testing.T) {
	url := newGoldenNode(t)
	files, _ := filepath.Glob("testdata/*.io")
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			var out bytes.Buffer
			reqs, want := readExchanges(t, file)
			for i, req := range reqs {
				got := post(t, url, req)
				if !*update && got != want[i] {
					t.Errorf("request %s\n got: %s\nwant: %s", req, got, want[i])
				}
				out.WriteString(">> " + req + "\n<< " + got + "\n")
			}
			if *update {
				if err := os.WriteFile(file, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// readExchanges reads an execution-apis style .io file: ">> request" lines,
// each followed by a "<< response" line.
func readExchanges(t testing.TB, file string) (reqs, resps []string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, ">> "):
			reqs = append(reqs, line[3:])
			resps = append(resps, "")
		case strings.HasPrefix(line, "<< ") && len(reqs) > 0:
			resps[len(resps)-1] = line[3:]
		}
	}
	return reqs, resps
}

func post(t *testing.T, url, body string) string {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return strings.TrimSpace(string(b))
	}
	return buf.String()
}
