package rpc

import (
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
)

func TestGetDACommitments(t *testing.T) {
	e := newWSEnv(t, nil)
	for seq, last := range []uint64{2, 5, 9} {
		first := uint64(1)
		if seq > 0 {
			first = []uint64{2, 5, 9}[seq-1] + 1
		}
		if err := e.store.WriteDACommitment(&chain.DACommitment{Seq: uint64(seq + 1), First: first, Last: last, LastHash: common.Hash{byte(last)}, Commitment: []byte{byte(last)}}); err != nil {
			t.Fatal(err)
		}
	}
	client := e.serve(Backend{Chain: e.store, Latest: e.seq, Txs: e.seq, Feeds: e.seq, DA: e.store})
	var got []*chain.DACommitment
	if err := client.Call(&got, "mega_getDACommitments", "0x4", "0x1"); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Seq != 2 || got[0].First != 3 || got[0].Last != 5 {
		t.Fatalf("from block 4, limit 1: %+v", got)
	}
	if err := client.Call(&got, "mega_getDACommitments", "0x1"); err != nil || len(got) != 3 {
		t.Fatalf("all: %d, %v", len(got), err)
	}
	var raw []any
	if err := client.Call(&raw, "mega_getDACommitments", "0x100"); err != nil || raw == nil || len(raw) != 0 {
		t.Fatalf("past the last blob: %#v, %v", raw, err)
	}
	for _, bad := range [][]any{{"garbage"}, {map[string]int{"a": 1}}, {}} {
		var rerr gethrpc.Error
		if err := client.Call(&got, "mega_getDACommitments", bad...); !errors.As(err, &rerr) || rerr.ErrorCode() != -32602 {
			t.Errorf("params %v: %v, want invalid params", bad, err)
		}
	}
}
