package pool

import (
	"math"
	"testing"
	"time"
)

// fail reports n passive failures for s.
func fail(p *Pool, s *Server, n int) {
	for range n {
		p.Begin(s)
		p.Report(s, false, true, 0)
	}
}

func TestEjection(t *testing.T) {
	passive := PassiveConfig{Fails: 3, CoolDown: 80 * time.Millisecond, MaxCoolDown: 200 * time.Millisecond}
	_, p := poolOf(t, "round_robin", passive, 1, 1)
	a, b := p.Servers[0], p.Servers[1]
	fail(p, a, 2)
	if a.Live.Ejected(time.Now()) {
		t.Fatal("ejected before Fails failures")
	}
	// A success resets the count.
	p.Begin(a)
	p.Report(a, true, false, time.Millisecond)
	fail(p, a, 2)
	if a.Live.Ejected(time.Now()) {
		t.Fatal("the count was not reset by a success")
	}
	fail(p, a, 1)
	now := time.Now()
	if !a.Live.Ejected(now) || a.Usable(now) {
		t.Fatal("not ejected after Fails failures")
	}
	if a.Live.Failed.Load() != 5 || a.Live.Success.Load() != 1 || a.Live.Inflight.Load() != 0 {
		t.Fatalf("counters: failed %d success %d inflight %d", a.Live.Failed.Load(), a.Live.Success.Load(), a.Live.Inflight.Load())
	}
	for range 20 {
		if p.Pick(nil, nil) != b {
			t.Fatal("ejected server picked")
		}
	}
	// The last usable server is never ejected.
	fail(p, b, 10)
	if b.Live.Ejected(time.Now()) {
		t.Fatal("the last usable server was ejected")
	}
	// Failures while ejected do not extend the ejection.
	until := a.Live.until.Load()
	fail(p, a, 3)
	if a.Live.until.Load() != until {
		t.Fatal("a failure during the ejection moved its end")
	}
	eventually(t, time.Second, "the cool-down to end", func() bool { return a.Usable(time.Now()) })
	// First failure after the cool-down: out again, twice as long.
	fail(p, a, 1)
	d := time.Duration(a.Live.until.Load() - time.Now().UnixNano())
	if d < 120*time.Millisecond || d > 160*time.Millisecond {
		t.Fatalf("second cool-down %v, want 160ms", d)
	}
	eventually(t, time.Second, "the second cool-down to end", func() bool { return a.Usable(time.Now()) })
	fail(p, a, 1)
	if d := time.Duration(a.Live.until.Load() - time.Now().UnixNano()); d < 160*time.Millisecond || d > 200*time.Millisecond {
		t.Fatalf("third cool-down %v, want the 200ms cap", d)
	}
	eventually(t, time.Second, "the third cool-down to end", func() bool { return a.Usable(time.Now()) })
	// A success after the cool-down clears the ejection time.
	p.Begin(a)
	p.Report(a, true, false, time.Millisecond)
	if a.Live.until.Load() != 0 || a.Live.fails.Load() != 0 {
		t.Fatal("a success did not clear the expired ejection")
	}
	// Long enough after: the cool-down starts again from the first.
	a.Live.lastEnd.Store(time.Now().Add(-time.Second).UnixNano())
	fail(p, a, 3)
	if d := time.Duration(a.Live.until.Load() - time.Now().UnixNano()); d > 80*time.Millisecond {
		t.Fatalf("cool-down %v after a long healthy spell, want 80ms", d)
	}
}

func TestEjectionOptions(t *testing.T) {
	// EjectLast: even the last one goes.
	_, p := poolOf(t, "least_conn", PassiveConfig{Fails: 1, EjectLast: true}, 1)
	fail(p, p.Servers[0], 1)
	if p.Pick(nil, nil) != nil {
		t.Fatal("EjectLast left the server in")
	}
	// Fails < 0: never.
	_, p = poolOf(t, "least_conn", PassiveConfig{Fails: -1}, 1, 1)
	fail(p, p.Servers[0], 100)
	if p.Servers[0].Live.Ejected(time.Now()) {
		t.Fatal("ejected with passive checks off")
	}
	// Default: 5.
	_, p = poolOf(t, "p2c_ewma", PassiveConfig{}, 1, 1)
	fail(p, p.Servers[0], 4)
	if p.Servers[0].Live.Ejected(time.Now()) {
		t.Fatal("ejected after 4 of a default 5")
	}
	fail(p, p.Servers[0], 1)
	if d := time.Duration(p.Servers[0].Live.until.Load() - time.Now().UnixNano()); d < 9*time.Second || d > 10*time.Second {
		t.Fatalf("default cool-down %v", d)
	}
	// A 5xx counts as a completed exchange and a passive failure; a
	// client that went away is neither.
	s := p.Servers[1]
	p.Begin(s)
	p.Report(s, true, true, time.Millisecond)
	p.Begin(s)
	p.Report(s, false, false, 0)
	if s.Live.Success.Load() != 1 || s.Live.Failed.Load() != 1 || s.Live.fails.Load() != 1 {
		t.Fatalf("success %d failed %d fails %d", s.Live.Success.Load(), s.Live.Failed.Load(), s.Live.fails.Load())
	}
}

func TestLatency(t *testing.T) {
	if len(LatencyBounds)+1 != numBuckets {
		t.Fatalf("numBuckets %d, LatencyBounds %d", numBuckets, len(LatencyBounds))
	}
	var l Live
	if l.EWMA() != 0 {
		t.Fatal("EWMA before any sample")
	}
	for _, d := range []time.Duration{
		0, 500 * time.Microsecond, // both in the first bucket (le 0.0005)
		501 * time.Microsecond, // le 0.001
		7 * time.Millisecond,   // le 0.01
		10 * time.Second,       // le 10
		11 * time.Second,       // +Inf
		-time.Second,           // clock step: counted as 0
	} {
		l.record(d)
	}
	counts, sum := l.Latency()
	want := make([]uint64, numBuckets)
	want[0], want[1], want[4], want[13], want[14] = 3, 1, 1, 1, 1
	for i := range want {
		if counts[i] != want[i] {
			t.Fatalf("counts %v, want %v", counts, want)
		}
	}
	if wantSum := 500*time.Microsecond + 501*time.Microsecond + 7*time.Millisecond + 21*time.Second; sum != wantSum {
		t.Fatalf("sum %v, want %v", sum, wantSum)
	}
	var e Live
	e.record(10 * time.Millisecond)
	if e.EWMA() != 10*time.Millisecond {
		t.Fatalf("first sample: EWMA %v", e.EWMA())
	}
	for range 50 {
		e.record(20 * time.Millisecond)
	}
	if got := e.EWMA(); math.Abs(float64(got-20*time.Millisecond)) > float64(100*time.Microsecond) {
		t.Fatalf("EWMA %v after many 20ms samples", got)
	}
	e.record(0)
	if e.EWMA() >= 20*time.Millisecond {
		t.Fatal("a fast sample did not lower the average")
	}
}

func TestReportConcurrent(t *testing.T) {
	_, p := poolOf(t, "p2c_ewma", PassiveConfig{Fails: 3, CoolDown: time.Millisecond}, 1, 1, 1)
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 2000 {
				s := p.Pick(key(i), nil)
				if s == nil {
					continue
				}
				p.Begin(s)
				p.Report(s, i%3 != 0, (i+g)%2 == 0, time.Duration(i)*time.Microsecond)
			}
		}()
	}
	for range 4 {
		<-done
	}
	var total uint64
	for _, s := range p.Servers {
		if s.Live.Inflight.Load() != 0 {
			t.Fatalf("server %d: %d in flight", s.ID, s.Live.Inflight.Load())
		}
		total += s.Live.Success.Load() + s.Live.Failed.Load()
	}
	if total == 0 {
		t.Fatal("nothing reported")
	}
}
