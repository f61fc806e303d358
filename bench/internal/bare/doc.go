// Package bare holds what the bare reference servers, bench/gnetbare and
// bench/eviobare, have in common, so that each keeps only the glue to its
// event-loop library, a RunFunc: the command line, signals and logging
// (Main), the fixed answers (BuildResponse, BadRequest), the request
// framing (Parser, which finds the end of each head and skips
// Content-Length bodies, across reads and pipelined requests), the
// assembly of one read's answers into one write (Answers), and the tests
// of a server's behaviour on the wire (TestServer), which each server's
// own tests run against its run function.
//
// The servers are a ceiling for the benchmark harness, not HTTP servers:
// they parse no more than they need to frame requests, the end of the head
// ("\r\n\r\n"), Content-Length, Connection and Transfer-Encoding, and answer
// every request with the same precomputed response.
//
// Concurrency: a Parser belongs to one connection and is used by one
// goroutine at a time (the connection's event loop); everything else here
// is stateless.
//
// TestServer is in a non-test file so that both servers' tests can share
// it. It imports testing and net/http (for the client), which are thus
// linked into both servers, unused there; that is fine for code that only
// the benchmark harness builds.
package bare
