package origin

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func start(t *testing.T) (*Server, *http.Client) {
	t.Helper()
	s, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestEndpoints(t *testing.T) {
	s, c := start(t)
	base := "http://" + s.Addr()
	if r, b := get(t, c, base+"/"); r.StatusCode != 200 || b != "Hello, World!" {
		t.Fatalf("/: %d %q", r.StatusCode, b)
	}
	r, b := get(t, c, base+"/bytes/100000")
	if r.StatusCode != 200 || len(b) != 100000 || b[:3] != "abc" || b[26:29] != "abc" || b[65520:65523] != "abc" {
		t.Fatalf("/bytes: %d len %d", r.StatusCode, len(b))
	}
	if _, b := get(t, c, base+"/large"); len(b) != 1<<20 {
		t.Fatalf("/large: %d bytes", len(b))
	}
	if r, b := get(t, c, base+"/status/418"); r.StatusCode != 418 || b != "status 418\n" {
		t.Fatalf("/status: %d %q", r.StatusCode, b)
	}
	if r, b := get(t, c, base+"/status/204"); r.StatusCode != 204 || b != "" {
		t.Fatalf("/status/204: %d %q", r.StatusCode, b)
	}
	start := time.Now()
	if r, b := get(t, c, base+"/slow/150"); r.StatusCode != 200 || b != "slow" || time.Since(start) < 150*time.Millisecond {
		t.Fatalf("/slow: %d %q after %v", r.StatusCode, b, time.Since(start))
	}
	if r, _ := get(t, c, base+"/nope"); r.StatusCode != 404 {
		t.Fatalf("/nope: %d", r.StatusCode)
	}
	if n := s.Accepted(); n != 1 {
		t.Fatalf("%d connections for sequential requests, want 1 (keep-alive)", n)
	}
	if n := s.Requests(); n != 7 {
		t.Fatalf("%d requests counted, want 7", n)
	}
}

// /echo reports the request as received: headers in order and case, body
// length and checksum, for Content-Length and chunked bodies alike.
func TestEcho(t *testing.T) {
	s, _ := start(t)
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	body := strings.Repeat("x", 70000)
	sum := sha256.Sum256([]byte(body))
	chunked := "POST /echo?a=1 HTTP/1.1\r\nHost: h\r\nX-Zeta: 1\r\nx-alpha: 2\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"8000\r\n" + body[:0x8000] + "\r\n" + "9170\r\n" + body[0x8000:] + "\r\n0\r\n\r\n"
	plain := "PUT /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 70000\r\nConnection: close\r\n\r\n" + body
	if _, err := io.WriteString(conn, chunked+plain); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	for i, want := range []struct {
		method, target string
		chunked        bool
	}{{"POST", "/echo?a=1", true}, {"PUT", "/echo", false}} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Method, Target string
			Headers        [][2]string
			BodyLength     int64  `json:"body_length"`
			BodySHA256     string `json:"body_sha256"`
			Chunked        bool
		}
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if e.Method != want.method || e.Target != want.target || e.BodyLength != 70000 ||
			e.BodySHA256 != hex.EncodeToString(sum[:]) || e.Chunked != want.chunked {
			t.Fatalf("request %d: %+v", i, e)
		}
		if i == 0 && (e.Headers[1] != [2]string{"X-Zeta", "1"} || e.Headers[2] != [2]string{"x-alpha", "2"}) {
			t.Fatalf("headers %q", e.Headers)
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("connection not closed after Connection: close: %v", err)
	}
}

func TestMalformedRequestGets400(t *testing.T) {
	s, _ := start(t)
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != 400 || !resp.Close {
		t.Fatalf("%v %v", resp, err)
	}
}

func TestHead(t *testing.T) {
	s, c := start(t)
	resp, err := c.Head("http://" + s.Addr() + "/bytes/5000")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != 5000 {
		t.Fatalf("%d %d", resp.StatusCode, resp.ContentLength)
	}
	if _, b := get(t, c, "http://"+s.Addr()+"/"); b != "Hello, World!" {
		t.Fatalf("after HEAD: %q", b)
	}
}
