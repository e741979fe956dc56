package node

import (
	"context"
	"math/big"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethdb/memorydb"
	"github.com/ethereum/go-ethereum/params"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/eigenda"
	"github.com/meganode/meganode/replica"
	"github.com/meganode/meganode/storage"
)

// sliceIndex is a commitment index held in memory.
type sliceIndex []*chain.DACommitment

func (s sliceIndex) Commitments(_ context.Context, from uint64, limit int) ([]*chain.DACommitment, error) {
	var out []*chain.DACommitment
	for _, c := range s {
		if c.Last >= from && len(out) < limit {
			out = append(out, c)
		}
	}
	return out, nil
}

// BenchmarkDeriveFromDA times a fresh replica deriving BENCH_DERIVE_BLOCKS
// blocks (default 10,000, each with 10 transfers, one blob per block as the
// batcher posts them when it keeps up) from the embedded DA server over
// HTTP: blob fetch, decode, sequencer signature check, state diff applied
// and checked against the header, persisted. Building the chain and posting
// it are not timed. Run once:
//
//	go test -run '^$' -bench BenchmarkDeriveFromDA -benchtime 1x ./node/
func BenchmarkDeriveFromDA(b *testing.B) {
	blocks := 10_000
	if s := os.Getenv("BENCH_DERIVE_BLOCKS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		blocks = n
	}
	const txsPerBlock = 10
	g, accts, err := chain.Genesis(chain.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	src, err := storage.Open(storage.Config{}, g, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	config := src.ChainConfig()
	key, _ := crypto.GenerateKey()
	da := eigenda.NewServer(memorydb.New(), eigenda.DefaultMemConfig(), zerolog.Nop())
	hs := httptest.NewServer(da)
	defer hs.Close()
	client, err := eigenda.NewHTTPClient(eigenda.DefaultHTTPConfig(hs.URL))
	if err != nil {
		b.Fatal(err)
	}
	signer := types.LatestSigner(config)
	to := common.HexToAddress("0xbeef")
	nonces := make([]uint64, len(accts))
	var index sliceIndex
	var daBytes uint64
	for n := uint64(1); n <= uint64(blocks); n++ {
		parent := src.CurrentHeader()
		bb, err := chain.NewBlockBuilder(config, src, src.StateDatabase(), parent, chain.NextHeader(config, parent, parent.Time+1, chain.DefaultGasLimit, common.Address{}))
		if err != nil {
			b.Fatal(err)
		}
		var senders []common.Address
		for i := range txsPerBlock {
			a := accts[i%len(accts)]
			tx := types.MustSignNewTx(a.Key, signer, &types.DynamicFeeTx{ChainID: config.ChainID, Nonce: nonces[i%len(accts)], To: &to, Value: big.NewInt(1),
				Gas: params.TxGas, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei * 10)})
			nonces[i%len(accts)]++
			if _, err := bb.ApplyTx(tx); err != nil {
				b.Fatal(err)
			}
			senders = append(senders, a.Address)
		}
		sb, err := bb.Seal()
		if err != nil {
			b.Fatal(err)
		}
		if err := src.WriteSealed(sb, n); err != nil {
			b.Fatal(err)
		}
		blob, err := eigenda.EncodeBlob([]eigenda.BlobBlock{blobBlock(b, key, config.ChainID.Uint64(), sb, n, senders)})
		if err != nil {
			b.Fatal(err)
		}
		commitment, err := client.Put(context.Background(), blob)
		if err != nil {
			b.Fatal(err)
		}
		daBytes += uint64(len(blob))
		index = append(index, &chain.DACommitment{Seq: n, First: n, Last: n, LastHash: sb.Block.Hash(), Commitment: commitment, Size: uint64(len(blob))})
	}

	b.ResetTimer()
	for range b.N {
		store, err := storage.Open(storage.Config{Dir: b.TempDir(), NoSync: true}, g, zerolog.Nop())
		if err != nil {
			b.Fatal(err)
		}
		rep, err := replica.New(replica.DefaultConfig(), store, zerolog.Nop())
		if err != nil {
			b.Fatal(err)
		}
		rep.Start(nil)
		r := &Role{Name: RoleReplica, log: zerolog.Nop(), store: store, registry: prometheus.NewRegistry()}
		cfg := RoleConfig{SequencerAddress: crypto.PubkeyToAddress(key.PublicKey), DA: DAConfig{URL: hs.URL, SyncFrom: true}}
		d, err := derivation(cfg, index, store, rep.Deliver, false, rep.Heads, rep.Healthy, r)
		if err != nil {
			b.Fatal(err)
		}
		heads := rep.Heads(1024)
		ctx, cancel := context.WithCancel(context.Background())
		start := time.Now()
		done := make(chan struct{})
		go func() { d.Run(ctx); close(done) }()
		for store.CurrentHeader().Number.Uint64() < uint64(blocks) {
			select {
			case <-heads.C():
			case <-heads.Err():
				heads = rep.Heads(1024)
			case <-time.After(time.Minute):
				b.Fatalf("derivation stalled at block %d: %v", store.CurrentHeader().Number, rep.Healthy())
			}
		}
		took := time.Since(start)
		cancel()
		<-done
		rep.Stop()
		if got, want := store.CurrentHeader().Root, src.CurrentHeader().Root; got != want {
			b.Fatalf("derived state root %s, want %s", got, want)
		}
		store.Close()
		b.ReportMetric(took.Seconds(), "derive-s")
		b.ReportMetric(float64(blocks)/took.Seconds(), "blocks/s")
	}
	b.ReportMetric(float64(daBytes)/float64(blocks*txsPerBlock), "da-bytes/tx")
}
