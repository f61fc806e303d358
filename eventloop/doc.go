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
// Known gap (issue 3): no pause-read yet, so a slow reader on one side
// lets gnet buffer what the other side sends.
package eventloop
