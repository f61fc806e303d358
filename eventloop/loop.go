package eventloop

import (
	"context"
	"net"
	"sync/atomic"
	"time"

	"github.com/edgeloop/edgeloop/http1"
	"github.com/edgeloop/edgeloop/pool"
	"github.com/panjf2000/gnet/v2"
)

// loop is the state one gnet event loop owns: its connections (for the
// timers), its idle origin connections, and scratch buffers. Only that
// loop's goroutine touches it, except ticking, which is posted.
type loop struct {
	p     *Proxy
	el    gnet.EventLoop
	stats *loopStats

	clients map[*clientConn]struct{}
	origins map[*originConn]struct{}
	// idle origin connections per origin ID, newest last (reused first).
	idle map[int][]*originConn

	// paused sources and the sinks they wait for (pause.go); epfd is
	// the loop's epoll descriptor, -1 when it could not be found.
	paused map[*pausable]*pauseEntry
	epfd   int
	// the resume pass's timer (pause.go): armed while anything is paused.
	resumeTimer *time.Timer
	resumeAt    time.Time
	resumeArmed bool

	now     time.Time // refreshed by each tick and each accepted connection
	date    []byte    // now as an HTTP-date (httpDate), and its second
	dateSec int64
	ticking atomic.Bool // a tick is posted and not yet run
	scratch []byte      // builds heads; valid until the next build

	reqFree  []*http1.Request  // parsers of finished requests, for reuse
	headFree [][]byte          // buffers of forwarded heads, for reuse
	respFree []*http1.Response // parsers of finished responses, for reuse

	gov governor

	// pipelined: clients with a pipelined request waiting, started at
	// the loop's next turn (startPipelined).
	pipelined     []*clientConn
	pipelinedNext bool // the turn's task is posted
}

// deferPipelined starts cc's waiting pipelined request at the loop's next
// turn, after the events of this one, rather than inside the callback
// that ended the previous exchange.
func (l *loop) deferPipelined(cc *clientConn) {
	l.pipelined = append(l.pipelined, cc)
	if l.pipelinedNext {
		return
	}
	l.pipelinedNext = true
	_ = l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		l.startPipelined()
		return nil
	}))
}

// startPipelined starts the deferred pipelined requests.
func (l *loop) startPipelined() {
	list := l.pipelined
	l.pipelined, l.pipelinedNext = l.pipelined[len(list):], false
	for i, cc := range list {
		list[i] = nil
		if !cc.closed && cc.state == ccIdle {
			cc.onTraffic()
		}
	}
	if len(l.pipelined) == 0 {
		l.pipelined = list[:0]
	}
}

func newLoop(p *Proxy, el gnet.EventLoop) *loop {
	l := &loop{
		p: p, el: el, now: time.Now(),
		stats:   &loopStats{},
		clients: map[*clientConn]struct{}{},
		origins: map[*originConn]struct{}{},
		idle:    map[int][]*originConn{},
		paused:  map[*pausable]*pauseEntry{},
		scratch: make([]byte, 0, 4096),
	}
	fd, err := epollFD(el)
	if err != nil {
		p.log.Warn("backpressure disabled: gnet's epoll descriptor not found", "err", err)
		fd = -1
	}
	l.epfd = fd
	return l
}

// getRequest takes a request parser and a head buffer from the loop's
// free lists (or makes them): held only while a request is in progress.
func (l *loop) getRequest() (*http1.Request, []byte) {
	var r *http1.Request
	if n := len(l.reqFree); n > 0 {
		r = l.reqFree[n-1]
		l.reqFree = l.reqFree[:n-1]
	} else {
		r = &http1.Request{}
	}
	r.Reset()
	r.Limits = l.p.opts.Limits
	var head []byte
	if n := len(l.headFree); n > 0 {
		head = l.headFree[n-1]
		l.headFree = l.headFree[:n-1]
	}
	return r, head
}

// maxFree bounds each free list: beyond it, the GC takes the rest.
const maxFree = 64

// putRequest gives them back.
func (l *loop) putRequest(r *http1.Request, head []byte) {
	if len(l.reqFree) < maxFree {
		l.reqFree = append(l.reqFree, r)
	}
	if head != nil && cap(head) <= 64<<10 && len(l.headFree) < maxFree {
		l.headFree = append(l.headFree, head[:0])
	}
}

// getResponse takes a response parser from the loop's free list.
func (l *loop) getResponse() *http1.Response {
	if n := len(l.respFree); n > 0 {
		r := l.respFree[n-1]
		l.respFree = l.respFree[:n-1]
		return r
	}
	return &http1.Response{}
}

// putResponse gives one back.
func (l *loop) putResponse(r *http1.Response) {
	if len(l.respFree) < maxFree {
		l.respFree = append(l.respFree, r)
	}
}

// postTick asks the loop to run its timers; one pending tick at most.
func (l *loop) postTick(now time.Time) {
	if !l.ticking.CompareAndSwap(false, true) {
		return
	}
	_ = l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		l.ticking.Store(false)
		l.tick(now)
		return nil
	}))
}

// tick closes what has run out of time. Timeouts are checked at tick
// resolution (100 ms), which is all they need.
func (l *loop) tick(now time.Time) {
	l.now = now
	l.govern()
	for cc := range l.clients {
		switch {
		case cc.state == ccClosing && cc.c.OutboundBuffered() == 0:
			cc.close()
		case !cc.deadline.IsZero() && now.After(cc.deadline):
			cc.timeout()
		}
	}
	// Idle connections to servers that left the pool (removed after a
	// drain) are closed now rather than at their idle timeout.
	snap := l.p.src.Snapshot()
	for id, list := range l.idle {
		if len(list) > 0 && snap.Server(id) == nil {
			for _, oc := range append([]*originConn(nil), list...) {
				oc.close()
			}
		}
	}
	for oc := range l.origins {
		if !oc.deadline.IsZero() && now.After(oc.deadline) {
			oc.timeout()
		}
	}
}

// takeIdle returns the newest idle connection to s, or nil.
func (l *loop) takeIdle(s *pool.Server) *originConn {
	list := l.idle[s.ID]
	for len(list) > 0 {
		oc := list[len(list)-1]
		list = list[:len(list)-1]
		l.idle[s.ID] = list
		if oc.c != nil {
			return oc
		}
	}
	return nil
}

// putIdle pools an origin connection that finished an exchange cleanly,
// or closes it when the pool for its origin is full.
func (l *loop) putIdle(oc *originConn) {
	list := l.idle[oc.s.ID]
	if len(list) >= l.p.opts.IdlePerOrigin || l.p.draining.Load() {
		oc.close()
		return
	}
	oc.state = ocIdle
	oc.cc = nil
	oc.deadline = l.now.Add(l.p.opts.Timeouts.OriginIdle)
	l.idle[oc.s.ID] = append(list, oc)
}

// dropIdle removes oc from the idle list (it closed or timed out).
func (l *loop) dropIdle(oc *originConn) {
	list := l.idle[oc.s.ID]
	for i, x := range list {
		if x == oc {
			l.idle[oc.s.ID] = append(list[:i], list[i+1:]...)
			return
		}
	}
}

// dial connects to o off the loop, with the connect timeout, and enrolls
// the connection on this loop; OnOpen (opened) or dialFailed completes it
// on the loop. The callback never blocks the loop.
func (l *loop) dial(oc *originConn) {
	timeout := l.p.opts.Timeouts.OriginConnect
	addr := oc.s.Addr
	go func() {
		conn, err := net.DialTimeout("tcp", addr, timeout)
		if err == nil {
			var ch <-chan gnet.RegisteredResult
			ch, err = l.el.Enroll(gnet.NewContext(context.Background(), oc), conn)
			if err != nil {
				conn.Close()
			} else {
				// gnet answers on ch once the loop registered the
				// connection; a loop that stops first never does.
				select {
				case res := <-ch:
					if res.Err == nil {
						return // opened runs on the loop
					}
					err = res.Err
				case <-l.p.stopped:
					return
				}
			}
		}
		_ = l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
			oc.dialFailed(err)
			return nil
		}))
	}()
}

// loopStats are one loop's counters: written by that loop only, read by
// Proxy.Stats from any goroutine. The padding keeps two loops' counters
// off one cache line.
type loopStats struct {
	_             [64]byte
	clientSuccess atomic.Uint64
	clientFailed  atomic.Uint64
	originSuccess atomic.Uint64
	originFailed  atomic.Uint64
	_             [64]byte
}

// httpDate returns the loop's time as an IMF-fixdate (RFC 9110 §5.6.7)
// for the Date field, formatted once per second of l.now (so within a tick,
// 100 ms, of the true time).
func (l *loop) httpDate() []byte {
	if sec := l.now.Unix(); sec != l.dateSec || l.date == nil {
		l.date = l.now.UTC().AppendFormat(l.date[:0], "Mon, 02 Jan 2006 15:04:05 GMT")
		l.dateSec = sec
	}
	return l.date
}
