package loadgen

import (
	"net"
	"testing"
	"time"

	"github.com/edgeloop/edgeloop/origin"
)

// -n N: exactly N responses, each counted by status, over keep-alive
// connections (the origin accepts no more connections than asked for),
// with -pipeline and with -close.
func TestRequestsCounted(t *testing.T) {
	o, err := origin.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	for _, c := range []struct {
		name       string
		cfg        Config
		maxConns   int64
		wantStatus int
	}{
		{"keep-alive", Config{URL: "http://" + o.Addr() + "/", Conns: 4, Requests: 1000}, 4, 200},
		{"pipelined", Config{URL: "http://" + o.Addr() + "/", Conns: 2, Pipeline: 8, Requests: 1000}, 2, 200},
		{"close", Config{URL: "http://" + o.Addr() + "/", Conns: 2, Close: true, Requests: 50}, 51, 200}, // a connection may open as the other takes the last request
		{"status", Config{URL: "http://" + o.Addr() + "/status/503", Conns: 2, Requests: 100}, 2, 503},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := o.Accepted()
			r, err := Run(c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if r.Requests != c.cfg.Requests || r.Status[c.wantStatus] != c.cfg.Requests || r.ErrorCount() != 0 {
				t.Fatalf("requests %d, status %v, errors %v; want %d of status %d", r.Requests, r.Status, r.Errors, c.cfg.Requests, c.wantStatus)
			}
			if n := o.Accepted() - before; n > c.maxConns {
				t.Fatalf("%d connections, want at most %d", n, c.maxConns)
			}
			if r.Latency.TotalCount() != r.Requests || r.Latency.Max() <= 0 {
				t.Fatalf("histogram holds %d values, max %d", r.Latency.TotalCount(), r.Latency.Max())
			}
		})
	}
}

// A response that cannot be framed is an error of its kind, not a
// request; a refused port is a connect error, and the run still ends.
func TestErrorsByKind(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				if _, err := c.Read(buf); err == nil {
					c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello"))
				}
				time.Sleep(50 * time.Millisecond)
			}()
		}
	}()
	r, err := Run(Config{URL: "http://" + ln.Addr().String() + "/", Conns: 2, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 0 || r.Errors["bad-response"] == 0 {
		t.Fatalf("requests %d, errors %v: want only bad-response errors", r.Requests, r.Errors)
	}
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := dead.Addr().String()
	dead.Close()
	r, err = Run(Config{URL: "http://" + addr + "/", Conns: 2, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 0 || r.Errors["connect"] == 0 {
		t.Fatalf("refused port: requests %d, errors %v", r.Requests, r.Errors)
	}
	// By count alone, a refused port still ends: after Timeout without
	// a response.
	start := time.Now()
	r, err = Run(Config{URL: "http://" + addr + "/", Conns: 2, Requests: 5, Timeout: 300 * time.Millisecond})
	if err != nil || r.Errors["stalled"] == 0 || time.Since(start) > 2*time.Second {
		t.Fatalf("-n against a refused port: %v %v after %s", r, err, time.Since(start))
	}
}

// The open model sends at the asked rate, not as fast as it can.
func TestOpenModelRate(t *testing.T) {
	o, err := origin.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	r, err := Run(Config{URL: "http://" + o.Addr() + "/", Conns: 4, Rate: 500, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests < 400 || r.Requests > 510 {
		t.Fatalf("%d requests in 1 s at 500/s", r.Requests)
	}
}

// -verify reads every response with net/http as well: the bundled origin's
// answers all pass. Several URLs are taken in turn by each connection,
// and the progress callback runs about once a second.
func TestVerifyURLsProgress(t *testing.T) {
	o, err := origin.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	calls := 0
	r, err := Run(Config{URL: "http://" + o.Addr() + "/status/201", URLs: []string{"http://" + o.Addr() + "/status/202"},
		Conns: 2, Requests: 400, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	// Each connection alternates, so the two differ by at most one a connection.
	if d := r.Status[201] - r.Status[202]; r.ErrorCount() != 0 || r.Status[201]+r.Status[202] != 400 || d < -2 || d > 2 {
		t.Fatalf("status %v, errors %v: want 400 split between 201 and 202, no error", r.Status, r.Errors)
	}
	r, err = Run(Config{URL: "http://" + o.Addr() + "/", Conns: 1, Duration: 1200 * time.Millisecond,
		Progress: func(done int64, _ time.Duration) { calls++ }})
	if err != nil || calls != 1 || r.Requests == 0 {
		t.Fatalf("progress called %d times in 1.2 s (%v)", calls, err)
	}
	if _, err := Run(Config{URL: "http://" + o.Addr() + "/", URLs: []string{"http://127.0.0.2:1/"}, Requests: 1}); err == nil {
		t.Fatal("URLs on another host:port are accepted")
	}
}
