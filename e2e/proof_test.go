package e2e

import (
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethdb/memorydb"
	"github.com/ethereum/go-ethereum/rlp"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"github.com/ethereum/go-ethereum/trie"
)

// TestProofAtLatestSeesPreconfirmedState: before its block seals, a
// preconfirmed transfer shows in eth_getProof at latest — on the sequencer
// and on a replica — as it does in eth_getBalance, with a proof that holds
// together; at the sealed block number the proof is the old state's.
func TestProofAtLatestSeesPreconfirmedState(t *testing.T) {
	d := startDevnet(t, "--block-time", "1h", "--roles", "sequencer,replica")
	seq := d.client(t)
	replica, err := gethrpc.Dial(d.ReplicaURL)
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Close()
	const to = "0x00000000000000000000000000000000000b0b01"
	h := sendTransfer(t, seq, mustKey(t, key1), 0, to, big.NewInt(12345))
	waitReceipt(t, seq, h, false)
	type proof struct {
		Balance      hexutil.Big     `json:"balance"`
		AccountProof []hexutil.Bytes `json:"accountProof"`
	}
	for name, c := range map[string]*gethrpc.Client{"sequencer": seq, "replica": replica} {
		deadline := time.Now().Add(10 * time.Second)
		var bal hexutil.Big
		for {
			if err := c.Call(&bal, "eth_getBalance", to, "latest"); err != nil {
				t.Fatal(err)
			}
			if bal.ToInt().Int64() == 12345 || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond) // the replica applies the mini-block when it arrives
		}
		var latest, sealed proof
		if err := c.Call(&latest, "eth_getProof", to, []string{}, "latest"); err != nil {
			t.Fatal(err)
		}
		if latest.Balance.ToInt().Int64() != 12345 || bal.ToInt().Int64() != 12345 {
			t.Fatalf("%s: eth_getProof at latest proves balance %s, eth_getBalance reads %s; want 12345 preconfirmed", name, latest.Balance.ToInt(), bal.ToInt())
		}
		nodes := memorydb.New()
		for _, n := range latest.AccountProof {
			_ = nodes.Put(crypto.Keccak256(n), n)
		}
		leaf, err := trie.VerifyProof(crypto.Keccak256Hash(latest.AccountProof[0]), crypto.Keccak256(common.HexToAddress(to).Bytes()), nodes)
		var acct types.StateAccount
		if err != nil || rlp.DecodeBytes(leaf, &acct) != nil || acct.Balance.Uint64() != 12345 {
			t.Fatalf("%s: the latest account proof does not prove balance 12345: %v", name, err)
		}
		var head hexutil.Uint64
		if err := c.Call(&head, "eth_blockNumber"); err != nil {
			t.Fatal(err)
		}
		if err := c.Call(&sealed, "eth_getProof", to, []string{}, head); err != nil {
			t.Fatal(err)
		}
		if sealed.Balance.ToInt().Sign() != 0 {
			t.Fatalf("%s: the sealed block %d already proves balance %s", name, head, sealed.Balance.ToInt())
		}
	}
}
