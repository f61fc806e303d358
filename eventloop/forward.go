package eventloop

import (
	"bytes"
	"strconv"

	"github.com/edgeloop/edgeloop/http1"
)

// The heads the proxy writes: what it forwards of a request to the origin
// and of a response to the client, with the proxy duties of RFC 9110 §7.6
// (sanitise first, then add our own fields).

const viaValue = "1.1 edgeloop"

// appendRequestHead writes the request head to send to the origin: the
// request-line in origin-form, the client's fields without hop-by-hop ones
// and those the Connection field names, then Via and the X-Forwarded-*
// fields. clientIP is the client's address; originAddr stands in for a
// missing Host; dropExpect leaves out an Expect the proxy answered.
func appendRequestHead(dst []byte, r *http1.Request, b []byte, clientIP, originAddr string, dropExpect bool) []byte {
	target := r.Target.Of(b)
	if r.Form == http1.FormAbsolute {
		// RFC 9112 §3.2.2: to an origin the target is origin-form; the
		// absolute form's authority replaces Host.
		target = target[r.Authority.End()-int(r.Target.Off):]
	}
	dst = append(append(dst, r.Method.Of(b)...), ' ')
	switch {
	case r.Form == http1.FormAsterisk:
		// RFC 9112 §3.2.4: "OPTIONS *" goes on as it came.
	case len(target) == 0 && r.MethodKind == http1.MethodOptions:
		// §3.2.4: an OPTIONS for "http://h" (no path, no query) is
		// forwarded to the origin as "OPTIONS *".
		dst = append(dst, '*')
	case len(target) == 0 || target[0] != '/':
		dst = append(dst, '/') // "http://h" or "http://h?q"
	}
	dst = append(append(dst, target...), " HTTP/1.1\r\n"...)
	upgrade := relaysUpgrade(r, b)
	hops, hopsSet, _ := maxForwards(r, b)
	for _, f := range r.Fields() {
		name := f.Name.Of(b)
		switch {
		case http1.IsHopByHop(name):
			// RFC 9110 §7.6.1. Transfer-Encoding is written again below
			// when the body is chunked; Upgrade when one is asked for.
			continue
		case equalFold(name, "host"):
			// Kept even when Connection names it: an HTTP/1.1 request
			// without Host is invalid, and the origin would route it by
			// something else (RFC 9112 §3.2).
			if r.Form == http1.FormAbsolute {
				continue
			}
		case r.ListedInConnection(b, name):
			continue
		case equalFold(name, "content-length"):
			continue // written once below, repeated values merged
		case equalFold(name, "x-forwarded-for"):
			continue // appended to below, as one list
		case equalFold(name, "x-forwarded-proto"), equalFold(name, "x-forwarded-host"):
			continue // set by us
		case dropExpect && equalFold(name, "expect"):
			continue // answered by the proxy
		case hopsSet && equalFold(name, "max-forwards"):
			continue // decremented below
		}
		dst = http1.AppendField(dst, name, f.Value.Of(b))
	}
	switch {
	case r.Form == http1.FormAbsolute:
		dst = http1.AppendField(dst, "Host", r.Authority.Of(b))
	case !r.Flags.Has(http1.FlagHost):
		dst = http1.AppendField(dst, "Host", originAddr)
	}
	switch r.Body.Kind {
	case http1.BodyLength:
		dst = http1.AppendContentLength(dst, r.Body.Length)
	case http1.BodyChunked:
		// The codings are forwarded as received: chunked stays chunked,
		// and codings before it are the content's.
		dst = appendTransferEncoding(dst, &r.Head, b)
	}
	if upgrade {
		if v, ok := r.Get(b, "upgrade"); ok {
			dst = http1.AppendField(dst, "Connection", "Upgrade")
			dst = http1.AppendField(dst, "Upgrade", v)
		}
	}
	if hopsSet {
		// RFC 9110 §7.6.2: one hop fewer (readHead answered a zero).
		dst = append(dst, "Max-Forwards: "...)
		dst = append(strconv.AppendInt(dst, hops-1, 10), "\r\n"...)
	}
	dst = http1.AppendField(dst, "Via", viaValue)
	// One X-Forwarded-For: the values received, in order (empty ones add
	// nothing), then the client's address.
	dst = append(dst, "X-Forwarded-For: "...)
	for _, f := range r.Fields() {
		if v := f.Value.Of(b); len(v) > 0 && equalFold(f.Name.Of(b), "x-forwarded-for") {
			dst = append(append(dst, v...), ", "...)
		}
	}
	dst = append(append(dst, clientIP...), "\r\n"...)
	dst = http1.AppendField(dst, "X-Forwarded-Proto", "http")
	host := r.Host.Of(b)
	if r.Form == http1.FormAbsolute {
		host = r.Authority.Of(b)
	}
	if len(host) > 0 {
		dst = http1.AppendField(dst, "X-Forwarded-Host", host)
	}
	return http1.AppendEndOfHead(dst)
}

// appendTransferEncoding writes the Transfer-Encoding fields of h again,
// as one field: RFC 9110 §5.3 makes several lines one list, but a next hop
// that reads only the first (or refuses two, as net/http does) would
// frame the body otherwise.
func appendTransferEncoding(dst []byte, h *http1.Head, b []byte) []byte {
	dst = append(dst, "Transfer-Encoding: "...)
	first := true
	for _, f := range h.Fields() {
		if !equalFold(f.Name.Of(b), "transfer-encoding") {
			continue
		}
		v := bytes.Trim(f.Value.Of(b), " \t,")
		if len(v) == 0 {
			continue
		}
		if !first {
			dst = append(dst, ", "...)
		}
		dst, first = append(dst, v...), false
	}
	return append(dst, "\r\n"...)
}

// respFraming says how the proxy frames a response toward its client.
type respFraming struct {
	body      http1.Body
	dechunk   bool   // chunked from the origin, close-delimited to a 1.0 client
	keepAlive bool   // the client connection stays open after it
	client10  bool   // the client spoke HTTP/1.0
	interim   bool   // a 1xx before the final response: no framing, no Connection
	date      []byte // the proxy's Date value, for a response that has none
}

// appendResponseHead writes the response head for the client: status line,
// the origin's fields without hop-by-hop ones, framing and Connection as
// the proxy decided, and Via.
func appendResponseHead(dst []byte, r *http1.Response, b []byte, fr respFraming, tunnel bool) []byte {
	dst = http1.AppendStatusLine(dst, r.Status, r.Reason.Of(b))
	dated := false
	for _, f := range r.Fields() {
		name := f.Name.Of(b)
		if http1.IsHopByHop(name) || r.ListedInConnection(b, name) || equalFold(name, "content-length") {
			continue
		}
		dated = dated || equalFold(name, "date")
		dst = http1.AppendField(dst, name, f.Value.Of(b))
	}
	if !dated && !fr.interim && len(fr.date) > 0 {
		// RFC 9110 §6.6.1: a recipient with a clock forwarding a
		// response without Date appends one.
		dst = http1.AppendField(dst, "Date", fr.date)
	}
	switch {
	case tunnel && r.Status == 101:
		if v, ok := r.Get(b, "upgrade"); ok {
			dst = http1.AppendField(dst, "Upgrade", v)
		}
		dst = http1.AppendField(dst, "Connection", "Upgrade")
	case fr.body.Kind == http1.BodyChunked && !fr.dechunk:
		// Only chunked reaches here: readHead refuses other codings.
		dst = appendTransferEncoding(dst, &r.Head, b)
	case fr.body.Kind == http1.BodyLength:
		dst = http1.AppendContentLength(dst, fr.body.Length)
	case fr.body.Kind == http1.BodyNone && r.ContentLength >= 0 && r.Status >= 200 && r.Status != 204 && !fr.interim:
		// A HEAD or 304 response keeps the length it announces
		// (RFC 9110 §8.6).
		dst = http1.AppendContentLength(dst, r.ContentLength)
	}
	switch {
	case tunnel, fr.interim:
	case !fr.keepAlive:
		dst = http1.AppendField(dst, "Connection", "close")
	case fr.client10:
		dst = http1.AppendField(dst, "Connection", "keep-alive") // RFC 9112 §9.3
	}
	dst = http1.AppendField(dst, "Via", viaValue)
	return http1.AppendEndOfHead(dst)
}

// appendError writes a complete response of the proxy's own; date is the
// value of its Date field (RFC 9110 §6.6.1).
func appendError(dst []byte, status int, date []byte) []byte {
	text := http1.StatusText(status)
	dst = http1.AppendStatusLine(dst, status, "")
	dst = http1.AppendField(dst, "Date", date)
	dst = http1.AppendField(dst, "Content-Type", "text/plain; charset=utf-8")
	dst = http1.AppendContentLength(dst, int64(len(text)+1))
	dst = http1.AppendField(dst, "Connection", "close")
	if status == 503 {
		// RFC 9110 §10.2.3: no server (or no free one) now; try in a second.
		dst = http1.AppendField(dst, "Retry-After", "1")
	}
	if status == 405 {
		dst = http1.AppendField(dst, "Allow", allowed) // RFC 9110 §15.5.6
	}
	dst = http1.AppendField(dst, "Via", viaValue)
	dst = http1.AppendEndOfHead(dst)
	return append(append(dst, text...), '\n')
}

// equalFold compares ASCII case-insensitively against a lower-case s.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// replaceHost rewrites the value of the Host field of a forwarded head
// that had none from the client (so its only Host line is the one
// appendRequestHead wrote: a field name cannot repeat it, a value cannot
// hold CRLF) to addr, for a retry on another origin. Rare: it may
// allocate.
func replaceHost(head []byte, addr string) []byte {
	const name = "\r\nHost: "
	i := bytes.Index(head, []byte(name))
	if i < 0 {
		return head
	}
	i += len(name)
	j := bytes.Index(head[i:], []byte("\r\n"))
	if j < 0 {
		return head
	}
	rest := append([]byte(nil), head[i+j:]...)
	return append(append(head[:i], addr...), rest...)
}

// relaysUpgrade says whether the proxy passes the client's Upgrade on
// (and so whether a 101 may answer it). Not from an HTTP/1.0 client
// (RFC 9110 §7.8: a server ignores Upgrade in 1.0), and not to h2c: a
// cleartext HTTP/2 tunnel through the proxy would carry requests the
// proxy never sees, past its routing and limits (h2c smuggling), and RFC
// 9113 §3.1 has dropped that upgrade anyway. The request then goes on
// as a plain HTTP/1.1 request.
func relaysUpgrade(r *http1.Request, b []byte) bool {
	if !r.Flags.Has(http1.FlagUpgrade) || !r.Is11() {
		return false
	}
	v, ok := r.Get(b, "upgrade")
	if !ok {
		return false
	}
	for len(v) > 0 {
		var p []byte
		p, v = cutItem(v, ',')
		if i := bytes.IndexByte(p, '/'); i >= 0 {
			p = p[:i]
		}
		if equalFold(p, "h2c") {
			return false
		}
	}
	return true
}

// allowed is the Allow value of the proxy's own answers: the methods it
// forwards (any other token method is forwarded too; these are the ones
// worth naming). Not CONNECT, which a reverse proxy refuses, nor TRACE.
const allowed = "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS"

// maxHops caps a Max-Forwards value (RFC 9110 §7.6.2 lets a recipient
// forward the lesser of the value less one and its own maximum).
const maxHops = 1 << 31

// maxForwards reads the Max-Forwards field of a TRACE or OPTIONS request,
// the only methods it applies to (RFC 9110 §7.6.2; other methods forward
// it untouched). set says there is one; valid is false when there are
// several or the value is not 1*DIGIT (the request is refused).
func maxForwards(r *http1.Request, b []byte) (hops int64, set, valid bool) {
	if r.MethodKind != http1.MethodTrace && r.MethodKind != http1.MethodOptions {
		return 0, false, true
	}
	for _, f := range r.Fields() {
		if !equalFold(f.Name.Of(b), "max-forwards") {
			continue
		}
		v := f.Value.Of(b)
		if set || len(v) == 0 {
			return 0, true, false
		}
		set = true
		for _, c := range v {
			if c < '0' || c > '9' {
				return 0, true, false
			}
			if hops < maxHops {
				hops = hops*10 + int64(c-'0')
			}
		}
		hops = min(hops, maxHops)
	}
	return hops, set, true
}

// appendFinalAnswer writes the proxy's answer, as the final recipient, to
// a TRACE or OPTIONS request whose Max-Forwards is 0: OPTIONS lists the
// methods forwarded; TRACE is not echoed (it would reflect credentials
// to scripts, the cross-site tracing attack), so it gets 405 as nginx
// gives it. The connection closes after it, as after any answer of the
// proxy's own, since a body the request may carry is not read.
func appendFinalAnswer(dst []byte, trace bool, date []byte) []byte {
	status := 200
	if trace {
		status = 405
	}
	dst = http1.AppendStatusLine(dst, status, "")
	dst = http1.AppendField(dst, "Date", date)
	dst = http1.AppendField(dst, "Allow", allowed)
	dst = http1.AppendContentLength(dst, 0)
	dst = http1.AppendField(dst, "Connection", "close")
	dst = http1.AppendField(dst, "Via", viaValue)
	return http1.AppendEndOfHead(dst)
}
