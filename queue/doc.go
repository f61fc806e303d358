// Package queue serves pull-mode pools: pools whose workers fetch requests
// instead of being sent them.
//
// It owns the bounded request queue, the leases given to workers (a fetched
// request that must be answered before its lease expires), and the worker
// API of CONTRACT.md ("Worker API"). It hands a request to a worker and
// passes the answer back to the loop that owns the client through a callback
// it is given; it never touches a connection itself.
//
// Imports: the standard library and http1. It must not import gnet,
// eventloop, pool, mgmt or any third-party module.
//
// Concurrency: the queue is shared by every loop and by the worker API's
// goroutines, so it sits behind a short mutex. The answer callback is called
// from a worker API goroutine; the callback itself must post to the owning
// loop (EventLoop.Execute) rather than touch loop state.
//
// Lifetimes: a queued request owns copies of its head and body; nothing in
// the queue points into a loop's buffers.
//
// Filled by the pull-queue issue; until then this package holds only this
// doc.
package queue
