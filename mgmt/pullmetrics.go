package mgmt

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// pullCollector exports the pull pools' queues (Control.Pulls) at scrape
// time.
type pullCollector struct {
	c Control

	length, leased, waiting, body     *prometheus.Desc
	requests, expired, requeued, wait *prometheus.Desc
	workerRequests, workerSeen        *prometheus.Desc
}

func newPullCollector(c Control) *pullCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("edgeloop_pull_"+name, help, labels, nil)
	}
	return &pullCollector{
		c:       c,
		length:  d("queue_length", "Requests of a pull pool waiting for a worker to fetch them.", "pool"),
		leased:  d("leased", "Requests of a pull pool fetched by a worker and not answered yet.", "pool"),
		waiting: d("waiting_workers", "Workers long-polling a pull pool now.", "pool"),
		body:    d("body_bytes", "Request body bytes a pull pool holds.", "pool"),
		requests: d("requests_total",
			"Requests of a pull pool by outcome: answered by a worker; full = 503, the queue full; timed_out = 504, no worker fetched it in time; cancelled = the client left first.",
			"pool", "result"),
		expired:  d("leases_expired_total", "Fetched requests whose worker did not answer within the lease.", "pool"),
		requeued: d("requeued_total", "Idempotent requests queued again after their lease expired.", "pool"),
		wait:     d("wait_seconds", "Time from entering a pull pool's queue to a worker's fetch.", "pool"),
		workerRequests: d("worker_requests_total",
			"A worker's requests by step: fetched, answered, lease_expired. Workers are named by X-Worker-Id, else their IP.",
			"pool", "worker", "result"),
		workerSeen: d("worker_last_seen_timestamp_seconds", "When a worker last polled or answered (Unix time).",
			"pool", "worker"),
	}
}

func (k *pullCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{k.length, k.leased, k.waiting, k.body, k.requests, k.expired,
		k.requeued, k.wait, k.workerRequests, k.workerSeen} {
		ch <- d
	}
}

func (k *pullCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, p := range k.c.Pulls() {
		gauge(k.length, float64(p.Queued), p.Pool)
		gauge(k.leased, float64(p.Leased), p.Pool)
		gauge(k.waiting, float64(p.Waiting), p.Pool)
		gauge(k.body, float64(p.BodyBytes), p.Pool)
		counter(k.requests, p.Answered, p.Pool, "answered")
		counter(k.requests, p.Full, p.Pool, "full")
		counter(k.requests, p.TimedOut, p.Pool, "timed_out")
		counter(k.requests, p.Cancelled, p.Pool, "cancelled")
		counter(k.expired, p.LeasesExpired, p.Pool)
		counter(k.requeued, p.Requeued, p.Pool)
		if h, err := pullHistogram(k.wait, &p); err != nil {
			ch <- prometheus.NewInvalidMetric(k.wait, err)
		} else {
			ch <- h
		}
		for _, w := range p.Workers {
			counter(k.workerRequests, w.Fetched, p.Pool, w.ID, "fetched")
			counter(k.workerRequests, w.Answered, p.Pool, w.ID, "answered")
			counter(k.workerRequests, w.LeasesExpired, p.Pool, w.ID, "lease_expired")
			if !w.LastSeen.IsZero() {
				gauge(k.workerSeen, float64(w.LastSeen.UnixNano())/1e9, p.Pool, w.ID)
			}
		}
	}
}

// pullHistogram turns a pool's wait counts into a Prometheus histogram.
func pullHistogram(d *prometheus.Desc, p *PullStats) (prometheus.Metric, error) {
	if len(p.WaitCounts) != len(p.WaitBounds)+1 {
		return nil, fmt.Errorf("mgmt: pull pool %s has %d wait counts for %d bounds, want bounds+1",
			p.Pool, len(p.WaitCounts), len(p.WaitBounds))
	}
	total, buckets := cumulative(p.WaitBounds, p.WaitCounts)
	return prometheus.NewConstHistogram(d, total, p.WaitSum, buckets, p.Pool)
}
