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
// the queue points into a loop's buffers. A Request is read only once
// enqueued: the worker API reads its head and body from several
// goroutines.
//
// The life of a request: Enqueue (queued, or handed at once to a worker
// that long-polls) → Fetch (leased to a worker for the lease time) →
// Respond (answered; or, with "stream": true, its head sent and its body
// relayed by Stream) → done. Timers end the waits: queue_timeout without
// a fetch is a 504; an expired lease puts an idempotent request back at
// the head once and fails any other with 504. Ticket.Cancel (the client
// left) ends it at any point. Each request's body counts against its
// pool's budget (Reserve) until it ends.
//
// The Client callbacks are never called with the queue's mutex held.
package queue
