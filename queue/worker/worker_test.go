package worker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeloop/edgeloop/http1"
	"github.com/edgeloop/edgeloop/queue"
)

// TestMain fails the package when a test left goroutines of the worker,
// of net/http or of a child process behind.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaks := leaked(5 * time.Second); leaks != "" {
			fmt.Fprintf(os.Stderr, "goroutines left behind:\n%s\n", leaks)
			code = 1
		}
	}
	os.Exit(code)
}

// leaked waits up to d for the goroutines of interest to end; it returns
// the stacks of those still there.
func leaked(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var bad []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "leaked(") {
				continue // this one
			}
			if strings.Contains(g, "queue/worker.") || strings.Contains(g, "net/http.") || strings.Contains(g, "os/exec.") {
				bad = append(bad, g)
			}
		}
		if len(bad) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(bad, "\n\n")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fakeClient is the loop side of a queued request, recording what the
// queue hands it.
type fakeClient struct {
	answers chan *queue.Answer
	fails   chan int
	ends    chan bool
	wrote   chan struct{} // a token per Write

	mu   sync.Mutex
	body []byte
}

func newFake() *fakeClient {
	return &fakeClient{answers: make(chan *queue.Answer, 4), fails: make(chan int, 4), ends: make(chan bool, 4), wrote: make(chan struct{}, 1<<12)}
}

func (c *fakeClient) Answer(a *queue.Answer) { c.answers <- a }
func (c *fakeClient) Fail(status int)        { c.fails <- status }
func (c *fakeClient) End(ok bool)            { c.ends <- ok }
func (c *fakeClient) Write(p []byte) error {
	c.mu.Lock()
	c.body = append(c.body, p...) // p is reused after
	c.mu.Unlock()
	select {
	case c.wrote <- struct{}{}:
	default:
	}
	return nil
}

func (c *fakeClient) streamed() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.body...)
}

const timeout = 10 * time.Second

// answer waits for the request's answer; a Fail fails the test.
func (c *fakeClient) answer(t *testing.T) *queue.Answer {
	t.Helper()
	select {
	case a := <-c.answers:
		return a
	case st := <-c.fails:
		t.Fatalf("the request failed with %d, want an answer", st)
	case <-time.After(timeout):
		t.Fatal("no answer")
	}
	return nil
}

func (c *fakeClient) end(t *testing.T) bool {
	t.Helper()
	select {
	case ok := <-c.ends:
		return ok
	case <-time.After(timeout):
		t.Fatal("the streamed body did not end")
	}
	return false
}

// quiet checks that nothing reaches the client for d.
func (c *fakeClient) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case a := <-c.answers:
		t.Fatalf("answered %d, want nothing yet", a.Status)
	case st := <-c.fails:
		t.Fatalf("failed %d, want nothing yet", st)
	case <-time.After(d):
	}
}

// server is a worker API over one queue, pool "jobs", recording the calls.
type server struct {
	q   *queue.Queue
	api *queue.API
	srv *httptest.Server

	mu    sync.Mutex
	calls []string // "METHOD PATH?QUERY"
	ids   map[string]bool
	polls atomic.Int64 // long polls in progress
}

func newServer(t *testing.T, cfg queue.Config, token string) *server {
	t.Helper()
	cfg.Pool = "jobs"
	s := &server{q: queue.New(cfg), ids: map[string]bool{}}
	s.api = queue.NewAPI([]*queue.Queue{s.q}, token)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.calls = append(s.calls, r.Method+" "+r.URL.RequestURI())
		s.ids[r.Header.Get("X-Worker-Id")] = true
		s.mu.Unlock()
		if r.URL.Path == "/api/v1/request" {
			s.polls.Add(1)
			defer s.polls.Add(-1)
		}
		s.api.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		s.api.Close() // wakes the long polls, so that Close does not wait for them
		s.srv.Close()
	})
	return s
}

func (s *server) called(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// enqueue queues a request with the given head and body.
func (s *server) enqueue(t *testing.T, head string, body []byte, m http1.Method) *fakeClient {
	t.Helper()
	fc := newFake()
	_, err := s.q.Enqueue(&queue.Request{Head: []byte(head), Body: body, Method: m, ScriptName: "/jobs",
		RemoteAddr: "127.0.0.1", LocalAddr: "127.0.0.1:8080", Client: fc})
	if err != nil {
		t.Fatal(err)
	}
	return fc
}

func get(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: h\r\n\r\n" }

// logBuffer collects a worker's logs.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// run starts w.Run with n loops against s; the returned stop (also a
// cleanup) cancels it and checks that it returns promptly.
func run(t *testing.T, s *server, w *Worker, n int) (stop func()) {
	t.Helper()
	if w.URL == "" {
		w.URL = s.srv.URL
	}
	if w.Wait == 0 {
		w.Wait = 5 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, n) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(timeout):
				t.Errorf("Run did not return after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func header(a *queue.Answer, name string) []string {
	var vs []string
	for _, h := range a.Header {
		if strings.EqualFold(h[0], name) {
			vs = append(vs, h[1])
		}
	}
	return vs
}

// A request and its answer, with fields and bodies both ways.
func TestRoundTrip(t *testing.T) {
	s := newServer(t, queue.Config{}, "")
	seen := make(chan *http.Request, 1)
	got := make(chan string, 1)
	var logs logBuffer
	run(t, s, &Worker{Pool: "jobs", ID: "w-1", Logger: logs.logger(), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
		seen <- r
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Add("X-Multi", "one")
		w.Header().Add("X-Multi", "two")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "made: ")
		w.Write(b)
	})}, 1)

	fc := s.enqueue(t, "POST /jobs/a?x=1 HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nX-Test: 1\r\n\r\n",
		[]byte("hello"), http1.MethodPost)
	a := fc.answer(t)
	if a.Status != 201 || string(a.Body) != "made: hello" || a.Stream {
		t.Fatalf("answer: %d %q stream %v", a.Status, a.Body, a.Stream)
	}
	if ct := header(a, "Content-Type"); len(ct) != 1 || ct[0] != "text/plain" {
		t.Errorf("Content-Type: %q", ct)
	}
	if m := header(a, "X-Multi"); len(m) != 2 || m[0] != "one" || m[1] != "two" {
		t.Errorf("X-Multi: %q", m)
	}

	r := <-seen
	if b := <-got; b != "hello" {
		t.Errorf("body: %q", b)
	}
	checks := []struct{ what, got, want string }{
		{"method", r.Method, "POST"},
		{"path", r.URL.Path, "/jobs/a"},
		{"query", r.URL.RawQuery, "x=1"},
		{"RequestURI", r.RequestURI, "/jobs/a?x=1"},
		{"proto", r.Proto, "HTTP/1.1"},
		{"Host", r.Host, "h"},
		{"X-Test", r.Header.Get("X-Test"), "1"},
		{"Content-Type", r.Header.Get("Content-Type"), "text/plain"},
		{"Content-Length", r.Header.Get("Content-Length"), "5"},
		{"X-Forwarded-For", r.Header.Get("X-Forwarded-For"), "127.0.0.1"},
		{"RemoteAddr", r.RemoteAddr, "127.0.0.1:0"},
		{"SCRIPT_NAME", Env(r)["SCRIPT_NAME"], "/jobs"},
		{"PATH_INFO", Env(r)["PATH_INFO"], "/a"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.what, c.got, c.want)
		}
	}
	if r.ContentLength != 5 || r.ProtoMajor != 1 || r.ProtoMinor != 1 {
		t.Errorf("ContentLength %d, proto %d.%d", r.ContentLength, r.ProtoMajor, r.ProtoMinor)
	}
	if _, ok := r.Header["Host"]; ok {
		t.Errorf("Host is in Header, as net/http never has it")
	}
	if host, port, err := net.SplitHostPort(r.RemoteAddr); err != nil || host != "127.0.0.1" || port != "0" {
		t.Errorf("SplitHostPort(%q): %q %q %v", r.RemoteAddr, host, port, err)
	}
	if s.called("GET /api/v1/request?") == 0 || !s.ids["w-1"] {
		t.Errorf("calls %q, worker ids %v", s.calls, s.ids)
	}
	s.mu.Lock()
	first := s.calls[0]
	s.mu.Unlock()
	if !strings.Contains(first, "pool=jobs") || !strings.Contains(first, "wait=5s") {
		t.Errorf("first call %q: want pool=jobs and wait=5s", first)
	}
}

// A body over the queue's inline size comes through body_url, streamed.
func TestLargeRequestBody(t *testing.T) {
	s := newServer(t, queue.Config{InlineBody: 16}, "tok")
	body := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320 KB
	run(t, s, &Worker{Token: "tok", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		fmt.Fprintf(w, "%d %v %d %x", n, err, r.ContentLength, h.Sum(nil))
	})}, 1)
	fc := s.enqueue(t, fmt.Sprintf("PUT /jobs/up HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n", len(body)), body, http1.MethodPut)
	a := fc.answer(t)
	sum := sha256.Sum256(body)
	want := fmt.Sprintf("%d <nil> %d %x", len(body), len(body), sum)
	if a.Status != 200 || string(a.Body) != want {
		t.Fatalf("answer %d %q, want %q", a.Status, a.Body, want)
	}
	if s.called("GET /api/v1/request/") != 1 {
		t.Fatalf("calls %q: want one GET of the body", s.calls)
	}
}

// A response over InlineLimit is posted head first, its body streamed.
func TestStreamedResponse(t *testing.T) {
	s := newServer(t, queue.Config{}, "")
	var body bytes.Buffer
	for i := range 3000 {
		fmt.Fprintf(&body, "line %d\n", i)
	}
	run(t, s, &Worker{InlineLimit: 1024, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", fmt.Sprint(body.Len()))
		b := body.Bytes()
		for len(b) > 0 {
			k := min(len(b), 700)
			if _, err := w.Write(b[:k]); err != nil {
				t.Errorf("Write: %v", err)
				return
			}
			b = b[k:]
		}
	})}, 1)
	fc := s.enqueue(t, get("/jobs/big"), nil, http1.MethodGet)
	a := fc.answer(t)
	if a.Status != 200 || !a.Stream || len(a.Body) != 0 {
		t.Fatalf("answer %d stream %v body %d bytes", a.Status, a.Stream, len(a.Body))
	}
	if ok := fc.end(t); !ok {
		t.Fatal("End(false)")
	}
	if got := fc.streamed(); !bytes.Equal(got, body.Bytes()) {
		t.Fatalf("streamed %d bytes, want %d", len(got), body.Len())
	}
}

// Flush sends the head and what was written at once; the rest follows.
func TestFlushStreams(t *testing.T) {
	s := newServer(t, queue.Config{}, "")
	proceed := make(chan struct{})
	run(t, s, &Worker{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first ")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		<-proceed
		io.WriteString(w, "second")
	})}, 1)
	fc := s.enqueue(t, get("/jobs/sse"), nil, http1.MethodGet)
	a := fc.answer(t) // while the handler still runs
	if !a.Stream || a.Status != 200 {
		t.Fatalf("answer %d stream %v", a.Status, a.Stream)
	}
	if ct := header(a, "Content-Type"); len(ct) != 1 || !strings.HasPrefix(ct[0], "text/plain") {
		t.Errorf("sniffed Content-Type: %q", ct)
	}
	deadline := time.After(timeout)
	for string(fc.streamed()) != "first " {
		select {
		case <-fc.wrote:
		case <-deadline:
			t.Fatalf("flushed %q, want %q before the handler ends", fc.streamed(), "first ")
		}
	}
	close(proceed)
	if !fc.end(t) {
		t.Fatal("End(false)")
	}
	if got := string(fc.streamed()); got != "first second" {
		t.Fatalf("streamed %q", got)
	}
}

// A panic gives 500 when nothing went out, a cut body when it did; the
// worker goes on.
func TestPanic(t *testing.T) {
	s := newServer(t, queue.Config{}, "")
	var logs logBuffer
	run(t, s, &Worker{Logger: logs.logger(), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/jobs/early":
			w.Header().Set("X-Lost", "1")
			io.WriteString(w, "lost")
			panic("boom")
		case "/jobs/late":
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic("bang")
		}
		io.WriteString(w, "fine")
	})}, 1)

	fc := s.enqueue(t, get("/jobs/early"), nil, http1.MethodGet)
	a := fc.answer(t)
	if a.Status != 500 || len(header(a, "X-Lost")) != 0 || strings.Contains(string(a.Body), "lost") {
		t.Fatalf("answer %d %q %q, want a plain 500", a.Status, a.Header, a.Body)
	}

	fc = s.enqueue(t, get("/jobs/late"), nil, http1.MethodGet)
	if a := fc.answer(t); !a.Stream || a.Status != 200 {
		t.Fatalf("answer %d stream %v", a.Status, a.Stream)
	}
	if fc.end(t) {
		t.Fatal("End(true) after a panic mid-body: want a cut body")
	}

	fc = s.enqueue(t, get("/jobs/ok"), nil, http1.MethodGet)
	if a := fc.answer(t); a.Status != 200 || string(a.Body) != "fine" {
		t.Fatalf("after the panics: %d %q", a.Status, a.Body)
	}
	if l := logs.String(); !strings.Contains(l, "boom") || !strings.Contains(l, "bang") {
		t.Errorf("the panics are not logged:\n%s", l)
	}
}

// HEAD, 204 and 304 answers carry no body.
func TestNoBody(t *testing.T) {
	s := newServer(t, queue.Config{}, "")
	run(t, s, &Worker{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/jobs/204":
			w.WriteHeader(204)
			if _, err := io.WriteString(w, "x"); err != http.ErrBodyNotAllowed {
				t.Errorf("Write after 204: %v", err)
			}
		case "/jobs/304":
			w.Header().Set("Content-Length", "42")
			w.WriteHeader(304)
		default:
			io.WriteString(w, "<html>twelve")
		}
	})}, 1)
	fc := s.enqueue(t, "HEAD /jobs/page HTTP/1.1\r\nHost: h\r\n\r\n", nil, http1.MethodHead)
	a := fc.answer(t)
	if a.Status != 200 || len(a.Body) != 0 || a.ContentLength != 12 {
		t.Fatalf("HEAD: %d %q Content-Length %d, want 12", a.Status, a.Body, a.ContentLength)
	}
	if ct := header(a, "Content-Type"); len(ct) != 1 || !strings.HasPrefix(ct[0], "text/html") {
		t.Errorf("HEAD: Content-Type %q, want the sniffed text/html", ct)
	}
	fc = s.enqueue(t, get("/jobs/204"), nil, http1.MethodGet)
	if a := fc.answer(t); a.Status != 204 || len(a.Body) != 0 {
		t.Fatalf("204: %d %q", a.Status, a.Body)
	}
	fc = s.enqueue(t, get("/jobs/304"), nil, http1.MethodGet)
	if a := fc.answer(t); a.Status != 304 || len(a.Body) != 0 || a.ContentLength != 42 {
		t.Fatalf("304: %d %q %d", a.Status, a.Body, a.ContentLength)
	}
}

// A wrong token: the worker logs the 401 and keeps trying; the right one
// gets the request.
func TestToken(t *testing.T) {
	s := newServer(t, queue.Config{}, "secret")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	var logs logBuffer
	stop := run(t, s, &Worker{Token: "wrong", Handler: h, Logger: logs.logger()}, 1)
	fc := s.enqueue(t, get("/jobs/t"), nil, http1.MethodGet)
	fc.quiet(t, 700*time.Millisecond)
	stop()
	if n := s.called("GET /api/v1/request?"); n < 2 || n > 10 {
		t.Errorf("%d polls in 700 ms with a wrong token: want a few, backing off", n)
	}
	if l := logs.String(); !strings.Contains(l, "401") {
		t.Errorf("the 401 is not logged:\n%s", l)
	}
	run(t, s, &Worker{Token: "secret", Handler: h}, 1)
	if a := fc.answer(t); a.Status != 200 || string(a.Body) != "ok" {
		t.Fatalf("with the token: %d %q", a.Status, a.Body)
	}
}

// Several loops answer each of many requests exactly once.
func TestManyWorkers(t *testing.T) {
	s := newServer(t, queue.Config{}, "")
	const n = 200
	var mu sync.Mutex
	served := map[string]int{}
	var active, peak atomic.Int64
	run(t, s, &Worker{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := active.Add(1)
		defer active.Add(-1)
		for p := peak.Load(); a > p && !peak.CompareAndSwap(p, a); p = peak.Load() {
		}
		mu.Lock()
		served[r.URL.Path]++
		mu.Unlock()
		time.Sleep(time.Millisecond)
		io.WriteString(w, r.URL.Path)
	})}, 4)
	fcs := make([]*fakeClient, n)
	for i := range fcs {
		fcs[i] = s.enqueue(t, get(fmt.Sprintf("/jobs/%d", i)), nil, http1.MethodGet)
	}
	for i, fc := range fcs {
		if a := fc.answer(t); string(a.Body) != fmt.Sprintf("/jobs/%d", i) {
			t.Fatalf("request %d answered %q", i, a.Body)
		}
	}
	for i, fc := range fcs {
		select {
		case <-fc.answers:
			t.Fatalf("request %d answered twice", i)
		default:
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for path, k := range served {
		if k != 1 {
			t.Errorf("%s served %d times", path, k)
		}
	}
	if len(served) != n {
		t.Errorf("%d requests served, want %d", len(served), n)
	}
	if p := peak.Load(); p > 4 {
		t.Errorf("%d requests handled at once by 4 loops", p)
	} else {
		t.Logf("at most %d requests handled at once", p)
	}
}

// Run returns at once when its context ends, even in a long poll.
func TestRunStopsPromptly(t *testing.T) {
	s := newServer(t, queue.Config{}, "")
	stop := run(t, s, &Worker{Wait: 5 * time.Minute, Handler: http.NotFoundHandler()}, 3)
	deadline := time.Now().Add(timeout)
	for s.polls.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d long polls, want 3", s.polls.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	stop()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Run took %v to return", d)
	}
	// Once the proxy saw the polls go (their connections closed), a
	// request waits for the next worker. (Enqueued before that, it would
	// go to a poll whose connection is gone, and wait out its lease.)
	for s.polls.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the proxy still sees %d long polls", s.polls.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	fc := s.enqueue(t, get("/jobs/after"), nil, http1.MethodGet)
	run(t, s, &Worker{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "late") })}, 1)
	if a := fc.answer(t); string(a.Body) != "late" {
		t.Fatalf("answer %q", a.Body)
	}
}

// A request that is gone (its client left) while the handler runs: the
// lease renewal learns it (404) and ends the handler's context; the
// refused answer is logged and the worker goes on.
func TestRequestGoneWhileHandled(t *testing.T) {
	s := newServer(t, queue.Config{Lease: 150 * time.Millisecond}, "")
	var logs logBuffer
	ended := make(chan error, 1)
	run(t, s, &Worker{Logger: logs.logger(), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/jobs/slow" {
			select {
			case <-r.Context().Done():
				ended <- r.Context().Err()
			case <-time.After(timeout):
				ended <- nil
			}
		}
		io.WriteString(w, "done")
	})}, 1)
	fc := newFake()
	ticket, err := s.q.Enqueue(&queue.Request{Head: []byte("POST /jobs/slow HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"),
		Method: http1.MethodPost, ScriptName: "/jobs", RemoteAddr: "127.0.0.1", LocalAddr: "127.0.0.1:8080", Client: fc})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(timeout)
	for s.q.Stats().Leased != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the worker did not fetch the request")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ticket.Cancel() // the client left
	select {
	case err := <-ended:
		if err == nil {
			t.Fatal("the handler's context was not ended")
		}
	case <-time.After(timeout):
		t.Fatal("the handler did not end")
	}
	fc.quiet(t, 100*time.Millisecond)
	fc = s.enqueue(t, get("/jobs/fast"), nil, http1.MethodGet)
	if a := fc.answer(t); string(a.Body) != "done" {
		t.Fatalf("answer %q", a.Body)
	}
	if l := logs.String(); !strings.Contains(l, "404") {
		t.Errorf("the refused renewal is not logged:\n%s", l)
	}
}

// A closed queue answers polls at once: the worker backs off, no spin.
func TestClosedQueueBacksOff(t *testing.T) {
	s := newServer(t, queue.Config{}, "")
	s.api.Close()
	run(t, s, &Worker{Handler: http.NotFoundHandler()}, 1)
	time.Sleep(600 * time.Millisecond)
	if n := s.called("GET /api/v1/request?"); n > 8 {
		t.Fatalf("%d polls in 600 ms against a closed queue", n)
	}
}

func TestRequest(t *testing.T) {
	env := map[string]string{
		"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/a%2Fb/c", "QUERY_STRING": "q=%20",
		"SERVER_NAME": "example.com", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.0",
		"REMOTE_ADDR": "::1", "HTTP_X_FOO_BAR": "v", "HTTP_ACCEPT": "a, b", "rack.url_scheme": "http",
	}
	r, err := Request(context.Background(), env, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Host != "example.com:8080" || r.RemoteAddr != "[::1]:0" || r.ProtoMinor != 0 || r.Proto != "HTTP/1.0" {
		t.Errorf("Host %q RemoteAddr %q proto %q", r.Host, r.RemoteAddr, r.Proto)
	}
	if r.URL.Path != "/a/b/c" || r.URL.EscapedPath() != "/a%2Fb/c" || r.URL.Query().Get("q") != " " || r.RequestURI != "/a%2Fb/c?q=%20" {
		t.Errorf("URL %#v, RequestURI %q", r.URL, r.RequestURI)
	}
	if r.Header.Get("X-Foo-Bar") != "v" || r.Header.Get("Accept") != "a, b" || r.ContentLength != 0 || r.Body != http.NoBody {
		t.Errorf("Header %v ContentLength %d", r.Header, r.ContentLength)
	}
	env["REMOTE_ADDR"] = "10.0.0.1:5000"
	if r, _ := Request(context.Background(), env, strings.NewReader("xyz")); r.RemoteAddr != "10.0.0.1:5000" || r.ContentLength != -1 {
		t.Errorf("RemoteAddr %q ContentLength %d", r.RemoteAddr, r.ContentLength)
	}
	delete(env, "REQUEST_METHOD")
	if _, err := Request(context.Background(), env, nil); err == nil {
		t.Error("no error without REQUEST_METHOD")
	}
}

// examples/worker.py answers a request against the real worker API.
func TestPythonExample(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not on PATH")
	}
	script, err := filepath.Abs("../../examples/worker.py")
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, queue.Config{}, "")
	var stderr logBuffer
	cmd := exec.Command(py, script, s.srv.URL)
	cmd.Stderr = &stderr
	cmd.Env = append(os.Environ(), "EDGELOOP_WORKER_TOKEN=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // before the server's cleanup: its long poll goes first
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("worker.py stderr:\n%s", stderr.String())
		}
	})
	fc := s.enqueue(t, "DELETE /jobs/thing?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", nil, http1.MethodDelete)
	a := fc.answer(t)
	if a.Status != 200 || string(a.Body) != "hello from python: DELETE /jobs/thing" {
		t.Fatalf("answer %d %q", a.Status, a.Body)
	}
	if ct := header(a, "Content-Type"); len(ct) != 1 || ct[0] != "text/plain" {
		t.Errorf("Content-Type %q", ct)
	}
}

// A handler slower than the lease keeps its request: the worker renews
// the lease while it runs, so the request neither expires nor runs again.
func TestSlowHandlerKeepsLease(t *testing.T) {
	s := newServer(t, queue.Config{Lease: 200 * time.Millisecond}, "")
	var runs atomic.Int64
	w := &Worker{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		runs.Add(1)
		time.Sleep(700 * time.Millisecond)
		io.WriteString(rw, "late but held")
	})}
	run(t, s, w, 2)
	fc := s.enqueue(t, get("/jobs/slow"), nil, http1.MethodPost) // not idempotent: an expiry would be a 504
	a := fc.answer(t)
	if a.Status != 200 || string(a.Body) != "late but held" {
		t.Fatalf("answer %d %q", a.Status, a.Body)
	}
	if st := s.q.Stats(); st.Expired != 0 || runs.Load() != 1 {
		t.Fatalf("%d leases expired, handler ran %d times", st.Expired, runs.Load())
	}
	if n := s.called("POST /api/v1/request/"); n < 2 {
		t.Fatalf("%d lease renewals for a 700 ms handler under a 200 ms lease", n)
	}
}
