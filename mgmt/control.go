package mgmt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// ServerInfo is the server object of CONTRACT.md. Every number is encoded
// as a JSON number.
type ServerInfo struct {
	ID       int    `json:"id"`
	URL      string `json:"url"`
	IP       string `json:"ip"`
	Port     int    `json:"port"`
	Pool     string `json:"pool"`
	Weight   int    `json:"weight"`
	State    string `json:"state"` // active, down, draining
	Inflight int64  `json:"inflight"`
}

// ServerStats is one row of /stats/detail and the source of the per-server
// metrics. The latency histogram stays out of the JSON: it is exposed on
// /metrics only.
type ServerStats struct {
	ServerInfo
	Success uint64 `json:"success"`
	Failed  uint64 `json:"failed"`
	// Opened counts the connections dialed to the origin; Reused counts the
	// requests sent on a connection that had already served one.
	Opened uint64 `json:"opened"`
	Reused uint64 `json:"reused"`
	// Ejected is set while passive health checking keeps the server out.
	Ejected bool `json:"ejected"`
	// LatencyBounds are the upper bounds of the latency buckets in seconds,
	// in ascending order. LatencyCounts holds one count per bucket (not
	// cumulative) and one more for the observations above the last bound,
	// so len(LatencyCounts) == len(LatencyBounds)+1. LatencySum is the sum
	// of all observations in seconds. Bounds and counts both empty mean
	// nothing was observed yet.
	LatencyBounds []float64 `json:"-"`
	LatencyCounts []uint64  `json:"-"`
	LatencySum    float64   `json:"-"`
}

// Totals are the proxy-wide counters of GET /stats (CONTRACT.md says what
// counts as a success or a failure on either side).
type Totals struct {
	ClientSuccess, ClientFailed, ServerSuccess, ServerFailed uint64
	// LoopsLocked: event loops holding an OS thread (busy) now.
	LoopsLocked int
}

// Control is everything the management API needs from the proxy. The
// handlers call it from net/http's goroutines, concurrently; the
// implementation does its own locking. Slices it returns become the
// caller's.
//
// Errors should wrap one of ErrBadInput, ErrExists, ErrNotFound or
// ErrNoPool (fmt.Errorf("...: %w", ErrX)); the handlers turn them into
// 400, 409, 404 and 404, with the error's text as the message. Any other
// error becomes a 500.
type Control interface {
	// PoolNames lists the configured pools.
	PoolNames() []string
	// Servers lists the servers of one pool.
	Servers(pool string) ([]ServerInfo, error)
	// AddServer adds an origin to a pool; weight is already checked to be
	// in 1-1000, rawURL is as the client sent it.
	AddServer(pool, rawURL string, weight int) (ServerInfo, error)
	// RemoveServer takes a server out at once: no new requests, in-flight
	// ones finish.
	RemoveServer(pool, ip string, port int) error
	// PatchServer changes the weight, the state (draining or active), or
	// both; a nil pointer leaves that part alone.
	PatchServer(pool, ip string, port int, weight *int, state *string) (ServerInfo, error)
	// Totals returns the counters of GET /stats.
	Totals() Totals
	// Detail returns a row for every server of every pool, including the
	// ones removed but still draining.
	Detail() []ServerStats
	// Loops returns the number of event loops.
	Loops() int
	// Queued is the number of requests waiting, per pool, for a server
	// under its max_conns.
	Queued() map[string]int
	// Pulls returns the queue figures of each pull pool, by pool name.
	Pulls() []PullStats
}

// PullStats are one pull pool's queue figures (package queue's Stats,
// which mgmt does not import). Gauges: Queued requests wait for a worker,
// Leased ones are with a worker, Waiting workers long-poll now, BodyBytes
// of request bodies are held. Counters: Enqueued requests; Answered by a
// worker; Full (503, queue full); TimedOut (504, no worker fetched it in
// time); LeasesExpired (no answer within the lease), of which Requeued
// went back to the queue; Cancelled by their client leaving first.
type PullStats struct {
	Pool          string `json:"pool"`
	Queued        int    `json:"queued"`
	Leased        int    `json:"leased"`
	Waiting       int    `json:"waiting_workers"`
	BodyBytes     int64  `json:"body_bytes"`
	Enqueued      uint64 `json:"enqueued"`
	Answered      uint64 `json:"answered"`
	Full          uint64 `json:"full"`
	TimedOut      uint64 `json:"timed_out"`
	LeasesExpired uint64 `json:"leases_expired"`
	Requeued      uint64 `json:"requeued"`
	Cancelled     uint64 `json:"cancelled"`
	// The wait from entering the queue to a worker's fetch, as for
	// ServerStats' latency: WaitBounds in seconds ascending, WaitCounts
	// one per bucket plus one above the last bound, WaitSum in seconds.
	WaitBounds []float64     `json:"-"`
	WaitCounts []uint64      `json:"-"`
	WaitSum    float64       `json:"-"`
	Workers    []WorkerStats `json:"workers"`
}

// WorkerStats are one pull worker's counts, by the X-Worker-Id it gave
// (else its IP address).
type WorkerStats struct {
	ID            string    `json:"id"`
	Fetched       uint64    `json:"fetched"`
	Answered      uint64    `json:"answered"`
	LeasesExpired uint64    `json:"leases_expired"`
	LastSeen      time.Time `json:"last_seen"`
}

// The errors Control wraps to choose the status of a failed call.
var (
	ErrBadInput = errors.New("mgmt: bad input")       // 400
	ErrExists   = errors.New("mgmt: already exists")  // 409
	ErrNotFound = errors.New("mgmt: no such server")  // 404
	ErrNoPool   = errors.New("mgmt: no such pool")    // 404
	errInternal = errors.New("mgmt: internal error")  // 500, for messages
	errTooLarge = errors.New("mgmt: body over 1 MiB") // 413
)

// Options configures New.
type Options struct {
	// Token, when not empty, is required as "Authorization: Bearer TOKEN"
	// on every endpoint but /healthz.
	Token string
	// Ready tells /healthz whether the proxy is serving: 200 when it
	// returns true, 503 otherwise. Nil means always ready.
	Ready func() bool
}

// maxBody caps a request body; a larger one is refused with 413.
const maxBody = 1 << 20

// statusOf maps an error returned by Control to an HTTP status.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrBadInput):
		return http.StatusBadRequest
	case errors.Is(err, ErrExists):
		return http.StatusConflict
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrNoPool):
		return http.StatusNotFound
	default:
		return http.StatusInternalServerError
	}
}

// writeJSON sends v as the JSON body of a response with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only a Control that hands back unencodable values (NaN cannot
		// occur in the fields above) gets here; say so rather than send
		// half a body.
		status, b = http.StatusInternalServerError, errorBody(errInternal.Error()+": "+err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// errorBody encodes {"error": msg}.
func errorBody(msg string) []byte {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg}) // a struct of one string always encodes
	return b
}

// writeError sends {"error": msg} with the given status.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, json.RawMessage(errorBody(msg)))
}

// writeControlError reports a failed Control call.
func writeControlError(w http.ResponseWriter, err error) {
	writeError(w, statusOf(err), err.Error())
}

// decodeBody reads the request body as one JSON object into v, refusing
// unknown fields, trailing data and bodies over maxBody; the Content-Type
// is not looked at (CONTRACT.md: weldr's README posts with plain curl -d).
// On failure it has already answered and returns false.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, http.StatusRequestEntityTooLarge, errTooLarge.Error())
		} else {
			writeError(w, http.StatusBadRequest, "mgmt: reading the body: "+err.Error())
		}
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, decodeMessage(err))
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		writeError(w, http.StatusBadRequest, "mgmt: bad JSON body: data after the object")
		return false
	}
	return true
}

// decodeMessage words a json decoding error for the client.
func decodeMessage(err error) string {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		if te.Field == "" {
			return "mgmt: bad JSON body: want an object"
		}
		return fmt.Sprintf("mgmt: bad JSON body: %s must be %s, not %s", te.Field, kindOf(te.Field), te.Value)
	}
	if err == io.EOF {
		return "mgmt: empty body, want a JSON object"
	}
	return "mgmt: bad JSON body: " + strings.TrimPrefix(err.Error(), "json: ")
}

// kindOf names what a field of a request body must hold.
func kindOf(field string) string {
	switch field {
	case "weight":
		return "an integer in 1-1000"
	default:
		return "a string"
	}
}
