package loadgen

import "strconv"

// Summary is the JSON object `loadgen -json` prints (CONTRACT.md); the
// benchmark harness reads it back with the same type.
type Summary struct {
	Requests  int64              `json:"requests"`
	DurationS float64            `json:"duration_s"`
	RPS       float64            `json:"rps"`
	Bytes     int64              `json:"bytes"`
	Errors    int64              `json:"errors"`
	ErrorKind map[string]int64   `json:"error_kinds"`
	Status    map[string]int64   `json:"status"`
	LatencyUS map[string]float64 `json:"latency_us"` // p50, p90, p99, p999, max, mean
}

// Summary condenses r for printing.
func (r *Result) Summary() Summary {
	s := Summary{Requests: r.Requests, DurationS: r.Duration.Seconds(), RPS: r.RPS(), Bytes: r.Bytes,
		Errors: r.ErrorCount(), ErrorKind: r.Errors, Status: map[string]int64{}, LatencyUS: map[string]float64{}}
	for k, v := range r.Status {
		s.Status[strconv.Itoa(k)] = v
	}
	h := r.Latency
	for name, q := range map[string]float64{"p50": 50, "p90": 90, "p99": 99, "p999": 99.9} {
		s.LatencyUS[name] = float64(h.ValueAtQuantile(q))
	}
	s.LatencyUS["max"] = float64(h.Max())
	s.LatencyUS["mean"] = h.Mean()
	return s
}
