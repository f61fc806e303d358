package origin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// Handler answers every route as the raw server does: status, body,
// Content-Type and Content-Length; /echo the same JSON but for the order
// of its fields, which Handler sorts.
func TestHandlerMatchesServer(t *testing.T) {
	raw, c := start(t)
	h := httptest.NewServer(Handler())
	defer h.Close()
	defer c.CloseIdleConnections()

	type req struct {
		method, path string
		body         string
		chunked      bool // send the body with unknown length
	}
	for _, rq := range []req{
		{method: "GET", path: "/"},
		{method: "POST", path: "/", body: "ignored"},
		{method: "HEAD", path: "/"},
		{method: "GET", path: "/bytes/0"},
		{method: "GET", path: "/bytes/100000"},
		{method: "HEAD", path: "/bytes/5000"},
		{method: "GET", path: "/bytes/x"},
		{method: "GET", path: "/bytes/-1"},
		{method: "GET", path: "/large"},
		{method: "GET", path: "/echo"},
		{method: "GET", path: "/echo?a=1&b=%20"},
		{method: "POST", path: "/echo", body: strings.Repeat("body ", 20000)},
		{method: "PUT", path: "/echo", body: strings.Repeat("chunk", 9000), chunked: true},
		{method: "DELETE", path: "/echo"},
		{method: "GET", path: "/status/418"},
		{method: "GET", path: "/status/204"},
		{method: "GET", path: "/status/304"},
		{method: "GET", path: "/status/503"},
		{method: "GET", path: "/status/199"},
		{method: "GET", path: "/status/1000"},
		{method: "GET", path: "/status/x"},
		{method: "GET", path: "/slow/30"},
		{method: "GET", path: "/slow/x"},
		{method: "GET", path: "/nope"},
		{method: "GET", path: "/bytes/"},
	} {
		name := rq.method + " " + rq.path
		fetch := func(base string) (*http.Response, []byte, time.Duration) {
			t.Helper()
			var body io.Reader
			if rq.body != "" {
				body = strings.NewReader(rq.body)
				if rq.chunked {
					body = io.MultiReader(body) // hides the length: chunked
				}
			}
			r, err := http.NewRequest(rq.method, base+rq.path, body)
			if err != nil {
				t.Fatal(err)
			}
			r.Host = "origin.test" // the same for both
			r.Header.Set("X-Zeta", "z")
			r.Header.Add("X-Alpha", "1")
			r.Header.Add("X-Alpha", "2")
			start := time.Now()
			resp, err := c.Do(r)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return resp, b, time.Since(start)
		}
		want, wantBody, _ := fetch("http://" + raw.Addr())
		got, gotBody, took := fetch(h.URL)
		if got.StatusCode != want.StatusCode {
			t.Errorf("%s: status %d, raw server %d", name, got.StatusCode, want.StatusCode)
		}
		for _, f := range []string{"Content-Type", "Content-Length"} {
			if f == "Content-Type" && got.StatusCode == 304 {
				continue // net/http's server drops it from a 304 (RFC 9110 §15.4.5)
			}
			if g, w := got.Header.Values(f), want.Header.Values(f); !slices.Equal(g, w) {
				t.Errorf("%s: %s %q, raw server %q", name, f, g, w)
			}
		}
		if rq.path == "/echo" || strings.HasPrefix(rq.path, "/echo?") {
			wantBody, gotBody = sortedEcho(t, wantBody), sortedEcho(t, gotBody)
		}
		if !bytes.Equal(gotBody, wantBody) {
			t.Errorf("%s: body (%d bytes) %.200q, raw server (%d bytes) %.200q", name, len(gotBody), gotBody, len(wantBody), wantBody)
		}
		if rq.path == "/slow/30" && took < 30*time.Millisecond {
			t.Errorf("%s: answered after %v", name, took)
		}
	}
}

// sortedEcho is an /echo body with its fields sorted by name (stable),
// the order Handler gives them.
func sortedEcho(t *testing.T, b []byte) []byte {
	t.Helper()
	var e echoReply
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("echo %q: %v", b, err)
	}
	slices.SortStableFunc(e.Headers, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	out, _ := json.Marshal(e)
	return out
}

// The echo fields of Handler are sorted, with Host and Transfer-Encoding.
func TestHandlerEchoHeaders(t *testing.T) {
	r := httptest.NewRequest("POST", "http://example.com/echo?q=1", strings.NewReader("abc"))
	r.Header.Set("X-B", "2")
	r.Header.Add("X-A", "1")
	r.Header.Add("X-A", "0")
	r.TransferEncoding = []string{"chunked"}
	w := httptest.NewRecorder()
	Handler().ServeHTTP(w, r)
	var e echoReply
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"Host", "example.com"}, {"Transfer-Encoding", "chunked"}, {"X-A", "1"}, {"X-A", "0"}, {"X-B", "2"}}
	if !slices.Equal(e.Headers, want) || !e.Chunked || e.BodyLength != 3 || e.Target != "http://example.com/echo?q=1" || e.Proto != "HTTP/1.1" {
		t.Fatalf("%+v", e)
	}
}

// /slow gives up when the request's context ends.
func TestHandlerSlowCancelled(t *testing.T) {
	r := httptest.NewRequest("GET", "/slow/600000", nil)
	ctx, cancel := context.WithTimeout(r.Context(), 20*time.Millisecond)
	defer cancel()
	w := httptest.NewRecorder()
	start := time.Now()
	Handler().ServeHTTP(w, r.WithContext(ctx))
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}
