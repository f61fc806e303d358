package pool

import "time"

// The max_conns queue. When every usable server of a pool holds
// MaxConns requests, a request does not fail at once: it waits, in
// arrival order, for a slot (HAProxy's maxconn queue). The queue is the
// pool's across snapshots, behind a short mutex: it is touched only when
// servers are full, never on the common path, where Report reads one
// atomic to see that nobody waits.

// Waiter is one waiting request. Its wake function runs on whatever
// goroutine freed a slot (a loop calling Report, or Release): it must
// only hand the request back to its own loop (EventLoop.Execute) and
// return. The woken request calls Pick again; if the slot went to
// someone else meanwhile, it waits again at the front.
type Waiter struct {
	wake   func()
	queued bool
}

// NewWaiter makes a waiter whose wake runs when a slot may be free.
func NewWaiter(wake func()) *Waiter { return &Waiter{wake: wake} }

// Full reports whether a request that Pick gave no server should wait:
// the pool caps connections and has usable servers (all at their cap).
func (p *Pool) Full() bool { return p.maxConns > 0 && len(p.usable) > 0 }

// QueueTimeout is how long a request may wait for a slot.
func (p *Pool) QueueTimeout() time.Duration { return p.queueTimeout }

// Queued is the number of requests waiting, for the metrics.
func (p *Pool) Queued() int { return int(p.shared.waiting.Load()) }

// Wait queues w (at the front for a request that was woken and lost the
// slot again); false when the queue is full, and the request should get
// 503.
func (p *Pool) Wait(w *Waiter, front bool) bool {
	sh := p.shared
	sh.qmu.Lock()
	if len(sh.queue) >= p.queueLen {
		sh.qmu.Unlock()
		return false
	}
	if front {
		sh.queue = append(sh.queue, nil)
		copy(sh.queue[1:], sh.queue)
		sh.queue[0] = w
	} else {
		sh.queue = append(sh.queue, w)
	}
	w.queued = true
	sh.waiting.Add(1)
	sh.qmu.Unlock()
	// A slot freed between the caller's Pick and the enqueue woke
	// nobody: look once more.
	if p.hasSlot() {
		p.wakeOne()
	}
	return true
}

// Cancel takes w out of the queue (its client left or its time ran
// out); a no-op when it was woken already.
func (p *Pool) Cancel(w *Waiter) {
	sh := p.shared
	sh.qmu.Lock()
	defer sh.qmu.Unlock()
	if !w.queued {
		return
	}
	for i, x := range sh.queue {
		if x == w {
			sh.queue = append(sh.queue[:i], sh.queue[i+1:]...)
			break
		}
	}
	w.queued = false
	sh.waiting.Add(-1)
}

// Acquire counts a request to s, as Begin does, but refuses when s is at
// the pool's max_conns: the check and the count are one atomic step, so
// two loops that picked the same server cannot both take its last slot
// (Pick's check alone is only a hint).
func (p *Pool) Acquire(s *Server) bool {
	if p.maxConns <= 0 {
		s.Live.Inflight.Add(1)
		return true
	}
	for {
		n := s.Live.Inflight.Load()
		if n >= p.maxConns {
			return false
		}
		if s.Live.Inflight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Release ends a request Begin counted without a verdict on the server
// (its client went away): the slot goes to the next waiter.
func (p *Pool) Release(s *Server) {
	s.Live.Inflight.Add(-1)
	if p.shared.waiting.Load() > 0 {
		p.wakeOne()
	}
}

// PassOn hands a slot a woken waiter will not use (its client left or
// timed out before the wake reached it) to the next waiter, so that the
// wake is not lost.
func (p *Pool) PassOn() {
	if p.shared.waiting.Load() > 0 {
		p.wakeOne()
	}
}

// wakeOne hands a freed slot to the oldest waiter.
func (p *Pool) wakeOne() {
	sh := p.shared
	sh.qmu.Lock()
	if len(sh.queue) == 0 {
		sh.qmu.Unlock()
		return
	}
	w := sh.queue[0]
	sh.queue[0] = nil
	sh.queue = sh.queue[1:]
	w.queued = false
	sh.waiting.Add(-1)
	sh.qmu.Unlock()
	w.wake()
}

// hasSlot reports whether some usable server is under its cap now.
func (p *Pool) hasSlot() bool {
	var now int64
	for _, s := range p.usable {
		if p.live(s, &now) {
			return true
		}
	}
	return false
}
