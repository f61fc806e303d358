package pool

import (
	"errors"
	"math"
	"sync/atomic"
	"time"
)

// State is a server's place in its pool's rotation.
type State uint8

const (
	Active   State = iota // takes new requests
	Down                  // failed its health checks (active or passive): none until it recovers
	Draining              // takes no new requests; removed once idle or at the drain timeout
)

// String is the name the management API uses: active, down, draining.
func (s State) String() string {
	switch s {
	case Down:
		return "down"
	case Draining:
		return "draining"
	}
	return "active"
}

// ParseState is String's inverse; ok is false for anything else.
func ParseState(s string) (State, bool) {
	switch s {
	case "active":
		return Active, true
	case "down":
		return Down, true
	case "draining":
		return Draining, true
	}
	return 0, false
}

// Errors of the registry's changes; the management API maps them to
// statuses (ErrBadInput 400, ErrExists 409, ErrNotFound and ErrNoPool 404).
var (
	ErrBadInput = errors.New("pool: bad input")
	ErrExists   = errors.New("pool: server exists")
	ErrNotFound = errors.New("pool: no such server")
	ErrNoPool   = errors.New("pool: no such pool")
)

// Live holds the counters of one server that outlive snapshots: the same
// *Live is in every snapshot that names the server's ID. Written by the
// loops (atomics, no lock), read by anyone.
type Live struct {
	Inflight atomic.Int64  // requests sent to it and not finished
	Success  atomic.Uint64 // exchanges completed
	Failed   atomic.Uint64 // connect errors, resets, timeouts, invalid responses
	Opened   atomic.Uint64 // connections dialed
	Reused   atomic.Uint64 // requests sent on a kept-alive connection
	// ewma is the latency EWMA in nanoseconds (float64 bits), for p2c_ewma.
	ewma atomic.Uint64
	// passive health: consecutive failures, and the ejection in force.
	fails     atomic.Int64
	ejections atomic.Int64
	until     atomic.Int64 // unix nanos: ejected until then (0 = not ejected)
	// lastEnd is when the latest ejection ended or ends (unix nanos); it
	// outlives until (which a success clears) so that a repeat soon after
	// doubles the cool-down.
	lastEnd atomic.Int64
	// latency histogram of completed exchanges: per-bucket counts (not
	// cumulative; the last is +Inf) and the sum in nanoseconds.
	buckets [numBuckets]atomic.Uint64
	latSum  atomic.Int64
}

// LatencyBounds are the upper bounds, in seconds, of the latency
// histogram's buckets (Prometheus "le" values); Live.Latency has one more
// bucket, for +Inf. Read only: the counting uses a copy taken at start.
var LatencyBounds = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// numBuckets is len(LatencyBounds)+1; a test keeps the two in step.
const numBuckets = 15

// boundNanos is LatencyBounds in nanoseconds, the form record compares.
var boundNanos = func() (b [numBuckets - 1]int64) {
	for i, s := range LatencyBounds {
		b[i] = int64(math.Round(s * 1e9))
	}
	return b
}()

// EWMA is the moving average of the server's latency (0 until the first
// completed exchange).
func (l *Live) EWMA() time.Duration {
	return time.Duration(math.Float64frombits(l.ewma.Load()))
}

// Ejected reports whether passive health checking keeps the server out
// of rotation at now.
func (l *Live) Ejected(now time.Time) bool {
	u := l.until.Load()
	return u != 0 && now.UnixNano() < u
}

// Latency returns the histogram of completed exchanges' latencies: counts
// per bucket of LatencyBounds (len(LatencyBounds)+1, the last for +Inf,
// not cumulative) and their sum. The counts are read one by one, so a
// reader racing a writer may see a total one off from another read.
func (l *Live) Latency() (counts []uint64, sum time.Duration) {
	counts = make([]uint64, numBuckets)
	for i := range l.buckets {
		counts[i] = l.buckets[i].Load()
	}
	return counts, time.Duration(l.latSum.Load())
}

// ewmaWeight is how much one sample moves the average: about the last
// ten exchanges count.
const ewmaWeight = 0.2

// record adds one completed exchange's latency to the histogram and the
// average. Lock-free; a lost race on the average only drops a sample.
func (l *Live) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	n := int64(d)
	i := 0
	for i < len(boundNanos) && n > boundNanos[i] {
		i++
	}
	l.buckets[i].Add(1)
	l.latSum.Add(n)
	for range 4 {
		old := l.ewma.Load()
		v := float64(n)
		if old != 0 {
			prev := math.Float64frombits(old)
			v = prev + (v-prev)*ewmaWeight
		}
		if v == 0 {
			v = 1 // 0 means unmeasured: keep a measured zero apart
		}
		if l.ewma.CompareAndSwap(old, math.Float64bits(v)) {
			return
		}
	}
}

// Server is one origin of a pool as a snapshot sees it: immutable.
type Server struct {
	ID     int    // stable for the server's life; never reused
	Pool   string // the pool's name
	URL    string // as added, normalised (scheme://host:port)
	Host   string // IP or hostname, as in the URL
	Port   int
	Addr   string // host:port to dial
	Weight int    // 1-1000
	State  State
	Live   *Live
}

// Usable reports whether the server may take a new request now: active
// and not ejected by passive health checking.
func (s *Server) Usable(now time.Time) bool {
	if s.State != Active {
		return false
	}
	u := s.Live.until.Load()
	return u == 0 || now.UnixNano() >= u
}
