package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/edgeloop/edgeloop/http1"
)

// worker is one event loop: its connections, its epoll set and its
// histogram, all touched by its goroutine only (locked to an OS thread).
// It is built like wrk's threads: non-blocking sockets, one epoll_wait per
// wake-up, a request written as soon as the previous answer is whole.
type worker struct {
	cfg      Config
	addr     string
	reqs     [][]byte // one per URL, taken in turn
	conns    int
	start    time.Time
	deadline time.Time
	budget   *budget
	interval time.Duration // open model: between two requests of one connection

	hist     *hdrhistogram.Histogram
	status   map[int]int64
	errs     map[string]int64
	done     int64
	progress atomic.Int64 // done, for the progress line
	lastDone time.Time    // when a response last completed (or the start)
	bytes    int64
	fatal    error

	epfd     int
	byFD     map[int]*conn
	parked   []*conn // after a connect error, until retryAt
	sa       syscall.Sockaddr
	rbuf     []byte
	now      time.Time
	reqOf    http1.Method
	noPwait2 bool // the kernel lacks epoll_pwait2: millisecond timeouts
}

// conn is one client connection.
type conn struct {
	fd        int
	connected bool
	in        []byte      // bytes read and not yet consumed
	out       []byte      // bytes to write
	starts    []time.Time // when each request in flight was (meant to be) sent
	resp      http1.Response
	inBody    bool
	body      http1.Body
	left      int64
	chunks    http1.Chunked
	next      time.Time // open model: when the next request is due
	writing   bool      // EPOLLOUT is in the epoll set
	turn      int       // the next URL
	raw       []byte    // -verify: the bytes of the response being read
	retryAt   time.Time // after a connect error
}

func (w *worker) run() {
	if err := w.setup(); err != nil {
		w.fatal = err
		return
	}
	defer w.teardown()
	w.reqOf = methodOf(w.cfg.Method)
	w.now = time.Now()
	w.lastDone = w.now
	for i := 0; i < w.conns; i++ {
		c := &conn{}
		if w.interval > 0 {
			c.next = w.start.Add(w.interval * time.Duration(i) / time.Duration(w.conns))
		}
		w.dial(c)
	}
	events := make([]syscall.EpollEvent, 256)
	for {
		w.now = time.Now()
		if w.finished() {
			return
		}
		n, err := w.wait(events)
		if err != nil && err != syscall.EINTR {
			w.fatal = fmt.Errorf("loadgen: epoll_wait: %w", err)
			return
		}
		w.now = time.Now()
		for i := 0; i < n; i++ {
			c := w.byFD[int(events[i].Fd)]
			if c == nil {
				continue
			}
			ev := events[i].Events
			if !c.connected {
				w.connected(c)
				continue
			}
			if ev&(syscall.EPOLLIN|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
				w.read(c)
			}
			if ev&syscall.EPOLLOUT != 0 && c.fd >= 0 {
				w.flush(c)
			}
		}
		w.housekeep()
	}
}

func (w *worker) setup() error {
	host, port, _ := net.SplitHostPort(w.addr)
	p, _ := strconv.Atoi(port)
	ip := net.ParseIP(host)
	if ip4 := ip.To4(); ip4 != nil {
		sa := &syscall.SockaddrInet4{Port: p}
		copy(sa.Addr[:], ip4)
		w.sa = sa
	} else {
		sa := &syscall.SockaddrInet6{Port: p}
		copy(sa.Addr[:], ip.To16())
		w.sa = sa
	}
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("loadgen: epoll: %w", err)
	}
	w.epfd, w.byFD, w.rbuf = fd, map[int]*conn{}, make([]byte, 64<<10)
	return nil
}

func (w *worker) teardown() {
	for fd := range w.byFD {
		syscall.Close(fd)
	}
	syscall.Close(w.epfd)
}

// finished: the time is up; or the request budget is spent and nothing
// is in flight; or no response has come for Timeout (a refused or silent
// target ends a run by -n too, instead of retrying for ever).
func (w *worker) finished() bool {
	if !w.deadline.IsZero() && !w.now.Before(w.deadline) {
		return true
	}
	if w.now.Sub(w.lastDone) > max(w.cfg.Timeout, 2*w.interval) { // a slow open-model rate is no stall
		w.errs["stalled"]++
		return true
	}
	if w.budget.limited {
		w.budget.mu.Lock()
		left := w.budget.left
		w.budget.mu.Unlock()
		if left <= 0 {
			for _, c := range w.byFD {
				if len(c.starts) > 0 {
					return false
				}
			}
			return true
		}
	}
	return false
}

// sysEpollPwait2 is epoll_pwait2 (Linux 5.11) on amd64 and arm64: a
// timeout in nanoseconds, where epoll_wait's is in milliseconds.
const sysEpollPwait2 = 441

// wait sleeps in epoll until an event or waitFor. The open model needs
// the finer timer: a request sent up to a millisecond late would count
// that lateness as latency.
func (w *worker) wait(events []syscall.EpollEvent) (int, error) {
	d := w.waitFor()
	if !w.noPwait2 {
		ts := syscall.NsecToTimespec(int64(d))
		n, _, errno := syscall.Syscall6(sysEpollPwait2, uintptr(w.epfd), uintptr(unsafe.Pointer(&events[0])),
			uintptr(len(events)), uintptr(unsafe.Pointer(&ts)), 0, 0)
		if errno != syscall.ENOSYS {
			if errno != 0 {
				return 0, errno
			}
			return int(n), nil
		}
		w.noPwait2 = true
	}
	return syscall.EpollWait(w.epfd, events, int((d+time.Millisecond-1)/time.Millisecond))
}

// waitFor is how long epoll may sleep: until the deadline, the next
// scheduled request (open model) or a retry, at most 10 ms.
func (w *worker) waitFor() time.Duration {
	wait := 10 * time.Millisecond
	if !w.deadline.IsZero() {
		wait = min(wait, w.deadline.Sub(w.now))
	}
	if w.interval > 0 {
		for _, c := range w.byFD {
			if c.connected && len(c.starts) < w.cfg.Pipeline {
				wait = min(wait, c.next.Sub(w.now))
			}
		}
	}
	return max(wait, 0)
}

// dial opens a non-blocking connection; connected completes it.
func (w *worker) dial(c *conn) {
	family := syscall.AF_INET
	if _, ok := w.sa.(*syscall.SockaddrInet6); ok {
		family = syscall.AF_INET6
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		w.fatal = fmt.Errorf("loadgen: socket: %w", err)
		return
	}
	_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	err = syscall.Connect(fd, w.sa)
	if err != nil && err != syscall.EINPROGRESS {
		syscall.Close(fd)
		w.errs["connect"]++
		c.fd = -1
		w.park(c)
		return
	}
	c.fd, c.connected = fd, false
	w.byFD[fd] = c
	_ = syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLOUT, Fd: int32(fd)})
}

// connected runs when a dialed socket turns writable.
func (w *worker) connected(c *conn) {
	if v, err := syscall.GetsockoptInt(c.fd, syscall.SOL_SOCKET, syscall.SO_ERROR); err != nil || v != 0 {
		w.errs["connect"]++
		w.drop(c)
		w.park(c)
		return
	}
	c.connected, c.writing = true, false
	_ = syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_MOD, c.fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(c.fd)})
	w.send(c)
}

// send queues as many requests as the connection may have in flight and
// the pacing allows, then writes them.
func (w *worker) send(c *conn) {
	for len(c.starts) < w.cfg.Pipeline && w.sending() {
		at := time.Now() // per request, as wrk does: not the batch's clock
		if w.interval > 0 {
			if c.next.After(w.now) {
				break // not due yet
			}
			at = c.next // latency counts from when it was due (wrk2)
			c.next = c.next.Add(w.interval)
		}
		if !w.budget.take() {
			break
		}
		c.out = append(c.out, w.reqs[c.turn%len(w.reqs)]...)
		c.turn++
		c.starts = append(c.starts, at)
	}
	w.flush(c)
}

// sending: new requests may start.
func (w *worker) sending() bool { return w.deadline.IsZero() || w.now.Before(w.deadline) }

// flush writes what is queued; a partial write waits for EPOLLOUT.
func (w *worker) flush(c *conn) {
	if len(c.out) == 0 || c.fd < 0 {
		return
	}
	n, err := rawIO(syscall.SYS_WRITE, c.fd, c.out)
	if err != nil && err != syscall.EAGAIN {
		w.errs["write"]++
		w.reconnect(c)
		return
	}
	if n > 0 {
		c.out = c.out[:copy(c.out, c.out[n:])]
	}
	// epoll_ctl only when the interest changes: not once per request.
	if want := len(c.out) > 0; want != c.writing {
		ev := uint32(syscall.EPOLLIN)
		if want {
			ev |= syscall.EPOLLOUT
		}
		_ = syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_MOD, c.fd, &syscall.EpollEvent{Events: ev, Fd: int32(c.fd)})
		c.writing = want
	}
}

// read takes what the socket holds and completes responses.
func (w *worker) read(c *conn) {
	for c.fd >= 0 {
		n, err := rawIO(syscall.SYS_READ, c.fd, w.rbuf)
		if err == syscall.EAGAIN {
			return
		}
		if err != nil || n == 0 {
			if c.inBody && c.body.Kind == http1.BodyUntilClose {
				w.complete(c) // a close-delimited body ends so
			} else if len(c.starts) > 0 {
				w.errs["read"]++
			}
			w.reconnect(c)
			return
		}
		w.bytes += int64(n)
		c.in = append(c.in, w.rbuf[:n]...)
		if !w.consume(c) {
			return
		}
		if n < len(w.rbuf) {
			return
		}
	}
}

// errBadResponse counts a response the client cannot frame.
var errBadResponse = errors.New("bad response")

// consume frames responses in c.in; false when the connection was closed.
func (w *worker) consume(c *conn) bool {
	for len(c.in) > 0 {
		if !c.inBody {
			n, err := c.resp.Parse(c.in)
			if err == http1.ErrNeedMore {
				return true
			}
			if err == nil && len(c.starts) == 0 {
				err = errBadResponse // an answer nobody asked for
			}
			if err == nil {
				c.body, err = c.resp.Framing(w.reqOf)
			}
			if err != nil {
				w.errs["bad-response"]++
				w.reconnect(c)
				return false
			}
			w.keep(c, c.in[:n])
			c.in = c.in[:copy(c.in, c.in[n:])]
			c.inBody, c.left = true, c.body.Length
			if c.body.Kind == http1.BodyChunked {
				c.chunks.Reset()
			}
		}
		switch c.body.Kind {
		case http1.BodyLength:
			k := min(int64(len(c.in)), c.left)
			w.keep(c, c.in[:k])
			c.in = c.in[:copy(c.in, c.in[k:])]
			c.left -= k
			if c.left > 0 {
				return true
			}
		case http1.BodyChunked:
			k := 0
			for k < len(c.in) && !c.chunks.Done() {
				m, _, err := c.chunks.Decode(c.in[k:])
				if err != nil && err != http1.ErrNeedMore {
					w.errs["bad-response"]++
					w.reconnect(c)
					return false
				}
				if m == 0 {
					break
				}
				k += m
			}
			w.keep(c, c.in[:k])
			c.in = c.in[:copy(c.in, c.in[k:])]
			if !c.chunks.Done() {
				return true
			}
		case http1.BodyUntilClose:
			w.keep(c, c.in)
			c.in = c.in[:0]
			return true
		}
		if !w.complete(c) {
			return false
		}
	}
	return true
}

// complete records a whole response and sends the next request; false
// when the connection was closed.
func (w *worker) complete(c *conn) bool {
	w.now = time.Now()
	lat := w.now.Sub(c.starts[0])
	c.starts = c.starts[:copy(c.starts, c.starts[1:])]
	_ = w.hist.RecordValue(max(int64(lat/time.Microsecond), 1))
	if w.cfg.Verify {
		w.verify(c)
	}
	w.status[c.resp.Status]++
	w.done++
	w.lastDone = w.now
	w.progress.Store(w.done)
	keep := c.resp.KeepAlive() && !w.cfg.Close
	c.resp.Reset()
	c.inBody = false
	if !keep {
		w.reconnect(c)
		return false
	}
	w.send(c)
	return true
}

// reconnect closes c and dials again while requests may still start;
// what was in flight on it is lost (counted by the caller).
func (w *worker) reconnect(c *conn) {
	w.drop(c)
	if w.sending() && !w.budget.spent() {
		w.dial(c)
	}
}

func (w *worker) drop(c *conn) {
	if c.fd >= 0 {
		delete(w.byFD, c.fd)
		syscall.Close(c.fd)
	}
	c.fd, c.connected = -1, false
	c.in, c.out, c.starts, c.raw = c.in[:0], c.out[:0], c.starts[:0], c.raw[:0]
	c.resp.Reset()
	c.inBody = false
}

// park sets c aside after a connect error; housekeep dials it again
// 10 ms later (a refused port does not become a busy loop).
func (w *worker) park(c *conn) {
	c.retryAt = w.now.Add(10 * time.Millisecond)
	w.parked = append(w.parked, c)
}

// housekeep: redials after connect errors, timeouts, and the due
// requests of the open model.
func (w *worker) housekeep() {
	if len(w.parked) > 0 && w.sending() {
		ready := w.parked
		w.parked = nil
		for _, c := range ready {
			if w.now.Before(c.retryAt) {
				w.parked = append(w.parked, c)
			} else {
				w.dial(c)
			}
		}
	}
	for _, c := range w.byFD {
		switch {
		case len(c.starts) > 0 && w.now.Sub(c.starts[0]) > w.cfg.Timeout:
			w.errs["timeout"]++
			w.reconnect(c)
		case c.connected && w.interval > 0 && len(c.starts) < w.cfg.Pipeline && !c.next.After(w.now):
			w.send(c)
		}
	}
}

// methodOf maps a method name onto http1's kind, for response framing
// (a HEAD response has no body).
func methodOf(m string) http1.Method {
	var r http1.Request
	n, err := r.Parse([]byte(m + " / HTTP/1.1\r\nHost: x\r\n\r\n"))
	if err != nil || n == 0 {
		return 0
	}
	return r.MethodKind
}

// rawIO is read(2) or write(2) on a non-blocking socket without the
// runtime's system-call bookkeeping (entersyscall/exitsyscall): the call
// cannot block, so the P need not be handed off. It cost a loop about a
// tenth of its requests against wrk.
func rawIO(trap uintptr, fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, errno := syscall.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// keep collects a response's bytes for -verify.
func (w *worker) keep(c *conn, b []byte) {
	if w.cfg.Verify {
		c.raw = append(c.raw, b...)
	}
}

// verify reads the response just completed again with net/http: a
// response it cannot read, or reads differently (status, or bytes left
// over), is counted as a "verify" error.
func (w *worker) verify(c *conn) {
	raw := c.raw
	c.raw = c.raw[:0]
	br := bufio.NewReader(bytes.NewReader(raw))
	resp, err := http.ReadResponse(br, &http.Request{Method: w.cfg.Method})
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && (resp.StatusCode != c.resp.Status || br.Buffered() != 0) {
			err = errors.New("differs")
		}
	}
	if err != nil {
		w.errs["verify"]++
	}
}
