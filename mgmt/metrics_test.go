package mgmt

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// scrape serves h over a real listener and returns the body of GET /metrics.
func scrape(t *testing.T, h *httptest.Server) string {
	t.Helper()
	resp, err := h.Client().Get(h.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want the text format", ct)
	}
	return string(b)
}

// wantLines fails for each line missing from a scrape.
func wantLines(t *testing.T, body string, lines ...string) {
	t.Helper()
	have := make(map[string]bool)
	for l := range strings.SplitSeq(body, "\n") {
		have[l] = true
	}
	for _, l := range lines {
		if !have[l] {
			t.Errorf("missing line %q", l)
		}
	}
}

func TestMetrics(t *testing.T) {
	f := newFake("default", "blue")
	f.totals = Totals{ClientSuccess: 3, ClientFailed: 1, LoopsLocked: 1}
	f.mustAdd(t, "default", "http://127.0.0.1:9000", 1)
	f.mustAdd(t, "blue", "http://[::1]:9100", 1)
	a := f.pools["default"][0]
	a.Success, a.Failed, a.Opened, a.Reused, a.Inflight = 10, 2, 4, 6, 1
	a.LatencyBounds, a.LatencyCounts, a.LatencySum = []float64{0.1, 0.5}, []uint64{1, 2, 3}, 1.25
	b := f.pools["blue"][0]
	b.State, b.Ejected = "draining", true
	b.LatencyBounds, b.LatencyCounts = []float64{0.1, 0.5}, []uint64{0, 0, 0}

	f.mustAdd(t, "blue", "http://127.0.0.1:9101", 1) // no latency data at all

	var logged bytes.Buffer
	defer log.SetOutput(log.Writer())
	log.SetOutput(&logged)
	srv := httptest.NewServer(New(f, Options{}))
	defer srv.Close()
	body := scrape(t, srv)
	if logged.Len() != 0 {
		t.Errorf("the scrape logged %q", logged.String())
	}
	const d, u = `pool="default",server="127.0.0.1:9000"`, `pool="blue",server="[::1]:9100"`
	wantLines(t, body,
		"# TYPE edgeloop_server_latency_seconds histogram",
		`edgeloop_server_latency_seconds_bucket{`+d+`,le="0.1"} 1`,
		`edgeloop_server_latency_seconds_bucket{`+d+`,le="0.5"} 3`,
		`edgeloop_server_latency_seconds_bucket{`+d+`,le="+Inf"} 6`,
		`edgeloop_server_latency_seconds_sum{`+d+`} 1.25`,
		`edgeloop_server_latency_seconds_count{`+d+`} 6`,
		`edgeloop_server_latency_seconds_count{`+u+`} 0`,
		`edgeloop_server_latency_seconds_bucket{pool="blue",server="127.0.0.1:9101",le="+Inf"} 0`,
		"# TYPE edgeloop_client_requests_total counter",
		`edgeloop_client_requests_total{result="success"} 3`,
		`edgeloop_client_requests_total{result="failed"} 1`,
		`edgeloop_server_requests_total{pool="default",result="success",server="127.0.0.1:9000"} 10`,
		`edgeloop_server_requests_total{pool="default",result="failed",server="127.0.0.1:9000"} 2`,
		`edgeloop_server_connections_opened_total{`+d+`} 4`,
		`edgeloop_server_connections_reused_total{`+d+`} 6`,
		`edgeloop_server_inflight{`+d+`} 1`,
		`edgeloop_server_up{`+d+`} 1`,
		`edgeloop_server_up{`+u+`} 0`,
		`edgeloop_server_ejected{`+u+`} 1`,
		`edgeloop_server_state{`+d+`,state="active"} 1`,
		`edgeloop_server_state{`+d+`,state="draining"} 0`,
		`edgeloop_server_state{`+u+`,state="draining"} 1`,
		`edgeloop_server_state{`+u+`,state="down"} 0`,
		"# TYPE edgeloop_loops gauge",
		"edgeloop_loops 2",
		"edgeloop_loops_thread_locked 1",
		`edgeloop_pool_queue_length{pool="default"} 2`,
	)
	for _, s := range []string{"_bucket{", "# TYPE go_goroutines gauge", "go_goroutines ", "process_cpu_seconds_total "} {
		if !strings.Contains(body, s) {
			t.Errorf("/metrics lacks %q", s)
		}
	}
}

// TestMetricsReAdded: a server removed and added again while the old one
// drains gives two Detail rows with the same labels; the scrape must not
// fail on duplicate series but add them up.
func TestMetricsReAdded(t *testing.T) {
	f := newFake("default")
	f.mustAdd(t, "default", "http://127.0.0.1:9000", 1)
	old := f.pools["default"][0]
	old.Success, old.Inflight = 5, 1
	old.LatencyBounds, old.LatencyCounts = []float64{0.1}, []uint64{2, 1}
	if err := f.RemoveServer("default", "127.0.0.1", 9000); err != nil {
		t.Fatal(err)
	}
	f.mustAdd(t, "default", "http://127.0.0.1:9000", 1)
	cur := f.pools["default"][0]
	cur.Success, cur.Inflight = 7, 2
	cur.LatencyBounds, cur.LatencyCounts = []float64{0.1}, []uint64{1, 0}

	srv := httptest.NewServer(New(f, Options{}))
	defer srv.Close()
	body := scrape(t, srv)
	const d = `pool="default",server="127.0.0.1:9000"`
	wantLines(t, body,
		`edgeloop_server_requests_total{pool="default",result="success",server="127.0.0.1:9000"} 12`,
		`edgeloop_server_inflight{`+d+`} 3`,
		`edgeloop_server_state{`+d+`,state="active"} 1`, // the newer row's state
		`edgeloop_server_latency_seconds_bucket{`+d+`,le="0.1"} 3`,
		`edgeloop_server_latency_seconds_count{`+d+`} 4`,
	)
}

// TestMetricsBadHistogram: a row breaking the histogram rules loses its
// histogram, not the scrape, and the error is logged.
func TestMetricsBadHistogram(t *testing.T) {
	var logged bytes.Buffer
	defer log.SetOutput(log.Writer())
	log.SetOutput(&logged)

	f := newFake("default")
	f.mustAdd(t, "default", "http://127.0.0.1:9000", 1)
	f.mustAdd(t, "default", "http://127.0.0.1:9001", 1)
	f.pools["default"][0].LatencyBounds = []float64{0.1, 0.5} // no counts
	f.pools["default"][1].LatencyBounds, f.pools["default"][1].LatencyCounts = []float64{0.1}, []uint64{1, 1}
	srv := httptest.NewServer(New(f, Options{}))
	defer srv.Close()
	body := scrape(t, srv)
	wantLines(t, body,
		`edgeloop_server_latency_seconds_count{pool="default",server="127.0.0.1:9001"} 2`,
		`edgeloop_server_up{pool="default",server="127.0.0.1:9000"} 1`,
	)
	if strings.Contains(body, `edgeloop_server_latency_seconds_count{pool="default",server="127.0.0.1:9000"}`) {
		t.Error("the invalid histogram was exported")
	}
	if !strings.Contains(logged.String(), "latency counts") {
		t.Errorf("error not logged: %q", logged.String())
	}
}

func TestCheckHistogram(t *testing.T) {
	tests := []struct {
		bounds []float64
		counts []uint64
		ok     bool
	}{
		{nil, nil, false},
		{nil, []uint64{3}, true},
		{[]float64{0.1, 1}, []uint64{1, 2, 3}, true},
		{[]float64{0.1, 1}, []uint64{1, 2}, false},
		{[]float64{1, 0.1}, []uint64{1, 2, 3}, false},
		{[]float64{0.1, 0.1}, []uint64{1, 2, 3}, false},
	}
	for _, tt := range tests {
		r := ServerStats{LatencyBounds: tt.bounds, LatencyCounts: tt.counts}
		if err := checkHistogram(&r); (err == nil) != tt.ok {
			t.Errorf("bounds %v counts %v: %v, want ok=%v", tt.bounds, tt.counts, err, tt.ok)
		}
	}
	total, buckets := cumulative([]float64{0.1, 1}, []uint64{1, 2, 3})
	if total != 6 || buckets[0.1] != 1 || buckets[1] != 3 || len(buckets) != 2 {
		t.Errorf("cumulative: %d %v", total, buckets)
	}
}

// TestPullMetrics: a pull pool's queue figures reach /metrics and /stats.
func TestPullMetrics(t *testing.T) {
	f := newFake("default")
	f.pulls = []PullStats{{
		Pool: "jobs", Queued: 3, Leased: 2, Waiting: 1, BodyBytes: 4096,
		Enqueued: 20, Answered: 15, Full: 1, TimedOut: 2, LeasesExpired: 3, Requeued: 1, Cancelled: 1,
		WaitBounds: []float64{0.01, 0.1}, WaitCounts: []uint64{5, 4, 1}, WaitSum: 0.75,
		Workers: []WorkerStats{{ID: "w1", Fetched: 9, Answered: 8, LeasesExpired: 1,
			LastSeen: time.Unix(1700000000, 500_000_000)}},
	}}
	srv := httptest.NewServer(New(f, Options{}))
	defer srv.Close()
	body := scrape(t, srv)
	const j = `pool="jobs"`
	wantLines(t, body,
		`edgeloop_pull_queue_length{`+j+`} 3`,
		`edgeloop_pull_leased{`+j+`} 2`,
		`edgeloop_pull_waiting_workers{`+j+`} 1`,
		`edgeloop_pull_body_bytes{`+j+`} 4096`,
		`edgeloop_pull_requests_total{`+j+`,result="answered"} 15`,
		`edgeloop_pull_requests_total{`+j+`,result="full"} 1`,
		`edgeloop_pull_requests_total{`+j+`,result="timed_out"} 2`,
		`edgeloop_pull_requests_total{`+j+`,result="cancelled"} 1`,
		`edgeloop_pull_leases_expired_total{`+j+`} 3`,
		`edgeloop_pull_requeued_total{`+j+`} 1`,
		"# TYPE edgeloop_pull_wait_seconds histogram",
		`edgeloop_pull_wait_seconds_bucket{`+j+`,le="0.01"} 5`,
		`edgeloop_pull_wait_seconds_bucket{`+j+`,le="0.1"} 9`,
		`edgeloop_pull_wait_seconds_bucket{`+j+`,le="+Inf"} 10`,
		`edgeloop_pull_wait_seconds_sum{`+j+`} 0.75`,
		`edgeloop_pull_wait_seconds_count{`+j+`} 10`,
		`edgeloop_pull_worker_requests_total{`+j+`,result="fetched",worker="w1"} 9`,
		`edgeloop_pull_worker_requests_total{`+j+`,result="answered",worker="w1"} 8`,
		`edgeloop_pull_worker_requests_total{`+j+`,result="lease_expired",worker="w1"} 1`,
		`edgeloop_pull_worker_last_seen_timestamp_seconds{`+j+`,worker="w1"} 1.7000000005e+09`,
	)

	resp, err := srv.Client().Get(srv.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Pull []map[string]any `json:"pull"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if len(st.Pull) != 1 || st.Pull[0]["pool"] != "jobs" || st.Pull[0]["queued"] != 3.0 ||
		st.Pull[0]["leases_expired"] != 3.0 || len(st.Pull[0]["workers"].([]any)) != 1 {
		t.Fatalf("/stats pull = %v", st.Pull)
	}
}
