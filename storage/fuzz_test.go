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
// middle of an append) yields a prefix of the mini-blocks of the whole
// file, and records re-encode to the same mini-blocks. The seeds mix both
// record formats: positioned entries and the older tx lists.
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
		var v any = rec
		if i > 0 {
			v = &JournalEntry{BlockTime: 1_800_000_000, Index: i, Number: 40 + i, TimestampMicros: 1_800_000_000_000_000 + i, Txs: rec}
		}
		enc, err := rlp.EncodeToBytes(v)
		if err != nil {
			f.Fatal(err)
		}
		file = append(file, enc...)
		f.Add(append([]byte(nil), file...), uint16(len(file)-7))
	}
	empty, _ := rlp.EncodeToBytes(&JournalEntry{Index: 4, Number: 44})
	f.Add(append(file, empty...), uint16(len(file)+2))
	f.Add([]byte{0xc0, 0xc0}, uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		entries, whole := decodeJournal(data)
		if whole < len(data) {
			return // not a whole journal
		}
		var enc []byte
		for _, e := range entries {
			var v any = &e
			if e.Legacy {
				v = e.Txs
			}
			rec, err := rlp.EncodeToBytes(v)
			if err != nil {
				t.Fatal(err)
			}
			enc = append(enc, rec...)
		}
		back, whole := decodeJournal(enc)
		if whole != len(enc) || len(back) != len(entries) {
			t.Fatalf("re-encoded journal: %d records in %d of %d bytes, want %d", len(back), whole, len(enc), len(entries))
		}
		for i := range back {
			if !sameEntry(back[i], entries[i]) {
				t.Fatalf("record %d changes through the journal", i)
			}
		}
		part, _ := decodeJournal(data[:min(int(cut), len(data))])
		if len(part) > len(entries) {
			t.Fatalf("a cut journal holds %d records, the whole one %d", len(part), len(entries))
		}
		for i := range part {
			if !sameEntry(part[i], entries[i]) {
				t.Fatalf("a cut journal's record %d is not the whole journal's", i)
			}
		}
	})
}

func sameEntry(a, b JournalEntry) bool {
	if a.Legacy != b.Legacy || a.BlockTime != b.BlockTime || a.Index != b.Index || a.Number != b.Number ||
		a.TimestampMicros != b.TimestampMicros || len(a.Txs) != len(b.Txs) || len(a.Deposits) != len(b.Deposits) || a.L1Origin != b.L1Origin {
		return false
	}
	for i := range a.Txs {
		if a.Txs[i].Hash() != b.Txs[i].Hash() {
			return false
		}
	}
	for i := range a.Deposits {
		if a.Deposits[i].SourceHash != b.Deposits[i].SourceHash {
			return false
		}
	}
	return true
}
