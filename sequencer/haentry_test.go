package sequencer

import (
	"bytes"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
)

var update = flag.Bool("update", false, "rewrite sequencer/testdata/*.golden")

// TestEntryGolden pins the raft log format: candidates of different
// versions share one log, and restarts read what an older binary wrote.
func TestEntryGolden(t *testing.T) {
	key, _ := crypto.ToECDSA(crypto.Keccak256([]byte("meganode raft entry test")))
	to := common.HexToAddress("0xbeef")
	signer := types.LatestSignerForChainID(big.NewInt(4747))
	tx := types.MustSignNewTx(key, signer, &types.DynamicFeeTx{ChainID: big.NewInt(4747), Nonce: 7, To: &to, Gas: params.TxGas,
		GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei), Value: big.NewInt(1)})
	entries := []Entry{
		{Mini: &MiniEntry{BlockNumber: 12, BlockTime: 1_800_000_012, Index: 3, Number: 1203, TimestampMicros: 1_800_000_012_345_678, Txs: types.Transactions{tx}}},
		{Mini: &MiniEntry{BlockNumber: 12, BlockTime: 1_800_000_012, Index: 4, Number: 1204, TimestampMicros: 1_800_000_012_355_678}},
		{Seal: &SealEntry{Number: 12, Hash: common.HexToHash("0x1234")}},
	}
	var out strings.Builder
	for _, e := range entries {
		data, err := EncodeEntry(e)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeEntry(data)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := EncodeEntry(back)
		if !bytes.Equal(data, again) {
			t.Fatalf("entry does not survive a round trip: %x vs %x", data, again)
		}
		fmt.Fprintf(&out, "%x\n", data)
	}
	file := filepath.Join("testdata", "entries.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Fatalf("raft entry format changed:\n got: %s\nwant: %s", out.String(), want)
	}
}

func TestDecodeEntryRefusesGarbage(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":        nil,
		"unknown kind": {9, 0xc0},
		"bad mini":     {entryMiniBlock, 0xc1},
		"bad seal":     {entrySeal, 0xc2, 0x01},
		"trailing":     append([]byte{entrySeal}, append(mustRLP(t, &SealEntry{Number: 1}), 0)...),
	} {
		if _, err := DecodeEntry(data); err == nil {
			t.Errorf("%s: decoded %x", name, data)
		}
	}
	if _, err := EncodeEntry(Entry{}); err == nil {
		t.Error("encoded an entry with neither a mini-block nor a seal")
	}
}

func mustRLP(t *testing.T, v any) []byte {
	t.Helper()
	e, err := EncodeEntry(Entry{Seal: v.(*SealEntry)})
	if err != nil {
		t.Fatal(err)
	}
	return e[1:]
}
