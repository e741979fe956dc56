package storage

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
)

// FuzzJournal decodes arbitrary bytes as a mini-block journal file. The
// journal is what a restart re-admits, so besides "an error, never a panic"
// it checks the crash-safety promise: a file cut anywhere (a crash in the
// middle of an append) yields a prefix of the transactions of the whole
// file, and records re-encode to the same transactions.
func FuzzJournal(f *testing.F) {
	key, _ := crypto.ToECDSA(crypto.Keccak256([]byte("meganode journal fuzz")))
	signer := types.LatestSignerForChainID(big.NewInt(4747))
	to := common.HexToAddress("0xbeef")
	var file []byte
	for i := uint64(0); i < 3; i++ {
		rec := types.Transactions{
			types.MustSignNewTx(key, signer, &types.DynamicFeeTx{ChainID: big.NewInt(4747), Nonce: 2 * i, To: &to, Gas: params.TxGas, GasFeeCap: big.NewInt(params.GWei), Value: big.NewInt(1)}),
			types.MustSignNewTx(key, signer, &types.LegacyTx{Nonce: 2*i + 1, To: &to, Gas: params.TxGas, GasPrice: big.NewInt(params.GWei)}),
		}
		enc, err := rlp.EncodeToBytes(rec)
		if err != nil {
			f.Fatal(err)
		}
		file = append(file, enc...)
		f.Add(append([]byte(nil), file...), uint16(len(file)-7))
	}
	f.Add([]byte{0xc0, 0xc0}, uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		txs, whole := decodeJournal(data)
		if whole < len(data) {
			return // not a whole journal
		}
		enc, err := rlp.EncodeToBytes(txs)
		if err != nil {
			t.Fatal(err)
		}
		back, whole := decodeJournal(enc)
		if whole != len(enc) || len(back) != len(txs) {
			t.Fatalf("re-encoded journal: %d txs in %d of %d bytes, want %d", len(back), whole, len(enc), len(txs))
		}
		for i := range back {
			if back[i].Hash() != txs[i].Hash() {
				t.Fatalf("tx %d changes through the journal", i)
			}
		}
		part, _ := decodeJournal(data[:min(int(cut), len(data))])
		if len(part) > len(txs) {
			t.Fatalf("a cut journal holds %d txs, the whole one %d", len(part), len(txs))
		}
		for i := range part {
			if part[i].Hash() != txs[i].Hash() {
				t.Fatalf("a cut journal's tx %d is not the whole journal's", i)
			}
		}
	})
}
