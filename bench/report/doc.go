// Package report turns the benchmark harness's measurements into the files
// that `make bench` leaves in bench/results: latest.json (Result, written
// by WriteJSON and read back by ReadJSON), latest.md (Markdown) and a chart
// of throughput and CPU per request (Chart).
//
// It also reads the pprof profiles that PROFILE=1 saves for edgeloop:
// ReadProfile loads one, Delta subtracts two snapshots of a cumulative
// profile (/debug/pprof/allocs fetched before and after a run), and
// TopFunctions lists where the CPU or the allocations went, the way
// `pprof -top` does.
//
// Everything here is a pure function of its arguments apart from the files
// it is told to read or write; output is deterministic for a given Result.
package report
