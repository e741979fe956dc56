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
