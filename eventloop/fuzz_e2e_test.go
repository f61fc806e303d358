package eventloop_test

// End-to-end fuzz targets: arbitrary bytes from a client (FuzzProxyClient)
// or from an origin (FuzzProxyOrigin) go through a running proxy, and what
// comes out on the other side is judged by readers independent of package
// http1: net/http's http.ReadResponse on the client side, refParse (the
// recording origin of raworigin_test.go) on the origin side.
//
// One proxy and one recording origin per target and per process, started
// by the first input and shared by the rest (starting gnet per input would
// be far too slow); the F's cleanup stops them, so TestMain's leak check
// sees them gone. Inputs run one after another, so what the origin records
// between an input's start and its end (after settling) is that input's.
//
// Timeouts are short so that every input ends with the proxy closing the
// connection (ClientHead and ClientIdle 100 ms: a keep-alive connection,
// a head or a body that stops, all end within about 200 ms). Reading to
// the proxy's close rather than to a client-side idle guess is what makes
// "the origin received no request the client did not see answered" sound:
// once the proxy has closed the client connection it forwards nothing more
// for it.
//
// A panic in a gnet callback or on one of the proxy's goroutines is not
// recovered by gnet: it kills the process, which go test reports as a
// failure of the input (the fuzzer keeps it in testdata/fuzz). A panic on
// a worker of gnet's goroutine pool is recovered there and logged through
// the proxy's logger at ERROR ("goroutine pool panic"): fuzzLog catches it
// and the input fails.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeloop/edgeloop/eventloop"
	"github.com/edgeloop/edgeloop/http1"
)

const (
	// fuzzMaxInput: longer inputs are skipped. A pipeline of 16 KiB is
	// some 700 minimal requests, each an origin round trip; longer ones
	// find nothing new and would stretch an input past its time bound.
	fuzzMaxInput = 16 << 10
	// fuzzReadLimit bounds one input's exchange: the proxy must have
	// closed the client connection by then. Its slowest legitimate end is
	// the 3 s OriginResponse of FuzzProxyClient (which is itself a
	// failure); the usual one is ClientIdle or ClientHead, 100 to 200 ms.
	fuzzReadLimit = 6 * time.Second
	// fuzzSeqField is the field by which the recording origin numbers its
	// answers (FuzzProxyClient), so the client's responses can be matched
	// to the requests the origin received.
	fuzzSeqField = "X-Fuzz-Seq"
	// fuzzHeapLimit: the heap after many inputs stays under it (the
	// proxy's per-connection state is given back). Generous: the fuzzer's
	// own corpus and coverage data live in the same heap.
	fuzzHeapLimit = 256 << 20
	// fuzzHeapEvery: the heap is measured once per so many inputs
	// (ReadMemStats stops the world).
	fuzzHeapEvery = 64
	// fuzzIdlePerOrigin bounds the origin connections the proxy may keep
	// per loop; with 2 loops the origin has at most twice as many open
	// between inputs (a connection leak check).
	fuzzIdlePerOrigin = 2
	fuzzLoops         = 2
)

// fuzzClientOptions: FuzzProxyClient's proxy. The origin answers each
// request at once, so OriginResponse is generous: a 504 means that the
// proxy and the origin disagree on where a request ends.
func fuzzClientOptions() eventloop.Options {
	return eventloop.Options{
		Loops:         fuzzLoops,
		IdlePerOrigin: fuzzIdlePerOrigin,
		Timeouts: eventloop.Timeouts{
			ClientHead:     100 * time.Millisecond,
			ClientIdle:     100 * time.Millisecond,
			OriginConnect:  time.Second,
			OriginResponse: 3 * time.Second,
			OriginIdle:     5 * time.Second,
		},
	}
}

// fuzzOriginOptions: FuzzProxyOrigin's proxy. The origin closes after
// each answer; a response head still missing then ends as a 502 at once,
// and OriginResponse (500 ms) bounds anything else.
func fuzzOriginOptions() eventloop.Options {
	return eventloop.Options{
		Loops:         fuzzLoops,
		IdlePerOrigin: 1,
		Timeouts: eventloop.Timeouts{
			ClientHead:     time.Second,
			ClientIdle:     100 * time.Millisecond,
			OriginConnect:  time.Second,
			OriginResponse: 500 * time.Millisecond,
			OriginIdle:     2 * time.Second,
		},
	}
}

// ---------------------------------------------------------------------
// FuzzProxyClient: arbitrary client bytes.

// seedClientCorpus adds the seeds of FuzzProxyClient: requests valid and
// not, alone and pipelined, and the classic smuggling shapes.
func seedClientCorpus(f *testing.F) {
	for _, s := range []string{
		// Valid.
		"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n",
		"POST /form HTTP/1.1\r\nHost: example.org\r\nContent-Length: 5\r\n\r\nhello",
		"POST /up HTTP/1.1\r\nHost: example.org\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: example.org\r\n\r\nGET /b HTTP/1.1\r\nHost: example.org\r\n\r\n",
		"HEAD /h HTTP/1.1\r\nHost: a\r\n\r\nGET /g HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nTrailer: t\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /ten HTTP/1.0\r\nConnection: keep-alive\r\n\r\nPOST /ten HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi",
		"GET http://example.com:8080/abs?q=1 HTTP/1.1\r\nHost: other\r\n\r\n",
		"POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
		"GET /close HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\n\r\n",
		"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		"CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n",
		// Incomplete: a head, a body.
		"GET / HTTP/1.1\r\nHost: a\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc",
		// Invalid and smuggling shapes.
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-encoding: x\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel\r\n0\r\n\r\n",
		"GET / HTTP/1.1\nHost: a\n\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n Transfer-Encoding: chunked\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"get /lower HTTP/1.1\r\nHost: a\r\n\r\n",
		"",
	} {
		f.Add([]byte(s))
	}
}

// FuzzProxyClient sends arbitrary bytes as a client, on a fresh
// connection, reads until the proxy closes it, and checks:
//
//  1. The proxy closes the connection within fuzzReadLimit (no hang),
//     and does not panic (see the file comment).
//  2. What the client got parses with net/http as a sequence of whole
//     responses to GET (the origin answers HEAD with Content-Length: 0, so
//     a GET's reading frames every response the proxy may send here): no
//     trailing partial response, no body cut short.
//  3. Each response is either the origin's, identified by its X-Fuzz-Seq
//     field, or the proxy's own (no such field). A response with
//     Connection: close is the last: nothing follows it, so nothing
//     follows a 4xx/5xx of the proxy's own, which always says close. The
//     proxy's own never is 503 or 504: the single origin is always up and
//     answers at once, so a 504 means the proxy waited for a response to
//     a request the origin did not see end (they disagree on framing).
//  4. The origin's responses the client got are exactly the answers to
//     the requests the origin received during this input, in order, each
//     once, with the status and body the origin gave for that method.
//     This holds the number of requests the origin received to the number
//     of origin responses the client got, and more: no request reached the
//     origin that the client did not see answered (a smuggled request
//     would be one: the origin answers it, and the proxy, expecting one
//     response, drops or misroutes the second), and no answer went to the
//     wrong request or connection. Sound because the origin answers every
//     request it reads at once and nothing here delays the answer (no
//     timeout under 3 s can fire between the origin's answer and the
//     client's read), the client reads until the proxy closes (so every
//     answer the proxy relayed is read), and an exchange the proxy has
//     begun is ended by a response or by closing the client connection,
//     never by dropping it while the connection stays open.
//  5. refParse accepted every byte the origin received (its Errors did
//     not grow), except a message cut off by the proxy closing the origin
//     connection inside a request body (a client that stopped sending, or
//     a chunked body found broken midway): the cut-off stream must hold a
//     complete, valid head that refParse was waiting on the body of. A
//     stream cut inside a head is not allowed: the proxy writes a head
//     whole, before anything that could make it close.
//  6. After the input the origin has at most Loops*IdlePerOrigin
//     connections open (the proxy's idle pool), and every fuzzHeapEvery
//     inputs the heap is under fuzzHeapLimit.
func FuzzProxyClient(f *testing.F) {
	seedClientCorpus(f)
	s := newFuzzShared(f)
	rc := &fuzzRecorder{}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzMaxInput {
			return
		}
		s.start(t, rc.clientReply, fuzzClientOptions())
		s.clientInput(t, rc, data)
		s.afterInput(t)
	})
}

// clientReply is FuzzProxyClient's origin: 200 "ok" numbered by
// X-Fuzz-Seq; a HEAD gets Content-Length: 0, and a CONNECT a 405, so that
// no tunnel opens (the client's bytes after it would reach the origin raw,
// not as requests).
func (rc *fuzzRecorder) clientReply(r *refRequest) (string, bool) {
	seq := rc.record(r)
	switch r.Method {
	case "CONNECT":
		return fmt.Sprintf("HTTP/1.1 405 Method Not Allowed\r\n%s: %d\r\nContent-Length: 0\r\n\r\n", fuzzSeqField, seq), false
	case "HEAD":
		return fmt.Sprintf("HTTP/1.1 200 OK\r\n%s: %d\r\nContent-Length: 0\r\n\r\n", fuzzSeqField, seq), false
	}
	return fmt.Sprintf("HTTP/1.1 200 OK\r\n%s: %d\r\nContent-Length: 2\r\n\r\nok", fuzzSeqField, seq), false
}

// clientInput runs one FuzzProxyClient input and checks it.
func (s *fuzzShared) clientInput(t *testing.T, rc *fuzzRecorder, data []byte) {
	t.Helper()
	base := s.snapshot(rc)
	got, ended := s.exchange(t, data)
	s.settle(rc)
	if !ended {
		t.Fatalf("the proxy did not close the connection within %v\nclient sent %q\nclient got %q", fuzzReadLimit, data, got)
	}
	recs := rc.since(base.first)
	s.checkOrigin(t, base, len(recs), data)
	resps, err := fuzzParseResponses(got)
	if err != nil {
		t.Fatalf("client got a malformed response: %v\nclient sent %q\nclient got %q", err, data, got)
	}
	next := 0 // recs[next] is the request the next origin response answers
	for i, r := range resps {
		where := fmt.Sprintf("response %d of %d (at byte %d)", i+1, len(resps), r.off)
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("%s: %s\nclient sent %q\nclient got %q", where, fmt.Sprintf(format, args...), data, got)
		}
		switch {
		case r.bodyErr != nil:
			fail("body cut short: %v", r.bodyErr)
		case r.status == 101:
			fail("a 101 (the origin never switches protocols)")
		case r.status < 200:
			continue // an interim response
		case r.close && i < len(resps)-1:
			fail("says Connection: close, yet %d more responses follow", len(resps)-1-i)
		}
		seqText := r.header.Get(fuzzSeqField)
		if seqText == "" {
			// The proxy's own.
			if !r.close {
				fail("the proxy's own %d without Connection: close", r.status)
			}
			if r.status == 503 || r.status == 504 {
				fail("the proxy's own %d: the origin is up and answers every request it reads at once", r.status)
			}
			continue
		}
		seq, err := strconv.Atoi(seqText)
		switch {
		case err != nil || seq < base.first || seq >= base.first+len(recs):
			fail("answers origin request %q, not one of this input's %d..%d", seqText, base.first, base.first+len(recs)-1)
		case seq != base.first+next:
			fail("answers origin request %d, but %d comes first (skipped, repeated or out of order)", seq, base.first+next)
		}
		req := recs[next]
		next++
		status, body := 200, "ok"
		switch req.method {
		case "CONNECT":
			status, body = 405, ""
		case "HEAD":
			body = ""
		}
		if r.status != status || string(r.body) != body {
			fail("the origin answered %s %s with %d %q; the client got %d %q", req.method, req.target, status, body, r.status, r.body)
		}
	}
	if next != len(recs) {
		var missed []string
		for _, r := range recs[next:] {
			missed = append(missed, r.method+" "+r.target)
		}
		t.Fatalf("the origin received %d requests, the client got answers to %d; unanswered: %q\nclient sent %q\nclient got %q\norigin streams (tails) %q",
			len(recs), next, missed, data, got, fuzzTails(s.o))
	}
}

// fuzzTails returns the last KiB of the origin's last few streams, for
// failure messages (the whole would hold every earlier input's bytes).
func fuzzTails(o *rawOrigin) [][]byte {
	streams := o.Streams()
	streams = streams[max(0, len(streams)-4):]
	for i, b := range streams {
		streams[i] = b[max(0, len(b)-1024):]
	}
	return streams
}

// checkOrigin checks the origin's side of an input: every new framing
// error is an allowed cut-off, its request count agrees with the
// recorder's, and its open connections are within the proxy's idle pool.
func (s *fuzzShared) checkOrigin(t *testing.T, base fuzzState, recs int, data []byte) {
	t.Helper()
	o := s.o
	for _, e := range o.Errors()[base.errs:] {
		if why := fuzzCutOff(o, e); why != "" {
			t.Fatalf("the origin refused what the proxy sent: %v\n(%s)\nclient sent %q\norigin streams (tails) %q", e, why, data, fuzzTails(o))
		}
	}
	now := s.snapshot(nil)
	if n := now.reqs - base.reqs; n != recs {
		t.Fatalf("the origin read %d requests, its reply function saw %d", n, recs)
	}
	if limit := fuzzLoops * s.idlePerOrigin; now.conns > limit {
		t.Fatalf("the origin has %d connections open after the input, more than the proxy may keep idle (%d)", now.conns, limit)
	}
}

// fuzzCutOff returns "" when err is a message the proxy cut off inside a
// request body (see FuzzProxyClient, 5), else why it is not one.
func fuzzCutOff(o *rawOrigin, err error) string {
	msg := err.Error()
	var conn int
	if _, e := fmt.Sscanf(msg, "connection %d:", &conn); e != nil {
		return "no connection number"
	}
	if !strings.Contains(msg, ": ends inside a message: ") {
		return "a framing error"
	}
	streams := o.Streams()
	if conn < 1 || conn > len(streams) {
		return "no such connection"
	}
	rest := streams[conn-1]
	for {
		_, n, perr := refParse(rest)
		if errors.Is(perr, errRefNeedMore) {
			break
		}
		if perr != nil {
			return "the stream does not parse: " + perr.Error()
		}
		rest = rest[n:]
	}
	if !bytes.Contains(rest, []byte("\r\n\r\n")) {
		return fmt.Sprintf("cut inside a head: %q", rest)
	}
	return ""
}

// ---------------------------------------------------------------------
// FuzzProxyOrigin: arbitrary origin bytes.

// fuzzOriginRequest is the one request of each FuzzProxyOrigin input:
// keep-alive, so that anything the proxy would send after the response
// (a second response) reaches the client before ClientIdle closes.
const fuzzOriginRequest = "GET /fuzz HTTP/1.1\r\nHost: example.org\r\n\r\n"

// seedOriginCorpus adds the seeds of FuzzProxyOrigin: responses valid,
// broken, and shaped for splitting and desync.
func seedOriginCorpus(f *testing.F) {
	for _, s := range []string{
		// Valid.
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nTrailer: t\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the origin closes",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nzz\r\n0\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
		// Framing conflicts and lies.
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\nhello",
		"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",               // bodyless, as to a HEAD
		"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nonly this", // cut short, large
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
		"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n0123456789",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nhello",
		// Splitting: extra bytes, a second response, bare CR and LF.
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA",
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil",
		"HTTP/1.1 200 OK\r\nX: a\rContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
		"HTTP/1.1 200 OK\r\nX: a\r\n Content-Length: 0\r\n\r\n",
		// Not a response.
		"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/9.9 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nraw bytes",
		"garbage",
		"",
	} {
		f.Add([]byte(s))
	}
}

// FuzzProxyOrigin makes the origin answer a fixed GET (fuzzOriginRequest,
// a fresh client connection per input) with arbitrary bytes, then close;
// the client reads until the proxy closes. It checks:
//
//  1. The proxy closes within fuzzReadLimit and does not panic.
//  2. The client's bytes parse with net/http as interim (1xx) responses,
//     then one final response, then nothing: no second response. After a
//     101 nothing is checked (the rest is the tunnel's).
//  3. The final response is, in net/http's reading of the origin's bytes
//     (the reference), the origin's final response (same status), or the
//     proxy's own 502/504, which says Connection: close (the connection
//     ends after it by 2). A different status from the origin's is a
//     failure; when net/http cannot read the origin's bytes at all, any
//     well-framed response passes (the proxy may accept what net/http
//     does not).
//  4. The origin's response, relayed whole, has the body net/http reads
//     from the origin's bytes when it reads one whole: a different body
//     means the two frame the same bytes differently. Relayed cut short
//     (the proxy closes to show the truncation), what the client got of
//     the body is a prefix of the body net/http reads.
//  5. The origin received one GET /fuzz, well-framed (its Errors do not
//     grow); two when it answered nothing (the proxy retries once a
//     request that got no byte of answer), none only with a 502.
func FuzzProxyOrigin(f *testing.F) {
	seedOriginCorpus(f)
	s := newFuzzShared(f)
	rc := &fuzzRecorder{}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzMaxInput {
			return
		}
		s.start(t, rc.originReply, fuzzOriginOptions())
		d := append([]byte(nil), data...)
		rc.answer.Store(&d)
		s.originInput(t, rc, data)
		s.afterInput(t)
	})
}

// originReply is FuzzProxyOrigin's origin: the input's bytes, then close.
func (rc *fuzzRecorder) originReply(r *refRequest) (string, bool) {
	rc.record(r)
	if d := rc.answer.Load(); d != nil {
		return string(*d), true
	}
	return "", true
}

// originInput runs one FuzzProxyOrigin input and checks it.
func (s *fuzzShared) originInput(t *testing.T, rc *fuzzRecorder, data []byte) {
	t.Helper()
	base := s.snapshot(rc)
	got, ended := s.exchange(t, []byte(fuzzOriginRequest))
	s.settle(rc)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s\norigin sent %q\nclient got %q", fmt.Sprintf(format, args...), data, got)
	}
	if !ended {
		fail("the proxy did not close the connection within %v", fuzzReadLimit)
	}
	resps, err := fuzzParseResponses(got)
	if err != nil {
		fail("client got a malformed response: %v", err)
	}
	final := -1
	for i, r := range resps {
		if r.status >= 200 || r.status == 101 {
			final = i
			break
		}
	}
	switch {
	case final < 0:
		fail("no final response (%d interim)", len(resps))
	case final < len(resps)-1:
		fail("%d more responses after the final one", len(resps)-1-final)
	}
	r := resps[final]
	ref := fuzzRefResponse(data)
	relayed := ref.headOK && ref.status == r.status
	switch {
	case r.status == 101:
		// A tunnel: what follows is the origin's bytes, not HTTP.
	case !relayed && fuzzProxyError(r):
		if !r.close {
			fail("the proxy's own %d without Connection: close", r.status)
		}
	case !relayed && ref.headOK:
		fail("client got status %d, the origin's final response is %d", r.status, ref.status)
	case !relayed:
		// net/http cannot read the origin's bytes; the proxy relayed
		// something it could read, well framed (2).
	case r.bodyErr != nil:
		if !bytes.HasPrefix(ref.body, r.body) {
			fail("relayed cut short (%v), and what came of the body %q is not a prefix of the origin's %q", r.bodyErr, r.body, ref.body)
		}
	case ref.whole && !bytes.Equal(r.body, ref.body):
		fail("relayed body %q, the origin's is %q", r.body, ref.body)
	}
	recs := rc.since(base.first)
	for _, q := range recs {
		if q.method != "GET" || q.target != "/fuzz" {
			fail("the origin received %s %s, not GET /fuzz", q.method, q.target)
		}
	}
	switch n := len(recs); {
	case n > 2:
		fail("the origin received %d requests for one", n)
	case n == 2 && len(data) > 0:
		fail("the origin received the request twice, though it answered the first")
	case n == 0 && !(r.status == 502 && fuzzProxyError(r)):
		fail("the origin received no request, and the client got %d, not the proxy's 502", r.status)
	}
	if errs := s.o.Errors()[base.errs:]; len(errs) > 0 {
		fail("the origin refused what the proxy sent: %v", errs)
	}
	if limit := fuzzLoops * s.idlePerOrigin; s.snapshot(nil).conns > limit {
		fail("the origin has more than %d connections open after the input", limit)
	}
}

// fuzzProxyError reports whether r looks like an error of the proxy's own
// (appendError): 502 or 504, its text body.
func fuzzProxyError(r fuzzResp) bool {
	return (r.status == 502 || r.status == 504) && r.bodyErr == nil &&
		string(r.body) == http1.StatusText(r.status)+"\n" &&
		r.header.Get("Content-Type") == "text/plain; charset=utf-8"
}

// fuzzRef is net/http's reading of the origin's bytes: the final
// response's status and body, whether the head parsed, and whether the
// body did whole.
type fuzzRef struct {
	headOK bool
	status int
	body   []byte
	whole  bool
}

func fuzzRefResponse(data []byte) fuzzRef {
	br := bufio.NewReader(bytes.NewReader(data))
	for {
		resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
		if err != nil {
			return fuzzRef{}
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 200 || resp.StatusCode == 101 {
			return fuzzRef{headOK: true, status: resp.StatusCode, body: body, whole: err == nil}
		}
	}
}

// ---------------------------------------------------------------------
// Shared by both targets.

// fuzzShared is the proxy and the recording origin of one target, shared
// by its inputs in one process.
type fuzzShared struct {
	once          sync.Once
	p             *testProxy
	o             *rawOrigin
	log           *fuzzLog
	idlePerOrigin int
	cleanups      []func()
	inputs        int
}

// newFuzzShared registers on f the cleanup that stops what the first
// input will start (F methods cannot be called inside the fuzz function).
func newFuzzShared(f *testing.F) *fuzzShared {
	s := &fuzzShared{}
	f.Cleanup(func() {
		for i := len(s.cleanups) - 1; i >= 0; i-- {
			s.cleanups[i]()
		}
	})
	return s
}

// fuzzSetupTB is the first input's T with the cleanups moved to the F's:
// startProxy and startRawOrigin register theirs on it.
type fuzzSetupTB struct {
	testing.TB
	s *fuzzShared
}

func (tb fuzzSetupTB) Cleanup(fn func()) { tb.s.cleanups = append(tb.s.cleanups, fn) }

// start starts the origin and the proxy on the first call.
func (s *fuzzShared) start(t *testing.T, reply func(*refRequest) (string, bool), o eventloop.Options) {
	t.Helper()
	s.once.Do(func() {
		tb := fuzzSetupTB{TB: t, s: s}
		s.log = &fuzzLog{}
		s.o = startRawOrigin(tb, reply)
		o.Origins = []string{s.o.Addr()}
		o.Logger = slog.New(s.log)
		s.idlePerOrigin = o.IdlePerOrigin
		s.p = startProxy(tb, o)
	})
	if s.p == nil {
		t.Fatal("the shared proxy did not start (see the first input)")
	}
}

// exchange sends data on a fresh connection and reads until the proxy
// closes it; ended is false when fuzzReadLimit passed first.
func (s *fuzzShared) exchange(t *testing.T, data []byte) (got []byte, ended bool) {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.p.Addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial the proxy: %v", err)
	}
	defer c.Close()
	c.SetWriteDeadline(time.Now().Add(ioTimeout))
	_, _ = c.Write(data) // the proxy may close before it took all
	c.SetReadDeadline(time.Now().Add(fuzzReadLimit))
	buf := make([]byte, 32<<10)
	for {
		k, err := c.Read(buf)
		got = append(got, buf[:k]...)
		if err != nil {
			var ne net.Error
			// EOF, or a reset when the proxy closed with bytes of ours
			// unread: the bytes sent before it were read first.
			return got, !(errors.As(err, &ne) && ne.Timeout())
		}
	}
}

// afterInput fails the input on a panic the proxy logged, and measures the
// heap now and then.
func (s *fuzzShared) afterInput(t *testing.T) {
	t.Helper()
	if msgs := s.log.panics(); len(msgs) > 0 {
		t.Fatalf("the proxy logged a panic: %q", msgs)
	}
	s.inputs++
	if s.inputs%fuzzHeapEvery == 0 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapAlloc > fuzzHeapLimit {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > fuzzHeapLimit {
				t.Fatalf("heap %d MiB after %d inputs, over %d MiB", ms.HeapAlloc>>20, s.inputs, fuzzHeapLimit>>20)
			}
		}
	}
}

// fuzzState is what the origin (and the recorder) hold at one time.
type fuzzState struct {
	received, reqs, errs, conns int
	first, records              int // the recorder's: next sequence number, requests seen
}

// snapshot reads the origin's counts, and the recorder's when rc is given.
func (s *fuzzShared) snapshot(rc *fuzzRecorder) fuzzState {
	o := s.o
	o.mu.Lock()
	st := fuzzState{reqs: len(o.reqs), errs: len(o.errs), conns: len(o.conns)}
	for _, b := range o.streams {
		st.received += len(b)
	}
	o.mu.Unlock()
	if rc != nil {
		rc.mu.Lock()
		st.first, st.records = rc.first+len(rc.reqs), len(rc.reqs)
		rc.mu.Unlock()
	}
	return st
}

// settle waits until the origin has taken in all the proxy sent for the
// input: its counts unchanged over a few polls. The client has seen the
// proxy close, so the proxy has sent and closed all it will; what is left
// is the origin's goroutines catching up (reading the last bytes, seeing
// a close).
func (s *fuzzShared) settle(rc *fuzzRecorder) {
	var last fuzzState
	deadline := time.Now().Add(time.Second)
	for quiet := 0; quiet < 4 && time.Now().Before(deadline); {
		time.Sleep(2 * time.Millisecond)
		if now := s.snapshot(rc); now != last {
			last, quiet = now, 0
		} else {
			quiet++
		}
	}
}

// fuzzRecorder numbers the requests the origin answers.
type fuzzRecorder struct {
	mu    sync.Mutex
	first int // sequence number of reqs[0]
	reqs  []fuzzReq
	// answer: FuzzProxyOrigin's reply, the current input's bytes.
	answer atomic.Pointer[[]byte]
}

type fuzzReq struct{ method, target string }

// record keeps r and returns its sequence number.
func (rc *fuzzRecorder) record(r *refRequest) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.reqs = append(rc.reqs, fuzzReq{method: r.Method, target: r.Target})
	return rc.first + len(rc.reqs) - 1
}

// since returns the requests numbered from first on, and forgets those
// before (inputs run one after another: earlier ones are done).
func (rc *fuzzRecorder) since(first int) []fuzzReq {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if k := first - rc.first; k > 0 {
		rc.reqs = append(rc.reqs[:0], rc.reqs[min(k, len(rc.reqs)):]...)
		rc.first = first
	}
	return append([]fuzzReq(nil), rc.reqs...)
}

// fuzzResp is one response as the client read it.
type fuzzResp struct {
	off     int // where it starts in the client's bytes
	status  int
	header  http.Header
	close   bool // Connection: close
	body    []byte
	bodyErr error // the body ended early or was malformed
}

// fuzzParseResponses splits a client's bytes into responses to GET with
// net/http, bodies read whole. A response whose body fails ends the list
// (with bodyErr set); so does a 101 (what follows is another protocol).
// Bytes that are not a response head are an error.
func fuzzParseResponses(b []byte) ([]fuzzResp, error) {
	var out []fuzzResp
	for off := 0; off < len(b); {
		r, n, err := fuzzReadResponse(b[off:])
		if err != nil {
			return out, fmt.Errorf("response %d at byte %d: %w", len(out)+1, off, err)
		}
		r.off = off
		out = append(out, r)
		if r.bodyErr != nil || r.status == 101 {
			return out, nil
		}
		off += n
	}
	return out, nil
}

// fuzzReadResponse reads the response at the start of b with net/http and
// returns it and the bytes it took. net/http knows one transfer coding,
// chunked alone (like nginx), while the proxy passes codings on (RFC 9112
// §6.1): such a head is read as its framing says, RFC 9112 §6.3 (4): as
// chunked alone when the final coding is chunked, else as a body that
// runs until the connection closes.
func fuzzReadResponse(b []byte) (fuzzResp, int, error) {
	rd := bytes.NewReader(b)
	br := bufio.NewReader(rd)
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	shift := 0 // bytes the rewritten head is longer than the original
	if err != nil && strings.Contains(err.Error(), "unsupported transfer encoding") {
		end := bytes.Index(b, []byte("\r\n\r\n"))
		if end < 0 {
			return fuzzResp{}, 0, err
		}
		head, herr := fuzzFramingForNetHTTP(b[:end+2])
		if herr != nil {
			return fuzzResp{}, 0, herr
		}
		nb := append(head, b[end+2:]...)
		shift = len(nb) - len(b)
		rd = bytes.NewReader(nb)
		br = bufio.NewReader(rd)
		resp, err = http.ReadResponse(br, &http.Request{Method: "GET"})
	}
	if err != nil {
		return fuzzResp{}, 0, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	n := int(rd.Size()) - rd.Len() - br.Buffered() - shift
	return fuzzResp{status: resp.StatusCode, header: resp.Header, close: resp.Close, body: body, bodyErr: err}, n, nil
}

// fuzzFramingForNetHTTP rewrites a head (through the CRLF of its last
// field line) that has Transfer-Encoding to say what net/http reads alike:
// "Transfer-Encoding: chunked" when the final coding is chunked, else no
// Transfer-Encoding (until close, RFC 9112 §6.3 (4)). Content-Length
// beside Transfer-Encoding is an error: the proxy must never send both.
func fuzzFramingForNetHTTP(head []byte) ([]byte, error) {
	var out []byte
	last := ""
	for _, line := range strings.SplitAfter(string(head), "\r\n") {
		name, value, _ := strings.Cut(line, ":")
		switch {
		case strings.EqualFold(name, "transfer-encoding"):
			if v := strings.Trim(value, " \t\r\n,"); v != "" {
				codings := strings.Split(v, ",")
				last = strings.ToLower(strings.TrimSpace(codings[len(codings)-1]))
			}
		case strings.EqualFold(name, "content-length"):
			return nil, errors.New("fuzz: Content-Length and Transfer-Encoding together")
		default:
			out = append(out, line...)
		}
	}
	if last == "chunked" {
		out = append(out, "Transfer-Encoding: chunked\r\n"...)
	}
	return out, nil
}

// fuzzLog is the proxy's log handler: it keeps ERROR records that
// mention a panic (gnet's pool logs the panics it recovers so).
type fuzzLog struct {
	mu   sync.Mutex
	msgs []string
}

func (h *fuzzLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }

func (h *fuzzLog) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(strings.ToLower(r.Message), "panic") {
		h.mu.Lock()
		if len(h.msgs) < 16 {
			h.msgs = append(h.msgs, r.Message)
		}
		h.mu.Unlock()
	}
	return nil
}

func (h *fuzzLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *fuzzLog) WithGroup(string) slog.Handler      { return h }

func (h *fuzzLog) panics() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.msgs...)
}
