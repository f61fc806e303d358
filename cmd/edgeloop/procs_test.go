package main

import (
	"runtime"
	"testing"
)

func TestSpareProcs(t *testing.T) {
	orig := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(orig)
	for _, c := range []struct{ procs, loops, want int }{
		{1, 1, 2},                    // the benchmark's GOMAXPROCS=1 -loops 1
		{2, 2, 3},                    // default: one loop per CPU, one P per CPU
		{4, 1, 4},                    // already spare: left alone
		{2, 1, 2},                    // exactly one spare
		{1, 0, runtime.NumCPU() + 1}, // 0 loops means one per CPU
	} {
		runtime.GOMAXPROCS(c.procs)
		before, after := spareProcs(c.loops)
		if before != c.procs || after != c.want || runtime.GOMAXPROCS(0) != c.want {
			t.Errorf("GOMAXPROCS=%d loops=%d: got %d->%d (runtime %d), want %d",
				c.procs, c.loops, before, after, runtime.GOMAXPROCS(0), c.want)
		}
	}
}
