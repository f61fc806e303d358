package queue

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/edgeloop/edgeloop/http1"
)

// The worker API (CONTRACT.md, "Worker API"), on worker_listen.

// MaxWait caps a long poll's wait.
const MaxWait = 10 * time.Minute

// API serves the worker calls of a set of pull pools.
type API struct {
	queues map[string]*Queue
	only   *Queue // the one queue when there is one
	token  string
	mux    *http.ServeMux
}

// NewAPI serves qs; token, when not empty, is required as
// "Authorization: Bearer TOKEN" on every call.
func NewAPI(qs []*Queue, token string) *API {
	a := &API{queues: map[string]*Queue{}, token: token, mux: http.NewServeMux()}
	for _, q := range qs {
		a.queues[q.cfg.Pool] = q
	}
	if len(qs) == 1 {
		a.only = qs[0]
	}
	a.route("/api/v1/request", http.MethodGet, a.fetch)
	a.route("/api/v1/response", http.MethodPost, a.respond)
	a.route("/api/v1/request/{id}/body", http.MethodGet, a.body)
	a.route("/api/v1/response/{id}", http.MethodPost, a.stream)
	a.route("/api/v1/request/{id}/lease", http.MethodPost, a.extend)
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, "no such call: %s %s", r.Method, r.URL.Path)
	})
	return a
}

// route registers a call; another method gets 405 with Allow.
func (a *API) route(path, method string, h http.HandlerFunc) {
	a.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method {
			w.Header().Set("Allow", method)
			fail(w, http.StatusMethodNotAllowed, "%s takes %s, not %s", path, method, r.Method)
			return
		}
		h(w, r)
	})
}

// ServeHTTP checks the token, then runs the call.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.token != "" {
		v := r.Header.Get("Authorization")
		scheme, got, _ := strings.Cut(v, " ")
		// RFC 9110 §11.1: the scheme is case-insensitive.
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(got), []byte(a.token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="edgeloop workers"`)
			fail(w, http.StatusUnauthorized, "a worker token is required: Authorization: Bearer TOKEN")
			return
		}
	}
	a.mux.ServeHTTP(w, r)
}

// Close wakes the long polls of every queue (they answer 503 with
// Retry-After from then on).
func (a *API) Close() {
	for _, q := range a.queues {
		q.Close()
	}
}

// fail writes {"error": "..."}.
func fail(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// pick is the queue a call names with ?pool=, or the only one.
func (a *API) pick(w http.ResponseWriter, r *http.Request) *Queue {
	name := r.URL.Query().Get("pool")
	if name == "" {
		if a.only == nil {
			if len(a.queues) == 0 {
				fail(w, http.StatusNotFound, "no pool is kind: pull")
			} else {
				fail(w, http.StatusBadRequest, "pool: several pull pools: name one with ?pool=NAME")
			}
		}
		return a.only
	}
	q := a.queues[name]
	if q == nil {
		fail(w, http.StatusNotFound, "pool %q: no such pull pool", name)
	}
	return q
}

// workerID names the caller in the metrics: X-Worker-Id, else its IP.
func workerID(r *http.Request) string {
	if id := r.Header.Get("X-Worker-Id"); id != "" && len(id) <= 64 && printable(id) {
		return id
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// fetched is the JSON of GET /api/v1/request.
type fetched struct {
	ID   string            `json:"id"`
	Env  map[string]string `json:"env"`
	Body *string           `json:"body,omitempty"` // inline, base64
	// BodyURL and BodySize replace Body for a body over the inline size:
	// the worker GETs it raw.
	BodyURL  string `json:"body_url,omitempty"`
	BodySize int64  `json:"body_size,omitempty"`
	// LeaseMS is the lease: answer, or extend it, within this.
	LeaseMS int64 `json:"lease_ms"`
}

// fetch is GET /api/v1/request?wait=D: a long poll.
func (a *API) fetch(w http.ResponseWriter, r *http.Request) {
	wait, q, ok := a.pollArgs(w, r, "wait")
	if ok {
		a.poll(w, r, q, wait, false)
	}
}

// pollArgs reads a long poll's wait (parameter param, default 30s) and
// its queue; false when it answered an error.
func (a *API) pollArgs(w http.ResponseWriter, r *http.Request, param string) (time.Duration, *Queue, bool) {
	wait := 30 * time.Second
	if v := r.URL.Query().Get(param); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > MaxWait {
			fail(w, http.StatusBadRequest, "%s: %q: want a duration from 0s to %s, such as 30s", param, v, MaxWait)
			return 0, nil, false
		}
		wait = d
	}
	q := a.pick(w, r)
	return wait, q, q != nil
}

// poll hands the worker the next request of q, waiting up to wait.
// answered: the call also delivered an answer, so a closed queue is a
// 204 (the answer went through) rather than a 503.
func (a *API) poll(w http.ResponseWriter, r *http.Request, q *Queue, wait time.Duration, answered bool) {
	for {
		f := q.Fetch(r.Context(), wait, workerID(r))
		if f == nil && q.Closed() && !answered {
			// Not a 204: a worker would ask again at once, and again.
			w.Header().Set("Retry-After", "1")
			fail(w, http.StatusServiceUnavailable, "edgeloop is shutting down: no more requests")
			return
		}
		if f == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		env, err := Env(f.Req)
		if err != nil {
			// Cannot happen for a head the loop parsed under the same
			// limits; if it does, that request fails, not the worker.
			q.Reject(f.ID, 500)
			continue
		}
		out := fetched{ID: f.ID, Env: env, LeaseMS: q.cfg.Lease.Milliseconds()}
		if n := int64(len(f.Req.Body)); n > q.cfg.InlineBody {
			out.BodyURL, out.BodySize = "/api/v1/request/"+f.ID+"/body", n
		} else {
			b := base64.StdEncoding.EncodeToString(f.Req.Body)
			out.Body = &b
		}
		writeJSON(w, http.StatusOK, out)
		// A worker seen gone gives the request back at once; one that
		// left unseen holds it until its lease runs out. (Not the
		// request's context: a worker that read the answer and hung up
		// at once ends it too.)
		if http.NewResponseController(w).Flush() != nil {
			q.GiveBack(f)
		}
		return
	}
}

// find is the queue that leased id out.
func (a *API) find(id string) *Queue {
	for _, q := range a.queues {
		if q.Holds(id) {
			return q
		}
	}
	return nil
}

// body is GET /api/v1/request/{id}/body: a leased request's body, raw.
func (a *API) body(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var b []byte
	err := ErrUnknown
	if q := a.find(id); q != nil {
		b, err = q.Body(id)
	}
	if err != nil {
		fail(w, http.StatusNotFound, "request %q: not leased to a worker (unknown, answered, expired or cancelled)", id)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// answerJSON is the body of POST /api/v1/response.
type answerJSON struct {
	ID      string     `json:"id"`
	Status  int        `json:"status"`
	Headers [][]string `json:"headers"`
	Body    *string    `json:"body"`
	Stream  bool       `json:"stream"`
}

// respond is POST /api/v1/response.
//
// With ?next=D it is also the next long poll: once the answer is taken,
// the worker gets its next request (or 204) as GET /api/v1/request?wait=D
// would give it, one round trip instead of two for a busy worker.
func (a *API) respond(w http.ResponseWriter, r *http.Request) {
	var next *Queue
	var wait time.Duration
	if r.URL.Query().Has("next") {
		var ok bool
		if wait, next, ok = a.pollArgs(w, r, "next"); !ok {
			return
		}
	}
	limit := int64(1<<20) + 4*a.maxInline()/3
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			fail(w, http.StatusRequestEntityTooLarge, "the response is over %d bytes: stream its body (\"stream\": true, then POST /api/v1/response/ID)", limit)
			return
		}
		fail(w, http.StatusBadRequest, "reading the request: %v", err)
		return
	}
	in, msg := decodeAnswer(raw)
	if msg != "" {
		fail(w, http.StatusBadRequest, "%s", msg)
		return
	}
	q := a.find(in.ID)
	var method http1.Method
	if q != nil {
		method = q.method(in.ID)
	}
	ans, msg := checkAnswer(in, method)
	if msg != "" {
		fail(w, http.StatusBadRequest, "%s", msg)
		return
	}
	if q == nil {
		fail(w, http.StatusNotFound, "request %q: not waiting for an answer (unknown, answered, expired or cancelled)", in.ID)
		return
	}
	switch err := q.Respond(in.ID, ans); {
	case errors.Is(err, ErrState):
		fail(w, http.StatusConflict, "request %q: its response head was given already; POST its body to /api/v1/response/%s", in.ID, in.ID)
	case err != nil:
		fail(w, http.StatusNotFound, "request %q: not waiting for an answer (unknown, answered, expired or cancelled)", in.ID)
	case ans.Stream:
		writeJSON(w, http.StatusAccepted, map[string]string{"id": in.ID, "body_url": "/api/v1/response/" + in.ID})
	case next != nil:
		a.poll(w, r, next, wait, true)
	default:
		writeJSON(w, http.StatusOK, map[string]any{"id": in.ID, "delivered": true})
	}
}

func (a *API) maxInline() int64 {
	var m int64
	for _, q := range a.queues {
		m = max(m, q.cfg.InlineBody)
	}
	return m
}

// decodeAnswer reads the JSON of POST /api/v1/response strictly: one
// object, known keys only (a typo such as "header" is an error, not an
// answer without fields).
func decodeAnswer(raw []byte) (*answerJSON, string) {
	var in answerJSON
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Sprintf("malformed response JSON: %v", err)
	}
	if err := dec.Decode(&struct{}{}); err != io.EOF {
		return nil, "malformed response JSON: data after the object"
	}
	return &in, ""
}

// checkAnswer validates a worker's response and turns it into an Answer;
// msg says what is wrong with it.
func checkAnswer(in *answerJSON, method http1.Method) (*Answer, string) {
	if in.ID == "" {
		return nil, "id: missing"
	}
	if in.Status < 200 || in.Status > 599 {
		return nil, fmt.Sprintf("status: %d: want a final status, 200-599", in.Status)
	}
	a := &Answer{Status: in.Status, ContentLength: -1, Stream: in.Stream}
	var declared int64 = -1
	for i, h := range in.Headers {
		if len(h) != 2 {
			return nil, fmt.Sprintf("headers[%d]: want a [name, value] pair", i)
		}
		n, v := h[0], h[1]
		if !validName(n) {
			return nil, fmt.Sprintf("headers[%d]: %q is not a field name (RFC 9110 §5.1)", i, n)
		}
		if !validValue(v) {
			return nil, fmt.Sprintf("headers[%d]: the value of %s holds a control character (RFC 9110 §5.5)", i, n)
		}
		switch {
		case strings.EqualFold(n, "content-length"):
			d, err := strconv.ParseInt(v, 10, 64)
			if err != nil || !digits(v) || (declared >= 0 && d != declared) {
				return nil, fmt.Sprintf("headers[%d]: Content-Length %q is not one valid length", i, v)
			}
			declared = d
			continue // the proxy frames the body itself
		case http1.IsHopByHop([]byte(n)):
			continue // RFC 9110 §7.6.1: the worker's connection is not the client's
		}
		a.Header = append(a.Header, [2]string{n, v})
	}
	if in.Body != nil {
		b, err := base64.StdEncoding.DecodeString(*in.Body)
		if err != nil {
			return nil, fmt.Sprintf("body: not standard base64: %v", err)
		}
		a.Body = b
	}
	noBody := in.Status == 204 || in.Status == 304 || method == http1.MethodHead
	switch {
	case in.Stream && len(a.Body) > 0:
		return nil, "body: a streamed response has its body posted to /api/v1/response/ID, not here"
	case in.Stream && noBody:
		return nil, fmt.Sprintf("stream: a %d response to this request has no body", in.Status)
	case (in.Status == 204 || in.Status == 304) && len(a.Body) > 0:
		return nil, fmt.Sprintf("body: a %d response has none (RFC 9110 §15)", in.Status)
	case declared >= 0 && !noBody && !in.Stream && declared != int64(len(a.Body)):
		return nil, fmt.Sprintf("headers: Content-Length %d, but the body has %d bytes", declared, len(a.Body))
	}
	if noBody {
		switch {
		case declared >= 0 && in.Status != 204:
			a.ContentLength = declared
		case method == http1.MethodHead && len(a.Body) > 0:
			a.ContentLength = int64(len(a.Body)) // what a GET would get
		}
		a.Body = nil
	}
	return a, ""
}

// digits: 1*DIGIT, the grammar of Content-Length (RFC 9110 §8.6), which
// ParseInt widens with a sign.
func digits(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return v != ""
}

// validName: a token (RFC 9110 §5.1).
func validName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// validValue: no CR, LF, NUL or other control but HTAB (RFC 9110 §5.5);
// this is what keeps a worker from splitting the client's response.
func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// stream is POST /api/v1/response/{id}: the body of an answer whose head
// said "stream": true, relayed as it arrives.
func (a *API) stream(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	q := a.find(id)
	if q == nil {
		fail(w, http.StatusNotFound, "request %q: not waiting for an answer (unknown, answered, expired or cancelled)", id)
		return
	}
	rc := http.NewResponseController(w)
	lease := q.cfg.Lease
	n, err := q.Stream(id, func(p []byte) (int, error) {
		// A worker that stops sending for a lease loses the request.
		_ = rc.SetReadDeadline(time.Now().Add(lease))
		return r.Body.Read(p)
	})
	switch {
	case errors.Is(err, ErrState):
		fail(w, http.StatusConflict, "request %q: post its response head with \"stream\": true first", id)
	case errors.Is(err, ErrUnknown):
		fail(w, http.StatusNotFound, "request %q: its client is gone (%d bytes relayed)", id, n)
	case err != nil:
		fail(w, http.StatusBadRequest, "reading the body: %v (%d bytes relayed; the client sees a cut response)", err, n)
	default:
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "delivered": true, "bytes": n})
	}
}

// extend is POST /api/v1/request/{id}/lease: another lease for a request
// whose handler is still at work.
func (a *API) extend(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	err := ErrUnknown
	q := a.find(id)
	if q != nil {
		err = q.Extend(id)
	}
	switch {
	case errors.Is(err, ErrState):
		fail(w, http.StatusConflict, "request %q: its body is being streamed: no lease needed", id)
	case err != nil:
		fail(w, http.StatusNotFound, "request %q: not leased (unknown, answered, expired or cancelled)", id)
	default:
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "lease_ms": q.cfg.Lease.Milliseconds()})
	}
}
