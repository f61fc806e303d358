package main

import "runtime"

// spareProcs makes GOMAXPROCS at least one more than the event loops.
//
// A gnet loop is a goroutine that blocks in epoll_wait through a normal
// (not raw) system call. While it blocks, its P sits in _Psyscall; when
// no other P is idle, the runtime's sysmon thread retakes that P after
// about 20 µs, hands it to another thread, and keeps waking every 20 µs
// to look again. With one P per loop (GOMAXPROCS=1 with one loop, or the
// default of one loop per CPU) that happens on almost every wait: in
// docs/performance.md, 16% of the proxy's CPU samples were in
// finish_task_switch, half of them sysmon's nanosleep, and the loop
// goroutine hopped between threads. One spare P makes sysmon leave a P
// in a system call alone for 10 ms, and the cost fell to 6%. The spare P
// runs only what the loops do not: the admin API, dials and timers.
//
// It returns the value before and after; they differ only when raised.
func spareProcs(loops int) (before, after int) {
	if loops <= 0 {
		loops = runtime.NumCPU()
	}
	before = runtime.GOMAXPROCS(0)
	if before < loops+1 {
		runtime.GOMAXPROCS(loops + 1)
	}
	return before, runtime.GOMAXPROCS(0)
}
