package eventloop

import (
	"time"

	"github.com/edgeloop/edgeloop/http1"
	"github.com/edgeloop/edgeloop/pool"
	"github.com/panjf2000/gnet/v2"
)

// Origin side states.
const (
	ocDialing uint8 = iota // being dialed off the loop
	ocIdle                 // pooled, between exchanges
	ocHead                 // request sent (or being sent), awaiting the response head
	ocBody                 // relaying the response body
	ocTunnel               // raw bytes both ways
)

// smallBody is the largest body written together with its head.
const smallBody = 16 << 10

// originConn is the origin half of a session, on the client's loop.
type originConn struct {
	l  *loop
	c  gnet.Conn    // nil until opened, and after close
	s  *pool.Server // the server dialed
	cc *clientConn  // the client served; nil when idle
	// The exchange under way, as the pool counts it (Begin when it is
	// assigned, Report once when it ends): pl is the pool it was picked
	// from, began when.
	pl    *pool.Pool
	began time.Time

	state  uint8
	reused bool // taken from the idle list: the origin may have closed it meanwhile
	// answered: bytes of a response arrived for the current request
	// (perhaps held back, not yet relayed); a failure then is not retried.
	answered bool
	resp     *http1.Response // from the loop while a response is awaited or relayed
	body     body
	keep     bool // the origin keeps the connection after this response
	deadline time.Time
	pause    pausable // reading paused while the client is slow to take the response
}

// opened runs on the loop when a dialed connection is enrolled.
func (oc *originConn) opened(c gnet.Conn) {
	oc.c = c
	oc.l.origins[oc] = struct{}{}
	cc := oc.cc
	if cc == nil || cc.closed || cc.oc != oc {
		oc.cc = nil
		oc.l.putIdle(oc) // the client left meanwhile: keep it for the next
		return
	}
	cc.attach(oc)
	if cc.state == ccBody {
		cc.onTraffic()
	}
}

// dialFailed runs on the loop when the dial or enrollment failed.
func (oc *originConn) dialFailed(error) {
	oc.done(false, true) // a connect failure
	if cc := oc.cc; cc != nil && cc.oc == oc {
		cc.originFailed(false, 502)
	}
}

// send writes a request head; the response is awaited from then on,
// but its timeout starts once the request is whole (awaitResponse).
func (oc *originConn) send(head []byte) {
	oc.state = ocHead
	oc.answered = false
	if oc.resp == nil {
		oc.resp = oc.l.getResponse()
	}
	oc.resp.Reset()
	oc.resp.Limits = oc.l.p.opts.Limits
	oc.deadline = time.Time{}
	_, _ = oc.c.Write(head)
}

// awaitResponse starts the response timeout: the request is sent whole,
// so a slow upload is not the origin's delay.
func (oc *originConn) awaitResponse() {
	if oc.state == ocHead {
		oc.deadline = oc.l.now.Add(oc.l.p.opts.Timeouts.OriginResponse)
	}
}

// onTraffic runs the origin side as far as the buffered bytes allow.
func (oc *originConn) onTraffic() {
	cc := oc.cc
	if cc == nil {
		oc.close() // bytes on an idle connection: nothing can be framed
		return
	}
	for oc.c != nil && oc.cc == cc {
		buf, _ := oc.c.Peek(-1)
		if len(buf) == 0 {
			return
		}
		switch oc.state {
		case ocHead:
			oc.answered = true
			if !oc.readHead(buf) {
				return
			}
		case ocBody:
			n, err := oc.body.forward(buf, cc.c)
			if oc.c == nil {
				return // a failed write closed the client, and with it us
			}
			_, _ = oc.c.Discard(n)
			if err != nil {
				oc.broken() // a malformed chunked body: cut the client off
				return
			}
			if oc.body.done() {
				oc.finish()
				return
			}
			oc.l.throttle(oc.c, &oc.pause, cc.c)
			return
		case ocTunnel:
			_, _ = cc.c.Write(buf)
			if oc.c != nil && !cc.closed {
				_, _ = oc.c.Discard(len(buf))
				oc.l.throttle(oc.c, &oc.pause, cc.c)
			}
			return
		default:
			return
		}
	}
}

// readHead parses the response head; once whole, it is relayed to the
// client with the proxy's changes. It reports whether to go on.
func (oc *originConn) readHead(buf []byte) bool {
	cc := oc.cc
	n, err := oc.resp.Parse(buf)
	if err == http1.ErrNeedMore {
		return false
	}
	fr := respFraming{date: oc.l.httpDate()}
	if err == nil {
		fr.body, err = oc.resp.Framing(cc.method)
	}
	if err != nil {
		// An invalid response is never passed on half-read: 502. It is
		// not retried: the origin answered, if badly (nginx and HAProxy
		// do not retry on it by default either).
		oc.broken()
		return false
	}
	r := oc.resp
	if r.Flags.Has(http1.FlagTE) && r.ContentCoded() {
		// A transfer coding other than chunked (gzip, or one unknown):
		// the proxy does not decode, clients do not either (browsers and
		// net/http know chunked only), and dropping the field would pass
		// coded bytes off as the content. 502, as nginx answers it.
		oc.broken()
		return false
	}
	if r.Status == 101 && !cc.upgrading {
		// RFC 9110 §15.2.2: a server switches only to a protocol the
		// request named. An unasked 101 would turn the client's next
		// bytes into a tunnel to this origin: refused like any invalid
		// response.
		oc.broken()
		return false
	}
	if !r.Is11() {
		oc.l.p.http10.Store(oc.s.ID, true)
	}
	if r.Status < 200 && r.Status != 101 {
		// An interim response (100 Continue, 103): relayed to a 1.1
		// client (RFC 9110 §15.2), then the final one follows.
		if !cc.http10 {
			fr.interim = true
			oc.l.scratch = appendResponseHead(oc.l.scratch[:0], r, buf, fr, false)
			_, _ = cc.c.Write(oc.l.scratch)
			if oc.c == nil {
				return false
			}
		}
		_, _ = oc.c.Discard(n)
		oc.resp.Reset()
		return true
	}
	if fr.body.Kind == http1.BodyLength && fr.body.Length <= smallBody && int64(len(buf)-n) < fr.body.Length {
		// A small body is on its way (many origins write the head and
		// the body apart): wait for it, leaving the head buffered (Parse
		// answers again from its state), and send both in one write.
		// The response timeout still runs.
		return false
	}
	tunnel := fr.body.Kind == http1.BodyTunnel
	fr.client10 = cc.http10
	fr.dechunk = fr.body.Kind == http1.BodyChunked && cc.http10
	// The client keeps its connection only when the response ends by
	// its framing (not by a close) and both sides want it.
	fr.keepAlive = cc.keepAlive && !fr.dechunk && fr.body.Kind != http1.BodyUntilClose && !tunnel
	oc.keep = r.KeepAlive() && fr.body.Kind != http1.BodyUntilClose && !tunnel
	oc.l.scratch = appendResponseHead(oc.l.scratch[:0], r, buf, fr, tunnel)
	// A small body that is here already goes out with its head: one
	// write, one syscall, for the common small response.
	whole := fr.body.Kind == http1.BodyLength && fr.body.Length <= smallBody &&
		int64(len(buf)-n) >= fr.body.Length
	if whole {
		oc.l.scratch = append(oc.l.scratch, buf[n:n+int(fr.body.Length)]...)
		n += int(fr.body.Length)
		fr.body = http1.Body{}
	}
	_, _ = cc.c.Write(oc.l.scratch)
	if oc.c == nil {
		return false // the write failed and closed the client, and us
	}
	_, _ = oc.c.Discard(n)
	cc.started = true
	cc.access.status = r.Status
	cc.keepAlive = fr.keepAlive
	oc.deadline = time.Time{}
	if tunnel {
		oc.state, cc.state = ocTunnel, ccTunnel
		cc.settleHold() // a tunnel reads the client again
		if cc.c.InboundBuffered() > 0 {
			cc.tunnel()
		}
		return true
	}
	oc.body.start(fr.body, fr.dechunk, 0)
	oc.state = ocBody
	if oc.body.done() {
		oc.finish()
		return false
	}
	return true
}

// finish ends an exchange whose response passed whole: the origin
// connection goes back to this loop's idle list when it can carry another.
func (oc *originConn) finish() {
	cc := oc.cc
	oc.done(true, oc.resp != nil && oc.resp.Status >= 500)
	// A response may come before the request body ended (an early 413):
	// then neither connection can carry another exchange.
	bodySent := cc.state == ccWait
	oc.l.unpause(&oc.pause, false)
	oc.releaseResponse()
	oc.cc = nil
	cc.oc = nil
	// Bytes after the response's end belong to no request: a connection
	// holding any is closed, never pooled (they would answer the next
	// client's request).
	if oc.keep && bodySent && oc.c.InboundBuffered() == 0 {
		oc.l.putIdle(oc)
	} else {
		oc.close()
	}
	cc.exchangeDone(bodySent)
}

// broken cuts an exchange whose response went wrong after it started.
func (oc *originConn) broken() {
	oc.done(false, true)
	cc := oc.cc
	oc.cc = nil
	oc.close()
	if cc != nil {
		cc.oc = nil
		cc.fail(502)
	}
}

// timeout runs from the timer pass when the deadline passed: an idle
// connection is closed; one awaiting a response head gets the client 504.
func (oc *originConn) timeout() {
	if oc.state == ocIdle || oc.cc == nil {
		oc.close()
		return
	}
	oc.done(false, true)
	cc := oc.cc
	cc.oc, oc.cc = nil, nil
	oc.close()
	cc.originFailed(true, 504)
}

func (oc *originConn) close() {
	if oc.c != nil {
		_ = oc.l.el.Close(oc.c)
	}
}

// onClose: the origin connection is gone.
func (oc *originConn) onClose(error) {
	delete(oc.l.origins, oc)
	defer oc.releaseResponse()
	oc.l.unpause(&oc.pause, true)
	if oc.cc != nil && !oc.cc.closed {
		oc.l.unpause(&oc.cc.pause, false) // its sink is gone
	}
	if oc.state == ocIdle {
		oc.l.dropIdle(oc)
	}
	oc.c = nil
	cc := oc.cc
	oc.cc = nil
	if cc == nil || cc.oc != oc {
		return
	}
	cc.oc = nil
	switch oc.state {
	case ocHead:
		oc.done(false, true)
		if oc.answered {
			cc.fail(502) // a response began (held back whole): no retry
			return
		}
		// Closed before any response byte: a stale pooled connection
		// or an origin that refuses this request.
		cc.originFailed(true, 502)
	case ocBody:
		if oc.body.kind == http1.BodyUntilClose {
			oc.done(true, false) // a close-delimited body ends so
			cc.exchangeDone(false)
			return
		}
		oc.done(false, true) // the body was cut short
		cc.fail(502)
	case ocTunnel:
		oc.done(true, false)
		cc.closeFlushed()
	}
}

// releaseResponse gives the response parser back to the loop: pooled
// origin connections hold none.
func (oc *originConn) releaseResponse() {
	if oc.resp != nil {
		oc.l.putResponse(oc.resp)
		oc.resp = nil
	}
}

// begin makes the exchange assigned to this connection the holder of the
// slot the client side acquired on the server (take): done or abandon
// gives it back.
func (oc *originConn) begin(pl *pool.Pool) {
	oc.pl, oc.began = pl, time.Now()
}

// done ends the exchange's count once: a success or a failure for the
// server and the loop, and for passive health checking whether it was a
// connect error, reset, timeout, invalid response or 5xx.
func (oc *originConn) done(ok, passiveFail bool) {
	if oc.pl == nil {
		return
	}
	oc.pl.Report(oc.s, ok, passiveFail, time.Since(oc.began))
	oc.pl = nil
	if ok {
		oc.l.stats.originSuccess.Add(1)
	} else {
		oc.l.stats.originFailed.Add(1)
	}
}

// abandon ends the exchange's count without a verdict on the server: the
// client went away mid-exchange.
func (oc *originConn) abandon() {
	if oc.pl != nil {
		oc.pl.Release(oc.s)
		oc.pl = nil
	}
}
