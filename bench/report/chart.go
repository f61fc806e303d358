package report

import (
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// references are systems that are not proxies under comparison but show
// what the machine can do: the origin served directly and bare event loops.
var references = []string{"origin-direct", "gnet-bare", "evio-bare"}

// Chart size: wide enough for a dozen scenarios of six bars each.
const (
	chartWidth  = 12 * vg.Inch
	chartHeight = 8 * vg.Inch
)

// ErrNothingToChart is Chart's error when r has no row to chart.
var ErrNothingToChart = errors.New("no rows of edgeloop, nginx, haproxy or a reference system to chart")

// Chart draws r as two grouped bar charts, one above the other: requests
// per second on top, CPU microseconds per request below, one group per
// scenario and one bar per system (edgeloop, nginx, haproxy and whichever
// reference systems r has). A system missing from a scenario gets a
// zero-height bar. The pull-mode rows (Row.App) are left out: they
// compare edgeloop with itself, not with the peers, and the Markdown has
// them. The format follows path's extension: .png or .svg.
func Chart(r *Result, path string) error {
	if r == nil {
		return fmt.Errorf("report: %s: nil result", path)
	}
	format := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
	if format != "png" && format != "svg" {
		return fmt.Errorf("report: %s: want a .png or .svg file", path)
	}
	var rows []Row
	for _, row := range r.Rows {
		if row.App == "" {
			rows = append(rows, row)
		}
	}
	systems := chartSystems(rows)
	if len(systems) == 0 {
		return fmt.Errorf("report: %s: %w", path, ErrNothingToChart)
	}
	var scens []string
	seen := map[string]bool{}
	for _, row := range rows {
		if !seen[row.Scenario] && slices.Contains(systems, row.System) {
			seen[row.Scenario] = true
			scens = append(scens, row.Scenario)
		}
	}

	top, err := barPanel(rows, scens, systems, "Throughput", "requests per second", true,
		func(row *Row) float64 { return row.RPS })
	if err != nil {
		return fmt.Errorf("report: %s: %w", path, err)
	}
	bottom, err := barPanel(rows, scens, systems, "CPU per request (proxy process tree)", "CPU µs per request", false,
		func(row *Row) float64 { return row.CPUPerReq })
	if err != nil {
		return fmt.Errorf("report: %s: %w", path, err)
	}
	top.Title.Text = "edgeloop benchmark: " + top.Title.Text
	if r.Quick {
		top.Title.Text += " (quick run)"
	}

	c, err := draw.NewFormattedCanvas(chartWidth, chartHeight, format)
	if err != nil {
		return fmt.Errorf("report: %s: %w", path, err)
	}
	tiles := draw.Tiles{
		Rows: 2, Cols: 1,
		PadTop: vg.Points(6), PadBottom: vg.Points(6),
		PadLeft: vg.Points(6), PadRight: vg.Points(12),
		PadY: vg.Points(12),
	}
	plots := [][]*plot.Plot{{top}, {bottom}}
	canvases := plot.Align(plots, tiles, draw.New(c))
	top.Draw(canvases[0][0])
	bottom.Draw(canvases[1][0])
	return writeFile(path, func(w io.Writer) error {
		_, err := c.WriteTo(w)
		return err
	})
}

// chartSystems returns the systems to chart: the three proxies, then the
// reference systems, each only if some row has it.
func chartSystems(rows []Row) []string {
	var out []string
	for _, s := range append([]string{edgeloop, nginx, haproxy}, references...) {
		for _, r := range rows {
			if r.System == s {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// widest is the width of the widest of p's x tick labels.
func widest(p *plot.Plot, labels []string) vg.Length {
	var w vg.Length
	for _, l := range labels {
		w = max(w, p.X.Tick.Label.Width(l))
	}
	return w
}

// barPanel makes one grouped bar chart of value over scenarios (x) and
// systems (bars within a group), with a legend of the systems if asked.
// The scenario names are turned aslant when they would not fit side by side.
func barPanel(rows []Row, scens, systems []string, title, ylabel string, legend bool, value func(*Row) float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Y.Min = 0
	p.Add(&plotter.Grid{Horizontal: plotter.DefaultGridLineStyle})

	// A group takes 80% of the room one scenario has; the data area is
	// roughly the chart's width less an inch and a half of axis and
	// padding. The x range is set below to give each scenario one unit.
	slot := (chartWidth - 3*vg.Inch/2) / vg.Length(len(scens))
	width := slot * 0.8 / vg.Length(len(systems))
	if width > vg.Inch/2 {
		width = vg.Inch / 2
	}
	top := 0.0
	for i, sys := range systems {
		vals := make(plotter.Values, len(scens))
		for j, s := range scens {
			if r := find(rows, s, sys); r != nil {
				v := value(r)
				if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
					v = 0
				}
				vals[j] = v
				top = math.Max(top, v)
			}
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, err
		}
		bars.Color = plotutil.Color(i)
		bars.LineStyle.Width = 0
		bars.Offset = width * (vg.Length(i) - vg.Length(len(systems)-1)/2)
		p.Add(bars)
		if legend {
			p.Legend.Add(sys, bars)
		}
	}
	if top == 0 {
		top = 1
	}
	p.Y.Max = top * 1.1
	if legend {
		// Headroom for the legend, inside the top right corner.
		p.Legend.Top = true
		p.Y.Max = top * (1.1 + 0.07*float64(len(systems)))
	}

	p.NominalX(scens...)
	p.X.Min, p.X.Max = -0.5, float64(len(scens))-0.5
	if len(scens) > 6 || widest(p, scens) > slot*9/10 {
		p.X.Tick.Label.Rotation = math.Pi / 6
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YTop
	}
	return p, nil
}
