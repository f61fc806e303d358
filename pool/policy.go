package pool

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Pool is one pool as a snapshot sees it. Its exported fields and its
// server list never change; what moves (in-flight counts, latency,
// passive ejections, the round-robin position) lives behind atomics, so
// Pick, Begin and Report may be called from any goroutine without a lock.
type Pool struct {
	Name    string
	Kind    string    // "" (dialed origins) or "pull"
	Servers []*Server // all servers, any state, ID order

	policy  policy
	keyKind KeyKind
	keyName string
	passive PassiveConfig
	// usable are the servers that were Active when the snapshot was
	// built, in ID order; Pick still skips those ejected since.
	usable []*Server
	// seeds[i] is usable[i]'s hash seed, mixed with the key's hash.
	seeds []uint64
	// seq is the smooth weighted round-robin order over usable (indexes),
	// computed once per snapshot.
	seq []uint32
	// sameWeight: every usable server has the same weight (the hash
	// policy then needs no logarithm).
	sameWeight bool
	shared     *poolShared
	// maxConns caps each server's in-flight requests (0: no cap); the
	// waiters for a free slot queue in shared (queue.go).
	maxConns     int64
	queueLen     int
	queueTimeout time.Duration
}

// poolShared is what a pool's snapshots share: the round-robin position,
// so that a new snapshot goes on where the last one was, and the lock
// that makes ejection decisions one at a time.
type poolShared struct {
	rr atomic.Uint64
	_  [56]byte // keep the hot counter off the mutex's cache line
	mu sync.Mutex
	// The requests waiting for a server under its max_conns (queue.go):
	// waiting mirrors len(queue) so Report reads it without the lock.
	waiting atomic.Int64
	qmu     sync.Mutex
	queue   []*Waiter
}

// KeyKind is what a hash policy hashes.
type KeyKind uint8

const (
	KeyNone   KeyKind = iota // not a hash pool
	KeyIP                    // the client's IP address
	KeyHeader                // a request field's value (its name is lower case)
	KeyCookie                // a cookie's value
)

// Key says what the caller should pass Pick as key: the client IP, or the
// value of the header or cookie named; KeyNone for policies that use no
// key.
func (p *Pool) Key() (KeyKind, string) {
	if p.policy != hashPolicy {
		return KeyNone, ""
	}
	return p.keyKind, p.keyName
}

// Pick chooses a usable server other than not (the server a retry is
// leaving; nil on a first attempt), or not itself when it is the only
// usable one; nil when none is usable. key feeds the hash policy; an
// empty key makes it fall back to round robin. Lock-free, no allocation.
func (p *Pool) Pick(key []byte, not *Server) *Server {
	if len(p.usable) == 0 {
		return nil
	}
	switch p.policy {
	case leastConn:
		return p.pickLeast(not)
	case p2cEWMA:
		return p.pickP2C(not)
	case hashPolicy:
		if len(key) > 0 {
			return p.pickHash(key, not)
		}
	}
	return p.pickRR(not)
}

// Begin counts a request sent to s.
func (p *Pool) Begin(s *Server) { s.Live.Inflight.Add(1) }

// Report ends a request Begin counted: ok for a completed exchange (its
// latency enters the histogram and the average), passiveFail for a
// connect error, reset, timeout or 5xx, which counts toward passive
// ejection; a success without it resets the count. No allocation.
func (p *Pool) Report(s *Server, ok bool, passiveFail bool, latency time.Duration) {
	l := s.Live
	l.Inflight.Add(-1)
	if p.shared.waiting.Load() > 0 {
		p.wakeOne() // a slot is free: the oldest waiter tries again
	}
	if ok {
		l.Success.Add(1)
		l.record(latency)
	} else {
		l.Failed.Add(1)
	}
	if p.passive.Fails < 0 {
		return
	}
	if !passiveFail {
		if !ok {
			return // neither a success nor the server's fault (the client went away)
		}
		if l.fails.Load() != 0 {
			l.fails.Store(0)
		}
		// An expired ejection is cleared by the first success after it,
		// so that Pick need not read the clock for this server again.
		if u := l.until.Load(); u != 0 && time.Now().UnixNano() >= u {
			l.until.CompareAndSwap(u, 0)
		}
		return
	}
	// The count is not reset by an ejection: once it ends, the first
	// failure ejects the server again, for twice as long.
	if l.fails.Add(1) >= int64(p.passive.Fails) {
		p.eject(s)
	}
}

// eject takes s out of rotation for its cool-down, unless it is out
// already or is the last usable server and EjectLast is off. Decisions
// are serialised per pool so that two loops cannot each eject one of the
// last two servers.
func (p *Pool) eject(s *Server) {
	p.shared.mu.Lock()
	defer p.shared.mu.Unlock()
	now := time.Now().UnixNano()
	l := s.Live
	if u := l.until.Load(); u != 0 && now < u {
		return
	}
	if !p.passive.EjectLast {
		others := false
		for _, o := range p.usable {
			if o.ID != s.ID && usableAt(o, now) {
				others = true
				break
			}
		}
		if !others {
			return
		}
	}
	// A server that has stayed in for longer than the longest cool-down
	// since its last ejection starts again from the first cool-down.
	if e := l.lastEnd.Load(); e != 0 && now-e > int64(p.passive.MaxCoolDown) {
		l.ejections.Store(0)
	}
	n := l.ejections.Add(1)
	cd := p.passive.CoolDown
	for i := int64(1); i < n && cd < p.passive.MaxCoolDown; i++ {
		cd *= 2
	}
	cd = min(cd, p.passive.MaxCoolDown)
	l.until.Store(now + int64(cd))
	l.lastEnd.Store(now + int64(cd))
}

// usableAt is Server.Usable for a server known to be Active.
func usableAt(s *Server, now int64) bool {
	u := s.Live.until.Load()
	return u == 0 || now >= u
}

// live reports whether s (from p.usable) may take a request: under the
// pool's max_conns and not ejected, reading the clock only when s carries
// an ejection time, once per Pick.
func (p *Pool) live(s *Server, now *int64) bool {
	if p.maxConns > 0 && s.Live.Inflight.Load() >= p.maxConns {
		return false
	}
	u := s.Live.until.Load()
	if u == 0 {
		return true
	}
	if *now == 0 {
		*now = time.Now().UnixNano()
	}
	return *now >= u
}

func isNot(s, not *Server) bool { return not != nil && s.ID == not.ID }

// scan returns the first live server other than not, going round from
// start; else not itself when it is live; else nil.
func (p *Pool) scan(start int, not *Server, now *int64) *Server {
	n := len(p.usable)
	var self *Server
	j := start % n
	for range n {
		s := p.usable[j]
		if j++; j == n {
			j = 0
		}
		if !p.live(s, now) {
			continue
		}
		if isNot(s, not) {
			self = s
			continue
		}
		return s
	}
	return self
}

// seqTries is how far round robin walks its sequence past servers it may
// not take before it falls back to a scan.
const seqTries = 4

func (p *Pool) pickRR(not *Server) *Server {
	var now int64
	c := p.shared.rr.Add(1)
	n := uint64(len(p.seq))
	for k := range uint64(min(seqTries, n)) {
		s := p.usable[p.seq[(c+k)%n]]
		if !isNot(s, not) && p.live(s, &now) {
			return s
		}
	}
	return p.scan(int(c%uint64(len(p.usable))), not, &now)
}

// pickLeast takes the server with the fewest requests in flight per unit
// of weight. The scan starts at a random place, so ties rotate (a random
// start rather than the shared counter: the loops would contend on it).
func (p *Pool) pickLeast(not *Server) *Server {
	var now int64
	n := len(p.usable)
	j := rand.IntN(n)
	var best, self *Server
	var bestLoad int64
	for range n {
		s := p.usable[j]
		if j++; j == n {
			j = 0
		}
		if !p.live(s, &now) {
			continue
		}
		if isNot(s, not) {
			self = s
			continue
		}
		load := s.Live.Inflight.Load()
		// load/weight < bestLoad/bestWeight, without division.
		if best == nil || load*int64(best.Weight) < bestLoad*int64(s.Weight) {
			best, bestLoad = s, load
		}
	}
	if best == nil {
		return self
	}
	return best
}

// pickP2C draws two distinct servers and takes the one with the lower
// expected wait, (in-flight+1) × latency average ÷ weight.
func (p *Pool) pickP2C(not *Server) *Server {
	var now int64
	n := len(p.usable)
	if n == 1 {
		return p.scan(0, not, &now)
	}
	i := rand.IntN(n)
	j := rand.IntN(n - 1)
	if j >= i {
		j++
	}
	a, b := p.usable[i], p.usable[j]
	aok := !isNot(a, not) && p.live(a, &now)
	bok := !isNot(b, not) && p.live(b, &now)
	switch {
	case aok && bok:
		if p2cCost(a, b) <= p2cCost(b, a) {
			return a
		}
		return b
	case aok:
		return a
	case bok:
		return b
	}
	return p.scan(rand.IntN(n), not, &now)
}

// p2cCost is s's cost when compared with other. A server not yet measured
// borrows other's average, so that it competes on its load alone (and a
// new server gets traffic); when neither is measured, load alone decides.
func p2cCost(s, other *Server) float64 {
	e := math.Float64frombits(s.Live.ewma.Load())
	if e == 0 {
		e = math.Float64frombits(other.Live.ewma.Load())
	}
	if e == 0 {
		e = 1
	}
	return float64(s.Live.Inflight.Load()+1) * e / float64(s.Weight)
}

// pickHash is weighted rendezvous hashing: each server scores the key,
// the best live score wins. A server that joins or leaves moves only the
// keys it wins or won.
func (p *Pool) pickHash(key []byte, not *Server) *Server {
	var now int64
	h := fnv1a(key)
	var best, self *Server
	bestScore := math.Inf(-1)
	for i, s := range p.usable {
		if !p.live(s, &now) {
			continue
		}
		if isNot(s, not) {
			self = s
			continue
		}
		x := mix64(h ^ p.seeds[i])
		var score float64
		if p.sameWeight {
			score = float64(x >> 11) // same order as the weighted form
		} else {
			// With u = x/2^64 in (0,1), w / -ln(u) gives each server its
			// weight's share of keys (weighted rendezvous hashing); the
			// base of the logarithm only scales every score alike.
			score = float64(s.Weight) / negLog2(x|1)
		}
		if score > bestScore {
			best, bestScore = s, score
		}
	}
	if best == nil {
		return self
	}
	return best
}

// log2Table[i] is log2(1 + i/1024): the mantissa part of negLog2.
var log2Table = func() (t [1025]float64) {
	for i := range t {
		t[i] = math.Log2(1 + float64(i)/1024)
	}
	return t
}()

// negLog2 is -log2(x/2^64) for x > 0, by table and linear interpolation
// (error under 2e-7): math.Log per server made the hash policy several
// times slower. Deterministic and increasing in x, which is all
// rendezvous hashing needs for consistency; the precision only touches
// how closely shares follow weights.
func negLog2(x uint64) float64 {
	lz := bits.LeadingZeros64(x)
	m := x << lz // top bit set: m/2^63 in [1,2)
	i := (m >> 53) & 1023
	frac := float64((m>>21)&(1<<32-1)) / (1 << 32)
	l := log2Table[i] + (log2Table[i+1]-log2Table[i])*frac
	return float64(lz+1) - l
}

// fnv1a is the 64-bit FNV-1a hash of b.
func fnv1a(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// mix64 is a strong 64-bit finaliser (the splitmix64 one), so that
// nearby inputs give unrelated outputs.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// serverSeed is a server's rendezvous seed: a function of its ID alone,
// so its scores survive snapshots and restarts.
func serverSeed(id int) uint64 { return mix64(uint64(id)*0x9e3779b97f4a7c15 + 1) }

// maxSeq caps the round-robin sequence: weights whose (reduced) sum is
// larger are scaled down to it, which costs at most half a slot of
// precision per server.
const maxSeq = 8192

// smoothSeq is the smooth weighted round-robin order (nginx's: each turn
// every server gains its weight, the richest is chosen and pays the
// total) over servers with these weights, as indexes. Weights are first
// divided by their GCD, so 3:3 is the sequence of 1:1.
func smoothSeq(weights []int) []uint32 {
	if len(weights) == 0 {
		return nil
	}
	g := 0
	for _, w := range weights {
		g = gcd(g, w)
	}
	w := make([]int, len(weights))
	total := 0
	for i, x := range weights {
		w[i] = x / g
		total += w[i]
	}
	if limit := max(maxSeq, len(w)); total > limit {
		old := total
		total = 0
		for i := range w {
			w[i] = max(1, int(math.Round(float64(w[i])*float64(limit)/float64(old))))
			total += w[i]
		}
	}
	seq := make([]uint32, total)
	cur := make([]int, len(w))
	for k := range seq {
		best := 0
		for i := range w {
			cur[i] += w[i]
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		seq[k] = uint32(best)
	}
	return seq
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
