package chain

import (
	"bytes"
	"encoding/json"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
)

// The payloads of p2p messages (mini-blocks, blocks, witnesses, attestations,
// fraud proofs) and DA commitments are decoded from bytes a peer sent. The
// targets below decode arbitrary bytes as each of them and run the first
// checks a receiving role runs; the property is "an error, never a panic",
// and that whatever decodes encodes back to bytes that decode the same
// (RLP is canonical, so encode(decode(x)) is a fixed point).
//
// Seeds are real encodings of a sealed test block (f.Add) plus the files
// under testdata/fuzz/<target> (crashers found by longer runs: make fuzz).

// fuzzSeeds seals one test block and returns its messages' RLP.
func fuzzSeeds(f *testing.F) (c *testChain, sb *SealedBlock, minis, blocks, witnesses [][]byte) {
	c = newTestChain(f)
	sb, ms, senders := sealedTestBlock(f, c)
	enc := func(v any) []byte {
		b, err := rlp.EncodeToBytes(v)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	for _, mb := range ms {
		minis = append(minis, enc(mb))
	}
	blocks = append(blocks, enc(&BlockMessage{Bundle: &BlockBundle{Block: sb.Block, Receipts: sb.Receipts, StateDiff: sb.Diff}, MiniBlockCount: 2, Senders: senders}))
	blocks = append(blocks, enc(&BlockMessage{Bundle: &BlockBundle{Block: sb.Block, Receipts: sb.Receipts, StateDiff: sb.Diff}, Rewind: true}))
	witnesses = append(witnesses, enc(&WitnessMessage{Number: sb.Block.NumberU64(), Hash: sb.Block.Hash(), Witness: sb.Witness, PasserProof: [][]byte{{0xc0}}}))
	return c, sb, minis, blocks, witnesses
}

// roundTrip re-encodes v (decoded from data) and checks the encoding decodes
// into a value that encodes the same.
func roundTrip[T any](t *testing.T, v *T) {
	enc, err := rlp.EncodeToBytes(v)
	if err != nil {
		t.Fatalf("decoded value does not encode: %v", err)
	}
	back := new(T)
	if err := rlp.DecodeBytes(enc, back); err != nil {
		t.Fatalf("re-encoded value does not decode: %v\n%x", err, enc)
	}
	again, err := rlp.EncodeToBytes(back)
	if err != nil || !bytes.Equal(enc, again) {
		t.Fatalf("encoding not stable:\n%x\n%x (%v)", enc, again, err)
	}
}

func FuzzMiniBlock(f *testing.F) {
	c, _, minis, _, _ := fuzzSeeds(f)
	for _, m := range minis {
		f.Add(m)
	}
	f.Add([]byte{0xc0})
	f.Fuzz(func(t *testing.T, data []byte) {
		mb := new(MiniBlock)
		if err := rlp.DecodeBytes(data, mb); err != nil {
			return
		}
		roundTrip(t, mb)
		// What a replica does with it next.
		_ = DeriveMiniBlock(c.config, mb, big.NewInt(7), common.Hash{1}, 3, 5, 21000)
	})
}

func FuzzBlockMessage(f *testing.F) {
	c, _, _, blocks, _ := fuzzSeeds(f)
	for _, b := range blocks {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m := new(BlockMessage)
		if err := rlp.DecodeBytes(data, m); err != nil {
			return
		}
		roundTrip(t, m)
		if m.Bundle == nil || m.Bundle.Block == nil { // refused by replicas and full nodes
			return
		}
		_ = CheckBody(c.config, c.CurrentHeader(), m.Bundle.Block, m.Bundle.Receipts)
	})
}

func FuzzBundle(f *testing.F) {
	_, sb, _, _, _ := fuzzSeeds(f)
	full, err := rlp.EncodeToBytes(&BlockBundle{Block: sb.Block, Receipts: sb.Receipts, StateDiff: sb.Diff, Witness: sb.Witness})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(full)
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeBundle(data)
		if err != nil {
			return
		}
		roundTrip(t, b)
	})
}

func FuzzWitnessMessage(f *testing.F) {
	c, sb, _, _, witnesses := fuzzSeeds(f)
	for _, w := range witnesses {
		f.Add(w)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		w := new(WitnessMessage)
		if err := rlp.DecodeBytes(data, w); err != nil {
			return
		}
		roundTrip(t, w)
		if _, err := DecodeExtWitness(w.Number, w.Witness); err != nil {
			return
		}
		// What a prover does: re-execute the block over the witness alone.
		_, _ = VerifyStateless(c.config, sb.Block, w.Witness)
	})
}

func FuzzFinalityMessages(f *testing.F) {
	att, _ := rlp.EncodeToBytes(&Attestation{Number: 7, BlockHash: common.Hash{1}, StateRoot: common.Hash{2}, OutputRoot: common.Hash{3}})
	fp, _ := rlp.EncodeToBytes(&FraudProof{SignedBlock: []byte{1, 2, 3}, Witness: []byte{0xc0}})
	da, _ := json.Marshal(DACommitment{Seq: 1, First: 1, Last: 4, LastHash: common.Hash{4}, Commitment: []byte{0x01, 0x02}, Size: 100, Posted: 1_800_000_000_000})
	f.Add(att)
	f.Add(fp)
	f.Add(da)
	f.Fuzz(func(t *testing.T, data []byte) {
		if a := new(Attestation); rlp.DecodeBytes(data, a) == nil {
			roundTrip(t, a)
		}
		if p := new(FraudProof); rlp.DecodeBytes(data, p) == nil {
			roundTrip(t, p)
		}
		var c DACommitment
		if json.Unmarshal(data, &c) == nil {
			enc, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			var back DACommitment
			if err := json.Unmarshal(enc, &back); err != nil {
				t.Fatalf("re-encoded commitment does not decode: %v\n%s", err, enc)
			}
			if again, _ := json.Marshal(back); !bytes.Equal(enc, again) {
				t.Fatalf("commitment changes through JSON:\n%s\n%s", enc, again)
			}
		}
	})
}
