// Package bench is the end-to-end benchmark harness behind `make bench`:
// it starts the origin, edgeloop, nginx and HAProxy side by side, drives
// each with loadgen over the same scenarios, and writes
// bench/results/latest.json, latest.md and a chart (CONTRACT.md,
// "make bench").
//
// Imports: anything. Nothing may import it (internal/depcheck enforces it),
// so harness code never reaches a binary that ships.
//
// Concurrency and lifetimes: the harness runs one scenario at a time and
// owns every process it starts; it stops them by their PIDs.
//
// Layout: run.go drives the scenarios (scenario.go) and measures each run
// from /proc (proc.go); pull.go runs the pull-mode scenarios against a
// second edgeloop and its app; proc_start.go starts and stops processes;
// profile.go fetches edgeloop's profiles; bench/report writes the JSON,
// the Markdown and the chart; bench/gnetbare and bench/eviobare are the
// reference servers, sharing their framing, main and tests through
// bench/internal/bare; bench/templates holds the peers' configs. How to run
// it and why each setting: bench/README.md.
package bench
