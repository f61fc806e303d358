package queue

import (
	"slices"
	"strings"
	"time"
)

// WaitBounds are the upper bounds, in seconds, of the wait-time
// histogram: from entering the queue to a worker's fetch.
var WaitBounds = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// histogram counts observations per WaitBounds bucket, plus one bucket
// above the last bound. Guarded by Queue.mu.
type histogram struct {
	counts [15]uint64
	sum    float64
}

func (h *histogram) observe(d time.Duration) {
	s := d.Seconds()
	i, _ := slices.BinarySearch(WaitBounds, s)
	h.counts[i]++
	h.sum += s
}

// Stats are a queue's gauges and counters at one moment.
type Stats struct {
	Pool string
	// Queued requests wait for a worker; Leased ones are with a worker;
	// Waiting workers are long-polling now.
	Queued  int
	Leased  int
	Waiting int
	// BodyBytes is the request body held, of the pool's budget.
	BodyBytes int64
	// Enqueued: requests taken in. Answered: answers relayed. Full:
	// refused with 503, the queue full. TimedOut: 504, no worker fetched
	// them in time. Expired: leases that ran out without an answer, of
	// which Requeued went back to the queue. Cancelled: clients that left
	// first.
	Enqueued  uint64
	Answered  uint64
	Full      uint64
	TimedOut  uint64
	Expired   uint64
	Requeued  uint64
	Cancelled uint64
	// WaitCounts has one count per WaitBounds bucket (not cumulative) and
	// one for the waits above the last; WaitSum is in seconds.
	WaitCounts []uint64
	WaitSum    float64
	Workers    []WorkerStats
}

// WorkerStats are one worker's counts (by its X-Worker-Id, else its IP).
type WorkerStats struct {
	ID       string
	Fetched  uint64
	Answered uint64
	Expired  uint64
	LastSeen time.Time
}

// Stats reads the queue's figures.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := Stats{
		Pool: q.cfg.Pool, Queued: q.items.Len(), Leased: len(q.leased), Waiting: q.waiters.Len(),
		BodyBytes: q.body.Load(),
		Enqueued:  q.counts.enqueued, Answered: q.counts.answered, Full: q.counts.full,
		TimedOut: q.counts.timedOut, Expired: q.counts.expired, Requeued: q.counts.requeued,
		Cancelled:  q.counts.cancelled,
		WaitCounts: slices.Clone(q.wait.counts[:]), WaitSum: q.wait.sum,
		Workers: make([]WorkerStats, 0, len(q.workers)),
	}
	for _, w := range q.workers {
		s.Workers = append(s.Workers, WorkerStats{ID: w.id, Fetched: w.fetched, Answered: w.answered,
			Expired: w.expired, LastSeen: w.lastSeen})
	}
	slices.SortFunc(s.Workers, func(a, b WorkerStats) int { return strings.Compare(a.ID, b.ID) })
	return s
}
