package http1

import (
	"encoding/binary"
	"math/bits"
)

// Span is the byte range [Off, Off+Len) of the buffer a head was parsed
// from. Spans stay valid while the caller keeps that buffer's prefix intact
// (moving it to a larger buffer is fine: offsets do not change).
type Span struct{ Off, Len uint32 }

// Of returns the bytes of s in b, with capacity clipped so an append to the
// result cannot overwrite b.
func (s Span) Of(b []byte) []byte { return b[s.Off : s.Off+s.Len : s.Off+s.Len] }

// End is the offset just past the span.
func (s Span) End() int { return int(s.Off + s.Len) }

func span(from, to int) Span { return Span{uint32(from), uint32(to - from)} }

// Field is one field line: its name, and its value without the optional
// whitespace around it (RFC 9112 §5).
type Field struct{ Name, Value Span }

// MaxFieldsCap is the capacity of the fixed field array in a head: the
// highest Limits.MaxFields can go.
const MaxFieldsCap = 128

// Limits bound a head. The zero value of each member means its default.
type Limits struct {
	// MaxRequestLine bounds the request-line, without its CRLF (and any
	// empty lines before it): longer gets 414. Default 8192.
	MaxRequestLine int
	// MaxHeaderBytes bounds the field section of a head: the field lines
	// with their CRLFs and the final empty line. Larger gets 431.
	// Default 16384.
	MaxHeaderBytes int
	// MaxFields bounds the number of field lines: more gets 431.
	// Default 100; values above MaxFieldsCap act as MaxFieldsCap.
	MaxFields int
}

// Default limits, as nginx's and HAProxy's defaults are of this order.
const (
	DefaultMaxRequestLine = 8 << 10
	DefaultMaxHeaderBytes = 16 << 10
	DefaultMaxFields      = 100
)

func (l Limits) requestLine() int { return orDefault(l.MaxRequestLine, DefaultMaxRequestLine) }
func (l Limits) headerBytes() int { return orDefault(l.MaxHeaderBytes, DefaultMaxHeaderBytes) }
func (l Limits) fields() int {
	return min(orDefault(l.MaxFields, DefaultMaxFields), MaxFieldsCap)
}

func orDefault(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}

// Flags record what the fields of a head say about the connection and the
// body, gathered in the same pass that parses them.
type Flags uint16

const (
	FlagClose          Flags = 1 << iota // Connection: close
	FlagKeepAlive                        // Connection: keep-alive
	FlagUpgrade                          // Connection: upgrade
	FlagConnOther                        // Connection names another field (remove it when forwarding)
	FlagExpectContinue                   // Expect: 100-continue
	FlagContentLength                    // a valid Content-Length
	FlagTE                               // Transfer-Encoding present
	FlagHost                             // Host present
)

// Has reports whether every flag of f2 is set in f.
func (f Flags) Has(f2 Flags) bool { return f&f2 == f2 }

// parse phases of a head.
const (
	phaseStart  uint8 = iota // before or inside the start line
	phaseFields              // inside the field section
	phaseDone                // the head is complete
)

// transfer-coding summary, updated field by field (RFC 9112 §6.1).
type teState struct {
	codings   uint8 // codings seen (saturating)
	chunked   uint8 // times "chunked" was seen (saturating)
	lastChunk bool  // the last coding seen is chunked
	unknown   bool  // a coding other than chunked/gzip/deflate/compress
	malformed bool  // an element that is not a transfer-coding
}

// Head is what requests and responses share: the field array, the facts
// gathered from special fields, and the resumable scanner's state.
// Use it through Request or Response.
type Head struct {
	// Limits in force; kept by Reset.
	Limits Limits

	Major, Minor uint8 // HTTP-version digits, as received

	Flags Flags
	// ContentLength is the value of a valid Content-Length, -1 without one.
	ContentLength int64
	// Host is the value of the Host field (requests), valid with FlagHost.
	Host Span

	te      teState
	nfields int
	fields  [MaxFieldsCap]Field

	err         error // sticky: the error that failed this head
	phase       uint8
	pos         int // start of the first line not yet parsed
	scan        int // bytes up to here hold no LF past pos
	fieldsStart int // offset of the field section
}

// Fields returns the field lines in the order received. The slice aliases
// the head: valid until the next Reset.
func (h *Head) Fields() []Field { return h.fields[:h.nfields] }

// reset clears the parse state, keeping Limits.
func (h *Head) reset() {
	lim := h.Limits
	h.Major, h.Minor, h.Flags, h.ContentLength, h.Host = 0, 0, 0, -1, Span{}
	h.te, h.nfields, h.err = teState{}, 0, nil
	h.phase, h.pos, h.scan, h.fieldsStart = phaseStart, 0, 0, 0
	h.Limits = lim
}

// settled reports the verdict of a head that has one already: a failed
// head stays failed, a complete one keeps its length (until Reset).
func (h *Head) settled() (int, error, bool) {
	switch {
	case h.err != nil:
		return 0, h.err, true
	case h.phase == phaseDone:
		return h.pos, nil, true
	}
	return 0, nil, false
}

// record keeps a parse error as the head's verdict.
func (h *Head) record(n int, err error) (int, error) {
	if err != nil && err != ErrNeedMore {
		h.err = err
	}
	return n, err
}

// line finds the end of the line that starts at h.pos, examining each
// byte once across calls: bytes before h.scan were examined already. It
// returns the offset of the line's CR; the LF follows it.
//
// Verdicts depend only on bytes in order, never on how they were split:
// the first CTL (RFC 9112 §2.2: a bare CR, a bare LF, NUL, ...) fails the
// head where it stands, and limit is an offset no line end may reach
// (the line's LF must lie below it), reported as limitErr once the bytes
// up to it hold no CRLF.
func (h *Head) line(b []byte, limit int, limitErr *Error) (cr int, err error) {
	end := min(len(b), limit)
	i := h.scan
	for i < end {
		var m uint64
		switch {
		case i+8 <= end:
			m = ctlMask(binary.LittleEndian.Uint64(b[i:]))
		case end >= 8:
			// Fewer than 8 bytes left: load the last 8 and shift the
			// ones already seen out. The zeros shifted in sit above
			// every byte that counts and are always flagged, so m is
			// never 0 here and a clean tail stops exactly at end.
			m = ctlMask(binary.LittleEndian.Uint64(b[end-8:]) >> ((8 - (end - i)) << 3))
		default:
			m = 1 << 7 // a tiny buffer: byte by byte
		}
		if m == 0 {
			i += 8
			continue
		}
		// The lowest flagged byte is exactly the first CTL or DEL of the
		// word (a borrow only runs upward from a true hit).
		if i += bits.TrailingZeros64(m) >> 3; i >= end {
			break
		}
		c := b[i]
		if valueChar[c] { // HTAB, or a byte before the buffer's last word
			i++
			continue
		}
		switch {
		case c == '\n':
			// RFC 9112 §2.2: a bare LF is refused: a recipient that
			// took it for a line end would frame differently from one
			// that did not.
			return 0, ErrBareLF
		case c != '\r':
			return 0, ErrCTL
		case i+1 >= limit:
			return 0, limitErr
		case i+1 >= len(b):
			h.scan = i // look at the CR again when its LF may be here
			return 0, ErrNeedMore
		case b[i+1] != '\n':
			return 0, ErrCTL // a CR not followed by LF
		}
		h.scan = i + 2
		return i, nil
	}
	if end == limit {
		return 0, limitErr
	}
	h.scan = i
	return 0, ErrNeedMore
}

// ctlMask flags, in the high bit of each byte, the bytes of a little-endian
// word that are below 0x20 or DEL: the classic "has less than" and "has
// zero" word tests. Which bytes are flagged is exact up to the first hit.
func ctlMask(x uint64) uint64 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	d := x ^ 0x7f7f7f7f7f7f7f7f
	return ((x-0x20*lo)&^x | (d-lo)&^d) & hi
}

// moreFields runs the field section from h.pos on. It returns the head's
// length once the empty line ends it.
func (h *Head) moreFields(b []byte, isRequest bool) (int, error) {
	// RFC 9112 §2.3 / RFC 6585 §5: the field section, CRLFs and the
	// final empty line included, is bounded (431).
	limit := h.fieldsStart + h.Limits.headerBytes()
	maxFields := h.Limits.fields()
	for {
		cr, err := h.line(b, limit, ErrHeadTooLarge)
		if err != nil {
			return 0, err
		}
		start := h.pos
		h.pos = cr + 2
		if cr == start { // the empty line: end of the head
			h.phase = phaseDone
			return h.pos, nil
		}
		// RFC 6585 §5: too many fields is 431.
		if h.nfields >= maxFields {
			return 0, ErrTooManyField
		}
		if err := h.field(b, start, cr, isRequest); err != nil {
			return 0, err
		}
	}
}

// field parses one field line b[start:end] (CRLF already removed, and
// already known to hold no CTL but HTAB) and records it.
func (h *Head) field(b []byte, start, end int, isRequest bool) error {
	// RFC 9112 §5.2: obs-fold (a line starting with whitespace) is refused
	// with 400 by a server; we refuse it in responses too.
	if b[start] == ' ' || b[start] == '\t' {
		return ErrObsFold
	}
	// RFC 9110 §5.1: field-name = token, then the colon.
	line := b[start:end]
	n := 0
	for ; n+4 <= len(line); n += 4 {
		w := line[n : n+4 : n+4]
		if tokenByte[w[0]]&tokenByte[w[1]]&tokenByte[w[2]]&tokenByte[w[3]] == 0 {
			break
		}
	}
	for n < len(line) && tokenChar[line[n]] {
		n++
	}
	i := start + n
	switch {
	case i == end:
		return ErrFieldName // no colon
	case b[i] != ':':
		// RFC 9112 §5.1: no whitespace between name and colon; a server
		// MUST reject it with 400.
		if b[i] == ' ' || b[i] == '\t' {
			j := i
			for j < end && (b[j] == ' ' || b[j] == '\t') {
				j++
			}
			if j < end && b[j] == ':' {
				return ErrSpaceColon
			}
		}
		return ErrFieldName
	case i == start:
		return ErrFieldName // empty name
	}
	// RFC 9112 §5.1: OWS before and after the value is not part of it.
	v, vend := i+1, end
	for v < vend && (b[v] == ' ' || b[v] == '\t') {
		v++
	}
	for vend > v && (b[vend-1] == ' ' || b[vend-1] == '\t') {
		vend--
	}
	f := Field{Name: span(start, i), Value: span(v, vend)}
	h.fields[h.nfields] = f
	h.nfields++
	return h.special(b, f, isRequest)
}

// badByte classifies an invalid byte: a CTL (RFC 9112 §2.2, RFC 9110 §5.5)
// gets ErrCTL, anything else the caller's error.
func badByte(c byte, other *Error) error {
	if c < 0x20 || c == 0x7f {
		return ErrCTL
	}
	return other
}
