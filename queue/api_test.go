package queue

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startAPI serves qs over real HTTP; its URL.
func startAPI(t *testing.T, token string, qs ...*Queue) (string, *API) {
	t.Helper()
	api := NewAPI(qs, token)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	for _, q := range qs {
		t.Cleanup(q.Close) // before srv.Close: wakes the long polls it waits for
	}
	return srv.URL, api
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

// call makes one request; hdr is name, value pairs.
func call(t *testing.T, method, url string, body io.Reader, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	return reply{resp.StatusCode, resp.Header, b}
}

func post(t *testing.T, url, body string, hdr ...string) reply {
	t.Helper()
	return call(t, http.MethodPost, url, strings.NewReader(body), hdr...)
}

// errorJSON checks r is a JSON {"error": "..."} with status want.
func errorJSON(t *testing.T, r reply, want int) string {
	t.Helper()
	if r.status != want {
		t.Errorf("status %d, want %d (body %s)", r.status, want, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	msg, ok := m["error"].(string)
	if !ok || msg == "" || len(m) != 1 {
		t.Errorf("error body %s: want exactly {\"error\": \"...\"}", r.body)
	}
	return msg
}

// job is GET /api/v1/request's 200 answer.
type job struct {
	ID       string            `json:"id"`
	Env      map[string]string `json:"env"`
	Body     *string           `json:"body"`
	BodyURL  string            `json:"body_url"`
	BodySize int64             `json:"body_size"`
	LeaseMS  int64             `json:"lease_ms"`
}

func fetchJob(t *testing.T, base, query string, hdr ...string) (job, map[string]json.RawMessage) {
	t.Helper()
	r := call(t, http.MethodGet, base+"/api/v1/request?wait=0"+query, nil, hdr...)
	if r.status != http.StatusOK {
		t.Fatalf("fetch: %d %s, want 200", r.status, r.body)
	}
	var j job
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		t.Fatalf("fetch JSON %s: %v", r.body, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatal(err)
	}
	return j, raw
}

// answer is the JSON of POST /api/v1/response.
func answer(id string, status int, headers [][]string, body []byte) string {
	m := map[string]any{"id": id, "status": status}
	if headers != nil {
		m["headers"] = headers
	}
	if body != nil {
		m["body"] = base64.StdEncoding.EncodeToString(body)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// leasedOverAPI enqueues a GET and fetches it over the API.
func leasedOverAPI(t *testing.T, q *Queue, base string) (string, *fakeClient) {
	t.Helper()
	c := newFake()
	tk := enqueue(t, q, reqOf(t, "GET", "/x", c))
	j, _ := fetchJob(t, base, "")
	if j.ID != tk.ID() {
		t.Fatalf("fetched %s, want %s", j.ID, tk.ID())
	}
	return j.ID, c
}

// answersOnce posts a correct answer for id and checks it reaches c once.
func answersOnce(t *testing.T, base, id string, c *fakeClient) {
	t.Helper()
	r := post(t, base+"/api/v1/response", answer(id, 200, [][]string{{"X-Ok", "1"}}, []byte("ok")))
	if r.status != http.StatusOK {
		t.Fatalf("correct answer: %d %s, want 200", r.status, r.body)
	}
	a := recv(t, c.answers, "Answer")
	if a.Status != 200 || string(a.Body) != "ok" || len(a.Header) != 1 {
		t.Errorf("Answer %+v", a)
	}
	c.quiet(t, "after the answer")
}

func TestAPIFetch(t *testing.T) {
	q := New(Config{Pool: "jobs"})
	base, _ := startAPI(t, "", q)
	c := newFake()
	r := newReq(t, "POST /jobs/run?x=1 HTTP/1.1\r\nHost: example.com\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n",
		[]byte("hello"), c)
	r.ScriptName = "/jobs"
	tk := enqueue(t, q, r)

	reply := call(t, http.MethodGet, base+"/api/v1/request?wait=0", nil)
	if reply.status != 200 || reply.header.Get("Content-Type") != "application/json" {
		t.Fatalf("fetch: %d %q %s", reply.status, reply.header.Get("Content-Type"), reply.body)
	}
	if cl := reply.header.Get("Content-Length"); cl != strconv.Itoa(len(reply.body)) {
		t.Errorf("Content-Length %s for %d bytes", cl, len(reply.body))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(reply.body, &raw); err != nil {
		t.Fatal(err)
	}
	if keys := slices.Sorted(maps.Keys(raw)); !slices.Equal(keys, []string{"body", "env", "id", "lease_ms"}) {
		t.Errorf("keys %v, want body env id lease_ms", keys)
	}
	var j job
	if err := json.Unmarshal(reply.body, &j); err != nil {
		t.Fatal(err)
	}
	if j.ID != tk.ID() {
		t.Errorf("id %s, want %s", j.ID, tk.ID())
	}
	if j.Body == nil {
		t.Fatal("no body")
	}
	if b, err := base64.StdEncoding.DecodeString(*j.Body); err != nil || string(b) != "hello" {
		t.Errorf("body %q: %q, %v", *j.Body, b, err)
	}
	for k, v := range map[string]string{
		"REQUEST_METHOD": "POST", "SCRIPT_NAME": "/jobs", "PATH_INFO": "/run", "QUERY_STRING": "x=1",
		"CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "5", "REMOTE_ADDR": "192.0.2.7", "SERVER_NAME": "example.com",
	} {
		if j.Env[k] != v {
			t.Errorf("env %s = %q, want %q", k, j.Env[k], v)
		}
	}
	if s := q.Stats(); s.Leased != 1 || s.Queued != 0 {
		t.Errorf("after fetch: Leased %d Queued %d", s.Leased, s.Queued)
	}

	// A bodiless request has an empty inline body.
	enqueue(t, q, reqOf(t, "GET", "/", newFake()))
	if j, _ := fetchJob(t, base, ""); j.Body == nil || *j.Body != "" || j.BodyURL != "" {
		t.Errorf("bodiless request: body %v body_url %q", j.Body, j.BodyURL)
	}

	// Empty: 204 after the wait.
	start := time.Now()
	reply = call(t, http.MethodGet, base+"/api/v1/request?wait=50ms", nil)
	if reply.status != http.StatusNoContent || len(reply.body) != 0 {
		t.Errorf("empty queue: %d %q, want 204", reply.status, reply.body)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("wait=50ms answered after %v", d)
	}
	if reply := call(t, http.MethodGet, base+"/api/v1/request?wait=0s", nil); reply.status != http.StatusNoContent {
		t.Errorf("wait=0s on empty: %d", reply.status)
	}
}

func TestAPILongPoll(t *testing.T) {
	q := New(Config{})
	base, _ := startAPI(t, "", q)
	got := make(chan reply, 1)
	go func() { got <- call(t, http.MethodGet, base+"/api/v1/request?wait=1m", nil) }()
	eventually(t, "worker waiting", func() bool { return q.Stats().Waiting == 1 })
	tk := enqueue(t, q, reqOf(t, "GET", "/", newFake()))
	r := recv(t, got, "long poll")
	var j job
	if r.status != 200 || json.Unmarshal(r.body, &j) != nil || j.ID != tk.ID() {
		t.Errorf("long poll: %d %s, want 200 with %s", r.status, r.body, tk.ID())
	}
}

// A worker that hangs up its long poll takes nothing with it.
func TestAPIFetchWorkerHangsUp(t *testing.T) {
	q := New(Config{})
	base, _ := startAPI(t, "", q)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/request?wait=1m", nil)
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	eventually(t, "worker waiting", func() bool { return q.Stats().Waiting == 1 })
	cancel()
	if err := recv(t, done, "cancelled call"); err == nil {
		t.Error("cancelled call succeeded")
	}
	eventually(t, "poll ended", func() bool { return q.Stats().Waiting == 0 })
	tk := enqueue(t, q, reqOf(t, "GET", "/", newFake()))
	if s := q.Stats(); s.Queued != 1 || s.Leased != 0 {
		t.Errorf("after the hang-up: Queued %d Leased %d, want 1 0", s.Queued, s.Leased)
	}
	if j, _ := fetchJob(t, base, ""); j.ID != tk.ID() {
		t.Errorf("got %s", j.ID)
	}
}

// flushFails is a ResponseWriter whose connection broke: the answer never
// reached the worker.
type flushFails struct {
	h      http.Header
	status int
	buf    bytes.Buffer
}

func (w *flushFails) Header() http.Header         { return w.h }
func (w *flushFails) WriteHeader(s int)           { w.status = s }
func (w *flushFails) Write(p []byte) (int, error) { return w.buf.Write(p) }
func (w *flushFails) FlushError() error           { return errors.New("broken pipe") }

func TestAPIFetchUndeliveredGivenBack(t *testing.T) {
	q := New(Config{})
	api := NewAPI([]*Queue{q}, "")
	a := enqueue(t, q, reqOf(t, "GET", "/a", newFake()))
	b := enqueue(t, q, reqOf(t, "GET", "/b", newFake()))
	w := &flushFails{h: http.Header{}}
	api.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/v1/request?wait=0", nil))
	if w.status != 200 || !strings.Contains(w.buf.String(), a.ID()) {
		t.Fatalf("fetch: %d %s", w.status, w.buf.String())
	}
	if s := q.Stats(); s.Queued != 2 || s.Leased != 0 {
		t.Errorf("undelivered fetch: Queued %d Leased %d, want 2 0", s.Queued, s.Leased)
	}
	if f := mustFetch(t, q, "w"); f.ID != a.ID() {
		t.Errorf("fetched %s, want a back at the head (b is %s)", f.ID, b.ID())
	}
}

func TestAPIFetchBodyURL(t *testing.T) {
	q := New(Config{InlineBody: 8})
	base, _ := startAPI(t, "", q)
	body := make([]byte, 100)
	for i := range body {
		body[i] = byte(i * 7)
	}
	enqueue(t, q, newReq(t, "PUT /big HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n", body, newFake()))
	j, raw := fetchJob(t, base, "")
	if j.BodyURL != "/api/v1/request/"+j.ID+"/body" || j.BodySize != 100 {
		t.Errorf("body_url %q body_size %d", j.BodyURL, j.BodySize)
	}
	if b, ok := raw["body"]; ok {
		t.Errorf("body %s alongside body_url", b)
	}
	r := call(t, http.MethodGet, base+j.BodyURL, nil)
	if r.status != 200 || !bytes.Equal(r.body, body) {
		t.Errorf("GET body_url: %d, %d bytes, want 200 and the body", r.status, len(r.body))
	}
	if ct := r.header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("body Content-Type %q", ct)
	}
	if j.Env["CONTENT_LENGTH"] != "100" {
		t.Errorf("CONTENT_LENGTH %q", j.Env["CONTENT_LENGTH"])
	}

	// At exactly InlineBody it is inline.
	enqueue(t, q, newReq(t, "PUT /small HTTP/1.1\r\nHost: h\r\nContent-Length: 8\r\n\r\n", []byte("12345678"), newFake()))
	if j2, _ := fetchJob(t, base, ""); j2.BodyURL != "" || j2.Body == nil || *j2.Body != base64.StdEncoding.EncodeToString([]byte("12345678")) {
		t.Errorf("8-byte body with InlineBody 8: body %v body_url %q", j2.Body, j2.BodyURL)
	}

	errorJSON(t, call(t, http.MethodGet, base+"/api/v1/request/0123456789abcdef/body", nil), 404)

	// Answered: its body is gone.
	if r := post(t, base+"/api/v1/response", answer(j.ID, 200, nil, nil)); r.status != 200 {
		t.Fatalf("answer: %d %s", r.status, r.body)
	}
	errorJSON(t, call(t, http.MethodGet, base+j.BodyURL, nil), 404)
}

func TestAPIRespond(t *testing.T) {
	q := New(Config{})
	base, _ := startAPI(t, "", q)
	id, c := leasedOverAPI(t, q, base)
	headers := [][]string{
		{"Content-Type", "text/plain"}, {"Connection", "close"}, {"X-B", "2"}, {"Transfer-Encoding", "chunked"},
		{"Content-Length", "5"}, {"Keep-Alive", "timeout=5"}, {"X-A", "1"}, {"x-b", "3"}, {"Upgrade", "h2c"},
		{"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}, {"X-Empty", ""}, {"X-Tab", "a\tb"},
	}
	r := post(t, base+"/api/v1/response", answer(id, 201, headers, []byte("hello")))
	if r.status != 200 {
		t.Fatalf("respond: %d %s", r.status, r.body)
	}
	var ok struct {
		ID        string `json:"id"`
		Delivered bool   `json:"delivered"`
	}
	if err := json.Unmarshal(r.body, &ok); err != nil || ok.ID != id || !ok.Delivered {
		t.Errorf("respond JSON %s", r.body)
	}
	a := recv(t, c.answers, "Answer")
	want := [][2]string{{"Content-Type", "text/plain"}, {"X-B", "2"}, {"X-A", "1"}, {"x-b", "3"},
		{"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}, {"X-Empty", ""}, {"X-Tab", "a\tb"}}
	if a.Status != 201 || string(a.Body) != "hello" || a.ContentLength != -1 || a.Stream || !slices.Equal(a.Header, want) {
		t.Errorf("Answer %+v, want 201 %q body hello ContentLength -1", a, want)
	}
	if s := q.Stats(); s.Answered != 1 || s.Leased != 0 {
		t.Errorf("after answer: %+v", s)
	}
	if w, ok := workerRow(q, "127.0.0.1"); !ok || w.Answered != 1 || w.Fetched != 1 {
		t.Errorf("worker row %+v", w)
	}
	errorJSON(t, post(t, base+"/api/v1/response", answer(id, 200, nil, nil)), 404)
	c.quiet(t, "after a second answer")

	// No headers, no body.
	id, c = leasedOverAPI(t, q, base)
	if r := post(t, base+"/api/v1/response", `{"id":"`+id+`","status":500}`); r.status != 200 {
		t.Fatalf("bare answer: %d %s", r.status, r.body)
	}
	if a := recv(t, c.answers, "Answer"); a.Status != 500 || len(a.Body) != 0 || len(a.Header) != 0 || a.ContentLength != -1 {
		t.Errorf("bare Answer %+v", a)
	}
	// body null is no body.
	id, c = leasedOverAPI(t, q, base)
	if r := post(t, base+"/api/v1/response", `{"id":"`+id+`","status":200,"body":null,"headers":null}`); r.status != 200 {
		t.Fatalf("null body: %d %s", r.status, r.body)
	}
	recv(t, c.answers, "Answer")
}

func TestAPIStream(t *testing.T) {
	q := New(Config{})
	base, _ := startAPI(t, "", q)
	id, c := leasedOverAPI(t, q, base)
	r := post(t, base+"/api/v1/response", `{"id":"`+id+`","status":200,"stream":true,"headers":[["Content-Type","text/plain"],["Content-Length","11"]]}`)
	if r.status != http.StatusAccepted {
		t.Fatalf("stream head: %d %s, want 202", r.status, r.body)
	}
	var acc map[string]string
	if err := json.Unmarshal(r.body, &acc); err != nil || acc["id"] != id || acc["body_url"] != "/api/v1/response/"+id {
		t.Errorf("202 JSON %s", r.body)
	}
	a := recv(t, c.answers, "stream head")
	if !a.Stream || a.Status != 200 || len(a.Body) != 0 || !slices.Equal(a.Header, [][2]string{{"Content-Type", "text/plain"}}) {
		t.Errorf("stream head Answer %+v", a)
	}

	// A second head: 409, and the stream still works.
	errorJSON(t, post(t, base+"/api/v1/response", `{"id":"`+id+`","status":200,"stream":true}`), 409)
	errorJSON(t, post(t, base+"/api/v1/response", answer(id, 200, nil, []byte("x"))), 409)

	pr, pw := io.Pipe()
	done := make(chan reply, 1)
	go func() { done <- call(t, http.MethodPost, base+"/api/v1/response/"+id, pr) }() // chunked: no length
	if _, err := pw.Write([]byte("hello ")); err != nil {
		t.Fatal(err)
	}
	if p := recv(t, c.writes, "first piece"); string(p) != "hello " {
		t.Errorf("first piece %q", p)
	}
	if _, err := pw.Write([]byte("world")); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	r = recv(t, done, "stream POST")
	if r.status != 200 {
		t.Fatalf("stream body: %d %s", r.status, r.body)
	}
	var res struct {
		ID        string `json:"id"`
		Delivered bool   `json:"delivered"`
		Bytes     int64  `json:"bytes"`
	}
	if err := json.Unmarshal(r.body, &res); err != nil || res.ID != id || !res.Delivered || res.Bytes != 11 {
		t.Errorf("stream JSON %s", r.body)
	}
	if got := c.written(); got != "world" {
		t.Errorf("rest written %q, want world", got)
	}
	if !recv(t, c.ends, "End") {
		t.Error("End(false)")
	}
	c.quiet(t, "after the stream")
	if s := q.Stats(); s.Answered != 1 || s.Leased != 0 {
		t.Errorf("after stream: %+v", s)
	}
	errorJSON(t, post(t, base+"/api/v1/response/"+id, "more"), 404)
}

func TestAPIStreamClientGone(t *testing.T) {
	q := New(Config{})
	base, _ := startAPI(t, "", q)
	id, c := leasedOverAPI(t, q, base)
	if r := post(t, base+"/api/v1/response", `{"id":"`+id+`","status":200,"stream":true}`); r.status != 202 {
		t.Fatalf("stream head: %d %s", r.status, r.body)
	}
	recv(t, c.answers, "head")
	c.failWrite.Store(true)
	errorJSON(t, post(t, base+"/api/v1/response/"+id, "data"), 404)
	if recv(t, c.ends, "End") {
		t.Error("End(true) to a gone client")
	}
}

func TestAPIStreamHeadOnly(t *testing.T) {
	q := New(Config{})
	base, _ := startAPI(t, "", q)
	id, c := leasedOverAPI(t, q, base)
	if r := post(t, base+"/api/v1/response", `{"id":"`+id+`","status":200,"stream":true}`); r.status != 202 {
		t.Fatalf("stream head: %d %s", r.status, r.body)
	}
	recv(t, c.answers, "head")
	// An empty body posted: a whole, empty body.
	r := post(t, base+"/api/v1/response/"+id, "")
	if r.status != 200 {
		t.Fatalf("empty stream: %d %s", r.status, r.body)
	}
	if !recv(t, c.ends, "End") {
		t.Error("End(false) for an empty body")
	}
	c.quiet(t, "after an empty stream")
}

// Bad input is refused with a 4xx and a JSON error, and changes nothing:
// the request stays leased and a correct answer afterwards reaches its
// client exactly once.
func TestAPIBadInput(t *testing.T) {
	q := New(Config{})
	base, _ := startAPI(t, "", q)
	limit := int(1<<20 + 4*q.Config().InlineBody/3)
	const ok = `"id":"{ID}","status":200`
	cases := []struct {
		name   string
		method string // POST without
		path   string // /api/v1/response without
		body   string
		status int
		allow  string
	}{
		{name: "malformed JSON", body: `{` + ok, status: 400},
		{name: "empty", body: ``, status: 400},
		{name: "not an object", body: `[1,2]`, status: 400},
		{name: "trailing object", body: `{` + ok + `} {}`, status: 400},
		{name: "trailing garbage", body: `{` + ok + `}x`, status: 400},
		{name: "second answer", body: `{` + ok + `}{` + ok + `}`, status: 400},
		{name: "unknown field", body: `{` + ok + `,"bogus":1}`, status: 400},
		{name: "missing id", body: `{"status":200}`, status: 400},
		{name: "empty id", body: `{"id":"","status":200}`, status: 400},
		{name: "id not a string", body: `{"id":1,"status":200}`, status: 400},
		{name: "missing status", body: `{"id":"{ID}"}`, status: 400},
		{name: "status 99", body: `{"id":"{ID}","status":99}`, status: 400},
		{name: "status 100", body: `{"id":"{ID}","status":100}`, status: 400},
		{name: "status 199", body: `{"id":"{ID}","status":199}`, status: 400},
		{name: "status 600", body: `{"id":"{ID}","status":600}`, status: 400},
		{name: "status a string", body: `{"id":"{ID}","status":"200"}`, status: 400},
		{name: "header of one", body: `{` + ok + `,"headers":[["X-A"]]}`, status: 400},
		{name: "header of three", body: `{` + ok + `,"headers":[["X-A","1","2"]]}`, status: 400},
		{name: "header not a list", body: `{` + ok + `,"headers":["X-A"]}`, status: 400},
		{name: "headers an object", body: `{` + ok + `,"headers":{"X-A":"1"}}`, status: 400},
		{name: "header name empty", body: `{` + ok + `,"headers":[["","1"]]}`, status: 400},
		{name: "header name with space", body: `{` + ok + `,"headers":[["X A","1"]]}`, status: 400},
		{name: "header name with colon", body: `{` + ok + `,"headers":[["X:A","1"]]}`, status: 400},
		{name: "header name with LF", body: `{` + ok + `,"headers":[["X\nA","1"]]}`, status: 400},
		{name: "header name non-ASCII", body: `{` + ok + `,"headers":[["X-é","1"]]}`, status: 400},
		{name: "value with CR", body: `{` + ok + `,"headers":[["X-A","a\rb"]]}`, status: 400},
		{name: "value with LF", body: `{` + ok + `,"headers":[["X-A","a\nSet-Cookie: x=1"]]}`, status: 400},
		{name: "value with NUL", body: `{` + ok + `,"headers":[["X-A","a\u0000b"]]}`, status: 400},
		{name: "value with DEL", body: `{` + ok + `,"headers":[["X-A","a\u007fb"]]}`, status: 400},
		{name: "body not base64", body: `{` + ok + `,"body":"!!!"}`, status: 400},
		{name: "body URL-safe base64", body: `{` + ok + `,"body":"-_-_"}`, status: 400},
		{name: "body not a string", body: `{` + ok + `,"body":[1]}`, status: 400},
		{name: "Content-Length not the body's", body: `{` + ok + `,"headers":[["Content-Length","3"]],"body":"aGVsbG8="}`, status: 400},
		{name: "Content-Length without body", body: `{` + ok + `,"headers":[["Content-Length","3"]]}`, status: 400},
		{name: "Content-Length not a number", body: `{` + ok + `,"headers":[["Content-Length","x"]]}`, status: 400},
		{name: "Content-Length negative", body: `{` + ok + `,"headers":[["Content-Length","-1"]]}`, status: 400},
		{name: "Content-Length signed", body: `{` + ok + `,"headers":[["Content-Length","+5"]],"body":"aGVsbG8="}`, status: 400},
		{name: "Content-Lengths differ", body: `{` + ok + `,"headers":[["Content-Length","5"],["content-length","6"]],"body":"aGVsbG8="}`, status: 400},
		{name: "204 with body", body: `{"id":"{ID}","status":204,"body":"aGk="}`, status: 400},
		{name: "304 with body", body: `{"id":"{ID}","status":304,"body":"aGk="}`, status: 400},
		{name: "stream with body", body: `{` + ok + `,"stream":true,"body":"aGk="}`, status: 400},
		{name: "stream of a 204", body: `{"id":"{ID}","status":204,"stream":true}`, status: 400},
		{name: "stream of a 304", body: `{"id":"{ID}","status":304,"stream":true}`, status: 400},
		{name: "unknown id", body: `{"id":"0123456789abcdef0123456789abcdef","status":200}`, status: 404},
		{name: "body before stream head", path: "/api/v1/response/{ID}", body: "data", status: 409},
		{name: "body of an unknown id", path: "/api/v1/response/0123456789abcdef", body: "data", status: 404},
		{name: "GET response", method: "GET", body: "", status: 405, allow: "POST"},
		{name: "PUT response", method: "PUT", body: `{` + ok + `}`, status: 405, allow: "POST"},
		{name: "POST request", method: "POST", path: "/api/v1/request", body: "", status: 405, allow: "GET"},
		{name: "DELETE request", method: "DELETE", path: "/api/v1/request", status: 405, allow: "GET"},
		{name: "HEAD request", method: "HEAD", path: "/api/v1/request", status: 405, allow: "GET"},
		{name: "POST request body", path: "/api/v1/request/{ID}/body", body: "x", status: 405, allow: "GET"},
		{name: "GET response id", method: "GET", path: "/api/v1/response/{ID}", status: 405, allow: "POST"},
		{name: "unknown path", method: "GET", path: "/api/v2/request", status: 404},
		{name: "request id without body", method: "GET", path: "/api/v1/request/{ID}", status: 404},
		{name: "root", method: "GET", path: "/", status: 404},
		{name: "wait abc", method: "GET", path: "/api/v1/request?wait=abc", status: 400},
		{name: "wait negative", method: "GET", path: "/api/v1/request?wait=-1s", status: 400},
		{name: "wait over max", method: "GET", path: "/api/v1/request?wait=11m", status: 400},
		{name: "wait without unit", method: "GET", path: "/api/v1/request?wait=5", status: 400},
		{name: "oversize", body: strings.Repeat(" ", limit+1), status: 413},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, c := leasedOverAPI(t, q, base)
			method, path := tc.method, tc.path
			if method == "" {
				method = http.MethodPost
			}
			if path == "" {
				path = "/api/v1/response"
			}
			path = strings.ReplaceAll(path, "{ID}", id)
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(strings.ReplaceAll(tc.body, "{ID}", id))
			}
			r := call(t, method, base+path, body)
			if method == http.MethodHead {
				if r.status != tc.status {
					t.Errorf("status %d, want %d", r.status, tc.status)
				}
			} else {
				errorJSON(t, r, tc.status)
			}
			if tc.allow != "" && r.header.Get("Allow") != tc.allow {
				t.Errorf("Allow %q, want %q", r.header.Get("Allow"), tc.allow)
			}
			c.quiet(t, "after bad input")
			if !q.Holds(id) {
				t.Fatal("the request is no longer leased")
			}
			answersOnce(t, base, id, c)
		})
	}
	if s := q.Stats(); s.Leased != 0 || s.Queued != 0 {
		t.Errorf("left over: %+v", s)
	}
}

// Data after the answer object is refused, a stray closing bracket
// included (json.Decoder.More reports false before ']' and '}'); white
// space after it is not data.
func TestAPITrailingData(t *testing.T) {
	q := New(Config{})
	base, _ := startAPI(t, "", q)
	for _, tail := range []string{"]", "}", "}}", "]]", ",", "null", `""`} {
		id, c := leasedOverAPI(t, q, base)
		r := post(t, base+"/api/v1/response", `{"id":"`+id+`","status":200}`+tail)
		if r.status != 400 {
			t.Errorf("answer followed by %q: %d, want 400", tail, r.status)
			recv(t, c.answers, "Answer")
			continue
		}
		errorJSON(t, r, 400)
		c.quiet(t, "refused answer")
		answersOnce(t, base, id, c)
	}
	for _, tail := range []string{"\n", " \r\n\t "} {
		id, c := leasedOverAPI(t, q, base)
		if r := post(t, base+"/api/v1/response", `{"id":"`+id+`","status":200}`+tail); r.status != 200 {
			t.Errorf("answer followed by %q: %d %s, want 200", tail, r.status, r.body)
			continue
		}
		recv(t, c.answers, "Answer")
	}
}

func TestAPIWaitParamLeavesQueue(t *testing.T) {
	q := New(Config{})
	base, _ := startAPI(t, "", q)
	tk := enqueue(t, q, reqOf(t, "GET", "/", newFake()))
	for _, w := range []string{"abc", "-1s", "11m", "1h"} {
		errorJSON(t, call(t, http.MethodGet, base+"/api/v1/request?wait="+w, nil), 400)
	}
	if s := q.Stats(); s.Queued != 1 || s.Leased != 0 {
		t.Errorf("after bad waits: Queued %d Leased %d", s.Queued, s.Leased)
	}
	// The longest wait allowed; with a request queued it answers at once.
	r := call(t, http.MethodGet, base+"/api/v1/request?wait=10m", nil)
	var j job
	if r.status != 200 || json.Unmarshal(r.body, &j) != nil || j.ID != tk.ID() {
		t.Errorf("wait=10m: %d %s", r.status, r.body)
	}
}

func TestAPIHeadAndNoBodyStatuses(t *testing.T) {
	q := New(Config{})
	base, _ := startAPI(t, "", q)
	leased := func(method string) (string, *fakeClient) {
		c := newFake()
		enqueue(t, q, reqOf(t, method, "/", c))
		j, _ := fetchJob(t, base, "")
		return j.ID, c
	}
	respond := func(id, body string, want int) {
		t.Helper()
		if r := post(t, base+"/api/v1/response", body); r.status != want {
			t.Fatalf("%s: %d %s, want %d", body, r.status, r.body, want)
		}
	}

	// HEAD answered with the GET's body: no body, its length kept.
	id, c := leased("HEAD")
	respond(id, answer(id, 200, [][]string{{"Content-Type", "text/plain"}}, []byte("hello")), 200)
	if a := recv(t, c.answers, "HEAD answer"); a.Body != nil || a.ContentLength != 5 ||
		!slices.Equal(a.Header, [][2]string{{"Content-Type", "text/plain"}}) {
		t.Errorf("HEAD Answer %+v, want no body and ContentLength 5", a)
	}
	// HEAD with a Content-Length and no body.
	id, c = leased("HEAD")
	respond(id, answer(id, 200, [][]string{{"Content-Length", "1234"}}, nil), 200)
	if a := recv(t, c.answers, "HEAD answer"); a.Body != nil || a.ContentLength != 1234 || len(a.Header) != 0 {
		t.Errorf("HEAD Answer %+v, want ContentLength 1234", a)
	}
	// HEAD with a Content-Length other than its body's: the field wins.
	id, c = leased("HEAD")
	respond(id, answer(id, 200, [][]string{{"Content-Length", "10"}}, []byte("hi")), 200)
	if a := recv(t, c.answers, "HEAD answer"); a.Body != nil || a.ContentLength != 10 {
		t.Errorf("HEAD Answer %+v, want ContentLength 10", a)
	}
	// HEAD, nothing said about length.
	id, c = leased("HEAD")
	respond(id, answer(id, 200, nil, nil), 200)
	if a := recv(t, c.answers, "HEAD answer"); a.Body != nil || a.ContentLength != -1 {
		t.Errorf("HEAD Answer %+v, want ContentLength -1", a)
	}
	// HEAD cannot stream.
	id, c = leased("HEAD")
	errorJSON(t, post(t, base+"/api/v1/response", `{"id":"`+id+`","status":200,"stream":true}`), 400)
	c.quiet(t, "refused HEAD stream")
	respond(id, answer(id, 200, nil, nil), 200)
	recv(t, c.answers, "HEAD answer")

	// 304 keeps its Content-Length.
	id, c = leased("GET")
	respond(id, answer(id, 304, [][]string{{"ETag", `"x"`}, {"Content-Length", "10"}}, nil), 200)
	if a := recv(t, c.answers, "304 answer"); a.Status != 304 || a.Body != nil || a.ContentLength != 10 ||
		!slices.Equal(a.Header, [][2]string{{"ETag", `"x"`}}) {
		t.Errorf("304 Answer %+v, want ContentLength 10", a)
	}
	// 204 does not.
	id, c = leased("GET")
	respond(id, answer(id, 204, [][]string{{"Content-Length", "0"}}, nil), 200)
	if a := recv(t, c.answers, "204 answer"); a.Status != 204 || len(a.Body) != 0 || a.ContentLength != -1 || len(a.Header) != 0 {
		t.Errorf("204 Answer %+v, want ContentLength -1", a)
	}
	// An empty body is no body for a 204.
	id, c = leased("GET")
	respond(id, `{"id":"`+id+`","status":204,"body":""}`, 200)
	recv(t, c.answers, "204 answer")
	// A GET's Content-Length matching its body is dropped.
	id, c = leased("GET")
	respond(id, answer(id, 200, [][]string{{"Content-Length", "2"}, {"content-length", "2"}}, []byte("hi")), 200)
	if a := recv(t, c.answers, "GET answer"); a.ContentLength != -1 || string(a.Body) != "hi" || len(a.Header) != 0 {
		t.Errorf("GET Answer %+v", a)
	}
	// A stream may declare its length; the field is dropped.
	id, c = leased("GET")
	respond(id, `{"id":"`+id+`","status":200,"stream":true,"headers":[["Content-Length","3"]]}`, 202)
	if a := recv(t, c.answers, "stream head"); !a.Stream || len(a.Header) != 0 || a.ContentLength != -1 {
		t.Errorf("stream head %+v", a)
	}
}

func TestAPIPools(t *testing.T) {
	qa, qb := New(Config{Pool: "a"}), New(Config{Pool: "b"})
	base, _ := startAPI(t, "", qa, qb)
	cb := newFake()
	tb := enqueue(t, qb, reqOf(t, "GET", "/b", cb))
	ta := enqueue(t, qa, reqOf(t, "GET", "/a", newFake()))

	errorJSON(t, call(t, http.MethodGet, base+"/api/v1/request?wait=0", nil), 400)
	errorJSON(t, call(t, http.MethodGet, base+"/api/v1/request?wait=0&pool=nope", nil), 404)
	if s := qa.Stats(); s.Queued != 1 {
		t.Errorf("pool a: Queued %d after refused fetches", s.Queued)
	}
	j, _ := fetchJob(t, base, "&pool=b")
	if j.ID != tb.ID() {
		t.Fatalf("?pool=b fetched %s, want b's %s", j.ID, tb.ID())
	}
	if s := qa.Stats(); s.Queued != 1 || s.Leased != 0 {
		t.Errorf("pool a touched: %+v", s)
	}
	// Answers and bodies need no pool: the id finds its queue.
	if r := post(t, base+"/api/v1/response", answer(j.ID, 200, nil, []byte("b"))); r.status != 200 {
		t.Fatalf("answer to b: %d %s", r.status, r.body)
	}
	if a := recv(t, cb.answers, "b's answer"); string(a.Body) != "b" {
		t.Errorf("b's Answer %+v", a)
	}
	if s := qb.Stats(); s.Answered != 1 {
		t.Errorf("pool b Answered %d", s.Answered)
	}
	if j, _ := fetchJob(t, base, "&pool=a"); j.ID != ta.ID() {
		t.Errorf("?pool=a fetched %s", j.ID)
	}
	if r := call(t, http.MethodGet, base+"/api/v1/request?wait=0&pool=b", nil); r.status != 204 {
		t.Errorf("empty pool b: %d", r.status)
	}
}

func TestAPIOnePoolByName(t *testing.T) {
	q := New(Config{Pool: "only"})
	base, _ := startAPI(t, "", q)
	enqueue(t, q, reqOf(t, "GET", "/", newFake()))
	enqueue(t, q, reqOf(t, "GET", "/", newFake()))
	fetchJob(t, base, "")
	fetchJob(t, base, "&pool=only")
	errorJSON(t, call(t, http.MethodGet, base+"/api/v1/request?wait=0&pool=other", nil), 404)
}

func TestAPINoPools(t *testing.T) {
	base, _ := startAPI(t, "")
	errorJSON(t, call(t, http.MethodGet, base+"/api/v1/request?wait=0", nil), 404)
	errorJSON(t, call(t, http.MethodGet, base+"/api/v1/request?wait=0&pool=x", nil), 404)
	errorJSON(t, post(t, base+"/api/v1/response", `{"id":"x","status":200}`), 404)
}

func TestAPIToken(t *testing.T) {
	q := New(Config{})
	base, _ := startAPI(t, "s3cret", q)
	enqueue(t, q, reqOf(t, "GET", "/", newFake()))
	for _, auth := range []string{"", "Bearer", "Bearer ", "Bearer wrong", "Bearer s3cre", "Bearer s3cret2", "Basic s3cret", "s3cret"} {
		var hdr []string
		if auth != "" {
			hdr = []string{"Authorization", auth}
		}
		for _, path := range []string{"/api/v1/request?wait=0", "/nowhere"} {
			r := call(t, http.MethodGet, base+path, nil, hdr...)
			errorJSON(t, r, 401)
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("Authorization %q: WWW-Authenticate %q", auth, r.header.Get("WWW-Authenticate"))
			}
		}
		errorJSON(t, post(t, base+"/api/v1/response", `{"id":"x","status":200}`, hdr...), 401)
	}
	if s := q.Stats(); s.Queued != 1 {
		t.Fatalf("refused calls took the request: %+v", s)
	}
	j, _ := fetchJob(t, base, "", "Authorization", "bearer s3cret") // RFC 9110 §11.1: any case
	r := call(t, http.MethodGet, base+"/api/v1/request/"+j.ID+"/body", nil, "Authorization", "Bearer s3cret")
	if r.status != 200 {
		t.Errorf("body with token: %d", r.status)
	}
	if r := post(t, base+"/api/v1/response", answer(j.ID, 200, nil, nil), "Authorization", "Bearer s3cret"); r.status != 200 {
		t.Errorf("answer with token: %d %s", r.status, r.body)
	}
}

func TestAPIWorkerID(t *testing.T) {
	q := New(Config{})
	base, _ := startAPI(t, "", q)
	for range 2 {
		enqueue(t, q, reqOf(t, "GET", "/", newFake()))
	}
	fetchJob(t, base, "", "X-Worker-Id", "alpha-1")
	fetchJob(t, base, "")
	// Not printable or too long: the IP stands in.
	call(t, http.MethodGet, base+"/api/v1/request?wait=0", nil, "X-Worker-Id", "a b")
	call(t, http.MethodGet, base+"/api/v1/request?wait=0", nil, "X-Worker-Id", strings.Repeat("x", 65))
	call(t, http.MethodGet, base+"/api/v1/request?wait=0", nil, "X-Worker-Id", strings.Repeat("y", 64))
	ids := map[string]uint64{}
	for _, w := range q.Stats().Workers {
		ids[w.ID] = w.Fetched
	}
	want := map[string]uint64{"alpha-1": 1, "127.0.0.1": 1, strings.Repeat("y", 64): 0}
	if len(ids) != len(want) {
		t.Errorf("worker rows %v, want %v", ids, want)
	}
	for id, n := range want {
		if got, ok := ids[id]; !ok || got != n {
			t.Errorf("worker %q: fetched %d (row %v), want %d", id, got, ok, n)
		}
	}
}

func TestAPIClose(t *testing.T) {
	q := New(Config{})
	base, api := startAPI(t, "", q)
	got := make(chan reply, 1)
	start := time.Now()
	go func() { got <- call(t, http.MethodGet, base+"/api/v1/request?wait=1m", nil) }()
	eventually(t, "worker waiting", func() bool { return q.Stats().Waiting == 1 })
	api.Close()
	r := recv(t, got, "long poll woken by Close")
	if time.Since(start) > 30*time.Second {
		t.Errorf("Close did not end the long poll")
	}
	if r.status == 200 {
		t.Fatalf("long poll after Close: 200 %s", r.body)
	}
	// A closed queue answers 503 with Retry-After, so workers do not spin.
	errorJSON(t, r, http.StatusServiceUnavailable)
	if r.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	errorJSON(t, call(t, http.MethodGet, base+"/api/v1/request?wait=1m", nil), http.StatusServiceUnavailable)
	if !q.Closed() {
		t.Error("Closed() false after Close")
	}
}

// A request whose head cannot be parsed fails with 500 and the worker
// gets the next one.
func TestAPIBadHeadRejected(t *testing.T) {
	q := New(Config{})
	base, _ := startAPI(t, "", q)
	bad := newFake()
	enqueue(t, q, &Request{Head: []byte("not http\r\n\r\n"), Client: bad})
	good := enqueue(t, q, reqOf(t, "GET", "/", newFake()))
	if j, _ := fetchJob(t, base, ""); j.ID != good.ID() {
		t.Errorf("fetched %s, want the good request", j.ID)
	}
	if st := recv(t, bad.fails, "bad head"); st != 500 {
		t.Errorf("bad head: Fail(%d), want 500", st)
	}
	bad.quiet(t, "bad head")
	// Alone, it fails and the poll goes on to 204.
	bad2 := newFake()
	enqueue(t, q, &Request{Head: []byte("GET / HTTP/1.1\r\n\r\n"), Client: bad2})
	if r := call(t, http.MethodGet, base+"/api/v1/request?wait=20ms", nil); r.status != 204 {
		t.Errorf("only a bad head queued: %d %s, want 204", r.status, r.body)
	}
	if st := recv(t, bad2.fails, "bad head"); st != 500 {
		t.Errorf("Fail(%d)", st)
	}
}

// An expired lease over the API: the worker's late answer gets 404.
func TestAPILateAnswer(t *testing.T) {
	q := New(Config{Lease: 30 * time.Millisecond})
	base, _ := startAPI(t, "", q)
	c := newFake()
	enqueue(t, q, reqOf(t, "POST", "/", c))
	j, _ := fetchJob(t, base, "")
	recv(t, c.fails, "lease expiry")
	errorJSON(t, post(t, base+"/api/v1/response", answer(j.ID, 200, nil, nil)), 404)
	c.quiet(t, "late answer")
}

func TestAPIStreamNeverPosted(t *testing.T) {
	q := New(Config{Lease: 30 * time.Millisecond})
	base, _ := startAPI(t, "", q)
	id, c := leasedOverAPI(t, q, base)
	if r := post(t, base+"/api/v1/response", `{"id":"`+id+`","status":200,"stream":true}`); r.status != 202 {
		t.Fatalf("head: %d", r.status)
	}
	recv(t, c.answers, "head")
	if recv(t, c.ends, "End after lease") {
		t.Error("End(true)")
	}
	errorJSON(t, post(t, base+"/api/v1/response/"+id, "late"), 404)
}

// A worker that stops sending its streamed body for a lease loses it: the
// client sees a cut body.
func TestAPIStreamStalls(t *testing.T) {
	q := New(Config{Lease: 50 * time.Millisecond})
	base, _ := startAPI(t, "", q)
	id, c := leasedOverAPI(t, q, base)
	if r := post(t, base+"/api/v1/response", `{"id":"`+id+`","status":200,"stream":true}`); r.status != 202 {
		t.Fatalf("head: %d", r.status)
	}
	recv(t, c.answers, "head")
	pr, pw := io.Pipe()
	defer pw.Close()
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/response/"+id, pr)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	if _, err := pw.Write([]byte("part")); err != nil {
		t.Fatal(err)
	}
	recv(t, c.writes, "first part")
	if recv(t, c.ends, "End after the stall") {
		t.Error("End(true) for a stalled body")
	}
	pw.CloseWithError(errors.New("gave up"))
	recv(t, done, "stalled POST")
	if s := q.Stats(); s.Leased != 0 || s.Answered != 0 {
		t.Errorf("after stall: %+v", s)
	}
}

// POST /api/v1/response?next=D: the answer, then the next long poll.
func TestAPIRespondNext(t *testing.T) {
	q := New(Config{})
	base, _ := startAPI(t, "", q)
	id, c := leasedOverAPI(t, q, base)
	c2 := newFake()
	tk2 := enqueue(t, q, reqOf(t, "GET", "/second", c2))

	r := post(t, base+"/api/v1/response?next=0", answer(id, 200, nil, []byte("one")))
	if r.status != 200 {
		t.Fatalf("answer with next: %d %s", r.status, r.body)
	}
	if a := recv(t, c.answers, "first answer"); string(a.Body) != "one" {
		t.Errorf("first Answer %+v", a)
	}
	var j job
	if err := json.Unmarshal(r.body, &j); err != nil || j.ID != tk2.ID() || j.Env["PATH_INFO"] != "/second" || j.Body == nil {
		t.Fatalf("next job %s, want %s", r.body, tk2.ID())
	}
	// Empty queue: the answer is taken, then 204 after the wait.
	start := time.Now()
	r = post(t, base+"/api/v1/response?next=30ms", answer(j.ID, 200, nil, []byte("two")))
	if r.status != 204 {
		t.Fatalf("answer with next on empty: %d %s, want 204", r.status, r.body)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("next=30ms answered after %v", d)
	}
	if a := recv(t, c2.answers, "second answer"); string(a.Body) != "two" {
		t.Errorf("second Answer %+v", a)
	}
	if s := q.Stats(); s.Answered != 2 || s.Leased != 0 {
		t.Errorf("after: %+v", s)
	}
	if w, _ := workerRow(q, "127.0.0.1"); w.Fetched != 2 || w.Answered != 2 {
		t.Errorf("worker %+v", w)
	}

	// A bad next: refused before the answer is taken.
	id, c = leasedOverAPI(t, q, base)
	errorJSON(t, post(t, base+"/api/v1/response?next=abc", answer(id, 200, nil, nil)), 400)
	c.quiet(t, "bad next")
	if !q.Holds(id) {
		t.Fatal("bad next took the request")
	}
	// A refused answer does not poll: the queued request stays.
	tk3 := enqueue(t, q, reqOf(t, "GET", "/third", newFake()))
	errorJSON(t, post(t, base+"/api/v1/response?next=0", `{"id":"`+id+`","status":600}`), 400)
	errorJSON(t, post(t, base+"/api/v1/response?next=0", answer("0123456789abcdef0123456789abcdef", 200, nil, nil)), 404)
	if s := q.Stats(); s.Queued != 1 {
		t.Errorf("refused answers polled: Queued %d", s.Queued)
	}
	// A stream head does not poll either: its body comes next.
	r = post(t, base+"/api/v1/response?next=0", `{"id":"`+id+`","status":200,"stream":true}`)
	if r.status != 202 {
		t.Fatalf("stream head with next: %d %s", r.status, r.body)
	}
	recv(t, c.answers, "stream head")
	if s := q.Stats(); s.Queued != 1 {
		t.Errorf("stream head polled: Queued %d", s.Queued)
	}
	if r := post(t, base+"/api/v1/response/"+id, "body"); r.status != 200 {
		t.Fatalf("stream body: %d %s", r.status, r.body)
	}
	if j, _ := fetchJob(t, base, ""); j.ID != tk3.ID() {
		t.Errorf("got %s", j.ID)
	}
}

func TestAPIRespondNextPools(t *testing.T) {
	qa, qb := New(Config{Pool: "a"}), New(Config{Pool: "b"})
	base, _ := startAPI(t, "", qa, qb)
	c := newFake()
	enqueue(t, qa, reqOf(t, "GET", "/a", c))
	tb := enqueue(t, qb, reqOf(t, "GET", "/b", newFake()))
	j, _ := fetchJob(t, base, "&pool=a")
	// next without a pool among several: refused, the answer not taken.
	errorJSON(t, post(t, base+"/api/v1/response?next=0", answer(j.ID, 200, nil, nil)), 400)
	c.quiet(t, "refused")
	r := post(t, base+"/api/v1/response?next=0&pool=b", answer(j.ID, 200, nil, nil))
	var jb job
	if r.status != 200 || json.Unmarshal(r.body, &jb) != nil || jb.ID != tb.ID() {
		t.Fatalf("answer to a, next from b: %d %s", r.status, r.body)
	}
	recv(t, c.answers, "a's answer")
}

// POST /api/v1/request/{id}/lease renews a lease: a request renewed in
// time neither expires nor goes back to the queue; an unknown id is 404.
func TestAPIExtendLease(t *testing.T) {
	q := New(Config{Pool: "jobs", Lease: 150 * time.Millisecond})
	base, _ := startAPI(t, "", q)
	fc := newFake()
	enqueue(t, q, reqOf(t, "POST", "/slow", fc))
	j, _ := fetchJob(t, base, "")
	if j.LeaseMS != 150 {
		t.Fatalf("lease_ms %d, want 150", j.LeaseMS)
	}
	for range 6 { // 450 ms: three leases
		time.Sleep(75 * time.Millisecond)
		r := post(t, base+"/api/v1/request/"+j.ID+"/lease", "")
		if r.status != 200 || !bytes.Contains(r.body, []byte(`"lease_ms":150`)) {
			t.Fatalf("extend: %d %s", r.status, r.body)
		}
	}
	if s := q.Stats(); s.Expired != 0 || s.Leased != 1 {
		t.Fatalf("renewed lease: %+v", s)
	}
	if r := post(t, base+"/api/v1/response", answer(j.ID, 200, nil, []byte("ok"))); r.status != 200 {
		t.Fatalf("answer: %d %s", r.status, r.body)
	}
	if a := <-fc.answers; string(a.Body) != "ok" {
		t.Fatalf("answer %q", a.Body)
	}
	errorJSON(t, post(t, base+"/api/v1/request/"+j.ID+"/lease", ""), 404)
	errorJSON(t, post(t, base+"/api/v1/request/nope/lease", ""), 404)
	errorJSON(t, call(t, http.MethodGet, base+"/api/v1/request/nope/lease", nil), 405)
}
