package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Row is one (scenario, system) line of the benchmark: medians over its runs.
type Row struct {
	Scenario         string   `json:"scenario"` // e.g. "small-keepalive", "open-50pct"
	System           string   `json:"system"`   // edgeloop, nginx, haproxy, origin-direct, gnet-bare, evio-bare
	RPS              float64  `json:"rps"`      // requests per second
	P50              float64  `json:"p50_us"`   // latency percentiles, microseconds
	P99              float64  `json:"p99_us"`
	P999             float64  `json:"p999_us"`
	CPUPerReq        float64  `json:"cpu_us_per_req"`       // proxy's process tree, microseconds of CPU per request
	OriginConnsPer1k float64  `json:"origin_conns_per_1k"`  // connections opened to the origin per 1000 requests
	RSSMB            float64  `json:"rss_mb"`               // proxy peak RSS during the runs, MiB
	Errors           int64    `json:"errors"`               // summed over runs
	Non2xx           int64    `json:"non_2xx"`              // summed over runs
	Runs             int      `json:"runs"`                 // runs the medians are taken over
	Disturbed        int      `json:"disturbed"`            // runs flagged as disturbed by another busy process
	RateRPS          float64  `json:"rate_rps,omitempty"`   // open model: the target rate
	Spread           float64  `json:"cpu_spread,omitempty"` // (max-min)/median of cpu_us_per_req over runs
	Profile          *Profile `json:"profile,omitempty"`    // what PROFILE=1 saved, if anything
	// The pull-mode scenarios (app-*), run against a second edgeloop in
	// front of one app: App is "push" (the app is the pool's origin) or
	// "pull" (PullWorkers workers fetch the requests); AppCPUPerReq is the
	// app's process (push origin or pull workers), microseconds of CPU per
	// request, beside CPUPerReq, edgeloop's. Empty on the other rows.
	App          string  `json:"app,omitempty"`
	PullWorkers  int     `json:"pull_workers,omitempty"`
	AppCPUPerReq float64 `json:"app_cpu_us_per_req,omitempty"`
}

// Profile is what PROFILE=1 saved for one edgeloop row.
type Profile struct {
	CPUFile   string `json:"cpu_file"`   // path relative to bench/results
	AllocFile string `json:"alloc_file"` // alloc_space delta over the runs, relative to bench/results
	TopCPU    []Func `json:"top_cpu"`    // TopFunctions(cpu profile, "cpu", n)
	TopAlloc  []Func `json:"top_alloc"`  // TopFunctions(alloc profile, "alloc_space", n)
}

// Func is one line of a pprof top listing.
type Func struct {
	Name    string  `json:"name"`     // function name
	Flat    int64   `json:"flat"`     // nanoseconds for CPU, bytes for alloc_space
	FlatPct float64 `json:"flat_pct"` // percent of the profile total
	Cum     int64   `json:"cum"`      // flat plus everything it called
	CumPct  float64 `json:"cum_pct"`
}

// Result is bench/results/latest.json.
type Result struct {
	Machine  string            `json:"machine"`            // e.g. "2 CPUs, Intel(R) Xeon(R) ..., Linux 6.1, 24 GiB"
	Date     string            `json:"date"`               // RFC 3339
	Versions map[string]string `json:"versions"`           // nginx, haproxy, go, edgeloop, ...
	Quick    bool              `json:"quick"`              // a quick run: shorter, with fewer repeats
	Settings map[string]string `json:"settings,omitempty"` // e.g. "duration": "5s", "repeats": "3", "workers": "1", "taskset": "off"
	Notes    []string          `json:"notes,omitempty"`    // free-form remarks for the reader
	Rows     []Row             `json:"rows"`               // in the order the harness ran them
}

// WriteJSON writes r to path as indented JSON with a trailing newline. It
// writes a temporary file in the same directory and renames it over path,
// so a reader never sees half a file.
func WriteJSON(path string, r *Result) error {
	if r == nil {
		return fmt.Errorf("report: %s: nil result", path)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("report: %s: %w", path, err)
	}
	b = append(b, '\n')
	return writeFile(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// ReadJSON reads a Result written by WriteJSON. Its errors name the file;
// a file without a "rows" array is rejected, since it cannot be a result.
func ReadJSON(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, fmt.Errorf("report: %s: %w", path, err)
	}
	rows, ok := fields["rows"]
	if !ok || bytes.Equal(bytes.TrimSpace(rows), []byte("null")) {
		return nil, fmt.Errorf("report: %s: no \"rows\": not a benchmark result", path)
	}
	r := new(Result)
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("report: %s: %w", path, err)
	}
	return r, nil
}

// writeFile writes path through fill: into a temporary file beside it,
// which is then renamed over path. On any error path is left untouched and
// the temporary file removed.
func writeFile(path string, fill func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("report: %s: %w", path, err)
		}
	}()
	if err := fill(f); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
