package eventloop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgeloop/edgeloop/http1"
	"github.com/edgeloop/edgeloop/pool"
	"github.com/edgeloop/edgeloop/queue"
	"github.com/panjf2000/gnet/v2"
)

// Timeouts of the proxy; zero members take the defaults below.
type Timeouts struct {
	ClientHead     time.Duration // a whole request head must arrive within this (slowloris)
	ClientIdle     time.Duration // a keep-alive client connection may idle this long
	OriginConnect  time.Duration // dialing an origin
	OriginResponse time.Duration // from the request sent to the response head received
	OriginIdle     time.Duration // a pooled origin connection may idle this long
	Drain          time.Duration // graceful shutdown waits this long for in-flight requests
}

func (t Timeouts) withDefaults() Timeouts {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&t.ClientHead, 10*time.Second)
	def(&t.ClientIdle, 60*time.Second)
	def(&t.OriginConnect, 2*time.Second)
	def(&t.OriginResponse, 30*time.Second)
	def(&t.OriginIdle, 60*time.Second)
	def(&t.Drain, 30*time.Second)
	return t
}

// Options configure a Proxy.
type Options struct {
	Listen string // host:port for clients
	Loops  int    // event loops; 0 = one per CPU
	// Pools is where origins are chosen (pool.Registry): each request is
	// routed to a pool of the current snapshot and its policy picks the
	// server. Nil: a registry of one pool, "default", with the Origins
	// (host:port) as servers, round robin, no health checks.
	Pools   PoolSource
	Origins []string
	// Queues are the queues of the pull pools (kind pull), by pool name.
	Queues map[string]*queue.Queue
	// Timeouts and limits; zero values take defaults.
	Timeouts      Timeouts
	Limits        http1.Limits
	MaxBodyBytes  int64 // 0 = unlimited; larger request bodies get 413
	IdlePerOrigin int   // idle connections kept per origin per loop; 0 = 64
	// RetryBodyBytes: a request body up to this size that arrived with its
	// head is kept whole, so the request can be retried (CONTRACT.md,
	// Retries); 0 = 64 KiB.
	RetryBodyBytes int64
	Logger         *slog.Logger
	// AccessLog writes one line per request to Logger (level INFO): the
	// client, method, target, status, origin and duration. Off, the
	// request path allocates nothing for it.
	AccessLog bool
	// DeferAccept sets TCP_DEFER_ACCEPT on the listening sockets: the
	// kernel hands a connection over once its first bytes have arrived
	// (or, with none, after about a second), so accepting and reading the
	// request take one wake-up of the loop instead of two (listen.go).
	DeferAccept bool
}

// PoolSource gives the current pool snapshot; Snapshot must not block
// (pool.Registry loads an atomic.Pointer).
type PoolSource interface{ Snapshot() *pool.Snapshot }

// Stats are the proxy's counters, in the sense of CONTRACT.md's /stats.
type Stats struct {
	ClientSuccess, ClientFailed uint64
	OriginSuccess, OriginFailed uint64
	Loops                       []LoopStats   // per event loop, in the order they started
	Origins                     []OriginStats // per origin, in the order of Options.Origins
}

// LoopStats are the counters of one event loop.
type LoopStats struct {
	ClientSuccess, ClientFailed uint64
	OriginSuccess, OriginFailed uint64
	// ThreadLocked: the loop holds an OS thread (busy; governor.go).
	ThreadLocked bool
}

// OriginStats are one server's counters, over all loops.
type OriginStats struct {
	ID              int
	Pool, Addr      string
	Success, Failed uint64
}

// Proxy is the gnet reverse proxy. New, then Serve (blocks); Shutdown
// from another goroutine drains and stops it.
type Proxy struct {
	gnet.BuiltinEventEngine

	opts Options
	src  PoolSource
	// http10 holds the IDs of servers seen answering in HTTP/1.0: they
	// know no Expect, so the proxy answers 100-continue itself (RFC 9110
	// §10.1.1). Read only for requests that carry the expectation.
	http10 sync.Map

	eng      gnet.Engine
	booted   chan struct{}
	stopped  chan struct{} // closed when the engine has shut down
	draining atomic.Bool
	active   atomic.Int64 // client connections with a request in flight
	loopsMu  sync.Mutex
	loops    map[gnet.EventLoop]*loop
	list     atomic.Pointer[[]*loop]
	tuned    sync.Once

	log *slog.Logger
}

// New checks the options and builds a proxy; nothing listens yet.
func New(o Options) (*Proxy, error) {
	if _, _, err := net.SplitHostPort(o.Listen); err != nil {
		return nil, fmt.Errorf("eventloop: listen address %q: %w", o.Listen, err)
	}
	o.Timeouts = o.Timeouts.withDefaults()
	if o.IdlePerOrigin <= 0 {
		o.IdlePerOrigin = 64
	}
	if o.RetryBodyBytes <= 0 {
		o.RetryBodyBytes = 64 << 10
	}
	if o.Loops <= 0 {
		o.Loops = runtime.NumCPU()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{opts: o, booted: make(chan struct{}), stopped: make(chan struct{}),
		loops: map[gnet.EventLoop]*loop{}, log: o.Logger}
	p.src = o.Pools
	if p.src == nil {
		pc := pool.PoolConfig{Name: "default", Check: pool.CheckConfig{Disabled: true}}
		for _, a := range o.Origins {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return nil, fmt.Errorf("eventloop: origin %q: %w", a, err)
			}
			pc.Servers = append(pc.Servers, pool.ServerConfig{URL: "http://" + a})
		}
		reg, err := pool.New(pool.Config{Pools: []pool.PoolConfig{pc}, Passive: pool.PassiveConfig{Fails: -1}})
		if err != nil {
			return nil, fmt.Errorf("eventloop: origins: %w", err)
		}
		p.src = reg
	}
	return p, nil
}

// Serve runs the event loops until Shutdown; it returns gnet's error.
func (p *Proxy) Serve() error {
	return gnet.Run(p, "tcp://"+p.opts.Listen,
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(p.opts.Loops),
		gnet.WithReusePort(true),
		gnet.WithReuseAddr(true),
		gnet.WithTicker(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetLogger{p.log}),
		// Each loop holds an OS thread only while it is busy; the
		// governor (governor.go) takes and releases it.
		gnet.WithLockOSThread(false),
	)
}

// Ready is closed once the loops accept connections.
func (p *Proxy) Ready() <-chan struct{} { return p.booted }

// OnBoot keeps the engine for Shutdown.
func (p *Proxy) OnBoot(eng gnet.Engine) gnet.Action {
	p.eng = eng
	close(p.booted)
	return gnet.None
}

// OnShutdown releases what waits on the loops (dials in flight) and stops
// their resume timers.
func (p *Proxy) OnShutdown(gnet.Engine) {
	if list := p.list.Load(); list != nil {
		for _, l := range *list {
			l.stopResume()
		}
	}
	close(p.stopped)
}

// Shutdown stops taking new connections, waits until no request is in
// flight or the drain timeout (or ctx) ends, then stops the loops.
func (p *Proxy) Shutdown(ctx context.Context) error {
	<-p.booted
	p.draining.Store(true)
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeouts.Drain)
	defer cancel()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for p.active.Load() > 0 {
		select {
		case <-ctx.Done():
			p.log.Warn("drain timeout with requests in flight", "inflight", p.active.Load())
			return p.stop()
		case <-t.C:
		}
	}
	return p.stop()
}

func (p *Proxy) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.eng.Stop(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// Stats sums the counters of every loop; safe from any goroutine. Each
// loop writes only its own totals (loopStats), so the request path shares
// no cache line between loops; per-origin counts are the servers' own
// (pool.Live). A reader sees each counter whole, not the set of them at
// one instant.
func (p *Proxy) Stats() Stats {
	var s Stats
	snap := p.src.Snapshot()
	for _, name := range snap.PoolNames() {
		for _, sv := range snap.Pool(name).Servers {
			s.Origins = append(s.Origins, OriginStats{ID: sv.ID, Pool: name, Addr: sv.Addr,
				Success: sv.Live.Success.Load(), Failed: sv.Live.Failed.Load()})
		}
	}
	if list := p.list.Load(); list != nil {
		for _, l := range *list {
			ls := LoopStats{ClientSuccess: l.stats.clientSuccess.Load(), ClientFailed: l.stats.clientFailed.Load(),
				OriginSuccess: l.stats.originSuccess.Load(), OriginFailed: l.stats.originFailed.Load(),
				ThreadLocked: l.gov.locked.Load()}
			s.Loops = append(s.Loops, ls)
			s.ClientSuccess += ls.ClientSuccess
			s.ClientFailed += ls.ClientFailed
			s.OriginSuccess += ls.OriginSuccess
			s.OriginFailed += ls.OriginFailed
		}
	}
	return s
}

// loopOf returns the per-loop state of el, creating it on first use.
// Called once per connection, not per request.
func (p *Proxy) loopOf(el gnet.EventLoop) *loop {
	if list := p.list.Load(); list != nil {
		for _, l := range *list {
			if l.el == el {
				return l
			}
		}
	}
	p.loopsMu.Lock()
	defer p.loopsMu.Unlock()
	if l, ok := p.loops[el]; ok {
		return l
	}
	l := newLoop(p, el)
	p.loops[el] = l
	list := make([]*loop, 0, len(p.loops))
	for _, x := range p.loops {
		list = append(list, x)
	}
	p.list.Store(&list)
	return l
}

// OnOpen: a client accepted on a loop, or an origin connection we
// enrolled (it carries its *originConn as context).
func (p *Proxy) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if oc, ok := c.Context().(*originConn); ok {
		oc.opened(c)
		return nil, gnet.None
	}
	if p.draining.Load() {
		return nil, gnet.Close
	}
	l := p.loopOf(c.EventLoop())
	cc := l.newClient(c)
	c.SetContext(cc)
	return nil, gnet.None
}

// OnTraffic dispatches to the session side that has bytes.
func (p *Proxy) OnTraffic(c gnet.Conn) gnet.Action {
	switch x := c.Context().(type) {
	case *clientConn:
		x.l.gov.begin(nanotime())
		x.onTraffic()
		x.l.gov.end(nanotime())
	case *originConn:
		x.l.gov.begin(nanotime())
		x.onTraffic()
		x.l.gov.end(nanotime())
	}
	return gnet.None
}

// OnClose tells the session side that its connection is gone.
func (p *Proxy) OnClose(c gnet.Conn, err error) gnet.Action {
	switch x := c.Context().(type) {
	case *clientConn:
		x.onClose(err)
	case *originConn:
		x.onClose(err)
	}
	return gnet.None
}

// tickEvery is the timer resolution: timeouts need about 100 ms. Paused
// sources have a timer of their own (pause.go).
const tickEvery = 100 * time.Millisecond

// OnTick runs on a goroutine of its own: it posts a timer pass to each loop.
func (p *Proxy) OnTick() (time.Duration, gnet.Action) {
	// The first tick comes once every loop's listener exists (gnet opens
	// the loops' sockets after OnBoot).
	p.tuned.Do(p.tuneListeners)
	if list := p.list.Load(); list != nil {
		now := time.Now()
		for _, l := range *list {
			l.postTick(now)
		}
	}
	return tickEvery, gnet.None
}

func itoa(n int) string { return strconv.Itoa(n) }
