// Package worker turns an http.Handler into a pull-mode worker of an
// edgeloop pull pool (CONTRACT.md, "Worker API"): it long-polls the
// proxy's worker API for queued client requests, runs the handler on
// each, and posts the response back.
//
//	w := &worker.Worker{URL: "http://127.0.0.1:8688", Handler: h}
//	err := w.Run(ctx, 4) // four requests at a time, until ctx ends
//
// The handler sees an *http.Request as net/http's server would give it
// (Request), with the Rack environment behind it in Env. Its response
// is buffered up to Worker.InlineLimit and posted whole; a larger one, or
// one the handler flushes, is posted head first and its body streamed as
// the handler writes it.
//
// Imports: the standard library only.
package worker

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Defaults of Worker.
const (
	DefaultWait        = 30 * time.Second
	DefaultInlineLimit = 64 << 10
)

// Back-off after a failed fetch: doubling from minBackoff to maxBackoff,
// back to none after a fetch that worked.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// pollSlack is how much longer than the wait a long poll may take before
// the worker gives it up (a proxy that vanished without a reset).
const pollSlack = 30 * time.Second

// Worker is a pull-mode worker. Set its fields, then call Run; they must
// not change while it runs.
type Worker struct {
	URL   string // worker API base, e.g. "http://127.0.0.1:8688"
	Pool  string // sent as ?pool=NAME when not empty
	Token string // sent as "Authorization: Bearer TOKEN" when not empty
	ID    string // sent as X-Worker-Id when not empty
	// Wait is the long poll's wait, default 30s; the proxy takes up to
	// 10 minutes.
	Wait    time.Duration
	Handler http.Handler
	// Client makes the calls; nil: a client of its own, with no overall
	// timeout (a long poll takes Wait) and enough idle connections for
	// Run's loops.
	Client *http.Client
	// InlineLimit: response bodies up to this size are posted in the JSON
	// answer, base64; larger ones, and any the handler flushes, are
	// streamed. Default 64 KiB; the proxy takes inline answers up to
	// about 1 MiB.
	InlineLimit int64
	Logger      *slog.Logger // nil: no logs
}

// job is a fetched request: the JSON of GET /api/v1/request.
type job struct {
	ID       string            `json:"id"`
	Env      map[string]string `json:"env"`
	Body     string            `json:"body"`
	BodyURL  string            `json:"body_url"`
	BodySize int64             `json:"body_size"`
	LeaseMS  int64             `json:"lease_ms"`
}

// runner is a Worker with its defaults resolved, for one Run.
type runner struct {
	base    string // URL without a trailing slash
	pool    string
	token   string
	id      string
	wait    time.Duration
	handler http.Handler
	client  *http.Client
	inline  int64
	log     *slog.Logger
}

// Run fetches and answers requests with n loops at once (n <= 0: 1), each
// taking one request at a time, until ctx ends. Fetch errors are logged
// and retried after a back-off (100 ms doubling to 2 s). An answer the
// proxy refuses (a 404: the lease ran out or the client left) is logged,
// and the loop goes on; a handler panic is logged and answered 500 (or,
// once the head went out, cuts the streamed body).
//
// When ctx ends, long polls are abandoned at once, but a request being
// handled is finished and answered first, as http.Server.Shutdown does
// (its Request.Context is not cancelled by ctx). Run returns nil once
// every loop has stopped, or an error at once when the Worker is not
// usable (no Handler, a bad URL).
func (w *Worker) Run(ctx context.Context, n int) error {
	if w.Handler == nil {
		return errors.New("worker: Handler is nil")
	}
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("worker: URL %q: want http://HOST:PORT", w.URL)
	}
	if n <= 0 {
		n = 1
	}
	r := &runner{
		base: strings.TrimRight(w.URL, "/"), pool: w.Pool, token: w.Token, id: w.ID,
		wait: w.Wait, handler: w.Handler, client: w.Client, inline: w.InlineLimit, log: w.Logger,
	}
	if r.wait <= 0 {
		r.wait = DefaultWait
	}
	if r.inline <= 0 {
		r.inline = DefaultInlineLimit
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		// A loop holds a long poll, or a response POST beside a body
		// stream: keep enough connections for all of them.
		tr.MaxIdleConnsPerHost = 2*n + 2
		r.client = &http.Client{Transport: tr}
		defer tr.CloseIdleConnections()
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { r.loop(ctx, i) })
	}
	wg.Wait()
	return nil
}

// loop is one fetch loop.
func (r *runner) loop(ctx context.Context, i int) {
	log := r.log.With("loop", i)
	var backoff time.Duration
	for ctx.Err() == nil {
		start := time.Now()
		j, err := r.fetch(ctx)
		switch {
		case j != nil:
			backoff = 0
			// A busy worker's answer brings the next request along.
			for j != nil {
				j = r.serve(ctx, j, log)
			}
			continue
		case err == nil && time.Since(start) >= r.wait/2:
			backoff = 0 // 204: nothing within the wait
			continue
		case err == nil:
			// A 204 well before the wait: the proxy is closing its
			// queue and answers every poll at once. Do not spin.
			log.Debug("worker: the proxy answered a long poll early: backing off")
		case ctx.Err() != nil:
			return
		default:
			log.Warn("worker: fetching a request", "err", err, "retry_in", next(backoff))
		}
		backoff = next(backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func next(b time.Duration) time.Duration {
	if b == 0 {
		return minBackoff
	}
	return min(2*b, maxBackoff)
}

// call is a request to the worker API with the worker's headers.
func (r *runner) call(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	target := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		target = r.base + path
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.id != "" {
		req.Header.Set("X-Worker-Id", r.id)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// do makes a call to the worker API (see call) and sends it.
func (r *runner) do(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := r.call(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	return r.client.Do(req)
}

// statusError is a worker API call's unexpected status, with the API's
// {"error": "..."} message when it gave one.
type statusError struct {
	call   string
	status int
	msg    string
}

func (e *statusError) Error() string {
	s := fmt.Sprintf("%s: %d %s", e.call, e.status, http.StatusText(e.status))
	if e.msg != "" {
		s += ": " + e.msg
	}
	return s
}

// gone reports whether err is the API's 404: the request is no longer
// leased (the lease ran out, or the client left).
func gone(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.status == http.StatusNotFound
}

func newStatusError(call string, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	var e struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	return &statusError{call: call, status: resp.StatusCode, msg: msg}
}

// fetch long-polls for a request: nil, nil on a 204.
func (r *runner) fetch(ctx context.Context) (*job, error) {
	q := url.Values{"wait": {r.wait.String()}}
	if r.pool != "" {
		q.Set("pool", r.pool)
	}
	// ctx ends the poll while it waits; once the answer's head came, its
	// body is read whatever ctx does, since the request is leased to this
	// worker by then and is better answered than left to its lease.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.wait+pollSlack)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	resp, err := r.do(pctx, http.MethodGet, "/api/v1/request?"+q.Encode(), nil)
	stop()
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return readJob("GET /api/v1/request", resp)
}

// serve runs the handler on a fetched request and answers it; it returns
// the next request when the answer brought one (postAnswerNext).
func (r *runner) serve(ctx context.Context, j *job, log *slog.Logger) (next *job) {
	log = log.With("id", j.ID)
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var body io.Reader
	switch {
	case j.BodyURL != "":
		b, err := r.requestBody(hctx, j)
		if err != nil {
			if gone(err) {
				log.Info("worker: request gone before its body was read", "err", err)
				return
			}
			log.Error("worker: reading the request body", "err", err)
			r.answerError(hctx, j, http.StatusBadGateway, log)
			return
		}
		defer b.Close()
		body = b
	case j.Body != "":
		b, err := base64.StdEncoding.DecodeString(j.Body)
		if err != nil {
			log.Error("worker: the request body is not base64", "err", err)
			r.answerError(hctx, j, http.StatusBadGateway, log)
			return
		}
		body = bytes.NewReader(b)
	}
	req, err := Request(hctx, j.Env, body)
	if err != nil {
		log.Error("worker: building the request", "err", err)
		r.answerError(hctx, j, http.StatusBadRequest, log)
		return
	}
	if j.LeaseMS > 0 {
		// A handler slower than the lease keeps its request.
		defer r.keepLease(hctx, cancel, j, log)()
	}
	rw := newResponseWriter(r, hctx, cancel, j.ID, req.Method == http.MethodHead, log)
	rw.pollNext = ctx.Err() == nil
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				log.Error("worker: handler panic", "method", req.Method, "uri", req.RequestURI, "panic", p)
			}
			rw.pollNext = false
			rw.abort(fmt.Errorf("worker: handler panic: %v", p))
			return
		}
		rw.finish()
		next = rw.next
	}()
	r.handler.ServeHTTP(rw, req)
	return nil
}

// keepLease renews j's lease at half its length until the returned stop
// is called. A request the proxy no longer holds for this worker (the
// client left) ends the handler's context. It costs one timer: nothing
// runs unless the handler is still at work after half a lease.
func (r *runner) keepLease(ctx context.Context, cancel context.CancelFunc, j *job, log *slog.Logger) (stop func()) {
	every := max(time.Duration(j.LeaseMS)*time.Millisecond/2, 10*time.Millisecond)
	var (
		mu       sync.Mutex
		stopped  bool
		inflight sync.WaitGroup
		t        *time.Timer
	)
	mu.Lock() // t is read under mu by the callback
	defer mu.Unlock()
	t = time.AfterFunc(every, func() {
		mu.Lock()
		if stopped {
			mu.Unlock()
			return
		}
		inflight.Add(1)
		mu.Unlock()
		defer inflight.Done()
		err := r.extend(ctx, j.ID)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case stopped:
		case err == nil:
			t.Reset(every)
		case gone(err):
			log.Info("worker: the request is gone (its client left): stopping its handler", "err", err)
			cancel()
		case errors.Is(err, errNoLease):
			// its body is streaming: no lease needed any more
		default:
			log.Warn("worker: extending the lease", "err", err)
			t.Reset(every)
		}
	})
	return func() {
		mu.Lock()
		stopped = true
		t.Stop()
		mu.Unlock()
		inflight.Wait()
	}
}

// errNoLease: the proxy needs no lease for the request any more (409).
var errNoLease = errors.New("worker: the request needs no lease")

// extend renews the lease of request id.
func (r *runner) extend(ctx context.Context, id string) error {
	resp, err := r.do(ctx, http.MethodPost, "/api/v1/request/"+url.PathEscape(id)+"/lease", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil
	case http.StatusConflict:
		return errNoLease
	}
	return newStatusError("POST /api/v1/request/ID/lease", resp)
}

// requestBody GETs the body of a request too large to come inline.
func (r *runner) requestBody(ctx context.Context, j *job) (io.ReadCloser, error) {
	resp, err := r.do(ctx, http.MethodGet, j.BodyURL, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, newStatusError("GET "+j.BodyURL, resp)
	}
	return resp.Body, nil
}

// answerError answers j with a status of the worker's own.
func (r *runner) answerError(ctx context.Context, j *job, status int, log *slog.Logger) {
	err := r.postAnswer(ctx, &answer{
		ID: j.ID, Status: status,
		Headers: [][2]string{{"Content-Type", "text/plain; charset=utf-8"}},
		Body:    ptr(base64.StdEncoding.EncodeToString([]byte(http.StatusText(status) + "\n"))),
	}, http.StatusOK)
	logAnswer(log, err)
}

func ptr[T any](v T) *T { return &v }

func logAnswer(log *slog.Logger, err error) {
	switch {
	case err == nil:
	case gone(err):
		log.Info("worker: answer refused: the lease ran out or the client left", "err", err)
	default:
		log.Error("worker: answering", "err", err)
	}
}

// answer is the JSON of POST /api/v1/response.
type answer struct {
	ID      string      `json:"id"`
	Status  int         `json:"status"`
	Headers [][2]string `json:"headers"`
	Body    *string     `json:"body,omitempty"`
	Stream  bool        `json:"stream,omitempty"`
}

// postAnswer posts a, expecting status want.
func (r *runner) postAnswer(ctx context.Context, a *answer, want int) error {
	if a.Headers == nil {
		a.Headers = [][2]string{}
	}
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	resp, err := r.do(ctx, http.MethodPost, "/api/v1/response", bytes.NewReader(b))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		return newStatusError("POST /api/v1/response", resp)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	return nil
}

// nextWait is how long an answer's POST waits for the next request: the
// POST cannot be cut short when Run's ctx ends without risking its
// answer, so it waits briefly; an idle worker goes back to the long poll.
const nextWait = 500 * time.Millisecond

// postAnswerNext posts a whole answer with ?next=: the reply is the next
// request (200), or nothing came within nextWait (204: nil, nil).
func (r *runner) postAnswerNext(ctx context.Context, a *answer) (*job, error) {
	if a.Headers == nil {
		a.Headers = [][2]string{}
	}
	b, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	q := url.Values{"next": {nextWait.String()}}
	if r.pool != "" {
		q.Set("pool", r.pool)
	}
	resp, err := r.do(ctx, http.MethodPost, "/api/v1/response?"+q.Encode(), bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return readJob("POST /api/v1/response", resp)
}

// readJob reads a long poll's reply: a request (200) or none (204).
func readJob(call string, resp *http.Response) (*job, error) {
	switch resp.StatusCode {
	case http.StatusNoContent:
		return nil, nil
	case http.StatusOK:
	default:
		return nil, newStatusError(call, resp)
	}
	var j job
	if err := json.NewDecoder(resp.Body).Decode(&j); err != nil {
		return nil, fmt.Errorf("%s: reading the request: %w", call, err)
	}
	if j.ID == "" {
		return nil, errors.New(call + ": an answer without an id")
	}
	return &j, nil
}

// postStream posts the streamed body of request id, read from body,
// expecting 200.
func (r *runner) postStream(ctx context.Context, id string, body io.Reader) error {
	path := "/api/v1/response/" + url.PathEscape(id)
	req, err := r.call(ctx, http.MethodPost, path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.ContentLength = -1 // chunked, its head sent at once
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return newStatusError("POST "+path, resp)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	return nil
}
