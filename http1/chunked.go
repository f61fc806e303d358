package http1

import "strconv"

// The chunked transfer coding, RFC 9112 §7.1:
//
//	chunked-body   = *chunk last-chunk trailer-section CRLF
//	chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//	chunk-size     = 1*HEXDIG
//	last-chunk     = 1*("0") [ chunk-ext ] CRLF
//	chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//	chunk-ext-name = token
//	chunk-ext-val  = token / quoted-string
//	trailer-section = *( field-line CRLF )
//
// The decoder is strict: every byte of framing is checked against the
// grammar, and anything a more lenient peer could frame differently (bare
// LF, bare CR, whitespace after the size, junk in extensions) is refused
// with a sentinel *Error. Chunk data is never looked at byte by byte: it
// is handed back as one subslice of the caller's buffer per call.

// Default limits of a Chunked whose Max* fields are zero.
const (
	defaultChunkLineBytes = 4096
	defaultTrailerBytes   = 16384
)

// maxChunkDigits is the number of significant hex digits a chunk-size may
// have: 15 digits is below 2^60, so neither the size nor the arithmetic on
// it can overflow a uint64 or an int on 64-bit platforms.
const maxChunkDigits = 15

// chunkState is where the decoder stands in the grammar above, between two
// bytes. The zero value is the start of a chunk-size line.
type chunkState uint8

const (
	csSizeStart chunkState = iota // first HEXDIG of chunk-size
	csSize                        // more HEXDIG, or what follows the size
	csExtSemi                     // BWS that only a ";" may follow
	csExtName0                    // BWS after ";", then the first tchar of a name
	csExtName                     // in chunk-ext-name
	csExtNameWS                   // BWS after a name: "=" or ";" must follow
	csExtVal0                     // BWS after "=", then a token or a DQUOTE
	csExtToken                    // in a token chunk-ext-val
	csExtQuoted                   // in a quoted-string, after the opening DQUOTE
	csExtQPair                    // after a backslash in a quoted-string
	csExtQEnd                     // after the closing DQUOTE
	csSizeLF                      // after the CR ending a chunk line
	csData                        // in chunk-data, rem bytes to go
	csDataCR                      // chunk-data done: CR must follow
	csDataLF                      // LF must follow
	csTrStart                     // start of a trailer field line, or the final CR
	csTrName                      // in a trailer field-name
	csTrNameWS                    // whitespace after a field-name (refused below)
	csTrValue                     // in a trailer field value, after the colon
	csTrLF                        // after the CR ending a trailer line
	csEndLF                       // after the CR of the final empty line
)

// lfState marks the states where an LF is expected; everywhere else an LF
// is a bare one.
var lfState = [...]bool{csSizeLF: true, csDataLF: true, csTrLF: true, csEndLF: true}

// hexVal maps a HEXDIG to its value and every other byte to 0xff. HEXDIG
// (RFC 5234 §B.1) is "0"-"9" / "A"-"F", and ABNF literals are
// case-insensitive (RFC 5234 §2.3): "a"-"f" count too.
var hexVal = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c - 'a' + 10)
		t[c-'a'+'A'] = byte(c - 'a' + 10)
	}
	return t
}()

// Chunked decodes a chunked message body fed in arbitrary pieces. The zero
// value is ready to use with the default limits. It allocates nothing.
type Chunked struct {
	// MaxLineBytes bounds one chunk-size line, chunk-size and chunk-ext
	// (leading zeros included), CRLF excluded (0 = 4096); longer ->
	// ErrChunkLine.
	MaxLineBytes int
	// MaxTrailerBytes bounds the trailer section: the field lines with
	// their CRLFs, the final empty line excluded (0 = 16384); larger ->
	// ErrTrailerSize.
	MaxTrailerBytes int

	rem      uint64 // chunk-size being read, then chunk-data bytes to go
	line     int    // bytes of the current chunk-size line
	trailer  int    // bytes of the trailer section so far
	err      error  // sticky: the first violation, until Reset
	state    chunkState
	done     bool // the final CRLF is consumed
	trailers bool // a trailer field line was seen
}

// Reset makes d ready for a new body; it keeps the Max* limits.
func (d *Chunked) Reset() {
	*d = Chunked{MaxLineBytes: d.MaxLineBytes, MaxTrailerBytes: d.MaxTrailerBytes}
}

// Done reports whether the whole body, trailer section and final CRLF
// included, has been consumed.
func (d *Chunked) Done() bool { return d.done }

// Trailers reports whether the finished body had a non-empty trailer
// section (before Done: whether a trailer field line has begun).
func (d *Chunked) Trailers() bool { return d.trailers }

// Decode consumes a prefix of b and returns how many bytes it consumed
// (n <= len(b)) and data, the chunk payload among those consumed bytes: a
// subslice of b (never a copy), possibly empty; when not empty it is
// b[n-len(data):n], valid as long as b is. Each call returns at most one
// contiguous data run and returns right after it, so the caller loops:
//
//	for len(b) > 0 && !d.Done() { n, data, err := d.Decode(b); ...; b = b[n:] }
//
// When it consumes all of b without finishing, more bytes are needed (err
// nil). When the last-chunk and the trailer section's final CRLF are
// consumed, Done becomes true and n stops right after that CRLF: bytes
// after it belong to the next message (pipelining). After Done, Decode
// consumes nothing.
//
// A protocol violation returns one of the package's *Error sentinels with
// n counting the bytes accepted before the offending one and no data;
// after an error the decoder stays failed (returns the same error and
// n = 0) until Reset.
func (d *Chunked) Decode(b []byte) (n int, data []byte, err error) {
	if d.err != nil {
		return 0, nil, d.err
	}
	for i := 0; i < len(b) && !d.done; i++ {
		if d.state == csData {
			// RFC 9112 §7.1: chunk-data is chunk-size octets, taken in
			// one run whatever they hold.
			k := len(b) - i
			if uint64(k) > d.rem {
				k = int(d.rem)
			}
			if d.rem -= uint64(k); d.rem == 0 {
				d.state = csDataCR
			}
			return i + k, b[i : i+k], nil
		}
		if err := d.step(b[i]); err != nil {
			d.err = err
			return i, nil, err
		}
		n = i + 1
	}
	return n, nil, nil
}

// step runs the framing state machine over one byte.
func (d *Chunked) step(c byte) error {
	// RFC 9112 §7.1 and errata 7633: chunk lines end in CRLF; a bare LF
	// would let a lenient peer see a different line, so it is refused.
	if c == '\n' && !lfState[d.state] {
		return ErrBareLF
	}
	if d.state <= csExtQEnd && c != '\r' {
		// RFC 9112 §7.1.1: a recipient limits the chunk line it accepts
		// (extensions included) to what it is prepared to buffer.
		if d.line++; d.line > d.lineLimit() {
			return ErrChunkLine
		}
	} else if d.state >= csTrName && d.state <= csTrLF || d.state == csTrStart && c != '\r' {
		// RFC 9112 §7.1.2: the trailer section is bounded like a header
		// section (RFC 6585 §5: 431).
		if d.trailer++; d.trailer > d.trailerLimit() {
			return ErrTrailerSize
		}
	}
	switch d.state {
	case csSizeStart:
		// RFC 9112 §7.1: chunk-size = 1*HEXDIG, first on the line: no
		// whitespace, sign or "0x" before it, and not empty.
		if hexVal[c] == 0xff {
			return ErrChunkSize
		}
		d.rem, d.state = uint64(hexVal[c]), csSize
	case csSize:
		switch {
		case hexVal[c] != 0xff:
			// RFC 9112 §7.1: a recipient MUST anticipate large sizes
			// and prevent overflow: past 15 significant digits
			// (2^60) we refuse, so the shift below never overflows.
			if d.rem >= 1<<(4*(maxChunkDigits-1)) {
				return ErrChunkTooLarge
			}
			d.rem = d.rem<<4 | uint64(hexVal[c])
		case c == ';':
			d.state = csExtName0 // RFC 9112 §7.1.1: BWS ";" BWS ext-name
		case c == ' ' || c == '\t':
			d.state = csExtSemi // BWS, which only ";" may follow
		case c == '\r':
			d.state = csSizeLF
		default:
			return ErrChunkSize // junk after the size: "5x", "0x5"
		}
	case csExtSemi:
		// RFC 9112 §7.1.1: BWS is only allowed before ";". "5 \r\n" is
		// refused (net/http accepts it).
		switch c {
		case ' ', '\t':
		case ';':
			d.state = csExtName0
		default:
			return ErrChunkExt
		}
	case csExtName0:
		// RFC 9112 §7.1.1: chunk-ext-name = token, after BWS.
		switch {
		case c == ' ' || c == '\t':
		case tokenChar[c]:
			d.state = csExtName
		default:
			return ErrChunkExt
		}
	case csExtName:
		switch {
		case tokenChar[c]:
		case c == '=':
			d.state = csExtVal0
		case c == ';':
			d.state = csExtName0
		case c == ' ' || c == '\t':
			d.state = csExtNameWS
		case c == '\r':
			d.state = csSizeLF
		default:
			return ErrChunkExt
		}
	case csExtNameWS:
		// RFC 9112 §7.1.1: BWS after a name precedes "=" or the next ";".
		switch c {
		case ' ', '\t':
		case '=':
			d.state = csExtVal0
		case ';':
			d.state = csExtName0
		default:
			return ErrChunkExt
		}
	case csExtVal0:
		// RFC 9112 §7.1.1: chunk-ext-val = token / quoted-string.
		switch {
		case c == ' ' || c == '\t':
		case c == '"':
			d.state = csExtQuoted
		case tokenChar[c]:
			d.state = csExtToken
		default:
			return ErrChunkExt
		}
	case csExtToken:
		if tokenChar[c] {
			return nil
		}
		fallthrough
	case csExtQEnd:
		// After a value: the next extension, BWS before it, or CRLF.
		switch c {
		case ';':
			d.state = csExtName0
		case ' ', '\t':
			d.state = csExtSemi
		case '\r':
			d.state = csSizeLF
		default:
			return ErrChunkExt
		}
	case csExtQuoted:
		// RFC 9110 §5.6.4: quoted-string = DQUOTE *( qdtext /
		// quoted-pair ) DQUOTE; a CR inside is an unterminated string.
		switch {
		case c == '"':
			d.state = csExtQEnd
		case c == '\\':
			d.state = csExtQPair
		case !qdtextChar[c]:
			return ErrChunkExt
		}
	case csExtQPair:
		// RFC 9110 §5.6.4: quoted-pair = "\" ( HTAB / SP / VCHAR /
		// obs-text ), exactly valueChar.
		if !valueChar[c] {
			return ErrChunkExt
		}
		d.state = csExtQuoted
	case csSizeLF:
		// RFC 9112 §2.2: a CR not followed by LF is refused like in a head.
		if c != '\n' {
			return ErrCTL
		}
		d.line = 0
		if d.rem == 0 {
			d.state = csTrStart // RFC 9112 §7.1: last-chunk = 1*("0") ...
		} else {
			d.state = csData
		}
	case csDataCR:
		// RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data
		// CRLF: exactly CRLF after the data (a bare LF was caught above).
		if c != '\r' {
			return ErrChunkCRLF
		}
		d.state = csDataLF
	case csDataLF:
		if c != '\n' {
			return ErrChunkCRLF
		}
		d.state = csSizeStart
	case csTrStart:
		switch {
		case c == '\r':
			d.state = csEndLF // RFC 9112 §7.1: the CRLF ending the body
		case c == ' ' || c == '\t':
			// RFC 9112 §5.2: obs-fold is refused, in trailers too.
			return ErrObsFold
		case tokenChar[c]:
			// RFC 9112 §7.1.2: trailer-section = *( field-line CRLF ),
			// field-line as in §5: field-name = token.
			d.state, d.trailers = csTrName, true
		default:
			return badByte(c, ErrFieldName) // ":" here is an empty name
		}
	case csTrName:
		switch {
		case tokenChar[c]:
		case c == ':':
			d.state = csTrValue
		case c == ' ' || c == '\t':
			d.state = csTrNameWS
		case c == '\r':
			return ErrTrailer // a field line without a colon
		default:
			return badByte(c, ErrFieldName)
		}
	case csTrNameWS:
		switch {
		case c == ' ' || c == '\t':
		case c == ':':
			// RFC 9112 §5.1: no whitespace between field-name and colon.
			return ErrSpaceColon
		case c == '\r':
			return ErrTrailer
		default:
			return badByte(c, ErrFieldName)
		}
	case csTrValue:
		// RFC 9110 §5.5: field-value = *field-content: VCHAR, obs-text,
		// SP, HTAB; any other CTL is refused.
		switch {
		case valueChar[c]:
		case c == '\r':
			d.state = csTrLF
		default:
			return ErrCTL
		}
	case csTrLF:
		if c != '\n' {
			return ErrCTL // RFC 9112 §2.2: bare CR
		}
		d.state = csTrStart
	case csEndLF:
		if c != '\n' {
			return ErrCTL // RFC 9112 §2.2: bare CR
		}
		d.done = true
	}
	return nil
}

// lineLimit and trailerLimit apply the defaults. (Written out rather than
// sharing head.go's helper, so this file stands alone.)
func (d *Chunked) lineLimit() int {
	if d.MaxLineBytes <= 0 {
		return defaultChunkLineBytes
	}
	return d.MaxLineBytes
}

func (d *Chunked) trailerLimit() int {
	if d.MaxTrailerBytes <= 0 {
		return defaultTrailerBytes
	}
	return d.MaxTrailerBytes
}

// AppendChunkSize writes the line that starts a chunk of size bytes:
// "%x\r\n" in lower-case hex (RFC 9112 §7.1). size must be positive: a
// zero size is the last chunk (AppendLastChunk), and writing one here by
// mistake would end the body early, so it panics.
func AppendChunkSize(dst []byte, size int) []byte {
	if size <= 0 {
		panic("http1: AppendChunkSize: size must be positive")
	}
	dst = strconv.AppendUint(dst, uint64(size), 16)
	return append(dst, "\r\n"...)
}

// AppendChunkEnd writes the CRLF that follows chunk data.
func AppendChunkEnd(dst []byte) []byte { return append(dst, "\r\n"...) }

// AppendLastChunk writes the last chunk and an empty trailer section:
// "0\r\n\r\n".
func AppendLastChunk(dst []byte) []byte { return append(dst, "0\r\n\r\n"...) }
