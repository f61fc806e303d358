// Command eviobare is a bare HTTP/1.1 server on github.com/tidwall/evio.
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
//	eviobare [-listen 127.0.0.1:29090] [-loops 1] [-body "Hello, World!"]
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
	"syscall"
	"time"

	"github.com/tidwall/evio"
)

const serverName = "evio-bare"

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

// evio only stops on an action returned from one of its events, so run
// watches ctx from Tick, which evio calls on event loop 0.
const (
	// tickInterval is how often Tick looks at ctx: the bound on the delay
	// of a shutdown.
	tickInterval = 50 * time.Millisecond
	// tickerExit is the delay returned with Shutdown. evio's ticker
	// goroutine sleeps that long, then signals the poller of loop 0 once
	// more; that fails, the poller being closed by then, and the goroutine
	// ends. run waits for that before it returns so that no goroutine of
	// this server outlives it (and none writes to a descriptor number the
	// process may have reused).
	tickerExit = 100 * time.Millisecond
)

// run serves on addr until ctx is done, then shuts evio down and returns
// once every event loop has exited and every connection is closed. ready, if
// not nil, is called once with the address listened on (useful with port 0);
// from then on connections are accepted.
func run(ctx context.Context, addr string, loops int, body string, ready func(net.Addr)) error {
	if loops < 1 {
		loops = 1
	}
	resp := buildResponse(serverName, body)
	var (
		ticks     int       // only touched on loop 0
		tickerEnd time.Time // set on loop 0 with Shutdown; read after Serve returns
	)
	events := evio.Events{
		NumLoops: loops,
		Serving: func(s evio.Server) evio.Action {
			if ready != nil && len(s.Addrs) > 0 {
				ready(s.Addrs[0])
			}
			return evio.None
		},
		Tick: func() (time.Duration, evio.Action) {
			ticks++
			// Not on the first tick: evio calls it as loop 0 starts, and
			// may not be waiting for the end of its loops yet; a
			// shutdown then would go unnoticed.
			if ticks > 1 && ctx.Err() != nil {
				tickerEnd = time.Now().Add(tickerExit)
				return tickerExit, evio.Shutdown
			}
			return tickInterval, evio.None
		},
		Opened: func(c evio.Conn) ([]byte, evio.Options, evio.Action) {
			c.SetContext(&connState{})
			// The input is used during Data only (a partial head is copied
			// to the connection's stream), so evio need not copy it.
			return nil, evio.Options{ReuseInputBuffer: true}, evio.None
		},
		Data: func(c evio.Conn, in []byte) ([]byte, evio.Action) {
			st, _ := c.Context().(*connState)
			if st == nil {
				return nil, evio.Close
			}
			if len(in) == 0 {
				return nil, evio.None
			}
			data := st.is.Begin(in)
			consumed, answers, v := st.p.feed(data)
			var out []byte
			switch {
			case answers == 1 && v != verdictBad:
				out = resp
			case answers > 0 || v == verdictBad:
				out = st.out[:0]
				for range answers {
					out = append(out, resp...)
				}
				if v == verdictBad {
					out = append(out, badRequest...)
				}
				st.out = out[:0]
			}
			if v != verdictKeep {
				// evio writes out, then closes.
				return out, evio.Close
			}
			// Keep the partial head, if any, for the next read.
			st.is.End(data[consumed:])
			return out, evio.None
		},
	}
	err := evio.Serve(events, "tcp://"+addr)
	if !tickerEnd.IsZero() {
		time.Sleep(time.Until(tickerEnd) + 10*time.Millisecond)
	}
	return err
}

// connState is what a connection keeps between reads.
type connState struct {
	p   parser
	is  evio.InputStream // unconsumed input: a partial head
	out []byte           // scratch for the answers to a batch of requests
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
