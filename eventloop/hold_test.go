package eventloop_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeloop/edgeloop/eventloop"
)

// rxQueue returns the bytes the kernel holds unread on the proxy's side
// of the connection from client (a 127.0.0.1 socket), from /proc/net/tcp.
func rxQueue(t *testing.T, proxy string, client net.Addr) int {
	t.Helper()
	hexAddr := func(a string) string {
		h, p, _ := net.SplitHostPort(a)
		ip := net.ParseIP(h).To4()
		port, _ := strconv.Atoi(p)
		return fmt.Sprintf("%02X%02X%02X%02X:%04X", ip[3], ip[2], ip[1], ip[0], port)
	}
	local, remote := hexAddr(proxy), hexAddr(client.String())
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		t.Skipf("no /proc/net/tcp: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) > 4 && fs[1] == local && fs[2] == remote {
			_, rx, _ := strings.Cut(fs[4], ":")
			n, _ := strconv.ParseInt(rx, 16, 64)
			return int(n)
		}
	}
	t.Fatalf("no socket %s -> %s in /proc/net/tcp", proxy, client)
	return 0
}

// While an exchange waits on the origin and a pipelined request is
// already buffered, the proxy does not read the client: what it sends
// meanwhile stays in the kernel, and is read, served and answered in
// order once the buffered requests are done, a partial head included.
func TestPipelineHoldsReads(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	o := startOrigin(t, serve(func(_ *originSide, r *gotRequest) string {
		if r.Target == "/1" {
			<-release
		}
		return ok("body of " + r.Target)
	}))
	t.Cleanup(free) // before the origin's cleanup waits for its handler
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}, Loops: 1})
	c := dial(t, p.Addr)
	req := func(target string) string { return "GET " + target + " HTTP/1.1\r\nHost: a\r\n\r\n" }
	c.send(req("/1") + req("/2"))
	for deadline := time.Now().Add(ioTimeout); len(o.Requests()) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the origin never got /1")
		}
	}
	third := req("/3") + "GET /4 HTTP/1.1\r\nHo"
	c.send(third)
	time.Sleep(150 * time.Millisecond)
	if n := rxQueue(t, p.Addr, c.c.LocalAddr()); n != len(third) {
		t.Fatalf("%d bytes unread in the proxy's socket while /1 is at the origin, want the %d sent after /2", n, len(third))
	}
	free()
	for _, target := range []string{"/1", "/2", "/3"} {
		if got := bodyOf(t, c.read("GET"), 200); got != "body of "+target {
			t.Fatalf("response %q, want the one of %s", got, target)
		}
	}
	c.send("st: a\r\n\r\n") // the rest of /4's head
	if got := bodyOf(t, c.read("GET"), 200); got != "body of /4" {
		t.Fatalf("response %q, want the one of /4", got)
	}
	if n := rxQueue(t, p.Addr, c.c.LocalAddr()); n != 0 {
		t.Fatalf("%d bytes left unread after the last response", n)
	}
	// A pipelined upload after a held wait: its body is read in full.
	c.send(req("/5") + "POST /6 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab")
	if got := bodyOf(t, c.read("GET"), 200); got != "body of /5" {
		t.Fatalf("response %q, want the one of /5", got)
	}
	c.send("cde")
	if got := bodyOf(t, c.read("POST"), 200); got != "body of /6" {
		t.Fatalf("response %q, want the one of /6", got)
	}
	if rs := o.Requests(); len(rs) != 6 || string(rs[5].Data) != "abcde" {
		t.Fatalf("origin got %d requests, the last with body %q", len(rs), rs[len(rs)-1].Data)
	}
}

// Bytes a client sends after an upgrade request, while the origin has not
// answered yet, hold the reads like pipelined requests; the 101 turns the
// connection into a tunnel, which must read again.
func TestUpgradeAfterHeldReads(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	o := startOrigin(t, func(s *originSide) {
		if _, err := s.ReadRequest(); err != nil {
			return
		}
		<-release
		s.Write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		for len(s.buf) > 0 || s.fill() == nil { // echo until the proxy closes
			if s.Write(string(s.buf)) != nil {
				return
			}
			s.buf = s.buf[:0]
		}
	})
	t.Cleanup(free)
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}, Loops: 1})
	c := dial(t, p.Addr)
	c.send("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nearly;")
	for deadline := time.Now().Add(ioTimeout); len(o.Requests()) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the origin never got the upgrade request")
		}
	}
	c.send("late;")
	time.Sleep(100 * time.Millisecond)
	free()
	if h := c.readHead(); !strings.HasPrefix(h, "HTTP/1.1 101 ") {
		t.Fatalf("head %q", h)
	}
	if b := c.readN(len("early;late;")); string(b) != "early;late;" {
		t.Fatalf("echo %q", b)
	}
	c.send("more")
	if b := c.readN(4); string(b) != "more" {
		t.Fatalf("echo %q", b)
	}
}
