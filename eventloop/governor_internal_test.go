package eventloop

import "testing"

// feed runs one tick's worth of callbacks: calls callbacks, of which
// sleeps begin more than wakeGap after the previous one ended (the others
// 2 µs after), and returns the decision.
func (g *governor) feed(calls, sleeps int) bool {
	now := g.lastEnd
	for i := range calls {
		if i < sleeps {
			now += wakeGap + 40_000
		} else {
			now += 2_000
		}
		g.begin(now)
		now += 3_000
		g.end(now)
	}
	return g.decide()
}

func TestGovernorCountsSleeps(t *testing.T) {
	g := &governor{lastEnd: 1 << 40}
	g.begin(g.lastEnd + wakeGap + 1)
	g.end(g.lastEnd + wakeGap + 5_000)
	g.begin(g.lastEnd + wakeGap) // exactly the gap: not a sleep
	g.end(g.lastEnd + wakeGap + 1_000)
	g.begin(g.lastEnd + 500)
	if g.calls != 3 || g.wakes != 1 {
		t.Fatalf("calls %d wakes %d, want 3 and 1", g.calls, g.wakes)
	}
}

// The loop locks only after sustained busy ticks, holds the lock across the
// band between the thresholds, and lets go on light load or on idling.
func TestGovernorDecides(t *testing.T) {
	g := &governor{lastEnd: 1 << 40}
	steps := []struct {
		name          string
		calls, sleeps int
		want          bool
	}{
		{"idle", 0, 0, false},
		{"quarter load: nearly every callback wakes the loop", 600, 300, false},
		{"saturation, first tick: the average still remembers the light load", 5000, 150, false},
		{"saturation, second tick", 5000, 150, false},
		{"saturation, third tick", 5000, 150, false},
		{"saturation, fourth tick: 400 ms in", 5000, 150, true},
		{"one noisy tick at saturation", 5000, 500, true},
		{"between the thresholds: stays locked", 4000, 360, true},
		{"between the thresholds again", 4000, 360, true},
		{"half load", 2600, 520, false},
		{"between the thresholds: stays unlocked", 4000, 360, false},
		{"saturation with few callbacks (a slow origin): no lock", 800, 8, false},
		{"idle again", 10, 10, false},
		{"a burst after idling locks at its first tick", 5000, 150, true},
		{"a tick too quiet to judge lets go", 300, 3, false},
	}
	for _, s := range steps {
		got := g.feed(s.calls, s.sleeps)
		if got != s.want {
			t.Fatalf("%s: locked=%v, want %v (average %.3f)", s.name, got, s.want, g.ewma)
		}
		g.locked.Store(got)
	}
	// Idle after saturation: a tick with almost no callbacks lets go at once.
	g2 := &governor{ewma: 0.02}
	g2.locked.Store(true)
	if g2.feed(100, 1) {
		t.Fatal("an idle tick kept the lock")
	}
}
