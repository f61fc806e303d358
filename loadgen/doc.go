// Package loadgen is the load generator library behind cmd/loadgen:
// connections, request pacing (closed model like wrk; open model with
// coordinated-omission correction like wrk2), latency histograms and the
// JSON report of CONTRACT.md ("loadgen").
//
// Imports: the standard library, http1 (to frame responses) and
// github.com/HdrHistogram/hdrhistogram-go. It must not import the proxy's
// packages or gnet, so a measurement never shares code paths with what it
// measures beyond the wire format.
//
// Concurrency: each worker (loadgen.go Run, worker.go) is an epoll loop on
// a goroutine locked to its OS thread, owning its connections and its
// histogram, like a wrk thread; histograms are merged once, after the run.
// The only shared state is the request budget of -n (a mutex, touched once
// per request only when -n is given).
package loadgen
