package eventloop

import (
	"context"
	"errors"
	"reflect"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// Backpressure. gnet's Write never refuses bytes: what the socket does not
// take goes to an unbounded outbound buffer, and gnet reads every readable
// socket whether or not we consume. So when the side we write to (the
// sink) holds more than highWater unsent bytes, the side we read from (the
// source) is paused: its read interest is taken off the loop's epoll set,
// so the kernel, not our heap, holds what its peer sends, and TCP flow
// control slows the peer. A timed pass resumes the source once the sink
// is below lowWater.
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

// pauseEntry is a paused source, the sink it waits for, and what the
// sink held at the last look, to predict when it will be below lowWater.
type pauseEntry struct {
	src, sink gnet.Conn
	lastBuf   int           // sink's unsent bytes at lastAt
	lastAt    time.Time     // the last look
	wait      time.Duration // the wait predicted at the last look
}

// Resume checks are timed by prediction, not by a fixed tick: a sink
// that drained d bytes in t since the last look is looked at again when,
// at that rate, it will be below lowWater. A loopback client drains the
// 384 KiB between the marks in about 200 µs, a 16 MiB/s one in 23 ms; a
// fixed 2 ms tick held the first to 150 MiB/s and woke for the second
// ten times for nothing. A sink that drained nothing is looked at after
// twice the last wait.
const (
	firstWait = 200 * time.Microsecond
	minWait   = 50 * time.Microsecond
	maxWait   = 50 * time.Millisecond
)

// throttle pauses src when sink holds more than highWater unsent bytes.
func (l *loop) throttle(src gnet.Conn, p *pausable, sink gnet.Conn) {
	if p.paused || l.epfd < 0 || sink.OutboundBuffered() <= highWater {
		return
	}
	if err := l.setInterest(src, false); err != nil {
		return
	}
	p.paused = true
	l.paused[p] = &pauseEntry{src: src, sink: sink, lastBuf: sink.OutboundBuffered(),
		lastAt: time.Now(), wait: firstWait}
	l.armResume(firstWait)
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
	if !srcClosed {
		_ = l.setInterest(e.src, true)
	}
}

// armResume makes sure a resume pass runs within d.
func (l *loop) armResume(d time.Duration) {
	at := time.Now().Add(d)
	if l.resumeArmed && !l.resumeAt.After(at) {
		return
	}
	l.resumeArmed, l.resumeAt = true, at
	if l.resumeTimer == nil {
		l.resumeTimer = time.AfterFunc(d, l.postResume)
	} else {
		l.resumeTimer.Reset(d)
	}
}

// postResume runs on a timer goroutine: it posts a resume pass to the
// loop.
func (l *loop) postResume() {
	_ = l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		l.resumeArmed = false
		l.resumeDrained()
		return nil
	}))
}

// resumeDrained resumes the sources whose sink has drained below
// lowWater and arms the next pass for the rest. Both connections of an
// entry are open: the close and end-of-exchange paths unpause first.
func (l *loop) resumeDrained() {
	if len(l.paused) == 0 {
		return
	}
	now := time.Now()
	next := maxWait
	for p, e := range l.paused {
		buf := e.sink.OutboundBuffered()
		if buf < lowWater {
			l.unpause(p, false)
			continue
		}
		wait := min(2*e.wait, maxWait)
		if drained, dt := e.lastBuf-buf, now.Sub(e.lastAt); drained > 0 && dt > 0 {
			wait = time.Duration(float64(buf-lowWater) / float64(drained) * float64(dt))
		}
		e.wait = min(max(wait, minWait), maxWait)
		e.lastBuf, e.lastAt = buf, now
		next = min(next, e.wait)
	}
	if len(l.paused) > 0 {
		l.armResume(next)
	}
}

// stopResume stops the resume timer when the loop ends.
func (l *loop) stopResume() {
	if l.resumeTimer != nil {
		l.resumeTimer.Stop()
	}
}
