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
// Filled by issue 4 (the pool and management API); until then this package
// holds only this doc.
package mgmt
