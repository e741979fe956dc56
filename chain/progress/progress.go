// Package progress reports the progress of long work (an import, a large
// genesis, the re-execution of an imported chain, derivation from DA): a
// bar redrawn in place when the output is a terminal, otherwise a log line
// every Options.Every with the count, the rate and the time left.
//
// A Meter is driven by the loop doing the work (Add, Set) and does no I/O
// of its own between reports; it is not safe for concurrent use. The clock
// is injected, so tests step time instead of sleeping.
package progress

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Options say where progress goes. The zero value logs every 10 s on the
// wall clock.
type Options struct {
	// Bar, when set (the process's stderr when it is a terminal), is where
	// a bar is drawn in place of the periodic log lines; the last state and
	// a newline are written when the work ends.
	Bar io.Writer
	// Every is the interval of the log lines, default 10 s.
	Every time.Duration
	// Now is the clock, default time.Now.
	Now func() time.Time
}

const (
	defaultEvery = 10 * time.Second
	barEvery     = 100 * time.Millisecond // bar redraws at most this often
	barWidth     = 30
)

// Meter follows one piece of work: what is done of it, in units, out of
// a total (0 while unknown).
type Meter struct {
	log         zerolog.Logger
	opts        Options
	what, unit  string
	total, done uint64
	start, last time.Time
	finished    bool
}

// Start starts a meter of work what (a noun phrase: "import") counted in
// unit ("blocks") out of total.
func (o Options) Start(log zerolog.Logger, what, unit string, total uint64) *Meter {
	if o.Every <= 0 {
		o.Every = defaultEvery
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	now := o.Now()
	return &Meter{log: log, opts: o, what: what, unit: unit, total: total, start: now, last: now}
}

// Add counts n more units done.
func (m *Meter) Add(n uint64) { m.Set(m.done + n) }

// SetTotal changes the total (work that grows, or is learnt as it goes).
func (m *Meter) SetTotal(total uint64) { m.total = total }

// Set says how many units are done, and reports when it is time to.
func (m *Meter) Set(done uint64) {
	m.done = done
	if m.finished {
		return
	}
	now := m.opts.Now()
	every := m.opts.Every
	if m.opts.Bar != nil {
		every = barEvery
	}
	if now.Sub(m.last) < every {
		return
	}
	m.last = now
	m.report(now)
}

// Done reports the end of the work once: the bar's last state, or a log
// line with the totals.
func (m *Meter) Done() {
	if m.finished {
		return
	}
	m.finished = true
	now := m.opts.Now()
	if m.opts.Bar != nil {
		m.draw(now)
		fmt.Fprintln(m.opts.Bar)
		return
	}
	elapsed := now.Sub(m.start)
	m.log.Info().Str("work", m.what).Uint64(m.unit, m.done).Float64("per_second", round(m.rate(now))).
		Str("elapsed", elapsed.Round(time.Millisecond).String()).Msg("progress done")
}

// Snapshot is a meter's state at one time.
type Snapshot struct {
	Done, Total uint64
	Rate        float64       // units per second since the start
	Elapsed     time.Duration // since the start
	ETA         time.Duration // left at Rate; 0 with no total or no rate yet
}

// Snapshot returns the meter's state now.
func (m *Meter) Snapshot() Snapshot { return m.snapshot(m.opts.Now()) }

func (m *Meter) snapshot(now time.Time) Snapshot {
	s := Snapshot{Done: m.done, Total: m.total, Rate: m.rate(now), Elapsed: now.Sub(m.start)}
	if m.total > m.done && s.Rate > 0 {
		s.ETA = time.Duration(float64(m.total-m.done) / s.Rate * float64(time.Second))
	}
	return s
}

func (m *Meter) rate(now time.Time) float64 {
	el := now.Sub(m.start).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(m.done) / el
}

func (m *Meter) report(now time.Time) {
	if m.opts.Bar != nil {
		m.draw(now)
		return
	}
	s := m.snapshot(now)
	e := m.log.Info().Str("work", m.what).Uint64(m.unit, s.Done).Float64("per_second", round(s.Rate)).
		Str("elapsed", s.Elapsed.Round(time.Second).String())
	if s.Total > 0 {
		e = e.Uint64("total", s.Total).Float64("percent", round(percent(s.Done, s.Total)))
		if eta := s.ETA.Round(time.Second); eta > 0 {
			e = e.Str("eta", eta.String())
		}
	}
	e.Msg("progress")
}

// draw writes the bar over the current line.
func (m *Meter) draw(now time.Time) {
	fmt.Fprint(m.opts.Bar, "\r"+Line(m.what, m.unit, m.snapshot(now))+"\x1b[K")
}

// Line is the bar's text for s: "import [=====>    ]  45.0%  450/1000
// blocks  120/s  ETA 5s", without a total "import  450 blocks  120/s  2s".
func Line(what, unit string, s Snapshot) string {
	var b strings.Builder
	b.WriteString(what)
	if s.Total > 0 {
		p := percent(s.Done, s.Total)
		fill := min(barWidth, int(p/100*barWidth))
		b.WriteString(" [" + strings.Repeat("=", fill))
		if fill < barWidth {
			b.WriteString(">" + strings.Repeat(" ", barWidth-fill-1))
		}
		fmt.Fprintf(&b, "] %5.1f%%  %d/%d %s  %s/s", p, s.Done, s.Total, unit, short(s.Rate))
		if eta := s.ETA.Round(time.Second); eta > 0 {
			fmt.Fprintf(&b, "  ETA %s", eta)
		}
		return b.String()
	}
	fmt.Fprintf(&b, "  %d %s  %s/s  %s", s.Done, unit, short(s.Rate), s.Elapsed.Round(time.Second))
	return b.String()
}

func percent(done, total uint64) float64 { return min(100, 100*float64(done)/float64(total)) }

func round(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

// short writes a rate as 950, 12.3k or 4.5M.
func short(f float64) string {
	switch {
	case f >= 1e6:
		return fmt.Sprintf("%.1fM", f/1e6)
	case f >= 1e4:
		return fmt.Sprintf("%.1fk", f/1e3)
	default:
		return fmt.Sprintf("%.0f", f)
	}
}
