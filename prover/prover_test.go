package prover

import (
	"slices"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/storage"
)

// passerRoots keeps the message passer roots the sequencer's proof proves
// in the state of each root given, once each, and leaves out a root the
// proof is not of (the header's wrong root under fault injection) and a
// zero one (no re-executed root).
func TestPasserRoots(t *testing.T) {
	g, _, err := chain.Genesis(chain.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	s, err := storage.Open(storage.Config{}, g, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	state := s.CurrentHeader().Root
	want, err := chain.MessagePasserRoot(s.StateDatabase(), state)
	if err != nil {
		t.Fatal(err)
	}
	proof, err := chain.AccountProof(s.StateDatabase(), state, chain.MessagePasser)
	if err != nil {
		t.Fatal(err)
	}
	wrong := common.HexToHash("0xbad")
	for _, tc := range []struct {
		name  string
		roots []common.Hash
		want  []common.Hash
	}{
		{"header root wrong, re-executed root proven", []common.Hash{wrong, state}, []common.Hash{want}},
		{"header root proven, no re-executed root", []common.Hash{state, {}}, []common.Hash{want}},
		{"both the same state", []common.Hash{state, state}, []common.Hash{want}},
		{"neither proven", []common.Hash{wrong, {}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := passerRoots(proof, tc.roots...); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	if got := passerRoots(nil, state); got != nil {
		t.Fatalf("no proof: got %v, want none", got)
	}
}
