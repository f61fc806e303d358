package mgmt

import (
	"fmt"
	"log"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// newMetricsHandler serves GET /metrics from a registry of its own (not
// the client library's global one): edgeloop's collector, the Go runtime
// collector and the process collector.
//
// A collector that fails (an invalid histogram, say) costs only its own
// series: the rest of the scrape is still served and the error is logged
// and counted in promhttp_metric_handler_errors_total.
func newMetricsHandler(c Control) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		newCollector(c),
		newPullCollector(c),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      log.Default(),
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      reg,
	})
}

// states are the values of edgeloop_server_state's state label that are
// always exported, so a dashboard sees a 0 rather than nothing.
var states = []string{"active", "down", "draining"}

// collector reads Control at scrape time and turns what it returns into
// constant metrics; it keeps no state between scrapes.
type collector struct {
	c Control

	clientRequests *prometheus.Desc
	serverRequests *prometheus.Desc
	inflight       *prometheus.Desc
	up             *prometheus.Desc
	state          *prometheus.Desc
	ejected        *prometheus.Desc
	opened         *prometheus.Desc
	reused         *prometheus.Desc
	latency        *prometheus.Desc
	loops          *prometheus.Desc
	locked         *prometheus.Desc
	queued         *prometheus.Desc
}

func newCollector(c Control) *collector {
	server := []string{"pool", "server"}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("edgeloop_"+name, help, labels, nil)
	}
	return &collector{
		c: c,
		clientRequests: d("client_requests_total",
			"Client requests by result: success = a response delivered whatever its status, failed = answered by an error of the proxy or not completed.",
			"result"),
		serverRequests: d("server_requests_total",
			"Exchanges with an origin by result: failed = connect error, reset, timeout or invalid response.",
			"pool", "server", "result"),
		inflight: d("server_inflight", "Requests in flight to an origin.", server...),
		up:       d("server_up", "1 when the origin is active, 0 when it is down or draining.", server...),
		state: d("server_state", "1 for the origin's current state, 0 for the others.",
			"pool", "server", "state"),
		ejected: d("server_ejected", "1 while passive health checking keeps the origin out.", server...),
		opened:  d("server_connections_opened_total", "Connections dialed to the origin.", server...),
		reused: d("server_connections_reused_total",
			"Requests sent to the origin on a connection that had already served one.", server...),
		latency: d("server_latency_seconds", "Time from sending a request to an origin to its complete response.",
			server...),
		loops:  d("loops", "Event loops serving clients."),
		locked: d("loops_thread_locked", "Event loops holding an OS thread of their own: those busy enough that it pays."),
		queued: d("pool_queue_length", "Requests waiting for a server under its max_conns.", "pool"),
	}
}

// Describe sends every descriptor; the collector emits nothing else, so the
// registry can check what Collect sends.
func (k *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		k.clientRequests, k.serverRequests, k.inflight, k.up, k.state,
		k.ejected, k.opened, k.reused, k.latency, k.loops, k.locked, k.queued,
	} {
		ch <- d
	}
}

// Collect reads Control once and sends the metrics.
func (k *collector) Collect(ch chan<- prometheus.Metric) {
	t := k.c.Totals()
	ch <- prometheus.MustNewConstMetric(k.clientRequests, prometheus.CounterValue, float64(t.ClientSuccess), "success")
	ch <- prometheus.MustNewConstMetric(k.clientRequests, prometheus.CounterValue, float64(t.ClientFailed), "failed")
	ch <- prometheus.MustNewConstMetric(k.loops, prometheus.GaugeValue, float64(k.c.Loops()))
	ch <- prometheus.MustNewConstMetric(k.locked, prometheus.GaugeValue, float64(t.LoopsLocked))
	for name, n := range k.c.Queued() {
		ch <- prometheus.MustNewConstMetric(k.queued, prometheus.GaugeValue, float64(n), name)
	}
	for _, s := range mergeRows(k.c.Detail()) {
		k.collectServer(ch, s)
	}
}

// collectServer sends the series of one (pool, server) pair.
func (k *collector) collectServer(ch chan<- prometheus.Metric, s *series) {
	counter := func(d *prometheus.Desc, v uint64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{s.pool, s.server}, extra...)...)
	}
	gauge := func(d *prometheus.Desc, v float64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{s.pool, s.server}, extra...)...)
	}
	counter(k.serverRequests, s.success, "success")
	counter(k.serverRequests, s.failed, "failed")
	counter(k.opened, s.opened)
	counter(k.reused, s.reused)
	gauge(k.inflight, float64(s.inflight))
	gauge(k.up, boolValue(s.state == "active"))
	gauge(k.ejected, boolValue(s.ejected))
	for _, st := range states {
		gauge(k.state, boolValue(s.state == st), st)
	}
	if !slices.Contains(states, s.state) {
		gauge(k.state, 1, s.state) // a state this package does not know yet
	}
	if s.histErr != nil {
		ch <- prometheus.NewInvalidMetric(k.latency, s.histErr)
		return
	}
	if s.counts == nil { // nothing observed yet: an empty histogram
		s.counts = []uint64{0}
	}
	count, buckets := cumulative(s.bounds, s.counts)
	h, err := prometheus.NewConstHistogram(k.latency, count, s.sum, buckets, s.pool, s.server)
	if err != nil {
		h = prometheus.NewInvalidMetric(k.latency, err)
	}
	ch <- h
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// series is what gets exported for one (pool, server) label pair.
type series struct {
	pool, server string

	id                              int // of the newest row: its state wins
	state                           string
	ejected                         bool
	inflight                        int64
	success, failed, opened, reused uint64

	bounds  []float64
	counts  []uint64 // per bucket, len(bounds)+1; nil until a row has some
	sum     float64
	histErr error
}

// mergeRows groups the rows of Detail by (pool, ip:port). Two rows share a
// pair when a server was removed and added again while the old one still
// drains; exporting both would give the registry duplicate series and fail
// the scrape, so their counters and histograms are added up and the newest
// row (highest ID) supplies the state.
func mergeRows(rows []ServerStats) []*series {
	type key struct{ pool, server string }
	byKey := make(map[key]*series, len(rows))
	out := make([]*series, 0, len(rows))
	for i := range rows {
		r := &rows[i]
		k := key{r.Pool, serverLabel(r.ServerInfo)}
		s := byKey[k]
		if s == nil {
			s = &series{pool: k.pool, server: k.server, id: r.ID, state: r.State, ejected: r.Ejected}
			byKey[k] = s
			out = append(out, s)
		} else if r.ID > s.id {
			s.id, s.state, s.ejected = r.ID, r.State, r.Ejected
		}
		s.inflight += r.Inflight
		s.success += r.Success
		s.failed += r.Failed
		s.opened += r.Opened
		s.reused += r.Reused
		s.addHistogram(r)
	}
	return out
}

// addHistogram adds a row's latency histogram to the series. A row with
// neither bounds nor counts has observed nothing yet and adds nothing.
func (s *series) addHistogram(r *ServerStats) {
	if s.histErr != nil || len(r.LatencyBounds) == 0 && len(r.LatencyCounts) == 0 {
		return
	}
	if err := checkHistogram(r); err != nil {
		s.histErr = err
		return
	}
	switch {
	case s.counts == nil:
		s.bounds, s.counts, s.sum = r.LatencyBounds, slices.Clone(r.LatencyCounts), r.LatencySum
	case !slices.Equal(s.bounds, r.LatencyBounds):
		s.histErr = fmt.Errorf("mgmt: two rows of %s in pool %s have different latency buckets", s.server, s.pool)
	default:
		for j, c := range r.LatencyCounts {
			s.counts[j] += c
		}
		s.sum += r.LatencySum
	}
}

// checkHistogram reports a row whose latency fields break ServerStats'
// rules: a count per bucket plus one, and finite ascending bounds.
func checkHistogram(r *ServerStats) error {
	if len(r.LatencyCounts) != len(r.LatencyBounds)+1 {
		return fmt.Errorf("mgmt: server %d has %d latency counts for %d bounds, want bounds+1",
			r.ID, len(r.LatencyCounts), len(r.LatencyBounds))
	}
	for i, b := range r.LatencyBounds {
		if math.IsNaN(b) || math.IsInf(b, 0) || (i > 0 && b <= r.LatencyBounds[i-1]) {
			return fmt.Errorf("mgmt: server %d has latency bounds that are not finite and ascending: %v",
				r.ID, r.LatencyBounds)
		}
	}
	return nil
}

// cumulative turns per-bucket counts into the cumulative ones a Prometheus
// histogram holds: bucket le=b counts every observation <= b. The last
// count (above every bound) only adds to the total, which is the implicit
// le="+Inf" bucket.
func cumulative(bounds []float64, counts []uint64) (total uint64, buckets map[float64]uint64) {
	buckets = make(map[float64]uint64, len(bounds))
	for i, b := range bounds {
		total += counts[i]
		buckets[b] = total
	}
	return total + counts[len(bounds)], buckets
}

// serverLabel names a server in metric labels: ip:port, bracketed for IPv6.
func serverLabel(s ServerInfo) string {
	return net.JoinHostPort(s.IP, strconv.Itoa(s.Port))
}
