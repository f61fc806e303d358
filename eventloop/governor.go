package eventloop

import (
	"runtime"
	"sync/atomic"
	_ "unsafe" // go:linkname nanotime
)

// The thread governor: each loop holds an OS thread only while it is busy.
//
// gnet's poller, after each burst of events, polls once more without
// blocking and, when that finds nothing, calls runtime.Gosched before it
// blocks in epoll_wait. On a goroutine locked to its thread, Gosched hands
// the P to another thread and back (three thread wake-ups with the spare
// P), so below saturation a locked loop spent 10-30% more CPU per request
// than an unlocked one. At saturation the lock is worth 5-15% more
// requests per second: unlocked, the loop comes back from each wait on
// whichever runtime thread took it, and the kernel often places that
// thread beside the load and the origin (docs/performance.md).
//
// Busy is told from the loop's own rhythm. A callback that begins more
// than wakeGap after the previous one ended found the loop asleep (or
// descheduled) in between; at saturation a loop drains a batch of events
// per wake and 2-6% of its callbacks begin that way, at half load 15-25%,
// at a quarter load 45% and more. Each tick (tickEvery, on the loop's
// goroutine, where LockOSThread applies) smooths that fraction and
// decides, with a gap between the two thresholds so that a load near one
// of them does not flip the lock at every tick.
type governor struct {
	lastEnd int64  // nanotime when the last callback ended
	calls   uint32 // callbacks since the last tick
	wakes   uint32 // of which began after a sleep
	ewma    float64
	fresh   bool // no average yet: the last tick was too quiet to judge
	// locked: the loop holds its thread. Written on the loop goroutine
	// only; atomic so that Stats may read it from any goroutine.
	locked atomic.Bool
}

const (
	// wakeGap: within a burst, consecutive callbacks are apart by gnet's
	// read of the next connection (1-5 µs); a sleep and a wake-up take
	// longer than this.
	wakeGap = 10_000 // ns

	// Lock when fewer than lockBelow of the callbacks (smoothed) began
	// after a sleep and the loop ran at least lockMinCalls callbacks in
	// the tick; unlock above unlockAbove or below unlockMinCalls.
	lockBelow      = 0.06
	unlockAbove    = 0.12
	lockMinCalls   = 1000 // per tick: 10k callbacks a second
	unlockMinCalls = 500
	ewmaWeight     = 0.5 // of the newest tick
)

//go:linkname nanotime runtime.nanotime
func nanotime() int64

// begin and end bracket each callback; now is nanotime().
func (g *governor) begin(now int64) {
	if now-g.lastEnd > wakeGap {
		g.wakes++
	}
	g.calls++
}

func (g *governor) end(now int64) { g.lastEnd = now }

// decide folds the tick's counts into the average and returns whether the
// loop should hold its thread; it resets the counts.
func (g *governor) decide() bool {
	calls, wakes := g.calls, g.wakes
	g.calls, g.wakes = 0, 0
	if calls < unlockMinCalls {
		// Too quiet to judge; the next busy tick starts a fresh average,
		// so that a burst after idling locks within a tick or two.
		g.fresh = true
		return false
	}
	frac := float64(wakes) / float64(calls)
	if g.fresh {
		g.ewma, g.fresh = frac, false
	} else {
		g.ewma = (1-ewmaWeight)*g.ewma + ewmaWeight*frac
	}
	switch {
	case g.ewma > unlockAbove:
		return false
	case calls >= lockMinCalls && g.ewma < lockBelow:
		return true
	}
	return g.locked.Load()
}

// govern runs on the loop's goroutine at each tick and takes or releases
// the OS thread. gnet starts the loops unlocked (WithLockOSThread(false)),
// so the lock count is ours alone: one LockOSThread at most, undone by one
// UnlockOSThread.
func (l *loop) govern() {
	g := &l.gov
	want := g.decide()
	if want == g.locked.Load() {
		return
	}
	if want {
		runtime.LockOSThread()
	} else {
		runtime.UnlockOSThread()
	}
	g.locked.Store(want)
	l.p.log.Debug("loop thread lock", "locked", want, "sleeps_per_callback", g.ewma)
}
