// Command gnetbare is a bare HTTP/1.1 server on github.com/panjf2000/gnet/v2.
//
// It is a reference for the benchmark harness: the ceiling of an event-loop
// server on this machine. It answers every request with one fixed response,
// precomputed once, and parses no more than it needs to frame requests: the
// end of the head ("\r\n\r\n"), Content-Length (whose body it skips),
// Connection and Transfer-Encoding. Keep-alive and pipelining are supported;
// the answers to the requests that one read completes go out in one write.
//
// Usage:
//
//	gnetbare [-listen 127.0.0.1:29090] [-loops 1] [-body "Hello, World!"]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/panjf2000/gnet/v2"
)

const serverName = "gnet-bare"

func main() {
	listen := flag.String("listen", "127.0.0.1:29090", "address to listen on, host:port")
	loops := flag.Int("loops", 1, "number of event loops")
	body := flag.String("body", "Hello, World!", "response body")
	flag.Parse()
	if *loops < 1 {
		fmt.Fprintln(os.Stderr, serverName+": -loops must be at least 1")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err := run(ctx, *listen, *loops, *body, func(a net.Addr) {
		log.Printf("%s: listening on %s with %d event loop(s)", serverName, a, *loops)
	})
	if err != nil {
		log.Printf("%s: %v", serverName, err)
		stop()
		os.Exit(1)
	}
	log.Printf("%s: stopped", serverName)
}

// run serves on addr until ctx is done, then stops the engine and returns
// once every event loop has exited and every connection is closed. ready, if
// not nil, is called once with the address listened on (useful with port 0);
// from then on connections are accepted.
func run(ctx context.Context, addr string, loops int, body string, ready func(net.Addr)) error {
	if loops < 1 {
		loops = 1
	}
	if loops > 1 {
		// With SO_REUSEPORT gnet gives every event loop a listener of its own,
		// bound to the same address string: port 0 would give each a
		// different port. Pick the port once.
		var err error
		if addr, err = pinPort(addr); err != nil {
			return err
		}
	}
	h := &handler{
		resp:   buildResponse(serverName, body),
		ready:  ready,
		booted: make(chan struct{}),
	}

	runCtx, runFinished := context.WithCancel(context.Background())
	stopperDone := make(chan struct{})
	go func() {
		defer close(stopperDone)
		select {
		case <-ctx.Done():
		case <-runCtx.Done():
			return
		}
		select {
		case <-h.booted:
		case <-runCtx.Done():
			return
		}
		// Stop starts the shutdown, then polls for its end; runCtx ends the
		// wait as soon as gnet.Run has returned.
		_ = h.eng.Stop(runCtx)
	}()

	opts := []gnet.Option{
		gnet.WithMulticore(loops > 1),
		gnet.WithNumEventLoop(loops),
		gnet.WithReusePort(true),
		gnet.WithLockOSThread(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
	}
	err := gnet.Run(h, "tcp://"+addr, opts...)
	runFinished()
	<-stopperDone
	return err
}

// pinPort replaces port 0 in addr by a port free at the time of the call.
func pinPort(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if port != "0" {
		return addr, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	p := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(p)), nil
}

type handler struct {
	gnet.BuiltinEventEngine
	resp   []byte // the fixed 200 response
	ready  func(net.Addr)
	eng    gnet.Engine   // set in OnBoot, before booted is closed
	booted chan struct{} // closed by OnBoot
}

// connState is what a connection keeps between reads. Unconsumed input (a
// partial head) stays in gnet's inbound buffer.
type connState struct {
	p   parser
	out []byte // scratch for the answers to a batch of requests
}

func (h *handler) OnBoot(eng gnet.Engine) gnet.Action {
	h.eng = eng
	close(h.booted)
	if h.ready != nil {
		h.ready(listenAddr(eng))
	}
	return gnet.None
}

// listenAddr is the engine's listening address, read from a duplicate of
// the listener's descriptor.
func listenAddr(eng gnet.Engine) net.Addr {
	fd, err := eng.Dup()
	if err != nil {
		return nil
	}
	defer syscall.Close(fd)
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return nil
	}
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}
	case *syscall.SockaddrInet6:
		a := &net.TCPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port}
		if sa.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				a.Zone = ifi.Name
			}
		}
		return a
	}
	return nil
}

func (h *handler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	c.SetContext(&connState{})
	return nil, gnet.None
}

func (h *handler) OnTraffic(c gnet.Conn) gnet.Action {
	st, _ := c.Context().(*connState)
	if st == nil {
		return gnet.Close
	}
	// Without a partial head left from an earlier read, Peek returns the
	// read buffer itself: no copy.
	in, err := c.Peek(-1)
	if err != nil {
		return gnet.Close
	}
	consumed, answers, v := st.p.feed(in)
	if consumed > 0 {
		// Discard(0) would drop everything: only call it with a count.
		_, _ = c.Discard(consumed)
	}
	var out []byte
	switch {
	case answers == 1 && v != verdictBad:
		out = h.resp
	case answers > 0 || v == verdictBad:
		out = st.out[:0]
		for range answers {
			out = append(out, h.resp...)
		}
		if v == verdictBad {
			out = append(out, badRequest...)
		}
		st.out = out[:0]
	}
	if len(out) > 0 {
		// On the event loop Write goes straight to the socket and keeps
		// whatever the socket did not take.
		if _, err := c.Write(out); err != nil {
			return gnet.Close
		}
	}
	if v != verdictKeep {
		return gnet.Close
	}
	return gnet.None
}

// buildResponse is the fixed answer to every request.
func buildResponse(server, body string) []byte {
	return []byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nServer: %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s",
		server, len(body), body))
}

// badRequest answers malformed or unsupported input, before closing.
var badRequest = []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

// maxHeadSize bounds a request head, terminator included.
const maxHeadSize = 64 << 10

var crlfcrlf = []byte("\r\n\r\n")

type verdict uint8

const (
	verdictKeep  verdict = iota // keep the connection open
	verdictClose                // answer, then close
	verdictBad                  // answer what came before, then 400, then close
)

// parser frames HTTP/1.1 requests on one connection, across reads.
type parser struct {
	bodyLeft   int64 // body bytes of the current request still to skip
	inBody     bool  // skipping a body; its request is answered once it is skipped
	closeAfter bool  // the request whose body is being skipped asked to close
	scanned    int   // bytes of the buffered partial head already searched
}

// feed frames the requests in buf, the connection's unconsumed input. It
// returns how many leading bytes of buf are done with (whole requests and
// skipped body bytes; a partial head is left for the next call, which must
// see it again at the start of its buf), how many requests are due an answer,
// and what to do with the connection. After verdictClose or verdictBad the
// parser must not be fed again.
func (p *parser) feed(buf []byte) (consumed, answers int, v verdict) {
	pos := 0
	for {
		if p.inBody {
			if rest := int64(len(buf) - pos); rest < p.bodyLeft {
				p.bodyLeft -= rest
				return len(buf), answers, verdictKeep
			}
			pos += int(p.bodyLeft)
			p.bodyLeft, p.inBody = 0, false
			answers++
			if p.closeAfter {
				return pos, answers, verdictClose
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
			return pos, answers, verdictKeep
		}
		from := max(p.scanned-3, 0)
		i := bytes.Index(rest[from:], crlfcrlf)
		if i < 0 {
			if len(rest) >= maxHeadSize {
				return pos, answers, verdictBad
			}
			p.scanned = len(rest)
			return pos, answers, verdictKeep
		}
		end := from + i + len(crlfcrlf)
		p.scanned = 0
		if end > maxHeadSize {
			return pos, answers, verdictBad
		}
		length, closeConn, ok := parseHead(rest[:end])
		if !ok {
			return pos, answers, verdictBad
		}
		pos += end
		if length > 0 {
			p.bodyLeft, p.inBody, p.closeAfter = length, true, closeConn
			continue
		}
		answers++
		if closeConn {
			return pos, answers, verdictClose
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

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
