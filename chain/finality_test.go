package chain

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/stateless"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
)

func forgeRoot(b *types.Block) *types.Block {
	h := b.Header()
	h.Root[0] ^= 1
	return types.NewBlockWithHeader(h).WithBody(*b.Body())
}

// editWitness decodes a witness, lets edit change it and encodes it again.
func editWitness(t *testing.T, data []byte, edit func(*stateless.Witness)) []byte {
	t.Helper()
	var w stateless.Witness
	if err := rlp.DecodeBytes(data, &w); err != nil {
		t.Fatal(err)
	}
	edit(&w)
	out, err := rlp.EncodeToBytes(&w)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestVerifyStateless(t *testing.T) {
	c := newTestChain(t)
	sb, _, _ := sealedTestBlock(t, c)
	block := wire(t, sb.Block)

	v, err := VerifyStateless(c.config, block, sb.Witness)
	if err != nil || !v.Valid || v.StateRoot != block.Root() || v.BlockHash != block.Hash() {
		t.Fatalf("genuine block: %+v, %v", v, err)
	}

	forged := forgeRoot(block)
	v, err = VerifyStateless(c.config, forged, sb.Witness)
	if err != nil || v.Valid || v.StateRoot != block.Root() || v.BlockHash != forged.Hash() || v.Reason == "" {
		t.Fatalf("forged root: %+v, %v; want invalid, re-executing to %s", v, err, block.Root())
	}
	if _, err := CheckFraudProof(c.config, forged, sb.Witness, nil); err != nil {
		t.Fatalf("fraud proof of the forged block: %v", err)
	}
	if _, err := CheckFraudProof(c.config, block, sb.Witness, nil); err == nil {
		t.Fatal("a fraud proof of a genuine block was believed")
	}

	// A witness missing state the block reads proves nothing either way:
	// neither the genuine block nor the forged one is convicted.
	var root common.Hash = c.CurrentHeader().Root
	thin := editWitness(t, sb.Witness, func(w *stateless.Witness) {
		for node := range w.State {
			if !bytes.Equal(hashOf(node), root[:]) {
				delete(w.State, node)
			}
		}
	})
	for name, b := range map[string]*types.Block{"genuine": block, "forged": forged} {
		v, err := VerifyStateless(c.config, b, thin)
		t.Logf("%s over a thin witness: %v", name, err)
		if !errors.Is(err, ErrUnverifiable) {
			t.Errorf("%s block over an incomplete witness: %+v, %v; want ErrUnverifiable", name, v, err)
		}
	}
	// So does a witness of another parent.
	other := editWitness(t, sb.Witness, func(w *stateless.Witness) { w.Headers[0].Extra = []byte("other") })
	if _, err := VerifyStateless(c.config, forged, other); !errors.Is(err, ErrUnverifiable) {
		t.Errorf("witness of another parent: %v, want ErrUnverifiable", err)
	}
	if _, err := VerifyStateless(c.config, block, []byte{0xc1, 0xff}); !errors.Is(err, ErrUnverifiable) {
		t.Errorf("garbage witness: %v, want ErrUnverifiable", err)
	}
}

func hashOf(b string) []byte { return crypto256([]byte(b)) }

func TestMessagePasserProofAndOutputRoot(t *testing.T) {
	c := newTestChain(t)
	genesisRoot := c.CurrentHeader().Root
	before, err := MessagePasserRoot(c.db, genesisRoot)
	if err != nil || before != types.EmptyRootHash {
		t.Fatalf("genesis message passer storage root %s, %v; want empty", before, err)
	}
	code, err := c.db.Reader(genesisRoot)
	if err != nil {
		t.Fatal(err)
	}
	if acct, _ := code.Account(MessagePasser); acct == nil || len(MessagePasserCode()) == 0 {
		t.Fatal("no message passer in genesis")
	}

	// A withdrawal writes sentMessages[hash]: the storage root changes.
	parent := c.CurrentHeader()
	b, err := NewBlockBuilder(c.config, c, c.db, parent, NextHeader(c.config, parent, parent.Time+1, DefaultGasLimit, common.Address{}))
	if err != nil {
		t.Fatal(err)
	}
	addrT, _ := abi.NewType("address", "", nil)
	uintT, _ := abi.NewType("uint256", "", nil)
	bytesT, _ := abi.NewType("bytes", "", nil)
	args, err := abi.Arguments{{Type: addrT}, {Type: uintT}, {Type: bytesT}}.Pack(common.HexToAddress("0xbeef"), big.NewInt(100_000), []byte("hi"))
	if err != nil {
		t.Fatal(err)
	}
	data := append(crypto256([]byte("initiateWithdrawal(address,uint256,bytes)"))[:4], args...)
	tx := types.MustSignNewTx(c.accts[0].Key, types.LatestSigner(c.config), &types.DynamicFeeTx{
		ChainID: c.config.ChainID, To: &MessagePasser, Gas: 200_000, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei * 10), Value: big.NewInt(7), Data: data,
	})
	r, err := b.ApplyTx(tx)
	if err != nil || r.Status != types.ReceiptStatusSuccessful || len(r.Logs) != 1 {
		t.Fatalf("withdrawal: %+v, %v", r, err)
	}
	sb, err := b.Seal()
	if err != nil {
		t.Fatal(err)
	}
	root := sb.Block.Root()
	after, err := MessagePasserRoot(c.db, root)
	if err != nil || after == before {
		t.Fatalf("storage root after a withdrawal %s, %v; want it changed from %s", after, err, before)
	}
	proof, err := AccountProof(c.db, root, MessagePasser)
	if err != nil {
		t.Fatal(err)
	}
	got, err := StorageRootFromProof(root, MessagePasser, proof)
	if err != nil || got != after {
		t.Fatalf("storage root from the proof %s, %v; want %s", got, err, after)
	}
	if _, err := StorageRootFromProof(genesisRoot, MessagePasser, proof); err == nil {
		t.Fatal("a proof against another root was accepted")
	}
	if out := OutputRoot(root, after, sb.Block.Hash()); out == OutputRoot(root, before, sb.Block.Hash()) {
		t.Fatal("the output root does not commit to the message passer's storage")
	}
}

func crypto256(b []byte) []byte { return crypto.Keccak256(b) }

var update = flag.Bool("update", false, "rewrite chain/testdata/*.golden")

// TestFinalityMessagesGolden pins the RLP of what provers gossip and of the
// witness message's proof field.
func TestFinalityMessagesGolden(t *testing.T) {
	h := func(s string) common.Hash { return common.BytesToHash(crypto.Keccak256([]byte(s))) }
	msgs := []struct {
		name string
		v    any
	}{
		{"attestation", &Attestation{Number: 7, BlockHash: h("block"), StateRoot: h("state"), OutputRoot: OutputRoot(h("state"), types.EmptyRootHash, h("block"))}},
		{"fraudproof", &FraudProof{SignedBlock: []byte("signed block message"), Witness: []byte("witness")}},
		{"witness", &WitnessMessage{Number: 7, Hash: h("block"), Witness: []byte("witness"), PasserProof: [][]byte{[]byte("node a"), []byte("node b")}}},
		{"witness-without-proof", &WitnessMessage{Number: 7, Hash: h("block"), Witness: []byte("witness")}},
	}
	var out strings.Builder
	for _, m := range msgs {
		data, err := rlp.EncodeToBytes(m.v)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "%s %x\n", m.name, data)
	}
	file := filepath.Join("testdata", "finality.golden")
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
		t.Fatalf("encoding changed:\n got: %s\nwant: %s", out.String(), want)
	}
}
