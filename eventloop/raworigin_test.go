package eventloop_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The recording origin of the smuggling suite and the end-to-end fuzz
// targets. It keeps the exact bytes each connection received and reads
// them with refParse, a strict RFC 9112 reader written for the tests and
// independent of package http1, so that what the suite asserts about the
// proxy's output never rests on the proxy's own parser.

// refRequest is one request as the recording origin read it.
type refRequest struct {
	Conn    int // the accepted connection it came on, from 1
	Method  string
	Target  string
	Version string
	Fields  [][2]string // in order, names as received
	Chunked bool        // framed by Transfer-Encoding: chunked
	Body    []byte      // the content (de-chunked)
	Raw     []byte      // the whole message, exactly as received
}

// Get returns the values of the fields called name (any case), in order.
func (r *refRequest) Get(name string) []string {
	var out []string
	for _, f := range r.Fields {
		if strings.EqualFold(f[0], name) {
			out = append(out, f[1])
		}
	}
	return out
}

// errRefNeedMore: the bytes end inside a message.
var errRefNeedMore = errors.New("ref: incomplete message")

// refParse reads one request from the start of b. It returns the request
// and the number of bytes it took, errRefNeedMore when b ends inside it,
// or another error when b is not a well-framed HTTP/1.1 request as a
// proxy must write one: CRLF line endings only, single spaces in the
// request-line, token field names with the colon right after them, no
// obs-fold, no control bytes other than HTAB in values, at most one
// framing field (one Content-Length of plain digits, or one
// Transfer-Encoding whose last coding is chunked), well-formed chunks.
func refParse(b []byte) (*refRequest, int, error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if err := refCheckPartialHead(b); err != nil {
			return nil, 0, err
		}
		return nil, 0, errRefNeedMore
	}
	head := b[:end]
	lines := strings.Split(string(head), "\r\n")
	for _, l := range lines {
		if strings.ContainsAny(l, "\r\n") {
			return nil, 0, fmt.Errorf("ref: bare CR or LF in %q", l)
		}
	}
	parts := strings.Split(lines[0], " ")
	if len(parts) != 3 || !refToken(parts[0]) || parts[1] == "" || refHasCTL(parts[1], false) {
		return nil, 0, fmt.Errorf("ref: bad request-line %q", lines[0])
	}
	if parts[2] != "HTTP/1.1" && parts[2] != "HTTP/1.0" {
		return nil, 0, fmt.Errorf("ref: bad version %q", parts[2])
	}
	r := &refRequest{Method: parts[0], Target: parts[1], Version: parts[2]}
	for _, l := range lines[1:] {
		colon := strings.IndexByte(l, ':')
		if colon <= 0 || !refToken(l[:colon]) {
			return nil, 0, fmt.Errorf("ref: bad field line %q", l)
		}
		v := strings.Trim(l[colon+1:], " \t")
		if refHasCTL(v, true) {
			return nil, 0, fmt.Errorf("ref: control byte in field %q", l)
		}
		r.Fields = append(r.Fields, [2]string{l[:colon], v})
	}
	cl, te := r.Get("Content-Length"), r.Get("Transfer-Encoding")
	n := end + 4
	switch {
	case len(te) > 0 && len(cl) > 0:
		return nil, 0, errors.New("ref: Content-Length and Transfer-Encoding together")
	case len(te) > 1:
		return nil, 0, errors.New("ref: more than one Transfer-Encoding field")
	case len(te) == 1:
		// RFC 9110 §5.6.1: empty list elements are ignored ("chunked,").
		final := ""
		for _, c := range strings.Split(te[0], ",") {
			if c = strings.Trim(c, " \t"); c != "" {
				final = c
			}
		}
		if !strings.EqualFold(final, "chunked") {
			return nil, 0, fmt.Errorf("ref: final coding of %q is not chunked", te[0])
		}
		r.Chunked = true
		body, k, err := refChunked(b[n:])
		if err != nil {
			return nil, 0, err
		}
		r.Body, n = body, n+k
	case len(cl) > 1:
		return nil, 0, errors.New("ref: more than one Content-Length field")
	case len(cl) == 1:
		if cl[0] == "" || strings.Trim(cl[0], "0123456789") != "" || len(cl[0]) > 15 {
			return nil, 0, fmt.Errorf("ref: bad Content-Length %q", cl[0])
		}
		size, _ := strconv.Atoi(cl[0])
		if len(b)-n < size {
			return nil, 0, errRefNeedMore
		}
		r.Body, n = append([]byte(nil), b[n:n+size]...), n+size
	}
	r.Raw = append([]byte(nil), b[:n]...)
	return r, n, nil
}

// refCheckPartialHead refuses, before the head is complete, bytes that no
// complete head could make valid (so that a stream cut short inside a
// malformed head is reported as malformed, not as incomplete).
func refCheckPartialHead(b []byte) error {
	for i, c := range b {
		switch {
		case c == '\n' && (i == 0 || b[i-1] != '\r'):
			return errors.New("ref: bare LF")
		case c == '\r' && i+1 < len(b) && b[i+1] != '\n':
			return errors.New("ref: bare CR")
		case c == 0:
			return errors.New("ref: NUL in head")
		}
	}
	return nil
}

// refChunked decodes a chunked body at the start of b; it returns the
// content and the bytes taken, trailer section included.
func refChunked(b []byte) ([]byte, int, error) {
	var body []byte
	n := 0
	for {
		eol := bytes.Index(b[n:], []byte("\r\n"))
		if eol < 0 {
			if bytes.IndexByte(b[n:], '\n') >= 0 {
				return nil, 0, errors.New("ref: bare LF in a chunk line")
			}
			return nil, 0, errRefNeedMore
		}
		line := string(b[n : n+eol])
		if strings.ContainsAny(line, "\r\n") {
			return nil, 0, fmt.Errorf("ref: bare CR or LF in chunk line %q", line)
		}
		sizeText, ext, hasExt := strings.Cut(line, ";")
		if hasExt {
			// RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS ... ).
			sizeText = strings.TrimRight(sizeText, " \t")
			if refHasCTL(ext, true) {
				return nil, 0, fmt.Errorf("ref: control byte in chunk extension %q", line)
			}
		}
		if sizeText == "" || len(sizeText) > 15 || strings.Trim(sizeText, "0123456789abcdefABCDEF") != "" {
			return nil, 0, fmt.Errorf("ref: bad chunk size %q", line)
		}
		size, _ := strconv.ParseInt(sizeText, 16, 64)
		n += eol + 2
		if size == 0 {
			break
		}
		if int64(len(b)-n) < size+2 {
			return nil, 0, errRefNeedMore
		}
		if string(b[n+int(size):n+int(size)+2]) != "\r\n" {
			return nil, 0, errors.New("ref: chunk data not followed by CRLF")
		}
		body = append(body, b[n:n+int(size)]...)
		n += int(size) + 2
	}
	// Trailer section: field lines, then an empty line.
	for {
		eol := bytes.Index(b[n:], []byte("\r\n"))
		if eol < 0 {
			if bytes.IndexByte(b[n:], '\n') >= 0 {
				return nil, 0, errors.New("ref: bare LF in the trailer section")
			}
			return nil, 0, errRefNeedMore
		}
		line := string(b[n : n+eol])
		n += eol + 2
		if line == "" {
			return body, n, nil
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 || !refToken(line[:colon]) || refHasCTL(line[colon+1:], true) {
			return nil, 0, fmt.Errorf("ref: bad trailer line %q", line)
		}
	}
}

// refToken: RFC 9110 §5.6.2 token.
func refToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// refHasCTL: a control byte (HTAB allowed when tab) or DEL in s.
func refHasCTL(s string, tab bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\t' && tab {
			continue
		}
		if c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

// rawOrigin is an origin on a real socket of 127.0.0.1 that records every
// byte it receives, per connection, and answers each request it reads
// with refParse by what reply returns (written as is; close after it when
// closeAfter). A stream that refParse refuses, or that ends inside a
// message, is recorded in Errors and its connection closed.
type rawOrigin struct {
	ln    net.Listener
	reply func(r *refRequest) (resp string, closeAfter bool)
	wg    sync.WaitGroup

	mu      sync.Mutex
	streams [][]byte
	reqs    []*refRequest
	errs    []error
	conns   map[net.Conn]struct{}
}

// okReply answers every request with a 200 of body "ok".
func okReply(*refRequest) (string, bool) {
	return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false
}

// startRawOrigin starts a recording origin; reply nil means okReply.
// Cleanup closes it and its connections and waits for its goroutines.
func startRawOrigin(t testing.TB, reply func(r *refRequest) (string, bool)) *rawOrigin {
	t.Helper()
	if reply == nil {
		reply = okReply
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &rawOrigin{ln: ln, reply: reply, conns: map[net.Conn]struct{}{}}
	o.wg.Add(1)
	go o.accept()
	t.Cleanup(o.close)
	return o
}

func (o *rawOrigin) Addr() string { return o.ln.Addr().String() }

// Streams returns a copy of the bytes each accepted connection received,
// in the order the connections were accepted.
func (o *rawOrigin) Streams() [][]byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([][]byte, len(o.streams))
	for i, s := range o.streams {
		out[i] = append([]byte(nil), s...)
	}
	return out
}

// Requests returns the requests read so far, in the order they completed.
func (o *rawOrigin) Requests() []*refRequest {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*refRequest(nil), o.reqs...)
}

// Errors returns the framing errors seen so far.
func (o *rawOrigin) Errors() []error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]error(nil), o.errs...)
}

// Received is the total number of bytes received on all connections.
func (o *rawOrigin) Received() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, s := range o.streams {
		n += len(s)
	}
	return n
}

func (o *rawOrigin) accept() {
	defer o.wg.Done()
	for {
		c, err := o.ln.Accept()
		if err != nil {
			return
		}
		o.mu.Lock()
		o.conns[c] = struct{}{}
		o.streams = append(o.streams, nil)
		idx := len(o.streams) - 1
		o.mu.Unlock()
		o.wg.Add(1)
		go o.serve(c, idx)
	}
}

// serve reads c until EOF, error or a framing error, answering each
// complete request.
func (o *rawOrigin) serve(c net.Conn, idx int) {
	defer o.wg.Done()
	defer func() {
		c.Close()
		o.mu.Lock()
		delete(o.conns, c)
		o.mu.Unlock()
	}()
	var pending []byte
	buf := make([]byte, 64<<10)
	for {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		k, err := c.Read(buf)
		if k > 0 {
			o.mu.Lock()
			o.streams[idx] = append(o.streams[idx], buf[:k]...)
			o.mu.Unlock()
			pending = append(pending, buf[:k]...)
			for len(pending) > 0 {
				r, n, perr := refParse(pending)
				if errors.Is(perr, errRefNeedMore) {
					break
				}
				if perr != nil {
					o.fail(fmt.Errorf("connection %d: %w (stream %q)", idx+1, perr, pending))
					return
				}
				r.Conn = idx + 1
				pending = pending[n:]
				o.mu.Lock()
				o.reqs = append(o.reqs, r)
				o.mu.Unlock()
				resp, closeAfter := o.reply(r)
				if _, werr := c.Write([]byte(resp)); werr != nil || closeAfter {
					return
				}
			}
		}
		if err != nil {
			if len(pending) > 0 {
				o.fail(fmt.Errorf("connection %d: ends inside a message: %q", idx+1, pending))
			}
			return
		}
	}
}

func (o *rawOrigin) fail(err error) {
	o.mu.Lock()
	o.errs = append(o.errs, err)
	o.mu.Unlock()
}

func (o *rawOrigin) close() {
	o.ln.Close()
	o.mu.Lock()
	for c := range o.conns {
		c.Close()
	}
	o.mu.Unlock()
	o.wg.Wait()
}
