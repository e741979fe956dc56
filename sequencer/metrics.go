package sequencer

import "time"

// Observer takes one measurement; a Prometheus histogram is one.
type Observer interface{ Observe(float64) }

// Metrics are the sequencer's distributions, in seconds; a nil field is not
// measured. Observations are made on the production loop (raft commits on
// the loop too), so they cost a clock read and an atomic add each.
type Metrics struct {
	MiniBlockInterval Observer // between consecutive mini-blocks (realtime mining)
	MiniBlockSeal     Observer // journal or raft commit, then publish, of one mini-block
	BlockSeal         Observer // the loop's pause to seal a block and open the next
	Preconf           Observer // a tx's admission to the pool → its mini-block published
	RaftCommit        Observer // one raft commit of an HA leader
}

// SetMetrics sets where the sequencer reports its distributions; call it
// before Start.
func (s *Sequencer) SetMetrics(m Metrics) {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	s.metrics = m
}

func observe(o Observer, d time.Duration) {
	if o != nil {
		o.Observe(d.Seconds())
	}
}
