package mgmt

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run when goroutines started by a test (servers,
// client connections) outlive it.
func TestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		if err := settle(before); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// settle waits up to 5 s for the goroutine count to fall back to want.
func settle(want int) error {
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			return fmt.Errorf("mgmt tests leaked goroutines: %d, want %d\n%s",
				runtime.NumGoroutine(), want, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// do sends one request to h and returns the recorded answer.
func do(t *testing.T, h http.Handler, method, path, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// wantError checks a JSON error answer: the status, the Content-Type and a
// body that is exactly {"error": "<something>"}.
func wantError(t *testing.T, status int, gotStatus int, h http.Header, body []byte) {
	t.Helper()
	if gotStatus != status {
		t.Errorf("status %d, want %d (body %s)", gotStatus, status, body)
	}
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var e map[string]any
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", body, err)
	}
	msg, ok := e["error"].(string)
	if len(e) != 1 || !ok || msg == "" {
		t.Errorf("error body %s, want {\"error\": \"...\"}", body)
	}
}

// seeded returns a fake with pools default and blue, one server in each,
// and the handler over it.
func seeded(t *testing.T) (*fake, http.Handler) {
	t.Helper()
	f := newFake("default", "blue")
	f.mustAdd(t, "default", "http://127.0.0.1:9000", 1)
	f.mustAdd(t, "blue", "http://127.0.0.1:9100", 3)
	return f, New(f, Options{})
}

// TestBadInput sends every kind of bad request of the contract and checks
// the status, the JSON error body, that state is unchanged and, for what
// this package can judge itself, that Control was not called at all.
func TestBadInput(t *testing.T) {
	const ok = `{"url":"http://127.0.0.1:9001"}`
	tests := []struct {
		name, method, path, body string
		status                   int
		reaches                  bool // Control is the one to refuse it
	}{
		{"malformed JSON", "POST", "/servers", `{not json`, 400, false},
		{"truncated JSON", "POST", "/servers", `{"url":"http://127.0.0.1:9001"`, 400, false},
		{"unknown field", "POST", "/servers", `{"nope":1}`, 400, false},
		{"unknown field beside url", "POST", "/servers", `{"url":"http://127.0.0.1:9001","extra":true}`, 400, false},
		{"missing url", "POST", "/servers", `{}`, 400, false},
		{"empty url", "POST", "/servers", `{"url":""}`, 400, false},
		{"null url", "POST", "/servers", `{"url":null}`, 400, false},
		{"url not a string", "POST", "/servers", `{"url":5}`, 400, false},
		{"null body", "POST", "/servers", `null`, 400, false},
		{"array body", "POST", "/servers", `[]`, 400, false},
		{"empty body", "POST", "/servers", ``, 400, false},
		{"trailing data", "POST", "/servers", ok + ` {}`, 400, false},
		{"trailing brace", "POST", "/servers", ok + `}`, 400, false},
		{"weight -1", "POST", "/servers", `{"url":"http://127.0.0.1:9001","weight":-1}`, 400, false},
		{"weight 1001", "POST", "/servers", `{"url":"http://127.0.0.1:9001","weight":1001}`, 400, false},
		{"weight string", "POST", "/servers", `{"url":"http://127.0.0.1:9001","weight":"x"}`, 400, false},
		{"weight 1.5", "POST", "/servers", `{"url":"http://127.0.0.1:9001","weight":1.5}`, 400, false},
		{"weight huge", "POST", "/servers", `{"url":"http://127.0.0.1:9001","weight":1e30}`, 400, false},
		{"bad body, unknown pool", "POST", "/pools/nope/servers", `{"nope":1}`, 400, false},
		{"body over 1 MiB", "POST", "/servers", `{"url":"` + strings.Repeat("a", maxBody) + `"}`, 413, false},
		{"bad URL scheme", "POST", "/servers", `{"url":"ftp://127.0.0.1:1"}`, 400, true},
		{"URL without host", "POST", "/servers", `{"url":"http://"}`, 400, true},
		{"duplicate", "POST", "/servers", `{"url":"http://127.0.0.1:9000"}`, 409, true},
		{"add to unknown pool", "POST", "/pools/nope/servers", ok, 404, true},
		{"list unknown pool", "GET", "/pools/nope/servers", ``, 404, false},
		{"delete unknown", "DELETE", "/servers/127.0.0.1/9999", ``, 404, true},
		{"delete from wrong pool", "DELETE", "/pools/blue/servers/127.0.0.1/9000", ``, 404, true},
		{"delete in unknown pool", "DELETE", "/pools/nope/servers/127.0.0.1/9000", ``, 404, true},
		{"delete port 0", "DELETE", "/servers/127.0.0.1/0", ``, 400, false},
		{"delete port 65536", "DELETE", "/servers/127.0.0.1/65536", ``, 400, false},
		{"delete port x", "DELETE", "/servers/127.0.0.1/x", ``, 400, false},
		{"delete port -1", "DELETE", "/servers/127.0.0.1/-1", ``, 400, false},
		{"delete port +80", "DELETE", "/servers/127.0.0.1/+80", ``, 400, false},
		{"patch state down", "PATCH", "/servers/127.0.0.1/9000", `{"state":"down"}`, 400, false},
		{"patch state other", "PATCH", "/servers/127.0.0.1/9000", `{"state":"asleep"}`, 400, false},
		{"patch weight 0", "PATCH", "/servers/127.0.0.1/9000", `{"weight":0}`, 400, false},
		{"patch weight 1001", "PATCH", "/servers/127.0.0.1/9000", `{"weight":1001}`, 400, false},
		{"patch weight string", "PATCH", "/servers/127.0.0.1/9000", `{"weight":"2"}`, 400, false},
		{"patch nothing", "PATCH", "/servers/127.0.0.1/9000", `{}`, 400, false},
		{"patch unknown field", "PATCH", "/servers/127.0.0.1/9000", `{"colour":"red"}`, 400, false},
		{"patch malformed", "PATCH", "/servers/127.0.0.1/9000", `{"weight":`, 400, false},
		{"patch bad port", "PATCH", "/servers/127.0.0.1/70000", `{"weight":2}`, 400, false},
		{"patch unknown", "PATCH", "/servers/127.0.0.1/9999", `{"weight":2}`, 404, true},
		{"patch in unknown pool", "PATCH", "/pools/nope/servers/127.0.0.1/9000", `{"weight":2}`, 404, true},
		{"PUT /servers", "PUT", "/servers", ok, 405, false},
		{"GET one server", "GET", "/servers/127.0.0.1/9000", ``, 405, false},
		{"POST /stats", "POST", "/stats", `{}`, 405, false},
		{"DELETE /pools", "DELETE", "/pools", ``, 405, false},
		{"POST /healthz", "POST", "/healthz", ``, 405, false},
		{"unknown path", "GET", "/nope", ``, 404, false},
		{"half a server path", "DELETE", "/servers/127.0.0.1", ``, 404, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, h := seeded(t)
			before, writes := f.snapshot(t), f.writeCount()
			rec := do(t, h, tt.method, tt.path, tt.body)
			wantError(t, tt.status, rec.Code, rec.Header(), rec.Body.Bytes())
			if after := f.snapshot(t); after != before {
				t.Errorf("state changed:\nbefore %s\nafter  %s", before, after)
			}
			if reached := f.writeCount() != writes; reached != tt.reaches {
				t.Errorf("Control called: %v, want %v", reached, tt.reaches)
			}
			if tt.status == 405 && rec.Header().Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
		})
	}
}

func TestAddServer(t *testing.T) {
	f := newFake("default", "blue")
	h := New(f, Options{})
	// Plain curl -d sends a form Content-Type: the body is JSON anyway.
	rec := do(t, h, "POST", "/servers", `{"url":"http://127.0.0.1:9001","weight":5}`,
		"Content-Type", "application/x-www-form-urlencoded")
	if rec.Code != 201 {
		t.Fatalf("status %d, want 201: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if loc := rec.Header().Get("Location"); loc != "/servers/127.0.0.1/9001" {
		t.Errorf("Location %q", loc)
	}
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": 1.0, "url": "http://127.0.0.1:9001", "ip": "127.0.0.1", "port": 9001.0,
		"pool": "default", "weight": 5.0, "state": "active", "inflight": 0.0,
	}
	if !reflect.DeepEqual(got, want) { // float64 only for JSON numbers, not strings
		t.Errorf("server object %v, want %v", got, want)
	}

	for _, tt := range []struct{ body, pool, path string }{
		{`{"url":"http://127.0.0.1:9002"}`, "default", "/servers"},
		{`{"url":"http://127.0.0.1:9003","weight":0}`, "default", "/servers"},
		{`{"url":"http://127.0.0.1:9004","weight":null}`, "blue", "/pools/blue/servers"},
	} {
		rec := do(t, h, "POST", tt.path, tt.body)
		var s ServerInfo
		if err := json.Unmarshal(rec.Body.Bytes(), &s); rec.Code != 201 || err != nil {
			t.Fatalf("%s: status %d, %v: %s", tt.body, rec.Code, err, rec.Body)
		}
		if s.Weight != 1 || s.Pool != tt.pool {
			t.Errorf("%s: weight %d pool %q, want 1 and %q", tt.body, s.Weight, s.Pool, tt.pool)
		}
		if loc, want := rec.Header().Get("Location"), tt.path+"/127.0.0.1/"+fmt.Sprint(s.Port); loc != want {
			t.Errorf("Location %q, want %q", loc, want)
		}
	}
}

func TestListServers(t *testing.T) {
	f := newFake("default", "empty")
	h := New(f, Options{})
	for _, path := range []string{"/servers", "/pools/empty/servers"} {
		rec := do(t, h, "GET", path, "")
		if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != "[]" {
			t.Errorf("GET %s on an empty pool: %d %q, want 200 []", path, rec.Code, rec.Body)
		}
	}
	f.mustAdd(t, "default", "http://127.0.0.1:9000", 1)
	f.mustAdd(t, "default", "http://[::1]:9001", 2)
	rec := do(t, h, "GET", "/servers", "")
	var list []ServerInfo
	if err := json.Unmarshal(rec.Body.Bytes(), &list); rec.Code != 200 || err != nil {
		t.Fatalf("status %d, %v: %s", rec.Code, err, rec.Body)
	}
	if len(list) != 2 || list[0].Port != 9000 || list[1].IP != "::1" || list[1].Weight != 2 {
		t.Errorf("list %+v", list)
	}
	rec = do(t, h, "GET", "/pools", "")
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `["default","empty"]` {
		t.Errorf("GET /pools: %d %s", rec.Code, rec.Body)
	}
}

func TestPatchServer(t *testing.T) {
	f, h := seeded(t)
	tests := []struct {
		path, body string
		weight     int
		state      string
	}{
		{"/servers/127.0.0.1/9000", `{"weight":7}`, 7, "active"},
		{"/servers/127.0.0.1/9000", `{"state":"draining"}`, 7, "draining"},
		{"/servers/127.0.0.1/9000", `{"state":"active","weight":1000}`, 1000, "active"},
		{"/pools/blue/servers/127.0.0.1/9100", `{"state":"draining"}`, 3, "draining"},
	}
	for _, tt := range tests {
		rec := do(t, h, "PATCH", tt.path, tt.body)
		var s ServerInfo
		if err := json.Unmarshal(rec.Body.Bytes(), &s); rec.Code != 200 || err != nil {
			t.Fatalf("PATCH %s %s: %d %v %s", tt.path, tt.body, rec.Code, err, rec.Body)
		}
		if s.Weight != tt.weight || s.State != tt.state {
			t.Errorf("PATCH %s %s: weight %d state %q, want %d %q", tt.path, tt.body, s.Weight, s.State, tt.weight, tt.state)
		}
	}
	if f.writeCount() != 2+len(tests) {
		t.Errorf("%d writes reached Control, want %d", f.writeCount(), 2+len(tests))
	}
}

func TestRemoveServer(t *testing.T) {
	f, h := seeded(t)
	for _, path := range []string{"/servers/127.0.0.1/9000", "/pools/blue/servers/127.0.0.1/9100"} {
		rec := do(t, h, "DELETE", path, "")
		if rec.Code != 204 || rec.Body.Len() != 0 {
			t.Errorf("DELETE %s: %d %q, want 204 and no body", path, rec.Code, rec.Body)
		}
		rec = do(t, h, "DELETE", path, "")
		wantError(t, 404, rec.Code, rec.Header(), rec.Body.Bytes())
	}
	if list, _ := f.Servers("default"); len(list) != 0 {
		t.Errorf("default still holds %+v", list)
	}
}

func TestStats(t *testing.T) {
	f, h := seeded(t)
	f.totals = Totals{ClientSuccess: 3, ClientFailed: 1, ServerSuccess: 5, ServerFailed: 2}
	rec := do(t, h, "GET", "/stats", "")
	want := `{"client":{"success":3,"failed":1},"server":{"success":5,"failed":2}}`
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != want {
		t.Errorf("GET /stats: %d %s, want %s", rec.Code, rec.Body, want)
	}
}

func TestStatsDetail(t *testing.T) {
	f := newFake("default")
	h := New(f, Options{})
	if rec := do(t, h, "GET", "/stats/detail", ""); rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Errorf("empty detail: %d %s", rec.Code, rec.Body)
	}
	f.mustAdd(t, "default", "http://127.0.0.1:9000", 1)
	f.mustAdd(t, "default", "http://127.0.0.1:9001", 1)
	f.pools["default"][0].Success, f.pools["default"][0].Opened = 12, 2
	f.pools["default"][0].LatencyBounds, f.pools["default"][0].LatencyCounts = []float64{0.1}, []uint64{4, 1}
	if err := f.RemoveServer("default", "127.0.0.1", 9001); err != nil {
		t.Fatal(err)
	}
	rec := do(t, h, "GET", "/stats/detail", "")
	var rows []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &rows); rec.Code != 200 || err != nil {
		t.Fatalf("%d %v %s", rec.Code, err, rec.Body)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2 (one draining after removal): %s", len(rows), rec.Body)
	}
	keys := []string{"ejected", "failed", "id", "inflight", "ip", "opened", "pool", "port", "reused", "state", "success", "url", "weight"}
	for _, r := range rows {
		got := make([]string, 0, len(r))
		for k := range r {
			got = append(got, k)
		}
		slices.Sort(got)
		if !slices.Equal(got, keys) {
			t.Errorf("row keys %v, want %v", got, keys)
		}
	}
	if rows[0]["success"] != 12.0 || rows[0]["opened"] != 2.0 || rows[1]["state"] != "draining" {
		t.Errorf("rows %v", rows)
	}
}

func TestHealthz(t *testing.T) {
	f := newFake("default")
	rec := do(t, New(f, Options{}), "GET", "/healthz", "")
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"status":"ok"}` {
		t.Errorf("healthz: %d %s", rec.Code, rec.Body)
	}
	ready := false
	h := New(f, Options{Ready: func() bool { return ready }})
	rec = do(t, h, "GET", "/healthz", "")
	wantError(t, 503, rec.Code, rec.Header(), rec.Body.Bytes())
	ready = true
	if rec = do(t, h, "GET", "/healthz", ""); rec.Code != 200 {
		t.Errorf("healthz when ready: %d", rec.Code)
	}
}

func TestAuth(t *testing.T) {
	f := newFake("default")
	srv := httptest.NewServer(New(f, Options{Token: "s3cret"}))
	defer srv.Close()
	call := func(method, path, auth, body string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	for _, tt := range []struct{ path, auth string }{
		{"/servers", ""},
		{"/servers", "Bearer wrong"},
		{"/servers", "Bearer s3cret2"},
		{"/servers", "Bearer s3cre"},
		{"/servers", "Basic s3cret"},
		{"/servers", "s3cret"},
		{"/servers", "Bearer "},
		{"/stats", ""},
		{"/metrics", ""},
		{"/debug/pprof/", ""},
		{"/nope", ""},
	} {
		resp, b := call("GET", tt.path, tt.auth, "")
		wantError(t, 401, resp.StatusCode, resp.Header, b)
		if got := resp.Header.Get("WWW-Authenticate"); got != "Bearer" {
			t.Errorf("GET %s with %q: WWW-Authenticate %q", tt.path, tt.auth, got)
		}
	}
	if f.writeCount() != 0 {
		t.Error("an unauthorized request reached Control")
	}
	for _, auth := range []string{"Bearer s3cret", "bearer s3cret", "BEARER  s3cret"} {
		if resp, b := call("GET", "/servers", auth, ""); resp.StatusCode != 200 {
			t.Errorf("with %q: %d %s", auth, resp.StatusCode, b)
		}
	}
	if resp, b := call("POST", "/servers", "Bearer s3cret", `{"url":"http://127.0.0.1:9000"}`); resp.StatusCode != 201 {
		t.Errorf("POST with the token: %d %s", resp.StatusCode, b)
	}
	if resp, b := call("GET", "/healthz", "", ""); resp.StatusCode != 200 {
		t.Errorf("/healthz without a token: %d %s", resp.StatusCode, b)
	}
}

func TestPprof(t *testing.T) {
	h := New(newFake("default"), Options{})
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/goroutine?debug=1"} {
		if rec := do(t, h, "GET", path, ""); rec.Code != 200 {
			t.Errorf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
	}
	rec := do(t, h, "GET", "/debug/pprof", "")
	if rec.Code/100 != 3 || rec.Header().Get("Location") != "/debug/pprof/" {
		t.Errorf("GET /debug/pprof: %d to %q, want a redirect to the index", rec.Code, rec.Header().Get("Location"))
	}
}

func TestNewNilControl(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New(nil) did not panic")
		}
	}()
	New(nil, Options{})
}
