package chain

import (
	"bytes"
	"context"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/params"
)

// blockFields returns NUMBER, COINBASE, BASEFEE, TIMESTAMP, BLOBBASEFEE,
// BLOCKHASH(0) and GASLIMIT as seven words.
var blockFields = common.FromHex("436000524160205248604052426060524a60805260004060a0524560c05260e06000f3")

func TestCallBlockContexts(t *testing.T) {
	c := newTestChain(t)
	genesis := c.headers[0]
	c.headers[1] = NextHeader(c.config, genesis, genesis.Time+1, genesis.GasLimit, common.HexToAddress("0xc0"))
	probe := common.HexToAddress("0xb10c")
	from := c.accts[0].Address
	run := func(contexts *BlockContexts, gasPrice *big.Int) []byte {
		t.Helper()
		st, err := StateAt(c.db, genesis.Root)
		if err != nil {
			t.Fatal(err)
		}
		st.SetCode(probe, blockFields, 0)
		env := CallEnv{Config: c.config, Chain: c, State: st, Header: c.headers[1], GasCap: 1_000_000, Contexts: contexts}
		res, err := Call(context.Background(), env, CallMsg{From: from, To: &probe, GasPrice: gasPrice})
		if err != nil || res.Err != nil {
			t.Fatalf("call: %v %v", err, res.Err)
		}
		return res.Return()
	}
	price := big.NewInt(params.GWei)
	priced, free := run(nil, price), run(nil, nil)
	if bytes.Equal(priced, free) {
		t.Fatal("a priced and a free call saw the same base fee: the probe does not tell them apart")
	}
	var cache BlockContexts
	// Miss, hit, then a priced call after a free one changed its copy's
	// base fee: each answers as without the cache.
	for i, tc := range []struct {
		price *big.Int
		want  []byte
	}{{price, priced}, {price, priced}, {nil, free}, {price, priced}} {
		if got := run(&cache, tc.price); !bytes.Equal(got, tc.want) {
			t.Errorf("call %d: got %x, want %x", i, got, tc.want)
		}
	}
	if h := new(big.Int).SetBytes(priced[5*32 : 6*32]); h.Cmp(new(big.Int).SetBytes(genesis.Hash().Bytes())) != 0 {
		t.Errorf("BLOCKHASH(0) = %x, want the genesis hash %s", priced[5*32:6*32], genesis.Hash())
	}
}

func TestCachedReader(t *testing.T) {
	c := newTestChain(t)
	if _, ok := c.db.(interface {
		ReadersWithCacheStats(common.Hash) (state.Reader, state.Reader, error)
	}); !ok {
		t.Fatalf("%T has no reader with a cache: CachedReader would read the trie every time", c.db)
	}
	root := c.headers[0].Root
	plain, err := c.db.Reader(root)
	if err != nil {
		t.Fatal(err)
	}
	cached, err := CachedReader(c.db, root)
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []common.Address{c.accts[0].Address, Multicall3Address, common.HexToAddress("0xdead")} {
		for range 2 { // a miss, then a hit
			want, err1 := plain.Account(addr)
			got, err2 := cached.Account(addr)
			if err1 != nil || err2 != nil || (want == nil) != (got == nil) || want != nil && (want.Nonce != got.Nonce || want.Balance.Cmp(got.Balance) != 0 || want.Root != got.Root || !bytes.Equal(want.CodeHash, got.CodeHash)) {
				t.Fatalf("account %s: got %+v (%v), want %+v (%v)", addr, got, err2, want, err1)
			}
		}
	}
}

// TestEstimateGasExact checks ExactEstimate against anvil 1.7.1's answers for
// the same messages on its dev chain: the lowest gas limit that succeeds.
func TestEstimateGasExact(t *testing.T) {
	c := newTestChain(t)
	genesis := c.headers[0]
	c.headers[1] = NextHeader(c.config, genesis, genesis.Time+1, genesis.GasLimit, common.Address{})
	from := c.accts[0].Address
	counter := common.HexToAddress("0xc0c0")
	// Runtime: slot 0 += 1. The init code returns it.
	runtime := common.FromHex("60005460010160005500")
	initCode := append(common.FromHex("600a600c600039600a6000f3"), runtime...)
	to := common.HexToAddress("0xbeef")
	for _, tc := range []struct {
		name string
		msg  CallMsg
		want uint64 // anvil 1.7.1's eth_estimateGas
	}{
		{"transfer", CallMsg{From: from, To: &to, Value: big.NewInt(1)}, params.TxGas},
		{"deploy", CallMsg{From: from, Data: initCode}, 55318},
		{"call", CallMsg{From: from, To: &counter}, 43112},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := func(exact bool) CallEnv {
				st, err := StateAt(c.db, genesis.Root)
				if err != nil {
					t.Fatal(err)
				}
				st.SetCode(counter, runtime, 0)
				return CallEnv{Config: c.config, Chain: c, State: st, Header: c.headers[1], GasCap: 1_000_000, ExactEstimate: exact}
			}
			got, _, err := EstimateGas(context.Background(), env(true), tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("exact estimate: got %d, want %d", got, tc.want)
			}
			for _, gas := range []uint64{got, got - 1} {
				m := tc.msg
				m.Gas = gas
				res, err := Call(context.Background(), env(true), m)
				if ok := err == nil && res.Err == nil; ok != (gas == got) {
					t.Errorf("call with gas %d (estimate %d): err %v, result %v", gas, got, err, res)
				}
			}
			tolerant, _, err := EstimateGas(context.Background(), env(false), tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			if tolerant < got || float64(tolerant-got) > estimateErrorRatio*float64(tolerant) {
				t.Errorf("estimate within geth's tolerance: got %d, want %d to %.1f %% above", tolerant, got, 100*estimateErrorRatio)
			}
		})
	}
}
