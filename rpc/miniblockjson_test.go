package rpc

import (
	"bytes"

	"math/big"
	"testing"

	"github.com/holiman/uint256"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/meganode/meganode/chain"
)

// TestMiniBlockJSON holds the direct miniBlocks encoder to encoding/json's
// bytes for every tx type and receipt shape.
func TestMiniBlockJSON(t *testing.T) {
	cfg := chain.DefaultConfig().ChainConfig()
	api := &EthAPI{config: cfg, signer: types.LatestSigner(cfg)}
	key, _ := crypto.ToECDSA(crypto.Keccak256([]byte("miniblock json")))
	to := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	sign := func(signer types.Signer, inner types.TxData) *types.Transaction {
		tx, err := types.SignNewTx(key, signer, inner)
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	al := types.AccessList{{Address: to, StorageKeys: []common.Hash{{1}, {2}}}}
	auth, err := types.SignSetCode(key, types.SetCodeAuthorization{ChainID: *uint256.MustFromBig(cfg.ChainID), Address: to, Nonce: 7})
	if err != nil {
		t.Fatal(err)
	}
	latest := types.LatestSigner(cfg)
	txs := types.Transactions{
		sign(types.HomesteadSigner{}, &types.LegacyTx{Nonce: 0, GasPrice: big.NewInt(1e9), Gas: 21000, To: &to, Value: big.NewInt(1)}),
		sign(latest, &types.LegacyTx{Nonce: 1, GasPrice: big.NewInt(2e9), Gas: 21000, To: &to, Value: big.NewInt(0), Data: []byte{1, 2}}),
		sign(latest, &types.AccessListTx{ChainID: cfg.ChainID, Nonce: 2, GasPrice: big.NewInt(3e9), Gas: 50000, To: &to, AccessList: al}),
		sign(latest, &types.DynamicFeeTx{ChainID: cfg.ChainID, Nonce: 3, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(5e9), Gas: 90000, Data: []byte{0x60, 0}}),
		sign(latest, &types.DynamicFeeTx{ChainID: cfg.ChainID, Nonce: 4, GasTipCap: big.NewInt(0), GasFeeCap: big.NewInt(5e9), Gas: 60000, To: &to, Data: bytes.Repeat([]byte{0xab}, 68)}),
		sign(latest, &types.BlobTx{ChainID: uint256.MustFromBig(cfg.ChainID), Nonce: 5, GasTipCap: uint256.NewInt(1), GasFeeCap: uint256.NewInt(6e9), Gas: 21000, To: to,
			BlobFeeCap: uint256.NewInt(3), BlobHashes: []common.Hash{{0x01, 9}}}),
		sign(latest, &types.SetCodeTx{ChainID: uint256.MustFromBig(cfg.ChainID), Nonce: 6, GasTipCap: uint256.NewInt(1), GasFeeCap: uint256.NewInt(6e9), Gas: 80000, To: to,
			AuthList: []types.SetCodeAuthorization{auth}}),
	}
	preconf := common.HexToHash("0x1234")
	receipts := make([]*types.Receipt, len(txs))
	for i, tx := range txs {
		r := &types.Receipt{Type: tx.Type(), Status: uint64(i % 2), CumulativeGasUsed: uint64(21000 * (i + 1)), GasUsed: 21000,
			TxHash: tx.Hash(), BlockHash: preconf, BlockNumber: big.NewInt(9), TransactionIndex: uint(i), EffectiveGasPrice: big.NewInt(int64(1e9 + i))}
		switch i {
		case 0:
			r.PostState = common.Hash{7}.Bytes()
		case 1:
			r.EffectiveGasPrice = nil
		case 3:
			r.ContractAddress = crypto.CreateAddress(from(t, api, tx), tx.Nonce())
			r.Logs = []*types.Log{}
		case 4:
			r.Logs = []*types.Log{
				{Address: to, Topics: []common.Hash{{0xdd}, {1}, {2}}, Data: common.LeftPadBytes([]byte{1}, 32), BlockNumber: 9, TxHash: tx.Hash(), TxIndex: 4, BlockHash: preconf, BlockTimestamp: 77, Index: 0},
				{Address: to, Data: nil, BlockNumber: 9, TxHash: tx.Hash(), TxIndex: 4, BlockHash: preconf, Index: 1, Removed: true},
			}
		case 5:
			r.BlobGasUsed, r.BlobGasPrice = 131072, big.NewInt(1)
		}
		r.Bloom = types.CreateBloom(r)
		receipts[i] = r
	}
	for _, mb := range []*chain.MiniBlock{
		{BlockNumber: 9, BlockTimestamp: 77, Index: 3, Number: 1234, TimestampMicros: 77_000_123, GasUsed: 147000, Txs: txs, Receipts: receipts},
		{BlockNumber: 10, BlockTimestamp: 78, Index: 0, Number: 1235, TimestampMicros: 78_000_000, Txs: types.Transactions{}, Receipts: []*types.Receipt{}},
	} {
		want := mustJSON(api.marshalMiniBlock(mb))
		if got := api.appendMiniBlock(nil, mb); !bytes.Equal(got, want) {
			t.Fatalf("mini-block %d encodes differently\n got %s\nwant %s", mb.Number, got, want)
		}
	}
}

func from(t *testing.T, api *EthAPI, tx *types.Transaction) common.Address {
	t.Helper()
	addr, err := types.Sender(api.signer, tx)
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// BenchmarkMiniBlockJSON compares the direct encoder with encoding/json on a
// mini-block of 150 ERC-20 transfers (each with one log).
func BenchmarkMiniBlockJSON(b *testing.B) {
	cfg := chain.DefaultConfig().ChainConfig()
	api := &EthAPI{config: cfg, signer: types.LatestSigner(cfg)}
	key, _ := crypto.ToECDSA(crypto.Keccak256([]byte("miniblock json")))
	token := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	mb := &chain.MiniBlock{BlockNumber: 9, BlockTimestamp: 77, Index: 3, Number: 1234, TimestampMicros: 77_000_123}
	for i := range 150 {
		tx := types.MustSignNewTx(key, api.signer, &types.DynamicFeeTx{ChainID: cfg.ChainID, Nonce: uint64(i), GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(5e9), Gas: 60000,
			To: &token, Data: chain.TokenTransfer(token, 1)})
		r := &types.Receipt{Type: tx.Type(), Status: 1, GasUsed: 35000, CumulativeGasUsed: uint64(35000 * (i + 1)), TxHash: tx.Hash(), BlockHash: common.Hash{1},
			TransactionIndex: uint(i), EffectiveGasPrice: big.NewInt(1e9), Logs: []*types.Log{{Address: token, Topics: []common.Hash{{0xdd}, {1}, {2}},
				Data: common.LeftPadBytes([]byte{1}, 32), BlockNumber: 9, TxHash: tx.Hash(), TxIndex: uint(i), BlockHash: common.Hash{1}, Index: uint(i)}}}
		r.Bloom = types.CreateBloom(r)
		mb.Txs, mb.Receipts = append(mb.Txs, tx), append(mb.Receipts, r)
	}
	b.Run("direct", func(b *testing.B) {
		for range b.N {
			api.appendMiniBlock(make([]byte, 0, 256+1600*len(mb.Txs)), mb)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for range b.N {
			mustJSON(api.marshalMiniBlock(mb))
		}
	})
}
