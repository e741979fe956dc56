package chain

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// SignDev's tx carries the account's real signature, and signers equal to
// the one it signed with read the sender it recorded; any other recovers.
func TestSignDevRecordsTheSender(t *testing.T) {
	cfg := DefaultConfig()
	g, accts, err := Genesis(cfg)
	if err != nil {
		t.Fatal(err)
	}
	signer := NewLatestSigner(g.Config, true)
	to := common.HexToAddress("0xbeef")
	tx, err := SignDev(accts[1], signer, &types.DynamicFeeTx{ChainID: g.Config.ChainID, Nonce: 3, To: &to, Gas: 21000, GasFeeCap: big.NewInt(1e9), GasTipCap: big.NewInt(1)})
	if err != nil {
		t.Fatal(err)
	}
	if from, err := types.Sender(NewLatestSigner(g.Config, true), tx); err != nil || from != accts[1].Address {
		t.Fatalf("sender through an equal signer: %s %v, want %s", from, err, accts[1].Address)
	}
	// The signature itself names the account: a copy without the cache
	// recovers it, through a dev signer and a plain one.
	raw, err := tx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []types.Signer{signer, types.LatestSigner(g.Config)} {
		fresh := new(types.Transaction)
		if err := fresh.UnmarshalBinary(raw); err != nil {
			t.Fatal(err)
		}
		if from, err := types.Sender(s, fresh); err != nil || from != accts[1].Address {
			t.Fatalf("recovered sender %s %v, want %s", from, err, accts[1].Address)
		}
	}
	// A signer of another chain does not take the recorded sender.
	other := *g.Config
	other.ChainID = new(big.Int).Add(g.Config.ChainID, big.NewInt(1))
	if from, err := types.Sender(types.LatestSigner(&other), tx); err == nil && from == accts[1].Address {
		t.Fatal("a signer of another chain id read the recorded sender")
	}
}
