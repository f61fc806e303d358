// Command bench is `make bench`: edgeloop, nginx and HAProxy side by side
// in front of one nginx origin, with the origin itself and bare gnet and
// evio servers as reference rows, and pull mode against push on one app
// behind a second edgeloop. It writes bench/results/latest.json,
// latest.md and latest.svg. See bench/README.md.
//
// Environment: BENCH_QUICK=1 (about a minute), PROFILE=1 (CPU and
// allocation profiles of edgeloop per scenario), BENCH_TASKSET=1 (pin the
// proxy to CPU 0, origin and loadgen to CPU 1), BENCH_WORKERS (workers,
// threads or loops per proxy, default 1), BENCH_THREADS (loadgen threads,
// default 1), BENCH_ONLY (comma-separated scenarios), BENCH_DURATION and
// BENCH_REPEATS (per run), BENCH_OUT (results directory).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/edgeloop/edgeloop/bench"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	opt := bench.Options{
		Only: os.Getenv("BENCH_ONLY"),
		Root: root,
		Out:  envOr("BENCH_OUT", "bench/results"),
		Log:  os.Stderr,
	}
	for k, dst := range map[string]*bool{"BENCH_QUICK": &opt.Quick, "PROFILE": &opt.Profile, "BENCH_TASKSET": &opt.Taskset} {
		if *dst, err = envBool(k); err != nil {
			return err
		}
	}
	if opt.Workers, err = envInt("BENCH_WORKERS"); err != nil {
		return err
	}
	if opt.Threads, err = envInt("BENCH_THREADS"); err != nil {
		return err
	}
	if d := os.Getenv("BENCH_DURATION"); d != "" {
		if opt.Timing.Run, err = time.ParseDuration(d); err != nil || opt.Timing.Run < 500*time.Millisecond {
			return fmt.Errorf("BENCH_DURATION: want a Go duration of at least 500ms, got %q", d)
		}
		opt.Timing.Warmup = min(opt.Timing.Run/4, time.Second)
		opt.Timing.Repeats = 5
	}
	if r, err := envInt("BENCH_REPEATS"); err != nil {
		return err
	} else if r > 0 {
		if opt.Timing.Run == 0 {
			return fmt.Errorf("BENCH_REPEATS needs BENCH_DURATION as well")
		}
		opt.Timing.Repeats = r
	}
	res, err := bench.Run(ctx, opt)
	if err != nil {
		return err
	}
	files := "json,md,svg"
	if _, err := os.Stat(filepath.Join(opt.Out, "latest.svg")); err != nil {
		files = "json,md" // only app scenarios ran: nothing for the chart
	}
	fmt.Printf("bench: %d rows written to %s/latest.{%s}\n", len(res.Rows), opt.Out, files)
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// envBool reads 1 or 0 from k; unset is false. Anything else is an error,
// so that BENCH_QUICK=yes does not start a 13-minute run.
func envBool(k string) (bool, error) {
	switch v := os.Getenv(k); v {
	case "", "0":
		return false, nil
	case "1":
		return true, nil
	default:
		return false, fmt.Errorf("%s: want 1 or 0, got %q", k, v)
	}
}

// envInt reads a positive integer from k; unset is 0.
func envInt(k string) (int, error) {
	v := os.Getenv(k)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s: want a positive integer, got %q", k, v)
	}
	return n, nil
}
