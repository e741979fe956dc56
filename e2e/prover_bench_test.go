package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
)

// BenchmarkProverUnderLoad runs a sequencer and a prover as processes, pushes
// BENCH_PROVER_TXS transfers (default 200,000) through the sequencer with
// `meganode bench` as fast as it takes them, so blocks carry 10,000 txs and
// more, and waits until the prover attested every block. A second prover
// then catches up from block 1: more loaded blocks than it may hold, so it
// runs into its bound. It reports both provers' peak RSS and how long blocks
// took from sealed to proven, and what the DA layer took at that load
// (blobs per minute, blob bytes per transfer; one block a second). Run once:
//
//	go test -run '^$' -bench BenchmarkProverUnderLoad -benchtime 1x ./e2e/
func BenchmarkProverUnderLoad(b *testing.B) {
	txs := 200_000
	if s := os.Getenv("BENCH_PROVER_TXS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("BENCH_PROVER_TXS: %v", err)
		}
		txs = n
	}
	dir := b.TempDir()
	seqKey, seqAddr := writeKey(b, dir, "sequencer.key")
	proverKey, proverAddr := writeKey(b, dir, "prover.key")
	da := startMeganode(b, "da", "--port", "0", "--datadir", filepath.Join(dir, "da"), "--log.level", "warn")
	seq := startMeganode(b, "sequencer", "--datadir", filepath.Join(dir, "seq"), "--sequencer.key", seqKey, "--p2p.listen", "/ip4/127.0.0.1/tcp/0",
		"--prover.addresses", proverAddr.Hex(), "--finality.window", "1s", "--log.level", "warn", "--da.url", da.URL)
	prover := startMeganode(b, "prover", "--datadir", filepath.Join(dir, "prover"), "--prover.key", proverKey, "--sequencer.address", seqAddr.Hex(),
		"--p2p.listen", "/ip4/127.0.0.1/tcp/0", "--p2p.peers", seq.P2P, "--log.level", "warn")

	b.ResetTimer()
	for range b.N {
		out := filepath.Join(dir, "load.json")
		run(b, "", meganodeBin(b), "bench", "--rpc", seq.URL, "--txs", strconv.Itoa(txs), "--senders", "200", "--conns", "4",
			"--batch", "100", "--latency", "0", "--json", out)
		var load struct{ Included int }
		data, err := os.ReadFile(out)
		if err != nil || json.Unmarshal(data, &load) != nil || load.Included < txs {
			b.Fatalf("load: %s (%v)", data, err)
		}
	}
	b.StopTimer()

	c := seq.client(b)
	var head hexutil.Uint64
	if err := c.Call(&head, "eth_blockNumber"); err != nil {
		b.Fatal(err)
	}
	// Every block up to the head proven: the prover kept up.
	pollFinality(b, seq, seq.URL, head, "finalized")
	var sizes []int
	var lags []time.Duration
	for n := uint64(1); n <= uint64(head); n++ {
		var count hexutil.Uint64
		if err := c.Call(&count, "eth_getBlockTransactionCountByNumber", hexutil.EncodeUint64(n)); err != nil {
			b.Fatal(err)
		}
		var f finality
		if err := c.Call(&f, "mega_getFinality", hexutil.EncodeUint64(n)); err != nil {
			b.Fatal(err)
		}
		if count > 1000 {
			sizes = append(sizes, int(count))
			lags = append(lags, time.Duration(f.Timestamps["proven"]-f.Timestamps["sealed"])*time.Millisecond)
		}
	}
	if len(sizes) == 0 {
		b.Fatal("no block carried more than 1,000 txs")
	}
	// The DA layer at full load: blobs and bytes of the loaded blocks.
	var blobs []struct {
		FirstBlock, LastBlock, Size hexutil.Uint64
	}
	if err := c.Call(&blobs, "mega_getDACommitments", "0x1"); err != nil {
		b.Fatal(err)
	}
	var loadedBlobs, loadedBytes, loadedTxs float64
	loaded := map[uint64]int{}
	for n := uint64(1); n <= uint64(head); n++ {
		var count hexutil.Uint64
		if err := c.Call(&count, "eth_getBlockTransactionCountByNumber", hexutil.EncodeUint64(n)); err != nil {
			b.Fatal(err)
		}
		if count > 1000 {
			loaded[n] = int(count)
		}
	}
	for _, blob := range blobs {
		if _, ok := loaded[uint64(blob.FirstBlock)]; !ok {
			continue
		}
		loadedBlobs++
		loadedBytes += float64(blob.Size)
		for n := blob.FirstBlock; n <= blob.LastBlock; n++ {
			loadedTxs += float64(loaded[uint64(n)])
		}
	}
	b.ReportMetric(loadedBlobs/float64(len(loaded))*60, "da-blobs/min")
	b.ReportMetric(loadedBytes/loadedTxs, "da-bytes/tx")
	slices.Sort(lags)
	rss := peakRSS(b, prover.cmd.Process.Pid)
	b.ReportMetric(float64(rss>>20), "prover-peak-MiB")
	b.ReportMetric(float64(slices.Max(sizes)), "max-txs/block")
	b.ReportMetric(float64(len(sizes)), "loaded-blocks")
	b.ReportMetric(float64(lags[len(lags)/2].Milliseconds()), "p50-proven-ms")
	b.ReportMetric(float64(lags[len(lags)-1].Milliseconds()), "max-proven-ms")

	// A prover started after the load catches up from block 1: the backlog
	// case, where it fetches and holds as many blocks as it is allowed.
	lateKey, _ := writeKey(b, dir, "late.key")
	start := time.Now()
	late := startMeganode(b, "prover", "--datadir", filepath.Join(dir, "late"), "--prover.key", lateKey, "--sequencer.address", seqAddr.Hex(),
		"--p2p.listen", "/ip4/127.0.0.1/tcp/0", "--p2p.peers", seq.P2P, "--log.level", "warn")
	for deadline := time.Now().Add(5 * time.Minute); metric(b, late, "meganode_prover_attested_total") < float64(head); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("the late prover attested %v of %d blocks in 5 minutes", metric(b, late, "meganode_prover_attested_total"), head)
		}
	}
	lateRSS := peakRSS(b, late.cmd.Process.Pid)
	b.ReportMetric(float64(lateRSS>>20), "catchup-peak-MiB")
	b.ReportMetric(float64(time.Since(start).Milliseconds()), "catchup-ms")
	for _, r := range []uint64{rss, lateRSS} {
		if r > 512<<20 {
			b.Errorf("prover peak RSS %d MiB, above 512 MiB", r>>20)
		}
	}
}
