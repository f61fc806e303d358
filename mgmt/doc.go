// Package mgmt is the management side: the HTTP management API of
// CONTRACT.md, metrics in the Prometheus text format, and the pprof
// handlers, all served by net/http on the -admin address.
//
// It defines the narrow Control interface it needs (list, add, drain and
// remove servers; read counters) and cmd/edgeloop passes it an
// implementation. Imports: the standard library and third-party modules
// only, nothing of this module but internal/* helpers; in particular not
// eventloop, pool or gnet (internal/depcheck enforces it).
//
// Concurrency: handlers run on net/http's goroutines and call Control
// concurrently; Control's implementation is responsible for its own
// locking. Nothing here runs on an event loop.
//
// Lifetimes: values returned through Control are copies the handler owns.
//
// Files: control.go holds the Control interface, the values it exchanges,
// the errors that choose a status, and the JSON reading and writing every
// handler shares; api.go builds the handler of New (routes, bearer-token
// check, the handlers of each endpoint, pprof on its own mux); metrics.go
// serves /metrics from a registry of its own, with a collector that reads
// Control at scrape time. The tests drive it against an in-memory fake
// Control (fake_test.go); cmd/edgeloop supplies the real one.
package mgmt
