package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeloop/edgeloop/http1"
)

// patience bounds every wait for something that must happen: generous,
// since a loaded 2-core machine running -race can be slow.
const patience = 5 * time.Second

// errClientGone is what a fakeClient's Write returns once told to fail.
var errClientGone = errors.New("fake client: gone")

// fakeClient is a Client that records each call on a channel.
type fakeClient struct {
	answers chan *Answer
	fails   chan int
	writes  chan []byte
	ends    chan bool
	// lost counts calls whose channel was full (never expected).
	lost      atomic.Int32
	failWrite atomic.Bool
}

func newFake() *fakeClient {
	return &fakeClient{
		answers: make(chan *Answer, 16),
		fails:   make(chan int, 16),
		writes:  make(chan []byte, 1024),
		ends:    make(chan bool, 16),
	}
}

func put[T any](c *fakeClient, ch chan T, v T) {
	select {
	case ch <- v:
	default:
		c.lost.Add(1)
	}
}

func (c *fakeClient) Answer(a *Answer) { put(c, c.answers, a) }
func (c *fakeClient) Fail(status int)  { put(c, c.fails, status) }
func (c *fakeClient) End(ok bool)      { put(c, c.ends, ok) }
func (c *fakeClient) Write(p []byte) error {
	if c.failWrite.Load() {
		return errClientGone
	}
	put(c, c.writes, bytes.Clone(p))
	return nil
}

// written drains the writes recorded so far.
func (c *fakeClient) written() string {
	var b []byte
	for {
		select {
		case p := <-c.writes:
			b = append(b, p...)
		default:
			return string(b)
		}
	}
}

// quiet fails t if any call was recorded (and not yet taken).
func (c *fakeClient) quiet(t *testing.T, what string) {
	t.Helper()
	if n := len(c.answers); n > 0 {
		t.Errorf("%s: %d unexpected Answer calls", what, n)
	}
	if n := len(c.fails); n > 0 {
		t.Errorf("%s: unexpected Fail(%d)", what, <-c.fails)
	}
	if n := len(c.writes); n > 0 {
		t.Errorf("%s: %d unexpected Write calls", what, n)
	}
	if n := len(c.ends); n > 0 {
		t.Errorf("%s: unexpected End(%v)", what, <-c.ends)
	}
	if n := c.lost.Load(); n > 0 {
		t.Errorf("%s: %d calls overflowed the fake's channels", what, n)
	}
}

// recv takes the next value from ch, failing t after patience.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(patience):
		t.Fatalf("%s: nothing came within %v", what, patience)
		panic("unreachable")
	}
}

// eventually polls cond until it holds, failing t after patience.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, patience)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// newReq is a request with head h (parsed for its method) and body.
func newReq(t *testing.T, h string, body []byte, c Client) *Request {
	t.Helper()
	var p http1.Request
	if _, err := p.Parse([]byte(h)); err != nil {
		t.Fatalf("head %q: %v", h, err)
	}
	return &Request{
		Head: []byte(h), Body: body, Method: p.MethodKind,
		RemoteAddr: "192.0.2.7", LocalAddr: "127.0.0.1:8080", Client: c,
	}
}

// reqOf is a bodiless request of the given method for path.
func reqOf(t *testing.T, method, path string, c Client) *Request {
	t.Helper()
	return newReq(t, method+" "+path+" HTTP/1.1\r\nHost: example.com\r\n\r\n", nil, c)
}

func enqueue(t *testing.T, q *Queue, r *Request) *Ticket {
	t.Helper()
	tk, err := q.Enqueue(r)
	if err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	return tk
}

func mustFetch(t *testing.T, q *Queue, worker string) *Fetched {
	t.Helper()
	f := q.Fetch(context.Background(), 0, worker)
	if f == nil {
		t.Fatalf("Fetch by %s: nothing queued", worker)
	}
	return f
}

func workerRow(q *Queue, id string) (WorkerStats, bool) {
	for _, w := range q.Stats().Workers {
		if w.ID == id {
			return w, true
		}
	}
	return WorkerStats{}, false
}

func TestConfigDefaults(t *testing.T) {
	want := Config{Pool: "p", Len: DefaultLen, Timeout: DefaultTimeout, Lease: DefaultLease,
		InlineBody: DefaultInlineBody, MaxBody: DefaultMaxBody, BodyBudget: DefaultBodyBudget}
	if got := New(Config{Pool: "p"}).Config(); got != want {
		t.Errorf("zero config: got %+v, want %+v", got, want)
	}
	neg := Config{Pool: "p", Len: -1, Timeout: -1, Lease: -1, InlineBody: -1, MaxBody: -1, BodyBudget: -1}
	if got := New(neg).Config(); got != want {
		t.Errorf("negative config: got %+v, want %+v", got, want)
	}
	set := Config{Pool: "p", Len: 3, Timeout: time.Second, Lease: 2 * time.Second, InlineBody: 4, MaxBody: 5, BodyBudget: 6}
	if got := New(set).Config(); got != set {
		t.Errorf("set config: got %+v, want it kept", got)
	}
	if got := New(set).Stats().Pool; got != "p" {
		t.Errorf("Stats().Pool = %q", got)
	}
}

func TestFIFO(t *testing.T) {
	q := New(Config{})
	var ids []string
	for i := range 3 {
		ids = append(ids, enqueue(t, q, reqOf(t, "GET", fmt.Sprintf("/%d", i), newFake())).ID())
	}
	if s := q.Stats(); s.Queued != 3 || s.Enqueued != 3 || s.Leased != 0 {
		t.Fatalf("after 3 enqueues: %+v", s)
	}
	for i, id := range ids {
		f := mustFetch(t, q, "w")
		if f.ID != id {
			t.Fatalf("fetch %d: got %s, want %s", i, f.ID, id)
		}
		if want := fmt.Sprintf("/%d", i); !bytes.Contains(f.Req.Head, []byte(want+" ")) {
			t.Errorf("fetch %d: head %q, want path %s", i, f.Req.Head, want)
		}
		if !q.Holds(f.ID) {
			t.Errorf("fetch %d: Holds false for a leased id", i)
		}
	}
	start := time.Now()
	if f := q.Fetch(context.Background(), 0, "w"); f != nil {
		t.Fatalf("Fetch on empty queue: got %s", f.ID)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Fetch with wait 0 on an empty queue took %v", d)
	}
	if s := q.Stats(); s.Queued != 0 || s.Leased != 3 {
		t.Errorf("after 3 fetches: Queued %d Leased %d", s.Queued, s.Leased)
	}
	if len(ids[0]) != 32 || ids[0] == ids[1] {
		t.Errorf("ids %q: want distinct 32-hex-digit ids", ids)
	}
}

func TestLenFull(t *testing.T) {
	q := New(Config{Len: 2})
	enqueue(t, q, reqOf(t, "GET", "/1", newFake()))
	enqueue(t, q, reqOf(t, "GET", "/2", newFake()))
	c := newFake()
	if tk, err := q.Enqueue(reqOf(t, "GET", "/3", c)); !errors.Is(err, ErrFull) || tk != nil {
		t.Fatalf("3rd Enqueue with Len 2: %v, %v; want nil, ErrFull", tk, err)
	}
	if _, err := q.Enqueue(reqOf(t, "GET", "/4", c)); !errors.Is(err, ErrFull) {
		t.Fatalf("4th Enqueue: %v, want ErrFull", err)
	}
	s := q.Stats()
	if s.Full != 2 || s.Enqueued != 2 || s.Queued != 2 {
		t.Errorf("Full %d Enqueued %d Queued %d; want 2 2 2", s.Full, s.Enqueued, s.Queued)
	}
	c.quiet(t, "refused request")
	// A fetch makes room.
	mustFetch(t, q, "w")
	enqueue(t, q, reqOf(t, "GET", "/5", newFake()))
}

// A request handed straight to a long-polling worker does not count
// against Len.
func TestLenHandOverBypassesQueue(t *testing.T) {
	q := New(Config{Len: 1})
	got := make(chan *Fetched, 1)
	go func() { got <- q.Fetch(context.Background(), patience, "w") }()
	eventually(t, "worker waiting", func() bool { return q.Stats().Waiting == 1 })
	a := enqueue(t, q, reqOf(t, "GET", "/a", newFake()))
	enqueue(t, q, reqOf(t, "GET", "/b", newFake())) // queued: 1 of 1
	if _, err := q.Enqueue(reqOf(t, "GET", "/c", newFake())); !errors.Is(err, ErrFull) {
		t.Fatalf("third Enqueue: %v, want ErrFull", err)
	}
	if f := recv(t, got, "long poll"); f == nil || f.ID != a.ID() {
		t.Fatalf("long poll got %v, want %s", f, a.ID())
	}
}

// Enqueue's full check lets a request through when a worker waits. Since
// a worker only waits on an empty queue, that branch is only reachable
// with a Len of 0, set here behind WithDefaults' back.
func TestEnqueueFullButWorkerWaits(t *testing.T) {
	q := New(Config{})
	q.cfg.Len = 0
	if _, err := q.Enqueue(reqOf(t, "GET", "/x", newFake())); !errors.Is(err, ErrFull) {
		t.Fatalf("Enqueue with no room and no worker: %v, want ErrFull", err)
	}
	got := make(chan *Fetched, 1)
	go func() { got <- q.Fetch(context.Background(), patience, "w") }()
	eventually(t, "worker waiting", func() bool { return q.Stats().Waiting == 1 })
	tk := enqueue(t, q, reqOf(t, "GET", "/y", newFake()))
	if f := recv(t, got, "long poll"); f == nil || f.ID != tk.ID() {
		t.Fatalf("long poll got %v, want %s", f, tk.ID())
	}
	if s := q.Stats(); s.Full != 1 || s.Enqueued != 1 {
		t.Errorf("Full %d Enqueued %d, want 1 1", s.Full, s.Enqueued)
	}
}

func TestQueueTimeout(t *testing.T) {
	q := New(Config{Timeout: 30 * time.Millisecond})
	c := newFake()
	q.Reserve(10)
	r := reqOf(t, "GET", "/", c)
	r.Reserved = 10
	tk := enqueue(t, q, r)
	if st := recv(t, c.fails, "Fail after queue timeout"); st != 504 {
		t.Errorf("Fail(%d), want 504", st)
	}
	s := q.Stats()
	if s.TimedOut != 1 || s.Queued != 0 || s.Leased != 0 || s.Enqueued != 1 || s.BodyBytes != 0 {
		t.Errorf("after timeout: %+v", s)
	}
	if f := q.Fetch(context.Background(), 0, "w"); f != nil {
		t.Errorf("timed-out request still fetched: %s", f.ID)
	}
	tk.Cancel() // after the end: no effect
	if s := q.Stats(); s.Cancelled != 0 {
		t.Errorf("Cancel after timeout counted: %d", s.Cancelled)
	}
	time.Sleep(50 * time.Millisecond)
	c.quiet(t, "timed-out request")
}

func TestLeaseExpiryIdempotentRequeuedOnceAtHead(t *testing.T) {
	q := New(Config{Lease: 30 * time.Millisecond, Timeout: patience})
	ca, cb := newFake(), newFake()
	a := enqueue(t, q, reqOf(t, "GET", "/a", ca))
	if f := mustFetch(t, q, "w1"); f.ID != a.ID() {
		t.Fatalf("fetched %s, want a", f.ID)
	}
	b := enqueue(t, q, reqOf(t, "GET", "/b", cb))
	eventually(t, "lease expiry", func() bool { return q.Stats().Requeued == 1 })
	s := q.Stats()
	if s.Expired != 1 || s.Queued != 2 || s.Leased != 0 {
		t.Errorf("after first expiry: Expired %d Queued %d Leased %d; want 1 2 0", s.Expired, s.Queued, s.Leased)
	}
	if w, _ := workerRow(q, "w1"); w.Expired != 1 || w.Fetched != 1 {
		t.Errorf("w1: %+v, want Fetched 1 Expired 1", w)
	}
	ca.quiet(t, "requeued request")
	if err := q.Respond(a.ID(), &Answer{Status: 200}); !errors.Is(err, ErrUnknown) {
		t.Errorf("Respond by the worker whose lease ran out: %v, want ErrUnknown", err)
	}
	// a went back to the head, before b.
	if f := mustFetch(t, q, "w2"); f.ID != a.ID() {
		t.Fatalf("after requeue fetched %s, want a at the head", f.ID)
	}
	if f := mustFetch(t, q, "w3"); f.ID != b.ID() {
		t.Fatalf("then fetched %s, want b", f.ID)
	}
	if err := q.Respond(b.ID(), &Answer{Status: 200}); err != nil {
		t.Fatal(err)
	}
	// The second expiry of a fails it.
	if st := recv(t, ca.fails, "Fail after second expiry"); st != 504 {
		t.Errorf("Fail(%d), want 504", st)
	}
	s = q.Stats()
	if s.Expired != 2 || s.Requeued != 1 || s.Queued != 0 || s.Leased != 0 || s.Answered != 1 {
		t.Errorf("after second expiry: %+v", s)
	}
	if w, _ := workerRow(q, "w2"); w.Expired != 1 || w.Fetched != 1 {
		t.Errorf("w2: %+v, want Fetched 1 Expired 1", w)
	}
	if len(cb.answers) != 1 {
		t.Errorf("b: %d answers, want 1", len(cb.answers))
	}
	ca.quiet(t, "a after its Fail")
}

func TestLeaseExpiryNonIdempotentFails(t *testing.T) {
	q := New(Config{Lease: 30 * time.Millisecond, Timeout: patience})
	c := newFake()
	q.Reserve(5)
	r := newReq(t, "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n", []byte("hello"), c)
	r.Reserved = 5
	tk := enqueue(t, q, r)
	mustFetch(t, q, "w1")
	if st := recv(t, c.fails, "Fail after POST lease expiry"); st != 504 {
		t.Errorf("Fail(%d), want 504", st)
	}
	s := q.Stats()
	if s.Expired != 1 || s.Requeued != 0 || s.Queued != 0 || s.Leased != 0 || s.BodyBytes != 0 {
		t.Errorf("after expiry: %+v", s)
	}
	if w, _ := workerRow(q, "w1"); w.Expired != 1 {
		t.Errorf("w1: %+v, want Expired 1", w)
	}
	if err := q.Respond(tk.ID(), &Answer{Status: 200}); !errors.Is(err, ErrUnknown) {
		t.Errorf("Respond after expiry: %v, want ErrUnknown", err)
	}
	if _, err := q.Body(tk.ID()); !errors.Is(err, ErrUnknown) {
		t.Errorf("Body after expiry: %v, want ErrUnknown", err)
	}
	c.quiet(t, "expired POST")
}

// After Close an expired idempotent lease fails rather than going back to
// a queue no worker fetches from any more.
func TestLeaseExpiryAfterCloseFails(t *testing.T) {
	q := New(Config{Lease: 30 * time.Millisecond, Timeout: patience})
	c := newFake()
	enqueue(t, q, reqOf(t, "GET", "/", c))
	mustFetch(t, q, "w")
	q.Close()
	if st := recv(t, c.fails, "Fail after expiry on a closed queue"); st != 504 {
		t.Errorf("Fail(%d), want 504", st)
	}
	if s := q.Stats(); s.Requeued != 0 || s.Expired != 1 {
		t.Errorf("Requeued %d Expired %d, want 0 1", s.Requeued, s.Expired)
	}
}

func TestRespond(t *testing.T) {
	q := New(Config{})
	c := newFake()
	tk := enqueue(t, q, reqOf(t, "GET", "/", c))
	f := mustFetch(t, q, "w1")
	if f.ID != tk.ID() {
		t.Fatalf("Ticket.ID %s, Fetched.ID %s", tk.ID(), f.ID)
	}
	a := &Answer{Status: 201, Header: [][2]string{{"X-A", "1"}}, ContentLength: -1, Body: []byte("made")}
	if err := q.Respond(f.ID, a); err != nil {
		t.Fatalf("Respond: %v", err)
	}
	// Answer was called before Respond returned.
	if len(c.answers) != 1 {
		t.Fatalf("%d answers right after Respond, want 1", len(c.answers))
	}
	if got := <-c.answers; got != a {
		t.Errorf("Answer got %+v, want the answer given", got)
	}
	if err := q.Respond(f.ID, a); !errors.Is(err, ErrUnknown) {
		t.Errorf("second Respond: %v, want ErrUnknown", err)
	}
	if err := q.Respond("nope", a); !errors.Is(err, ErrUnknown) {
		t.Errorf("Respond to an unknown id: %v, want ErrUnknown", err)
	}
	if q.Holds(f.ID) {
		t.Error("Holds true after the answer")
	}
	s := q.Stats()
	if s.Answered != 1 || s.Leased != 0 || s.Queued != 0 {
		t.Errorf("after answer: %+v", s)
	}
	// Per worker: the worker id given to Fetch.
	enqueue(t, q, reqOf(t, "GET", "/", newFake()))
	enqueue(t, q, reqOf(t, "GET", "/", newFake()))
	f2, f3 := mustFetch(t, q, "w2"), mustFetch(t, q, "w1")
	for _, f := range []*Fetched{f2, f3} {
		if err := q.Respond(f.ID, &Answer{Status: 200}); err != nil {
			t.Fatal(err)
		}
	}
	w1, _ := workerRow(q, "w1")
	w2, _ := workerRow(q, "w2")
	if w1.Answered != 2 || w1.Fetched != 2 || w2.Answered != 1 || w2.Fetched != 1 {
		t.Errorf("workers: w1 %+v, w2 %+v", w1, w2)
	}
	if w1.LastSeen.IsZero() {
		t.Error("w1 LastSeen not set")
	}
	if s := q.Stats(); s.Answered != 3 {
		t.Errorf("Answered %d, want 3", s.Answered)
	}
	time.Sleep(10 * time.Millisecond)
	c.quiet(t, "answered request")
}

func TestCancelQueued(t *testing.T) {
	q := New(Config{Timeout: 40 * time.Millisecond})
	ca := newFake()
	a := enqueue(t, q, reqOf(t, "GET", "/a", ca))
	b := enqueue(t, q, reqOf(t, "GET", "/b", newFake()))
	a.Cancel()
	if f := mustFetch(t, q, "w"); f.ID != b.ID() {
		t.Fatalf("after cancelling a, fetched %s, want b", f.ID)
	}
	a.Cancel() // harmless
	s := q.Stats()
	if s.Cancelled != 1 || s.Queued != 0 || s.Leased != 1 {
		t.Errorf("after cancel: %+v", s)
	}
	// a's queue timer must not fire into the client.
	time.Sleep(150 * time.Millisecond)
	ca.quiet(t, "cancelled queued request")
	if s := q.Stats(); s.TimedOut != 0 {
		t.Errorf("TimedOut %d after cancel, want 0", s.TimedOut)
	}
}

func TestCancelLeased(t *testing.T) {
	q := New(Config{Lease: 40 * time.Millisecond})
	c := newFake()
	tk := enqueue(t, q, reqOf(t, "POST", "/", c))
	f := mustFetch(t, q, "w")
	tk.Cancel()
	tk.Cancel()
	if err := q.Respond(f.ID, &Answer{Status: 200}); !errors.Is(err, ErrUnknown) {
		t.Errorf("Respond after Cancel: %v, want ErrUnknown", err)
	}
	if q.Holds(f.ID) {
		t.Error("Holds true after Cancel")
	}
	if _, err := q.Body(f.ID); !errors.Is(err, ErrUnknown) {
		t.Errorf("Body after Cancel: %v, want ErrUnknown", err)
	}
	s := q.Stats()
	if s.Cancelled != 1 || s.Leased != 0 || s.Answered != 0 {
		t.Errorf("after cancel: %+v", s)
	}
	time.Sleep(150 * time.Millisecond) // past the lease: no Fail
	c.quiet(t, "cancelled leased request")
	if s := q.Stats(); s.Expired != 0 {
		t.Errorf("Expired %d after cancel, want 0", s.Expired)
	}
}

func TestReserveReleasedWhenRequestEnds(t *testing.T) {
	q := New(Config{BodyBudget: 1000, Timeout: 30 * time.Millisecond})
	mk := func(c Client) *Request {
		if !q.Reserve(100) {
			t.Fatal("Reserve(100) refused")
		}
		r := reqOf(t, "GET", "/", c)
		r.Reserved = 100
		return r
	}
	body := func() int64 { return q.Stats().BodyBytes }

	// Cancelled while queued.
	tk := enqueue(t, q, mk(newFake()))
	if body() != 100 {
		t.Fatalf("BodyBytes %d after Reserve+Enqueue, want 100", body())
	}
	tk.Cancel()
	tk.Cancel()
	if body() != 0 {
		t.Errorf("BodyBytes %d after Cancel (twice), want 0", body())
	}

	// Cancelled while leased.
	tk = enqueue(t, q, mk(newFake()))
	mustFetch(t, q, "w")
	tk.Cancel()
	if body() != 0 {
		t.Errorf("BodyBytes %d after Cancel of a leased request, want 0", body())
	}

	// Answered.
	enqueue(t, q, mk(newFake()))
	f := mustFetch(t, q, "w")
	if body() != 100 {
		t.Errorf("BodyBytes %d while leased, want 100", body())
	}
	if err := q.Respond(f.ID, &Answer{Status: 200}); err != nil {
		t.Fatal(err)
	}
	if body() != 0 {
		t.Errorf("BodyBytes %d after Respond, want 0", body())
	}

	// Timed out.
	c := newFake()
	enqueue(t, q, mk(c))
	recv(t, c.fails, "queue timeout")
	if body() != 0 {
		t.Errorf("BodyBytes %d after timeout, want 0", body())
	}

	// Rejected.
	enqueue(t, q, mk(newFake()))
	f = mustFetch(t, q, "w")
	q.Reject(f.ID, 500)
	if body() != 0 {
		t.Errorf("BodyBytes %d after Reject, want 0", body())
	}

	// Streamed.
	enqueue(t, q, mk(newFake()))
	f = mustFetch(t, q, "w")
	if err := q.Respond(f.ID, &Answer{Status: 200, Stream: true}); err != nil {
		t.Fatal(err)
	}
	if body() != 100 {
		t.Errorf("BodyBytes %d while streaming, want 100", body())
	}
	if _, err := q.Stream(f.ID, eofReader("x")); err != nil {
		t.Fatal(err)
	}
	if body() != 0 {
		t.Errorf("BodyBytes %d after Stream, want 0", body())
	}
}

func TestReserve(t *testing.T) {
	q := New(Config{BodyBudget: 100})
	if !q.Reserve(60) {
		t.Fatal("Reserve(60) of 100 refused")
	}
	if q.Reserve(50) {
		t.Fatal("Reserve(50) over budget granted")
	}
	if got := q.Stats().BodyBytes; got != 60 {
		t.Errorf("BodyBytes %d after a refused Reserve, want 60", got)
	}
	if !q.Reserve(40) {
		t.Fatal("Reserve(40), exactly to the budget, refused")
	}
	if q.Reserve(1) {
		t.Fatal("Reserve(1) over a full budget granted")
	}
	q.Release(100)
	if got := q.Stats().BodyBytes; got != 0 {
		t.Errorf("BodyBytes %d after Release, want 0", got)
	}
	if !q.Reserve(100) {
		t.Error("Reserve(100) after Release refused")
	}
}

func TestLongPoll(t *testing.T) {
	t.Run("arrives", func(t *testing.T) {
		t.Parallel()
		q := New(Config{})
		got := make(chan *Fetched, 1)
		go func() { got <- q.Fetch(context.Background(), patience, "w") }()
		time.Sleep(50 * time.Millisecond)
		tk := enqueue(t, q, reqOf(t, "GET", "/", newFake()))
		f := recv(t, got, "long poll")
		if f == nil || f.ID != tk.ID() {
			t.Fatalf("long poll got %v, want %s", f, tk.ID())
		}
		if s := q.Stats(); s.Leased != 1 || s.Queued != 0 || s.Waiting != 0 {
			t.Errorf("after hand-over: %+v", s)
		}
	})
	t.Run("times out", func(t *testing.T) {
		t.Parallel()
		q := New(Config{})
		start := time.Now()
		if f := q.Fetch(context.Background(), 100*time.Millisecond, "w"); f != nil {
			t.Fatalf("got %s from an empty queue", f.ID)
		}
		if d := time.Since(start); d < 100*time.Millisecond || d > patience {
			t.Errorf("wait 100ms returned after %v", d)
		}
		if s := q.Stats(); s.Waiting != 0 {
			t.Errorf("Waiting %d after the poll ended", s.Waiting)
		}
	})
	t.Run("context", func(t *testing.T) {
		t.Parallel()
		q := New(Config{})
		ctx, cancel := context.WithCancel(context.Background())
		got := make(chan *Fetched, 1)
		go func() { got <- q.Fetch(ctx, time.Minute, "w") }()
		eventually(t, "Waiting 1", func() bool { return q.Stats().Waiting == 1 })
		cancel()
		if f := recv(t, got, "cancelled long poll"); f != nil {
			t.Fatalf("cancelled poll got %s", f.ID)
		}
		if s := q.Stats(); s.Waiting != 0 {
			t.Errorf("Waiting %d after cancel", s.Waiting)
		}
		// The departed worker takes nothing.
		tk := enqueue(t, q, reqOf(t, "GET", "/", newFake()))
		if s := q.Stats(); s.Queued != 1 {
			t.Fatalf("Queued %d, want the request queued", s.Queued)
		}
		if f := mustFetch(t, q, "w2"); f.ID != tk.ID() {
			t.Errorf("got %s", f.ID)
		}
	})
	t.Run("close", func(t *testing.T) {
		t.Parallel()
		q := New(Config{})
		got := make(chan *Fetched, 2)
		for i := range 2 {
			go func() { got <- q.Fetch(context.Background(), time.Minute, fmt.Sprint("w", i)) }()
		}
		eventually(t, "Waiting 2", func() bool { return q.Stats().Waiting == 2 })
		q.Close()
		for range 2 {
			if f := recv(t, got, "poll woken by Close"); f != nil {
				t.Errorf("Close: poll got %s", f.ID)
			}
		}
		if s := q.Stats(); s.Waiting != 0 {
			t.Errorf("Waiting %d after Close", s.Waiting)
		}
		if _, err := q.Enqueue(reqOf(t, "GET", "/", newFake())); !errors.Is(err, ErrClosed) {
			t.Errorf("Enqueue after Close: %v, want ErrClosed", err)
		}
		start := time.Now()
		if f := q.Fetch(context.Background(), time.Minute, "w"); f != nil {
			t.Errorf("Fetch after Close got %s", f.ID)
		}
		if d := time.Since(start); d > patience {
			t.Errorf("Fetch after Close waited %v", d)
		}
		if !q.Closed() {
			t.Error("Closed() false after Close")
		}
		q.Close() // twice: harmless
	})
}

// Close leaves what is queued to its timer (Queue.Close doc).
func TestCloseLeavesQueuedToTimer(t *testing.T) {
	q := New(Config{Timeout: 40 * time.Millisecond})
	c := newFake()
	enqueue(t, q, reqOf(t, "GET", "/", c))
	q.Close()
	if f := q.Fetch(context.Background(), 0, "w"); f != nil {
		t.Errorf("Fetch on a closed queue got %s", f.ID)
	}
	if st := recv(t, c.fails, "queue timeout after Close"); st != 504 {
		t.Errorf("Fail(%d), want 504", st)
	}
}

// hookCtx runs hook the first time Fetch asks for Done, which Fetch does
// once it has registered as a waiter and let go of the mutex.
type hookCtx struct {
	done chan struct{}
	once sync.Once
	hook func()
}

func (c *hookCtx) Done() <-chan struct{} { c.once.Do(c.hook); return c.done }
func (c *hookCtx) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}

// A request handed to a long-polling worker whose context ended at the
// same moment goes back to the head of the queue: the worker is gone and
// never saw it. Both ways out of Fetch's wait are taken here (its select
// picks at random between the hand-over and ctx.Done when both are
// ready); neither may return the request to the departed worker, which
// would hold it until its lease ran out and then, the request not being
// idempotent, fail it with 504 though no worker ever saw it.
func TestFetchHandOverToDepartedWorkerGivenBack(t *testing.T) {
	const tries = 64
	leaked := 0
	for range tries {
		q := New(Config{})
		var tk *Ticket
		ctx := &hookCtx{done: make(chan struct{})}
		ctx.hook = func() {
			close(ctx.done)                                      // the worker leaves ...
			tk = enqueue(t, q, reqOf(t, "POST", "/", newFake())) // ... as a request arrives
		}
		f := q.Fetch(ctx, time.Minute, "gone")
		if tk == nil {
			t.Fatal("Fetch did not look at its context while waiting")
		}
		s := q.Stats()
		if f != nil {
			leaked++
			continue
		}
		// Given back: at the head, as if never fetched.
		if s.Queued != 1 || s.Leased != 0 {
			t.Fatalf("given back: Queued %d Leased %d, want 1 0", s.Queued, s.Leased)
		}
		if w, _ := workerRow(q, "gone"); w.Fetched != 0 {
			t.Errorf("departed worker's Fetched %d, want 0", w.Fetched)
		}
		if g := mustFetch(t, q, "w2"); g.ID != tk.ID() {
			t.Fatalf("next Fetch got %s, want the given-back request", g.ID)
		}
	}
	if leaked > 0 {
		t.Errorf("Fetch returned the request to a worker whose context was done in %d of %d tries; "+
			"it must give it back (giveBack) whichever way its wait ends", leaked, tries)
	}
}

func TestGiveBack(t *testing.T) {
	q := New(Config{})
	a := enqueue(t, q, reqOf(t, "GET", "/a", newFake()))
	b := enqueue(t, q, reqOf(t, "GET", "/b", newFake()))
	f := mustFetch(t, q, "w1")
	q.GiveBack(f)
	if w, _ := workerRow(q, "w1"); w.Fetched != 0 {
		t.Errorf("w1 Fetched %d after GiveBack, want 0", w.Fetched)
	}
	if s := q.Stats(); s.Queued != 2 || s.Leased != 0 {
		t.Errorf("after GiveBack: Queued %d Leased %d", s.Queued, s.Leased)
	}
	if q.Holds(f.ID) {
		t.Error("Holds true after GiveBack")
	}
	if err := q.Respond(f.ID, &Answer{Status: 200}); !errors.Is(err, ErrUnknown) {
		t.Errorf("Respond after GiveBack: %v, want ErrUnknown", err)
	}
	ga := mustFetch(t, q, "w2")
	if ga.ID != a.ID() {
		t.Errorf("after GiveBack fetched %s, want a (head)", ga.ID)
	}
	// A stale GiveBack (w1's lease, over) does not take a from w2.
	q.GiveBack(f)
	if !q.Holds(a.ID()) || q.Stats().Queued != 1 {
		t.Error("a stale GiveBack took the request from its new worker")
	}
	if g := mustFetch(t, q, "w2"); g.ID != b.ID() {
		t.Errorf("then fetched %s, want b", g.ID)
	}

	// Given back while a worker waits: handed to it at once.
	got := make(chan *Fetched, 1)
	go func() { got <- q.Fetch(context.Background(), patience, "w3") }()
	eventually(t, "worker waiting", func() bool { return q.Stats().Waiting == 1 })
	q.GiveBack(ga)
	if g := recv(t, got, "w3's poll"); g == nil || g.ID != a.ID() {
		t.Fatalf("w3 got %v, want a", g)
	}

	// A streaming request is not given back: its head went out.
	id := streaming(t, q, newFake())
	q.mu.Lock()
	it := q.leased[id]
	q.mu.Unlock()
	q.GiveBack(&Fetched{ID: id, it: it, lease: it.leases})
	if !q.Holds(id) {
		t.Error("GiveBack took a streaming request")
	}
	q.giveBack(&item{state: stDone}, 0) // ended: nothing
}

// eofReader is a Stream next func that yields pieces then io.EOF.
func eofReader(pieces ...string) func([]byte) (int, error) {
	return func(p []byte) (int, error) {
		if len(pieces) == 0 {
			return 0, io.EOF
		}
		n := copy(p, pieces[0])
		pieces[0] = pieces[0][n:]
		if pieces[0] == "" {
			pieces = pieces[1:]
		}
		return n, nil
	}
}

func streaming(t *testing.T, q *Queue, c *fakeClient) string {
	t.Helper()
	enqueue(t, q, reqOf(t, "GET", "/", c))
	f := mustFetch(t, q, "w")
	if err := q.Respond(f.ID, &Answer{Status: 200, Stream: true}); err != nil {
		t.Fatalf("Respond stream head: %v", err)
	}
	if a := recv(t, c.answers, "stream head"); !a.Stream || a.Status != 200 {
		t.Fatalf("Answer %+v, want the stream head", a)
	}
	return f.ID
}

func TestStream(t *testing.T) {
	t.Run("relays", func(t *testing.T) {
		q := New(Config{})
		c := newFake()
		id := streaming(t, q, c)
		if s := q.Stats(); s.Leased != 1 || s.Answered != 0 {
			t.Errorf("while streaming: Leased %d Answered %d, want 1 0", s.Leased, s.Answered)
		}
		if err := q.Respond(id, &Answer{Status: 200}); !errors.Is(err, ErrState) {
			t.Errorf("Respond on a streaming id: %v, want ErrState", err)
		}
		big := string(bytes.Repeat([]byte("z"), 100<<10)) // over the 32 KiB buffer
		n, err := q.Stream(id, eofReader("hello ", "", "world ", big))
		if err != nil || n != int64(12+len(big)) {
			t.Fatalf("Stream: %d, %v; want %d, nil", n, err, 12+len(big))
		}
		if got := c.written(); got != "hello world "+big {
			t.Errorf("written %d bytes, want %d (%.20q...)", len(got), 12+len(big), got)
		}
		if ok := recv(t, c.ends, "End"); !ok {
			t.Error("End(false) after a whole body")
		}
		s := q.Stats()
		if s.Answered != 1 || s.Leased != 0 {
			t.Errorf("after stream: Answered %d Leased %d", s.Answered, s.Leased)
		}
		if w, _ := workerRow(q, "w"); w.Answered != 1 {
			t.Errorf("worker Answered %d, want 1", w.Answered)
		}
		if _, err := q.Stream(id, eofReader()); !errors.Is(err, ErrUnknown) {
			t.Errorf("Stream again: %v, want ErrUnknown", err)
		}
		c.quiet(t, "after stream")
	})
	t.Run("EOF with data", func(t *testing.T) {
		q := New(Config{})
		c := newFake()
		id := streaming(t, q, c)
		n, err := q.Stream(id, func(p []byte) (int, error) { return copy(p, "last"), io.EOF })
		if n != 4 || err != nil || c.written() != "last" || !recv(t, c.ends, "End") {
			t.Errorf("Stream with data and EOF together: %d, %v", n, err)
		}
	})
	t.Run("next fails", func(t *testing.T) {
		q := New(Config{})
		c := newFake()
		id := streaming(t, q, c)
		boom := errors.New("worker hung up")
		calls := 0
		n, err := q.Stream(id, func(p []byte) (int, error) {
			calls++
			if calls == 1 {
				return copy(p, "part"), nil
			}
			return 0, boom
		})
		if !errors.Is(err, boom) || n != 4 {
			t.Errorf("Stream: %d, %v; want 4, next's error", n, err)
		}
		if c.written() != "part" {
			t.Error("the part before the error was not written")
		}
		if ok := recv(t, c.ends, "End"); ok {
			t.Error("End(true) after a cut body")
		}
		s := q.Stats()
		if s.Answered != 0 || s.Leased != 0 {
			t.Errorf("after a cut stream: Answered %d Leased %d; want 0 0", s.Answered, s.Leased)
		}
		c.quiet(t, "after cut stream")
	})
	t.Run("client gone", func(t *testing.T) {
		q := New(Config{})
		c := newFake()
		id := streaming(t, q, c)
		c.failWrite.Store(true)
		reads := 0
		_, err := q.Stream(id, func(p []byte) (int, error) { reads++; return copy(p, "x"), nil })
		if !errors.Is(err, ErrUnknown) {
			t.Errorf("Stream to a gone client: %v, want ErrUnknown", err)
		}
		if reads != 1 {
			t.Errorf("next called %d times after the client left, want 1", reads)
		}
		if ok := recv(t, c.ends, "End"); ok {
			t.Error("End(true) to a gone client")
		}
		if s := q.Stats(); s.Leased != 0 || s.Answered != 0 {
			t.Errorf("after gone client: %+v", s)
		}
	})
	t.Run("not streaming", func(t *testing.T) {
		q := New(Config{})
		c := newFake()
		enqueue(t, q, reqOf(t, "GET", "/", c))
		f := mustFetch(t, q, "w")
		if _, err := q.Stream(f.ID, eofReader("x")); !errors.Is(err, ErrState) {
			t.Errorf("Stream on a leased id: %v, want ErrState", err)
		}
		if _, err := q.Stream("unknown", eofReader("x")); !errors.Is(err, ErrUnknown) {
			t.Errorf("Stream on an unknown id: %v, want ErrUnknown", err)
		}
		c.quiet(t, "after refused Stream")
		// Still leased: it can be answered.
		if err := q.Respond(f.ID, &Answer{Status: 200}); err != nil {
			t.Errorf("Respond after a refused Stream: %v", err)
		}
	})
	t.Run("one stream at a time", func(t *testing.T) {
		q := New(Config{})
		c := newFake()
		id := streaming(t, q, c)
		release := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			first := true
			_, err := q.Stream(id, func(p []byte) (int, error) {
				if first {
					first = false
					return copy(p, "a"), nil
				}
				<-release
				return 0, io.EOF
			})
			done <- err
		}()
		recv(t, c.writes, "first piece")
		if _, err := q.Stream(id, eofReader("b")); !errors.Is(err, ErrState) {
			t.Errorf("second Stream while one runs: %v, want ErrState", err)
		}
		close(release)
		if err := recv(t, done, "first Stream"); err != nil {
			t.Errorf("first Stream: %v", err)
		}
		if !recv(t, c.ends, "End") {
			t.Error("End(false)")
		}
	})
	t.Run("never starts", func(t *testing.T) {
		q := New(Config{Lease: 30 * time.Millisecond})
		c := newFake()
		id := streaming(t, q, c)
		if ok := recv(t, c.ends, "End after the lease"); ok {
			t.Error("End(true) for a body that never came")
		}
		s := q.Stats()
		if s.Expired != 1 || s.Leased != 0 || s.Requeued != 0 {
			t.Errorf("after: %+v", s)
		}
		if w, _ := workerRow(q, "w"); w.Expired != 1 {
			t.Errorf("worker Expired %d", w.Expired)
		}
		if _, err := q.Stream(id, eofReader("late")); !errors.Is(err, ErrUnknown) {
			t.Errorf("late Stream: %v, want ErrUnknown", err)
		}
		c.quiet(t, "after expired stream")
	})
	t.Run("active stream outlives lease", func(t *testing.T) {
		q := New(Config{Lease: 20 * time.Millisecond})
		c := newFake()
		id := streaming(t, q, c)
		n := 0
		_, err := q.Stream(id, func(p []byte) (int, error) {
			if n++; n > 4 {
				return 0, io.EOF
			}
			time.Sleep(25 * time.Millisecond)
			return copy(p, "s"), nil
		})
		if err != nil {
			t.Fatalf("slow stream: %v", err)
		}
		if c.written() != "ssss" || !recv(t, c.ends, "End") {
			t.Error("slow stream cut")
		}
		if s := q.Stats(); s.Expired != 0 || s.Answered != 1 {
			t.Errorf("slow stream: Expired %d Answered %d; want 0 1", s.Expired, s.Answered)
		}
	})
	t.Run("cancelled mid-stream", func(t *testing.T) {
		q := New(Config{})
		c := newFake()
		tkID := streaming(t, q, c)
		var tk *Ticket
		q.mu.Lock()
		tk = &Ticket{it: q.leased[tkID]}
		q.mu.Unlock()
		first := true
		n, err := q.Stream(tkID, func(p []byte) (int, error) {
			if first {
				first = false
				tk.Cancel()
				return copy(p, "x"), nil
			}
			return 0, io.EOF
		})
		if !errors.Is(err, ErrUnknown) {
			t.Errorf("Stream of a cancelled request: %d, %v; want ErrUnknown", n, err)
		}
		c.written()
		time.Sleep(10 * time.Millisecond)
		c.quiet(t, "no End after Cancel")
		if s := q.Stats(); s.Cancelled != 1 || s.Leased != 0 || s.Answered != 0 {
			t.Errorf("after: %+v", s)
		}
	})
}

func TestReject(t *testing.T) {
	q := New(Config{})
	c := newFake()
	enqueue(t, q, reqOf(t, "GET", "/", c))
	f := mustFetch(t, q, "w")
	q.Reject(f.ID, 502)
	if st := recv(t, c.fails, "Reject"); st != 502 {
		t.Errorf("Fail(%d), want 502", st)
	}
	q.Reject(f.ID, 502)
	q.Reject("unknown", 500)
	if err := q.Respond(f.ID, &Answer{Status: 200}); !errors.Is(err, ErrUnknown) {
		t.Errorf("Respond after Reject: %v", err)
	}
	c.quiet(t, "after Reject")
	// A streaming request is not rejected: its head went out.
	c2 := newFake()
	id := streaming(t, q, c2)
	q.Reject(id, 500)
	c2.quiet(t, "Reject of a streaming request")
	if !q.Holds(id) {
		t.Error("Reject ended a streaming request")
	}
}

func TestBody(t *testing.T) {
	q := New(Config{})
	body := []byte("the body")
	enqueue(t, q, newReq(t, "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 8\r\n\r\n", body, newFake()))
	f := mustFetch(t, q, "w")
	if b, err := q.Body(f.ID); err != nil || string(b) != "the body" {
		t.Errorf("Body: %q, %v", b, err)
	}
	if m := q.method(f.ID); m != http1.MethodPut {
		t.Errorf("method %v, want PUT", m)
	}
	if m := q.method("nope"); m != 0 {
		t.Errorf("method of unknown id %v, want 0", m)
	}
	if _, err := q.Body("nope"); !errors.Is(err, ErrUnknown) {
		t.Errorf("Body of unknown id: %v", err)
	}
}

func TestWaitHistogramBuckets(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want int
	}{
		{0, 0},
		{500 * time.Microsecond, 0},
		{time.Millisecond, 0}, // bounds are inclusive ("le")
		{1100 * time.Microsecond, 1},
		{2500 * time.Microsecond, 1},
		{3 * time.Millisecond, 2},
		{30 * time.Millisecond, 5},
		{time.Second, 9},
		{1500 * time.Millisecond, 10},
		{30 * time.Second, 13},
		{31 * time.Second, 14},
		{time.Hour, 14},
	}
	if len(WaitBounds)+1 != len(histogram{}.counts) {
		t.Fatalf("%d bounds but %d buckets", len(WaitBounds), len(histogram{}.counts))
	}
	for _, c := range cases {
		var h histogram
		h.observe(c.d)
		for i, n := range h.counts {
			if want := uint64(0); i == c.want {
				if n != 1 {
					t.Errorf("%v: bucket %d has %d, want 1", c.d, i, n)
				}
			} else if n != want {
				t.Errorf("%v: bucket %d has %d, want 0", c.d, i, n)
			}
		}
		if h.sum != c.d.Seconds() {
			t.Errorf("%v: sum %v", c.d, h.sum)
		}
	}
}

func TestWaitHistogramStats(t *testing.T) {
	q := New(Config{})
	for range 3 {
		enqueue(t, q, reqOf(t, "GET", "/", newFake()))
	}
	time.Sleep(30 * time.Millisecond)
	for range 3 {
		mustFetch(t, q, "w")
	}
	s := q.Stats()
	if len(s.WaitCounts) != len(WaitBounds)+1 {
		t.Fatalf("%d WaitCounts, want %d", len(s.WaitCounts), len(WaitBounds)+1)
	}
	var sum uint64
	for i, n := range s.WaitCounts {
		sum += n
		if i < len(WaitBounds) && n > 0 && WaitBounds[i] < 0.03 {
			t.Errorf("a wait of at least 30ms counted in bucket %d (le %v)", i, WaitBounds[i])
		}
	}
	if sum != 3 {
		t.Errorf("WaitCounts sum to %d, want 3 fetches", sum)
	}
	if s.WaitSum < 0.09 {
		t.Errorf("WaitSum %v, want at least 3 × 30ms", s.WaitSum)
	}
	// Stats hands out a copy.
	s.WaitCounts[0] = 99
	if q.Stats().WaitCounts[0] == 99 {
		t.Error("Stats().WaitCounts aliases the queue's histogram")
	}
}

func TestMaxWorkers(t *testing.T) {
	q := New(Config{Len: 400})
	const n = 300
	for range n {
		enqueue(t, q, reqOf(t, "GET", "/", newFake()))
	}
	for i := range n {
		mustFetch(t, q, fmt.Sprintf("w%03d", i))
	}
	// A worker that has its row keeps it.
	enqueue(t, q, reqOf(t, "GET", "/", newFake()))
	mustFetch(t, q, "w000")
	ws := q.Stats().Workers
	if len(ws) != maxWorkers+1 {
		t.Errorf("%d worker rows, want %d and other", len(ws), maxWorkers)
	}
	var other *WorkerStats
	var total uint64
	for i := range ws {
		total += ws[i].Fetched
		if ws[i].ID == "other" {
			other = &ws[i]
		}
		if i > 0 && ws[i-1].ID >= ws[i].ID {
			t.Errorf("rows not sorted: %s before %s", ws[i-1].ID, ws[i].ID)
		}
	}
	if other == nil {
		t.Fatal(`no "other" row`)
	}
	if other.Fetched != n-maxWorkers {
		t.Errorf(`"other" fetched %d, want %d`, other.Fetched, n-maxWorkers)
	}
	if total != n+1 {
		t.Errorf("rows fetched %d in all, want %d", total, n+1)
	}
	if w, _ := workerRow(q, "w000"); w.Fetched != 2 {
		t.Errorf("w000 fetched %d, want 2", w.Fetched)
	}
}

// countClient counts calls, for the concurrency test.
type countClient struct {
	answers, fails, writes, ends atomic.Int32
	cancelDone                   atomic.Bool // Cancel has returned
	responded                    atomic.Int32
}

func (c *countClient) Answer(*Answer)     { c.answers.Add(1) }
func (c *countClient) Fail(int)           { c.fails.Add(1) }
func (c *countClient) Write([]byte) error { c.writes.Add(1); return nil }
func (c *countClient) End(bool)           { c.ends.Add(1) }
func (c *countClient) cancel(tk *Ticket)  { tk.Cancel(); c.cancelDone.Store(true) }
func (c *countClient) cancelled() bool    { return c.cancelDone.Load() }
func (c *countClient) String() string {
	return fmt.Sprintf("answers %d fails %d writes %d ends %d", c.answers.Load(), c.fails.Load(), c.writes.Load(), c.ends.Load())
}

func TestConcurrent(t *testing.T) {
	q := New(Config{Len: 1000, Timeout: time.Minute, Lease: time.Minute})
	const (
		enqueuers = 4
		perEnq    = 125
		workers   = 8
	)
	var (
		clients   [enqueuers * perEnq]*countClient
		wgEnq     sync.WaitGroup
		wgWork    sync.WaitGroup
		stop      = make(chan struct{})
		badErr    atomic.Int32
		lateResp  atomic.Int32
		cancelled atomic.Int32
	)
	for w := range workers {
		wgWork.Add(1)
		go func() {
			defer wgWork.Done()
			id := fmt.Sprint("w", w)
			for {
				select {
				case <-stop:
					return
				default:
				}
				f := q.Fetch(context.Background(), 20*time.Millisecond, id)
				if f == nil {
					continue
				}
				c := f.Req.Client.(*countClient)
				wasCancelled := c.cancelled()
				if rand.IntN(4) == 0 {
					runtime.Gosched()
				}
				switch err := q.Respond(f.ID, &Answer{Status: 200, ContentLength: -1}); {
				case err == nil:
					c.responded.Add(1)
					if wasCancelled {
						lateResp.Add(1)
					}
				case !errors.Is(err, ErrUnknown):
					badErr.Add(1)
				}
			}
		}()
	}
	for e := range enqueuers {
		wgEnq.Add(1)
		go func() {
			defer wgEnq.Done()
			for i := range perEnq {
				c := &countClient{}
				clients[e*perEnq+i] = c
				tk, err := q.Enqueue(&Request{Head: []byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), Method: http1.MethodGet, Client: c})
				if err != nil {
					badErr.Add(1)
					continue
				}
				switch rand.IntN(5) {
				case 0:
					cancelled.Add(1)
					c.cancel(tk)
				case 1:
					cancelled.Add(1)
					wgEnq.Add(1)
					go func() {
						defer wgEnq.Done()
						time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
						c.cancel(tk)
						c.cancel(tk)
					}()
				}
			}
		}()
	}
	wgEnq.Wait()
	eventually(t, "all requests done", func() bool {
		s := q.Stats()
		return s.Queued == 0 && s.Leased == 0
	})
	close(stop)
	wgWork.Wait()

	if n := badErr.Load(); n > 0 {
		t.Errorf("%d unexpected errors from Enqueue or Respond", n)
	}
	if n := lateResp.Load(); n > 0 {
		t.Errorf("%d Responds succeeded for requests whose Cancel had returned", n)
	}
	var answered int32
	for i, c := range clients {
		switch {
		case c.answers.Load() > 1:
			t.Errorf("request %d: %d answers", i, c.answers.Load())
		case c.answers.Load() != c.responded.Load():
			t.Errorf("request %d: %d answers but %d successful Responds", i, c.answers.Load(), c.responded.Load())
		case !c.cancelled() && c.answers.Load() != 1:
			t.Errorf("request %d, not cancelled: %d answers", i, c.answers.Load())
		}
		if c.fails.Load()+c.writes.Load()+c.ends.Load() != 0 {
			t.Errorf("request %d: unexpected calls %s", i, c)
		}
		answered += c.answers.Load()
	}
	s := q.Stats()
	if s.Enqueued != enqueuers*perEnq || s.Answered != uint64(answered) ||
		s.Answered+s.Cancelled != enqueuers*perEnq || s.Cancelled > uint64(cancelled.Load()) {
		t.Errorf("stats %+v: answered %d, cancel calls %d", s, answered, cancelled.Load())
	}
	var fetched uint64
	for _, w := range s.Workers {
		fetched += w.Fetched
	}
	var waits uint64
	for _, n := range s.WaitCounts {
		waits += n
	}
	if waits != fetched {
		t.Errorf("WaitCounts sum %d, workers fetched %d", waits, fetched)
	}
	t.Logf("answered %d, cancelled %d (of %d cancel calls)", s.Answered, s.Cancelled, cancelled.Load())
}

// A streamed answer's head reaches the client before the request counts
// as streaming: a body piece can never overtake it, and while the head
// is on its way a second head or a body gets ErrState.
func TestStreamHeadFirst(t *testing.T) {
	q := New(Config{})
	release := make(chan struct{})
	c := &blockingAnswer{fakeClient: newFake(), release: release}
	enqueue(t, q, reqOf(t, "GET", "/s", c))
	f := mustFetch(t, q, "w")
	done := make(chan error, 1)
	go func() { done <- q.Respond(f.ID, &Answer{Status: 200, Stream: true, ContentLength: -1}) }()
	eventually(t, "head on its way", func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.leased[f.ID].heading
	})
	if _, err := q.Stream(f.ID, eofReader("x")); !errors.Is(err, ErrState) {
		t.Errorf("Stream while the head is on its way: %v, want ErrState", err)
	}
	if err := q.Respond(f.ID, &Answer{Status: 200}); !errors.Is(err, ErrState) {
		t.Errorf("second Respond while the head is on its way: %v, want ErrState", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n, err := q.Stream(f.ID, eofReader("body")); err != nil || n != 4 {
		t.Fatalf("Stream after the head: %d %v", n, err)
	}
}

// blockingAnswer holds Answer until release is closed.
type blockingAnswer struct {
	*fakeClient
	release chan struct{}
}

func (b *blockingAnswer) Answer(a *Answer) {
	<-b.release
	b.fakeClient.Answer(a)
}
