package eventloop

import (
	"context"
	"net"
	"time"

	"github.com/edgeloop/edgeloop/http1"
	"github.com/edgeloop/edgeloop/pool"
	"github.com/panjf2000/gnet/v2"
)

// Client side states of a session.
const (
	ccIdle       uint8 = iota // between requests (keep-alive), or before the first
	ccHead                    // inside a request head
	ccConnect                 // head read, waiting for an origin connection
	ccQueued                  // head read, waiting for a server under its max_conns
	ccBody                    // forwarding the request body
	ccWait                    // request sent; the response is being relayed
	ccTunnel                  // after a 101 or a 2xx to CONNECT: raw bytes both ways
	ccPullBody                // pull pool: reading the request body whole
	ccPullWait                // pull pool: queued, or with a worker
	ccPullStream              // pull pool: relaying a worker's streamed body
	ccClosing                 // closing once the output is flushed
)

var continue100 = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// clientConn is the client half of a session.
type clientConn struct {
	l  *loop
	c  gnet.Conn
	ip string // the client's address, for X-Forwarded-For

	state uint8
	// req parses the current head; taken from the loop's free list when
	// a head starts and given back when the exchange ends, so an idle
	// keep-alive connection holds neither it (2 KiB of field spans) nor
	// the forwarded head.
	req *http1.Request
	oc  *originConn  // the origin connection of the current exchange
	s   *pool.Server // the server chosen for it
	pl  *pool.Pool   // the pool it was chosen from

	head      []byte // the request head as forwarded; kept for a retry
	body      body
	method    http1.Method
	keepAlive bool // the client keeps the connection after this exchange
	http10    bool // the client spoke HTTP/1.0
	retried   bool
	hostSynth bool          // the head's Host is the origin's address (no Host was sent)
	upgrading bool          // the forwarded head asks for a protocol switch: a 101 may answer
	bodyKept  bool          // the whole request body is in head: a retry can resend it
	started   bool          // a response byte went to the client: no retry, no error page
	inflight  bool          // counted in Proxy.active
	pause     pausable      // reading paused while the origin is slow to take the upload
	held      bool          // reading held: pipelined requests wait buffered (settleHold)
	waiter    *pool.Waiter  // in the pool's max_conns queue while ccQueued
	px        *pullExchange // the request in a pull pool's care (pull.go)

	deadline time.Time
	closed   bool

	// For the access log only (Options.AccessLog).
	access accessEntry
}

// accessEntry is what the access log line says of one exchange.
type accessEntry struct {
	start          time.Time
	method, target string
	status         int
}

func (l *loop) newClient(c gnet.Conn) *clientConn {
	l.now = time.Now()
	cc := &clientConn{l: l, c: c}
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		cc.ip = a.IP.String()
	}
	cc.deadline = l.now.Add(l.p.opts.Timeouts.ClientHead)
	l.clients[cc] = struct{}{}
	return cc
}

// onTraffic runs the client side as far as the buffered bytes allow.
func (cc *clientConn) onTraffic() {
	defer cc.settleHold()
	for !cc.closed {
		var more bool
		switch cc.state {
		case ccIdle, ccHead:
			more = cc.readHead()
		case ccBody:
			more = cc.forwardBody()
		case ccTunnel:
			cc.tunnel()
		case ccPullBody:
			more = cc.pullBody()
		}
		// ccConnect, ccQueued, ccWait, ccPullWait, ccPullStream: later
		// bytes (pipelined requests) wait in gnet's buffer until this
		// exchange ends.
		if !more {
			return
		}
	}
}

// readHead parses the request head from the buffered bytes and, once it
// is whole, starts the exchange. It reports whether to go on.
func (cc *clientConn) readHead() bool {
	buf, _ := cc.c.Peek(-1)
	if len(buf) == 0 {
		return false
	}
	if cc.state == ccIdle {
		// The first byte of a head starts its deadline: a head must be
		// whole within ClientHead however slowly it trickles (slowloris).
		cc.state = ccHead
		cc.deadline = cc.l.now.Add(cc.l.p.opts.Timeouts.ClientHead)
		cc.req, cc.head = cc.l.getRequest()
		if cc.l.p.opts.AccessLog {
			cc.access.start = time.Now()
		}
	}
	n, err := cc.req.Parse(buf)
	if err == http1.ErrNeedMore {
		return false
	}
	if err != nil {
		cc.fail(http1.StatusOf(err))
		return false
	}
	r := cc.req
	limit := cc.l.p.opts.MaxBodyBytes
	if limit > 0 && r.Body.Kind == http1.BodyLength && r.Body.Length > limit {
		cc.fail(413)
		return false
	}
	cc.method, cc.http10, cc.keepAlive = r.MethodKind, !r.Is11(), r.KeepAlive()
	if cc.l.p.opts.AccessLog {
		cc.access.method, cc.access.target = string(r.Method.Of(buf)), string(r.Target.Of(buf))
	}
	if r.MethodKind == http1.MethodConnect {
		// A gateway in front of origins has no tunnels to open: CONNECT
		// is refused, as nginx refuses it, rather than forwarded to an
		// origin that would not expect it.
		cc.fail(405)
		return false
	}
	if hops, set, valid := maxForwards(r, buf); !valid {
		cc.fail(400)
		return false
	} else if set && hops == 0 {
		cc.answerFinal(r.MethodKind == http1.MethodTrace)
		return false
	}
	if !cc.inflight {
		cc.inflight = true
		cc.l.p.active.Add(1)
	}
	cc.retried, cc.started = false, false
	snap := cc.l.p.src.Snapshot()
	pl, prefix := snap.Route(nil, nil), "" // pool default
	if snap.Routed() {
		pl, prefix = snap.Match(routeHost(r, buf), routePath(r, buf))
	}
	if pl != nil && pl.Kind == pool.KindPull {
		return cc.pull(pl, prefix, r, buf, n)
	}
	var o *pool.Server
	if pl != nil && pl.Kind == "" {
		o = take(pl, cc.hashKey(pl, r, buf), nil)
	}
	if o == nil {
		if pl != nil && pl.Kind == "" && pl.Full() {
			return cc.queue(pl, false) // every server at max_conns: wait
		}
		_, _ = cc.c.Discard(n)
		cc.fail(503) // no usable server
		return false
	}
	return cc.dispatch(pl, o, buf, n)
}

// dispatch starts the exchange of the parsed head (n bytes of buf) on
// server o of pool pl.
func (cc *clientConn) dispatch(pl *pool.Pool, o *pool.Server, buf []byte, n int) bool {
	r := cc.req
	limit := cc.l.p.opts.MaxBodyBytes
	cc.pl = pl
	// A request without Host (HTTP/1.0) is sent to the origin with the
	// origin's own address as Host, as HTTP/1.1 requires one.
	// RFC 9110 §10.1.1: an HTTP/1.0 origin knows no Expect, so for one
	// known to be such the proxy answers 100 Continue itself and does
	// not forward the expectation.
	expect := r.Flags.Has(http1.FlagExpectContinue) && r.Body.Kind != http1.BodyNone && cc.l.p.knownHTTP10(o)
	cc.head = appendRequestHead(cc.head[:0], r, buf, cc.ip, o.Addr, expect)
	cc.hostSynth = r.Form != http1.FormAbsolute && !r.Flags.Has(http1.FlagHost)
	cc.upgrading = relaysUpgrade(r, buf)
	if expect && !cc.http10 {
		_, _ = cc.c.Write(continue100)
	}
	// A small body that is here already joins the head: one write to
	// the origin, and a copy kept whole for a retry (CONTRACT.md).
	body := r.Body
	cc.bodyKept = body.Kind == http1.BodyNone
	if body.Kind == http1.BodyLength && body.Length <= cc.l.p.opts.RetryBodyBytes && int64(len(buf)-n) >= body.Length {
		cc.head = append(cc.head, buf[n:n+int(body.Length)]...)
		n += int(body.Length)
		body, cc.bodyKept = http1.Body{}, true
	}
	cc.body.start(body, false, limit)
	_, _ = cc.c.Discard(n)
	cc.deadline = time.Time{}
	cc.connect(o)
	return cc.state == ccBody
}

// connect pairs the exchange with a connection to o: an idle one of this
// loop, newest first, or a new one dialed for it.
func (cc *clientConn) connect(o *pool.Server) {
	cc.s = o
	cc.state = ccConnect
	if oc := cc.l.takeIdle(o); oc != nil {
		oc.reused = true
		o.Live.Reused.Add(1)
		oc.begin(cc.pl)
		cc.attach(oc)
		return
	}
	oc := &originConn{l: cc.l, s: o, cc: cc, state: ocDialing}
	o.Live.Opened.Add(1)
	oc.begin(cc.pl)
	cc.oc = oc
	cc.l.dial(oc)
}

// attach starts the exchange on a connected origin connection.
func (cc *clientConn) attach(oc *originConn) {
	cc.oc, oc.cc = oc, cc
	oc.send(cc.head)
	if oc.c == nil || cc.closed {
		return // the write failed; the close handlers took over
	}
	if cc.body.done() {
		cc.state = ccWait
		oc.awaitResponse()
	} else {
		cc.state = ccBody
		cc.deadline = cc.l.now.Add(cc.l.p.opts.Timeouts.ClientIdle)
	}
}

// forwardBody passes the buffered request body bytes to the origin.
func (cc *clientConn) forwardBody() bool {
	buf, _ := cc.c.Peek(-1)
	if len(buf) == 0 {
		return false
	}
	oc := cc.oc
	n, err := cc.body.forward(buf, oc.c)
	if cc.closed || cc.oc != oc {
		return false // the write failed; the close handlers took over
	}
	_, _ = cc.c.Discard(n)
	cc.l.throttle(cc.c, &cc.pause, oc.c)
	// A body that stops arriving frees its origin connection after
	// ClientIdle without progress (nginx's client_body_timeout).
	cc.deadline = cc.l.now.Add(cc.l.p.opts.Timeouts.ClientIdle)
	if err != nil {
		// A broken chunked body: the origin has half a request, so its
		// connection goes too.
		cc.dropOrigin()
		cc.fail(http1.StatusOf(err))
		return false
	}
	if cc.body.done() {
		cc.state = ccWait
		cc.deadline = time.Time{}
		oc.awaitResponse()
		return true
	}
	return false
}

// tunnel relays raw bytes to the origin after a protocol switch.
func (cc *clientConn) tunnel() {
	buf, _ := cc.c.Peek(-1)
	if len(buf) > 0 && cc.oc != nil && cc.oc.c != nil {
		_, _ = cc.oc.c.Write(buf)
		if !cc.closed && cc.oc != nil {
			_, _ = cc.c.Discard(len(buf))
			cc.l.throttle(cc.c, &cc.pause, cc.oc.c)
		}
	}
}

// exchangeDone ends an exchange whose response reached the client whole.
func (cc *clientConn) exchangeDone(keep bool) {
	cc.l.unpause(&cc.pause, false)
	cc.l.stats.clientSuccess.Add(1)
	cc.logAccess()
	cc.oc, cc.s, cc.pl = nil, nil, nil
	cc.endInflight()
	if !keep || !cc.keepAlive || cc.l.p.draining.Load() {
		cc.closeFlushed()
		return
	}
	cc.releaseRequest()
	cc.started, cc.retried = false, false
	cc.state = ccIdle
	cc.deadline = cc.l.now.Add(cc.l.p.opts.Timeouts.ClientIdle)
	if !cc.closed && cc.c.InboundBuffered() > 0 {
		cc.l.deferPipelined(cc) // a pipelined request is waiting already
	} else {
		cc.settleHold()
	}
}

// settleHold holds or releases the client's read interest after its
// bytes were handled. A pipelining client sends its next requests while
// the current one is at the origin; gnet reads the socket each time it is
// readable, one read per arriving request (1.7 reads per request in the
// pipelined bench, nginx 1.06). So while an exchange waits on the origin
// and a pipelined request is already buffered, reading is held: the
// kernel keeps what arrives, and one read takes it all once the buffered
// requests are served. Anything that needs client bytes (a partial head,
// a body, a tunnel, an idle connection) releases the hold.
func (cc *clientConn) settleHold() {
	if cc.closed || cc.pause.paused || cc.l.epfd < 0 {
		return
	}
	waiting := cc.state == ccConnect || cc.state == ccQueued || cc.state == ccWait
	switch {
	case !cc.held && waiting && cc.c.InboundBuffered() > 0:
		cc.held = cc.l.setInterest(cc.c, false) == nil
	case cc.held && !waiting:
		cc.held = false
		_ = cc.l.setInterest(cc.c, true)
	}
}

// releaseRequest gives the parser and the head buffer back to the loop.
func (cc *clientConn) releaseRequest() {
	if cc.req != nil {
		cc.l.putRequest(cc.req, cc.head)
		cc.req, cc.head = nil, nil
	}
}

func (cc *clientConn) endInflight() {
	if cc.inflight {
		cc.inflight = false
		cc.l.p.active.Add(-1)
	}
}

// originFailed handles an origin connection that failed before any byte
// of its response reached the client (CONTRACT.md, Retries): retried once
// on another connection when nothing was sent yet, or when the request is
// idempotent and its body (if any) is kept whole; otherwise status goes to
// the client.
func (cc *clientConn) originFailed(sent bool, status int) {
	cc.oc = nil
	if cc.closed {
		return
	}
	if cc.started {
		cc.close() // part of a response went out: the truncation must show
		return
	}
	retryable := !sent || cc.method.Idempotent() && cc.bodyKept
	var o *pool.Server
	if cc.pl != nil && status != 504 && retryable && !cc.retried {
		o = take(cc.pl, nil, cc.s) // another usable server when there is one
	}
	if o != nil {
		cc.retried = true
		if cc.hostSynth && o != cc.s {
			cc.head = replaceHost(cc.head, o.Addr)
		}
		cc.connect(o)
		if cc.state == ccBody {
			cc.onTraffic()
		}
		return
	}
	cc.fail(status)
}

// dropOrigin closes the exchange's origin connection without reuse.
func (cc *clientConn) dropOrigin() {
	if oc := cc.oc; oc != nil {
		cc.oc = nil
		oc.cc = nil
		oc.abandon()
		oc.close()
	}
}

// answerFinal answers a TRACE or OPTIONS request with Max-Forwards: 0 as
// its final recipient (appendFinalAnswer) and closes. No origin is
// involved; the answer counts as a delivered response.
func (cc *clientConn) answerFinal(trace bool) {
	cc.l.stats.clientSuccess.Add(1)
	cc.access.status = 200
	if trace {
		cc.access.status = 405
	}
	cc.logAccess()
	cc.l.scratch = appendFinalAnswer(cc.l.scratch[:0], trace, cc.l.httpDate())
	_, _ = cc.c.Write(cc.l.scratch)
	cc.closeFlushed()
}

// fail answers with a status of the proxy's own and closes the connection
// (the framing of what the client sends next is in doubt), or only closes
// it when part of a response went out already.
func (cc *clientConn) fail(status int) {
	if cc.closed {
		return
	}
	cc.dropOrigin()
	cc.l.stats.clientFailed.Add(1)
	cc.endInflight()
	if !cc.started {
		cc.access.status = status
	}
	cc.logAccess()
	if !cc.started {
		cc.l.scratch = appendError(cc.l.scratch[:0], status, cc.l.httpDate())
		_, _ = cc.c.Write(cc.l.scratch)
	}
	cc.closeFlushed()
}

// closeFlushed closes the connection once gnet has written its output;
// the timer pass checks again while some is left.
func (cc *clientConn) closeFlushed() {
	if cc.closed {
		return
	}
	cc.state = ccClosing
	// A client that never reads its last bytes is closed anyway.
	cc.deadline = cc.l.now.Add(cc.l.p.opts.Timeouts.ClientIdle)
	if cc.c.OutboundBuffered() == 0 {
		cc.close()
	}
}

func (cc *clientConn) close() {
	if !cc.closed {
		_ = cc.l.el.Close(cc.c)
	}
}

// timeout runs from the timer pass when the deadline passed.
func (cc *clientConn) timeout() {
	switch cc.state {
	case ccHead, ccBody, ccPullBody:
		cc.fail(408) // RFC 9110 §15.5.9: the head or body took too long
	case ccQueued:
		cc.unqueue() // no server freed a slot within the queue timeout
		cc.discardHead()
		cc.fail(503)
	default:
		cc.close() // idle keep-alive connection
	}
}

// queue waits for a slot under the pool's max_conns; the head stays in
// gnet's buffer, undiscarded, until woken. front: a woken request that
// lost the slot again keeps its place. A full queue gets 503.
func (cc *clientConn) queue(pl *pool.Pool, front bool) bool {
	if cc.waiter == nil {
		cc.waiter = pool.NewWaiter(func() {
			_ = cc.l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
				cc.dequeued()
				return nil
			}))
		})
	}
	if !pl.Wait(cc.waiter, front) {
		cc.discardHead()
		cc.fail(503)
		return false
	}
	cc.pl, cc.state = pl, ccQueued
	cc.deadline = cc.l.now.Add(pl.QueueTimeout())
	// Nothing is read while the request waits: a body the client sends
	// meanwhile stays in the kernel, not in gnet's unbounded buffer.
	if cc.l.epfd >= 0 {
		_ = cc.l.setInterest(cc.c, false)
	}
	return false
}

// dequeued runs on the loop when a slot may be free: the request picks
// again, from the pool's current snapshot.
func (cc *clientConn) dequeued() {
	if cc.closed || cc.state != ccQueued {
		// Woken after it gave up (client gone, queue timeout): the wake
		// stood for a free slot, which the next waiter must get.
		if cc.pl != nil {
			cc.pl.PassOn()
		}
		return
	}
	if cc.l.epfd >= 0 && !cc.pause.paused {
		_ = cc.l.setInterest(cc.c, true)
	}
	buf, _ := cc.c.Peek(-1)
	n, err := cc.req.Parse(buf) // the same head: its length again
	if err != nil {
		cc.fail(http1.StatusOf(err))
		return
	}
	pl := cc.l.p.src.Snapshot().Pool(cc.pl.Name)
	var o *pool.Server
	if pl != nil {
		o = take(pl, cc.hashKey(pl, cc.req, buf), nil)
	}
	switch {
	case o != nil:
		if cc.dispatch(pl, o, buf, n) {
			cc.onTraffic()
		}
	case pl != nil && pl.Full():
		cc.queue(pl, true)
	default:
		cc.discardHead()
		cc.fail(503)
	}
}

// take picks a server of pl and acquires a slot on it (under max_conns
// another loop may have taken the last one since Pick looked: then one
// more pick); nil when no usable server has a free slot.
func take(pl *pool.Pool, key []byte, not *pool.Server) *pool.Server {
	for range 2 {
		o := pl.Pick(key, not)
		if o == nil {
			return nil
		}
		if pl.Acquire(o) {
			return o
		}
	}
	return nil
}

// unqueue leaves the max_conns queue (client gone or out of time).
func (cc *clientConn) unqueue() {
	if cc.state == ccQueued && cc.waiter != nil && cc.pl != nil {
		cc.pl.Cancel(cc.waiter)
	}
}

// discardHead drops the buffered head of a request that will not be
// forwarded.
func (cc *clientConn) discardHead() {
	if buf, _ := cc.c.Peek(-1); len(buf) > 0 {
		if n, err := cc.req.Parse(buf); err == nil {
			_, _ = cc.c.Discard(n)
		}
	}
}

// onClose: the client is gone. An exchange in flight takes its origin
// connection with it: it holds half a request or an unread response.
func (cc *clientConn) onClose(error) {
	cc.unqueue()
	cc.pullGone()
	cc.closed = true
	delete(cc.l.clients, cc)
	defer cc.releaseRequest()
	cc.l.unpause(&cc.pause, true)
	if cc.oc != nil && cc.oc.c != nil {
		cc.l.unpause(&cc.oc.pause, false) // its sink is gone
	}
	if cc.inflight {
		cc.l.stats.clientFailed.Add(1)
		cc.endInflight()
	}
	if cc.oc != nil {
		if cc.state == ccTunnel {
			cc.oc.done(true, false)
		}
		cc.dropOrigin()
	}
}

// logAccess writes the access log line of the exchange that ends.
func (cc *clientConn) logAccess() {
	a := &cc.access
	if !cc.l.p.opts.AccessLog || a.start.IsZero() {
		return
	}
	origin := ""
	switch {
	case cc.s != nil:
		origin = cc.s.Addr
	case cc.pl != nil && cc.pl.Kind == pool.KindPull:
		origin = "pull:" + cc.pl.Name // answered by a worker of that pool
	}
	cc.l.p.log.Info("access", "client", cc.ip, "method", a.method, "target", a.target,
		"status", a.status, "origin", origin, "ms", float64(time.Since(a.start).Microseconds())/1000)
	*a = accessEntry{}
}
