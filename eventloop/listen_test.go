package eventloop_test

import (
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgeloop/edgeloop/eventloop"
)

// deferAcceptOf reads TCP_DEFER_ACCEPT from every socket of this process
// that listens on addr's port.
func deferAcceptOf(t *testing.T, addr string) []int {
	t.Helper()
	_, ps, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(ps)
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	var got []int
	for _, e := range ents {
		fd, _ := strconv.Atoi(e.Name())
		if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v != 1 {
			continue
		}
		if sa, err := unix.Getsockname(fd); err != nil || sa.(*unix.SockaddrInet4).Port != port {
			continue
		}
		v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	return got
}

// Every loop's listener defers accept, and clients are served whether
// their request comes at once, late, or after the defer period, when the
// kernel hands the silent connection over anyway.
func TestDeferAccept(t *testing.T) {
	o := startOrigin(t, echo)
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}, Loops: 3, DeferAccept: true})
	var got []int
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		got = deferAcceptOf(t, p.Addr)
		if len(got) == 3 && got[0] > 0 && got[1] > 0 && got[2] > 0 {
			break
		}
	}
	if len(got) != 3 || got[0] == 0 || got[1] == 0 || got[2] == 0 {
		t.Fatalf("TCP_DEFER_ACCEPT on the listeners: %v, want 3 sockets, each set", got)
	}
	for _, wait := range []time.Duration{0, 200 * time.Millisecond, 1500 * time.Millisecond} {
		c := dial(t, p.Addr)
		time.Sleep(wait)
		c.send("GET /late HTTP/1.1\r\nHost: a\r\n\r\n")
		bodyOf(t, c.read("GET"), 200)
		c.send("GET /again HTTP/1.1\r\nHost: a\r\n\r\n")
		bodyOf(t, c.read("GET"), 200)
	}
}

func TestNoDeferAccept(t *testing.T) {
	o := startOrigin(t, echo)
	p := startProxy(t, eventloop.Options{Origins: []string{o.Addr()}, Loops: 2})
	c := dial(t, p.Addr) // by now the first tick has passed
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	bodyOf(t, c.read("GET"), 200)
	time.Sleep(150 * time.Millisecond)
	if got := deferAcceptOf(t, p.Addr); len(got) != 2 || got[0] != 0 || got[1] != 0 {
		t.Fatalf("TCP_DEFER_ACCEPT on the listeners: %v, want 2 sockets, none set", got)
	}
}
