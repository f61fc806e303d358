package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pullRows are the app scenarios' rows as the harness makes them, with
// figures chosen for exact ratios. Closed model, against app-push (20000
// rps, 30 + 30 = 60 µs of CPU per request): 1 worker x0.10 of the rps and
// x7.50 the CPU (250 + 200), 4 workers x0.25 and x3.00 (100 + 80), 16
// workers x0.40 and x2.50 (90 + 60). At a fixed 1000 rps, against
// app-push-rate (100 + 100): 4 workers x2.00 (250 + 150), p50 400 → 600
// (+200, x1.50), p99 2000 → 5000 (+3000, x2.50).
func pullRows() []Row {
	return []Row{
		{Scenario: "app-push", System: "edgeloop", App: "push", RPS: 20000, P50: 2000, P99: 8000, P999: 9000, CPUPerReq: 30, AppCPUPerReq: 30, RSSMB: 20, Runs: 3},
		{Scenario: "app-pull-1w", System: "edgeloop", App: "pull", PullWorkers: 1, RPS: 2000, P50: 30000, P99: 45000, CPUPerReq: 250, AppCPUPerReq: 200, Runs: 3},
		{Scenario: "app-pull-4w", System: "edgeloop", App: "pull", PullWorkers: 4, RPS: 5000, P50: 12000, P99: 30000, CPUPerReq: 100, AppCPUPerReq: 80, Runs: 3},
		{Scenario: "app-pull-16w", System: "edgeloop", App: "pull", PullWorkers: 16, RPS: 8000, P50: 7000, P99: 20000, CPUPerReq: 90, AppCPUPerReq: 60, Runs: 3, Disturbed: 1},
		{Scenario: "app-push-rate", System: "edgeloop", App: "push", RateRPS: 1000, RPS: 999, P50: 400, P99: 2000, CPUPerReq: 100, AppCPUPerReq: 100, Runs: 3},
		{Scenario: "app-pull-4w-rate", System: "edgeloop", App: "pull", PullWorkers: 4, RateRPS: 1000, RPS: 998, P50: 600, P99: 5000, CPUPerReq: 250, AppCPUPerReq: 150, Runs: 3, Errors: 1, Non2xx: 2},
	}
}

func TestMarkdownPull(t *testing.T) {
	r := sample()
	r.Rows = append(r.Rows, pullRows()...)
	md := Markdown(r)

	const heading = "## Pull mode"
	if !strings.Contains(md, "\n"+heading+"\n\n") {
		t.Fatalf("no pull-mode section:\n%s", md)
	}
	if strings.Index(md, "## Summary") > strings.Index(md, heading) || strings.Index(md, heading) > strings.Index(md, "## Profiles") {
		t.Error("pull-mode section not between the summary and the profiles")
	}
	if !strings.Contains(md, "| scenario | workers | rps | rps vs push | p50 µs | p99 µs | edgeloop CPU µs/req | app CPU µs/req | total CPU µs/req | total CPU vs push |\n") {
		t.Errorf("pull-mode table head missing:\n%s", md)
	}
	want := map[string][]string{
		"app-push":                    {"app-push", "push", "20000", "x1.00", "2000.0", "8000.0", "30.00", "30.00", "60.00", "x1.00"},
		"app-pull-1w":                 {"app-pull-1w", "1", "2000", "x0.10", "30000.0", "45000.0", "250.00", "200.00", "450.00", "x7.50"},
		"app-pull-4w":                 {"app-pull-4w", "4", "5000", "x0.25", "12000.0", "30000.0", "100.00", "80.00", "180.00", "x3.00"},
		"app-pull-16w ⚠":              {"app-pull-16w ⚠ 1/3 disturbed", "16", "8000", "x0.40", "7000.0", "20000.0", "90.00", "60.00", "150.00", "x2.50"},
		"app-push-rate (1000 rps)":    {"app-push-rate (1000 rps)", "push", "999", "x1.00", "400.0", "2000.0", "100.00", "100.00", "200.00", "x1.00"},
		"app-pull-4w-rate (1000 rps)": {"app-pull-4w-rate (1000 rps)", "4", "998", "x1.00", "600.0", "5000.0", "250.00", "150.00", "400.00", "x2.00"},
	}
	for name, w := range want {
		got := cells(tableRow(md, heading, name))
		if strings.Join(got, "|") != strings.Join(w, "|") {
			t.Errorf("pull-mode row %s = %q, want %q", name, got, w)
		}
	}
	if s := "Added latency at a fixed 1000 rps, pull with 4 workers against push: p50 +200 µs (x1.50), p99 +3000 µs (x2.50).\n"; !strings.Contains(md, s) {
		t.Errorf("report lacks %q:\n%s", s, md)
	}

	// Their own scenario tables: no peer, so no "vs best peer"; the
	// origin's connections are not counted for the app.
	got := cells(tableRow(md, "## app-pull-4w-rate (fixed rate 1000 rps)", "edgeloop"))
	if len(got) != 11 || got[1] != "998" || got[5] != "250.00" || got[6] != "" || got[7] != "-" || got[9] != "1" || got[10] != "2" {
		t.Errorf("app-pull-4w-rate scenario row = %q", got)
	}
	if got := cells(tableRow(md, "## small-keepalive", "edgeloop")); len(got) != 11 || got[7] != "0.10" {
		t.Errorf("small-keepalive edgeloop row = %q", got)
	}
	// The summary counts the proxies' scenarios only.
	if s := "edgeloop spends the least CPU per request of the three proxies in 1 of 2 scenarios."; !strings.Contains(md, s) {
		t.Errorf("summary changed by the app rows:\n%s", md)
	}
}

func TestMarkdownPullWithoutPush(t *testing.T) {
	// BENCH_ONLY=app-pull-4w: nothing to compare with; ratio cells blank.
	rows := pullRows()[2:3]
	md := Markdown(&Result{Rows: rows})
	got := cells(tableRow(md, "## Pull mode", "app-pull-4w"))
	if len(got) != 10 || got[3] != "" || got[8] != "180.00" || got[9] != "" {
		t.Errorf("pull row without push = %q", got)
	}
	if strings.Contains(md, "Added latency") {
		t.Errorf("added latency without a push row:\n%s", md)
	}
	if strings.Contains(Markdown(sample()), "## Pull mode") {
		t.Error("pull-mode section without app rows")
	}
}

func TestChartLeavesOutPull(t *testing.T) {
	dir := t.TempDir()
	with := sample()
	with.Rows = append(with.Rows, pullRows()...)
	if err := Chart(sample(), filepath.Join(dir, "a.svg")); err != nil {
		t.Fatal(err)
	}
	if err := Chart(with, filepath.Join(dir, "b.svg")); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "a.svg"))
	b, _ := os.ReadFile(filepath.Join(dir, "b.svg"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Error("the app rows changed the chart")
	}
	err := Chart(&Result{Rows: pullRows()}, filepath.Join(dir, "c.svg"))
	if !errors.Is(err, ErrNothingToChart) {
		t.Errorf("a chart of app rows only: %v, want ErrNothingToChart", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "c.svg")); err == nil {
		t.Error("a chart of app rows only was written")
	}
}

func TestPullJSON(t *testing.T) {
	b, err := json.Marshal(pullRows()[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"app":"pull"`, `"pull_workers":1`, `"app_cpu_us_per_req":200`, `"cpu_us_per_req":250`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("%s lacks %s", b, s)
		}
	}
	// The other rows are as before.
	b, _ = json.Marshal(sample().Rows[1])
	for _, s := range []string{`"app"`, `"pull_workers"`, `"app_cpu_us_per_req"`} {
		if strings.Contains(string(b), s) {
			t.Errorf("a proxy row has %s: %s", s, b)
		}
	}
}
