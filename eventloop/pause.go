package eventloop

import (
	"errors"
	"reflect"
	"syscall"

	"github.com/panjf2000/gnet/v2"
)

// Backpressure. gnet's Write never refuses bytes: what the socket does not
// take goes to an unbounded outbound buffer, and gnet reads every readable
// socket whether or not we consume. So when the side we write to (the
// sink) holds more than highWater unsent bytes, the side we read from (the
// source) is paused: its read interest is taken off the loop's epoll set,
// so the kernel, not our heap, holds what its peer sends, and TCP flow
// control slows the peer. A fast timer pass resumes the source once the
// sink is below lowWater.
//
// gnet (v2.9.7, pinned in go.mod) keeps its epoll descriptor private; we
// read it by reflection once per loop. TestPauseReadHook fails loudly if a
// gnet upgrade moves it, and without it the proxy still works, unpaused.
const (
	highWater = 512 << 10
	lowWater  = 128 << 10
)

// epollFD finds the epoll descriptor of a gnet loop: the fd field of the
// loop's poller.
func epollFD(el gnet.EventLoop) (int, error) {
	v := reflect.ValueOf(el)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return -1, errors.New("eventloop: gnet loop is not a pointer")
	}
	poller := v.Elem().FieldByName("poller")
	if !poller.IsValid() || poller.Kind() != reflect.Pointer || poller.IsNil() {
		return -1, errors.New("eventloop: gnet loop has no poller field")
	}
	fd := poller.Elem().FieldByName("fd")
	if !fd.IsValid() || fd.Kind() != reflect.Int {
		return -1, errors.New("eventloop: gnet poller has no fd field")
	}
	return int(fd.Int()), nil
}

// setInterest sets what the loop's epoll waits for on c: reading unless
// paused, and writing while gnet has output pending (gnet's own events:
// EPOLLIN|EPOLLPRI, EPOLLOUT; level-triggered).
func (l *loop) setInterest(c gnet.Conn, read bool) error {
	var ev uint32
	if read {
		ev |= syscall.EPOLLIN | syscall.EPOLLPRI
	}
	if c.OutboundBuffered() > 0 {
		ev |= syscall.EPOLLOUT
	}
	fd := c.Fd()
	return syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_MOD, fd, &syscall.EpollEvent{Events: ev, Fd: int32(fd)})
}

// pausable is a session side that can stop reading.
type pausable struct {
	paused bool
}

// pauseEntry is a paused source and the sink it waits for.
type pauseEntry struct{ src, sink gnet.Conn }

// throttle pauses src when sink holds more than highWater unsent bytes.
func (l *loop) throttle(src gnet.Conn, p *pausable, sink gnet.Conn) {
	if p.paused || l.epfd < 0 || sink.OutboundBuffered() <= highWater {
		return
	}
	if err := l.setInterest(src, false); err != nil {
		return
	}
	p.paused = true
	l.paused[p] = pauseEntry{src, sink}
	l.p.pausedSides.Add(1)
}

// unpause gives a paused source its read interest back; srcClosed says
// its connection is gone (its fd may be reused already: not touched).
func (l *loop) unpause(p *pausable, srcClosed bool) {
	if !p.paused {
		return
	}
	e := l.paused[p]
	p.paused = false
	delete(l.paused, p)
	l.p.pausedSides.Add(-1)
	if !srcClosed {
		_ = l.setInterest(e.src, true)
	}
}

// resumeDrained resumes the sources whose sink has drained below
// lowWater; run by every timer pass, fast while anything is paused. Both
// connections of an entry are open: the close and end-of-exchange paths
// unpause first.
func (l *loop) resumeDrained() {
	for p, e := range l.paused {
		if e.sink.OutboundBuffered() < lowWater {
			l.unpause(p, false)
		}
	}
}
