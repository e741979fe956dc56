package chain

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
)

// opMainnetDeposit is the deposit of viem's op-stack vector: an OP Mainnet
// TransactionDeposited log (L1 block 0x634c…, log 109) and the L2 hash OP
// gave it. l1/TestDepositTxHash derives the same deposit from the log.
func opMainnetDeposit() (*Deposit, common.Hash) {
	var idx [32]byte
	binary.BigEndian.PutUint64(idx[24:], 109)
	id := crypto.Keccak256(common.HexToHash("0x634c52556471c589f42db9131467e0c9484f5c73049e32d1a74e2a4ce0f91d57").Bytes(), idx[:])
	from := common.HexToAddress("0x1a1E021A302C237453D3D45c7B82B19cEEB7E2e6")
	return &Deposit{
		SourceHash: crypto.Keccak256Hash(make([]byte, 32), id),
		From:       from, To: &from, Mint: new(big.Int), Value: big.NewInt(0x45), Gas: 21000,
	}, common.HexToHash("0x0a60b983815ed475c5919609025204a479654d93afc610feca7d99ae0befc329")
}

func TestDepositEncoding(t *testing.T) {
	op, opHash := opMainnetDeposit()
	if got := op.Hash(); got != opHash {
		t.Fatalf("OP Mainnet deposit hash: got %s, want %s", got, opHash)
	}
	to := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	for _, tc := range []struct {
		name string
		d    *Deposit
	}{
		{"op mainnet", op},
		{"call with data", &Deposit{SourceHash: common.HexToHash("0x01"), From: to, To: &to, Mint: big.NewInt(7), Value: big.NewInt(3), Gas: 100_000, Data: []byte{1, 2, 3}}},
		{"creation", &Deposit{SourceHash: common.HexToHash("0x02"), From: to, Mint: new(big.Int), Value: new(big.Int), Gas: 1 << 40, Data: []byte{0x60, 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := tc.d.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if enc[0] != DepositTxType {
				t.Fatalf("type byte: got %#x, want 0x7e", enc[0])
			}
			// The payload is the list OP specifies, a creation's to empty.
			var fields []rlp.RawValue
			if err := rlp.DecodeBytes(enc[1:], &fields); err != nil || len(fields) != 8 {
				t.Fatalf("payload: %d fields (%v), want 8", len(fields), err)
			}
			if tc.d.To == nil && !bytes.Equal(fields[2], []byte{0x80}) {
				t.Errorf("creation's to: got %x, want 80", fields[2])
			}
			if got := crypto.Keccak256Hash(enc); got != tc.d.Hash() {
				t.Errorf("hash: got %s, want keccak256 of the encoding %s", tc.d.Hash(), got)
			}
			var back Deposit
			if err := back.UnmarshalBinary(enc); err != nil {
				t.Fatal(err)
			}
			if back.Hash() != tc.d.Hash() || (back.To == nil) != (tc.d.To == nil) {
				t.Errorf("round trip: got %+v, want %+v", back, tc.d)
			}
			// Inside a message a deposit is the byte string of its encoding.
			msg, err := rlp.EncodeToBytes([]*Deposit{tc.d})
			if err != nil {
				t.Fatal(err)
			}
			var list []*Deposit
			if err := rlp.DecodeBytes(msg, &list); err != nil || len(list) != 1 || list[0].Hash() != tc.d.Hash() {
				t.Errorf("in a list: got %v (%v)", list, err)
			}
		})
	}
	var bad Deposit
	if err := bad.UnmarshalBinary([]byte{0x02, 0xc0}); err == nil {
		t.Error("a type 2 payload decoded as a deposit")
	}
	if err := (&Deposit{IsSystemTx: true}).Check(); err == nil {
		t.Error("a system deposit passed Check")
	}
	if (&Deposit{}).Hash() == (common.Hash{}) {
		t.Error("a zero deposit does not hash")
	}
}

func TestDepositReceiptEncoding(t *testing.T) {
	log := &types.Log{Address: common.HexToAddress("0xbb"), Topics: []common.Hash{{1}}, Data: []byte{2}}
	r := &DepositReceipt{Receipt: &types.Receipt{Type: DepositTxType, Status: types.ReceiptStatusSuccessful, CumulativeGasUsed: 50_000, Logs: []*types.Log{log}}, DepositNonce: 9, Version: DepositReceiptVersion}
	r.Bloom = types.CreateBloom(r.Receipt)
	enc, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// OP's Canyon receipt: 0x7E ‖ rlp([status, cumulativeGas, bloom, logs, depositNonce, version]).
	want, _ := rlp.EncodeToBytes([]any{[]byte{1}, uint64(50_000), r.Bloom, []*types.Log{log}, uint64(9), uint64(1)})
	if !bytes.Equal(enc, append([]byte{0x7e}, want...)) {
		t.Fatalf("encoding:\ngot  %x\nwant 7e%x", enc, want)
	}
	var back DepositReceipt
	if err := back.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	if back.Status != r.Status || back.CumulativeGasUsed != r.CumulativeGasUsed || back.DepositNonce != 9 || back.Version != 1 || len(back.Logs) != 1 {
		t.Errorf("round trip: got %+v", back)
	}
	r.Status = types.ReceiptStatusFailed
	enc, _ = r.MarshalBinary()
	if err := back.UnmarshalBinary(enc); err != nil || back.Status != types.ReceiptStatusFailed {
		t.Errorf("failed receipt round trip: status %d (%v)", back.Status, err)
	}
}

// TestDepositJSONGolden pins the JSON of a deposit and its receipt: op-geth's
// shape (type 0x7e, sourceHash, mint, isSystemTx, depositNonce,
// depositReceiptVersion, a zero gas price and signature).
func TestDepositJSONGolden(t *testing.T) {
	op, _ := opMainnetDeposit()
	creation := &Deposit{SourceHash: common.HexToHash("0x02"), From: op.From, Mint: big.NewInt(1e18), Value: new(big.Int), Gas: 200_000, Data: []byte{0x60, 0x00}}
	blockHash := common.HexToHash("0xb10c")
	log := &types.Log{Address: common.HexToAddress("0xbb"), Topics: []common.Hash{{1}}, Data: []byte{2}, BlockNumber: 5, TxHash: op.Hash(), BlockHash: blockHash}
	opR := &DepositReceipt{Receipt: &types.Receipt{Type: DepositTxType, Status: 1, CumulativeGasUsed: 21_000, GasUsed: 21_000, Logs: []*types.Log{log}}, DepositNonce: 7, Version: 1}
	opR.Bloom = types.CreateBloom(opR.Receipt)
	crR := &DepositReceipt{Receipt: &types.Receipt{Type: DepositTxType, Status: 0, CumulativeGasUsed: 221_000, GasUsed: 200_000, ContractAddress: crypto.CreateAddress(op.From, 8)}, DepositNonce: 8, Version: 1}
	var out strings.Builder
	for _, m := range []struct {
		name string
		v    any
	}{
		{"tx-pending", NewDepositTxJSON(op, nil, common.Hash{}, 0, 0, 0)},
		{"tx", NewDepositTxJSON(op, opR, blockHash, 5, 1_800_000_000, 0)},
		{"receipt", DepositReceiptJSON(op, opR, blockHash, 5, 0)},
		{"creation-tx", NewDepositTxJSON(creation, crR, blockHash, 5, 1_800_000_000, 1)},
		{"creation-receipt-failed", DepositReceiptJSON(creation, crR, blockHash, 5, 1)},
	} {
		data, err := json.Marshal(m.v)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "%s %s\n", m.name, data)
	}
	file := filepath.Join("testdata", "deposit.golden")
	if *update {
		if err := os.WriteFile(file, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Fatalf("JSON changed:\n got: %s\nwant: %s", out.String(), want)
	}
}

// FuzzDeposit decodes arbitrary bytes as a deposit and as a deposit receipt
// (both arrive from peers and DA inside blocks): an error, never a panic,
// and what decodes encodes back to the same bytes.
func FuzzDeposit(f *testing.F) {
	op, _ := opMainnetDeposit()
	to := common.HexToAddress("0xaa")
	for _, d := range []*Deposit{op, {From: to, Mint: big.NewInt(1), Gas: 1, Data: []byte{0x60}}, {From: to, To: &to}} {
		enc, _ := d.MarshalBinary()
		f.Add(enc)
	}
	r := &DepositReceipt{Receipt: &types.Receipt{Status: 1, CumulativeGasUsed: 7, Logs: []*types.Log{{Address: to, Topics: []common.Hash{{1}}, Data: []byte{2}}}}, DepositNonce: 3, Version: 1}
	enc, _ := r.MarshalBinary()
	f.Add(enc)
	f.Add([]byte{0x7e, 0xc0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var d Deposit
		if err := d.UnmarshalBinary(data); err == nil {
			enc, err := d.MarshalBinary()
			if err != nil || !bytes.Equal(enc, data) {
				t.Fatalf("deposit re-encodes to %x (%v), want %x", enc, err, data)
			}
			_ = d.Check()
			_ = d.Hash()
		}
		var r DepositReceipt
		if err := r.UnmarshalBinary(data); err == nil {
			enc, err := r.MarshalBinary()
			if err != nil || !bytes.Equal(enc, data) {
				t.Fatalf("receipt re-encodes to %x (%v), want %x", enc, err, data)
			}
		}
	})
}
