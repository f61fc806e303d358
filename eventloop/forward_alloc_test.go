//go:build !race

package eventloop

import (
	"testing"

	"github.com/edgeloop/edgeloop/http1"
)

// TestForwardHeadAllocs: rewriting heads allocates nothing once the
// destination buffer has room, X-Forwarded-For merging and Connection
// options included (run without -race, which changes allocation counts).
func TestForwardHeadAllocs(t *testing.T) {
	req := []byte("GET http://example.com/a?b HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Drop\r\n" +
		"X-Drop: 1\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\nAccept: */*\r\n\r\n")
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nKeep-Alive: timeout=5\r\nServer: s\r\n\r\n")
	var r http1.Request
	var s http1.Response
	if _, err := r.Parse(req); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Parse(resp); err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(200, func() {
		dst = appendRequestHead(dst[:0], &r, req, "127.0.0.1", "127.0.0.1:9000", false)
		dst = appendResponseHead(dst[:0], &s, resp, respFraming{body: http1.Body{Kind: http1.BodyLength, Length: 5}, keepAlive: true, date: []byte("Tue, 01 Dec 2026 06:00:00 GMT")}, false)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per rewrite, want 0", allocs)
	}
	out := string(appendRequestHead(nil, &r, req, "127.0.0.1", "127.0.0.1:9000", false))
	want := "GET /a?b HTTP/1.1\r\nAccept: */*\r\nHost: example.com\r\nVia: 1.1 edgeloop\r\n" +
		"X-Forwarded-For: 10.0.0.1, 10.0.0.2, 127.0.0.1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: example.com\r\n\r\n"
	if out != want {
		t.Fatalf("forwarded head\n%q\nwant\n%q", out, want)
	}
}
