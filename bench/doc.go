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
// Filled by the bench issue; until then this package holds only this doc,
// and `make bench` runs the http1 parser micro-benchmarks.
package bench
