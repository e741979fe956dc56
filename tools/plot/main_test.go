package main

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot/plotter"

	"github.com/meganode/meganode/bench"
)

// TestPlotsFromFixture: the fixture (a run's results, some targets missing)
// gives three PNGs of the set size with something drawn in them.
func TestPlotsFromFixture(t *testing.T) {
	out := t.TempDir()
	files, err := run("testdata", out)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"throughput.png", "latency.png", "interval.png"}
	if len(files) != len(want) {
		t.Fatalf("wrote %v, want %v", files, want)
	}
	for i, name := range want {
		if files[i] != filepath.Join(out, name) {
			t.Errorf("file %d: got %s, want %s", i, files[i], filepath.Join(out, name))
		}
		f, err := os.Open(files[i])
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: not a PNG: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() != width || b.Dy() != height {
			t.Errorf("%s: got %dx%d, want %dx%d", name, b.Dx(), b.Dy(), width, height)
		}
		colours := map[[3]uint32]bool{}
		for y := 0; y < height; y += 4 {
			for x := 0; x < width; x += 4 {
				r, g, b, _ := img.At(x, y).RGBA()
				colours[[3]uint32{r, g, b}] = true
			}
		}
		if len(colours) < 5 {
			t.Errorf("%s: %d colours, want a drawing", name, len(colours))
		}
	}
}

func TestPlotNeedsResults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"no meta", map[string]string{"meganode.json": "{}"}, "meta.json"},
		{"no intervals", map[string]string{"meta.json": `{"Measured":"x"}`, "meganode.json": `{"IncludedTPS":1}`}, "no mini-block interval results"},
		{"broken result", map[string]string{"meta.json": `{"Measured":"x"}`, "meganode.json": `{`}, "meganode.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := t.TempDir()
			for n, s := range tc.files {
				if err := os.WriteFile(filepath.Join(in, n), []byte(s), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := run(in, t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

func TestDistPoints(t *testing.T) {
	// Every interval kept: all of them, sorted, the longest at log10(n).
	xys, whole := distPoints(bench.Percentiles{}, []int64{30_000, 10_000, 20_000, 10_000})
	if !whole || len(xys) != 4 {
		t.Fatalf("got %d points, whole %v; want 4, whole", len(xys), whole)
	}
	for i, want := range []plotter.XY{{X: 0, Y: 10}, {X: tail(0.25), Y: 10}, {X: tail(0.5), Y: 20}, {X: math.Log10(4), Y: 30}} {
		if math.Abs(xys[i].X-want.X) > 1e-9 || xys[i].Y != want.Y {
			t.Errorf("point %d: got %v, want %v", i, xys[i], want)
		}
	}
	// Percentiles only: one point each, a missing one left out.
	xys, whole = distPoints(bench.Percentiles{Count: 1000, P50: 10 * time.Millisecond, P99: 12 * time.Millisecond, Max: 20 * time.Millisecond}, nil)
	if whole || len(xys) != 3 {
		t.Fatalf("got %v, whole %v; want p50, p99 and max", xys, whole)
	}
	if math.Abs(xys[1].X-2) > 1e-9 || math.Abs(xys[2].X-3) > 1e-9 || xys[2].Y != 20 {
		t.Errorf("p99 at %v, max at %v: want p99 at x=2, max (1 in 1000) at x=3, 20 ms", xys[1], xys[2])
	}
}
