package pool

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"testing"
	"time"
)

var policies = []string{"round_robin", "least_conn", "p2c_ewma", "hash"}

// poolOf builds a registry with one pool "default" of the policy, whose
// servers (10.0.0.1, 10.0.0.2, ...) have these weights.
func poolOf(t testing.TB, policy string, passive PassiveConfig, weights ...int) (*Registry, *Pool) {
	t.Helper()
	pc := PoolConfig{Name: "default", Policy: policy, Check: CheckConfig{Disabled: true}}
	for i, w := range weights {
		pc.Servers = append(pc.Servers, ServerConfig{URL: fmt.Sprintf("http://10.0.0.%d", i+1), Weight: w})
	}
	r := newReg(t, Config{Pools: []PoolConfig{pc}, Passive: passive})
	return r, r.Snapshot().Pool("default")
}

// counts picks n times with keys from key (nil: no key) and counts by ID.
func counts(p *Pool, n int, key func(i int) []byte) map[int]int {
	c := map[int]int{}
	for i := range n {
		var k []byte
		if key != nil {
			k = key(i)
		}
		c[p.Pick(k, nil).ID]++
	}
	return c
}

// checkShares fails unless each server's share of the picks is within
// tol (relative) of its share of the weight.
func checkShares(t *testing.T, p *Pool, c map[int]int, tol float64) {
	t.Helper()
	total, wsum := 0, 0
	for _, s := range p.usable {
		total += c[s.ID]
		wsum += s.Weight
	}
	for _, s := range p.usable {
		want := float64(s.Weight) / float64(wsum)
		got := float64(c[s.ID]) / float64(total)
		if math.Abs(got-want) > tol*want {
			t.Errorf("server %d (weight %d): share %.4f, want %.4f ±%.0f%%", s.ID, s.Weight, got, want, tol*100)
		}
	}
}

func TestSmoothSeq(t *testing.T) {
	for _, tc := range []struct {
		weights []int
		want    []uint32
	}{
		{nil, nil},
		{[]int{1}, []uint32{0}},
		{[]int{7}, []uint32{0}},
		{[]int{1, 1}, []uint32{0, 1}},
		{[]int{3, 3}, []uint32{0, 1}},
		{[]int{2, 4}, []uint32{1, 0, 1}},
		{[]int{5, 1, 1}, []uint32{0, 0, 1, 0, 2, 0, 0}}, // nginx's example: a a b a c a a
		{[]int{1, 2, 3}, []uint32{2, 1, 0, 2, 1, 2}},
	} {
		if got := smoothSeq(tc.weights); !slices.Equal(got, tc.want) {
			t.Errorf("smoothSeq(%v) = %v, want %v", tc.weights, got, tc.want)
		}
	}
}

func TestSmoothSeqCap(t *testing.T) {
	var w []int
	for i := range 12 {
		w = append(w, 1000-i) // GCD 1, sum 11934 > maxSeq
	}
	seq := smoothSeq(w)
	if len(seq) > maxSeq+len(w) {
		t.Fatalf("sequence of %d", len(seq))
	}
	c := make([]int, len(w))
	for _, i := range seq {
		c[i]++
	}
	for i := range w {
		want := float64(w[i]) / 11934 * float64(len(seq))
		if math.Abs(float64(c[i])-want) > 1 {
			t.Errorf("server %d: %d slots, want %.1f", i, c[i], want)
		}
	}
	// Many servers: at least one slot each.
	many := make([]int, maxSeq+5)
	for i := range many {
		many[i] = 1 + i%2
	}
	if n := len(smoothSeq(many)); n < len(many) {
		t.Fatalf("%d slots for %d servers", n, len(many))
	}
}

func TestRoundRobinWeights(t *testing.T) {
	for _, weights := range [][]int{{1, 1, 1}, {1, 2, 3, 4}, {5, 1, 1}, {1000, 1, 999}} {
		t.Run(fmt.Sprint(weights), func(t *testing.T) {
			_, p := poolOf(t, "round_robin", PassiveConfig{}, weights...)
			checkShares(t, p, counts(p, 10000, nil), 0.05)
		})
	}
}

func TestRoundRobinSkipsEjected(t *testing.T) {
	_, p := poolOf(t, "round_robin", PassiveConfig{}, 1, 2, 3)
	p.Servers[1].Live.until.Store(time.Now().Add(time.Hour).UnixNano())
	c := counts(p, 10000, nil)
	if c[2] != 0 || c[1] == 0 || c[3] == 0 {
		t.Fatalf("picks %v", c)
	}
	// Expired: back in rotation.
	p.Servers[1].Live.until.Store(time.Now().Add(-time.Second).UnixNano())
	checkShares(t, p, counts(p, 10000, nil), 0.05)
}

func TestLeastConn(t *testing.T) {
	_, p := poolOf(t, "least_conn", PassiveConfig{}, 1, 1, 2)
	s1, s2, s3 := p.Servers[0], p.Servers[1], p.Servers[2]
	for _, tc := range []struct {
		inflight [3]int
		want     []int // acceptable IDs
	}{
		{[3]int{0, 0, 0}, []int{1, 2, 3}},
		{[3]int{1, 0, 0}, []int{2, 3}},
		{[3]int{1, 1, 1}, []int{3}},       // 1/2 per weight
		{[3]int{1, 1, 2}, []int{1, 2, 3}}, // all 1 per weight
		{[3]int{2, 1, 4}, []int{2}},
		{[3]int{0, 5, 0}, []int{1, 3}},
	} {
		for i, s := range []*Server{s1, s2, s3} {
			s.Live.Inflight.Store(int64(tc.inflight[i]))
		}
		for range 10 {
			if got := p.Pick(nil, nil); !slices.Contains(tc.want, got.ID) {
				t.Errorf("inflight %v: picked %d, want one of %v", tc.inflight, got.ID, tc.want)
			}
		}
	}
	// Idle servers share the picks (the scan's start rotates).
	for _, s := range p.Servers {
		s.Live.Inflight.Store(0)
	}
	_, p = poolOf(t, "least_conn", PassiveConfig{}, 1, 1, 1, 1)
	// The start is random: 200k picks put ±5% at 13 standard deviations
	// (10k put it at 2.9, and CI failed about one run in a hundred).
	checkShares(t, p, counts(p, 200000, nil), 0.05)
	// Held requests: the picks follow the load.
	c := map[int]int{}
	for range 100 {
		s := p.Pick(nil, nil)
		p.Begin(s)
		c[s.ID]++
	}
	for id, n := range c {
		if n != 25 {
			t.Fatalf("server %d got %d of 100 held requests", id, n)
		}
	}
}

func TestP2CEWMA(t *testing.T) {
	_, p := poolOf(t, "p2c_ewma", PassiveConfig{}, 1, 1, 1, 1)
	// Unmeasured servers share by load alone.
	checkShares(t, p, counts(p, 20000, nil), 0.1)
	// A slow server gets less than a fair share; a new one still gets
	// traffic.
	for _, s := range p.Servers[:3] {
		s.Live.record(time.Millisecond)
	}
	slow := p.Servers[0]
	for range 50 {
		slow.Live.record(50 * time.Millisecond)
	}
	c := map[int]int{}
	for range 10000 {
		s := p.Pick(nil, nil)
		c[s.ID]++
		p.Begin(s) // hold: load matters too
		if c[s.ID]%4 == 0 {
			p.Report(s, true, false, s.Live.EWMA())
		}
	}
	if c[1] > 10000/8 {
		t.Errorf("slow server got %d of 10000", c[1])
	}
	if c[4] < 10000/8 {
		t.Errorf("unmeasured server got %d of 10000", c[4])
	}
	// Two distinct candidates: with two servers and one unusable-by-not,
	// the other always wins.
	_, p = poolOf(t, "p2c_ewma", PassiveConfig{}, 1, 1)
	for range 100 {
		if got := p.Pick(nil, p.Servers[0]); got.ID != 2 {
			t.Fatal("p2c picked the server it was told to leave")
		}
	}
}

func TestP2CWeights(t *testing.T) {
	_, p := poolOf(t, "p2c_ewma", PassiveConfig{}, 1, 3)
	for _, s := range p.Servers {
		s.Live.record(time.Millisecond)
	}
	c := map[int]int{}
	for range 10000 {
		s := p.Pick(nil, nil)
		c[s.ID]++
		p.Begin(s)
	}
	// Held requests spread in proportion to weight.
	if r := float64(c[2]) / float64(c[1]); r < 2.7 || r > 3.3 {
		t.Fatalf("weight 3 vs 1: %v", c)
	}
}

func TestNegLog2(t *testing.T) {
	check := func(x uint64) {
		want := 64 - math.Log2(float64(x))
		if got := negLog2(x); math.Abs(got-want) > 1e-6 {
			t.Fatalf("negLog2(%#x) = %v, want %v", x, got, want)
		}
	}
	for _, x := range []uint64{1, 2, 3, 1 << 20, 1<<63 - 1, 1 << 63, math.MaxUint64} {
		check(x)
	}
	x := uint64(1)
	for range 100000 {
		x = mix64(x + 1)
		check(x | 1)
		check(x>>(x%64) | 1)
	}
	// Increasing x, decreasing -log2: the scores keep their order.
	prev := math.Inf(1)
	for x := uint64(1 << 40); x < 1<<40+1<<34; x += 1 << 21 {
		v := negLog2(x)
		if v > prev {
			t.Fatalf("negLog2 rises at %#x", x)
		}
		prev = v
	}
}

func key(i int) []byte { return []byte("client-" + strconv.Itoa(i)) }

func TestHash(t *testing.T) {
	_, p := poolOf(t, "hash", PassiveConfig{}, 1, 1, 1, 1)
	if k, n := p.Key(); k != KeyIP || n != "" {
		t.Fatalf("Key = %v %q", k, n)
	}
	for i := range 100 {
		a, b := p.Pick(key(i), nil), p.Pick(key(i), nil)
		if a != b {
			t.Fatal("a key moved between picks")
		}
	}
	checkShares(t, p, counts(p, 20000, key), 0.05)
	// Weighted.
	_, p = poolOf(t, "hash", PassiveConfig{}, 1, 2, 3, 4)
	checkShares(t, p, counts(p, 40000, key), 0.05)
	// No key: round robin, honouring weights.
	checkShares(t, p, counts(p, 10000, nil), 0.05)
}

func TestHashKeys(t *testing.T) {
	for _, tc := range []struct {
		cfg  string
		kind KeyKind
		name string
	}{
		{"", KeyIP, ""},
		{"ip", KeyIP, ""},
		{"header:X-User", KeyHeader, "x-user"},
		{"cookie:Session", KeyCookie, "Session"},
	} {
		r := newReg(t, Config{Pools: []PoolConfig{{Name: "default", Policy: "hash", HashKey: tc.cfg}}})
		if k, n := r.Snapshot().Pool("default").Key(); k != tc.kind || n != tc.name {
			t.Errorf("HashKey %q: Key() = %v %q", tc.cfg, k, n)
		}
	}
	_, p := poolOf(t, "least_conn", PassiveConfig{}, 1)
	if k, n := p.Key(); k != KeyNone || n != "" {
		t.Errorf("least_conn Key() = %v %q", k, n)
	}
}

// TestHashConsistent: a fifth server takes about a fifth of the keys, all
// from the others; removing it puts them back where they were; an
// ejected server's keys go elsewhere and only they move.
func TestHashConsistent(t *testing.T) {
	for _, weights := range [][]int{{1, 1, 1, 1}, {2, 1, 3, 1}} {
		t.Run(fmt.Sprint(weights), func(t *testing.T) {
			r, p := poolOf(t, "hash", PassiveConfig{}, weights...)
			const n = 10000
			before := make([]int, n)
			for i := range n {
				before[i] = p.Pick(key(i), nil).ID
			}
			w := weights[0]
			added, err := r.Add("default", "http://10.0.0.5", w)
			if err != nil {
				t.Fatal(err)
			}
			p = r.Snapshot().Pool("default")
			moved := 0
			for i := range n {
				got := p.Pick(key(i), nil).ID
				if got != before[i] {
					moved++
					if got != added.ID {
						t.Fatalf("key %d moved from %d to %d, not to the new server", i, before[i], got)
					}
				}
			}
			total := w
			for _, x := range weights {
				total += x
			}
			want := float64(n) * float64(w) / float64(total)
			if math.Abs(float64(moved)-want) > 0.1*want {
				t.Fatalf("%d keys moved, want about %.0f", moved, want)
			}
			// Ejecting server 2 moves only its keys.
			p.Servers[1].Live.until.Store(time.Now().Add(time.Hour).UnixNano())
			after := make([]int, n)
			for i := range n {
				after[i] = p.Pick(key(i), nil).ID
			}
			p.Servers[1].Live.until.Store(0)
			for i := range n {
				cur := p.Pick(key(i), nil).ID
				if cur != 2 && after[i] != cur {
					t.Fatalf("key %d moved from %d to %d when server 2 left", i, cur, after[i])
				}
				if after[i] == 2 {
					t.Fatal("ejected server picked")
				}
			}
			if err := r.Remove("default", "10.0.0.5", 80); err != nil {
				t.Fatal(err)
			}
			p = r.Snapshot().Pool("default")
			for i := range n {
				if got := p.Pick(key(i), nil).ID; got != before[i] {
					t.Fatalf("key %d: %d after removal, %d before the add", i, got, before[i])
				}
			}
		})
	}
}

// TestPickNot: every policy avoids the server a retry leaves, takes it
// when it is the only usable one, and gives nil when none is usable.
func TestPickNot(t *testing.T) {
	for _, pol := range policies {
		t.Run(pol, func(t *testing.T) {
			_, p := poolOf(t, pol, PassiveConfig{}, 1, 5, 1)
			for i := range 300 {
				not := p.Servers[i%3]
				if got := p.Pick(key(i), not); got == nil || got.ID == not.ID {
					t.Fatalf("Pick(not %d) = %v", not.ID, got)
				}
			}
			// Only server 2 usable.
			far := time.Now().Add(time.Hour).UnixNano()
			p.Servers[0].Live.until.Store(far)
			p.Servers[2].Live.until.Store(far)
			for i := range 50 {
				if got := p.Pick(key(i), p.Servers[1]); got != p.Servers[1] {
					t.Fatalf("Pick(not the only usable) = %v", got)
				}
				if got := p.Pick(key(i), nil); got != p.Servers[1] {
					t.Fatalf("Pick = %v, want the only usable", got)
				}
			}
			p.Servers[1].Live.until.Store(far)
			if got := p.Pick(key(1), nil); got != nil {
				t.Fatalf("Pick with none usable = %v", got)
			}
			if got := p.Pick(nil, p.Servers[1]); got != nil {
				t.Fatalf("Pick(not) with none usable = %v", got)
			}
			_, empty := poolOf(t, pol, PassiveConfig{})
			if empty.Pick(key(1), nil) != nil {
				t.Fatal("an empty pool picked")
			}
		})
	}
}

func TestPickAllocs(t *testing.T) {
	for _, pol := range policies {
		_, p := poolOf(t, pol, PassiveConfig{}, 1, 2, 3, 4)
		p.Servers[1].Live.until.Store(time.Now().Add(time.Hour).UnixNano()) // exercise the skip
		k := []byte("10.1.2.3")
		n := testing.AllocsPerRun(1000, func() {
			s := p.Pick(k, nil)
			p.Begin(s)
			p.Report(s, true, false, time.Millisecond)
			s = p.Pick(nil, s)
			p.Begin(s)
			p.Report(s, false, true, time.Millisecond)
		})
		if n != 0 {
			t.Errorf("%s: %v allocations per Pick+Begin+Report", pol, n)
		}
	}
}

func BenchmarkPick(b *testing.B) {
	for _, pol := range policies {
		b.Run(pol, func(b *testing.B) {
			_, p := poolOf(b, pol, PassiveConfig{}, 1, 2, 3, 4, 1, 2, 3, 4)
			k := []byte("10.1.2.3")
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if p.Pick(k, nil) == nil {
						b.Fatal("nil")
					}
				}
			})
		})
	}
}

func BenchmarkReport(b *testing.B) {
	_, p := poolOf(b, "round_robin", PassiveConfig{}, 1, 1)
	s := p.Servers[0]
	b.ReportAllocs()
	for b.Loop() {
		p.Begin(s)
		p.Report(s, true, false, time.Millisecond)
	}
}
