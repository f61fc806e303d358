package eventloop_test

// The harness of the integration tests: a goroutine-leak check around the
// whole run, a scripted origin on a real socket, a raw client, and a
// proxy started on a free port. Tests are black-box (package
// eventloop_test): they see what a client and an origin would see.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeloop/edgeloop/eventloop"
	"github.com/edgeloop/edgeloop/http1"
)

// ioTimeout bounds every read and write of the tests: nothing hangs.
const ioTimeout = 5 * time.Second

// TestMain runs the tests, then checks that no goroutine they started is
// left: the proxy's loops, dialers and timers, the scripted origins and
// their handlers must all be gone within 5 s of the end.
//
// The check polls until the goroutines are back to those alive at start:
// no more of them (runtime.NumGoroutine's sense), and none that was not
// there at start (by goroutine ID, so that one that ended cannot hide one
// that leaked). Both counts leave out one kind, the allowance: gnet
// enrolls each dialed origin connection on a worker of its global ants
// pool (goroutine.DefaultWorkerPool), and a worker stays parked after its
// task for up to ants' ExpiryDuration (10 s, purged every 10 s), so idle
// workers ("ants/v2.(*goWorker).run") are not leaks. Measured on this
// suite: 1 to 3 linger after a single test, up to about 30 after the
// whole run (TestManyClients dials 32 origin connections at once, one
// worker each). More than maxIdleAntsWorkers is reported, as it would
// mean enrolls that never returned. The pool's own purge and ticktock
// goroutines start at package init, so they are in the start set.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		runChildProxy() // the memory tests' proxy process; never returns
	}
	base := goroutines()
	code := m.Run()
	if err := waitStops(15 * time.Second); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	// Checked after failures too: a leak may be what made a test fail.
	if err := waitGoroutines(base, 5*time.Second); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// maxIdleAntsWorkers is the most idle gnet pool workers tolerated at the end.
const maxIdleAntsWorkers = 64

// Proxies stop in the background after their test: gnet's Engine.Stop
// polls every 500 ms, which would otherwise add half a second to each
// test. TestMain waits for them all before the leak check and fails the
// run when one did not stop cleanly.
var (
	stops    sync.WaitGroup
	stopMu   sync.Mutex
	stopErrs []error
)

func waitStops(limit time.Duration) error {
	done := make(chan struct{})
	go func() { stops.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(limit):
		return fmt.Errorf("proxies still stopping %v after the tests", limit)
	}
	stopMu.Lock()
	defer stopMu.Unlock()
	return errors.Join(stopErrs...)
}

// goroutineSet is a snapshot of the goroutines: the stacks by ID of those
// that are not idle ants workers, and how many workers there are.
type goroutineSet struct {
	stacks  map[string]string // goroutine ID -> stack
	workers int
}

func goroutines() goroutineSet {
	buf := make([]byte, 1<<20)
	for {
		k := runtime.Stack(buf, true)
		if k < len(buf) {
			buf = buf[:k]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	g := goroutineSet{stacks: map[string]string{}}
	for _, s := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(s, "panjf2000/ants/v2.(*goWorker).run") {
			g.workers++
			continue
		}
		if strings.Contains(s, "os/signal.loop") {
			// Under go test -fuzz the testing package watches for ^C
			// (signal.NotifyContext), which starts os/signal's watcher
			// for the life of the process: not ours, not a leak.
			continue
		}
		// "goroutine 42 [chan receive]:"
		id, _, _ := strings.Cut(strings.TrimPrefix(s, "goroutine "), " ")
		g.stacks[id] = s
	}
	return g
}

// newSince returns the stacks of goroutines not in base.
func (g goroutineSet) newSince(base goroutineSet) []string {
	var out []string
	for id, s := range g.stacks {
		if _, ok := base.stacks[id]; !ok {
			out = append(out, s)
		}
	}
	return out
}

// waitGoroutines polls until the goroutines other than idle ants workers
// are back to those of base, and the idle workers are few.
func waitGoroutines(base goroutineSet, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		// The caller's own goroutine is in both sets.
		g := goroutines()
		fresh := g.newSince(base)
		if len(fresh) == 0 && len(g.stacks) <= len(base.stacks) && g.workers <= maxIdleAntsWorkers {
			if testing.Verbose() {
				fmt.Fprintf(os.Stderr, "leak check: %d goroutines (%d at start), %d idle ants workers\n",
					len(g.stacks), len(base.stacks), g.workers)
			}
			return nil
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			fmt.Fprintf(&b, "goroutine leak: %d goroutines at the end, %d at start, %d new, %d idle ants workers (%d allowed); new stacks:\n",
				len(g.stacks), len(base.stacks), len(fresh), g.workers, maxIdleAntsWorkers)
			for _, s := range fresh {
				b.WriteString(s)
				b.WriteString("\n\n")
			}
			return errors.New(b.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------
// The proxy under test.

// testProxy is a running proxy and its address.
type testProxy struct {
	*eventloop.Proxy
	Addr string

	served   chan error
	stopOnce sync.Once
	stopErr  error
}

// startProxy starts a proxy on a free port of 127.0.0.1 with o (2 loops
// and a 2 s drain unless o says otherwise) and waits until it accepts.
// Cleanup shuts it down in the background; TestMain waits for Serve to
// return.
func startProxy(t testing.TB, o eventloop.Options) *testProxy {
	t.Helper()
	o.Listen = freeAddr(t)
	if o.Loops == 0 {
		o.Loops = 2
	}
	if o.Timeouts.Drain == 0 {
		o.Timeouts.Drain = 2 * time.Second
	}
	p, err := eventloop.New(o)
	if err != nil {
		t.Fatal(err)
	}
	tp := &testProxy{Proxy: p, Addr: o.Listen, served: make(chan error, 1)}
	go func() { tp.served <- p.Serve() }()
	select {
	case <-p.Ready():
	case err := <-tp.served:
		t.Fatalf("Serve returned before Ready: %v", err)
	case <-time.After(ioTimeout):
		t.Fatal("proxy not ready within 5 s")
	}
	name := t.Name()
	stops.Add(1)
	t.Cleanup(func() {
		go func() {
			defer stops.Done()
			if err := tp.stop(); err != nil {
				stopMu.Lock()
				stopErrs = append(stopErrs, fmt.Errorf("%s: proxy shutdown: %w", name, err))
				stopMu.Unlock()
			}
		}()
	})
	// gnet listens per loop (SO_REUSEPORT): wait until a dial succeeds.
	deadline := time.Now().Add(ioTimeout)
	for {
		c, err := net.DialTimeout("tcp", tp.Addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy does not accept on %s: %v", tp.Addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return tp
}

// stop shuts the proxy down once and waits for Serve to return; later
// calls return the first result.
func (tp *testProxy) stop() error {
	tp.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		tp.stopErr = tp.Shutdown(ctx)
		select {
		case err := <-tp.served:
			if tp.stopErr == nil && err != nil {
				tp.stopErr = fmt.Errorf("Serve: %w", err)
			}
		case <-time.After(10 * time.Second):
			tp.stopErr = errors.Join(tp.stopErr, errors.New("Serve did not return within 10 s of Shutdown"))
		}
	})
	return tp.stopErr
}

// waitStats polls the counters until their totals equal want's (they
// are updated on the loops, possibly just after the client read the last
// byte).
func (tp *testProxy) waitStats(t testing.TB, want eventloop.Stats) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		got := tp.Stats()
		if totals(got) == totals(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Stats = %+v, want %+v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// totals is the comparable part of Stats.
func totals(s eventloop.Stats) [4]uint64 {
	return [4]uint64{s.ClientSuccess, s.ClientFailed, s.OriginSuccess, s.OriginFailed}
}

// freeAddr returns a 127.0.0.1 address with a port nothing listens on:
// gnet cannot be given port 0 (each loop listens with SO_REUSEPORT).
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// ---------------------------------------------------------------------
// The scripted origin.

// scriptOrigin is an origin on a real socket of 127.0.0.1: it counts the
// connections it accepts, runs handle on each, and records every request
// read through its connections, byte for byte.
type scriptOrigin struct {
	ln       net.Listener
	handle   func(*originSide)
	accepted atomic.Int64
	done     chan struct{}
	wg       sync.WaitGroup

	mu    sync.Mutex
	reqs  []*gotRequest
	conns map[net.Conn]struct{}
}

// gotRequest is one request as the origin received it.
type gotRequest struct {
	Conn    int    // the accepted connection it came on, from 1
	Head    string // the head, exactly as received
	Body    []byte // the body exactly as received (chunked framing included)
	Data    []byte // the body's data (de-chunked)
	Method  string
	Target  string
	Framing http1.Body
	req     http1.Request
}

// Get returns the value of the first field called name, or "".
func (r *gotRequest) Get(name string) string {
	v, _ := r.req.Get([]byte(r.Head), strings.ToLower(name))
	return string(v)
}

// startOrigin starts a scripted origin; cleanup closes it, its
// connections, and waits for its handlers.
func startOrigin(t testing.TB, handle func(*originSide)) *scriptOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &scriptOrigin{ln: ln, handle: handle, done: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	o.wg.Add(1)
	go o.accept()
	t.Cleanup(o.close)
	return o
}

func (o *scriptOrigin) Addr() string { return o.ln.Addr().String() }

// Accepted is the number of connections the origin accepted.
func (o *scriptOrigin) Accepted() int { return int(o.accepted.Load()) }

// Requests returns the requests read so far.
func (o *scriptOrigin) Requests() []*gotRequest {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*gotRequest(nil), o.reqs...)
}

func (o *scriptOrigin) accept() {
	defer o.wg.Done()
	for {
		c, err := o.ln.Accept()
		if err != nil {
			return
		}
		n := int(o.accepted.Add(1))
		o.mu.Lock()
		o.conns[c] = struct{}{}
		o.mu.Unlock()
		o.wg.Add(1)
		go func() {
			defer o.wg.Done()
			defer func() {
				c.Close()
				o.mu.Lock()
				delete(o.conns, c)
				o.mu.Unlock()
			}()
			o.handle(&originSide{o: o, c: c, n: n})
		}()
	}
}

func (o *scriptOrigin) close() {
	close(o.done)
	o.ln.Close()
	o.mu.Lock()
	for c := range o.conns {
		c.Close()
	}
	o.mu.Unlock()
	o.wg.Wait()
}

// originSide is one connection accepted by a scripted origin.
type originSide struct {
	o   *scriptOrigin
	c   net.Conn
	n   int    // which accepted connection, from 1
	buf []byte // received and not consumed yet
}

// fill reads more bytes into s.buf, waiting at most ioTimeout.
func (s *originSide) fill() error {
	s.c.SetReadDeadline(time.Now().Add(ioTimeout))
	var tmp [64 << 10]byte
	k, err := s.c.Read(tmp[:])
	s.buf = append(s.buf, tmp[:k]...)
	if k > 0 {
		return nil
	}
	return err
}

// ReadHead reads one request head with our parser (the body is left
// unread: ReadBody). An unparseable head is returned with the error.
func (s *originSide) ReadHead() (*gotRequest, error) {
	r := &gotRequest{Conn: s.n}
	for {
		n, err := r.req.Parse(s.buf)
		if err == http1.ErrNeedMore {
			if err := s.fill(); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			r.Head = string(s.buf)
			return r, fmt.Errorf("origin: unparseable request %q: %w", s.buf, err)
		}
		r.Head = string(s.buf[:n])
		s.buf = s.buf[n:]
		b := []byte(r.Head)
		r.Method = string(r.req.Method.Of(b))
		r.Target = string(r.req.Target.Of(b))
		r.Framing = r.req.Body
		return r, nil
	}
}

// ReadBody reads the body announced by r's head and records r.
func (s *originSide) ReadBody(r *gotRequest) error {
	switch r.Framing.Kind {
	case http1.BodyLength:
		for int64(len(s.buf)) < r.Framing.Length {
			if err := s.fill(); err != nil {
				return err
			}
		}
		r.Body = append([]byte(nil), s.buf[:r.Framing.Length]...)
		r.Data = r.Body
		s.buf = s.buf[r.Framing.Length:]
	case http1.BodyChunked:
		var d http1.Chunked
		off := 0
		for !d.Done() {
			if off == len(s.buf) {
				if err := s.fill(); err != nil {
					return err
				}
			}
			k, data, err := d.Decode(s.buf[off:])
			if err != nil {
				return err
			}
			r.Data = append(r.Data, data...)
			off += k
		}
		r.Body = append([]byte(nil), s.buf[:off]...)
		s.buf = s.buf[off:]
	}
	s.o.mu.Lock()
	s.o.reqs = append(s.o.reqs, r)
	s.o.mu.Unlock()
	return nil
}

// ReadRequest reads a whole request: head and body.
func (s *originSide) ReadRequest() (*gotRequest, error) {
	r, err := s.ReadHead()
	if err != nil {
		return r, err
	}
	return r, s.ReadBody(r)
}

// Write sends bytes to the proxy.
func (s *originSide) Write(b string) error {
	s.c.SetWriteDeadline(time.Now().Add(ioTimeout))
	_, err := io.WriteString(s.c, b)
	return err
}

// Sleep waits d, or less when the origin is being closed; it reports
// whether the whole d passed.
func (s *originSide) Sleep(d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-s.o.done:
		return false
	}
}

// WaitEOF reads until the proxy closes the connection (or ioTimeout) and
// reports whether it saw the end.
func (s *originSide) WaitEOF() bool {
	for {
		if err := s.fill(); err != nil {
			var ne net.Error
			return !(errors.As(err, &ne) && ne.Timeout())
		}
		s.buf = s.buf[:0]
	}
}

// serve returns a handler that answers each request with reply until
// reply returns "" (then the connection is closed) or the proxy closes it.
func serve(reply func(s *originSide, r *gotRequest) string) func(*originSide) {
	return func(s *originSide) {
		for {
			r, err := s.ReadRequest()
			if err != nil {
				if r != nil {
					s.Write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
				}
				return
			}
			out := reply(s, r)
			if out == "" || s.Write(out) != nil {
				return
			}
		}
	}
}

// ok is a 200 response with body and Content-Length.
func ok(body string) string {
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// echo answers "METHOD TARGET DATA" for each request (to a HEAD, only
// the head that GET would get).
var echo = serve(func(_ *originSide, r *gotRequest) string {
	body := r.Method + " " + r.Target + " " + string(r.Data)
	if r.Method == "HEAD" {
		return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(body))
	}
	return ok(body)
})

// ---------------------------------------------------------------------
// The raw client.

// client is a raw connection to the proxy.
type client struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

// dial connects to the proxy; cleanup closes the connection.
func dial(t testing.TB, addr string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

// tryDial connects without failing the test (the proxy may refuse); the
// caller closes the connection.
func tryDial(addr string) (*client, error) {
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return nil, err
	}
	return &client{c: c, br: bufio.NewReader(c)}, nil
}

// send writes raw bytes, failing the test on error.
func (c *client) send(b string) {
	c.t.Helper()
	if err := c.write(b); err != nil {
		c.t.Fatalf("client write: %v", err)
	}
}

func (c *client) write(b string) error {
	c.c.SetWriteDeadline(time.Now().Add(ioTimeout))
	_, err := io.WriteString(c.c, b)
	return err
}

// response is a response read whole by the client.
type response struct {
	Status int
	Header http.Header
	TE     []string
	CL     int64
	Close  bool // the response said the connection closes
	Body   []byte
}

// read reads one response to a request of the given method, body
// included, failing the test on error.
func (c *client) read(method string) *response {
	c.t.Helper()
	r, err := c.tryRead(method)
	if err != nil {
		c.t.Fatalf("client read: %v", err)
	}
	return r
}

func (c *client) tryRead(method string) (*response, error) {
	c.c.SetReadDeadline(time.Now().Add(ioTimeout))
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	r := &response{Status: resp.StatusCode, Header: resp.Header, TE: resp.TransferEncoding,
		CL: resp.ContentLength, Close: resp.Close, Body: body}
	return r, err
}

// readHead reads a raw response head, through its empty line.
func (c *client) readHead() string {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(ioTimeout))
	var b strings.Builder
	for !strings.HasSuffix(b.String(), "\r\n\r\n") {
		line, err := c.br.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			c.t.Fatalf("client read head: %v (got %q)", err, b.String())
		}
	}
	return b.String()
}

// readN reads exactly n bytes.
func (c *client) readN(n int) []byte {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(ioTimeout))
	b := make([]byte, n)
	if k, err := io.ReadFull(c.br, b); err != nil {
		c.t.Fatalf("client read %d bytes: %v after %q", n, err, b[:k])
	}
	return b
}

// readToEOF reads until the proxy closes the connection and returns the
// bytes; it fails the test when the connection stays open for ioTimeout.
func (c *client) readToEOF() []byte {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(ioTimeout))
	b, err := io.ReadAll(c.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection still open after %v (read %q)", ioTimeout, b)
	}
	return b
}

// expectClosed checks that the proxy closes the connection with nothing
// more to read.
func (c *client) expectClosed() {
	c.t.Helper()
	if b := c.readToEOF(); len(b) > 0 {
		c.t.Fatalf("bytes after the response: %q", b)
	}
}

// expectStatus reads a response and checks its status.
func (c *client) expectStatus(method string, status int) *response {
	c.t.Helper()
	r := c.read(method)
	if r.Status != status {
		c.t.Fatalf("status %d (%q), want %d", r.Status, r.Body, status)
	}
	return r
}

// get sends a GET for target on the connection and returns the response.
func (c *client) get(target string) *response {
	c.t.Helper()
	c.send("GET " + target + " HTTP/1.1\r\nHost: example.org\r\n\r\n")
	return c.read("GET")
}

// bodyOf checks the status of a response and returns its body as text.
func bodyOf(t testing.TB, r *response, status int) string {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d (%q), want %d", r.Status, r.Body, status)
	}
	return string(r.Body)
}

// pattern returns n deterministic, non-repeating-looking bytes.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// chunk encodes data as a chunked body in chunks of at most size bytes,
// ended by the last-chunk and no trailers.
func chunk(data []byte, size int) []byte {
	var b bytes.Buffer
	for len(data) > 0 {
		k := min(size, len(data))
		fmt.Fprintf(&b, "%x\r\n", k)
		b.Write(data[:k])
		b.WriteString("\r\n")
		data = data[k:]
	}
	b.WriteString("0\r\n\r\n")
	return b.Bytes()
}

// undate checks that head carries exactly one Date field, an IMF-fixdate
// within 5 s of now (RFC 9110 §6.6.1: the proxy adds one when the origin
// sent none), and returns head without it, for exact comparisons.
func undate(t testing.TB, head string) string {
	t.Helper()
	lines := strings.Split(head, "\r\n")
	var out []string
	n := 0
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, "Date: "); ok {
			n++
			d, err := time.Parse(http.TimeFormat, v)
			if err != nil || time.Since(d).Abs() > 5*time.Second {
				t.Fatalf("Date %q: not an IMF-fixdate of now (%v)", v, err)
			}
			continue
		}
		out = append(out, l)
	}
	if n != 1 {
		t.Fatalf("%d Date fields in %q, want 1", n, head)
	}
	return strings.Join(out, "\r\n")
}
