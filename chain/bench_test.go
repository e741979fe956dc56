package chain

import (
	"crypto/ecdsa"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
)

// benchTransfers signs n transfers from distinct funded senders and returns
// a chain whose genesis funds them.
func benchTransfers(b testing.TB, n int) (*testChain, []*types.Transaction) {
	c := newTestChain(&testing.T{})
	keys := make([]*ecdsa.PrivateKey, 0, 64)
	for i := 0; i < 64; i++ {
		k, _ := crypto.ToECDSA(crypto.Keccak256([]byte{byte(i), 'b'}))
		keys = append(keys, k)
	}
	// Fund the senders with one block from dev account 0.
	parent := c.CurrentHeader()
	bb, err := NewBlockBuilder(c.config, c, c.db, parent, NextHeader(c.config, parent, parent.Time+1, DefaultGasLimit, common.Address{}))
	if err != nil {
		b.Fatal(err)
	}
	for i, k := range keys {
		tx := c.transfer(&testing.T{}, 0, uint64(i), crypto.PubkeyToAddress(k.PublicKey), params.Ether)
		if _, err := bb.ApplyTx(tx); err != nil {
			b.Fatal(err)
		}
	}
	sb, err := bb.Seal()
	if err != nil {
		b.Fatal(err)
	}
	if err := c.db.TrieDB().Commit(sb.Block.Root(), false); err != nil {
		b.Fatal(err)
	}
	c.headers[1] = sb.Block.Header()
	signer := types.LatestSigner(c.config)
	txs := make([]*types.Transaction, n)
	to := common.HexToAddress("0xbeef")
	for i := range txs {
		txs[i] = types.MustSignNewTx(keys[i%len(keys)], signer, &types.DynamicFeeTx{ChainID: c.config.ChainID, Nonce: uint64(i / len(keys)), To: &to, Gas: params.TxGas, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei * 10), Value: big.NewInt(1)})
	}
	return c, txs
}

// BenchmarkExecuteTransfers measures executing and sealing blocks of ETH
// transfers with senders already recovered (as the pool does at admission),
// and with recovery on the execution path.
func BenchmarkExecuteTransfers(b *testing.B) {
	for _, recovered := range []bool{true, false} {
		name := "senders-recovered"
		if !recovered {
			name = "with-sender-recovery"
		}
		b.Run(name, func(b *testing.B) {
			c, txs := benchTransfers(b, 2000)
			signer := types.LatestSigner(c.config)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				batch := make([]*types.Transaction, len(txs))
				for j, tx := range txs {
					// Fresh copies drop the cached sender.
					raw, _ := tx.MarshalBinary()
					batch[j] = new(types.Transaction)
					_ = batch[j].UnmarshalBinary(raw)
					if recovered {
						_, _ = types.Sender(signer, batch[j])
					}
				}
				parent := c.headers[1]
				bb, err := NewBlockBuilder(c.config, c, c.db, parent, NextHeader(c.config, parent, parent.Time+1, DefaultGasLimit, common.Address{}))
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				for _, tx := range batch {
					if _, err := bb.ApplyTx(tx); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := bb.Seal(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(txs)*b.N)/b.Elapsed().Seconds(), "transfers/s")
		})
	}
}
