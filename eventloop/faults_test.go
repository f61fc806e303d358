package eventloop_test

// Exchanges that go wrong: malformed requests, origins that refuse, stall,
// lie or die, slow clients, timeouts, and shutdown with work in flight.
// Each checks what the client sees, what reached the origin, and that the
// proxy goes on serving.

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgeloop/edgeloop/eventloop"
)

// ---------------------------------------------------------------------
// Requests the proxy refuses itself.

func TestMalformedRequests(t *testing.T) {
	o := startOrigin(t, echo)
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
	var fill strings.Builder
	for i := 0; fill.Len() < 20<<10; i++ {
		fmt.Fprintf(&fill, "X-Fill-%d: %s\r\n", i, strings.Repeat("f", 1000))
	}
	for _, tc := range []struct {
		name   string
		raw    string
		status int
	}{
		{"repeated Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"bare LF", "GET / HTTP/1.1\nHost: a\n\n", 400},
		{"TE with CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello", 400},
		{"no Host in 1.1", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
		{"bad Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1,1\r\n\r\nx", 400},
		{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
		{"9 KiB request-line", "GET /" + strings.Repeat("a", 9<<10) + " HTTP/1.1\r\nHost: a\r\n\r\n", 414},
		{"20 KiB header", "GET / HTTP/1.1\r\nHost: a\r\n" + fill.String() + "\r\n", 431},
		{"unknown coding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: zip\r\n\r\n", 501},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, p.Addr)
			c.send(tc.raw)
			r := c.read("GET")
			if r.Status != tc.status || !r.Close {
				t.Fatalf("status %d, Connection: close %v; want %d and close", r.Status, r.Close, tc.status)
			}
			c.expectClosed()
		})
	}
	if n := o.Accepted(); n != 0 {
		t.Fatalf("malformed requests reached the origin: %d connections", n)
	}
	// Pipelined after a good request: the good one is answered, then 400.
	c := dial(t, p.Addr)
	c.send("GET /good HTTP/1.1\r\nHost: a\r\n\r\nGET /bad HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
	if b := bodyOf(t, c.read("GET"), 200); b != "GET /good " {
		t.Fatalf("first response %q", b)
	}
	c.expectStatus("GET", 400)
	c.expectClosed()
	if n := len(o.Requests()); n != 1 {
		t.Fatalf("origin got %d requests, want only the good one", n)
	}
}

// A chunked body that breaks after its head went to the origin: the
// client gets 400, and the origin connection, holding half a request, is
// closed rather than pooled.
func TestMalformedChunkedBody(t *testing.T) {
	eof := make(chan bool, 4)
	o := startOrigin(t, func(s *originSide) {
		for {
			r, err := s.ReadRequest()
			if err != nil {
				eof <- true
				return
			}
			if s.Write(ok("got "+string(r.Data))) != nil {
				return
			}
		}
	})
	p := startProxy(t, eventloop.Options{Loops: 1, Origins: []string{o.Addr()}})
	c := dial(t, p.Addr)
	c.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n")
	c.expectStatus("POST", 400)
	c.expectClosed()
	select {
	case <-eof:
	case <-time.After(ioTimeout):
		t.Fatal("the origin connection with half a request stays open")
	}
	if b := bodyOf(t, dial(t, p.Addr).get("/"), 200); b != "got " {
		t.Fatalf("next request: %q", b)
	}
	if n := o.Accepted(); n != 2 {
		t.Fatalf("origin accepted %d connections, want 2 (the broken one not reused)", n)
	}
}

// ---------------------------------------------------------------------
// Origins that are missing, refuse, stall or lie.

func TestNoOrigins503(t *testing.T) {
	p := startProxy(t, eventloop.Options{})
	c := dial(t, p.Addr)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	c.expectStatus("GET", 503)
	c.expectClosed()
	p.waitStats(t, eventloop.Stats{ClientFailed: 1})
}

func TestOriginRefused502(t *testing.T) {
	p := startProxy(t, eventloop.Options{Origins: []string{freeAddr(t)}})
	c := dial(t, p.Addr)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	c.expectStatus("GET", 502)
	c.expectClosed()
	// CONTRACT.md, Retries: a connect failure is retried once, on
	// another connection; both attempts count as origin failures.
	p.waitStats(t, eventloop.Stats{ClientFailed: 1, OriginFailed: 2})
}

// With two origins, one of them down, every request is answered: a
// connect failure is retried on the other (CONTRACT.md, Retries).
func TestOneOriginDown(t *testing.T) {
	o := startOrigin(t, echo)
	p := startProxy(t, eventloop.Options{Origins: []string{freeAddr(t), o.Addr()}})
	c := dial(t, p.Addr)
	for i := 0; i < 6; i++ {
		bodyOf(t, c.get("/"), 200)
	}
	// A POST too: nothing was written when the connect failed.
	c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi")
	if b := bodyOf(t, c.read("POST"), 200); b != "POST / hi" {
		t.Fatalf("POST: %q", b)
	}
}

func TestOriginTimeout504(t *testing.T) {
	closed := make(chan bool, 1)
	o := startOrigin(t, func(s *originSide) {
		if _, err := s.ReadRequest(); err == nil {
			closed <- s.WaitEOF() // never answers
		}
	})
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()},
		Timeouts: eventloop.Timeouts{OriginResponse: 300 * time.Millisecond}})
	c := dial(t, p.Addr)
	start := time.Now()
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	c.expectStatus("GET", 504)
	if d := time.Since(start); d < 250*time.Millisecond || d > time.Second {
		t.Fatalf("504 after %v, want about 300 ms", d)
	}
	c.expectClosed()
	if !<-closed {
		t.Fatal("the timed-out origin connection was not closed")
	}
	if n := o.Accepted(); n != 1 {
		t.Fatalf("origin accepted %d connections: a timeout is not retried", n)
	}
}

func TestOriginGarbage502(t *testing.T) {
	for _, tc := range []struct{ name, reply string }{
		{"not HTTP", "NOT HTTP\r\n\r\n"},
		{"bad Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nabc"},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok"},
		{"TE with CL", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
		{"20 KiB head", "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("abc", 7<<10) + "\r\nContent-Length: 0\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := startOrigin(t, serve(func(_ *originSide, r *gotRequest) string {
				if r.Target == "/ok" {
					return ok("fine")
				}
				return tc.reply
			}))
			p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
			c := dial(t, p.Addr)
			c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
			r := c.expectStatus("GET", 502)
			if strings.Contains(string(r.Body), "abc") || r.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Fatalf("the origin's invalid response leaked: %v %q", r.Header, r.Body)
			}
			c.expectClosed()
			if b := bodyOf(t, dial(t, p.Addr).get("/ok"), 200); b != "fine" {
				t.Fatalf("next request: %q", b)
			}
			t.Logf("origin accepted %d connections (the invalid answer to a GET may be retried once)", o.Accepted())
		})
	}
}

// An origin that sends more than its response frames (a second,
// unsolicited response right behind the first): the extra bytes must
// never be taken as the answer to a later request, from this client or
// another one. The connection cannot be reused.
func TestOriginSendsExtraBytes(t *testing.T) {
	for _, tc := range []struct{ name, first string }{
		{"after a Content-Length body", ok("one") + ok("smuggled")},
		{"after a HEAD response", "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n" + ok("smuggled")},
		{"after a 204", "HTTP/1.1 204 No Content\r\n\r\n" + ok("smuggled")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := startOrigin(t, serve(func(_ *originSide, r *gotRequest) string {
				if r.Target == "/1" {
					return tc.first
				}
				return ok("answer to " + r.Target)
			}))
			p := startProxy(t, eventloop.Options{Loops: 1, Origins: []string{o.Addr()}})
			method := "GET"
			if strings.Contains(tc.name, "HEAD") {
				method = "HEAD"
			}
			a := dial(t, p.Addr)
			a.send(method + " /1 HTTP/1.1\r\nHost: a\r\n\r\n")
			if r := a.read(method); r.Status/100 != 2 {
				t.Fatalf("first: %d", r.Status)
			}
			// Another client, then the same one: each gets its own answer.
			if r := dial(t, p.Addr).get("/2"); string(r.Body) != "answer to /2" {
				t.Fatalf("BUG: another client's GET /2 got %d %q: the origin's extra bytes were taken as its response", r.Status, r.Body)
			}
			if r := a.get("/3"); string(r.Body) != "answer to /3" {
				t.Fatalf("BUG: GET /3 got %d %q", r.Status, r.Body)
			}
		})
	}
}

// An origin that dies in the middle of a body: the client sees the
// truncation (its connection closes early), never a shortened message on
// a live connection; the next request works. A small body (up to 16 KiB)
// is held until whole, so its loss is answered 502 before anything went
// out, and not retried: the origin did answer. A large one streams, so
// the client sees the head and the bytes sent, then the close.
func TestOriginDiesMidBody(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int
	}{{"small body", 1000}, {"large body", 100000}} {
		t.Run(tc.name, func(t *testing.T) {
			o := startOrigin(t, func(s *originSide) {
				for {
					r, err := s.ReadRequest()
					if err != nil {
						return
					}
					if r.Target == "/ok" {
						s.Write(ok("fine"))
						continue
					}
					s.Write(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", tc.size) + strings.Repeat("h", tc.size/2))
					return // close after half the body
				}
			})
			p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
			c := dial(t, p.Addr)
			c.send("GET /half HTTP/1.1\r\nHost: a\r\n\r\n")
			h := c.readHead()
			if tc.size <= 16<<10 {
				if !strings.HasPrefix(h, "HTTP/1.1 502 ") {
					t.Fatalf("head %q, want 502", h)
				}
				c.readToEOF()
				if n := o.Accepted(); n != 1 {
					t.Fatalf("origin saw %d connections: a response that began must not be retried", n)
				}
			} else {
				if !strings.HasPrefix(h, "HTTP/1.1 200 OK\r\n") || !strings.Contains(h, fmt.Sprintf("Content-Length: %d\r\n", tc.size)) {
					t.Fatalf("head %q", h)
				}
				if b := c.readToEOF(); string(b) != strings.Repeat("h", tc.size/2) {
					t.Fatalf("client got %d bytes before the close, want the %d sent", len(b), tc.size/2)
				}
			}
			if b := bodyOf(t, dial(t, p.Addr).get("/ok"), 200); b != "fine" {
				t.Fatalf("next client: %q", b)
			}
		})
	}
}

// A chunked response that breaks (bad framing, or the origin gone before
// the last chunk): the client never sees an end of body that the origin
// did not send; its connection closes; the next request works.
func TestOriginBreaksChunkedBody(t *testing.T) {
	for _, tc := range []struct{ name, tail string }{
		{"bad chunk size", "zz\r\n"},
		{"close before the last chunk", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := startOrigin(t, func(s *originSide) {
				r, err := s.ReadRequest()
				if err != nil {
					return
				}
				if r.Target == "/ok" {
					s.Write(ok("fine"))
					return
				}
				s.Write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n" + tc.tail)
				s.Sleep(50 * time.Millisecond)
			})
			p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
			c := dial(t, p.Addr)
			c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
			if h := c.readHead(); !strings.HasPrefix(h, "HTTP/1.1 200 OK\r\n") {
				t.Fatalf("head %q", h)
			}
			// What precedes the break may or may not be relayed; never
			// more than the origin's valid chunks, never an end.
			if b := string(c.readToEOF()); !strings.HasPrefix("5\r\nhello\r\n", b) {
				t.Fatalf("client got %q before the close, want at most the valid chunks", b)
			}
			if b := bodyOf(t, dial(t, p.Addr).get("/ok"), 200); b != "fine" {
				t.Fatalf("next client: %q", b)
			}
		})
	}
}

// The origin closes a kept-alive connection while it idles in the pool:
// the next request on the same client connection still succeeds.
func TestOriginClosesIdleConnection(t *testing.T) {
	o := startOrigin(t, func(s *originSide) {
		if _, err := s.ReadRequest(); err == nil {
			s.Write(ok(fmt.Sprint("conn ", s.n))) // keep-alive, then close anyway
		}
	})
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
	c := dial(t, p.Addr)
	if b := bodyOf(t, c.get("/"), 200); b != "conn 1" {
		t.Fatalf("first: %q", b)
	}
	time.Sleep(100 * time.Millisecond) // the close reaches the proxy
	if b := bodyOf(t, c.get("/"), 200); b != "conn 2" {
		t.Fatalf("second: %q", b)
	}
}

// The race the retry rule exists for: a pooled connection that the origin
// closes just as the next request is written on it. An idempotent request
// without a body is retried on a new connection; a POST is not
// (CONTRACT.md, Retries) and gets 502.
func TestStaleConnectionRetry(t *testing.T) {
	o := startOrigin(t, func(s *originSide) {
		for i := 0; ; i++ {
			r, err := s.ReadRequest()
			if err != nil {
				return
			}
			if i == 1 && strings.HasPrefix(r.Target, "/stale") {
				return // the second request on a connection: close unanswered
			}
			if s.Write(ok(fmt.Sprint(r.Method, " conn ", s.n))) != nil {
				return
			}
		}
	})
	p := startProxy(t, eventloop.Options{Loops: 1, Origins: []string{o.Addr()}})
	c := dial(t, p.Addr)
	if b := bodyOf(t, c.get("/stale"), 200); b != "GET conn 1" {
		t.Fatalf("first: %q", b)
	}
	if b := bodyOf(t, c.get("/stale"), 200); b != "GET conn 2" {
		t.Fatalf("second (retried): %q", b)
	}
	if n := o.Accepted(); n != 2 {
		t.Fatalf("origin accepted %d connections, want 2", n)
	}
	c.send("POST /stale HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi")
	c.expectStatus("POST", 502)
	if n := o.Accepted(); n != 2 {
		t.Fatalf("the POST was retried: origin accepted %d connections, want 2", n)
	}
}

// A client that disconnects mid-upload: the origin connection holds half
// a request and must be closed, not pooled.
func TestClientDisconnectsMidUpload(t *testing.T) {
	eof := make(chan struct{}, 4)
	o := startOrigin(t, func(s *originSide) {
		for {
			r, err := s.ReadRequest()
			if err != nil {
				eof <- struct{}{}
				return
			}
			if s.Write(ok(fmt.Sprint("conn ", s.n, " ", len(r.Data)))) != nil {
				return
			}
		}
	})
	p := startProxy(t, eventloop.Options{Loops: 1, Origins: []string{o.Addr()}})
	bodyOf(t, dial(t, p.Addr).get("/"), 200) // a pooled connection to take
	c := dial(t, p.Addr)
	c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n" + strings.Repeat("u", 100))
	time.Sleep(100 * time.Millisecond)
	c.c.Close()
	select {
	case <-eof:
	case <-time.After(ioTimeout):
		t.Fatal("the origin connection with half a request stays open")
	}
	if b := bodyOf(t, dial(t, p.Addr).get("/"), 200); b != "conn 2 0" {
		t.Fatalf("next request: %q, want it on a new connection", b)
	}
}

// The origin answers before the request body is all there (an early
// 403): the client gets the answer, and since neither connection is at a
// message boundary, both are closed.
func TestOriginAnswersBeforeBody(t *testing.T) {
	eof := make(chan bool, 1)
	o := startOrigin(t, func(s *originSide) {
		r, err := s.ReadHead()
		if err != nil {
			return
		}
		if r.Target == "/ok" {
			s.ReadBody(r)
			s.Write(ok("fine"))
			return
		}
		s.Write("HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope")
		eof <- s.WaitEOF()
	})
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
	c := dial(t, p.Addr)
	c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n" + strings.Repeat("b", 100))
	if b := bodyOf(t, c.read("POST"), 403); b != "nope" {
		t.Fatalf("body %q", b)
	}
	c.readToEOF() // closed: the rest of the body would be taken for a request
	select {
	case closed := <-eof:
		if !closed {
			t.Fatal("the origin connection stays open after an early answer")
		}
	case <-time.After(ioTimeout):
		t.Fatal("origin handler stuck")
	}
	if b := bodyOf(t, dial(t, p.Addr).get("/ok"), 200); b != "fine" {
		t.Fatalf("next client: %q", b)
	}
}

// The client goes away while its request waits for the origin: the origin
// connection, with a response coming on it, is closed, not pooled.
func TestClientGoneBeforeResponse(t *testing.T) {
	eof := make(chan bool, 1)
	o := startOrigin(t, func(s *originSide) {
		for {
			r, err := s.ReadRequest()
			if err != nil {
				return
			}
			if r.Target == "/slow" {
				eof <- s.WaitEOF()
				return
			}
			if s.Write(ok(fmt.Sprint("conn ", s.n))) != nil {
				return
			}
		}
	})
	p := startProxy(t, eventloop.Options{Loops: 1, Origins: []string{o.Addr()}})
	c := dial(t, p.Addr)
	c.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	for deadline := time.Now().Add(ioTimeout); len(o.Requests()) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the request never reached the origin")
		}
	}
	c.c.Close()
	select {
	case closed := <-eof:
		if !closed {
			t.Fatal("the origin connection stays open after its client left")
		}
	case <-time.After(2 * ioTimeout):
		t.Fatal("origin handler stuck")
	}
	if b := bodyOf(t, dial(t, p.Addr).get("/"), 200); b != "conn 2" {
		t.Fatalf("next client: %q", b)
	}
	p.waitStats(t, eventloop.Stats{ClientSuccess: 1, ClientFailed: 1, OriginSuccess: 1})
}

// Errors of the proxy's own on a connection that already carried an
// exchange: the client still gets the status, not a bare close.
func TestErrorAfterKeepAliveExchange(t *testing.T) {
	o := startOrigin(t, echo)
	p := startProxy(t, eventloop.Options{Loops: 1, Origins: []string{o.Addr()}, MaxBodyBytes: 100,
		Timeouts: eventloop.Timeouts{ClientHead: 300 * time.Millisecond}})
	for _, tc := range []struct {
		name, raw string
		status    int
	}{
		{"malformed", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
		{"body too large", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n", 413},
		{"head too slow", "GET / HTTP/1.1\r\n", 408},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, p.Addr)
			bodyOf(t, c.get("/first"), 200)
			c.send(tc.raw)
			r, err := c.tryRead("GET")
			if err != nil {
				t.Fatalf("BUG: no %d after an earlier exchange on the connection, only a close (%v)", tc.status, err)
			}
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d", r.Status, tc.status)
			}
			c.expectClosed()
		})
	}
}

// The origin's response timeout runs from the end of the request, not
// from its head: an upload that takes longer than OriginResponse, with an
// origin that answers as soon as the body is whole, is not a 504.
func TestSlowUploadIsNotAnOriginTimeout(t *testing.T) {
	o := startOrigin(t, sumOrigin)
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()},
		Timeouts: eventloop.Timeouts{OriginResponse: 300 * time.Millisecond}})
	c := dial(t, p.Addr)
	data := pattern(8000, 6)
	c.send(fmt.Sprintf("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n", len(data)))
	var werr error
	for i := 0; i < 8 && werr == nil; i++ {
		time.Sleep(100 * time.Millisecond)
		werr = c.write(string(data[i*1000 : (i+1)*1000]))
	}
	r, err := c.tryRead("POST")
	if werr != nil || err != nil || r.Status == 504 {
		status := 0
		if r != nil {
			status = r.Status
		}
		t.Fatalf("BUG: an upload taking 800 ms with OriginResponse 300 ms was cut (write: %v; response %d, %v): "+
			"the response timer starts when the head is sent, not when the body is", werr, status, err)
	}
	if b := bodyOf(t, r, 200); b != sum(data) {
		t.Fatalf("origin's checksum %s, client's %s", b, sum(data))
	}
}

// ---------------------------------------------------------------------
// Timeouts of idle connections.

func TestIdleTimeouts(t *testing.T) {
	originClosed := make(chan time.Time, 1)
	o := startOrigin(t, func(s *originSide) {
		if _, err := s.ReadRequest(); err == nil && s.Write(ok("x")) == nil && s.WaitEOF() {
			originClosed <- time.Now()
		}
	})
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}, Timeouts: eventloop.Timeouts{
		ClientIdle: 300 * time.Millisecond, OriginIdle: 300 * time.Millisecond}})
	c := dial(t, p.Addr)
	bodyOf(t, c.get("/"), 200)
	start := time.Now()
	c.expectClosed()
	if d := time.Since(start); d < 250*time.Millisecond || d > 1200*time.Millisecond {
		t.Fatalf("idle client connection closed after %v, want about 300 ms", d)
	}
	select {
	case at := <-originClosed:
		if d := at.Sub(start); d > 1200*time.Millisecond {
			t.Fatalf("idle origin connection closed after %v, want about 300 ms", d)
		}
	case <-time.After(ioTimeout):
		t.Fatal("idle origin connection never closed")
	}
}

// ---------------------------------------------------------------------
// Slow clients.

// Slowloris: a head trickling in a byte every 100 ms gets 408 (or a
// close) at the head deadline, not a timer reset per byte; another
// client meanwhile is served.
func TestSlowloris(t *testing.T) {
	o := startOrigin(t, echo)
	p := startProxy(t, eventloop.Options{Loops: 1, Origins: []string{o.Addr()},
		Timeouts: eventloop.Timeouts{ClientHead: 300 * time.Millisecond}})
	slow := dial(t, p.Addr)
	type result struct {
		after time.Duration
		got   string
		err   error
	}
	res := make(chan result, 1)
	stop := make(chan struct{})
	defer close(stop)
	start := time.Now()
	go func() {
		head := "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: " + strings.Repeat("s", 40) + "\r\n\r\n"
		for i := 0; i < len(head); i++ {
			if slow.write(head[i:i+1]) != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	go func() {
		slow.c.SetReadDeadline(time.Now().Add(3 * time.Second))
		var b []byte
		buf := make([]byte, 4096)
		for {
			n, err := slow.c.Read(buf)
			b = append(b, buf[:n]...)
			if err != nil {
				res <- result{time.Since(start), string(b), err}
				return
			}
		}
	}()
	fast := dial(t, p.Addr)
	for i := 0; i < 5; i++ {
		if b := bodyOf(t, fast.get(fmt.Sprint("/", i)), 200); b != fmt.Sprintf("GET /%d ", i) {
			t.Fatalf("the other client: %q", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r := <-res
	var timeout interface{ Timeout() bool }
	if errors.As(r.err, &timeout) && timeout.Timeout() {
		t.Fatalf("slow client still connected after %v (got %q)", r.after, r.got)
	}
	if r.got != "" && !strings.HasPrefix(r.got, "HTTP/1.1 408 ") {
		t.Fatalf("slow client got %q, want 408 or a close", r.got)
	}
	if r.after > 1200*time.Millisecond {
		t.Fatalf("slow client cut after %v, want about 300 ms", r.after)
	}
	if n := len(o.Requests()); n != 5 {
		t.Fatalf("origin got %d requests, want only the other client's 5", n)
	}
}

// A connection that never sends a byte is closed at the head deadline.
func TestSilentConnection(t *testing.T) {
	p := startProxy(t, eventloop.Options{Origins: []string{freeAddr(t)},
		Timeouts: eventloop.Timeouts{ClientHead: 300 * time.Millisecond}})
	c := dial(t, p.Addr)
	start := time.Now()
	c.readToEOF()
	if d := time.Since(start); d > 1200*time.Millisecond {
		t.Fatalf("silent connection closed after %v, want about 300 ms", d)
	}
}

// ---------------------------------------------------------------------
// Shutdown.

func TestShutdownWithRequestInFlight(t *testing.T) {
	arrived := make(chan struct{}, 1)
	var replied time.Time
	repliedSet := make(chan struct{})
	o := startOrigin(t, serve(func(s *originSide, r *gotRequest) string {
		arrived <- struct{}{}
		if r.Target != "/slow" {
			return ok("quick")
		}
		if !s.Sleep(300 * time.Millisecond) {
			return ""
		}
		replied = time.Now()
		close(repliedSet)
		return ok("slow but whole")
	}))
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
	idle := dial(t, p.Addr) // a keep-alive client with nothing in flight
	idle.send("GET /first HTTP/1.1\r\nHost: a\r\n\r\n")
	<-arrived
	bodyOf(t, idle.read("GET"), 200)
	c := dial(t, p.Addr)
	c.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	begun := time.Now()
	select {
	case <-arrived:
	case <-time.After(ioTimeout):
		t.Fatal("request did not reach the origin")
	}
	stopped := make(chan time.Time, 1)
	var stopErr error
	go func() {
		stopErr = p.stop()
		stopped <- time.Now()
	}()
	time.Sleep(50 * time.Millisecond) // Shutdown has begun
	if late, err := tryDial(p.Addr); err == nil {
		late.write("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		if r, err := late.tryRead("GET"); err == nil {
			t.Errorf("a connection opened during shutdown got a response: %d %q", r.Status, r.Body)
		}
		late.c.Close()
	}
	if b := bodyOf(t, c.read("GET"), 200); b != "slow but whole" {
		t.Fatalf("in-flight response %q", b)
	}
	select {
	case at := <-stopped:
		<-repliedSet
		if stopErr != nil {
			t.Fatalf("Shutdown: %v", stopErr)
		}
		if at.Before(replied) {
			t.Fatalf("Shutdown returned before the in-flight response was sent")
		}
		// 300 ms in flight, then gnet's stop (it polls every 500 ms).
		if d := at.Sub(begun); d > 1500*time.Millisecond {
			t.Fatalf("Shutdown took %v: the idle keep-alive client held it up?", d)
		}
	case <-time.After(ioTimeout):
		t.Fatal("Shutdown did not return")
	}
	idle.expectClosed()
	if n := len(o.Requests()); n != 2 {
		t.Fatalf("origin got %d requests, want 2", n)
	}
}

// A request that outlasts the drain timeout does not hold Shutdown up:
// it returns after Drain, and the client's connection is closed.
func TestShutdownDrainTimeout(t *testing.T) {
	arrived := make(chan struct{}, 1)
	o := startOrigin(t, serve(func(s *originSide, r *gotRequest) string {
		arrived <- struct{}{}
		s.WaitEOF() // never answers
		return ""
	}))
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()},
		Timeouts: eventloop.Timeouts{Drain: 300 * time.Millisecond}})
	c := dial(t, p.Addr)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	select {
	case <-arrived:
	case <-time.After(ioTimeout):
		t.Fatal("request did not reach the origin")
	}
	start := time.Now()
	if err := p.stop(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
		t.Fatalf("Shutdown returned after %v, want the 300 ms drain and gnet's stop", d)
	}
	if b := c.readToEOF(); len(b) > 0 && !strings.HasPrefix(string(b), "HTTP/1.1 5") {
		t.Fatalf("cut client got %q", b)
	}
}

// An HTTP/1.0 request without Host is forwarded with the origin's address
// as Host; retried on another origin (the first refuses connections), it
// carries that origin's address, not the first one's.
func TestRetryRewritesSynthesisedHost(t *testing.T) {
	dead := freeAddr(t) // nothing listens: connect is refused, a retry follows
	live := startOrigin(t, echo)
	p := startProxy(t, eventloop.Options{Loops: 1, Origins: []string{dead, live.Addr()}})
	for i := range 4 {
		c := dial(t, p.Addr)
		c.send(fmt.Sprintf("GET /r%d HTTP/1.0\r\n\r\n", i))
		if r := c.read("GET"); r.Status != 200 {
			t.Fatalf("request %d: status %d", i, r.Status)
		}
	}
	reqs := live.Requests()
	if len(reqs) != 4 {
		t.Fatalf("live origin got %d requests, want 4", len(reqs))
	}
	for _, r := range reqs {
		if !strings.Contains(r.Head, "\r\nHost: "+live.Addr()+"\r\n") || strings.Contains(r.Head, dead) {
			t.Fatalf("forwarded head %q: want Host %s only", r.Head, live.Addr())
		}
	}
}
