package chain

import (
	"bytes"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
)

var (
	// logRuntime emits LOG0 of the 32-byte word 0x2a.
	logRuntime = common.FromHex("602a60005260206000a000")
	// revertRuntime reverts with no data; loopRuntime spins until out of gas.
	revertRuntime = common.FromHex("60006000fd")
	loopRuntime   = common.FromHex("5b600056")
)

// initcode returns creation code that deploys runtime (at most 32 bytes).
func initcode(runtime []byte) []byte {
	n := byte(len(runtime))
	code := append([]byte{0x60 + n - 1}, runtime...) // PUSHn runtime
	code = append(code, 0x60, 0x00, 0x52)            // MSTORE at 0, right-aligned
	return append(code, 0x60, n, 0x60, 32-n, 0xf3)   // RETURN(32-n, n)
}

func ether(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(params.Ether)) }

func addr(s string) common.Address { return common.HexToAddress(s) }

func TestApplyDeposits(t *testing.T) {
	c := newTestChain(t)
	parent := c.CurrentHeader()
	coinbase := addr("0xc0ffee")
	header := NextHeader(c.config, parent, parent.Time+1, DefaultGasLimit, coinbase)
	b, err := NewBlockBuilder(c.config, c, c.db, parent, header)
	if err != nil {
		t.Fatal(err)
	}
	alice, bob, carol, dave, erin, frank, gina := addr("0xa11ce"), addr("0xb0b"), addr("0xca201"), addr("0xda7e"), addr("0xe219"), addr("0xf2a2c"), addr("0x6122a")
	emitter, reverter, looper := crypto.CreateAddress(alice, 1), crypto.CreateAddress(alice, 2), crypto.CreateAddress(alice, 3)
	src := func(i int) common.Hash { return common.BigToHash(big.NewInt(int64(i + 1))) }
	type want struct {
		status  uint64
		gasUsed uint64 // 0: do not check
		nonce   uint64 // DepositNonce
		logs    int
	}
	cases := []struct {
		name string
		d    Deposit
		want want
	}{
		{"eoa mints and sends value", Deposit{From: alice, To: &bob, Mint: ether(5), Value: ether(1), Gas: 100_000}, want{1, params.TxGas, 0, 0}},
		{"creation deploys the emitter", Deposit{From: alice, Mint: new(big.Int), Value: new(big.Int), Gas: 200_000, Data: initcode(logRuntime)}, want{1, 0, 1, 0}},
		{"creation deploys the reverter", Deposit{From: alice, Gas: 200_000, Data: initcode(revertRuntime)}, want{1, 0, 2, 0}},
		{"creation deploys the looper", Deposit{From: alice, Gas: 200_000, Data: initcode(loopRuntime)}, want{1, 0, 3, 0}},
		{"call emits a log", Deposit{From: bob, To: &emitter, Mint: ether(1), Gas: 100_000}, want{1, 0, 0, 1}},
		{"revert keeps the mint", Deposit{From: carol, To: &reverter, Mint: ether(2), Value: ether(1), Gas: 100_000}, want{0, 0, 0, 0}},
		{"out of gas", Deposit{From: dave, To: &looper, Mint: ether(1), Gas: 50_000}, want{0, 50_000, 0, 0}},
		{"value above balance and mint", Deposit{From: erin, To: &bob, Mint: ether(1), Value: ether(2), Gas: 60_000}, want{0, 60_000, 0, 0}},
		{"intrinsic gas above the limit", Deposit{From: frank, To: &bob, Mint: ether(3), Gas: 20_000}, want{0, 20_000, 0, 0}},
		// Below EIP-7623's floor (21000 + 40 per non-zero byte), which
		// go-ethereum applies; the portal refuses such a deposit on L1, a
		// deposit from another source still fails as op-geth fails it.
		{"below the calldata floor", Deposit{From: frank, To: &bob, Gas: 21_000 + 16*2, Data: []byte{1, 2}}, want{0, 21_032, 1, 0}},
		{"no balance needed for gas", Deposit{From: gina, To: &bob, Gas: 30_000_000}, want{1, params.TxGas, 0, 0}},
	}
	var deposits []*Deposit
	var cum uint64
	for i, tc := range cases {
		d := tc.d
		d.SourceHash = src(i)
		deposits = append(deposits, &d)
		r, err := b.ApplyDeposit(&d)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		switch {
		case r.Type != DepositTxType || r.TxHash != d.Hash() || r.TransactionIndex != uint(i):
			t.Errorf("%s: receipt type %#x hash %s index %d, want 0x7e %s %d", tc.name, r.Type, r.TxHash, r.TransactionIndex, d.Hash(), i)
		case r.Status != tc.want.status:
			t.Errorf("%s: status %d, want %d (%v)", tc.name, r.Status, tc.want.status, b.lastErr)
		case tc.want.gasUsed != 0 && r.GasUsed != tc.want.gasUsed:
			t.Errorf("%s: gas used %d, want %d", tc.name, r.GasUsed, tc.want.gasUsed)
		case r.CumulativeGasUsed != cum+r.GasUsed:
			t.Errorf("%s: cumulative gas %d, want %d", tc.name, r.CumulativeGasUsed, cum+r.GasUsed)
		case r.DepositNonce != tc.want.nonce || r.Version != DepositReceiptVersion:
			t.Errorf("%s: deposit nonce %d version %d, want %d 1", tc.name, r.DepositNonce, r.Version, tc.want.nonce)
		case len(r.Logs) != tc.want.logs:
			t.Errorf("%s: %d logs, want %d", tc.name, len(r.Logs), tc.want.logs)
		case r.EffectiveGasPrice.Sign() != 0:
			t.Errorf("%s: effective gas price %s, want 0", tc.name, r.EffectiveGasPrice)
		}
		if d.To == nil && r.ContractAddress != crypto.CreateAddress(d.From, r.DepositNonce) {
			t.Errorf("%s: contract address %s, want CreateAddress(from, %d)", tc.name, r.ContractAddress, r.DepositNonce)
		}
		cum = r.CumulativeGasUsed
	}
	st := b.state
	for _, tc := range []struct {
		name    string
		addr    common.Address
		balance *big.Int
		nonce   uint64
	}{
		{"alice: mint minus value, no gas bought", alice, ether(4), 4},
		{"bob: the value, the refused value not", bob, ether(2), 1},
		{"carol: the mint, the value not sent", carol, ether(2), 1},
		{"reverter received nothing", reverter, new(big.Int), 1},
		{"dave keeps the mint after running out of gas", dave, ether(1), 1},
		{"erin keeps the mint", erin, ether(1), 1},
		{"frank keeps the mint", frank, ether(3), 2},
		{"gina paid nothing", gina, new(big.Int), 1},
		{"no tip to the coinbase", coinbase, new(big.Int), 0},
	} {
		if got := st.GetBalance(tc.addr).ToBig(); got.Cmp(tc.balance) != 0 {
			t.Errorf("%s: balance %s, want %s", tc.name, got, tc.balance)
		}
		if got := st.GetNonce(tc.addr); got != tc.nonce {
			t.Errorf("%s: nonce %d, want %d", tc.name, got, tc.nonce)
		}
	}
	if got := st.GetCode(emitter); !bytes.Equal(got, logRuntime) {
		t.Errorf("emitter code %x, want %x", got, logRuntime)
	}
	_, receipts := b.Deposits()
	if l := receipts[4].Logs[0]; l.Address != emitter || l.TxIndex != 4 || l.Index != 0 || l.TxHash != deposits[4].Hash() || new(big.Int).SetBytes(l.Data).Int64() != 0x2a {
		t.Errorf("emitter's log: %+v", l)
	}

	// A transaction comes after the deposits and counts them in its index.
	tx := c.transfer(t, 0, 0, bob, 1)
	tr, err := b.ApplyTx(tx)
	if err != nil {
		t.Fatal(err)
	}
	if tr.TransactionIndex != uint(len(deposits)) || tr.CumulativeGasUsed != cum+params.TxGas {
		t.Errorf("tx after deposits: index %d cumulative gas %d, want %d %d", tr.TransactionIndex, tr.CumulativeGasUsed, len(deposits), cum+params.TxGas)
	}
	if _, err := b.ApplyDeposit(&Deposit{SourceHash: src(99), From: alice, To: &bob, Gas: 21_000}); !errors.Is(err, ErrBadDeposit) {
		t.Errorf("deposit after a transaction: got %v, want ErrBadDeposit", err)
	}
	sb, err := b.Seal()
	if err != nil {
		t.Fatal(err)
	}
	h := sb.Block.Header()
	switch {
	case h.TxHash != TxRoot(deposits, sb.Block.Transactions()):
		t.Errorf("tx root %s, want the root of deposits then txs %s", h.TxHash, TxRoot(deposits, sb.Block.Transactions()))
	case h.ReceiptHash != ReceiptRoot(sb.DepositReceipts, sb.Receipts):
		t.Errorf("receipts root %s, want the root of deposit receipts then receipts", h.ReceiptHash)
	case h.GasUsed != tr.CumulativeGasUsed:
		t.Errorf("gas used %d, want %d", h.GasUsed, tr.CumulativeGasUsed)
	case len(sb.Deposits) != len(deposits) || sb.DepositReceipts[0].BlockHash != sb.Block.Hash():
		t.Errorf("sealed block: %d deposits, receipt block hash %s", len(sb.Deposits), sb.DepositReceipts[0].BlockHash)
	}
	var sawFrank bool
	for _, a := range sb.Diff.Accounts {
		if a.Address == frank {
			sawFrank = a.Balance.ToBig().Cmp(ether(3)) == 0 && a.Nonce == 2
		}
	}
	if !sawFrank {
		t.Error("state diff lacks the failed deposit's mint and nonce")
	}

	// A second execution (a full node's replay) agrees on every root and the
	// hash; without the deposits the block does not replay.
	again, err := ReplayWith(c.config, c, c.db, parent, sb.Block, ReplayOptions{Deposits: deposits})
	if err != nil {
		t.Fatalf("replay with deposits: %v", err)
	}
	if again.Block.Root() != h.Root || again.Block.Hash() != sb.Block.Hash() {
		t.Errorf("replay: root %s hash %s, want %s %s", again.Block.Root(), again.Block.Hash(), h.Root, sb.Block.Hash())
	}
	if _, err := ReplayWith(c.config, c, c.db, parent, sb.Block, ReplayOptions{}); !errors.Is(err, ErrBadBlock) {
		t.Errorf("replay without deposits: got %v, want ErrBadBlock", err)
	}
	if _, err := ReplayWith(c.config, c, c.db, parent, sb.Block, ReplayOptions{Deposits: deposits[1:]}); !errors.Is(err, ErrBadBlock) {
		t.Errorf("replay with a deposit left out: got %v, want ErrBadBlock", err)
	}
	// A replica checks the received body (consensus form, over the wire)
	// and derives the receipts back to what the builder made.
	block, txReceipts, depositReceipts := wire(t, sb.Block), wire(t, sb.Receipts), wire(t, sb.DepositReceipts)
	if err := CheckBodyWithDeposits(c.config, parent, block, txReceipts, wire(t, deposits), depositReceipts); err != nil {
		t.Fatalf("check body with deposits: %v", err)
	}
	if err := CheckBody(c.config, parent, block, wire(t, sb.Receipts)); !errors.Is(err, ErrBadBlock) {
		t.Errorf("check body without the deposits: got %v, want ErrBadBlock", err)
	}
	if txReceipts[0].TransactionIndex != uint(len(deposits)) || txReceipts[0].CumulativeGasUsed != tr.CumulativeGasUsed {
		t.Errorf("derived tx receipt index %d cumulative gas %d, want %d %d", txReceipts[0].TransactionIndex, txReceipts[0].CumulativeGasUsed, len(deposits), tr.CumulativeGasUsed)
	}
	sb.DepositReceipts = depositReceipts
	for i, r := range sb.DepositReceipts {
		if w := again.DepositReceipts[i]; r.GasUsed != w.GasUsed || r.ContractAddress != w.ContractAddress || r.TxHash != w.TxHash || r.TransactionIndex != w.TransactionIndex {
			t.Errorf("derived receipt %d: %+v, want %+v", i, r.Receipt, w.Receipt)
		}
	}
}

func TestDepositBlockFull(t *testing.T) {
	c := newTestChain(t)
	parent := c.CurrentHeader()
	b, err := NewBlockBuilder(c.config, c, c.db, parent, NextHeader(c.config, parent, parent.Time+1, 100_000, common.Address{}))
	if err != nil {
		t.Fatal(err)
	}
	from, to := addr("0xa11ce"), addr("0xb0b")
	if _, err := b.ApplyDeposit(&Deposit{From: from, To: &to, Mint: ether(1), Gas: 60_000}); err != nil {
		t.Fatal(err)
	}
	_, err = b.ApplyDeposit(&Deposit{SourceHash: common.Hash{1}, From: from, To: &to, Mint: ether(1), Gas: 90_000})
	if !errors.Is(err, ErrBlockFull) {
		t.Fatalf("deposit above the gas left: got %v, want ErrBlockFull", err)
	}
	if got := b.state.GetBalance(from).ToBig(); got.Cmp(ether(1)) != 0 {
		t.Errorf("a deposit left for the next block minted: balance %s, want 1 ether", got)
	}
	if _, err := b.ApplyDeposit(&Deposit{From: from, To: &to, IsSystemTx: true, Gas: 21_000}); !errors.Is(err, ErrBadDeposit) {
		t.Errorf("system deposit: got %v, want ErrBadDeposit", err)
	}
}

// TestVerifyDeposits: a prover re-executes a block with deposits over its
// witness alone, and a deposit changed after the fact is caught.
func TestVerifyDeposits(t *testing.T) {
	c := newTestChain(t)
	parent := c.CurrentHeader()
	b, err := NewBlockBuilder(c.config, c, c.db, parent, NextHeader(c.config, parent, parent.Time+1, DefaultGasLimit, common.Address{}))
	if err != nil {
		t.Fatal(err)
	}
	from, to := addr("0xa11ce"), addr("0xb0b")
	d := &Deposit{SourceHash: common.Hash{1}, From: from, To: &to, Mint: ether(2), Value: ether(1), Gas: 100_000}
	if _, err := b.ApplyDeposit(d); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ApplyTx(c.transfer(t, 0, 0, to, 1)); err != nil {
		t.Fatal(err)
	}
	sb, err := b.Seal()
	if err != nil {
		t.Fatal(err)
	}
	v, err := VerifyWithDeposits(c.config, sb.Block, sb.Witness, false, nil, []*Deposit{d})
	if err != nil || !v.Valid || v.StateRoot != sb.Block.Root() {
		t.Fatalf("verdict %+v (%v), want valid at %s", v, err, sb.Block.Root())
	}
	forged := *d
	forged.Mint = ether(3)
	v, err = VerifyWithDeposits(c.config, sb.Block, sb.Witness, false, nil, []*Deposit{&forged})
	if err != nil || v.Valid {
		t.Fatalf("forged deposit: verdict %+v (%v), want invalid", v, err)
	}
	// A fraud proof against this honest block is refused when checked with
	// the deposits of its signed message, as every node checks it.
	if _, err := CheckFraudProof(c.config, sb.Block, sb.Witness, []*Deposit{d}); err == nil {
		t.Fatal("fraud proof against an honest block with a deposit accepted")
	}
}

// TestBundleCarriesDeposits: a sealed block's deposits, their receipts and
// its L1 origin travel in the bundle and the first mini-block; a bundle
// without them encodes as before.
func TestBundleCarriesDeposits(t *testing.T) {
	c := newTestChain(t)
	parent := c.CurrentHeader()
	b, err := NewBlockBuilder(c.config, c, c.db, parent, NextHeader(c.config, parent, parent.Time+1, DefaultGasLimit, common.Address{}))
	if err != nil {
		t.Fatal(err)
	}
	from, to := addr("0xa11ce"), addr("0xb0b")
	d := &Deposit{SourceHash: common.Hash{1}, From: from, To: &to, Mint: ether(2), Value: ether(1), Gas: 100_000}
	if _, err := b.ApplyDeposit(d); err != nil {
		t.Fatal(err)
	}
	// The first mini-block's state changes hold the mint.
	var minted bool
	for _, ch := range b.TakeChanges() {
		minted = minted || ch.Address == from && ch.Balance.ToBig().Cmp(ether(1)) == 0 && ch.Nonce == 1
	}
	if !minted {
		t.Error("the mini-block's state changes lack the deposit's sender")
	}
	if _, err := b.ApplyTx(c.transfer(t, 0, 0, to, 1)); err != nil {
		t.Fatal(err)
	}
	sb, err := b.Seal()
	if err != nil {
		t.Fatal(err)
	}
	plain := &BlockBundle{Block: sb.Block, Receipts: sb.Receipts, StateDiff: sb.Diff, Witness: sb.Witness}
	old, err := EncodeBundle(plain)
	if err != nil {
		t.Fatal(err)
	}
	full := *plain
	full.Deposits, full.DepositReceipts, full.L1Origin = sb.Deposits, sb.DepositReceipts, L1Origin{Number: 12, Hash: common.Hash{0xaa}}
	enc, err := EncodeBundle(&full)
	if err != nil {
		t.Fatal(err)
	}
	if len(enc) <= len(old) {
		t.Errorf("bundle with deposits: %d bytes, want more than the %d without", len(enc), len(old))
	}
	got, err := DecodeBundle(enc)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Deposits) != 1 || got.Deposits[0].Hash() != d.Hash() || len(got.DepositReceipts) != 1 || got.DepositReceipts[0].DepositNonce != 0 || got.L1Origin != full.L1Origin {
		t.Errorf("decoded bundle: %d deposits, %d receipts, origin %+v", len(got.Deposits), len(got.DepositReceipts), got.L1Origin)
	}
	if back, err := DecodeBundle(old); err != nil || len(back.Deposits) != 0 {
		t.Errorf("a bundle without deposits: %v, %d deposits", err, len(back.Deposits))
	}
	h := sb.Block.Header()
	mb := wire(t, &MiniBlock{BlockNumber: 1, BlockTimestamp: h.Time, Txs: sb.Block.Transactions(), Receipts: sb.Receipts, Deposits: sb.Deposits, DepositReceipts: sb.DepositReceipts})
	if len(mb.Deposits) != 1 || mb.Deposits[0].Hash() != d.Hash() || mb.DepositReceipts[0].Status != 1 {
		t.Fatalf("mini-block round trip: %+v", mb)
	}
	if err := DeriveMiniBlock(c.config, mb, h.BaseFee, PreconfBlockHash, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	if r := mb.Receipts[0]; r.TransactionIndex != 1 || r.GasUsed != params.TxGas || mb.DepositReceipts[0].TxHash != d.Hash() || mb.DepositReceipts[0].GasUsed != params.TxGas {
		t.Errorf("derived mini-block: tx index %d gas %d, deposit hash %s gas %d", r.TransactionIndex, r.GasUsed, mb.DepositReceipts[0].TxHash, mb.DepositReceipts[0].GasUsed)
	}
	mb.Index = 1
	if err := DeriveMiniBlock(c.config, mb, h.BaseFee, PreconfBlockHash, 0, 0, 0); !errors.Is(err, ErrBadBlock) {
		t.Errorf("deposits in a later mini-block: got %v, want ErrBadBlock", err)
	}
}
