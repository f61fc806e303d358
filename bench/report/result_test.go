package report

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sample is a Result with two scenarios: in small-keepalive edgeloop
// spends the least CPU per request (10 µs against nginx 12.5 and haproxy
// 20, x0.80); in open-50pct it is behind nginx (x1.25) and one run was
// disturbed.
func sample() *Result {
	return &Result{
		Machine:  "2 CPUs, Test CPU, Linux 6.1, 24 GiB",
		Date:     "2026-01-02T03:04:05Z",
		Versions: map[string]string{"nginx": "1.26.3", "haproxy": "3.0.8", "go": "go1.26.8", "edgeloop": "dev"},
		Settings: map[string]string{"duration": "5s", "repeats": "3"},
		Notes:    []string{"taskset was off", "nginx ran one worker"},
		Rows: []Row{
			{Scenario: "small-keepalive", System: "edgeloop", RPS: 51234.4, P50: 101.26, P99: 250, P999: 900.04, CPUPerReq: 10, OriginConnsPer1k: 0.1, RSSMB: 12.34, Runs: 3,
				Profile: &Profile{
					CPUFile: "profiles/small-keepalive.cpu.pb.gz", AllocFile: "profiles/small-keepalive.alloc.pb.gz",
					TopCPU:   []Func{{Name: "syscall.Syscall6", Flat: 500, FlatPct: 41.25, Cum: 600, CumPct: 49.5}},
					TopAlloc: []Func{{Name: "http1.Parse", Flat: 4096, FlatPct: 80, Cum: 4096, CumPct: 80}},
				}},
			{Scenario: "small-keepalive", System: "nginx", RPS: 45000, CPUPerReq: 12.5, Runs: 3},
			{Scenario: "small-keepalive", System: "haproxy", RPS: 40000, CPUPerReq: 20, Runs: 3},
			{Scenario: "small-keepalive", System: "origin-direct", RPS: 90000, CPUPerReq: 5, Runs: 3},
			{Scenario: "open-50pct", System: "edgeloop", RPS: 12000, CPUPerReq: 15, Runs: 3, Disturbed: 1, RateRPS: 12000, Spread: 0.04, Errors: 2, Non2xx: 7},
			{Scenario: "open-50pct", System: "nginx", RPS: 12000, CPUPerReq: 12, Runs: 3, RateRPS: 12000},
			{Scenario: "open-50pct", System: "haproxy", RPS: 12000, CPUPerReq: 16, Runs: 3, RateRPS: 12000},
		},
	}
}

func TestJSONRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latest.json")
	want := sample()
	if err := WriteJSON(path, want); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(b), "}\n") || !strings.Contains(string(b), "\n  \"rows\": [") {
		t.Errorf("not indented JSON with a trailing newline:\n%s", b)
	}
	got, err := ReadJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
	// Nothing but the file itself is left in the directory.
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("directory holds %d entries, want only latest.json", len(ents))
	}
}

func TestWriteJSONReplaces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latest.json")
	if err := os.WriteFile(path, []byte("old and longer than the new one ........................................"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &Result{Rows: []Row{}}
	if err := WriteJSON(path, r); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Rows) != 0 {
		t.Errorf("rows = %v, want none", got.Rows)
	}
}

func TestReadJSONRejects(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"norows.json":   `{"machine": "m", "date": "2026-01-02T03:04:05Z"}`,
		"nullrows.json": `{"rows": null}`,
		"broken.json":   `{"rows": [`,
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadJSON(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %v, want one naming the file", name, err)
		}
	}
	missing := filepath.Join(dir, "missing.json")
	if _, err := ReadJSON(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: err = %v, want one naming it", err)
	}
}
