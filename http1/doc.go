// Package http1 owns the HTTP/1.1 wire format for edgeloop: request and
// response heads parsed into offsets of the caller's buffer, the one
// framing decision of RFC 9112 §6, the streaming chunked decoder, the
// hop-by-hop rules of a proxy, and Append writers that emit heads.
//
// # Imports
//
// The standard library only (DESIGN.md); nothing of ours. net/http and
// fasthttp appear in tests alone, as the references of the differential
// fuzz target and the benchmarks.
//
// # Parsing
//
// Request.Parse and Response.Parse take the bytes received so far, from
// the start of the message, and return the head's length n, ErrNeedMore,
// or an *Error naming the status a proxy answers (400, 414, 431, 501,
// 505). After ErrNeedMore call again with the same prefix and more bytes:
// the scanner resumes where it stopped and examines each byte once, so the
// total work is linear in the head however it is split, and the verdict
// never depends on the split. After an *Error the connection's framing is
// in doubt: answer and close. Several messages in one buffer (pipelining)
// parse one after the other: Reset, then Parse the bytes after the body.
// Parsing allocates nothing; errors are package-level sentinels.
//
// Rules are strict by default and each cites its clause where it is
// decided; docs/conformance.md lists them and how they differ from
// net/http.
//
// # Lifetimes
//
// A Span is an offset and a length into the caller's buffer: valid while
// that buffer keeps its prefix (moving the bytes to a larger buffer keeps
// spans valid). Fields() and the slices returned by Span.Of, Get and
// Chunked.Decode alias the buffer or the head: valid until the buffer is
// reused or the head is Reset.
//
// # Concurrency
//
// A Request, Response or Chunked belongs to one goroutine at a time (in
// edgeloop, the event loop owning the connection). Package-level tables
// and errors are read-only.
package http1
