package chain

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// An anvil 1.7.1 state file: numbers where anvil writes numbers, short hex
// storage words.
const anvilDump = `{"block":{"number":"0x1","beneficiary":"0x0000000000000000000000000000000000000000","timestamp":"0x6b116879","gas_limit":30000000,"basefee":1000000000,"difficulty":"0x0","prevrandao":"0x23f01d223e85d0fff9d2b0f8dd36ccc4d1da4de7c2a44e7b6e490ff6f3176a44","blob_excess_gas_and_price":{"excess_blob_gas":0,"blob_gasprice":1}},
"accounts":{"0x2000000000000000000000000000000000000002":{"nonce":5,"balance":"0x777","code":"0x6000","storage":{"0x5":"0x9"}}},
"best_block_number":1,"blocks":[],"transactions":[],"historical_states":null}`

func TestDecodeAnvilState(t *testing.T) {
	st, err := DecodeDevState([]byte(anvilDump))
	if err != nil {
		t.Fatal(err)
	}
	if st.Block.GasLimit != 30_000_000 || st.Block.Number != 1 || st.BestBlockNumber != 1 || st.Chain != nil {
		t.Fatalf("block %+v best %d", st.Block, st.BestBlockNumber)
	}
	a := st.Accounts[common.HexToAddress("0x2000000000000000000000000000000000000002")]
	if a == nil || a.Nonce != 5 || a.Balance.ToInt().Uint64() != 0x777 || len(a.Code) != 2 || a.Storage[common.BigToHash(big.NewInt(5))] != common.BigToHash(big.NewInt(9)) {
		t.Fatalf("account %+v", a)
	}
	edits := LoadEdits(st.Accounts, func(common.Address) uint64 { return 9 })
	if len(edits) != 4 || edits[2].Kind != EditNonce {
		t.Fatalf("edits %+v", edits)
	}
	if n := edits[2]; n.Value[0] != 9 { // the higher nonce stays
		t.Fatalf("nonce edit %x, want 9", n.Value)
	}
	if _, err := DecodeDevState([]byte(`{"accounts":{"0x01":{"storage":{"0xzz":"0x1"}}}}`)); err == nil {
		t.Fatal("a bad storage key was accepted")
	}
}
