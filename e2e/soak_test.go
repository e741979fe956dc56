package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// soakConfig sizes a soak run. The short form runs in `make e2e`; `make
// soak` runs the long form (SOAK_LONG=1): 30 minutes at half the load the
// chaos suite's network is sized for (issue 29: 2,000 tx/s).
type soakConfig struct {
	chaos    chaosConfig   // the network's load: rate, senders, subscribers
	warmup   time.Duration // load before the first sample the slopes use
	duration time.Duration // sampled time after the warmup
	every    time.Duration // sampling period
	// Bounds on the Theil–Sen slopes (per minute) of every process, and on
	// how far the interval p99 may drift.
	maxGoroutines, maxFDs, maxRSSMiB float64
}

func soakConfigFromEnv(t *testing.T) soakConfig {
	t.Helper()
	// Short: on a loaded 2-core machine goroutines move by tens between
	// samples and RSS still climbs 50–80 MiB a minute in the first minute
	// (GOGC=400, pebble's memtables, the websocket replay buffer filling):
	// the bounds catch what leaks with every tx or mini-block (tens to
	// hundreds a second), not slower drift; that is the long form's job.
	c := soakConfig{chaos: chaosConfig{rate: 200, senders: 8, subs: 20, hold: time.Second},
		warmup: 10 * time.Second, duration: 45 * time.Second, every: 3 * time.Second,
		maxGoroutines: 120, maxFDs: 30, maxRSSMiB: 256}
	if os.Getenv("SOAK_LONG") != "" {
		// Half of the chaos long form's 2,000 tx/s sizing; after a warmup
		// that fills the caches and replay buffers, flat means flat.
		c = soakConfig{chaos: chaosConfig{long: true, rate: 1000, senders: 32, subs: 200, hold: time.Second},
			warmup: 5 * time.Minute, duration: 30 * time.Minute, every: time.Minute,
			maxGoroutines: 5, maxFDs: 1, maxRSSMiB: 16}
	}
	if raceBinary(t) {
		// The race detector takes 5–10 times the memory, and its RSS
		// climbs as fast in proportion.
		c.maxRSSMiB *= 4
	}
	for name, p := range map[string]*float64{"SOAK_MAX_GOROUTINES": &c.maxGoroutines, "SOAK_MAX_FDS": &c.maxFDs, "SOAK_MAX_RSS_MIB": &c.maxRSSMiB} {
		if v := os.Getenv(name); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 {
				t.Fatalf("%s=%q: want a number ≥ 0 (per minute)", name, v)
			}
			*p = f
		}
	}
	for name, p := range map[string]*int{"SOAK_RATE": &c.chaos.rate, "SOAK_SENDERS": &c.chaos.senders, "SOAK_SUBS": &c.chaos.subs} {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				t.Fatalf("%s=%q: want a positive integer", name, v)
			}
			*p = n
		}
	}
	for name, p := range map[string]*time.Duration{"SOAK_WARMUP": &c.warmup, "SOAK_DURATION": &c.duration, "SOAK_EVERY": &c.every} {
		if v := os.Getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				t.Fatalf("%s=%q: want a positive duration", name, v)
			}
			*p = d
		}
	}
	return c
}

// raceBinary tells whether the meganode binary under test was built with
// -race (make e2e-race), from its build information.
func raceBinary(t *testing.T) bool {
	t.Helper()
	out, err := exec.Command("go", "version", "-m", meganodeBin(t)).Output()
	if err != nil {
		t.Fatalf("go version -m %s: %v", meganodeBin(t), err)
	}
	return regexp.MustCompile(`(?m)^\s+build\s+-race=true$`).Match(out)
}

// soakSample is one scrape of one process's /metrics.
type soakSample struct {
	Goroutines, FDs float64
	RSSMiB          float64
}

// soakPoint is one sampling round: every process, and the network's
// mini-block interval since the previous round.
type soakPoint struct {
	At         time.Duration // since the warmup ended
	Procs      map[string]soakSample
	IntervalUS float64 // p99, the upper bound of its histogram bucket (−1: over the last)
	MeanUS     float64
	MiniBlocks uint64
}

// scrapeProcess reads the process gauges and the mini-block interval
// histogram (cumulative buckets, count, sum) from url/metrics.
func scrapeProcess(url string) (soakSample, map[float64]float64, float64, float64, error) {
	var s soakSample
	buckets := map[float64]float64{}
	var count, sum float64
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return s, nil, 0, 0, err
	}
	defer resp.Body.Close()
	const hist = "meganode_sequencer_miniblock_interval_seconds"
	found := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(key, "#") {
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		switch {
		case key == "go_goroutines":
			s.Goroutines, found = v, found+1
		case key == "process_open_fds":
			s.FDs, found = v, found+1
		case key == "process_resident_memory_bytes":
			s.RSSMiB, found = v/(1<<20), found+1
		case strings.HasPrefix(key, hist+`_bucket{le="`):
			le := strings.TrimSuffix(strings.TrimPrefix(key, hist+`_bucket{le="`), `"}`)
			b := math.Inf(1)
			if le != "+Inf" {
				b, _ = strconv.ParseFloat(le, 64)
			}
			buckets[b] = v
		case key == hist+"_count":
			count = v
		case key == hist+"_sum":
			sum = v
		}
	}
	if err := sc.Err(); err != nil {
		return s, nil, 0, 0, err
	}
	if found != 3 {
		return s, nil, 0, 0, fmt.Errorf("%s/metrics: no go_goroutines, process_open_fds or process_resident_memory_bytes", url)
	}
	return s, buckets, count, sum, nil
}

// histP99 is the upper bound of the bucket that holds the 99th percentile
// of the observations between two cumulative scrapes.
func histP99(before, after map[float64]float64, count float64) float64 {
	bounds := make([]float64, 0, len(after))
	for b := range after {
		bounds = append(bounds, b)
	}
	sort.Float64s(bounds)
	for _, b := range bounds {
		if after[b]-before[b] >= 0.99*count {
			if math.IsInf(b, 1) {
				return -1
			}
			return b
		}
	}
	return -1
}

// leastSquares is the slope of ys over xs.
func leastSquares(xs, ys []float64) float64 {
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx, my = mx/float64(len(xs)), my/float64(len(xs))
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	if den == 0 {
		return 0
	}
	return num / den
}

// theilSen is the median of the slopes between every pair of points: one
// outlier sample (a GC, a neighbour's burst on the machine) cannot tilt it.
func theilSen(xs, ys []float64) float64 {
	var slopes []float64
	for i := range xs {
		for j := i + 1; j < len(xs); j++ {
			if xs[j] != xs[i] {
				slopes = append(slopes, (ys[j]-ys[i])/(xs[j]-xs[i]))
			}
		}
	}
	if len(slopes) == 0 {
		return 0
	}
	slices.Sort(slopes)
	return slopes[len(slopes)/2]
}

func TestSlopes(t *testing.T) {
	xs := []float64{0, 1, 2, 3, 4, 5, 6, 7}
	flat := []float64{10, 12, 9, 11, 10, 60, 10, 11} // one outlier
	line := []float64{0, 2, 4, 6, 8, 10, 12, 14}
	if got := theilSen(xs, flat); math.Abs(got) > 0.5 {
		t.Errorf("Theil–Sen slope of a flat series with an outlier: got %v, want about 0", got)
	}
	if got := theilSen(xs, line); got != 2 {
		t.Errorf("Theil–Sen slope of 2x: got %v, want 2", got)
	}
	if got := leastSquares(xs, line); math.Abs(got-2) > 1e-9 {
		t.Errorf("least-squares slope of 2x: got %v, want 2", got)
	}
	before := map[float64]float64{0.01: 10, 0.015: 10, math.Inf(1): 10}
	after := map[float64]float64{0.01: 60, 0.015: 109, math.Inf(1): 110}
	if got := histP99(before, after, 100); got != 0.015 {
		t.Errorf("p99 of 50 ≤ 10 ms, 49 ≤ 15 ms, 1 over: got %v, want 0.015", got)
	}
}

// TestSoak runs the chaos suite's network (three HA candidates, two
// replicas, a full node, a prover and the gateway) under its steady load
// through the gateway with websocket subscribers, no faults, and samples
// every process's RSS, goroutines and open files and the network's
// mini-block interval p99. After the warmup their per-minute slopes must
// stay under the bounds (leaks grow linearly), the interval p99 must not
// drift, and every preconfirmed tx must be in the chain at its place. The
// short form takes about a minute; `make soak` runs the long form
// (docs/operations.md, "Soak").
func TestSoak(t *testing.T) {
	cfg := soakConfigFromEnv(t)
	n := startChaosNet(t, cfg.chaos)
	k := startChaosClients(t, n, cfg.chaos)
	procs := map[string]*devnet{n.prover.name: n.prover.d, n.gw.name: n.gw.d}
	for name, d := range n.chainNodes() {
		procs[name] = d
	}
	names := make([]string, 0, len(procs))
	for name := range procs {
		names = append(names, name)
	}
	sort.Strings(names)

	var points []soakPoint
	prev := map[string]map[float64]float64{}
	prevCount, prevSum := map[string]float64{}, map[string]float64{}
	began := time.Now().Add(cfg.warmup)
	sample := func() {
		p := soakPoint{At: time.Since(began), Procs: map[string]soakSample{}}
		sum := map[float64]float64{}
		var before = map[float64]float64{}
		var count, total float64
		for _, name := range names {
			s, buckets, c, sm, err := scrapeProcess(procs[name].URL)
			if err != nil {
				t.Fatalf("sample %s: %v", name, err)
			}
			p.Procs[name] = s
			if !strings.HasPrefix(name, "candidate-") {
				continue
			}
			// Only the leader observes intervals: summed over the
			// candidates, the deltas are the network's.
			for b, v := range buckets {
				sum[b] += v
				before[b] += prev[name][b]
			}
			count += c - prevCount[name]
			total += sm - prevSum[name]
			prev[name], prevCount[name], prevSum[name] = buckets, c, sm
		}
		p.MiniBlocks = uint64(count)
		if count > 0 {
			p.IntervalUS = histP99(before, sum, count) * 1e6
			if p.IntervalUS < 0 {
				p.IntervalUS = -1
			}
			p.MeanUS = total / count * 1e6
		}
		points = append(points, p)
	}
	// Pacing of the measurement, not synchronisation: the load runs on.
	tick := time.NewTicker(cfg.every)
	defer tick.Stop()
	sample() // the histograms' starting point
	for time.Since(began) < cfg.duration {
		<-tick.C
		sample()
	}
	k.run(t, cfg.chaos, nil) // stops the clients; nothing preconfirmed lost

	// Slopes over the samples after the warmup (the first point is the
	// histograms' base and may sit inside it).
	var use []soakPoint
	for _, p := range points[1:] {
		if p.At >= 0 {
			use = append(use, p)
		}
	}
	if len(use) < 5 {
		t.Fatalf("%d samples after the warmup, want at least 5 (SOAK_DURATION / SOAK_EVERY)", len(use))
	}
	xs := make([]float64, len(use))
	for i, p := range use {
		xs[i] = p.At.Minutes()
	}
	series := func(f func(soakPoint) float64) []float64 {
		ys := make([]float64, len(use))
		for i, p := range use {
			ys[i] = f(p)
		}
		return ys
	}
	for _, p := range use {
		var b strings.Builder
		for _, name := range names {
			s := p.Procs[name]
			fmt.Fprintf(&b, " %s %.0fMiB/%.0fg/%.0ffd", name, s.RSSMiB, s.Goroutines, s.FDs)
		}
		p99 := fmt.Sprintf("≤ %.1f ms", p.IntervalUS/1000)
		if p.IntervalUS < 0 {
			p99 = "over the last bucket"
		}
		t.Logf("soak %6.2f min: interval p99 %s, mean %.2f ms, %d mini-blocks;%s", p.At.Minutes(), p99, p.MeanUS/1000, p.MiniBlocks, b.String())
	}
	type slope struct{ RSSMiB, Goroutines, FDs, RSSTheilSen, GoroutinesTheilSen, FDsTheilSen float64 }
	slopes := map[string]slope{}
	for _, name := range names {
		get := func(f func(soakSample) float64) []float64 {
			return series(func(p soakPoint) float64 { return f(p.Procs[name]) })
		}
		rss, gor, fds := get(func(s soakSample) float64 { return s.RSSMiB }), get(func(s soakSample) float64 { return s.Goroutines }), get(func(s soakSample) float64 { return s.FDs })
		s := slope{leastSquares(xs, rss), leastSquares(xs, gor), leastSquares(xs, fds), theilSen(xs, rss), theilSen(xs, gor), theilSen(xs, fds)}
		slopes[name] = s
		t.Logf("soak slope %-12s RSS %+7.2f MiB/min (Theil–Sen %+7.2f), goroutines %+7.2f/min (%+7.2f), open files %+6.2f/min (%+6.2f); last %.0f MiB, %.0f goroutines, %.0f files",
			name, s.RSSMiB, s.RSSTheilSen, s.Goroutines, s.GoroutinesTheilSen, s.FDs, s.FDsTheilSen, rss[len(rss)-1], gor[len(gor)-1], fds[len(fds)-1])
		if s.GoroutinesTheilSen > cfg.maxGoroutines {
			t.Errorf("%s: goroutines grow %.1f a minute, bound %g", name, s.GoroutinesTheilSen, cfg.maxGoroutines)
		}
		if s.FDsTheilSen > cfg.maxFDs {
			t.Errorf("%s: open files grow %.1f a minute, bound %g", name, s.FDsTheilSen, cfg.maxFDs)
		}
		if s.RSSTheilSen > cfg.maxRSSMiB {
			t.Errorf("%s: RSS grows %.1f MiB a minute, bound %g", name, s.RSSTheilSen, cfg.maxRSSMiB)
		}
	}
	// The interval p99 must not drift: the last third's median within
	// twice the first third's plus 20 ms (bucket bounds, and a loaded
	// machine's bursts, make it coarse).
	p99 := series(func(p soakPoint) float64 {
		if p.IntervalUS < 0 {
			return 1e6 // over the last bucket: 1 s
		}
		return p.IntervalUS
	})
	third := max(1, len(p99)/3)
	first, last := median(p99[:third]), median(p99[len(p99)-third:])
	p99Slope, meanSlope := leastSquares(xs, p99)/1000, leastSquares(xs, series(func(p soakPoint) float64 { return p.MeanUS }))/1000
	t.Logf("soak interval: p99 slope %+.3f ms/min (first third median ≤ %.1f ms, last third ≤ %.1f ms), mean slope %+.4f ms/min; %d tx/s offered, %d senders, %d subscribers, %v sampled every %v after %v warmup",
		p99Slope, first/1000, last/1000, meanSlope, cfg.chaos.rate, cfg.chaos.senders, cfg.chaos.subs, cfg.duration, cfg.every, cfg.warmup)
	if last > 2*first+20_000 {
		t.Errorf("mini-block interval p99 drifted: first third median ≤ %.1f ms, last third ≤ %.1f ms", first/1000, last/1000)
	}
	if path := os.Getenv("SOAK_JSON"); path != "" {
		out, _ := json.MarshalIndent(map[string]any{"Rate": cfg.chaos.rate, "Senders": cfg.chaos.senders, "Subscribers": cfg.chaos.subs,
			"Every": cfg.every.String(), "Warmup": cfg.warmup.String(), "Points": use, "Slopes": slopes,
			"IntervalP99SlopeMsPerMin": p99Slope, "IntervalMeanSlopeMsPerMin": meanSlope}, "", "  ")
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Error(err)
		}
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
