package eventloop_test

// Exchanges that go right: raw bytes from a client in, the exact bytes the
// origin receives, and the exact bytes the client gets back. Grouped by
// topic: forwarded head, response head, keep-alive, pipelining, bodies,
// limits, Expect, Upgrade, counters.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeloop/edgeloop/eventloop"
)

// oneRequest sends raw through a proxy to an origin that echoes, and
// returns what the origin received.
func oneRequest(t *testing.T, raw string) *gotRequest {
	t.Helper()
	o := startOrigin(t, echo)
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
	c := dial(t, p.Addr)
	c.send(raw)
	c.expectStatus("GET", 200)
	reqs := o.Requests()
	if len(reqs) != 1 {
		t.Fatalf("origin got %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

// ---------------------------------------------------------------------
// Forwarded head: what the origin receives.

func TestForwardAbsoluteFormAndHopByHop(t *testing.T) {
	got := oneRequest(t, "GET http://example.com:8080/path?q=1 HTTP/1.1\r\n"+
		"Host: other.example\r\n"+
		"Connection: keep-alive, X-Custom\r\n"+
		"X-Custom: dropped because Connection names it\r\n"+
		"Keep-Alive: timeout=5\r\n"+
		"TE: trailers\r\n"+
		"Proxy-Connection: keep-alive\r\n"+
		"Upgrade: h2c\r\n"+ // without Connection: upgrade
		"Proxy-Authorization: Basic eDp5\r\n"+
		"X-Forwarded-For: 10.0.0.1\r\n"+
		"X-Forwarded-Proto: https\r\n"+
		"X-Forwarded-Host: spoofed.example\r\n"+
		"Accept: */*\r\n"+
		"User-Agent: edgeloop-test\r\n"+
		"\r\n")
	want := "GET /path?q=1 HTTP/1.1\r\n" +
		"Accept: */*\r\n" +
		"User-Agent: edgeloop-test\r\n" +
		"Host: example.com:8080\r\n" + // RFC 9112 §3.2.2: the authority replaces Host
		"Via: 1.1 edgeloop\r\n" +
		"X-Forwarded-For: 10.0.0.1, 127.0.0.1\r\n" +
		"X-Forwarded-Proto: http\r\n" +
		"X-Forwarded-Host: example.com:8080\r\n" +
		"\r\n"
	if got.Head != want {
		t.Fatalf("origin got head\n%q\nwant\n%q", got.Head, want)
	}
}

func TestForwardAbsoluteFormWithoutPath(t *testing.T) {
	got := oneRequest(t, "GET http://example.com?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n")
	want := "GET /?q=1 HTTP/1.1\r\n" +
		"Host: example.com\r\n" +
		"Via: 1.1 edgeloop\r\n" +
		"X-Forwarded-For: 127.0.0.1\r\n" +
		"X-Forwarded-Proto: http\r\n" +
		"X-Forwarded-Host: example.com\r\n" +
		"\r\n"
	if got.Head != want {
		t.Fatalf("origin got head\n%q\nwant\n%q", got.Head, want)
	}
}

func TestForwardOriginFormKeepsHost(t *testing.T) {
	got := oneRequest(t, "GET /a/b?c=d HTTP/1.1\r\n"+
		"Host: example.org:81\r\n"+
		"Via: 1.0 fred\r\n"+
		"X-Forwarded-For: 10.0.0.1\r\n"+
		"X-Forwarded-For: 10.0.0.2\r\n"+
		"Cookie: a=b\r\n"+
		"\r\n")
	want := "GET /a/b?c=d HTTP/1.1\r\n" +
		"Host: example.org:81\r\n" +
		"Via: 1.0 fred\r\n" +
		"Cookie: a=b\r\n" +
		"Via: 1.1 edgeloop\r\n" +
		"X-Forwarded-For: 10.0.0.1, 10.0.0.2, 127.0.0.1\r\n" +
		"X-Forwarded-Proto: http\r\n" +
		"X-Forwarded-Host: example.org:81\r\n" +
		"\r\n"
	if got.Head != want {
		t.Fatalf("origin got head\n%q\nwant\n%q", got.Head, want)
	}
}

// An empty X-Forwarded-For adds no empty element to the list.
func TestForwardEmptyXForwardedFor(t *testing.T) {
	got := oneRequest(t, "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For:\r\n\r\n")
	if v := got.Get("x-forwarded-for"); v != "127.0.0.1" {
		t.Fatalf("BUG: X-Forwarded-For: %q, want %q (an empty list element)", v, "127.0.0.1")
	}
}

func TestForwardContentLengthOnce(t *testing.T) {
	o := startOrigin(t, echo)
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
	c := dial(t, p.Addr)
	c.send("POST /cl HTTP/1.1\r\nHost: a\r\nContent-Length: 005\r\nX-Other: 1\r\nContent-Length: 5\r\n\r\nhello")
	if b := bodyOf(t, c.read("POST"), 200); b != "POST /cl hello" {
		t.Fatalf("body %q", b)
	}
	got := o.Requests()[0]
	want := "POST /cl HTTP/1.1\r\n" +
		"Host: a\r\n" +
		"X-Other: 1\r\n" +
		"Content-Length: 5\r\n" +
		"Via: 1.1 edgeloop\r\n" +
		"X-Forwarded-For: 127.0.0.1\r\n" +
		"X-Forwarded-Proto: http\r\n" +
		"X-Forwarded-Host: a\r\n" +
		"\r\n"
	if got.Head != want || string(got.Body) != "hello" {
		t.Fatalf("origin got\n%q + %q\nwant\n%q + %q", got.Head, got.Body, want, "hello")
	}
}

func TestForwardChunkedVerbatim(t *testing.T) {
	o := startOrigin(t, echo)
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
	c := dial(t, p.Addr)
	body := "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
	c.send("POST /ch HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-Trailer\r\n\r\n" + body)
	if b := bodyOf(t, c.read("POST"), 200); b != "POST /ch hello world" {
		t.Fatalf("body %q", b)
	}
	got := o.Requests()[0]
	want := "POST /ch HTTP/1.1\r\n" +
		"Host: a\r\n" +
		"Trailer: X-Trailer\r\n" +
		"Transfer-Encoding: chunked\r\n" +
		"Via: 1.1 edgeloop\r\n" +
		"X-Forwarded-For: 127.0.0.1\r\n" +
		"X-Forwarded-Proto: http\r\n" +
		"X-Forwarded-Host: a\r\n" +
		"\r\n"
	if got.Head != want {
		t.Fatalf("origin got head\n%q\nwant\n%q", got.Head, want)
	}
	if string(got.Body) != body {
		t.Fatalf("origin got body %q, want the client's bytes %q", got.Body, body)
	}
}

// An HTTP/1.0 request may come without Host; the proxy forwards it as
// HTTP/1.1, which requires one (RFC 9112 §3.2: a client MUST send Host,
// empty when the target has no authority).
func TestForwardHTTP10WithoutHost(t *testing.T) {
	o := startOrigin(t, echo)
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
	c := dial(t, p.Addr)
	c.send("GET /old HTTP/1.0\r\n\r\n")
	r := c.read("GET")
	reqs := o.Requests()
	if r.Status != 200 || len(reqs) != 1 {
		var head string
		if len(reqs) > 0 {
			head = reqs[0].Head
		}
		t.Fatalf("status %d %q; the origin could not parse the forwarded request (a HTTP/1.1 request without Host?) %q", r.Status, r.Body, head)
	}
	if !strings.Contains(reqs[0].Head, "\r\nHost:") {
		t.Fatalf("forwarded HTTP/1.1 request has no Host: %q", reqs[0].Head)
	}
}

// ---------------------------------------------------------------------
// Response head: what the client receives.

func TestResponseHeadHopByHop(t *testing.T) {
	o := startOrigin(t, serve(func(_ *originSide, r *gotRequest) string {
		return "HTTP/1.1 200 Fine\r\n" +
			"Connection: X-Hop\r\n" +
			"X-Hop: 1\r\n" +
			"Keep-Alive: timeout=5\r\n" +
			"Proxy-Authenticate: Basic\r\n" +
			"Upgrade: h2c\r\n" +
			"Content-Length: 2\r\n" +
			"X-End: e\r\n" +
			"\r\nok"
	}))
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
	c := dial(t, p.Addr)
	for i := 0; i < 2; i++ { // the connection stays usable
		c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		want := "HTTP/1.1 200 Fine\r\nX-End: e\r\nContent-Length: 2\r\nVia: 1.1 edgeloop\r\n\r\n"
		if h := undate(t, c.readHead()); h != want {
			t.Fatalf("client got head\n%q\nwant\n%q", h, want)
		}
		if b := c.readN(2); string(b) != "ok" {
			t.Fatalf("body %q", b)
		}
	}
}

// chunkedOrigin answers every request with the same chunked response.
const chunkedBody = "4\r\nWiki\r\n5;e=1\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n"

var chunkedOrigin = serve(func(_ *originSide, r *gotRequest) string {
	return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n" + chunkedBody
})

func TestResponseChunkedStaysChunked(t *testing.T) {
	o := startOrigin(t, chunkedOrigin)
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
	c := dial(t, p.Addr)
	for i := 0; i < 2; i++ {
		c.send("GET /c HTTP/1.1\r\nHost: a\r\n\r\n")
		want := "HTTP/1.1 200 OK\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\nVia: 1.1 edgeloop\r\n\r\n"
		if h := undate(t, c.readHead()); h != want {
			t.Fatalf("client got head\n%q\nwant\n%q", h, want)
		}
		if b := c.readN(len(chunkedBody)); string(b) != chunkedBody {
			t.Fatalf("client got body %q, want the origin's bytes %q", b, chunkedBody)
		}
	}
}

// RFC 9112 §6.1: an HTTP/1.0 client cannot read chunked: the body goes
// de-chunked and the connection closes after it.
func TestResponseChunkedToHTTP10(t *testing.T) {
	o := startOrigin(t, chunkedOrigin)
	p := startProxy(t, eventloop.Options{Loops: 1, Origins: []string{o.Addr()}})
	c := dial(t, p.Addr)
	c.send("GET /c HTTP/1.0\r\nHost: a\r\n\r\n")
	want := "HTTP/1.1 200 OK\r\nX-A: 1\r\nConnection: close\r\nVia: 1.1 edgeloop\r\n\r\n"
	if h := undate(t, c.readHead()); h != want {
		t.Fatalf("client got head\n%q\nwant\n%q", h, want)
	}
	if b := c.readToEOF(); string(b) != "Wikipedia" {
		t.Fatalf("client got body %q, want %q then the close", b, "Wikipedia")
	}
	// The origin connection ended its response cleanly: it is reused.
	c2 := dial(t, p.Addr)
	c2.send("GET /c HTTP/1.1\r\nHost: a\r\n\r\n")
	c2.expectStatus("GET", 200)
	if n := o.Accepted(); n != 1 {
		t.Fatalf("origin accepted %d connections, want 1", n)
	}
}

func TestResponseHTTP10KeepAlive(t *testing.T) {
	o := startOrigin(t, echo)
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
	c := dial(t, p.Addr)
	for i := 0; i < 2; i++ {
		c.send(fmt.Sprintf("GET /%d HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n", i))
		r := c.read("GET")
		if b := bodyOf(t, r, 200); b != fmt.Sprintf("GET /%d ", i) {
			t.Fatalf("body %q", b)
		}
		if v := r.Header.Get("Connection"); v != "keep-alive" {
			t.Fatalf("Connection: %q, want keep-alive (RFC 9112 §9.3)", v)
		}
	}
	// Without keep-alive, an HTTP/1.0 connection ends after one response.
	c.send("GET /last HTTP/1.0\r\nHost: a\r\n\r\n")
	if r := c.read("GET"); r.Status != 200 || !r.Close {
		t.Fatalf("status %d close %v, want 200 and Connection: close", r.Status, r.Close)
	}
	c.expectClosed()
}

// Heads and bodies that arrive a few bytes at a time, both ways, come out
// whole: the parsers resume, and nothing is sent before it is framed.
func TestTrickled(t *testing.T) {
	resp := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n" + chunkedBody
	o := startOrigin(t, func(s *originSide) {
		for {
			if _, err := s.ReadRequest(); err != nil {
				return
			}
			for i := 0; i < len(resp); i += 3 {
				if s.Write(resp[i:min(i+3, len(resp))]) != nil {
					return
				}
				time.Sleep(time.Millisecond)
			}
		}
	})
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
	c := dial(t, p.Addr)
	req := "POST /t HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX-B: 2\r\n\r\n" + chunkedBody
	for round := 0; round < 2; round++ {
		for i := 0; i < len(req); i += 3 {
			c.send(req[i:min(i+3, len(req))])
			time.Sleep(time.Millisecond)
		}
		want := "HTTP/1.1 200 OK\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\nVia: 1.1 edgeloop\r\n\r\n"
		if h := undate(t, c.readHead()); h != want {
			t.Fatalf("client got head\n%q\nwant\n%q", h, want)
		}
		if b := c.readN(len(chunkedBody)); string(b) != chunkedBody {
			t.Fatalf("client got body %q", b)
		}
	}
	for _, r := range o.Requests() {
		if string(r.Body) != chunkedBody || r.Get("x-b") != "2" {
			t.Fatalf("origin got %q + %q", r.Head, r.Body)
		}
	}
	if n := len(o.Requests()); n != 2 {
		t.Fatalf("origin got %d requests, want 2", n)
	}
}

// ---------------------------------------------------------------------
// Keep-alive and origin connection reuse.

func TestKeepAliveOneOriginConnection(t *testing.T) {
	o := startOrigin(t, echo)
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
	c := dial(t, p.Addr)
	for i := 0; i < 20; i++ {
		if b := bodyOf(t, c.get(fmt.Sprintf("/%d", i)), 200); b != fmt.Sprintf("GET /%d ", i) {
			t.Fatalf("request %d: body %q", i, b)
		}
	}
	if n := o.Accepted(); n != 1 {
		t.Fatalf("origin accepted %d connections for 20 requests on one client connection, want 1", n)
	}
}

func TestKeepAliveReuseAcrossClients(t *testing.T) {
	t.Run("one loop", func(t *testing.T) {
		o := startOrigin(t, echo)
		p := startProxy(t, eventloop.Options{Loops: 1, Origins: []string{o.Addr()}})
		for i := 0; i < 2; i++ {
			c := dial(t, p.Addr)
			bodyOf(t, c.get("/"), 200)
			c.c.Close()
		}
		if n := o.Accepted(); n != 1 {
			t.Fatalf("origin accepted %d connections, want 1 (the idle one reused)", n)
		}
	})
	t.Run("two loops", func(t *testing.T) {
		o := startOrigin(t, echo)
		p := startProxy(t, eventloop.Options{Loops: 2, Origins: []string{o.Addr()}})
		for i := 0; i < 10; i++ {
			c := dial(t, p.Addr)
			bodyOf(t, c.get("/"), 200)
			c.c.Close()
		}
		if n := o.Accepted(); n > 2 {
			t.Fatalf("origin accepted %d connections for 10 sequential clients, want at most one per loop", n)
		}
	})
}

// IdlePerOrigin caps the idle connections a loop keeps to an origin: the
// ones over the cap are closed as their exchanges end.
func TestIdlePerOriginCap(t *testing.T) {
	closed := make(chan struct{}, 8)
	o := startOrigin(t, func(s *originSide) {
		for {
			r, err := s.ReadRequest()
			if err != nil {
				closed <- struct{}{}
				return
			}
			s.Sleep(100 * time.Millisecond) // the three overlap
			if s.Write(ok(r.Target)) != nil {
				return
			}
		}
	})
	p := startProxy(t, eventloop.Options{Loops: 1, IdlePerOrigin: 1, Origins: []string{o.Addr()}})
	var cs []*client
	for i := 0; i < 3; i++ {
		c := dial(t, p.Addr)
		c.send(fmt.Sprintf("GET /%d HTTP/1.1\r\nHost: a\r\n\r\n", i))
		cs = append(cs, c)
	}
	for i, c := range cs {
		if b := bodyOf(t, c.read("GET"), 200); b != fmt.Sprint("/", i) {
			t.Fatalf("client %d: %q", i, b)
		}
	}
	for i := 0; i < 2; i++ {
		select {
		case <-closed:
		case <-time.After(ioTimeout):
			t.Fatalf("%d origin connections closed, want 2 of the 3 (IdlePerOrigin 1)", i)
		}
	}
	bodyOf(t, cs[0].get("/again"), 200)
	if n := o.Accepted(); n != 3 {
		t.Fatalf("origin accepted %d connections, want 3 (the one kept reused)", n)
	}
}

// Origins are chosen round-robin, request by request.
func TestRoundRobin(t *testing.T) {
	o1 := startOrigin(t, serve(func(*originSide, *gotRequest) string { return ok("one") }))
	o2 := startOrigin(t, serve(func(*originSide, *gotRequest) string { return ok("two") }))
	p := startProxy(t, eventloop.Options{Origins: []string{o1.Addr(), o2.Addr()}})
	c := dial(t, p.Addr)
	count := map[string]int{}
	for i := 0; i < 10; i++ {
		count[bodyOf(t, c.get("/"), 200)]++
	}
	if count["one"] != 5 || count["two"] != 5 {
		t.Fatalf("answers %v, want 5 from each origin", count)
	}
}

// Many clients at once on two loops: every answer is the right one.
func TestManyClients(t *testing.T) {
	o := startOrigin(t, echo)
	p := startProxy(t, eventloop.Options{Loops: 2, Origins: []string{o.Addr()}})
	const clients, each = 32, 20
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		go func() {
			c, err := tryDial(p.Addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.c.Close()
			for j := 0; j < each; j++ {
				body := fmt.Sprintf("client %d request %d %s", i, j, pattern(i*j%97, byte(j)))
				if err := c.write(fmt.Sprintf("POST /%d/%d HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s", i, j, len(body), body)); err != nil {
					errs <- err
					return
				}
				r, err := c.tryRead("POST")
				if err != nil {
					errs <- fmt.Errorf("client %d request %d: %w", i, j, err)
					return
				}
				if want := fmt.Sprintf("POST /%d/%d %s", i, j, body); r.Status != 200 || string(r.Body) != want {
					errs <- fmt.Errorf("client %d request %d: %d %q, want %q", i, j, r.Status, r.Body, want)
					return
				}
			}
			errs <- nil
		}()
	}
	for i := 0; i < clients; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := o.Accepted(); n > clients {
		t.Errorf("origin accepted %d connections for %d clients", n, clients)
	}
	p.waitStats(t, eventloop.Stats{ClientSuccess: clients * each, OriginSuccess: clients * each})
}

func TestConnectionCloseHonoured(t *testing.T) {
	t.Run("client", func(t *testing.T) {
		o := startOrigin(t, echo)
		p := startProxy(t, eventloop.Options{Loops: 1, Origins: []string{o.Addr()}})
		c := dial(t, p.Addr)
		c.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
		if r := c.read("GET"); r.Status != 200 || !r.Close {
			t.Fatalf("status %d close %v, want 200 with Connection: close", r.Status, r.Close)
		}
		c.expectClosed()
		if h := o.Requests()[0].Head; strings.Contains(strings.ToLower(h), "connection:") {
			t.Fatalf("the client's Connection reached the origin: %q", h)
		}
		// The origin connection is still good for the next client.
		bodyOf(t, dial(t, p.Addr).get("/"), 200)
		if n := o.Accepted(); n != 1 {
			t.Fatalf("origin accepted %d connections, want 1", n)
		}
	})
	t.Run("origin HTTP/1.0", func(t *testing.T) {
		// An HTTP/1.0 response without keep-alive ends its connection
		// (RFC 9112 §9.3), even when the origin leaves it open.
		o := startOrigin(t, serve(func(_ *originSide, r *gotRequest) string {
			return "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
		}))
		p := startProxy(t, eventloop.Options{Loops: 1, Origins: []string{o.Addr()}})
		c := dial(t, p.Addr)
		for i := 0; i < 2; i++ {
			if r := c.get("/"); bodyOf(t, r, 200) != "ok" || r.Close {
				t.Fatalf("request %d: close %v", i, r.Close)
			}
		}
		if n := o.Accepted(); n != 2 {
			t.Fatalf("origin accepted %d connections, want 2", n)
		}
	})
	t.Run("origin", func(t *testing.T) {
		o := startOrigin(t, serve(func(_ *originSide, r *gotRequest) string {
			return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
		}))
		p := startProxy(t, eventloop.Options{Loops: 1, Origins: []string{o.Addr()}})
		c := dial(t, p.Addr)
		for i := 0; i < 3; i++ {
			r := c.get("/")
			if bodyOf(t, r, 200) != "ok" || r.Close {
				t.Fatalf("request %d: close %v: the origin's close is not the client's", i, r.Close)
			}
		}
		if n := o.Accepted(); n != 3 {
			t.Fatalf("origin accepted %d connections, want 3 (never reuse one it closes)", n)
		}
	})
}

// ---------------------------------------------------------------------
// Pipelining.

func TestPipelining(t *testing.T) {
	o := startOrigin(t, echo)
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
	c := dial(t, p.Addr)
	c.send("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n" +
		"POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello" +
		"GET /3 HTTP/1.1\r\nHost: a\r\n\r\n")
	for i, want := range []string{"GET /1 ", "POST /2 hello", "GET /3 "} {
		if b := bodyOf(t, c.read("GET"), 200); b != want {
			t.Fatalf("response %d: body %q, want %q", i+1, b, want)
		}
	}
	if n := o.Accepted(); n != 1 {
		t.Fatalf("origin accepted %d connections, want 1", n)
	}
	// Pipelined with a chunked body and a HEAD between.
	c.send("POST /4 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
		"HEAD /5 HTTP/1.1\r\nHost: a\r\n\r\n" +
		"GET /6 HTTP/1.1\r\nHost: a\r\n\r\n")
	if b := bodyOf(t, c.read("POST"), 200); b != "POST /4 abc" {
		t.Fatalf("response 4: %q", b)
	}
	if r := c.read("HEAD"); r.Status != 200 || r.CL != int64(len("HEAD /5 ")) {
		t.Fatalf("response 5: status %d length %d", r.Status, r.CL)
	}
	if b := bodyOf(t, c.read("GET"), 200); b != "GET /6 " {
		t.Fatalf("response 6: %q", b)
	}
}

// ---------------------------------------------------------------------
// Bodies.

// sumOrigin answers each request with the length and SHA-256 of its data.
var sumOrigin = serve(func(_ *originSide, r *gotRequest) string {
	return ok(sum(r.Data))
})

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return fmt.Sprintf("%d %s", len(b), hex.EncodeToString(h[:]))
}

func TestUpload10MiB(t *testing.T) {
	data := pattern(10<<20, 1)
	o := startOrigin(t, sumOrigin)
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
	for _, tc := range []struct {
		name string
		head string
		body []byte
	}{
		{"content-length", fmt.Sprintf("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n", len(data)), data},
		{"chunked", "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", chunk(data, 100003)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, p.Addr)
			sent := make(chan error, 1)
			go func() { sent <- c.write(tc.head + string(tc.body)) }()
			r := c.read("POST")
			if err := <-sent; err != nil {
				t.Fatalf("upload: %v", err)
			}
			if b := bodyOf(t, r, 200); b != sum(data) {
				t.Fatalf("origin's checksum %s, client's %s", b, sum(data))
			}
		})
	}
}

func TestDownload10MiB(t *testing.T) {
	data := pattern(10<<20, 2)
	o := startOrigin(t, serve(func(_ *originSide, r *gotRequest) string {
		if r.Target == "/chunked" {
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + string(chunk(data, 65543))
		}
		return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(data), data)
	}))
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
	c := dial(t, p.Addr)
	for _, target := range []string{"/length", "/chunked", "/length"} {
		r := c.get(target)
		if r.Status != 200 || sum(r.Body) != sum(data) {
			t.Fatalf("%s: status %d, client's checksum %s, origin's %s", target, r.Status, sum(r.Body), sum(data))
		}
		if chunked := len(r.TE) == 1 && r.TE[0] == "chunked"; chunked != (target == "/chunked") || (!chunked && r.CL != int64(len(data))) {
			t.Fatalf("%s: framing TE %v CL %d", target, r.TE, r.CL)
		}
	}
}

// A 10 MiB chunked response to an HTTP/1.0 client: de-chunked, then the
// close ends it.
func TestDownload10MiBToHTTP10(t *testing.T) {
	data := pattern(10<<20, 5)
	o := startOrigin(t, serve(func(_ *originSide, r *gotRequest) string {
		return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + string(chunk(data, 40009))
	}))
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
	c := dial(t, p.Addr)
	c.send("GET / HTTP/1.0\r\n\r\n")
	if h := c.readHead(); strings.Contains(strings.ToLower(h), "transfer-encoding") || !strings.Contains(h, "Connection: close\r\n") {
		t.Fatalf("head to an HTTP/1.0 client: %q", h)
	}
	if b := c.readToEOF(); sum(b) != sum(data) {
		t.Fatalf("client got %s, origin sent %s", sum(b), sum(data))
	}
}

func TestHeadResponse(t *testing.T) {
	o := startOrigin(t, serve(func(_ *originSide, r *gotRequest) string {
		if r.Method == "HEAD" {
			return "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
		}
		return ok("after")
	}))
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
	c := dial(t, p.Addr)
	c.send("HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n")
	want := "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nVia: 1.1 edgeloop\r\n\r\n"
	if h := undate(t, c.readHead()); h != want {
		t.Fatalf("client got head\n%q\nwant\n%q", h, want)
	}
	if b := bodyOf(t, c.get("/next"), 200); b != "after" {
		t.Fatalf("next request on the connection: %q", b)
	}
}

func TestNoBodyStatuses(t *testing.T) {
	o := startOrigin(t, serve(func(_ *originSide, r *gotRequest) string {
		switch r.Target {
		case "/204":
			return "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n"
		case "/304":
			return "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 50\r\n\r\n"
		}
		return ok("after")
	}))
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
	c := dial(t, p.Addr)
	for _, tc := range []struct{ target, head string }{
		{"/204", "HTTP/1.1 204 No Content\r\nX-A: 1\r\nVia: 1.1 edgeloop\r\n\r\n"},
		{"/304", "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 50\r\nVia: 1.1 edgeloop\r\n\r\n"},
	} {
		c.send("GET " + tc.target + " HTTP/1.1\r\nHost: a\r\n\r\n")
		if h := undate(t, c.readHead()); h != tc.head {
			t.Fatalf("%s: client got head\n%q\nwant\n%q", tc.target, h, tc.head)
		}
		if b := bodyOf(t, c.get("/next"), 200); b != "after" {
			t.Fatalf("after %s: %q", tc.target, b)
		}
	}
}

func TestCloseDelimitedResponse(t *testing.T) {
	data := pattern(100<<10, 3)
	o := startOrigin(t, func(s *originSide) {
		r, err := s.ReadRequest()
		if err != nil {
			return
		}
		if r.Target == "/ok" {
			s.Write(ok("fine"))
			return
		}
		s.Write("HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\n" + string(data)) // then close
	})
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
	c := dial(t, p.Addr)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	want := "HTTP/1.1 200 OK\r\nX-A: 1\r\nConnection: close\r\nVia: 1.1 edgeloop\r\n\r\n"
	if h := undate(t, c.readHead()); h != want {
		t.Fatalf("client got head\n%q\nwant\n%q", h, want)
	}
	if b := c.readToEOF(); sum(b) != sum(data) {
		t.Fatalf("client got %s, origin sent %s", sum(b), sum(data))
	}
	if b := bodyOf(t, dial(t, p.Addr).get("/ok"), 200); b != "fine" {
		t.Fatalf("next client: %q", b)
	}
}

// ---------------------------------------------------------------------
// Request body limit.

func TestMaxBodyBytes(t *testing.T) {
	o := startOrigin(t, sumOrigin)
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}, MaxBodyBytes: 100})
	t.Run("length at the limit", func(t *testing.T) {
		c := dial(t, p.Addr)
		c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n" + strings.Repeat("x", 100))
		bodyOf(t, c.read("POST"), 200)
	})
	t.Run("chunked at the limit", func(t *testing.T) {
		c := dial(t, p.Addr)
		c.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + string(chunk([]byte(strings.Repeat("x", 100)), 30)))
		bodyOf(t, c.read("POST"), 200)
	})
	before := len(o.Requests())
	t.Run("length over", func(t *testing.T) {
		c := dial(t, p.Addr)
		c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n")
		c.expectStatus("POST", 413)
		c.expectClosed()
	})
	t.Run("chunked over", func(t *testing.T) {
		c := dial(t, p.Addr)
		c.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + string(chunk([]byte(strings.Repeat("y", 101)), 60)))
		c.expectStatus("POST", 413)
		c.expectClosed()
	})
	if n := len(o.Requests()); n != before {
		t.Fatalf("the origin got %d whole requests over the limit", n-before)
	}
}

// Chunk framing is bounded by the data it carries: 1-byte chunks pass,
// chunks that are mostly extension get 413 and the connection closes.
func TestChunkFramingBound(t *testing.T) {
	o := startOrigin(t, sumOrigin)
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
	t.Run("one-byte chunks", func(t *testing.T) {
		data := pattern(20000, 3)
		c := dial(t, p.Addr)
		c.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + string(chunk(data, 1)))
		if b := bodyOf(t, c.read("POST"), 200); b != sum(data) {
			t.Fatalf("origin's checksum %s, client's %s", b, sum(data))
		}
	})
	before := len(o.Requests())
	t.Run("extension-stuffed chunks", func(t *testing.T) {
		ext := ";x=" + strings.Repeat("e", 4000)
		var body strings.Builder
		for range 20 { // 80 KB of framing for 20 bytes of data
			body.WriteString("1" + ext + "\r\nz\r\n")
		}
		c := dial(t, p.Addr)
		c.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + body.String())
		c.expectStatus("POST", 413)
		c.expectClosed()
	})
	if n := len(o.Requests()); n != before {
		t.Fatalf("the origin got %d whole requests with stuffed framing", n-before)
	}
}

// ---------------------------------------------------------------------
// Expect: 100-continue and Upgrade.

func TestExpectContinue(t *testing.T) {
	o := startOrigin(t, func(s *originSide) {
		r, err := s.ReadHead()
		if err != nil {
			return
		}
		if r.Get("expect") != "100-continue" {
			s.Write(ok("no expect at the origin"))
			return
		}
		s.Write("HTTP/1.1 100 Continue\r\n\r\n")
		if s.ReadBody(r) != nil {
			return
		}
		s.Write(ok("got " + string(r.Data)))
	})
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
	c := dial(t, p.Addr)
	c.send("POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	h := c.readHead()
	if !strings.HasPrefix(h, "HTTP/1.1 100 Continue\r\n") {
		t.Fatalf("client got %q, want a 100 Continue first", h)
	}
	c.send("hello")
	if b := bodyOf(t, c.read("POST"), 200); b != "got hello" {
		t.Fatalf("final response %q", b)
	}
	// A 1xx says nothing of the connection: "close" on it would be a lie,
	// as the connection goes on (RFC 9112 §9.6).
	if strings.Contains(strings.ToLower(h), "connection: close") {
		t.Errorf("BUG: the interim response says Connection: close, and the connection stays open: %q", h)
	}
}

// An origin that answers in HTTP/1.0 knows no Expect: once the proxy has
// seen it answer so, it answers 100 Continue to the client itself and
// does not forward the expectation (RFC 9110 §10.1.1).
func TestExpectContinueHTTP10Origin(t *testing.T) {
	gotExpect := make(chan string, 2)
	o := startOrigin(t, func(s *originSide) {
		for {
			r, err := s.ReadRequest()
			if err != nil {
				return
			}
			gotExpect <- r.Get("expect")
			if s.Write("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: "+
				fmt.Sprint(len("got ")+len(r.Data))+"\r\n\r\ngot "+string(r.Data)) != nil {
				return
			}
		}
	})
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}, Loops: 1})
	c := dial(t, p.Addr)
	c.send("POST /first HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi")
	if b := bodyOf(t, c.read("POST"), 200); b != "got hi" {
		t.Fatalf("first: %q", b)
	}
	<-gotExpect
	c.send("POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	if h := c.readHead(); !strings.HasPrefix(h, "HTTP/1.1 100 Continue\r\n") {
		t.Fatalf("client got %q, want the proxy's 100 Continue", h)
	}
	c.send("hello")
	if b := bodyOf(t, c.read("POST"), 200); b != "got hello" {
		t.Fatalf("final response %q", b)
	}
	if e := <-gotExpect; e != "" {
		t.Fatalf("the HTTP/1.0 origin received Expect: %q", e)
	}
}

func TestUpgradeTunnel(t *testing.T) {
	o := startOrigin(t, func(s *originSide) {
		r, err := s.ReadRequest()
		if err != nil {
			return
		}
		if !strings.EqualFold(r.Get("connection"), "upgrade") || r.Get("upgrade") != "websocket" {
			s.Write(ok("no upgrade at the origin: " + r.Head))
			return
		}
		s.Write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\nhello")
		// Echo until the proxy closes.
		for len(s.buf) > 0 || s.fill() == nil {
			if s.Write(string(s.buf)) != nil {
				return
			}
			s.buf = s.buf[:0]
		}
	})
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
	c := dial(t, p.Addr)
	c.send("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n")
	h := c.readHead()
	if !strings.HasPrefix(h, "HTTP/1.1 101 ") || !strings.Contains(h, "\r\nUpgrade: websocket\r\n") ||
		!strings.Contains(h, "\r\nConnection: Upgrade\r\n") || !strings.Contains(h, "\r\nSec-WebSocket-Accept: x\r\n") {
		t.Fatalf("client got head %q", h)
	}
	if b := c.readN(5); string(b) != "hello" {
		t.Fatalf("bytes after the 101: %q", b)
	}
	for i := 0; i < 5; i++ {
		msg := fmt.Sprintf("ping %d %s", i, strings.Repeat("z", i*1000))
		c.send(msg)
		if b := c.readN(len(msg)); string(b) != msg {
			t.Fatalf("echo %d: %q", i, b)
		}
	}
	big := pattern(1<<20, 4)
	go c.write(string(big))
	if b := c.readN(len(big)); sum(b) != sum(big) {
		t.Fatalf("1 MiB echo: %s, sent %s", sum(b), sum(big))
	}
}

// An origin that does not switch protocols answers as usual, and the
// connection stays HTTP.
func TestUpgradeRefused(t *testing.T) {
	o := startOrigin(t, echo)
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
	c := dial(t, p.Addr)
	c.send("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	if b := bodyOf(t, c.read("GET"), 200); b != "GET /ws " {
		t.Fatalf("body %q", b)
	}
	if b := bodyOf(t, c.get("/next"), 200); b != "GET /next " {
		t.Fatalf("next request: %q", b)
	}
}

// ---------------------------------------------------------------------
// Counters.

func TestStats(t *testing.T) {
	o := startOrigin(t, serve(func(s *originSide, r *gotRequest) string {
		if r.Target == "/slow" {
			s.WaitEOF() // never answers
			return ""
		}
		return ok("x")
	}))
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()},
		Timeouts: eventloop.Timeouts{OriginResponse: 300 * time.Millisecond}})
	c := dial(t, p.Addr)
	for i := 0; i < 5; i++ {
		bodyOf(t, c.get("/"), 200)
	}
	for _, bad := range []string{"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "GET / HTTP/1.1\nHost: a\n\n"} {
		b := dial(t, p.Addr)
		b.send(bad)
		b.expectStatus("GET", 400)
	}
	c.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	c.expectStatus("GET", 504)
	p.waitStats(t, eventloop.Stats{ClientSuccess: 5, ClientFailed: 3, OriginSuccess: 5, OriginFailed: 1})
}

// TestStatsPerLoopAndOrigin: the counters are kept per loop; the totals
// are their sums, and each origin's count is what that origin served.
func TestStatsPerLoopAndOrigin(t *testing.T) {
	var served [2]atomic.Int64
	var origins []string
	for i := range served {
		o := startOrigin(t, serve(func(*originSide, *gotRequest) string {
			served[i].Add(1)
			return ok("x")
		}))
		origins = append(origins, o.Addr())
	}
	p := startProxy(t, eventloop.Options{Loops: 2, Origins: origins})
	const clients, each = 8, 3
	for range clients {
		c := dial(t, p.Addr)
		for range each {
			bodyOf(t, c.get("/"), 200)
		}
	}
	p.waitStats(t, eventloop.Stats{ClientSuccess: clients * each, OriginSuccess: clients * each})
	s := p.Stats()
	if len(s.Loops) < 1 || len(s.Loops) > 2 || len(s.Origins) != 2 {
		t.Fatalf("%d loops, %d origins in %+v", len(s.Loops), len(s.Origins), s)
	}
	var sum eventloop.LoopStats
	for _, l := range s.Loops {
		sum.ClientSuccess += l.ClientSuccess
		sum.ClientFailed += l.ClientFailed
		sum.OriginSuccess += l.OriginSuccess
		sum.OriginFailed += l.OriginFailed
	}
	if sum != (eventloop.LoopStats{ClientSuccess: clients * each, OriginSuccess: clients * each}) {
		t.Fatalf("loops sum to %+v", sum)
	}
	for i, o := range s.Origins {
		if o.Addr != origins[i] || o.Success != uint64(served[i].Load()) || o.Failed != 0 {
			t.Fatalf("origin %d: %+v, served %d at %s", i, o, served[i].Load(), origins[i])
		}
	}
}

// ---------------------------------------------------------------------
// Max-Forwards (RFC 9110 §7.6.2): TRACE and OPTIONS only.

func TestMaxForwardsDecremented(t *testing.T) {
	for _, c := range []struct{ name, raw, want string }{
		{"OPTIONS 5", "OPTIONS /x HTTP/1.1\r\nHost: a\r\nMax-Forwards: 5\r\n\r\n", "4"},
		{"TRACE 1", "TRACE / HTTP/1.1\r\nHost: a\r\nMax-Forwards: 1\r\n\r\n", "0"},
		{"leading zeros", "OPTIONS * HTTP/1.1\r\nHost: a\r\nMax-Forwards: 007\r\n\r\n", "6"},
		{"beyond the cap", "OPTIONS * HTTP/1.1\r\nHost: a\r\nMax-Forwards: 99999999999999999999999\r\n\r\n", "2147483647"},
		{"GET is left alone", "GET / HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\n\r\n", "0"},
		{"GET keeps even a bad value", "GET / HTTP/1.1\r\nHost: a\r\nMax-Forwards: x\r\n\r\n", "x"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := startOrigin(t, echo)
			p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
			cl := dial(t, p.Addr)
			cl.send(c.raw)
			cl.expectStatus(strings.Fields(c.raw)[0], 200)
			reqs := o.Requests()
			if len(reqs) != 1 {
				t.Fatalf("origin got %d requests, want 1", len(reqs))
			}
			if n := strings.Count(strings.ToLower(reqs[0].Head), "\r\nmax-forwards:"); n != 1 {
				t.Fatalf("origin got %d Max-Forwards fields, want 1: %q", n, reqs[0].Head)
			}
			if v := reqs[0].Get("max-forwards"); v != c.want {
				t.Fatalf("origin got Max-Forwards %q, want %q", v, c.want)
			}
		})
	}
}

// At zero the proxy is the final recipient: it answers and the origin sees
// nothing. A value that is not 1*DIGIT, or two of them, is refused.
func TestMaxForwardsAnswered(t *testing.T) {
	for _, c := range []struct {
		name, raw string
		status    int
		allow     bool
	}{
		{"OPTIONS 0", "OPTIONS * HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\n\r\n", 200, true},
		{"OPTIONS 00", "OPTIONS /p HTTP/1.1\r\nHost: a\r\nMax-Forwards: 00\r\n\r\n", 200, true},
		{"TRACE 0 is not echoed", "TRACE / HTTP/1.1\r\nHost: a\r\nCookie: secret\r\nMax-Forwards: 0\r\n\r\n", 405, true},
		{"not a number", "OPTIONS * HTTP/1.1\r\nHost: a\r\nMax-Forwards: -1\r\n\r\n", 400, false},
		{"empty", "TRACE / HTTP/1.1\r\nHost: a\r\nMax-Forwards:\r\n\r\n", 400, false},
		{"two fields", "OPTIONS * HTTP/1.1\r\nHost: a\r\nMax-Forwards: 3\r\nMax-Forwards: 3\r\n\r\n", 400, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := startOrigin(t, echo)
			p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
			cl := dial(t, p.Addr)
			cl.send(c.raw + "GET /after HTTP/1.1\r\nHost: a\r\n\r\n")
			r := cl.expectStatus(strings.Fields(c.raw)[0], c.status)
			if got := r.Header.Get("Allow"); (got != "") != c.allow {
				t.Fatalf("Allow %q, want one: %v", got, c.allow)
			}
			if bytes := string(r.Body); c.status == 405 && strings.Contains(bytes, "secret") {
				t.Fatalf("TRACE echoed the request: %q", bytes)
			}
			if !r.Close {
				t.Fatal("the answer does not close the connection")
			}
			cl.expectClosed()
			if n := len(o.Requests()); n != 0 || o.Accepted() != 0 {
				t.Fatalf("origin got %d requests on %d connections, want none", n, o.Accepted())
			}
			want := eventloop.Stats{ClientSuccess: 1}
			if c.status == 400 {
				want = eventloop.Stats{ClientFailed: 1}
			}
			p.waitStats(t, want)
		})
	}
}

// ---------------------------------------------------------------------
// Upgrades the proxy does not relay.

// h2c would tunnel HTTP/2 requests past the proxy (h2c smuggling): the
// request goes on as plain HTTP/1.1 without Upgrade or HTTP2-Settings, and
// the connection carries further requests.
func TestUpgradeH2CNotRelayed(t *testing.T) {
	for _, up := range []string{"h2c", "websocket, h2c", "H2C"} {
		t.Run(up, func(t *testing.T) {
			o := startOrigin(t, echo)
			p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
			c := dial(t, p.Addr)
			c.send("GET /a HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: " + up +
				"\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
			if b := bodyOf(t, c.read("GET"), 200); b != "GET /a " {
				t.Fatalf("body %q", b)
			}
			if b := bodyOf(t, c.get("/b"), 200); b != "GET /b " {
				t.Fatalf("next request: %q", b)
			}
			head := strings.ToLower(o.Requests()[0].Head)
			for _, f := range []string{"\r\nupgrade:", "\r\nhttp2-settings:", "\r\nconnection:"} {
				if strings.Contains(head, f) {
					t.Fatalf("origin got %q in %q", f, head)
				}
			}
		})
	}
}

// RFC 9110 §7.8: Upgrade in an HTTP/1.0 request is ignored.
func TestUpgradeFromHTTP10Ignored(t *testing.T) {
	got := oneRequest(t, "GET /ws HTTP/1.0\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	if h := strings.ToLower(got.Head); strings.Contains(h, "\r\nupgrade:") || strings.Contains(h, "\r\nconnection:") {
		t.Fatalf("origin got %q", got.Head)
	}
}

// A 101 the request did not ask for is an invalid response: 502, closed,
// and the client's next bytes never reach the origin as a tunnel.
func TestUnaskedSwitchingProtocols(t *testing.T) {
	for _, c := range []struct{ name, raw string }{
		{"no Upgrade", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"},
		{"h2c, not relayed", "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var extra atomic.Int64
			o := startOrigin(t, func(s *originSide) {
				if _, err := s.ReadRequest(); err != nil {
					return
				}
				s.Write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n")
				for s.fill() == nil {
					extra.Add(int64(len(s.buf)))
					s.buf = s.buf[:0]
				}
			})
			p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
			cl := dial(t, p.Addr)
			cl.send(c.raw)
			r := cl.expectStatus("GET", 502)
			if !r.Close {
				t.Fatal("502 without Connection: close")
			}
			cl.write("GET /tunnelled HTTP/1.1\r\nHost: a\r\n\r\n")
			cl.expectClosed()
			if n := extra.Load(); n != 0 {
				t.Fatalf("the origin got %d bytes after its 101", n)
			}
		})
	}
}

// RFC 9110 §6.6.1: the origin's Date passes untouched and alone; a response
// without one, and the proxy's own answers, get the proxy's.
func TestDate(t *testing.T) {
	const old = "Mon, 01 Jan 2024 00:00:00 GMT"
	o := startOrigin(t, serve(func(_ *originSide, r *gotRequest) string {
		if r.Target == "/dated" {
			return "HTTP/1.1 200 OK\r\nDate: " + old + "\r\nContent-Length: 2\r\n\r\nok"
		}
		return ok("ok")
	}))
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
	c := dial(t, p.Addr)
	c.send("GET /dated HTTP/1.1\r\nHost: a\r\n\r\n")
	if h := c.readHead(); strings.Count(h, "\r\nDate: ") != 1 || !strings.Contains(h, "\r\nDate: "+old+"\r\n") {
		t.Fatalf("head %q, want the origin's Date alone", h)
	}
	c.readN(2)
	c.send("GET /plain HTTP/1.1\r\nHost: a\r\n\r\n")
	undate(t, c.readHead())
	bad := dial(t, p.Addr)
	bad.send("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
	undate(t, bad.readHead())
}

// CONNECT asks a gateway for a tunnel it does not open: 405 with Allow, and
// nothing reaches the origin, not even the bytes after it.
func TestConnectRefused(t *testing.T) {
	o := startOrigin(t, echo)
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
	c := dial(t, p.Addr)
	c.send("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
	r := c.expectStatus("GET", 405)
	if a := r.Header.Get("Allow"); a == "" || strings.Contains(a, "CONNECT") {
		t.Fatalf("Allow %q", a)
	}
	if !r.Close {
		t.Fatal("405 without Connection: close")
	}
	c.expectClosed()
	if o.Accepted() != 0 {
		t.Fatalf("the origin accepted %d connections", o.Accepted())
	}
}

// RFC 9112 §3.2.4: the asterisk-form goes on as it came, and an OPTIONS for
// an absolute URI with an empty path becomes one.
func TestForwardAsteriskForm(t *testing.T) {
	for _, c := range []struct{ raw, want string }{
		{"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "OPTIONS * HTTP/1.1\r\n"},
		{"OPTIONS http://a.example HTTP/1.1\r\nHost: a.example\r\n\r\n", "OPTIONS * HTTP/1.1\r\n"},
		{"OPTIONS http://a.example?x HTTP/1.1\r\nHost: a.example\r\n\r\n", "OPTIONS /?x HTTP/1.1\r\n"},
		{"GET http://a.example HTTP/1.1\r\nHost: a.example\r\n\r\n", "GET / HTTP/1.1\r\n"},
	} {
		o := startOrigin(t, echo)
		p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}})
		cl := dial(t, p.Addr)
		cl.send(c.raw)
		cl.expectStatus(strings.Fields(c.raw)[0], 200)
		if h := o.Requests()[0].Head; !strings.HasPrefix(h, c.want) {
			t.Fatalf("%q reached the origin as %q, want %q", c.raw, h, c.want)
		}
	}
}
