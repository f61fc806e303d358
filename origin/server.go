// Package origin is the bundled test origin (CONTRACT.md, "origin"): a
// small HTTP/1.1 server on our own parser, for `make run`, the examples
// and the proxy's tests.
//
// Endpoints: GET / (Hello, World!), GET /bytes/N (N bytes), GET /large
// (1 MiB), ANY /echo (JSON: method, target, proto, headers in order and
// in their received case, body length and SHA-256), GET /status/N,
// GET /slow/MS (answers after MS milliseconds). HEAD works on each GET.
//
// One goroutine per connection (clarity over speed: it is a test peer);
// keep-alive, pipelining, Content-Length and chunked request bodies, read
// as they stream (a body is hashed, never held whole). Imports: the
// standard library and http1.
package origin

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgeloop/edgeloop/http1"
)

// Server is a running origin.
type Server struct {
	ln       net.Listener
	accepted atomic.Int64
	requests atomic.Int64
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves until Close.
func Start(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{ln: ln, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is the address it listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Accepted counts the connections accepted so far.
func (s *Server) Accepted() int64 { return s.accepted.Load() }

// Requests counts the requests answered so far.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Close stops listening, closes every connection and waits for them.
func (s *Server) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.accepted.Add(1)
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

// conn reads requests from one connection.
type conn struct {
	c   net.Conn
	buf []byte // bytes read and not yet consumed
	r   http1.Request
	w   *bufio.Writer
}

func (s *Server) serve(nc net.Conn) {
	c := &conn{c: nc, buf: make([]byte, 0, 64<<10), w: bufio.NewWriterSize(nc, 64<<10)}
	for {
		head, err := c.readHead()
		if err != nil {
			if st := http1.StatusOf(err); st >= 400 && !errors.Is(err, io.EOF) {
				c.reply(st, "text/plain", []byte(http1.StatusText(st)+"\n"), false, false)
				c.w.Flush()
			}
			return
		}
		keep, err := c.handle(head)
		s.requests.Add(1)
		if err != nil || c.w.Flush() != nil || !keep {
			return
		}
	}
}

// readHead reads until a whole head is buffered; it returns a copy.
func (c *conn) readHead() ([]byte, error) {
	c.r.Reset()
	for {
		n, err := c.r.Parse(c.buf)
		if err == nil {
			head := append([]byte(nil), c.buf[:n]...)
			c.buf = c.buf[:copy(c.buf, c.buf[n:])]
			return head, nil
		}
		if err != http1.ErrNeedMore {
			return nil, err
		}
		if len(c.buf) == cap(c.buf) {
			return nil, http1.ErrHeadTooLarge
		}
		k, rerr := c.c.Read(c.buf[len(c.buf):cap(c.buf)])
		c.buf = c.buf[:len(c.buf)+k]
		if rerr != nil {
			return nil, rerr
		}
	}
}

// readBody streams the request body into h and returns its length.
func (c *conn) readBody(h io.Writer) (int64, error) {
	body := c.r.Body
	var total int64
	var dec http1.Chunked
	for {
		switch body.Kind {
		case http1.BodyLength:
			k := min(int64(len(c.buf)), body.Length-total)
			h.Write(c.buf[:k])
			total += k
			c.buf = c.buf[:copy(c.buf, c.buf[k:])]
			if total == body.Length {
				return total, nil
			}
		case http1.BodyChunked:
			for len(c.buf) > 0 && !dec.Done() {
				n, data, err := dec.Decode(c.buf)
				if err != nil {
					return total, err
				}
				h.Write(data)
				total += int64(len(data))
				c.buf = c.buf[:copy(c.buf, c.buf[n:])]
			}
			if dec.Done() {
				return total, nil
			}
		default:
			return 0, nil
		}
		k, err := c.c.Read(c.buf[len(c.buf):cap(c.buf)])
		c.buf = c.buf[:len(c.buf)+k]
		if err != nil {
			return total, err
		}
	}
}

// handle answers one request; it reports whether the connection stays.
func (c *conn) handle(head []byte) (bool, error) {
	r := &c.r
	method, target := string(r.Method.Of(head)), string(r.Target.Of(head))
	if r.Flags.Has(http1.FlagExpectContinue) && r.Body.Kind != http1.BodyNone {
		c.w.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		c.w.Flush()
	}
	sum := sha256.New()
	n, err := c.readBody(sum)
	if err != nil {
		return false, err
	}
	keep := r.KeepAlive()
	headOnly := method == "HEAD"
	path, _, _ := strings.Cut(target, "?")
	switch {
	case path == "/":
		c.reply(200, "text/plain", []byte("Hello, World!"), keep, headOnly)
	case path == "/large":
		c.replyBytes(1<<20, keep, headOnly)
	case strings.HasPrefix(path, "/bytes/"):
		size, err := strconv.ParseInt(path[len("/bytes/"):], 10, 64)
		if err != nil || size < 0 {
			c.reply(400, "text/plain", []byte("bad size\n"), keep, headOnly)
			break
		}
		c.replyBytes(size, keep, headOnly)
	case path == "/echo":
		c.reply(200, "application/json", echoJSON(r, head, method, target, n, sum.Sum(nil)), keep, headOnly)
	case strings.HasPrefix(path, "/status/"):
		st, err := strconv.Atoi(path[len("/status/"):])
		if err != nil || st < 200 || st > 999 {
			c.reply(400, "text/plain", []byte("status must be 200-999\n"), keep, headOnly)
			break
		}
		body := []byte("status " + strconv.Itoa(st) + "\n")
		if st == 204 || st == 304 {
			body = nil
		}
		c.reply(st, "text/plain", body, keep, headOnly)
	case strings.HasPrefix(path, "/slow/"):
		ms, err := strconv.Atoi(path[len("/slow/"):])
		if err != nil || ms < 0 || ms > 600000 {
			c.reply(400, "text/plain", []byte("bad delay\n"), keep, headOnly)
			break
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
		c.reply(200, "text/plain", []byte("slow"), keep, headOnly)
	default:
		c.reply(404, "text/plain", []byte("not found\n"), keep, headOnly)
	}
	return keep, nil
}

func echoJSON(r *http1.Request, head []byte, method, target string, n int64, sum []byte) []byte {
	e := echoReply{Method: method, Target: target, Proto: "HTTP/1." + strconv.Itoa(int(r.Minor)),
		Headers: [][2]string{}, BodyLength: n, BodySHA256: hex.EncodeToString(sum), Chunked: r.Body.Kind == http1.BodyChunked}
	for _, f := range r.Fields() {
		e.Headers = append(e.Headers, [2]string{string(f.Name.Of(head)), string(f.Value.Of(head))})
	}
	b, _ := json.Marshal(e)
	return append(b, '\n')
}

func (c *conn) writeHead(status int, ctype string, length int64, keep bool) {
	var h []byte
	h = http1.AppendStatusLine(h, status, "")
	h = http1.AppendField(h, "Content-Type", ctype)
	if status != 204 && status != 304 {
		h = http1.AppendContentLength(h, length)
	}
	if !keep {
		h = http1.AppendField(h, "Connection", "close")
	}
	c.w.Write(http1.AppendEndOfHead(h))
}

func (c *conn) reply(status int, ctype string, body []byte, keep, headOnly bool) {
	c.writeHead(status, ctype, int64(len(body)), keep)
	if !headOnly {
		c.w.Write(body)
	}
}

// replyBytes sends n bytes of a repeating a-z pattern, streamed in
// blocks whose length is a multiple of 26, so the pattern runs on.
func (c *conn) replyBytes(n int64, keep, headOnly bool) {
	c.writeHead(200, "application/octet-stream", n, keep)
	if !headOnly {
		_ = writePattern(c.w, n)
	}
}

// writePattern writes n bytes of a-z repeating, in blocks whose length
// is a multiple of 26, so the pattern runs on across them.
func writePattern(w io.Writer, n int64) error {
	var block [26 * 2520]byte
	for i := range block {
		block[i] = 'a' + byte(i%26)
	}
	for off := int64(0); off < n; {
		k := min(n-off, int64(len(block)))
		if _, err := w.Write(block[:k]); err != nil {
			return err
		}
		off += k
	}
	return nil
}
