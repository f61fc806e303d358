// Package loadgen is the load generator library behind cmd/loadgen:
// connections, request pacing (closed model like wrk; open model with
// coordinated-omission correction like wrk2), latency histograms and the
// JSON report of CONTRACT.md ("loadgen").
//
// Imports: the standard library, and http1 at most (to write requests and
// frame responses). It must not import the proxy's packages, gnet or any
// third-party module, so a measurement never shares code paths with what it
// measures beyond the wire format.
//
// Concurrency: each worker goroutine owns its connections and its
// histogram; histograms are merged once, after the run.
//
// Filled by the loadgen issue; until then this package holds only this doc.
package loadgen
