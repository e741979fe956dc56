package progress

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time       { return c.t }
func (c *clock) step(d time.Duration) { c.t = c.t.Add(d) }
func lines(b *bytes.Buffer) []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			panic(err)
		}
		out = append(out, m)
	}
	return out
}

// Without a terminal: one log line per interval with the count, rate and
// time left; none in between; a last line at the end.
func TestLogLines(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	var buf bytes.Buffer
	m := Options{Every: 10 * time.Second, Now: c.now}.Start(zerolog.New(&buf), "import", "blocks", 1000)
	c.step(5 * time.Second)
	m.Add(100)
	if buf.Len() != 0 {
		t.Fatalf("logged before the interval: %s", buf.String())
	}
	c.step(5 * time.Second)
	m.Add(100) // 200 in 10 s: 20/s, 800 left: 40 s
	got := lines(&buf)
	if len(got) != 1 {
		t.Fatalf("got %d lines, want 1: %s", len(got), buf.String())
	}
	want := map[string]any{"message": "progress", "work": "import", "blocks": 200.0, "total": 1000.0, "percent": 20.0, "per_second": 20.0, "eta": "40s", "elapsed": "10s"}
	for k, v := range want {
		if got[0][k] != v {
			t.Errorf("%s: got %v, want %v", k, got[0][k], v)
		}
	}
	c.step(time.Second)
	m.Add(10)
	if n := len(lines(&buf)); n != 1 {
		t.Fatalf("got %d lines a second after a report, want 1", n)
	}
	c.step(9 * time.Second)
	m.Set(1000)
	m.Done()
	m.Done()
	got = lines(&buf)
	if len(got) != 3 || got[2]["message"] != "progress done" || got[2]["blocks"] != 1000.0 || got[2]["per_second"] != 50.0 || got[2]["elapsed"] != "20s" {
		t.Fatalf("got lines %v, want a report and one done line of 1000 blocks at 50/s in 20s", got)
	}
}

// Work of unknown size logs count and rate without a percentage or ETA.
func TestUnknownTotal(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	var buf bytes.Buffer
	m := Options{Now: c.now}.Start(zerolog.New(&buf), "genesis", "accounts", 0)
	c.step(defaultEvery)
	m.Add(5000)
	got := lines(&buf)
	if len(got) != 1 || got[0]["accounts"] != 5000.0 || got[0]["per_second"] != 500.0 {
		t.Fatalf("got %v, want one line of 5000 accounts at 500/s", got)
	}
	if _, ok := got[0]["eta"]; ok {
		t.Fatalf("an ETA without a total: %v", got[0])
	}
}

// In a terminal a bar is redrawn in place at most every barEvery, no log
// lines are written, and the end leaves the last state and a newline.
func TestBar(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	var bar, log bytes.Buffer
	m := Options{Bar: &bar, Now: c.now}.Start(zerolog.New(&log), "import", "blocks", 1000)
	m.Add(1)
	if bar.Len() != 0 {
		t.Fatalf("drew before barEvery: %q", bar.String())
	}
	c.step(time.Second)
	m.Add(499)
	want := "\rimport [===============>              ]  50.0%  500/1000 blocks  500/s  ETA 1s\x1b[K"
	if bar.String() != want {
		t.Fatalf("bar %q, want %q", bar.String(), want)
	}
	c.step(time.Second)
	m.Set(1000)
	m.Done()
	if !strings.HasSuffix(bar.String(), "] 100.0%  1000/1000 blocks  500/s\x1b[K\n") {
		t.Fatalf("bar ends %q, want the full bar and a newline", bar.String())
	}
	if log.Len() != 0 {
		t.Fatalf("logged with a bar: %s", log.String())
	}
}

func TestLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Snapshot
		want string
	}{
		{"empty", Snapshot{Total: 10}, "da [>                             ]   0.0%  0/10 blocks  0/s"},
		{"full", Snapshot{Done: 10, Total: 10, Rate: 2}, "da [==============================] 100.0%  10/10 blocks  2/s"},
		{"fast", Snapshot{Done: 3, Total: 10, Rate: 12345, ETA: 90 * time.Second}, "da [=========>                    ]  30.0%  3/10 blocks  12.3k/s  ETA 1m30s"},
		{"no total", Snapshot{Done: 7, Rate: 2.5e6, Elapsed: 3 * time.Second}, "da  7 blocks  2.5M/s  3s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Line("da", "blocks", tc.s); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
