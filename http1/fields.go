package http1

import "math"

// The fields that decide framing, routing and the connection's fate are
// read in the parsing pass (special); the rest are spans the proxy copies.

// special records what a field of framing or connection significance says.
func (h *Head) special(b []byte, f Field, isRequest bool) error {
	name := f.Name.Of(b)
	switch len(name) {
	case 4:
		if isRequest && equalFold(name, "host") {
			return h.host(b, f.Value)
		}
	case 6:
		// RFC 9110 §10.1.1: Expect: 100-continue.
		if equalFold(name, "expect") && equalFold(f.Value.Of(b), "100-continue") {
			h.Flags |= FlagExpectContinue
		}
	case 10:
		if equalFold(name, "connection") {
			h.connection(f.Value.Of(b))
		}
	case 14:
		if equalFold(name, "content-length") {
			return h.contentLength(f.Value.Of(b))
		}
	case 17:
		if equalFold(name, "transfer-encoding") {
			h.Flags |= FlagTE
			h.transferEncoding(f.Value.Of(b))
		}
	}
	return nil
}

// host checks a Host field. RFC 9112 §3.2: a request with more than one
// Host field, or with an invalid one, gets 400.
func (h *Head) host(b []byte, v Span) error {
	if h.Flags&FlagHost != 0 {
		return ErrDupHost
	}
	h.Flags |= FlagHost
	h.Host = v
	if !validHost(v.Of(b)) {
		return ErrHost
	}
	return nil
}

// hostChar: the bytes of Host = uri-host [ ":" port ] (RFC 9110 §7.2,
// RFC 3986 §3.2.2): unreserved, pct-encoded, sub-delims, ":" and the
// brackets of an IP-literal.
var hostChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "-._~%!$&'()*+,;=:[]" {
		t[c] = true
	}
	return t
}()

// validHost checks the bytes of a Host value. An empty value is valid
// (RFC 9112 §3.2: for targets without an authority).
func validHost(v []byte) bool {
	for _, c := range v {
		if !hostChar[c] {
			return false
		}
	}
	return true
}

// contentLength reads one Content-Length field. RFC 9110 §8.6:
// Content-Length = 1*DIGIT; repeated fields with the same value may be
// taken as one, differing ones make the message invalid (RFC 9112 §6.3 (5)).
// A comma list is refused rather than merged (as net/http does).
func (h *Head) contentLength(v []byte) error {
	if len(v) == 0 {
		return ErrContentLength
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return ErrContentLength // signs, spaces inside, commas, hex
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return ErrContentLength // more than int64 can frame
		}
		n = n*10 + d
	}
	if h.Flags&FlagContentLength != 0 && h.ContentLength != n {
		return ErrCLMismatch
	}
	h.Flags |= FlagContentLength
	h.ContentLength = n
	return nil
}

// transferEncoding folds one Transfer-Encoding field into the summary
// (RFC 9112 §6.1: the codings of all fields, in order, form one list).
func (h *Head) transferEncoding(v []byte) {
	t := &h.te
	elements := 0
	for i := 0; i < len(v); {
		tok, next := nextElement(v, i)
		i = next
		if len(tok) == 0 {
			continue // RFC 9110 §5.6.1: empty list elements are ignored
		}
		elements++
		name, params := codingName(tok)
		if !isToken(name) || !validParams(params) {
			t.malformed = true
			continue
		}
		t.codings = satInc(t.codings)
		t.lastChunk = false
		switch {
		case equalFold(name, "chunked"):
			t.chunked = satInc(t.chunked)
			t.lastChunk = true
			if len(trimOWS(params)) > 0 {
				// RFC 9112 §7.1: chunked defines no parameters; a
				// next hop comparing the value to "chunked" would
				// frame the body otherwise.
				t.malformed = true
			}
		// RFC 9112 §7: the registered codings a proxy can pass on.
		case equalFold(name, "gzip"), equalFold(name, "x-gzip"),
			equalFold(name, "deflate"), equalFold(name, "compress"),
			equalFold(name, "x-compress"):
		default:
			t.unknown = true
		}
	}
	if elements == 0 {
		t.malformed = true // RFC 9110 §5.6.1: Transfer-Encoding = #t-coding, at least one
	}
}

func satInc(n uint8) uint8 {
	if n < 255 {
		n++
	}
	return n
}

// codingName splits "gzip;q=1" style elements into name and parameters.
func codingName(tok []byte) (name, params []byte) {
	for i, c := range tok {
		if c == ';' || c == ' ' || c == '\t' {
			return tok[:i], tok[i:]
		}
	}
	return tok, nil
}

// validParams checks *( OWS ";" OWS token "=" ( token / quoted-string ) )
// loosely: the bytes are already valid field-value bytes, so it only has
// to reject what is not a parameter list.
func validParams(p []byte) bool {
	p = trimOWS(p)
	for len(p) > 0 {
		if p[0] != ';' {
			return false
		}
		p = trimOWS(p[1:])
		eq := indexByte(p, '=')
		if eq <= 0 || !isToken(p[:eq]) {
			return false
		}
		p = p[eq+1:]
		end := 0
		if len(p) > 0 && p[0] == '"' {
			end = quotedEnd(p)
			if end < 0 {
				return false
			}
		} else {
			for end < len(p) && tokenChar[p[end]] {
				end++
			}
			if end == 0 {
				return false
			}
		}
		p = trimOWS(p[end:])
	}
	return true
}

// quotedEnd returns the length of the quoted-string at the start of p
// (RFC 9110 §5.6.4), or -1 when it is not closed.
func quotedEnd(p []byte) int {
	for i := 1; i < len(p); i++ {
		switch c := p[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			i++
		case !qdtextChar[c]:
			return -1
		}
	}
	return -1
}

func indexByte(b []byte, c byte) int {
	for i := range b {
		if b[i] == c {
			return i
		}
	}
	return -1
}

// connection reads the options of one Connection field (RFC 9110 §7.6.1).
func (h *Head) connection(v []byte) {
	for i := 0; i < len(v); {
		tok, next := nextElement(v, i)
		i = next
		switch {
		case len(tok) == 0:
		case equalFold(tok, "close"):
			h.Flags |= FlagClose
		case equalFold(tok, "keep-alive"):
			h.Flags |= FlagKeepAlive
		case equalFold(tok, "upgrade"):
			h.Flags |= FlagUpgrade | FlagConnOther
		default:
			h.Flags |= FlagConnOther
		}
	}
}

// nextElement returns the list element of v starting at i, without the
// OWS around it (RFC 9110 §5.6.1), and where the next one starts. It does
// not split inside a quoted-string.
func nextElement(v []byte, i int) (elem []byte, next int) {
	start := i
	for i < len(v) && v[i] != ',' {
		if v[i] == '"' {
			if n := quotedEnd(v[i:]); n > 0 {
				i += n
				continue
			}
		}
		i++
	}
	elem = trimOWS(v[start:i])
	if i < len(v) {
		i++ // the comma
	}
	return elem, i
}

// NextToken iterates a comma-separated list such as a Connection value:
// it returns the element at i (trimmed, possibly empty) and the offset of
// the next; stop when next == len(v).
//
//	for i := 0; i < len(v); { tok, i = http1.NextToken(v, i); ... }
func NextToken(v []byte, i int) (tok []byte, next int) { return nextElement(v, i) }

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// Index returns the index in Fields of the first field named name (ASCII
// case ignored on both sides), or -1.
func (h *Head) Index(b []byte, name string) int {
	for i, f := range h.fields[:h.nfields] {
		if int(f.Name.Len) == len(name) && foldEq(f.Name.Of(b), name) {
			return i
		}
	}
	return -1
}

// Get returns the value of the first field named name and whether there
// was one.
func (h *Head) Get(b []byte, name string) ([]byte, bool) {
	if i := h.Index(b, name); i >= 0 {
		return h.fields[i].Value.Of(b), true
	}
	return nil, false
}

// foldEq compares ignoring ASCII case on both sides.
func foldEq(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

// KeepAlive reports whether the connection persists after this message
// (RFC 9112 §9.3): not with close; by default from HTTP/1.1 on; for
// HTTP/1.0 only when keep-alive was asked for.
func (h *Head) KeepAlive() bool {
	if h.Flags&FlagClose != 0 {
		return false
	}
	if h.Major == 1 && h.Minor == 0 {
		return h.Flags&FlagKeepAlive != 0
	}
	return true
}

// ContentCoded reports whether Transfer-Encoding applies a coding other
// than chunked (gzip, deflate, compress, or an unknown one): the bytes are
// not the content until decoded.
func (h *Head) ContentCoded() bool { return h.te.codings > h.te.chunked }

// Is11 reports whether the message is HTTP/1.1 or a later 1.x, which is
// handled as 1.1 (RFC 9110 §2.5).
func (h *Head) Is11() bool { return h.Minor >= 1 }

// ListedInConnection reports whether a field name is one of the options
// of the head's Connection fields, which the proxy must remove before
// forwarding (RFC 9110 §7.6.1).
func (h *Head) ListedInConnection(b []byte, name []byte) bool {
	if h.Flags&(FlagConnOther|FlagClose|FlagKeepAlive) == 0 {
		return false
	}
	for _, f := range h.fields[:h.nfields] {
		if f.Name.Len != 10 || !equalFold(f.Name.Of(b), "connection") {
			continue
		}
		v := f.Value.Of(b)
		for i := 0; i < len(v); {
			var tok []byte
			tok, i = nextElement(v, i)
			if len(tok) == len(name) && foldEqBytes(tok, name) {
				return true
			}
		}
	}
	return false
}

func foldEqBytes(a, b []byte) bool {
	for i := range a {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// HopByHop lists the fields that describe one connection rather than the
// message (RFC 9110 §7.6.1), each with why. A proxy removes these, and
// every field the Connection field names, before forwarding.
var HopByHop = [...]struct{ Name, Reason string }{
	{"connection", "RFC 9110 §7.6.1: options of this connection only"},
	{"proxy-connection", "non-standard Connection of old clients; RFC 9110 §7.6.1 names it"},
	{"keep-alive", "RFC 9110 §7.6.1: parameters of one persistent connection"},
	{"te", "RFC 9110 §10.1.4: what the sender accepts on this connection"},
	{"transfer-encoding", "RFC 9112 §6.1: framing of this hop; the proxy frames its own"},
	{"upgrade", "RFC 9110 §7.8: a protocol switch of this connection; relayed only for a tunnel"},
	{"proxy-authorization", "RFC 9110 §11.7.2: credentials for this proxy, not the origin"},
	{"proxy-authenticate", "RFC 9110 §11.7.1: a challenge from this proxy to its client"},
}

// IsHopByHop reports whether the field name (any case) is in HopByHop.
func IsHopByHop(name []byte) bool {
	switch len(name) {
	case 2, 7, 10, 16, 17, 18, 19:
	default:
		return false
	}
	for _, h := range HopByHop {
		if equalFold(name, h.Name) {
			return true
		}
	}
	return false
}
