package chain

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/holiman/uint256"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
)

// Init code storing 42 at slot 1 and deploying a runtime that stores the
// caller at slot 0 and emits an empty LOG0.
var logContract = common.FromHex("602a600155600a6011600039600a6000f33360005560006000a000")

// sealedTestBlock seals one block of two mini-blocks: a contract deployment
// and a transfer, then a call that writes storage and logs.
func sealedTestBlock(t testing.TB, c *testChain) (*SealedBlock, []*MiniBlock, []common.Address) {
	t.Helper()
	parent := c.CurrentHeader()
	b, err := NewBlockBuilder(c.config, c, c.db, parent, NextHeader(c.config, parent, parent.Time+1, DefaultGasLimit, common.Address{}))
	if err != nil {
		t.Fatal(err)
	}
	signer := types.LatestSigner(c.config)
	contract := crypto.CreateAddress(c.accts[0].Address, 0)
	groups := [][]*types.Transaction{
		{
			types.MustSignNewTx(c.accts[0].Key, signer, &types.DynamicFeeTx{ChainID: c.config.ChainID, Gas: 200_000, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei * 10), Data: logContract}),
			c.transfer(t, 1, 0, common.HexToAddress("0x1234"), 5),
		},
		{
			types.MustSignNewTx(c.accts[2].Key, signer, &types.DynamicFeeTx{ChainID: c.config.ChainID, To: &contract, Gas: 100_000, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei * 10)}),
		},
	}
	var minis []*MiniBlock
	for i, txs := range groups {
		mb := &MiniBlock{BlockNumber: b.Header().Number.Uint64(), BlockTimestamp: b.Header().Time, Index: uint64(i), Number: uint64(i), Txs: txs}
		for _, tx := range txs {
			r, err := b.ApplyTx(tx)
			if err != nil {
				t.Fatal(err)
			}
			cp := *r
			mb.Receipts = append(mb.Receipts, &cp)
		}
		mb.StateChanges = b.TakeChanges()
		minis = append(minis, mb)
	}
	sb, err := b.Seal()
	if err != nil {
		t.Fatal(err)
	}
	senders := []common.Address{c.accts[0].Address, c.accts[1].Address, c.accts[2].Address}
	return sb, minis, senders
}

// wire round-trips v through RLP, as p2p does.
func wire[T any](t *testing.T, v T) T {
	t.Helper()
	data, err := rlp.EncodeToBytes(v)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := rlp.DecodeBytes(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDeriveMiniBlockMatchesSealedReceipts(t *testing.T) {
	c := newTestChain(t)
	sb, minis, _ := sealedTestBlock(t, c)
	h := sb.Block.Header()
	var txOff, logOff uint
	var gas uint64
	var got []*types.Receipt
	for _, mb := range minis {
		in := wire(t, mb)
		if err := DeriveMiniBlock(c.config, in, h.BaseFee, PreconfBlockHash, txOff, logOff, gas); err != nil {
			t.Fatal(err)
		}
		for _, r := range in.Receipts {
			txOff++
			logOff += uint(len(r.Logs))
			gas = r.CumulativeGasUsed
			got = append(got, r)
		}
	}
	if len(got) != len(sb.Receipts) {
		t.Fatalf("derived %d receipts, sealed %d", len(got), len(sb.Receipts))
	}
	for i, want := range sb.Receipts {
		r := got[i]
		if r.TxHash != want.TxHash || r.GasUsed != want.GasUsed || r.ContractAddress != want.ContractAddress ||
			r.TransactionIndex != want.TransactionIndex || r.EffectiveGasPrice.Cmp(want.EffectiveGasPrice) != 0 || r.BlockHash != PreconfBlockHash {
			t.Errorf("receipt %d derived as %+v, sealed %+v", i, r, want)
		}
		for j, l := range r.Logs {
			if l.Index != want.Logs[j].Index || l.TxIndex != want.Logs[j].TxIndex || l.TxHash != want.Logs[j].TxHash {
				t.Errorf("receipt %d log %d derived as %+v, sealed %+v", i, j, l, want.Logs[j])
			}
		}
	}
	bad := wire(t, minis[0])
	bad.Receipts = bad.Receipts[:1]
	if err := DeriveMiniBlock(c.config, bad, h.BaseFee, PreconfBlockHash, 0, 0, 0); !errors.Is(err, ErrBadBlock) {
		t.Fatalf("mini-block with a receipt missing: %v, want ErrBadBlock", err)
	}
}

func TestApplyDiffReproducesRoot(t *testing.T) {
	seq := newTestChain(t)
	sb, _, _ := sealedTestBlock(t, seq)
	parent := seq.CurrentHeader()
	block, receipts, diff := sb.Block, wire(t, sb.Receipts), wire(t, sb.Diff)

	replica := newTestChain(t)
	if err := CheckBody(replica.config, parent, block, receipts); err != nil {
		t.Fatal(err)
	}
	if receipts[0].ContractAddress != crypto.CreateAddress(seq.accts[0].Address, 0) {
		t.Errorf("derived contract address %s", receipts[0].ContractAddress)
	}
	res, err := ApplyDiff(replica.config, replica.db, parent, block.Header(), diff)
	if err != nil {
		t.Fatal(err)
	}
	if err := replica.db.TrieDB().Commit(block.Root(), false); err != nil {
		t.Fatal(err)
	}
	st, err := StateAt(replica.db, block.Root())
	if err != nil {
		t.Fatal(err)
	}
	contract := crypto.CreateAddress(seq.accts[0].Address, 0)
	if got := st.GetState(contract, common.Hash{31: 1}); got != (common.Hash{31: 42}) {
		t.Errorf("replica slot 1 = %s, want 42", got)
	}
	if got := common.BytesToAddress(st.GetState(contract, common.Hash{}).Bytes()); got != seq.accts[2].Address {
		t.Errorf("replica slot 0 = %s, want the caller", got)
	}
	if len(st.GetCode(contract)) != 10 || res.Update.Root != block.Root() {
		t.Errorf("replica code %x, update root %s", st.GetCode(contract), res.Update.Root)
	}

	// Tampering with any part is refused before anything is committed.
	tampered := wire(t, sb.Diff)
	tampered.Accounts[0].Balance = new(uint256.Int).AddUint64(tampered.Accounts[0].Balance, 1)
	fresh := newTestChain(t)
	if _, err := ApplyDiff(fresh.config, fresh.db, parent, block.Header(), tampered); !errors.Is(err, ErrBadBlock) || !strings.Contains(err.Error(), "root") {
		t.Fatalf("tampered balance: %v, want a root mismatch", err)
	}
	noCode := wire(t, sb.Diff)
	for i := range noCode.Accounts {
		noCode.Accounts[i].Code = nil
	}
	if _, err := ApplyDiff(fresh.config, fresh.db, parent, block.Header(), noCode); !errors.Is(err, ErrBadBlock) {
		t.Fatalf("diff without the new code: %v, want ErrBadBlock", err)
	}
	badReceipts := wire(t, sb.Receipts)
	badReceipts[2].Logs[0].Data = []byte{1}
	if err := CheckBody(fresh.config, parent, block, badReceipts); !errors.Is(err, ErrBadBlock) || !strings.Contains(err.Error(), "receipts root") {
		t.Fatalf("tampered log: %v, want a receipts root mismatch", err)
	}
	if err := CheckBody(fresh.config, block.Header(), block, wire(t, sb.Receipts)); !errors.Is(err, ErrBadBlock) {
		t.Fatalf("block on the wrong parent: %v", err)
	}
}

func TestReplayOverWitness(t *testing.T) {
	seq := newTestChain(t)
	sb, _, senders := sealedTestBlock(t, seq)
	parent := seq.CurrentHeader()
	full := newTestChain(t)

	for _, hints := range [][]common.Address{senders, nil} {
		wdb, _, err := WitnessDatabase(sb.Witness)
		if err != nil {
			t.Fatal(err)
		}
		block := wire(t, sb.Block)
		res, err := Replay(full.config, full, wdb, parent, block, hints)
		if err != nil {
			t.Fatalf("senders %v: %v", hints != nil, err)
		}
		if !SameDiff(DiffFromUpdate(res.Update), sb.Diff) {
			t.Fatal("re-execution's diff differs from the sequencer's")
		}
		// The witness's new nodes complete the full node's own trie.
		u := res.Update
		if err := full.db.TrieDB().Update(u.Root, u.OriginRoot, u.BlockNumber, u.Nodes, nil); err != nil {
			t.Fatal(err)
		}
		st, err := StateAt(full.db, block.Root())
		if err != nil {
			t.Fatal(err)
		}
		if got := st.GetState(crypto.CreateAddress(seq.accts[0].Address, 0), common.Hash{31: 1}); got != (common.Hash{31: 42}) {
			t.Errorf("full node slot 1 = %s, want 42", got)
		}
	}

	wdb, _, _ := WitnessDatabase(sb.Witness)
	h := sb.Block.Header()
	h.Root[0] ^= 1
	forged := types.NewBlockWithHeader(h).WithBody(*sb.Block.Body())
	if _, err := Replay(full.config, full, wdb, parent, forged, senders); !errors.Is(err, ErrBadBlock) || !strings.Contains(err.Error(), "state root") {
		t.Fatalf("forged root: %v, want a state root mismatch", err)
	}
	wdb, _, _ = WitnessDatabase(sb.Witness)
	lying := []common.Address{senders[1], senders[0], senders[2]}
	if _, err := Replay(full.config, full, wdb, parent, wire(t, sb.Block), lying); !errors.Is(err, ErrBadBlock) {
		t.Fatalf("swapped senders: %v, want ErrBadBlock", err)
	}
	if _, _, err := WitnessDatabase([]byte{0xc1, 0xff}); !errors.Is(err, ErrBadBlock) {
		t.Fatalf("garbage witness: %v", err)
	}
}
