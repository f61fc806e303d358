package queue

import (
	"container/list"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgeloop/edgeloop/http1"
)

// Config is one pull pool's queue. Zero members take the defaults of
// WithDefaults.
type Config struct {
	Pool string
	// Len caps the requests waiting for a worker; one more gets 503 with
	// Retry-After.
	Len int
	// Timeout is how long a request waits for a worker to fetch it: 504
	// after it.
	Timeout time.Duration
	// Lease is how long a worker holds a fetched request: without a
	// response by then, an idempotent request goes back to the head of
	// the queue (once); any other gets 504.
	Lease time.Duration
	// InlineBody: request and response bodies up to this size travel as
	// base64 inside the JSON; larger ones through the streaming calls.
	InlineBody int64
	// MaxBody caps one request's body (413 above).
	MaxBody int64
	// BodyBudget caps the request bodies the pool holds at once: a
	// request whose body would pass it gets 503, so a flood of uploads
	// cannot take the proxy's memory.
	BodyBudget int64
}

// Defaults of Config.
const (
	DefaultLen        = 1024
	DefaultTimeout    = 30 * time.Second
	DefaultLease      = 30 * time.Second
	DefaultInlineBody = 64 << 10
	DefaultMaxBody    = 8 << 20
	DefaultBodyBudget = 64 << 20
)

// WithDefaults fills the zero members.
func (c Config) WithDefaults() Config {
	if c.Len <= 0 {
		c.Len = DefaultLen
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Lease <= 0 {
		c.Lease = DefaultLease
	}
	if c.InlineBody <= 0 {
		c.InlineBody = DefaultInlineBody
	}
	if c.MaxBody <= 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.BodyBudget <= 0 {
		c.BodyBudget = DefaultBodyBudget
	}
	return c
}

// Request is one client request as the loop hands it over. The queue owns
// it from Enqueue on: nothing in it may point into a loop's buffers.
type Request struct {
	Head   []byte       // the request head as the client sent it
	Limits http1.Limits // the limits the head was parsed under
	Body   []byte       // the whole body, without chunked framing
	// Reserved is the part of the pool's body budget (Reserve) this
	// request holds; the queue gives it back when the request ends.
	Reserved int64
	Method   http1.Method
	// ScriptName is the route's path prefix that chose the pool, without
	// its trailing slash (Rack's SCRIPT_NAME).
	ScriptName string
	RemoteAddr string // the client's IP
	LocalAddr  string // host:port the client connected to
	Client     Client
}

// Client is the loop side of a queued request. Its methods are called
// from the worker API's goroutines and must hand the work to the loop
// that owns the client connection. Answer or Fail is called at most
// once. A call may still come just after Ticket.Cancel returned (it was
// decided before), so the loop checks that the exchange still waits.
type Client interface {
	// Answer delivers the worker's response. With a.Stream only its head
	// is here; the body follows through Write, then End.
	Answer(a *Answer)
	// Fail ends the request with a status of the proxy's own (504).
	Fail(status int)
	// Write passes the next piece of a streamed body to the client and
	// returns once the client connection took it (p is reused after);
	// an error means the client is gone.
	Write(p []byte) error
	// End ends a streamed body: whole, or cut short (ok false), which the
	// client must see as a truncation.
	End(ok bool)
}

// Answer is a worker's response, checked.
type Answer struct {
	Status int
	// Header holds the worker's fields in order, without hop-by-hop ones
	// and without Content-Length (the proxy frames the body itself).
	Header [][2]string
	// ContentLength is the worker's Content-Length for a response without
	// a body of its own (to HEAD, or 304); -1 otherwise.
	ContentLength int64
	Body          []byte
	Stream        bool
}

// Errors of Enqueue and the worker calls.
var (
	ErrFull    = errors.New("queue: the queue is full")
	ErrUnknown = errors.New("queue: no request with this id is waiting for an answer")
	ErrClosed  = errors.New("queue: closed")
	ErrState   = errors.New("queue: the request is not in the state this call needs")
)

// item states.
const (
	stQueued    uint8 = iota // waiting for a worker
	stLeased                 // fetched; the worker owes the answer
	stStreaming              // the answer's head went out; its body is streamed
	stDone
)

// item is one request in the queue's care.
type item struct {
	id       string
	q        *Queue
	req      *Request
	state    uint8
	requeued bool      // went back to the queue once after a lease ran out
	leases   uint32    // leases given so far: tells a stale GiveBack
	active   bool      // stStreaming: a body stream is being relayed
	heading  bool      // stLeased: a streamed answer's head is on its way (Respond)
	at       time.Time // entered the queue
	deadline time.Time // the timer's meaning: see fire
	timer    *time.Timer
	worker   *workerStats
	el       *list.Element // in Queue.items while stQueued
}

// waiter is a worker long-polling for a request.
type waiter struct {
	ch     chan handoff // buffered 1: the hand-over never blocks
	worker *workerStats
	el     *list.Element // in Queue.waiters while it waits
}

// handoff is an item given to a waiting worker, with the number of its
// lease (nil item: the queue closed).
type handoff struct {
	it    *item
	lease uint32
}

// Queue is one pull pool's queue: FIFO of requests, long-polling
// workers, and the requests leased to workers.
type Queue struct {
	cfg Config

	mu      sync.Mutex
	items   list.List        // of *item, stQueued, oldest first
	waiters list.List        // of *waiter, longest waiting first
	leased  map[string]*item // stLeased and stStreaming
	workers map[string]*workerStats
	closed  bool
	wait    histogram
	counts  counters

	body atomic.Int64 // bytes of body reserved
}

type counters struct {
	enqueued, answered, full, timedOut, expired, requeued, cancelled uint64
}

// maxWorkers bounds the per-worker rows (worker IDs come from the
// workers; past this many they count under "other"); a row unseen for
// workerTTL may give its place to a new worker.
const (
	maxWorkers = 256
	workerTTL  = 10 * time.Minute
)

type workerStats struct {
	id                         string
	fetched, answered, expired uint64
	lastSeen                   time.Time
}

// New makes the queue of a pull pool.
func New(cfg Config) *Queue {
	return &Queue{cfg: cfg.WithDefaults(), leased: map[string]*item{}, workers: map[string]*workerStats{}}
}

// Config returns the queue's configuration, defaults filled.
func (q *Queue) Config() Config { return q.cfg }

// Reserve takes n bytes of the pool's body budget; false when they are
// not there. Release gives them back; a Request carries what it holds in
// Reserved, which the queue releases when the request ends.
func (q *Queue) Reserve(n int64) bool {
	if q.body.Add(n) > q.cfg.BodyBudget {
		q.body.Add(-n)
		return false
	}
	return true
}

// Release gives back n bytes reserved.
func (q *Queue) Release(n int64) { q.body.Add(-n) }

// Ticket is a queued request, for its client to cancel.
type Ticket struct{ it *item }

// Enqueue puts r at the tail of the queue, or hands it to a worker that
// waits. ErrFull: the queue holds Len requests already (the caller
// answers 503 and keeps r's reservation to release).
func (q *Queue) Enqueue(r *Request) (*Ticket, error) {
	it := &item{id: newID(), q: q, req: r}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil, ErrClosed
	}
	if q.items.Len() >= q.cfg.Len && q.waiters.Len() == 0 {
		q.counts.full++
		q.mu.Unlock()
		return nil, ErrFull
	}
	q.counts.enqueued++
	now := time.Now()
	it.at = now
	it.timer = time.AfterFunc(q.cfg.Timeout, it.fire)
	q.place(it, false, now)
	q.mu.Unlock()
	return &Ticket{it: it}, nil
}

// place gives a queued item to the first waiting worker, or links it in
// (at the head: front). q.mu held.
func (q *Queue) place(it *item, front bool, now time.Time) {
	if e := q.waiters.Front(); e != nil {
		w := e.Value.(*waiter)
		q.unlinkWaiter(w)
		q.lease(it, w.worker, now)
		w.ch <- handoff{it, it.leases}
		return
	}
	it.state = stQueued
	it.deadline = now.Add(q.cfg.Timeout)
	it.timer.Reset(q.cfg.Timeout)
	if front {
		it.el = q.items.PushFront(it)
	} else {
		it.el = q.items.PushBack(it)
	}
}

// unlink takes a queued item out of the FIFO. q.mu held.
func (q *Queue) unlink(it *item) {
	q.items.Remove(it.el)
	it.el = nil
}

// unlinkWaiter takes a worker off the waiting list. q.mu held.
func (q *Queue) unlinkWaiter(w *waiter) {
	q.waiters.Remove(w.el)
	w.el = nil
}

// lease gives it to worker w. q.mu held.
func (q *Queue) lease(it *item, w *workerStats, now time.Time) {
	it.state = stLeased
	it.leases++
	it.worker = w
	q.leased[it.id] = it
	q.wait.observe(now.Sub(it.at))
	w.fetched++
	w.lastSeen = now
	it.deadline = now.Add(q.cfg.Lease)
	it.timer.Reset(q.cfg.Lease)
}

// worker finds (or makes) the stats row of a worker. q.mu held.
func (q *Queue) worker(id string) *workerStats {
	if w := q.workers[id]; w != nil {
		return w
	}
	if len(q.workers) >= maxWorkers {
		// Workers come and go (each deploy may bring new names): rows
		// unseen for workerTTL make room before "other" takes the rest.
		cut := time.Now().Add(-workerTTL)
		for k, w := range q.workers {
			if w.lastSeen.Before(cut) && k != "other" {
				delete(q.workers, k)
			}
		}
	}
	if len(q.workers) >= maxWorkers {
		id = "other"
		if w := q.workers[id]; w != nil {
			return w
		}
	}
	w := &workerStats{id: id}
	q.workers[id] = w
	return w
}

// Fetch hands the oldest queued request to worker id, waiting up to wait
// (or until ctx ends) for one to arrive; nil when none came.
func (q *Queue) Fetch(ctx ctxDone, wait time.Duration, id string) *Fetched {
	q.mu.Lock()
	now := time.Now()
	w := q.worker(id)
	w.lastSeen = now
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	if e := q.items.Front(); e != nil {
		it := e.Value.(*item)
		q.unlink(it)
		q.lease(it, w, now)
		h := handoff{it, it.leases}
		q.mu.Unlock()
		return h.fetched()
	}
	if wait <= 0 {
		q.mu.Unlock()
		return nil
	}
	wt := &waiter{ch: make(chan handoff, 1), worker: w}
	wt.el = q.waiters.PushBack(wt)
	q.mu.Unlock()

	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case h := <-wt.ch:
		if h.it == nil {
			return nil // closed
		}
		if ctx.Err() != nil {
			q.giveBack(h.it, h.lease) // handed over as the worker left
			return nil
		}
		return h.fetched()
	case <-t.C:
	case <-ctx.Done():
	}
	q.mu.Lock()
	if wt.el != nil {
		q.unlinkWaiter(wt)
		q.mu.Unlock()
		return nil
	}
	q.mu.Unlock()
	h := <-wt.ch // handed over while the wait ended
	if h.it == nil {
		return nil
	}
	if ctx.Err() != nil {
		q.giveBack(h.it, h.lease) // the worker is gone: it never saw the request
		return nil
	}
	return h.fetched()
}

// ctxDone is the part of context.Context Fetch uses.
type ctxDone interface {
	Done() <-chan struct{}
	Err() error
}

// GiveBack returns a fetched request to the head of the queue, as if
// never fetched: its worker left before it got it. Nothing happens when
// that lease is over (answered, expired, even leased again since).
func (q *Queue) GiveBack(f *Fetched) { q.giveBack(f.it, f.lease) }

// Closed reports whether Close was called.
func (q *Queue) Closed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// giveBack returns a request handed to a worker that left before it got
// it: to the head of the queue, as if never fetched.
func (q *Queue) giveBack(it *item, lease uint32) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if it.state != stLeased || it.leases != lease {
		return
	}
	delete(q.leased, it.id)
	it.worker.fetched--
	q.place(it, true, time.Now())
}

// Fetched is what a worker gets: the request's id and a view of it. The
// Request is read only.
type Fetched struct {
	ID    string
	Req   *Request
	it    *item
	lease uint32 // which lease of it this is (GiveBack)
}

// fetched is the worker's view of its lease.
func (h handoff) fetched() *Fetched {
	return &Fetched{ID: h.it.id, Req: h.it.req, it: h.it, lease: h.lease}
}

// fire runs when the item's timer goes off: out of queue time, or out of
// lease time. A firing that a reset overtook finds its deadline ahead
// and does nothing.
func (it *item) fire() {
	q := it.q
	q.mu.Lock()
	now := time.Now()
	if it.state == stDone || it.heading || now.Before(it.deadline) {
		q.mu.Unlock()
		return
	}
	var end func()
	c := it.req.Client
	switch it.state {
	case stQueued:
		q.unlink(it)
		q.counts.timedOut++
		q.finish(it)
		end = func() { c.Fail(504) } // no worker took it in time
	case stLeased:
		q.counts.expired++
		it.worker.expired++
		delete(q.leased, it.id)
		if it.req.Method.Idempotent() && !it.requeued && !q.closed {
			// The worker died or hangs: an idempotent request may run
			// again, once, on another worker (RFC 9110 §9.2.2).
			it.requeued = true
			q.counts.requeued++
			q.place(it, true, now)
			q.mu.Unlock()
			return
		}
		q.finish(it)
		end = func() { c.Fail(504) }
	case stStreaming:
		if it.active {
			q.mu.Unlock() // the stream's own read deadlines watch it
			return
		}
		q.counts.expired++
		it.worker.expired++
		delete(q.leased, it.id)
		q.finish(it)
		end = func() { c.End(false) } // the head went out: cut the body
	}
	q.mu.Unlock()
	end()
}

// finish ends an item: its timer stops and its body budget goes back.
// q.mu held.
func (q *Queue) finish(it *item) {
	it.state = stDone
	it.timer.Stop()
	if it.req.Reserved > 0 {
		q.body.Add(-it.req.Reserved)
		it.req.Reserved = 0
	}
}

// Cancel drops the request: its client is gone. Safe at any time, more
// than once.
func (t *Ticket) Cancel() {
	it := t.it
	q := it.q
	q.mu.Lock()
	defer q.mu.Unlock()
	switch it.state {
	case stDone:
		return
	case stQueued:
		q.unlink(it)
	default:
		delete(q.leased, it.id)
	}
	q.counts.cancelled++
	q.finish(it)
}

// ID is the request's id in the worker API.
func (t *Ticket) ID() string { return t.it.id }

// Respond answers the leased request id. A streamed answer keeps the
// request leased until its body has passed (Stream).
func (q *Queue) Respond(id string, a *Answer) error {
	q.mu.Lock()
	it := q.leased[id]
	if it == nil {
		q.mu.Unlock()
		return ErrUnknown
	}
	if it.state != stLeased || it.heading {
		q.mu.Unlock()
		return ErrState
	}
	now := time.Now()
	it.worker.lastSeen = now
	c := it.req.Client
	if a.Stream {
		// The head goes to the client before the state says streaming:
		// a body piece (Stream) must never overtake its head. Until
		// then a second Respond or a Stream gets ErrState.
		it.heading = true
		q.mu.Unlock()
		c.Answer(a)
		q.mu.Lock()
		it.heading = false
		if it.state == stLeased { // not cancelled or expired meanwhile
			it.state = stStreaming
			it.deadline = time.Now().Add(q.cfg.Lease) // the body must start within a lease
			it.timer.Reset(q.cfg.Lease)
		}
		q.mu.Unlock()
		return nil
	}
	delete(q.leased, id)
	q.counts.answered++
	it.worker.answered++
	q.finish(it)
	q.mu.Unlock()
	c.Answer(a)
	return nil
}

// Stream relays the streamed body of request id, read by next (which
// returns io.EOF at its end), to the client. It returns the bytes
// relayed; ErrUnknown when the client left meanwhile, or next's error
// (the client then sees a cut body).
func (q *Queue) Stream(id string, next func([]byte) (int, error)) (int64, error) {
	q.mu.Lock()
	it := q.leased[id]
	switch {
	case it == nil:
		q.mu.Unlock()
		return 0, ErrUnknown
	case it.state != stStreaming || it.active:
		q.mu.Unlock()
		return 0, ErrState
	}
	it.active = true
	c := it.req.Client
	q.mu.Unlock()

	buf := make([]byte, 32<<10)
	var total int64
	var err error
	for {
		n, rerr := next(buf)
		if n > 0 {
			if werr := c.Write(buf[:n]); werr != nil {
				err = ErrUnknown
				break
			}
			total += int64(n)
		}
		if rerr != nil {
			if rerr != io.EOF {
				err = rerr
			}
			break
		}
	}
	q.mu.Lock()
	if it.state == stDone {
		q.mu.Unlock()
		return total, ErrUnknown // cancelled: the client left
	}
	delete(q.leased, id)
	if err == nil {
		q.counts.answered++
		it.worker.answered++
	}
	q.finish(it)
	q.mu.Unlock()
	c.End(err == nil)
	return total, err
}

// Body is the body of a request leased to a worker, for the streaming
// call; ErrUnknown when id is not leased.
func (q *Queue) Body(id string) ([]byte, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it := q.leased[id]
	if it == nil {
		return nil, ErrUnknown
	}
	return it.req.Body, nil
}

// Extend renews the lease of request id for another Lease from now: a
// worker whose handler takes longer keeps its request. ErrUnknown when
// id is not leased (answered, expired, cancelled); a streamed answer
// whose body is being relayed needs none (ErrState).
func (q *Queue) Extend(id string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	it := q.leased[id]
	switch {
	case it == nil:
		return ErrUnknown
	case it.active:
		return ErrState
	}
	now := time.Now()
	it.worker.lastSeen = now
	it.deadline = now.Add(q.cfg.Lease)
	it.timer.Reset(q.cfg.Lease)
	return nil
}

// Holds reports whether id is a request this queue leased out.
func (q *Queue) Holds(id string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.leased[id] != nil
}

// Close wakes every waiting worker with nothing and takes no more
// requests; what is queued or leased stays until its client or timer
// ends it.
func (q *Queue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	for q.waiters.Len() > 0 {
		w := q.waiters.Front().Value.(*waiter)
		q.unlinkWaiter(w)
		w.ch <- handoff{}
	}
}

// newID is 128 random bits in hex: ids cannot be guessed, so one worker
// cannot answer a request leased to another by counting.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// method is the request method of leased request id (0 when unknown).
func (q *Queue) method(id string) http1.Method {
	q.mu.Lock()
	defer q.mu.Unlock()
	if it := q.leased[id]; it != nil {
		return it.req.Method
	}
	return 0
}

// Reject ends leased request id with a status of the proxy's own.
func (q *Queue) Reject(id string, status int) {
	q.mu.Lock()
	it := q.leased[id]
	if it == nil || it.state != stLeased || it.heading {
		q.mu.Unlock()
		return
	}
	delete(q.leased, id)
	q.finish(it)
	c := it.req.Client
	q.mu.Unlock()
	c.Fail(status)
}
