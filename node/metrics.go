package node

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/meganode/meganode/eigenda"
	"github.com/meganode/meganode/sequencer"
)

// Histogram buckets, in seconds unless named otherwise. The mini-block
// interval is fine around the 10 ms target (p99 ≤ 12 ms under load) and
// below it for eager sealing.
var (
	intervalBuckets = []float64{.0005, .001, .002, .005, .008, .009, .0095, .01, .0105, .011, .012, .015, .02, .05, .1, .5}
	fastBuckets     = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}
	sealBuckets     = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	preconfBuckets  = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10}
	daBuckets       = []float64{.001, .005, .01, .05, .1, .5, 1, 5, 10, 30, 60, 300}
)

// processRegistry is the registry behind a process's /metrics, with Go's
// and the process's own collectors (go_goroutines, go_memstats_*,
// process_resident_memory_bytes, process_open_fds…), as geth and op-node
// export them: a leak shows there first (docs/operations.md, "Soak").
func processRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func (r *Role) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	r.registry.MustRegister(h)
	return h
}

// sequencerMetrics measures the production loop; ha adds the raft commit.
func (r *Role) sequencerMetrics(seq *sequencer.Sequencer, ha bool) {
	m := sequencer.Metrics{
		MiniBlockInterval: r.histogram("meganode_sequencer_miniblock_interval_seconds", "Time between consecutive mini-blocks.", intervalBuckets),
		MiniBlockSeal:     r.histogram("meganode_sequencer_miniblock_seal_seconds", "Time to journal (or commit to raft) and publish one mini-block.", fastBuckets),
		BlockSeal:         r.histogram("meganode_sequencer_block_seal_seconds", "Time the production loop pauses to seal a block and open the next.", sealBuckets),
		Preconf:           r.histogram("meganode_sequencer_preconf_seconds", "Time from a transaction's admission to the pool to its preconfirmation (its mini-block published).", preconfBuckets),
	}
	if ha {
		m.RaftCommit = r.histogram("meganode_ha_commit_duration_seconds", "Time of one raft commit (a mini-block or a seal) on the HA leader.", fastBuckets)
	}
	seq.SetMetrics(m)
	r.gauge("meganode_miniblock_head", "Mini-blocks sealed so far (the next one's number) as this node sees it.", func() float64 { return float64(seq.MiniBlockCount()) })
}

// timedDA measures each post to the DA layer.
type timedDA struct {
	eigenda.Client
	post prometheus.Histogram
}

func (t timedDA) Put(ctx context.Context, payload []byte) ([]byte, error) {
	start := time.Now()
	c, err := t.Client.Put(ctx, payload)
	if err == nil {
		t.post.Observe(time.Since(start).Seconds())
	}
	return c, err
}
