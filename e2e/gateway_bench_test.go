package e2e

import (
	"bytes"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkGatewayOverhead runs a sequencer, a replica and a gateway in
// front of them as processes and measures, in the same run, reads sent to
// the replica directly and through the gateway: the latency of sequential
// eth_getBalance calls on one keep-alive connection (p50, p99) and the
// requests per second of 8 concurrent clients. The load generator shares
// the machine's 2 cores with the processes. Run once:
//
//	go test -run '^$' -bench BenchmarkGatewayOverhead -benchtime 1x ./e2e/
func BenchmarkGatewayOverhead(b *testing.B) {
	dir := b.TempDir()
	seqKey, seqAddr := writeKey(b, dir, "sequencer.key")
	seq := startMeganode(b, "sequencer", "--datadir", filepath.Join(dir, "seq"), "--sequencer.key", seqKey,
		"--p2p.listen", "/ip4/127.0.0.1/tcp/0", "--log.level", "warn")
	rep := startMeganode(b, "replica", "--datadir", filepath.Join(dir, "rep"), "--p2p.listen", "/ip4/127.0.0.1/tcp/0",
		"--sequencer.address", seqAddr.Hex(), "--sequencer.url", seq.URL, "--p2p.peers", seq.P2P, "--log.level", "warn")
	gw := startMeganode(b, "gateway", "--sequencer", seq.URL, "--replica", rep.URL, "--log.level", "warn")
	body := []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["` + addr2 + `","latest"]}`)

	const samples, workers, window = 5000, 8, 3 * time.Second
	type result struct{ p50, p99, rps float64 }
	measure := func(url string) result {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
		call := func() {
			resp, err := client.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.Contains(out, []byte(`"result"`)) {
				b.Fatalf("%s answered %s", url, out)
			}
		}
		for range 200 { // warm-up: connections, caches
			call()
		}
		lat := make([]time.Duration, samples)
		for i := range lat {
			start := time.Now()
			call()
			lat[i] = time.Since(start)
		}
		slices.Sort(lat)
		var done atomic.Int64
		var wg sync.WaitGroup
		stop := time.Now().Add(window)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(stop) {
					call()
					done.Add(1)
				}
			}()
		}
		wg.Wait()
		us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
		return result{us(lat[samples/2]), us(lat[samples*99/100]), float64(done.Load()) / window.Seconds()}
	}

	b.ResetTimer()
	var direct, via result
	for range b.N {
		direct, via = measure(rep.URL), measure(gw.URL)
	}
	b.StopTimer()
	b.ReportMetric(direct.p50, "direct-p50-us")
	b.ReportMetric(direct.p99, "direct-p99-us")
	b.ReportMetric(via.p50, "gateway-p50-us")
	b.ReportMetric(via.p99, "gateway-p99-us")
	b.ReportMetric(via.p50-direct.p50, "added-p50-us")
	b.ReportMetric(via.p99-direct.p99, "added-p99-us")
	b.ReportMetric(direct.rps, "direct-req/s")
	b.ReportMetric(via.rps, "gateway-req/s")
}
