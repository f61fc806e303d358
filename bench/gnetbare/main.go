// Command gnetbare is a bare HTTP/1.1 server on github.com/panjf2000/gnet/v2.
//
// It is a reference for the benchmark harness: the ceiling of an event-loop
// server on this machine. It answers every request with one fixed response,
// precomputed once, and parses no more than it needs to frame requests: the
// end of the head ("\r\n\r\n"), Content-Length (whose body it skips),
// Connection and Transfer-Encoding. Keep-alive and pipelining are supported;
// the answers to the requests that one read completes go out in one write.
// The command line, the framing, the answers and the tests of the
// behaviour on the wire are bench/internal/bare's, shared with bench/eviobare.
//
// Usage:
//
//	gnetbare [-listen 127.0.0.1:29090] [-loops 1] [-body "Hello, World!"]
package main

import (
	"context"
	"net"
	"strconv"
	"syscall"

	"github.com/panjf2000/gnet/v2"

	"github.com/edgeloop/edgeloop/bench/internal/bare"
)

const serverName = "gnet-bare"

func main() {
	bare.Main(serverName, run)
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
		resp:   bare.BuildResponse(serverName, body),
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
	p   bare.Parser
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
	consumed, answers, v := st.p.Feed(in)
	if consumed > 0 {
		// Discard(0) would drop everything: only call it with a count.
		_, _ = c.Discard(consumed)
	}
	if out := bare.Answers(&st.out, h.resp, answers, v); len(out) > 0 {
		// On the event loop Write goes straight to the socket and keeps
		// whatever the socket did not take.
		if _, err := c.Write(out); err != nil {
			return gnet.Close
		}
	}
	if v != bare.VerdictKeep {
		return gnet.Close
	}
	return gnet.None
}
