package report

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestChartPNG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latest.png")
	if err := Chart(sample(), path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	// 12 × 8 inches.
	if bounds := img.Bounds(); bounds.Dx() < 2*bounds.Dy()*3/4 || bounds.Dx() > 2*bounds.Dy() {
		t.Errorf("image is %v, want about 3:2", bounds)
	}
}

func TestChartSVG(t *testing.T) {
	// Many scenarios, so the x labels are rotated, and a system missing
	// from some of them.
	r := sample()
	for i := range 10 {
		s := fmt.Sprintf("scenario-%02d", i)
		r.Rows = append(r.Rows, Row{Scenario: s, System: "edgeloop", RPS: float64(1000 * i), CPUPerReq: 9})
		if i%2 == 0 {
			r.Rows = append(r.Rows, Row{Scenario: s, System: "haproxy", RPS: 900, CPUPerReq: 11})
		}
	}
	path := filepath.Join(t.TempDir(), "latest.svg")
	if err := Chart(r, path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSpace(string(b))
	if !strings.HasPrefix(s, "<?xml") && !strings.HasPrefix(s, "<svg") {
		t.Errorf("not an SVG: %.80q", s)
	}
	if !strings.Contains(s, "</svg>") {
		t.Error("SVG not closed")
	}
}

func TestChartRejects(t *testing.T) {
	dir := t.TempDir()
	if err := Chart(sample(), filepath.Join(dir, "latest.gif")); err == nil {
		t.Error("a .gif chart: no error")
	}
	other := &Result{Rows: []Row{{Scenario: "s", System: "caddy", RPS: 1}}}
	if err := Chart(other, filepath.Join(dir, "none.png")); err == nil {
		t.Error("a chart with no known system: no error")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("failed charts left %d files behind", len(ents))
	}
}
