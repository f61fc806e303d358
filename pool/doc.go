// Package pool is the origin pool: what the loops choose origins from.
//
// It owns the servers of each pool, each with a stable numeric ID (state is
// keyed by that ID, never by the address string); their weights; the
// selection policies (round_robin, least_conn, p2c_ewma, hash); the health
// state machine and the active checkers that drive it; and the immutable
// snapshot the loops read.
//
// Imports: the standard library, and http1 to write and read health-check
// probes. It knows nothing of gnet, of the management API or of how a
// request is forwarded; it must not import eventloop, queue, mgmt or any
// third-party module.
//
// Concurrency: writers (management API, health checkers, persistence) are
// ordinary goroutines serialised by the pool; each change publishes a new
// snapshot through an atomic.Pointer. Loops only load snapshots and never
// block on the pool. Counts shared across loops (a server's in-flight
// requests, for max_conns) are atomics.
//
// Lifetimes: a snapshot is immutable once published; a loop may hold one as
// long as it likes, and a server that has left the pool stays valid in the
// snapshots that still name it.
//
// Layout: config.go checks a Config and fills in its defaults (and parses
// server URLs); registry.go holds the Registry, its changes (Add, Remove,
// Patch) and the drain reaper; snapshot.go builds the immutable Snapshot
// and routes requests to a pool; policy.go is the Pool a loop picks from
// (round_robin, least_conn, p2c_ewma, hash) and reports to (passive
// ejection); health.go runs the active checkers; state.go reads and
// atomically rewrites the state file. Hot-path calls (Snapshot, Route,
// Pick, Begin, Report) allocate nothing and take no lock, but for the
// short per-pool one Report takes at the moment it ejects a server; tests
// hold them to that.
package pool
