package main

import (
	"testing"

	"github.com/edgeloop/edgeloop/bench/internal/bare/baretest"
)

// TestServer runs the tests every bare server must pass (raw HTTP/1.1 on
// the wire, net/http's client, no goroutine left after a stop) against
// this one; the request framing has its own tests in bench/internal/bare.
func TestServer(t *testing.T) {
	baretest.TestServer(t, run, serverName)
}
