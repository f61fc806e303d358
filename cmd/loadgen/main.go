// Command loadgen is the bundled load generator (CONTRACT.md, "loadgen"),
// a thin flag layer over package loadgen:
//
//	loadgen [-c CONNS] [-d DURATION] [-t THREADS] [-rate RPS] [-n REQUESTS]
//	        [-m METHOD] [-H 'K: V']... [-body FILE] [-pipeline N] [-close]
//	        [-json] URL
//
// Closed model by default (like wrk); -rate switches to the open model,
// latency counted from when each request was due (like wrk2). A human
// table on stdout, or with -json one JSON object. Bad flags: one line,
// exit 2.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/edgeloop/edgeloop/internal/version"
	"github.com/edgeloop/edgeloop/loadgen"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		cfg  loadgen.Config
		hs   headers
		body string
	)
	fs.IntVar(&cfg.Conns, "c", 10, "connections")
	fs.DurationVar(&cfg.Duration, "d", 0, "duration (default 10s unless -n)")
	fs.IntVar(&cfg.Threads, "t", 1, "threads (event loops)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "requests per second (open model); 0: closed model")
	fs.Int64Var(&cfg.Requests, "n", 0, "stop after this many responses")
	fs.StringVar(&cfg.Method, "m", "GET", "method")
	fs.Var(&hs, "H", "header 'Name: value' (repeatable)")
	fs.StringVar(&body, "body", "", "request body `file`")
	fs.IntVar(&cfg.Pipeline, "pipeline", 1, "requests in flight per connection")
	fs.BoolVar(&cfg.Close, "close", false, "a new connection per request")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "a response later than this is an error")
	asJSON := fs.Bool("json", false, "print one JSON object")
	progress := fs.Bool("progress", false, "a line a second on stderr (the default on a terminal)")
	urls := fs.String("urls", "", "a `file` of more URLs (one a line, same host:port), taken in turn")
	fs.BoolVar(&cfg.Verify, "verify", false, "check every response with net/http too (slower)")
	showVersion := fs.Bool("version", false, "print the version")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintln(stderr, "loadgen: "+err.Error())
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, "loadgen "+version.Version)
		return 0
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "loadgen: want one URL after the flags")
		return 2
	}
	cfg.URL, cfg.Headers = fs.Arg(0), hs
	switch {
	case cfg.Conns < 1, cfg.Threads < 1, cfg.Pipeline < 1, cfg.Requests < 0, cfg.Rate < 0, cfg.Duration < 0:
		fmt.Fprintln(stderr, "loadgen: -c, -t and -pipeline must be at least 1; -n, -rate and -d not negative")
		return 2
	}
	if cfg.Duration == 0 && cfg.Requests == 0 {
		cfg.Duration = 10 * time.Second
	}
	if body != "" {
		b, err := os.ReadFile(body)
		if err != nil {
			fmt.Fprintln(stderr, "loadgen: -body: "+err.Error())
			return 2
		}
		cfg.Body = b
	}
	if *urls != "" {
		b, err := os.ReadFile(*urls)
		if err != nil {
			fmt.Fprintln(stderr, "loadgen: -urls: "+err.Error())
			return 2
		}
		for _, line := range strings.Split(string(b), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				cfg.URLs = append(cfg.URLs, line)
			}
		}
	}
	if *progress || isTerminal(stderr) {
		cfg.Progress = func(done int64, elapsed time.Duration) {
			fmt.Fprintf(stderr, "loadgen: %5.1fs %10d responses %10.0f/s\n", elapsed.Seconds(), done,
				float64(done)/elapsed.Seconds())
		}
	}
	runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), cfg.Threads))
	res, err := loadgen.Run(cfg)
	if err != nil {
		fmt.Fprintln(stderr, err.Error())
		return 2
	}
	if *asJSON {
		return printJSON(stdout, res)
	}
	printTable(stdout, cfg, res)
	return 0
}

func printJSON(w io.Writer, r *loadgen.Result) int {
	if err := json.NewEncoder(w).Encode(r.Summary()); err != nil {
		return 1
	}
	return 0
}

func printTable(w io.Writer, cfg loadgen.Config, r *loadgen.Result) {
	model := "closed model"
	if cfg.Rate > 0 {
		model = fmt.Sprintf("open model, %.0f requests/s", cfg.Rate)
	}
	fmt.Fprintf(w, "%s: %d connections, %d threads, %s\n", cfg.URL, cfg.Conns, cfg.Threads, model)
	fmt.Fprintf(w, "  %d requests in %.2fs, %.0f requests/s, %d bytes read, %d errors\n",
		r.Requests, r.Duration.Seconds(), r.RPS(), r.Bytes, r.ErrorCount())
	h := r.Latency
	fmt.Fprintf(w, "  latency us: p50 %d  p90 %d  p99 %d  p99.9 %d  max %d\n",
		h.ValueAtQuantile(50), h.ValueAtQuantile(90), h.ValueAtQuantile(99), h.ValueAtQuantile(99.9), h.Max())
	var codes []int
	for k := range r.Status {
		codes = append(codes, k)
	}
	sort.Ints(codes)
	for _, k := range codes {
		fmt.Fprintf(w, "  status %d: %d\n", k, r.Status[k])
	}
	for k, v := range r.Errors {
		fmt.Fprintf(w, "  errors %s: %d\n", k, v)
	}
}

// isTerminal reports whether w is a terminal (the progress line is on by
// default there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
