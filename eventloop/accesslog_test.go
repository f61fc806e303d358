package eventloop_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeloop/edgeloop/eventloop"
)

// syncBuffer is a log sink the loops and the test may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAccessLog: with AccessLog on, each request gets one line naming the
// client, method, target, status and origin; errors of the proxy's own
// are logged with their status; off, nothing is logged.
func TestAccessLog(t *testing.T) {
	o := startOrigin(t, echo)
	var sink syncBuffer
	log := slog.New(slog.NewTextHandler(&sink, nil))
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}, AccessLog: true, Logger: log})
	c := dial(t, p.Addr)
	c.send("GET /logged?x=1 HTTP/1.1\r\nHost: a\r\n\r\n")
	bodyOf(t, c.read("GET"), 200)
	c.send("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
	c.expectStatus("GET", 400)
	var lines []string
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		lines = nil
		for _, l := range strings.Split(sink.String(), "\n") {
			if strings.Contains(l, "msg=access") {
				lines = append(lines, l)
			}
		}
		if len(lines) >= 2 {
			break
		}
	}
	if len(lines) != 2 {
		t.Fatalf("access lines %q", lines)
	}
	for _, want := range []string{"client=127.0.0.1", "method=GET", "target=\"/logged?x=1\"", "status=200", "origin=" + o.Addr()} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("line %q lacks %q", lines[0], want)
		}
	}
	if !strings.Contains(lines[1], "status=400") {
		t.Errorf("line %q lacks status=400", lines[1])
	}

	var quiet syncBuffer
	p2 := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}, Logger: slog.New(slog.NewTextHandler(&quiet, nil))})
	c2 := dial(t, p2.Addr)
	c2.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	bodyOf(t, c2.read("GET"), 200)
	if strings.Contains(quiet.String(), "msg=access") {
		t.Fatalf("access logged while off: %q", quiet.String())
	}
}
