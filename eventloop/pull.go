package eventloop

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"time"

	"github.com/edgeloop/edgeloop/http1"
	"github.com/edgeloop/edgeloop/pool"
	"github.com/edgeloop/edgeloop/queue"
	"github.com/panjf2000/gnet/v2"
)

// Pull-mode pools (package queue): a request routed to one is read whole,
// head and body, copied into the pool's queue, and answered when a worker
// posts its response. The queue calls back from the worker API's
// goroutines; every callback posts its work to the client's loop.

// pullExchange is one request of a client connection in a pull pool's
// care; it is the queue.Client of that request.
type pullExchange struct {
	cc  *clientConn
	q   *queue.Queue
	req *queue.Request
	t   *queue.Ticket // once queued
	// overBudget: a chunked body passed the pool's body budget.
	overBudget bool
	limit      int64 // the body's cap
}

// errClientGone is what a streamed body's Write returns once the client
// connection (or the exchange) is gone.
var errClientGone = errors.New("eventloop: the client is gone")

// pull takes the parsed head (n bytes of buf) of a request routed to
// pull pool pl by the path prefix prefix: its body is read whole, then
// the request is queued.
func (cc *clientConn) pull(pl *pool.Pool, prefix string, r *http1.Request, buf []byte, n int) bool {
	q := cc.l.p.opts.Queues[pl.Name]
	if q == nil {
		_, _ = cc.c.Discard(n)
		cc.fail(503)
		return false
	}
	cfg := q.Config()
	limit := cfg.MaxBody
	if m := cc.l.p.opts.MaxBodyBytes; m > 0 && m < limit {
		limit = m
	}
	if r.Body.Kind == http1.BodyLength && r.Body.Length > limit {
		_, _ = cc.c.Discard(n)
		cc.fail(413)
		return false
	}
	req := &queue.Request{
		Head: bytes.Clone(buf[:n]), Limits: cc.l.p.opts.Limits, Method: r.MethodKind,
		ScriptName: strings.TrimSuffix(prefix, "/"), RemoteAddr: cc.ip,
		LocalAddr: cc.c.LocalAddr().String(),
	}
	x := &pullExchange{cc: cc, q: q, req: req, limit: limit}
	req.Client = x
	cc.px, cc.pl = x, pl
	_, _ = cc.c.Discard(n)
	if r.Body.Kind == http1.BodyNone {
		return cc.pullEnqueue()
	}
	if r.Body.Kind == http1.BodyLength {
		if !q.Reserve(r.Body.Length) {
			cc.fail(503) // the pool holds all the body bytes it may
			return false
		}
		req.Reserved = r.Body.Length
		req.Body = make([]byte, 0, r.Body.Length)
	}
	cc.body.start(r.Body, true, limit)
	if r.Flags.Has(http1.FlagExpectContinue) && !cc.http10 {
		_, _ = cc.c.Write(continue100) // the proxy is the one reading the body
	}
	cc.state = ccPullBody
	cc.deadline = cc.l.now.Add(cc.l.p.opts.Timeouts.ClientIdle)
	return true
}

// pullBody collects the buffered body bytes; once the body is whole the
// request is queued.
func (cc *clientConn) pullBody() bool {
	buf, _ := cc.c.Peek(-1)
	if len(buf) == 0 {
		return false
	}
	x := cc.px
	n, err := cc.body.collect(buf, x)
	_, _ = cc.c.Discard(n)
	switch {
	case err != nil:
		cc.fail(http1.StatusOf(err))
		return false
	case x.overBudget:
		cc.fail(503)
		return false
	case !cc.body.done():
		cc.deadline = cc.l.now.Add(cc.l.p.opts.Timeouts.ClientIdle)
		return false
	}
	return cc.pullEnqueue()
}

// add appends body data, taking budget for it when the length was not
// known up front (chunked).
func (x *pullExchange) add(p []byte) {
	if x.cc.body.kind == http1.BodyChunked {
		if !x.q.Reserve(int64(len(p))) {
			x.overBudget = true
			return
		}
		x.req.Reserved += int64(len(p))
	}
	x.req.Body = append(x.req.Body, p...)
}

// collect is forward for a body the proxy keeps: the data of buf that
// belongs to the body goes to x (chunked framing removed); it returns how
// many bytes of buf it took.
func (bd *body) collect(buf []byte, x *pullExchange) (int, error) {
	switch bd.kind {
	case http1.BodyLength:
		n := min(int64(len(buf)), bd.remaining)
		x.add(buf[:n])
		bd.remaining -= n
		return int(n), nil
	case http1.BodyChunked:
		n := 0
		for n < len(buf) && !bd.chunks.Done() && !x.overBudget {
			k, data, err := bd.chunk(buf[n:])
			n += k
			if err != nil {
				return n, err
			}
			x.add(data)
		}
		return n, nil
	}
	return 0, nil
}

// pullEnqueue hands the whole request to the queue. The client's later
// bytes (pipelined requests) wait in gnet's buffer until the answer.
func (cc *clientConn) pullEnqueue() bool {
	x := cc.px
	t, err := x.q.Enqueue(x.req)
	if err != nil {
		x.q.Release(x.req.Reserved)
		x.req.Reserved = 0
		cc.px = nil
		cc.fail(503) // the queue is full (or closing): Retry-After (appendError)
		return false
	}
	x.t = t
	cc.state = ccPullWait
	cc.deadline = time.Time{} // the queue times the wait and the lease
	return false
}

// pullGone releases what a pull exchange holds when its client leaves.
func (cc *clientConn) pullGone() {
	x := cc.px
	if x == nil {
		return
	}
	cc.px = nil
	if x.t != nil {
		x.t.Cancel()
	} else if x.req.Reserved > 0 {
		x.q.Release(x.req.Reserved)
		x.req.Reserved = 0
	}
}

// post runs f on the client's loop.
func (x *pullExchange) post(f func()) bool {
	return x.cc.l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		f()
		return nil
	})) == nil
}

// live: the client is still there and waits for this exchange.
func (x *pullExchange) live() bool { return !x.cc.closed && x.cc.px == x }

// Answer writes the worker's response (queue.Client).
func (x *pullExchange) Answer(a *queue.Answer) {
	x.post(func() {
		if x.live() {
			x.cc.pullAnswer(a)
		}
	})
}

// Fail answers with a status of the proxy's own (queue.Client).
func (x *pullExchange) Fail(status int) {
	x.post(func() {
		if x.live() {
			x.cc.px = nil
			x.cc.fail(status)
		}
	})
}

// Write passes a piece of a streamed body (queue.Client). It returns
// once the loop wrote it to the client connection; while the client
// holds more than highWater bytes unread it waits for it to read them
// below lowWater: a worker cannot push more than that into memory.
func (x *pullExchange) Write(p []byte) error {
	data := bytes.Clone(p) // the task may outlive this call at shutdown
	held, ok := x.ask(func() int {
		if !x.live() || x.cc.state != ccPullStream {
			return -1
		}
		x.cc.pullChunk(data)
		if x.cc.closed {
			return -1
		}
		return x.cc.c.OutboundBuffered()
	})
	// Past highWater, wait for the client to read down to lowWater (a
	// client that reads nothing for ClientIdle is closed: timeout).
	if ok && held > highWater {
		for wait := time.Millisecond; ok && held > lowWater; wait = min(2*wait, 20*time.Millisecond) {
			time.Sleep(wait)
			held, ok = x.ask(func() int {
				if !x.live() {
					return -1
				}
				return x.cc.c.OutboundBuffered()
			})
		}
	}
	if !ok || held < 0 {
		return errClientGone
	}
	return nil
}

// ask runs f on the loop and returns its result; false when the loop is
// gone.
func (x *pullExchange) ask(f func() int) (int, bool) {
	ch := make(chan int, 1)
	if !x.post(func() { ch <- f() }) {
		return -1, false
	}
	select {
	case v := <-ch:
		return v, v >= 0
	case <-x.cc.l.p.stopped:
		return -1, false
	}
}

// End ends a streamed body (queue.Client).
func (x *pullExchange) End(ok bool) {
	x.post(func() {
		if !x.live() {
			return
		}
		if ok && x.cc.state == ccPullStream {
			x.cc.pullEnd()
			return
		}
		x.cc.close() // the client must see the cut (onClose counts it failed)
	})
}

// pullAnswer writes a worker's answer to the client.
func (cc *clientConn) pullAnswer(a *queue.Answer) {
	keep := cc.keepAlive && !cc.l.p.draining.Load() && !(a.Stream && cc.http10)
	cc.l.scratch = appendPullHead(cc.l.scratch[:0], a, cc.method, cc.http10, keep, cc.l.httpDate())
	body := a.Body
	if len(body) <= smallBody {
		cc.l.scratch = append(cc.l.scratch, body...) // head and body: one write
		body = nil
	}
	_, _ = cc.c.Write(cc.l.scratch)
	if cc.closed {
		return
	}
	cc.started = true
	cc.access.status = a.Status
	if a.Stream {
		cc.state = ccPullStream
		cc.deadline = cc.l.now.Add(cc.l.p.opts.Timeouts.ClientIdle)
		return
	}
	if len(body) > 0 {
		_, _ = cc.c.Write(body)
	}
	cc.px = nil
	cc.exchangeDone(keep)
}

// pullChunk writes one piece of a streamed body: a chunk to an HTTP/1.1
// client, the bytes as they are to an HTTP/1.0 one (the body ends with
// the connection).
func (cc *clientConn) pullChunk(p []byte) {
	if len(p) == 0 {
		return
	}
	// A client that reads nothing for ClientIdle is closed (timeout).
	cc.deadline = time.Now().Add(cc.l.p.opts.Timeouts.ClientIdle)
	if cc.http10 {
		_, _ = cc.c.Write(p)
		return
	}
	cc.l.scratch = http1.AppendChunkSize(cc.l.scratch[:0], len(p))
	cc.l.scratch = append(cc.l.scratch, p...)
	cc.l.scratch = http1.AppendChunkEnd(cc.l.scratch)
	_, _ = cc.c.Write(cc.l.scratch)
}

// pullEnd ends a streamed body that passed whole.
func (cc *clientConn) pullEnd() {
	cc.px = nil
	if cc.http10 {
		cc.l.stats.clientSuccess.Add(1)
		cc.logAccess()
		cc.endInflight()
		cc.closeFlushed() // the close is the body's end
		return
	}
	_, _ = cc.c.Write(http1.AppendLastChunk(cc.l.scratch[:0]))
	if !cc.closed {
		cc.exchangeDone(true)
	}
}

// appendPullHead writes the head of a worker's answer: its status and
// fields (checked by the queue), Date, the framing the proxy chose and
// the connection fields.
func appendPullHead(dst []byte, a *queue.Answer, method http1.Method, http10, keep bool, date []byte) []byte {
	dst = http1.AppendStatusLine(dst, a.Status, "")
	dated := false
	for _, h := range a.Header {
		dated = dated || strings.EqualFold(h[0], "date")
		dst = http1.AppendField(dst, h[0], h[1])
	}
	if !dated {
		dst = http1.AppendField(dst, "Date", date) // RFC 9110 §6.6.1
	}
	switch {
	case a.Status == 204:
	case a.ContentLength >= 0:
		dst = http1.AppendContentLength(dst, a.ContentLength) // HEAD, 304: what a GET would get
	case a.Status == 304 || method == http1.MethodHead:
	case a.Stream && !http10:
		dst = http1.AppendField(dst, "Transfer-Encoding", "chunked")
	case a.Stream:
		// HTTP/1.0 knows no chunked: the body ends with the connection.
	default:
		dst = http1.AppendContentLength(dst, int64(len(a.Body)))
	}
	switch {
	case !keep:
		dst = http1.AppendField(dst, "Connection", "close")
	case http10:
		dst = http1.AppendField(dst, "Connection", "keep-alive") // RFC 9112 §9.3
	}
	dst = http1.AppendField(dst, "Via", viaValue)
	return http1.AppendEndOfHead(dst)
}
