package e2e

import (
	"slices"

	"syscall"
	"testing"
	"time"
)

// BenchmarkFailover kills the leader of a three-candidate HA set with
// SIGKILL, b.N times (make bench: 20), and reports the failover time: from
// the old leader's last gossiped mini-block to the new leader's first, as a
// peer of the network sees them. The killed candidate restarts on its data
// and catches up before the next kill.
func BenchmarkFailover(b *testing.B) {
	set := startHASet(b, "a", "b", "c")
	gossip := watchGossip(b, set.signer, set.p2pPeers())
	var gaps []time.Duration
	for range b.N {
		lead := set.leader(b, nil)
		waitFor(b, "gossip from the leader", func() bool { return gossip.newSince(time.Now().Add(-50 * time.Millisecond)) })
		killed := time.Now()
		lead.d.kill(syscall.SIGKILL)
		next := set.leader(b, lead)
		waitFor(b, "mini-blocks from the new leader", func() bool { return gossip.newSince(killed) })
		gaps = append(gaps, gossip.gap(killed.Add(-50*time.Millisecond)))
		b.Logf("kill -9 of %s: %s leads, no mini-block for %v", lead.id, next.id, gaps[len(gaps)-1])
		set.start(b, lead)
		waitFor(b, "restarted candidate following", func() bool {
			st, err := haStatus(lead.d.URL)
			ls, err2 := haStatus(next.d.URL)
			return err == nil && err2 == nil && st.Leader == next.id && st.MiniBlock+100 >= ls.MiniBlock
		})
	}
	slices.Sort(gaps)
	pct := func(p float64) float64 { return float64(gaps[int(p*float64(len(gaps)-1))]) / 1e6 }
	b.ReportMetric(pct(0.5), "failover-p50-ms")
	b.ReportMetric(pct(0.99), "failover-p99-ms")
	b.ReportMetric(float64(gaps[len(gaps)-1])/1e6, "failover-max-ms")
	gossip.mu.Lock()
	defer gossip.mu.Unlock()
	if len(gossip.conflicts) > 0 {
		b.Fatalf("conflicting mini-blocks: %v", gossip.conflicts)
	}
}
