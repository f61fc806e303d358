package eventloop_test

// Pull pools end to end: a raw client through the live proxy, workers
// over real HTTP against the queue's worker API.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeloop/edgeloop/eventloop"
	"github.com/edgeloop/edgeloop/pool"
	"github.com/edgeloop/edgeloop/queue"
)

// pullRig is a proxy whose routes send /jobs/ to pull pool "jobs" and its
// worker API.
type pullRig struct {
	p   *testProxy
	q   *queue.Queue
	api string // the worker API's base URL
}

func startPull(t *testing.T, cfg queue.Config, o eventloop.Options) *pullRig {
	t.Helper()
	reg, err := pool.New(pool.Config{
		Pools: []pool.PoolConfig{
			{Name: "default", Check: pool.CheckConfig{Disabled: true}},
			{Name: "jobs", Kind: pool.KindPull},
		},
		Routes:  []pool.RouteConfig{{PathPrefix: "/jobs/", Pool: "jobs"}},
		Passive: pool.PassiveConfig{Fails: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	cfg.Pool = "jobs"
	q := queue.New(cfg)
	srv := httptest.NewServer(queue.NewAPI([]*queue.Queue{q}, ""))
	t.Cleanup(srv.Close)
	t.Cleanup(q.Close) // first: wakes the long polls srv.Close waits for
	o.Pools, o.Queues = reg, map[string]*queue.Queue{"jobs": q}
	return &pullRig{p: startProxy(t, o), q: q, api: srv.URL}
}

// job is what a worker fetched.
type job struct {
	ID       string            `json:"id"`
	Env      map[string]string `json:"env"`
	Body     string            `json:"body"`
	BodyURL  string            `json:"body_url"`
	BodySize int64             `json:"body_size"`
}

// fetch long-polls once; nil on 204.
func (r *pullRig) fetch(t testing.TB, wait time.Duration) *job {
	t.Helper()
	resp, err := http.Get(r.api + "/api/v1/request?wait=" + wait.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("fetch: %d %s", resp.StatusCode, b)
	}
	var j job
	if err := json.NewDecoder(resp.Body).Decode(&j); err != nil {
		t.Fatal(err)
	}
	return &j
}

// mustFetch fetches, failing when nothing comes within 5 s.
func (r *pullRig) mustFetch(t testing.TB) *job {
	t.Helper()
	j := r.fetch(t, ioTimeout)
	if j == nil {
		t.Fatal("no request reached the worker")
	}
	return j
}

// post posts a JSON value (or raw bytes) to path; it returns the status
// and body.
func (r *pullRig) post(t testing.TB, path string, v any) (int, string) {
	t.Helper()
	b, ok := v.([]byte)
	if !ok {
		b, _ = json.Marshal(v)
	}
	resp, err := http.Post(r.api+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// answer posts an inline answer and checks it was taken.
func (r *pullRig) answer(t testing.TB, id string, status int, headers [][]string, body []byte) {
	t.Helper()
	if code, msg := r.post(t, "/api/v1/response", map[string]any{"id": id, "status": status,
		"headers": headers, "body": base64.StdEncoding.EncodeToString(body)}); code != 200 {
		t.Fatalf("answer: %d %s", code, msg)
	}
}

func b64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A request with body and fields reaches a worker as a Rack env, and the
// worker's status, fields and body reach the client, on a connection
// that stays open for the next request.
func TestPullRoundTrip(t *testing.T) {
	r := startPull(t, queue.Config{}, eventloop.Options{})
	c := dial(t, r.p.Addr)
	c.send("POST /jobs/a/b?x=1&y=2 HTTP/1.1\r\nHost: app.example:8080\r\nX-Test: 1\r\nX_Sneaky: 1\r\n" +
		"Content-Type: text/plain\r\nContent-Length: 5\r\nConnection: keep-alive, X-Hop\r\nX-Hop: h\r\n" +
		"X-Forwarded-For: 10.0.0.1\r\n\r\nhello")
	j := r.mustFetch(t)
	want := map[string]string{
		"REQUEST_METHOD": "POST", "SCRIPT_NAME": "/jobs", "PATH_INFO": "/a/b", "QUERY_STRING": "x=1&y=2",
		"SERVER_NAME": "app.example", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
		"REMOTE_ADDR": "127.0.0.1", "CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "5",
		"HTTP_X_TEST": "1", "HTTP_HOST": "app.example:8080", "rack.url_scheme": "http",
		"HTTP_X_FORWARDED_FOR": "10.0.0.1, 127.0.0.1", "HTTP_X_FORWARDED_PROTO": "http",
		"HTTP_X_FORWARDED_HOST": "app.example:8080",
	}
	for k, v := range want {
		if j.Env[k] != v {
			t.Errorf("env %s = %q, want %q", k, j.Env[k], v)
		}
	}
	for _, k := range []string{"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH", "HTTP_CONNECTION", "HTTP_X_HOP", "HTTP_X_SNEAKY"} {
		if v, ok := j.Env[k]; ok {
			t.Errorf("env has %s = %q", k, v)
		}
	}
	if got := string(b64(t, j.Body)); got != "hello" {
		t.Errorf("body %q", got)
	}
	r.answer(t, j.ID, 201, [][]string{{"X-From", "worker"}, {"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"},
		{"Connection", "close"}, {"Content-Length", "4"}}, []byte("done"))
	resp := c.read("POST")
	if resp.Status != 201 || string(resp.Body) != "done" || resp.Header.Get("X-From") != "worker" ||
		len(resp.Header.Values("Set-Cookie")) != 2 || resp.Close || resp.Header.Get("Date") == "" ||
		resp.Header.Get("Via") != "1.1 edgeloop" || resp.CL != 4 {
		t.Fatalf("response %+v %q", resp, resp.Body)
	}
	// The same connection carries the next request.
	c.send("GET /jobs/next HTTP/1.1\r\nHost: h\r\n\r\n")
	j = r.mustFetch(t)
	if j.Env["PATH_INFO"] != "/next" || j.Env["CONTENT_LENGTH"] != "" || j.Body != "" {
		t.Errorf("second request env %v body %q", j.Env, j.Body)
	}
	r.answer(t, j.ID, 200, nil, []byte("again"))
	if got := bodyOf(t, c.read("GET"), 200); got != "again" {
		t.Fatalf("second body %q", got)
	}
	s := r.q.Stats()
	if s.Enqueued != 2 || s.Answered != 2 || s.Queued != 0 || s.Leased != 0 {
		t.Fatalf("stats %+v", s)
	}
	r.p.waitStats(t, eventloop.Stats{ClientSuccess: 2})
}

// A chunked request body reaches the worker whole and without framing;
// pipelined requests are answered in order, one after the other.
func TestPullChunkedAndPipelined(t *testing.T) {
	r := startPull(t, queue.Config{}, eventloop.Options{})
	c := dial(t, r.p.Addr)
	data := pattern(10000, 1)
	c.send("POST /jobs/up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + string(chunk(data, 3000)) +
		"GET /jobs/1 HTTP/1.1\r\nHost: h\r\n\r\nGET /jobs/2 HTTP/1.1\r\nHost: h\r\n\r\n")
	j := r.mustFetch(t)
	if got := b64(t, j.Body); !bytes.Equal(got, data) || j.Env["CONTENT_LENGTH"] != "10000" {
		t.Fatalf("chunked body: %d bytes, CONTENT_LENGTH %q", len(got), j.Env["CONTENT_LENGTH"])
	}
	if _, ok := j.Env["HTTP_TRANSFER_ENCODING"]; ok {
		t.Error("env keeps Transfer-Encoding")
	}
	// Only one request of a connection is queued at a time.
	if next := r.fetch(t, 100*time.Millisecond); next != nil {
		t.Fatalf("a pipelined request was queued before the first was answered: %v", next.Env["PATH_INFO"])
	}
	r.answer(t, j.ID, 200, nil, []byte("up"))
	for i, path := range []string{"/1", "/2"} {
		j := r.mustFetch(t)
		if j.Env["PATH_INFO"] != path {
			t.Fatalf("request %d: PATH_INFO %q, want %q", i, j.Env["PATH_INFO"], path)
		}
		r.answer(t, j.ID, 200, nil, []byte(path))
	}
	for _, want := range []string{"up", "/1", "/2"} {
		if got := bodyOf(t, c.read("GET"), 200); got != want {
			t.Fatalf("body %q, want %q", got, want)
		}
	}
}

// Bodies over the inline size are streamed both ways: the worker GETs
// the request body raw, and posts its answer's body raw, which reaches
// an HTTP/1.1 client chunked and an HTTP/1.0 one delimited by the close.
func TestPullStreamedBodies(t *testing.T) {
	r := startPull(t, queue.Config{InlineBody: 1024}, eventloop.Options{})
	up, down := pattern(200<<10, 2), pattern(1<<20, 3)
	for _, http10 := range []bool{false, true} {
		c := dial(t, r.p.Addr)
		proto := "HTTP/1.1"
		if http10 {
			proto = "HTTP/1.0"
		}
		c.send(fmt.Sprintf("PUT /jobs/big %s\r\nHost: h\r\nContent-Length: %d\r\n\r\n", proto, len(up)) + string(up))
		j := r.mustFetch(t)
		if j.Body != "" || j.BodySize != int64(len(up)) || j.BodyURL != "/api/v1/request/"+j.ID+"/body" {
			t.Fatalf("big body offered as %q/%d/%q", j.Body[:min(len(j.Body), 20)], j.BodySize, j.BodyURL)
		}
		resp, err := http.Get(r.api + j.BodyURL)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Equal(got, up) {
			t.Fatalf("streamed request body: %d bytes, want %d", len(got), len(up))
		}
		code, msg := r.post(t, "/api/v1/response", map[string]any{"id": j.ID, "status": 200,
			"headers": [][]string{{"Content-Type", "application/octet-stream"}}, "stream": true})
		if code != 202 {
			t.Fatalf("stream head: %d %s", code, msg)
		}
		// A pipe: the body goes up in pieces, as a worker would write it.
		pr, pw := io.Pipe()
		go func() {
			for b := down; len(b) > 0; b = b[min(len(b), 50000):] {
				pw.Write(b[:min(len(b), 50000)])
			}
			pw.Close()
		}()
		req, _ := http.NewRequest("POST", r.api+"/api/v1/response/"+j.ID, pr)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msgb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("stream body: %d %s", resp.StatusCode, msgb)
		}
		out := c.read("PUT")
		if out.Status != 200 || !bytes.Equal(out.Body, down) {
			t.Fatalf("%s: status %d, %d body bytes, want %d", proto, out.Status, len(out.Body), len(down))
		}
		if chunked := len(out.TE) == 1 && out.TE[0] == "chunked"; chunked == http10 || out.Close != http10 {
			t.Fatalf("%s: TE %v, close %v", proto, out.TE, out.Close)
		}
		if http10 {
			c.expectClosed()
		}
	}
}

// A full queue answers 503 with Retry-After; a request no worker fetches
// in time gets 504.
func TestPullFullAndNoWorker(t *testing.T) {
	r := startPull(t, queue.Config{Len: 2, Timeout: 300 * time.Millisecond}, eventloop.Options{})
	var cs []*client
	for i := range 2 {
		c := dial(t, r.p.Addr)
		c.send(fmt.Sprintf("GET /jobs/%d HTTP/1.1\r\nHost: h\r\n\r\n", i))
		cs = append(cs, c)
	}
	deadline := time.Now().Add(ioTimeout)
	for r.q.Stats().Queued < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	c := dial(t, r.p.Addr)
	c.send("GET /jobs/x HTTP/1.1\r\nHost: h\r\n\r\n")
	full := c.expectStatus("GET", 503)
	if full.Header.Get("Retry-After") == "" || !full.Close {
		t.Fatalf("503 without Retry-After or close: %v", full.Header)
	}
	for _, c := range cs {
		c.expectStatus("GET", 504)
		c.expectClosed()
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Fatalf("504 after %v, before the queue timeout", waited)
	}
	if s := r.q.Stats(); s.Full != 1 || s.TimedOut != 2 || s.Queued != 0 {
		t.Fatalf("stats %+v", s)
	}
	r.p.waitStats(t, eventloop.Stats{ClientFailed: 3})
}

// A worker that fetches and dies: an idempotent request goes to another
// worker once; a POST gets 504, and the late answer is refused.
func TestPullLeaseExpires(t *testing.T) {
	r := startPull(t, queue.Config{Lease: 300 * time.Millisecond}, eventloop.Options{})
	get := dial(t, r.p.Addr)
	get.send("GET /jobs/again HTTP/1.1\r\nHost: h\r\n\r\n")
	first := r.mustFetch(t) // and never answered
	second := r.mustFetch(t)
	if second.ID != first.ID || second.Env["PATH_INFO"] != "/again" {
		t.Fatalf("requeued %q %v, want %q", second.ID, second.Env["PATH_INFO"], first.ID)
	}
	r.answer(t, second.ID, 200, nil, []byte("second worker"))
	if got := bodyOf(t, get.read("GET"), 200); got != "second worker" {
		t.Fatalf("body %q", got)
	}

	post := dial(t, r.p.Addr)
	post.send("POST /jobs/once HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx")
	j := r.mustFetch(t)
	post.expectStatus("POST", 504)
	if code, _ := r.post(t, "/api/v1/response", map[string]any{"id": j.ID, "status": 200}); code != 404 {
		t.Fatalf("late answer: %d, want 404", code)
	}
	if again := r.fetch(t, 400*time.Millisecond); again != nil {
		t.Fatalf("the POST was queued again: %v", again.Env)
	}
	if s := r.q.Stats(); s.Expired != 2 || s.Requeued != 1 || s.Answered != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// A client that leaves cancels its request, queued or leased.
func TestPullClientGone(t *testing.T) {
	r := startPull(t, queue.Config{}, eventloop.Options{})
	c := dial(t, r.p.Addr)
	c.send("GET /jobs/gone HTTP/1.1\r\nHost: h\r\n\r\n")
	waitFor(t, func() bool { return r.q.Stats().Queued == 1 })
	c.c.Close()
	waitFor(t, func() bool { return r.q.Stats().Cancelled == 1 })
	if j := r.fetch(t, 100*time.Millisecond); j != nil {
		t.Fatalf("a cancelled request was handed out: %v", j.Env)
	}

	c = dial(t, r.p.Addr)
	c.send("POST /jobs/gone HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
	j := r.mustFetch(t)
	c.c.Close()
	waitFor(t, func() bool { return r.q.Stats().Cancelled == 2 })
	if code, _ := r.post(t, "/api/v1/response", map[string]any{"id": j.ID, "status": 200}); code != 404 {
		t.Fatalf("answer for a gone client: %d, want 404", code)
	}
	if s := r.q.Stats(); s.BodyBytes != 0 || s.Leased != 0 {
		t.Fatalf("stats %+v", s)
	}
	r.p.waitStats(t, eventloop.Stats{ClientFailed: 2})
}

// A worker's bad answer is refused and changes nothing: the right one
// that follows reaches the client once, with nothing injected.
func TestPullBadAnswer(t *testing.T) {
	r := startPull(t, queue.Config{}, eventloop.Options{})
	c := dial(t, r.p.Addr)
	c.send("GET /jobs/x HTTP/1.1\r\nHost: h\r\n\r\n")
	j := r.mustFetch(t)
	for _, bad := range []any{
		map[string]any{"id": j.ID, "status": 200, "headers": [][]string{{"X-A", "1\r\nSet-Cookie: evil=1"}}},
		map[string]any{"id": j.ID, "status": 200, "headers": [][]string{{"X A", "1"}}},
		map[string]any{"id": j.ID, "status": 101},
		map[string]any{"id": j.ID, "status": 200, "body": "not base64!"},
		map[string]any{"id": j.ID, "status": 200, "bodyy": ""},
		[]byte(`{"id": "` + j.ID + `", "status": 200`),
	} {
		if code, msg := r.post(t, "/api/v1/response", bad); code != 400 || !strings.Contains(msg, `"error"`) {
			t.Errorf("%v: %d %s, want 400 with a JSON error", bad, code, msg)
		}
	}
	r.answer(t, j.ID, 200, [][]string{{"X-A", "1"}}, []byte("fine"))
	resp := c.read("GET")
	if resp.Status != 200 || string(resp.Body) != "fine" || resp.Header.Get("Set-Cookie") != "" {
		t.Fatalf("response %+v %q", resp, resp.Body)
	}
	if s := r.q.Stats(); s.Answered != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// Body limits: one request's cap is 413, the pool's budget 503; Expect:
// 100-continue is answered by the proxy, which reads the body itself.
func TestPullBodyLimits(t *testing.T) {
	r := startPull(t, queue.Config{MaxBody: 1000, BodyBudget: 1500}, eventloop.Options{})
	c := dial(t, r.p.Addr)
	c.send("POST /jobs/big HTTP/1.1\r\nHost: h\r\nContent-Length: 1001\r\n\r\n")
	c.expectStatus("POST", 413)
	c = dial(t, r.p.Addr)
	c.send("POST /jobs/big HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + string(chunk(pattern(1200, 4), 500)))
	c.expectStatus("POST", 413)

	a := dial(t, r.p.Addr)
	a.send("POST /jobs/a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 900\r\n\r\n")
	if head := a.readHead(); !strings.HasPrefix(head, "HTTP/1.1 100 ") {
		t.Fatalf("no 100 Continue: %q", head)
	}
	a.send(string(pattern(900, 5)))
	waitFor(t, func() bool { return r.q.Stats().Queued == 1 })
	b := dial(t, r.p.Addr)
	b.send("POST /jobs/b HTTP/1.1\r\nHost: h\r\nContent-Length: 900\r\n\r\n" + string(pattern(900, 6)))
	b.expectStatus("POST", 503) // 1800 bytes would pass the 1500 budget
	j := r.mustFetch(t)
	if got := b64(t, j.Body); !bytes.Equal(got, pattern(900, 5)) {
		t.Fatal("body after 100-continue differs")
	}
	r.answer(t, j.ID, 204, nil, nil)
	resp := a.read("POST")
	if resp.Status != 204 || len(resp.Body) != 0 {
		t.Fatalf("response %+v", resp)
	}
	waitFor(t, func() bool { return r.q.Stats().BodyBytes == 0 })
}

// HEAD: the worker's body is not sent, its length is.
func TestPullHead(t *testing.T) {
	r := startPull(t, queue.Config{}, eventloop.Options{})
	c := dial(t, r.p.Addr)
	c.send("HEAD /jobs/h HTTP/1.1\r\nHost: h\r\n\r\n")
	j := r.mustFetch(t)
	r.answer(t, j.ID, 200, nil, []byte("twelve bytes"))
	head := c.readHead()
	if !strings.Contains(head, "Content-Length: 12\r\n") {
		t.Fatalf("head %q", head)
	}
	c.send("GET /jobs/next HTTP/1.1\r\nHost: h\r\n\r\n") // nothing stray between
	j = r.mustFetch(t)
	r.answer(t, j.ID, 200, nil, []byte("ok"))
	if got := bodyOf(t, c.read("GET"), 200); got != "ok" {
		t.Fatalf("after HEAD: %q", got)
	}
}

// A client that does not read holds a streaming worker back: the worker's
// upload does not finish while the client reads nothing, and every byte
// arrives once it reads.
func TestPullStreamBackpressure(t *testing.T) {
	r := startPull(t, queue.Config{InlineBody: 1024}, eventloop.Options{})
	c := dial(t, r.p.Addr)
	c.send("GET /jobs/huge HTTP/1.1\r\nHost: h\r\n\r\n")
	j := r.mustFetch(t)
	if code, msg := r.post(t, "/api/v1/response", map[string]any{"id": j.ID, "status": 200, "stream": true}); code != 202 {
		t.Fatalf("%d %s", code, msg)
	}
	const size = 48 << 20 // well past what loopback socket buffers hold
	data := pattern(size, 7)
	done := make(chan int, 1)
	go func() {
		resp, err := http.Post(r.api+"/api/v1/response/"+j.ID, "application/octet-stream", bytes.NewReader(data))
		if err != nil {
			done <- -1
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	select {
	case code := <-done:
		t.Fatalf("the upload finished (%d) while the client read nothing", code)
	case <-time.After(700 * time.Millisecond):
	}
	c.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("framing %v", resp.TransferEncoding)
	}
	got, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes (%v), want %d", len(got), err, size)
	}
	if code := <-done; code != 200 {
		t.Fatalf("upload: %d", code)
	}
}

// Many requests through several workers: every one answered once, with
// its own answer; none lost, none twice.
func TestPullLoad(t *testing.T) {
	r := startPull(t, queue.Config{}, eventloop.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]int{}
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "GET", r.api+"/api/v1/request?wait=1s", nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					continue
				}
				var j job
				err = json.NewDecoder(resp.Body).Decode(&j)
				resp.Body.Close()
				if resp.StatusCode != 200 || err != nil {
					continue
				}
				mu.Lock()
				seen[j.Env["PATH_INFO"]]++
				mu.Unlock()
				b, _ := json.Marshal(map[string]any{"id": j.ID, "status": 200,
					"body": base64.StdEncoding.EncodeToString([]byte(j.Env["PATH_INFO"]))})
				if resp, err := http.Post(r.api+"/api/v1/response", "application/json", bytes.NewReader(b)); err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	const clients, each = 8, 60
	errs := make(chan error, clients*each)
	var cwg sync.WaitGroup
	for k := range clients {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			c, err := tryDial(r.p.Addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.c.Close()
			for i := range each {
				path := fmt.Sprintf("/%d/%d", k, i)
				if err := c.write("GET /jobs" + path + " HTTP/1.1\r\nHost: h\r\n\r\n"); err != nil {
					errs <- err
					return
				}
				resp, err := c.tryRead("GET")
				if err != nil {
					errs <- err
					return
				}
				if resp.Status != 200 || string(resp.Body) != path {
					errs <- fmt.Errorf("%s: %d %q", path, resp.Status, resp.Body)
				}
			}
		}()
	}
	cwg.Wait()
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(seen) != clients*each {
		t.Errorf("workers saw %d distinct requests, want %d", len(seen), clients*each)
	}
	for p, n := range seen {
		if n != 1 {
			t.Errorf("%s fetched %d times", p, n)
		}
	}
	if s := r.q.Stats(); s.Answered != clients*each || s.Expired != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// An answer posted with ?next= brings the worker its next request in the
// same round trip; a bad next value refuses the answer whole.
func TestPullAnswerBringsNext(t *testing.T) {
	r := startPull(t, queue.Config{}, eventloop.Options{})
	a, b := dial(t, r.p.Addr), dial(t, r.p.Addr)
	a.send("GET /jobs/a HTTP/1.1\r\nHost: h\r\n\r\n")
	j := r.mustFetch(t)
	b.send("GET /jobs/b HTTP/1.1\r\nHost: h\r\n\r\n")
	waitFor(t, func() bool { return r.q.Stats().Queued == 1 })
	answer := map[string]any{"id": j.ID, "status": 200, "body": base64.StdEncoding.EncodeToString([]byte("A"))}
	if code, msg := r.post(t, "/api/v1/response?next=forever", answer); code != 400 {
		t.Fatalf("bad next: %d %s", code, msg)
	}
	code, msg := r.post(t, "/api/v1/response?next=1s", answer)
	var next job
	if code != 200 || json.Unmarshal([]byte(msg), &next) != nil || next.Env["PATH_INFO"] != "/b" {
		t.Fatalf("answer with next: %d %s", code, msg)
	}
	if got := bodyOf(t, a.read("GET"), 200); got != "A" {
		t.Fatalf("first client: %q", got)
	}
	start := time.Now()
	code, msg = r.post(t, "/api/v1/response?next=200ms", map[string]any{"id": next.ID, "status": 200})
	if code != 204 || time.Since(start) < 150*time.Millisecond {
		t.Fatalf("answer with next on an empty queue: %d %s after %v", code, msg, time.Since(start))
	}
	b.expectStatus("GET", 200)
}

// The access log names the pull pool as the origin of a worker's answer.
func TestPullAccessLog(t *testing.T) {
	var sink syncBuffer
	r := startPull(t, queue.Config{}, eventloop.Options{AccessLog: true, Logger: slog.New(slog.NewTextHandler(&sink, nil))})
	c := dial(t, r.p.Addr)
	c.send("GET /jobs/logged HTTP/1.1\r\nHost: h\r\n\r\n")
	j := r.mustFetch(t)
	r.answer(t, j.ID, 202, nil, []byte("ok"))
	c.expectStatus("GET", 202)
	waitFor(t, func() bool { return strings.Contains(sink.String(), "msg=access") })
	for _, want := range []string{`target=/jobs/logged`, "status=202", "origin=pull:jobs"} {
		if !strings.Contains(sink.String(), want) {
			t.Errorf("access line %q lacks %q", sink.String(), want)
		}
	}
}
