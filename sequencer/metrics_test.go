package sequencer

import (
	"sync"
	"testing"
	"time"
)

// samples is an Observer that keeps what it was given.
type samples struct {
	mu sync.Mutex
	v  []float64
}

func (s *samples) Observe(v float64) { s.mu.Lock(); s.v = append(s.v, v); s.mu.Unlock() }
func (s *samples) got() []float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]float64(nil), s.v...)
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, "")
	var interval, miniSeal, blockSeal, preconf samples
	e.seq.SetMetrics(Metrics{MiniBlockInterval: &interval, MiniBlockSeal: &miniSeal, BlockSeal: &blockSeal, Preconf: &preconf})
	for i := 0; i < 3; i++ {
		if err := e.seq.SendTransaction(e.tx(i, 0, gwei, 10*gwei)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 100; i++ { // one block of mini-blocks on the test clock
		e.tick()
	}
	if got := len(miniSeal.got()); got != 100 {
		t.Errorf("mini-block seals observed: got %d, want 100", got)
	}
	// The first mini-block has no predecessor on this clock's timeline: 99
	// intervals, each the 10 ms the test clock advanced.
	iv := interval.got()
	if len(iv) != 99 {
		t.Fatalf("intervals observed: got %d, want 99", len(iv))
	}
	for _, v := range iv {
		if v != (10 * time.Millisecond).Seconds() {
			t.Fatalf("interval %v s, want 0.01 (the clock's step)", v)
		}
	}
	if got := len(preconf.got()); got != 3 {
		t.Errorf("preconfirmations observed: got %d, want 3 (one per tx)", got)
	}
	for _, v := range preconf.got() {
		if v < 0 || v > 60 {
			t.Errorf("admission → preconfirmation %v s: want a small positive wall-clock time", v)
		}
	}
	if got := len(blockSeal.got()); got != 1 {
		t.Errorf("block seals observed: got %d, want 1", got)
	}
}
