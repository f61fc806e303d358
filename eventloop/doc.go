// Package eventloop is the data plane and the only user of gnet.
//
// It owns the gnet event handler; the session (a client connection and the
// origin connection serving it); forwarding of heads and bodies between the
// two; backpressure (bounded memory under a slow peer, since gnet's outbound
// buffer is unbounded); the per-loop timers that drive timeouts; and the
// per-loop lists of idle origin connections and per-loop counters.
//
// Imports: gnet (github.com/panjf2000/gnet/v2), the standard library,
// http1, pool and queue. It must not import mgmt, loadgen, config, bench or
// fuzz, and no other package of the module may import gnet
// (internal/depcheck enforces both).
//
// Concurrency: a request never leaves its loop. The client connection and
// the origin connection of a session are both registered on the same gnet
// loop, so the hot path takes no lock, sends on no channel and wakes no other
// thread. Other goroutines (management API, health checkers) reach a loop
// only through immutable pool snapshots read with atomic.Pointer or through
// a task posted with EventLoop.Execute.
//
// Lifetimes: bytes returned by gnet's Peek belong to a buffer shared by
// every connection of the loop and are valid only inside the callback that
// peeked them; anything kept longer is copied into the session's own buffer.
//
// Files: proxy.go (the engine, the gnet callbacks, counters), loop.go
// (per-loop state: timers, idle origin connections, dialing), client.go and
// origin.go (the two halves of a session, each a small state machine),
// body.go (streaming a body by its framing), forward.go (the heads the
// proxy writes: the proxy duties of RFC 9110 §7.6).
//
// Backpressure (pause.go): when a sink holds over 512 KiB unsent, its
// source's read interest is taken off the loop's epoll set until the sink
// is under 128 KiB, so a slow peer costs a bounded amount of memory.
//
// Bounds beyond the parser's: MaxBodyBytes on a request body's data, and
// on a chunked body's framing at most 64 KiB plus 8 bytes per data byte
// (413 above, body.go).
//
// Expect: 100-continue is forwarded (RFC 9110 §10.1.1: a proxy that does
// not know the next hop's version forwards it); to an origin seen to
// answer in HTTP/1.0 the proxy answers 100 Continue itself and drops the
// expectation.
package eventloop
