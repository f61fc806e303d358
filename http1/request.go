package http1

import (
	"bytes"
	"net/netip"
	"strings"
)

// Method identifies the methods whose semantics the proxy needs; any other
// valid token is MethodOther (and is forwarded all the same).
type Method uint8

const (
	MethodOther Method = iota
	MethodGet
	MethodHead
	MethodPost
	MethodPut
	MethodDelete
	MethodConnect
	MethodOptions
	MethodTrace
	MethodPatch
)

// Idempotent reports whether a retry cannot change the outcome
// (RFC 9110 §9.2.2). Unknown methods are not.
func (m Method) Idempotent() bool {
	switch m {
	case MethodGet, MethodHead, MethodPut, MethodDelete, MethodOptions, MethodTrace:
		return true
	}
	return false
}

// methodOf names a method token; methods are case-sensitive (RFC 9110 §9.1).
func methodOf(m []byte) Method {
	switch len(m) {
	case 3:
		switch string(m) {
		case "GET":
			return MethodGet
		case "PUT":
			return MethodPut
		}
	case 4:
		switch string(m) {
		case "HEAD":
			return MethodHead
		case "POST":
			return MethodPost
		}
	case 5:
		switch string(m) {
		case "PATCH":
			return MethodPatch
		case "TRACE":
			return MethodTrace
		}
	case 6:
		if string(m) == "DELETE" {
			return MethodDelete
		}
	case 7:
		switch string(m) {
		case "CONNECT":
			return MethodConnect
		case "OPTIONS":
			return MethodOptions
		}
	}
	return MethodOther
}

// TargetForm is the form of a request-target (RFC 9112 §3.2).
type TargetForm uint8

const (
	FormOrigin    TargetForm = iota // /path?query
	FormAbsolute                    // http://host/path: to a proxy
	FormAuthority                   // host:port, CONNECT only
	FormAsterisk                    // *, OPTIONS only
)

// Request is a parsed request head. Its spans point into the buffer given
// to Parse. A Request is reused across the requests of a connection:
// Reset between them. It holds a fixed array of fields (about 2 KiB), so
// keep one per connection rather than one per request.
type Request struct {
	Head
	Method     Span
	Target     Span
	MethodKind Method
	Form       TargetForm
	// Authority is the host[:port] of an absolute-form or authority-form
	// target; empty otherwise.
	Authority Span
	// Body is how the body is framed, decided when the head completes.
	Body Body
}

// Reset readies r for the next request, keeping its Limits.
func (r *Request) Reset() {
	r.reset()
	r.Method, r.Target, r.MethodKind, r.Form, r.Authority, r.Body = Span{}, Span{}, 0, 0, Span{}, Body{}
}

// Parse parses the request head at the start of b. It returns the head's
// length in bytes, or ErrNeedMore when b ends inside the head: then call
// again with b extended (the same prefix, more bytes), and only the new
// bytes are scanned. Any other error is an *Error carrying the status to
// answer; the connection must be closed after it, since its framing is in
// doubt. Once it returned n > 0 it keeps returning n until Reset.
//
// A fresh Request (zero value) is ready; reuse one with Reset.
func (r *Request) Parse(b []byte) (int, error) {
	if n, err, ok := r.settled(); ok {
		return n, err
	}
	return r.record(r.parse(b))
}

func (r *Request) parse(b []byte) (int, error) {
	if r.phase == phaseStart {
		if r.pos == 0 && r.scan == 0 {
			r.ContentLength = -1
		}
		if err := r.requestLine(b); err != nil {
			return 0, err
		}
	}
	n, err := r.moreFields(b, true)
	if err != nil {
		return 0, err
	}
	if err := r.finish(); err != nil {
		return 0, err
	}
	return n, nil
}

// requestLine finds and parses the request-line, skipping empty lines
// before it.
func (r *Request) requestLine(b []byte) error {
	maxLine := r.Limits.requestLine()
	for {
		// RFC 9112 §3: 414 for a request-line longer than we accept;
		// its CRLF must end below limit.
		cr, err := r.line(b, r.pos+maxLine+2, ErrRequestLineSize)
		if err != nil {
			return err
		}
		start := r.pos
		r.pos = cr + 2
		if cr == start {
			// RFC 9112 §2.2: a server SHOULD ignore at least one empty
			// line before the request-line. They count toward the limit,
			// so a stream of them is bounded.
			if r.pos > maxLine {
				return ErrRequestLineSize
			}
			continue
		}
		if err := r.parseRequestLine(b, start, cr); err != nil {
			return err
		}
		r.phase, r.fieldsStart = phaseFields, r.pos
		return nil
	}
}

// parseRequestLine: request-line = method SP request-target SP
// HTTP-version (RFC 9112 §3), single spaces, nothing else.
func (r *Request) parseRequestLine(b []byte, start, end int) error {
	line := b[start:end]
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 == sp1 {
		return badLine(line, ErrRequestLine)
	}
	method := line[:sp1]
	for _, c := range method {
		if !tokenChar[c] { // RFC 9110 §9.1: method = token
			return badByte(c, ErrMethod)
		}
	}
	target := line[sp1+1 : sp2]
	if len(target) == 0 {
		return ErrRequestLine // two spaces in a row
	}
	// RFC 9112 §3.2: no whitespace in the target. The line holds no CTL
	// but HTAB already (Head.line), so SP and HTAB are all to look for.
	if bytes.IndexByte(target, ' ') >= 0 || bytes.IndexByte(target, '\t') >= 0 {
		return badLine(target, ErrTarget)
	}
	if err := r.version(line[sp2+1:]); err != nil {
		return err
	}
	r.Method = span(start, start+sp1)
	r.Target = span(start+sp1+1, start+sp2)
	r.MethodKind = methodOf(method)
	return r.targetForm(b)
}

// badLine reports a CTL if the line has one, else the given error.
func badLine(line []byte, other *Error) error {
	for _, c := range line {
		if c < 0x20 || c == 0x7f {
			return ErrCTL
		}
	}
	return other
}

// version parses HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3).
// A major version other than 1 is 505 (RFC 9110 §15.6.6); a higher minor
// is kept and handled as 1.1 (RFC 9110 §2.5).
func (h *Head) version(v []byte) error {
	if len(v) < 6 || string(v[:5]) != "HTTP/" {
		return badLine(v, ErrVersion) // HTTP-name is case-sensitive
	}
	d := v[5:]
	if len(d) == 3 && isDigit(d[0]) && d[1] == '.' && isDigit(d[2]) {
		if d[0] != '1' {
			return ErrVersionMajor
		}
		h.Major, h.Minor = 1, d[2]-'0'
		return nil
	}
	// "HTTP/2", "HTTP/3.0", "HTTP/10.1": a well-formed number naming
	// another major version is 505, anything else 400.
	if isDigit(d[0]) && d[0] != '1' && versionNumber(d) {
		return ErrVersionMajor
	}
	return badLine(v, ErrVersion)
}

func versionNumber(d []byte) bool {
	dots := 0
	for i, c := range d {
		switch {
		case isDigit(c):
		case c == '.' && i > 0 && i < len(d)-1 && dots == 0:
			dots++
		default:
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// targetForm classifies the target and checks it fits the method
// (RFC 9112 §3.2.1-3.2.4).
func (r *Request) targetForm(b []byte) error {
	t := r.Target.Of(b)
	off := int(r.Target.Off)
	switch {
	case r.MethodKind == MethodConnect:
		// RFC 9112 §3.2.3: authority-form = uri-host ":" port, only
		// for CONNECT, and CONNECT takes nothing else.
		colon := bytes.LastIndexByte(t, ':')
		if colon <= 0 || colon == len(t)-1 || !allDigits(t[colon+1:]) || !validAuthority(t) {
			return ErrTargetForm
		}
		r.Form, r.Authority = FormAuthority, r.Target
	case t[0] == '/':
		r.Form = FormOrigin // RFC 9112 §3.2.1
	case len(t) == 1 && t[0] == '*':
		// RFC 9112 §3.2.4: asterisk-form only for server-wide OPTIONS.
		if r.MethodKind != MethodOptions {
			return ErrTargetForm
		}
		r.Form = FormAsterisk
	default:
		// RFC 9112 §3.2.2: absolute-form, as sent to a proxy. We take
		// http and https, the schemes a proxy can serve.
		var rest []byte
		switch {
		case len(t) > 7 && equalFold(t[:7], "http://"):
			rest = t[7:]
		case len(t) > 8 && equalFold(t[:8], "https://"):
			rest = t[8:]
		default:
			return ErrTarget
		}
		end := 0
		for end < len(rest) && rest[end] != '/' && rest[end] != '?' {
			end++
		}
		if end == 0 || !validAuthority(rest[:end]) {
			return ErrTarget
		}
		a := off + len(t) - len(rest)
		r.Form, r.Authority = FormAbsolute, span(a, a+end)
	}
	// RFC 3986 §3.5: a fragment is not part of a request-target.
	if bytes.IndexByte(t, '#') >= 0 {
		return ErrTarget
	}
	return nil
}

// validAuthority checks a target's host[:port] (RFC 3986 §3.2.2): the
// characters of a host, and brackets only around an IP-literal at the
// start, followed by nothing or a port. "[:0" or "a]b" are not hosts
// (net/http refuses them too).
func validAuthority(v []byte) bool {
	if !validHost(v) {
		return false
	}
	if len(v) == 0 || v[0] != '[' {
		return bytes.IndexAny(v, "[]") < 0
	}
	end := bytes.IndexByte(v, ']')
	if end < 0 || !ipv6Literal(v[1:end]) {
		return false
	}
	rest := v[end+1:]
	return len(rest) == 0 || rest[0] == ':' && bytes.IndexAny(rest, "[]") < 0 && (len(rest) == 1 || allDigits(rest[1:]))
}

// ipv6Literal: the inside of an IP-literal is an IPv6 address, with an
// optional zone as RFC 6874 writes it ("%25" then the zone). IPvFuture
// is refused, as net/http refuses it. Rare on the request path: it may
// allocate.
func ipv6Literal(v []byte) bool {
	s := string(v)
	if i := strings.Index(s, "%25"); i >= 0 {
		s = s[:i] + "%" + s[i+3:]
	}
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is6()
}

func allDigits(v []byte) bool {
	for _, c := range v {
		if !isDigit(c) {
			return false
		}
	}
	return len(v) > 0
}

// finish applies the rules that need the whole head.
func (r *Request) finish() error {
	// RFC 9112 §3.2: a client MUST send Host in HTTP/1.1 and a server
	// MUST answer 400 to a 1.1 request without one.
	if r.Is11() && r.Flags&FlagHost == 0 {
		return ErrNoHost
	}
	body, err := framing(&r.Head, true, 0, r.MethodKind)
	r.Body = body
	return err
}
