package eventloop

import (
	"fmt"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// deferAcceptSecs is the TCP_DEFER_ACCEPT period: a connection that sends
// nothing within it is handed over anyway (Linux since 2.6.32), so a client
// that waits for the server to speak first is delayed, never dropped.
// HTTP clients speak first.
const deferAcceptSecs = 1

// deferAccept sets TCP_DEFER_ACCEPT on this process's listening TCP
// sockets bound to listen (host:port; an empty or unspecified host matches
// any address on the port) and returns how many it set.
//
// gnet creates the sockets itself, one per loop with SO_REUSEPORT, and
// exposes only a duplicate of the first; so they are found by walking
// /proc/self/fd for sockets that listen (SO_ACCEPTCONN) on that address.
// Without the option, each new connection wakes the loop twice: once to
// accept it, once more when its request arrives. With it the kernel queues
// the connection when its first bytes arrive, and the loop accepts and
// reads it in one pass: in docs/performance.md, 5% less CPU per request
// with a new connection per request.
func deferAccept(listen string) (int, error) {
	want, err := net.ResolveTCPAddr("tcp", listen)
	if err != nil {
		return 0, err
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		// Not a socket (ENOTSOCK), or not listening.
		if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v != 1 {
			continue
		}
		sa, err := unix.Getsockname(fd)
		if err != nil || !sameAddr(sa, want) {
			continue
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, deferAcceptSecs); err != nil {
			return n, fmt.Errorf("fd %d: %w", fd, err)
		}
		n++
	}
	return n, nil
}

// sameAddr tells whether a socket's own address is want's: the same port,
// and the same IP unless want's is unspecified.
func sameAddr(sa unix.Sockaddr, want *net.TCPAddr) bool {
	var ip net.IP
	var port int
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		ip, port = net.IP(a.Addr[:]), a.Port
	case *unix.SockaddrInet6:
		ip, port = net.IP(a.Addr[:]), a.Port
	default:
		return false
	}
	if port != want.Port {
		return false
	}
	return want.IP == nil || want.IP.IsUnspecified() || want.IP.Equal(ip)
}

// tuneListeners applies the listener options (DeferAccept) once the
// sockets exist. A failure costs only the optimisation, so it is logged.
func (p *Proxy) tuneListeners() {
	if !p.opts.DeferAccept {
		return
	}
	n, err := deferAccept(p.opts.Listen)
	switch {
	case err != nil:
		p.log.Warn("TCP_DEFER_ACCEPT not set on the listeners", "listen", p.opts.Listen, "set", n, "err", err)
	case n == 0:
		p.log.Warn("TCP_DEFER_ACCEPT not set: no listening socket found", "listen", p.opts.Listen)
	default:
		p.log.Debug("TCP_DEFER_ACCEPT set", "listen", p.opts.Listen, "sockets", n)
	}
}
