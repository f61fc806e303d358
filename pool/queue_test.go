package pool

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func cappedPool(t *testing.T, maxConns, queueLen int) *Pool {
	t.Helper()
	r, err := New(Config{Pools: []PoolConfig{{Name: "default", MaxConns: maxConns, QueueLen: queueLen,
		Check: CheckConfig{Disabled: true}, Servers: []ServerConfig{{URL: "http://127.0.0.1:1"}, {URL: "http://127.0.0.1:2"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r.Snapshot().Pool("default")
}

// Under max_conns, Pick gives no server once all are full; waiters are
// woken in order as slots free, a woken loser goes back to the front,
// Cancel takes one out, and a full queue refuses.
func TestMaxConnsQueue(t *testing.T) {
	p := cappedPool(t, 1, 2)
	a := p.Pick(nil, nil)
	p.Begin(a)
	b := p.Pick(nil, nil)
	if b == nil || b == a {
		t.Fatalf("second pick %v, want the other server", b)
	}
	p.Begin(b)
	if s := p.Pick(nil, nil); s != nil || !p.Full() {
		t.Fatalf("both full: Pick %v, Full %v", s, p.Full())
	}
	var order []int
	w1 := NewWaiter(func() { order = append(order, 1) })
	w2 := NewWaiter(func() { order = append(order, 2) })
	w3 := NewWaiter(func() { order = append(order, 3) })
	if !p.Wait(w1, false) || !p.Wait(w2, false) || p.Wait(w3, false) || p.Queued() != 2 {
		t.Fatalf("queue of 2: queued %d", p.Queued())
	}
	p.Report(a, true, false, time.Millisecond) // a slot: w1
	if len(order) != 1 || order[0] != 1 || p.Pick(nil, nil) != a {
		t.Fatalf("after one slot freed: woken %v", order)
	}
	p.Begin(a)       // w1 took it
	p.Wait(w3, true) // a woken loser goes first
	p.Cancel(w2)     // w2's client left
	p.Release(b)     // a slot: w3
	if len(order) != 2 || order[1] != 3 || p.Queued() != 0 {
		t.Fatalf("woken %v, queued %d", order, p.Queued())
	}
	p.Cancel(w3) // woken already: nothing
	if p.Queued() != 0 {
		t.Fatalf("queued %d after a late cancel", p.Queued())
	}
}

// A slot freed between Pick and Wait is not lost: Wait looks again.
func TestWaitSeesFreedSlot(t *testing.T) {
	p := cappedPool(t, 1, 4)
	woken := false
	if !p.Wait(NewWaiter(func() { woken = true }), false) || !woken || p.Queued() != 0 {
		t.Fatalf("free servers: woken %v, queued %d", woken, p.Queued())
	}
}

// A slot handed to a waiter that gave up meanwhile is passed on to the
// next one, not lost.
func TestPassOn(t *testing.T) {
	p := cappedPool(t, 1, 4)
	a, b := p.Pick(nil, nil), (*Server)(nil)
	p.Begin(a)
	b = p.Pick(nil, nil)
	p.Begin(b)
	var woken []int
	w1 := NewWaiter(func() { woken = append(woken, 1) })
	w2 := NewWaiter(func() { woken = append(woken, 2) })
	p.Wait(w1, false)
	p.Wait(w2, false)
	p.Report(a, true, false, time.Millisecond) // the slot goes to w1...
	p.PassOn()                                 // ...whose client left: w2 gets it
	if len(woken) != 2 || woken[1] != 2 || p.Queued() != 0 {
		t.Fatalf("woken %v, queued %d", woken, p.Queued())
	}
	p.PassOn() // nobody waits: nothing happens
	if len(woken) != 2 {
		t.Fatalf("woken %v after a pass-on to nobody", woken)
	}
}

// Acquire is the atomic form of Pick's capacity check: racing goroutines
// take exactly max_conns slots of a server, never more.
func TestAcquireAtomic(t *testing.T) {
	p := cappedPool(t, 3, 4)
	s := p.Servers[0]
	var wg sync.WaitGroup
	var got atomic.Int64
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p.Acquire(s) {
				got.Add(1)
			}
		}()
	}
	wg.Wait()
	if got.Load() != 3 || s.Live.Inflight.Load() != 3 {
		t.Fatalf("%d acquired, %d in flight under max_conns 3", got.Load(), s.Live.Inflight.Load())
	}
}
