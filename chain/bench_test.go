package chain

import (
	"crypto/ecdsa"
	"math/big"
	"testing"
	"time"

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
	commitBlock(b, c, bb)
	signer := types.LatestSigner(c.config)
	txs := make([]*types.Transaction, n)
	to := common.HexToAddress("0xbeef")
	for i := range txs {
		txs[i] = types.MustSignNewTx(keys[i%len(keys)], signer, &types.DynamicFeeTx{ChainID: c.config.ChainID, Nonce: uint64(i / len(keys)), To: &to, Gas: params.TxGas, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei * 10), Value: big.NewInt(1)})
	}
	return c, txs
}

// commitBlock seals bb and makes it the chain's block 1, its state on disk.
func commitBlock(b testing.TB, c *testChain, bb *BlockBuilder) {
	sb, err := bb.Seal()
	if err != nil {
		b.Fatal(err)
	}
	if err := c.db.TrieDB().Commit(sb.Block.Root(), false); err != nil {
		b.Fatal(err)
	}
	c.headers[1] = sb.Block.Header()
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

// BenchmarkSealBlock measures SealState (post-execution, state root,
// state commit), which runs on the sequencer loop between the last
// mini-block of a block and the first of the next, for 12,000 txs, about
// what a 1 s block holds under the bench load here; finish-ms is Finish
// (witness encoding, state diff), which runs off the loop.
func BenchmarkSealBlock(b *testing.B) {
	for _, erc20 := range []bool{false, true} {
		name := "transfers"
		if erc20 {
			name = "erc20"
		}
		b.Run(name, func(b *testing.B) {
			c := newTestChain(&testing.T{})
			signer := types.LatestSigner(c.config)
			dev := c.accts[0]
			keys := make([]*ecdsa.PrivateKey, 200)
			for i := range keys {
				keys[i], _ = crypto.ToECDSA(crypto.Keccak256([]byte{byte(i), byte(i >> 8), 's'}))
			}
			token := crypto.CreateAddress(dev.Address, 0)
			sign := func(key *ecdsa.PrivateKey, nonce uint64, to common.Address, value int64, gas uint64, data []byte) *types.Transaction {
				return types.MustSignNewTx(key, signer, &types.DynamicFeeTx{ChainID: c.config.ChainID, Nonce: nonce, To: &to, Gas: gas,
					GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei * 10), Value: big.NewInt(value), Data: data})
			}
			// Block 1: the token, and every sender funded with ETH and tokens.
			setup := []*types.Transaction{types.MustSignNewTx(dev.Key, signer, &types.DynamicFeeTx{ChainID: c.config.ChainID, Gas: 300_000,
				GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei * 10), Data: TokenInit})}
			for i, k := range keys {
				addr := crypto.PubkeyToAddress(k.PublicKey)
				setup = append(setup, sign(dev.Key, uint64(1+2*i), addr, params.Ether, params.TxGas, nil),
					sign(dev.Key, uint64(2+2*i), token, 0, TokenTransferGas, TokenTransfer(addr, 1_000_000)))
			}
			parent := c.CurrentHeader()
			bb, err := NewBlockBuilder(c.config, c, c.db, parent, NextHeader(c.config, parent, parent.Time+1, DefaultGasLimit, common.Address{}))
			if err != nil {
				b.Fatal(err)
			}
			for _, tx := range setup {
				if r, err := bb.ApplyTx(tx); err != nil || r.Status != types.ReceiptStatusSuccessful {
					b.Fatalf("setup tx: %v", err)
				}
			}
			commitBlock(b, c, bb)
			sink := common.HexToAddress("0xbeef")
			txs := make([]*types.Transaction, 12_000)
			for i := range txs {
				k, nonce := keys[i%len(keys)], uint64(i/len(keys))
				if erc20 {
					txs[i] = sign(k, nonce, token, 0, TokenTransferGas, TokenTransfer(sink, 1))
				} else {
					txs[i] = sign(k, nonce, sink, 1, params.TxGas, nil)
				}
				_, _ = types.Sender(signer, txs[i])
			}
			var finish time.Duration
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				parent := c.headers[1]
				bb, err := NewBlockBuilder(c.config, c, c.db, parent, NextHeader(c.config, parent, parent.Time+1, DefaultGasLimit, common.Address{}))
				if err != nil {
					b.Fatal(err)
				}
				for _, tx := range txs {
					if r, err := bb.ApplyTx(tx); err != nil || r.Status != types.ReceiptStatusSuccessful {
						b.Fatalf("tx: %v", err)
					}
				}
				b.StartTimer()
				sb, err := bb.SealState()
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				start := time.Now()
				if err := sb.Finish(); err != nil {
					b.Fatal(err)
				}
				finish += time.Since(start)
				b.StartTimer()
			}
			b.ReportMetric(float64(finish.Microseconds())/1e3/float64(b.N), "finish-ms/op")
		})
	}
}
