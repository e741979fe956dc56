// Command plot draws the pictures of docs/benchmarks.md from the JSON results
// that bench/run.sh keeps (docs/benchdata): included tx/s per target,
// send→receipt latency per target and the mini-block interval distribution,
// each against anvil and geth --dev. It reads files and writes PNGs; it
// runs no benchmark.
//
//	go run ./tools/plot [-in docs/benchdata] [-out docs/img]
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image/color"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/meganode/meganode/bench"
)

// Size of every picture in pixels, at dpi.
const (
	width, height = 1000, 500
	dpi           = 96
)

// targets are the throughput runs in the order they are drawn, with the
// names the pictures give them.
var targets = []struct{ name, label string }{
	{"meganode", "meganode devnet"},
	{"anvil-blocktime1", "anvil --block-time 1"},
	{"anvil-automine", "anvil automine (1 conn)"},
	{"geth-dev0", "geth --dev.period 0"},
	{"geth-dev1", "geth --dev.period 1"},
}

// Meta describes where the results came from; run.sh writes it, and a
// sample not from a run says so in Note, which every picture shows.
type Meta struct {
	Measured string // date of the run
	Note     string `json:",omitempty"`
}

var (
	colMeganode = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	colERC20    = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
	colOther    = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
	colGrey     = color.RGBA{R: 0x80, G: 0x80, B: 0x80, A: 0xff}
)

func main() {
	in := flag.String("in", "docs/benchdata", "directory of the bench's JSON results")
	out := flag.String("out", "docs/img", "directory the PNGs are written to")
	flag.Parse()
	files, err := run(*in, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "plot:", err)
		os.Exit(1)
	}
	for _, f := range files {
		fmt.Println(f)
	}
}

// run draws every picture whose results are in dir in and returns the
// files written.
func run(in, out string) ([]string, error) {
	var meta Meta
	if err := readJSON(filepath.Join(in, "meta.json"), &meta); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	var written []string
	for _, pic := range []struct {
		file string
		draw func(string, Meta) (*plot.Plot, error)
	}{
		{"throughput.png", throughput},
		{"latency.png", latency},
		{"interval.png", interval},
	} {
		p, err := pic.draw(in, meta)
		if err != nil {
			return written, fmt.Errorf("%s: %w", pic.file, err)
		}
		path := filepath.Join(out, pic.file)
		if err := savePNG(p, path); err != nil {
			return written, fmt.Errorf("%s: %w", pic.file, err)
		}
		written = append(written, path)
	}
	return written, nil
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// result reads NAME.json; ok is false when the run is not in dir.
func result(dir, name string) (r bench.Result, ok bool, err error) {
	err = readJSON(filepath.Join(dir, name+".json"), &r)
	if errors.Is(err, fs.ErrNotExist) {
		return r, false, nil
	}
	return r, err == nil, err
}

// runs reads NAME.runs, every repetition's figure; nil when there is one.
func runs(dir, name string) ([]float64, error) {
	var v []float64
	err := readJSON(filepath.Join(dir, name+".runs"), &v)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return v, err
}

func newPlot(title string, meta Meta) *plot.Plot {
	p := plot.New()
	p.Title.Text = title + " — " + meta.Measured
	if meta.Note != "" {
		p.Title.Text += "\n" + meta.Note
	}
	p.Title.Padding = vg.Points(6)
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p
}

// throughput: included tx/s per target, ETH and ERC-20 transfers side by
// side; the bar is the median run, the dots every run.
func throughput(dir string, meta Meta) (*plot.Plot, error) {
	p := newPlot("Included transfers per second (higher is better)", meta)
	p.Y.Label.Text = "included tx/s"
	p.Y.Min = 0
	barW := vg.Points(28)
	var labels []string
	for li, load := range []struct {
		suffix, legend string
		col            color.Color
	}{{"", "ETH transfers", colMeganode}, {"-erc20", "ERC-20 transfers", colERC20}} {
		shift := (float64(li) - 0.5) * 0.34 // bars, dots and labels of a load at i+shift
		vals := make(plotter.Values, len(targets))
		var dots plotter.XYs
		var text plotter.XYLabels
		for i, t := range targets {
			if li == 0 {
				labels = append(labels, t.label)
			}
			r, ok, err := result(dir, t.name+load.suffix)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			vals[i] = r.IncludedTPS
			x := float64(i) + shift
			rs, err := runs(dir, t.name+load.suffix)
			if err != nil {
				return nil, err
			}
			for _, v := range rs {
				dots = append(dots, plotter.XY{X: x, Y: v})
			}
			text.XYs = append(text.XYs, plotter.XY{X: x, Y: r.IncludedTPS})
			s := fmt.Sprintf("%.0f", r.IncludedTPS)
			if r.Stalled {
				s += " (stalled)"
			}
			text.Labels = append(text.Labels, s)
		}
		bars, err := plotter.NewBarChart(vals, barW)
		if err != nil {
			return nil, err
		}
		bars.Color, bars.LineStyle.Width = load.col, 0
		bars.XMin = shift
		p.Add(bars)
		p.Legend.Add(load.legend, bars)
		if len(dots) > 0 {
			sc, err := plotter.NewScatter(dots)
			if err != nil {
				return nil, err
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(1.8), Shape: draw.CircleGlyph{}}
			p.Add(sc)
		}
		if len(text.XYs) > 0 {
			l, err := plotter.NewLabels(text)
			if err != nil {
				return nil, err
			}
			for i := range l.TextStyle {
				l.TextStyle[i].XAlign, l.TextStyle[i].YAlign = draw.XCenter, draw.YBottom
			}
			l.Offset = vg.Point{Y: vg.Points(2)}
			p.Add(l)
		}
	}
	p.NominalX(labels...)
	return p, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// logY puts the y axis on a log scale over [lo, hi] ms.
func logY(p *plot.Plot, lo, hi float64) {
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Min, p.Y.Max = lo, hi
	p.Y.Label.Text = "ms (log scale)"
}

// latency: send→receipt p50, p90, p99 per target, on a log scale (meganode
// answers in a millisecond, a 1 s block time in a second).
func latency(dir string, meta Meta) (*plot.Plot, error) {
	p := newPlot("Send → receipt latency of sequential sends, receipt polled (lower is better)", meta)
	logY(p, 0.1, 5000)
	var labels []string
	series := []struct {
		name  string
		at    func(bench.Result) time.Duration
		shape draw.GlyphDrawer
		col   color.Color
	}{
		{"p50", func(r bench.Result) time.Duration { return r.LatencyP50 }, draw.CircleGlyph{}, colMeganode},
		{"p90", func(r bench.Result) time.Duration { return r.LatencyP90 }, draw.TriangleGlyph{}, colERC20},
		{"p99", func(r bench.Result) time.Duration { return r.LatencyP99 }, draw.SquareGlyph{}, colOther},
	}
	pts := make([]plotter.XYs, len(series))
	for i, t := range targets {
		labels = append(labels, t.label)
		r, ok, err := result(dir, t.name)
		if err != nil {
			return nil, err
		}
		if !ok || r.LatencyCount == 0 && r.LatencyP50 == 0 {
			continue
		}
		for si, s := range series {
			if v := ms(s.at(r)); v > 0 {
				pts[si] = append(pts[si], plotter.XY{X: float64(i) + float64(si-1)*0.12, Y: v})
			}
		}
	}
	for si, s := range series {
		if len(pts[si]) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(pts[si])
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: s.col, Radius: vg.Points(4), Shape: s.shape}
		p.Add(sc)
		p.Legend.Add(s.name, sc)
	}
	p.NominalX(labels...)
	return p, nil
}

// interval: the mini-block interval distribution a websocket subscriber
// saw under load, on a percentile axis (50 %, 90 %, 99 %, 99.9 % evenly
// spaced, as HdrHistogram draws latency), beside the 1 s block interval
// anvil --block-time 1 and geth --dev.period 1 are configured with (their
// block timestamps have whole seconds, so the bench does not measure them).
// A run that kept every interval is drawn whole, one that kept only its
// percentiles as those points.
func interval(dir string, meta Meta) (*plot.Plot, error) {
	p := newPlot("Time between blocks a receipt can appear in: meganode mini-blocks under load", meta)
	logY(p, 1, 3000)
	p.Legend.Top = false // below 10 ms, where no interval falls
	type dist struct {
		label string
		col   color.Color
		xys   plotter.XYs
		whole bool
	}
	var ds []dist
	add := func(label string, col color.Color, n int, q bench.Percentiles, us []int64) {
		xys, whole := distPoints(q, us)
		if whole {
			label += fmt.Sprintf(", %d intervals", len(us))
		} else {
			label += fmt.Sprintf(", %d mini-blocks (percentiles)", n)
		}
		ds = append(ds, dist{label, col, xys, whole})
	}
	for _, s := range []struct {
		name, label string
		col         color.Color
	}{
		{"meganode-observed", "meganode, ETH load (eager)", colMeganode},
		{"meganode-erc20-observed", "meganode, ERC-20 load (eager)", colERC20},
	} {
		r, ok, err := result(dir, s.name)
		if err != nil {
			return nil, err
		}
		if ok && r.MiniBlockInterval != nil {
			add(s.label, s.col, r.MiniBlocks, *r.MiniBlockInterval, r.MiniBlockIntervalsUS)
		}
	}
	var rt struct{ Jitter *bench.JitterResult }
	switch err := readJSON(filepath.Join(dir, "periodic-rt.json"), &rt); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	case rt.Jitter != nil:
		add("meganode --miniblock-eager=false (strict 10 ms)", colOther, rt.Jitter.MiniBlocks, rt.Jitter.Interval, rt.Jitter.IntervalsUS)
	}
	if len(ds) == 0 {
		return nil, errors.New("no mini-block interval results (meganode-observed.json, meganode-erc20-observed.json, periodic-rt.json)")
	}
	right := 3.0 // 99.9 %
	for _, d := range ds {
		if len(d.xys) == 0 {
			continue
		}
		right = max(right, d.xys[len(d.xys)-1].X)
		l, err := plotter.NewLine(d.xys)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width = d.col, vg.Points(1.5)
		p.Add(l)
		if d.whole {
			p.Legend.Add(d.label, l)
			continue
		}
		sc, err := plotter.NewScatter(d.xys)
		if err != nil {
			return nil, err
		}
		sc.Color, sc.Shape = d.col, draw.CircleGlyph{}
		p.Add(sc)
		p.Legend.Add(d.label, l, sc)
	}
	right += 0.1
	for _, ref := range []struct {
		ms    float64
		label string
		dash  bool
	}{
		{1000, "anvil --block-time 1, geth --dev.period 1: 1 s blocks (configured)", false},
		{10, "10 ms mini-block target", true},
	} {
		l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: ref.ms}, {X: right, Y: ref.ms}})
		if err != nil {
			return nil, err
		}
		l.Color = colGrey
		if ref.dash {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(ref.label, l)
	}
	var ticks []plot.Tick
	for _, t := range []struct {
		q     float64
		label string
	}{{0, "0 %"}, {0.5, "50 %"}, {0.9, "90 %"}, {0.99, "99 %"}, {0.999, "99.9 %"}, {0.9999, "99.99 %"}} {
		if x := tail(t.q); x <= right {
			ticks = append(ticks, plot.Tick{Value: x, Label: t.label})
		}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = 0, right
	p.X.Label.Text = "percentile of the intervals (the rightmost point is the longest)"
	return p, nil
}

// tail places quantile q on the percentile axis: log10(1/(1−q)), so 50 %,
// 90 %, 99 % and 99.9 % fall at 0.3, 1, 2 and 3.
func tail(q float64) float64 { return -math.Log10(1 - q) }

// distPoints are the points of a distribution: every interval in us,
// sorted, when the run kept them (whole), else its percentiles, the
// longest at 1 − 1/count.
func distPoints(q bench.Percentiles, us []int64) (xys plotter.XYs, whole bool) {
	if len(us) > 0 {
		s := slices.Sorted(slices.Values(us))
		for i, v := range s {
			xys = append(xys, plotter.XY{X: tail(float64(i) / float64(len(s))), Y: float64(v) / 1000})
		}
		return xys, true
	}
	for _, pt := range []struct {
		q float64
		d time.Duration
	}{{0.5, q.P50}, {0.9, q.P90}, {0.99, q.P99}} {
		if pt.d > 0 {
			xys = append(xys, plotter.XY{X: tail(pt.q), Y: ms(pt.d)})
		}
	}
	if q.Max > 0 && q.Count > 1 {
		xys = append(xys, plotter.XY{X: math.Log10(float64(q.Count)), Y: ms(q.Max)})
	}
	return xys, false
}

// savePNG writes p as a width×height PNG.
func savePNG(p *plot.Plot, path string) error {
	c := vgimg.NewWith(vgimg.UseWH(vg.Length(width)*vg.Inch/dpi, vg.Length(height)*vg.Inch/dpi), vgimg.UseDPI(dpi))
	p.Draw(draw.New(c))
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
