package chain

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// mega_getDACommitments' JSON shape of a blob, and back.
func TestDACommitmentJSON(t *testing.T) {
	c := DACommitment{Seq: 3, First: 10, Last: 12, LastHash: common.HexToHash("0xabcd"), Commitment: []byte{0, 1, 2}, Size: 4096, Posted: 1_800_000_000_123}
	data, err := json.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"seq":"0x3","firstBlock":"0xa","lastBlock":"0xc","lastBlockHash":"0x000000000000000000000000000000000000000000000000000000000000abcd","commitment":"0x000102","size":"0x1000","posted":"0x1a3185c507b"}`
	if string(data) != want {
		t.Fatalf("JSON\n got %s\nwant %s", data, want)
	}
	var back DACommitment
	if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
	if !c.Holds(10) || !c.Holds(12) || c.Holds(13) || c.Holds(9) {
		t.Fatal("Holds")
	}
	// Once recorded in the L1 inbox, where.
	c.L1Block, c.L1Tx = 77, common.HexToHash("0x11")
	if data, err = json.Marshal(&c); err != nil {
		t.Fatal(err)
	}
	const withL1 = `,"l1BlockNumber":"0x4d","l1TransactionHash":"0x0000000000000000000000000000000000000000000000000000000000000011"}`
	if string(data) != want[:len(want)-1]+withL1 {
		t.Fatalf("JSON with the L1 record\n got %s", data)
	}
	back = DACommitment{}
	if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip with the L1 record: %+v, %v", back, err)
	}
}
