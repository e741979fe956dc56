package chain

import (
	"fmt"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/trie"
)

// The roots the builder hashes as txs apply must be the ones geth's
// AssembleBlock derives from the whole lists, for every list length around
// the index-zero reordering DeriveSha does at 0x7f/0x80, with logs.
func TestSealRootsMatchGethAssembly(t *testing.T) {
	for _, n := range []int{0, 1, 2, 126, 127, 128, 129, 300} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			c, txs := benchTransfers(t, n)
			parent := c.headers[1]
			bb, err := NewBlockBuilder(c.config, c, c.db, parent, NextHeader(c.config, parent, parent.Time+1, DefaultGasLimit, common.Address{}))
			if err != nil {
				t.Fatal(err)
			}
			signer := types.LatestSigner(c.config)
			var token common.Address
			if n > 0 { // a token with Transfer events, so the blooms are not empty
				dev := c.accts[0]
				token = crypto.CreateAddress(dev.Address, 64)
				deploy := types.MustSignNewTx(dev.Key, signer, &types.DynamicFeeTx{ChainID: c.config.ChainID, Nonce: 64, Gas: 300_000, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei * 10), Data: TokenInit})
				pay := types.MustSignNewTx(dev.Key, signer, &types.DynamicFeeTx{ChainID: c.config.ChainID, Nonce: 65, To: &token, Gas: TokenTransferGas, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei * 10), Data: TokenTransfer(common.HexToAddress("0xbeef"), 7)})
				txs = append([]*types.Transaction{deploy, pay}[:min(n, 2)], txs[:n-min(n, 2)]...)
			}
			for _, tx := range txs {
				if _, err := bb.ApplyTx(tx); err != nil {
					t.Fatal(err)
				}
			}
			sb, err := bb.Seal()
			if err != nil {
				t.Fatal(err)
			}
			if len(sb.Block.Transactions()) != n {
				t.Fatalf("sealed %d txs, want %d", len(sb.Block.Transactions()), n)
			}
			h := sb.Block.Header()
			want := types.NewBlock(h, &types.Body{Transactions: txs, Withdrawals: []*types.Withdrawal{}}, sb.Receipts, trie.NewStackTrie(nil))
			if got := sb.Block.Header(); got.TxHash != want.TxHash() || got.ReceiptHash != want.ReceiptHash() || got.Bloom != want.Bloom() {
				t.Fatalf("roots differ from geth's:\ntx %s want %s\nreceipts %s want %s\nbloom equal %v", got.TxHash, want.TxHash(), got.ReceiptHash, want.ReceiptHash(), got.Bloom == want.Bloom())
			}
			if sb.Block.Hash() != want.Hash() {
				t.Fatalf("block hash %s, geth assembles %s", sb.Block.Hash(), want.Hash())
			}
			if n > 1 && (want.Bloom() == types.Bloom{}) {
				t.Fatal("token transfer left no bloom: the test does not cover logs")
			}
		})
	}
}
