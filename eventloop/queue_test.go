package eventloop_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeloop/edgeloop/eventloop"
	"github.com/edgeloop/edgeloop/pool"
)

// countingOrigin answers after delay and records the most requests it
// held at once.
func countingOrigin(t *testing.T, delay time.Duration) (addr string, peak *atomic.Int64) {
	t.Helper()
	var cur atomic.Int64
	peak = new(atomic.Int64)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	self := ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Served-By", self)
		n := cur.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(delay)
		size, _ := io.Copy(io.Discard, r.Body)
		cur.Add(-1)
		fmt.Fprintf(w, "ok %d", size)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), peak
}

func cappedProxy(t *testing.T, origin string, queueTimeout time.Duration) *testProxy {
	t.Helper()
	reg, err := pool.New(pool.Config{Pools: []pool.PoolConfig{{Name: "default", MaxConns: 1,
		QueueTimeout: queueTimeout, Check: pool.CheckConfig{Disabled: true},
		Servers: []pool.ServerConfig{{URL: "http://" + origin}}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	return startProxy(t, eventloop.Options{Pools: reg})
}

// With max_conns 1, concurrent requests wait their turn: all succeed and
// the origin never holds two at once.
func TestMaxConnsQueues(t *testing.T) {
	origin, peak := countingOrigin(t, 50*time.Millisecond)
	p := cappedProxy(t, origin, 5*time.Second)
	var wg sync.WaitGroup
	statuses := make(chan int, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
			r, err := c.Get("http://" + p.Addr + "/")
			if err != nil {
				statuses <- 0
				return
			}
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
			c.CloseIdleConnections()
			statuses <- r.StatusCode
		}()
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 200 {
			t.Fatalf("a queued request got %d", s)
		}
	}
	if peak.Load() != 1 {
		t.Fatalf("the origin held %d requests at once under max_conns 1", peak.Load())
	}
}

// A request that finds no free slot within the queue timeout gets 503
// with Retry-After, and the connection closes.
func TestMaxConnsQueueTimeout(t *testing.T) {
	origin, _ := countingOrigin(t, 600*time.Millisecond)
	p := cappedProxy(t, origin, 200*time.Millisecond)
	busy := dial(t, p.Addr)
	busy.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(100 * time.Millisecond) // it holds the only slot
	c := dial(t, p.Addr)
	start := time.Now()
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	r := c.read("GET")
	if r.Status != 503 || r.Header.Get("Retry-After") != "1" {
		t.Fatalf("queued past its timeout: status %d, header %v", r.Status, r.Header)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("503 after %s, before the 200 ms queue timeout", d)
	}
	c.expectClosed()
	if r := busy.read("GET"); r.Status != 200 {
		t.Fatalf("the request holding the slot: %d", r.Status)
	}
}

// A request queued with its body on the way: nothing of the body is read
// while it waits, and all of it reaches the origin once a slot frees.
func TestMaxConnsQueuedUpload(t *testing.T) {
	origin, peak := countingOrigin(t, 100*time.Millisecond)
	p := cappedProxy(t, origin, 5*time.Second)
	busy := dial(t, p.Addr)
	busy.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(20 * time.Millisecond) // it holds the only slot
	body := bytes.Repeat([]byte("u"), 4<<20)
	c := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	r, err := c.Post("http://"+p.Addr+"/up", "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r.Body)
	r.Body.Close()
	c.CloseIdleConnections()
	if r.StatusCode != 200 || string(got) != fmt.Sprintf("ok %d", len(body)) {
		t.Fatalf("queued upload: %d %q", r.StatusCode, got)
	}
	if busy.read("GET").Status != 200 || peak.Load() != 1 {
		t.Fatalf("origin peak %d", peak.Load())
	}
}

// Routes choose the pool by Host and longest path prefix; anything else
// goes to pool default.
func TestRoutes(t *testing.T) {
	a, _ := countingOrigin(t, 0)
	b, _ := countingOrigin(t, 0)
	c, _ := countingOrigin(t, 0)
	reg, err := pool.New(pool.Config{
		Pools: []pool.PoolConfig{
			{Name: "default", Check: pool.CheckConfig{Disabled: true}, Servers: []pool.ServerConfig{{URL: "http://" + a}}},
			{Name: "api", Check: pool.CheckConfig{Disabled: true}, Servers: []pool.ServerConfig{{URL: "http://" + b}}},
			{Name: "admin", Check: pool.CheckConfig{Disabled: true}, Servers: []pool.ServerConfig{{URL: "http://" + c}}},
		},
		Routes: []pool.RouteConfig{
			{PathPrefix: "/api/", Pool: "api"},
			{Host: "admin.example", PathPrefix: "/", Pool: "admin"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	p := startProxy(t, eventloop.Options{Pools: reg})
	for _, tc := range []struct{ host, target, want string }{
		{"a.example", "/", a},
		{"a.example", "/api/v1", b},
		{"a.example", "/apix", a},
		{"admin.example:8080", "/x", c},
		{"ADMIN.example", "/api/v1", b},            // the longer prefix wins
		{"a.example", "http://admin.example/x", c}, // absolute form: its authority is the host
	} {
		cl := dial(t, p.Addr)
		cl.send("GET " + tc.target + " HTTP/1.1\r\nHost: " + tc.host + "\r\nConnection: close\r\n\r\n")
		r := cl.read("GET")
		if r.Status != 200 || r.Header.Get("X-Served-By") != tc.want {
			t.Errorf("%s %s: status %d, served by %q, want %q", tc.host, tc.target, r.Status, r.Header.Get("X-Served-By"), tc.want)
		}
	}
}
