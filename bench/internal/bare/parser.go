package bare

import "bytes"

// MaxHeadSize bounds a request head, terminator included. A longer head is
// answered with BadRequest.
const MaxHeadSize = 64 << 10

var crlfcrlf = []byte("\r\n\r\n")

// Verdict is what Parser.Feed says to do with the connection once the
// requests it framed are answered.
type Verdict uint8

const (
	VerdictKeep  Verdict = iota // keep the connection open
	VerdictClose                // answer, then close
	VerdictBad                  // answer what came before, then 400, then close
)

// Parser frames HTTP/1.1 requests on one connection, across reads. The zero
// value is ready for a new connection.
type Parser struct {
	bodyLeft   int64 // body bytes of the current request still to skip
	inBody     bool  // skipping a body; its request is answered once it is skipped
	closeAfter bool  // the request whose body is being skipped asked to close
	scanned    int   // bytes of the buffered partial head already searched
}

// Feed frames the requests in buf, the connection's unconsumed input. It
// returns how many leading bytes of buf are done with (whole requests and
// skipped body bytes; a partial head is left for the next call, which must
// see it again at the start of its buf), how many requests are due an answer,
// and what to do with the connection. After VerdictClose or VerdictBad the
// parser must not be fed again.
func (p *Parser) Feed(buf []byte) (consumed, answers int, v Verdict) {
	pos := 0
	for {
		if p.inBody {
			if rest := int64(len(buf) - pos); rest < p.bodyLeft {
				p.bodyLeft -= rest
				return len(buf), answers, VerdictKeep
			}
			pos += int(p.bodyLeft)
			p.bodyLeft, p.inBody = 0, false
			answers++
			if p.closeAfter {
				return pos, answers, VerdictClose
			}
		}
		if p.scanned == 0 {
			// Tolerate empty lines between requests (RFC 9112 §2.2).
			for pos < len(buf) && (buf[pos] == '\r' || buf[pos] == '\n') {
				pos++
			}
		}
		rest := buf[pos:]
		if len(rest) == 0 {
			return pos, answers, VerdictKeep
		}
		from := max(p.scanned-3, 0)
		i := bytes.Index(rest[from:], crlfcrlf)
		if i < 0 {
			if len(rest) >= MaxHeadSize {
				return pos, answers, VerdictBad
			}
			p.scanned = len(rest)
			return pos, answers, VerdictKeep
		}
		end := from + i + len(crlfcrlf)
		p.scanned = 0
		if end > MaxHeadSize {
			return pos, answers, VerdictBad
		}
		length, closeConn, ok := parseHead(rest[:end])
		if !ok {
			return pos, answers, VerdictBad
		}
		pos += end
		if length > 0 {
			p.bodyLeft, p.inBody, p.closeAfter = length, true, closeConn
			continue
		}
		answers++
		if closeConn {
			return pos, answers, VerdictClose
		}
	}
}

// parseHead reads the little it needs from a complete request head (ending
// in "\r\n\r\n"): the body length, and whether the connection is to be
// closed after the answer. ok is false for a head it cannot frame: an empty
// request line, a header line without a colon, a bad or conflicting
// Content-Length, or any Transfer-Encoding.
func parseHead(head []byte) (length int64, closeConn bool, ok bool) {
	nl := bytes.IndexByte(head, '\n')
	line := trimCR(head[:nl])
	if len(line) == 0 {
		return 0, false, false
	}
	http10 := bytes.HasSuffix(line, []byte("HTTP/1.0"))
	keepAlive := false
	length = -1
	rest := head[nl+1:]
	for {
		nl = bytes.IndexByte(rest, '\n')
		if nl < 0 {
			break
		}
		line, rest = trimCR(rest[:nl]), rest[nl+1:]
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return 0, false, false
		}
		name := line[:colon]
		switch len(name) {
		case len("content-length"):
			if !equalFold(name, "content-length") {
				continue
			}
			n, good := parseLength(trimSpace(line[colon+1:]))
			if !good || (length >= 0 && n != length) {
				return 0, false, false
			}
			length = n
		case len("transfer-encoding"):
			if equalFold(name, "transfer-encoding") {
				return 0, false, false // chunked bodies are not supported
			}
		case len("connection"):
			if !equalFold(name, "connection") {
				continue
			}
			for _, tok := range bytes.Split(line[colon+1:], []byte(",")) {
				tok = trimSpace(tok)
				switch {
				case equalFold(tok, "close"):
					closeConn = true
				case equalFold(tok, "keep-alive"):
					keepAlive = true
				}
			}
		}
	}
	if http10 && !keepAlive {
		closeConn = true
	}
	return max(length, 0), closeConn, true
}

// parseLength parses a Content-Length value: 1 to 18 decimal digits.
func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// equalFold reports whether b equals the lower-case ASCII string s, ignoring
// the case of b.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// trimCR drops one trailing '\r'.
func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

// trimSpace drops leading and trailing spaces and tabs.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
