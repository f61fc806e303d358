// Package baretest holds the tests every bare server must pass. It is apart
// from package bare so that the servers' binaries do not link testing and
// net/http.
package baretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/edgeloop/edgeloop/bench/internal/bare"
)

// TestServer checks a bare server's behaviour on the wire, run by run on
// loopback ports chosen by the kernel. serverName is the Server header its
// 200 response must carry. Its subtests are:
//
//   - Raw: keep-alive, pipelining, requests and bodies split across writes,
//     Connection: close, HTTP/1.0, and the 400 for what it cannot frame;
//   - HTTPClient: net/http's client, 100 keep-alive GETs on one connection
//     and a few 4 KiB POSTs, with one and two loops;
//   - StopNoLeak: stopping with a connection open closes it and leaves no
//     goroutine behind.
//
// Each server's tests call it with the server's run function.
func TestServer(t *testing.T, run bare.RunFunc, serverName string) {
	s := &serverTest{
		run:      run,
		name:     serverName,
		wantResp: "HTTP/1.1 200 OK\r\nServer: " + serverName + "\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!",
	}
	t.Run("Raw", s.testRaw)
	t.Run("HTTPClient", s.testHTTPClient)
	t.Run("StopNoLeak", s.testStopNoLeak)
}

const testBody = "Hello, World!"

// want400 is the 400 response, spelled out here rather than taken from
// BadRequest.
const want400 = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

const get = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

// serverTest is one server under TestServer.
type serverTest struct {
	run  bare.RunFunc
	name string // the expected Server header
	// wantResp is the 200 response, spelled out here rather than built by
	// BuildResponse.
	wantResp string
}

// startServer runs the server on a loopback port chosen by the kernel and
// stops it when the test ends, failing the test if it does not stop cleanly.
func (s *serverTest) startServer(t *testing.T, loops int) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	readyCh := make(chan net.Addr, 1)
	errCh := make(chan error, 1)
	go func() {
		errCh <- s.run(ctx, "127.0.0.1:0", loops, testBody, func(a net.Addr) { readyCh <- a })
	}()
	var addr string
	select {
	case a := <-readyCh:
		if a == nil {
			cancel()
			t.Fatal("server reported no address")
		}
		addr = a.String()
	case err := <-errCh:
		cancel()
		t.Fatalf("server did not start: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("server not ready after 10s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errCh:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("server did not stop within 10s")
		}
	})
	return addr
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func write(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

// readN reads exactly n bytes.
func readN(t *testing.T, c net.Conn, n int) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("reading %d bytes: %v (got %q)", n, err, b)
	}
	return string(b)
}

// expectResponses reads n 200 responses.
func (s *serverTest) expectResponses(t *testing.T, c net.Conn, n int) {
	t.Helper()
	got := readN(t, c, n*len(s.wantResp))
	if want := strings.Repeat(s.wantResp, n); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// expectSilence checks that nothing arrives for a moment and that the
// connection is still open.
func expectSilence(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	var b [1]byte
	n, err := c.Read(b[:])
	if n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("expected nothing, got %d bytes, %v", n, err)
	}
}

// expectClosed reads to the end of the stream and checks what came.
func expectClosed(t *testing.T, c net.Conn, want string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read until close: %v (got %q)", err, got)
	}
	if string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// testRaw speaks HTTP/1.1 to the server over raw connections.
func (s *serverTest) testRaw(t *testing.T) {
	addr := s.startServer(t, 1)
	wantResp := s.wantResp

	t.Run("simple GET", func(t *testing.T) {
		c := dial(t, addr)
		write(t, c, get)
		s.expectResponses(t, c, 1)
		expectSilence(t, c)
		write(t, c, get) // keep-alive
		s.expectResponses(t, c, 1)
	})

	t.Run("three pipelined GETs in one write", func(t *testing.T) {
		c := dial(t, addr)
		write(t, c, get+get+get)
		s.expectResponses(t, c, 3)
		expectSilence(t, c)
	})

	t.Run("request split into 1-byte writes", func(t *testing.T) {
		c := dial(t, addr)
		req := "GET /split HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\n\r\n"
		for i := range len(req) {
			write(t, c, req[i:i+1])
			time.Sleep(time.Millisecond)
		}
		s.expectResponses(t, c, 1)
		expectSilence(t, c)
	})

	t.Run("POST with a 4 KiB body in two parts, then GET", func(t *testing.T) {
		c := dial(t, addr)
		body := strings.Repeat("x", 4096)
		req := "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4096\r\n\r\n" + body
		write(t, c, req[:len(req)-2000])
		expectSilence(t, c) // not answered before its body is complete
		write(t, c, req[len(req)-2000:]+get)
		s.expectResponses(t, c, 2)
		expectSilence(t, c)
	})

	t.Run("body and head spread over many writes", func(t *testing.T) {
		c := dial(t, addr)
		req := "POST / HTTP/1.1\r\ncOnTeNt-LeNgTh:  10 \r\n\r\n0123456789" + get
		for _, part := range []string{req[:7], req[7:30], req[30:45], req[45:52], req[52:]} {
			write(t, c, part)
			time.Sleep(5 * time.Millisecond)
		}
		s.expectResponses(t, c, 2)
	})

	t.Run("Connection: close", func(t *testing.T) {
		c := dial(t, addr)
		write(t, c, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
		expectClosed(t, c, wantResp)
	})

	t.Run("Connection: close in a pipeline", func(t *testing.T) {
		c := dial(t, addr)
		write(t, c, get+"GET / HTTP/1.1\r\nconnection: Close\r\n\r\n"+get)
		expectClosed(t, c, wantResp+wantResp)
	})

	t.Run("HTTP/1.0 without keep-alive closes", func(t *testing.T) {
		c := dial(t, addr)
		write(t, c, "GET / HTTP/1.0\r\n\r\n")
		expectClosed(t, c, wantResp)
	})

	t.Run("chunked request gets 400", func(t *testing.T) {
		c := dial(t, addr)
		write(t, c, "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
		expectClosed(t, c, want400)
	})

	t.Run("400 after pipelined good requests", func(t *testing.T) {
		c := dial(t, addr)
		write(t, c, get+get+"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
		expectClosed(t, c, wantResp+wantResp+want400)
	})

	t.Run("bad Content-Length gets 400", func(t *testing.T) {
		for _, v := range []string{"abc", "-1", "1 2", "", "99999999999999999999"} {
			c := dial(t, addr)
			write(t, c, "POST / HTTP/1.1\r\nContent-Length: "+v+"\r\n\r\n")
			expectClosed(t, c, want400)
		}
	})

	t.Run("conflicting Content-Length gets 400", func(t *testing.T) {
		c := dial(t, addr)
		write(t, c, "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")
		expectClosed(t, c, want400)
	})

	t.Run("head over 64 KiB gets 400", func(t *testing.T) {
		c := dial(t, addr)
		// Exactly the limit, so that nothing is left unread in the server's
		// socket when it closes (which would turn its FIN into a RST).
		start := "GET / HTTP/1.1\r\nX-Big: "
		write(t, c, start+strings.Repeat("a", bare.MaxHeadSize-len(start)))
		expectClosed(t, c, want400)
	})
}

// testHTTPClient checks the server against net/http's client: 100 keep-alive
// GETs on one connection, and a few 4 KiB POSTs, with one and two loops.
func (s *serverTest) testHTTPClient(t *testing.T) {
	for _, loops := range []int{1, 2} {
		t.Run(fmt.Sprintf("loops=%d", loops), func(t *testing.T) {
			addr := s.startServer(t, loops)
			tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
			url := "http://" + addr + "/"
			conns := 0
			trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
				if !info.Reused {
					conns++
				}
			}}
			for i := range 100 {
				req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", url, nil)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("GET %d: %v", i, err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatalf("GET %d: reading body: %v", i, err)
				}
				if resp.StatusCode != 200 || string(b) != testBody || resp.Header.Get("Server") != s.name {
					t.Fatalf("GET %d: %d %q %q", i, resp.StatusCode, resp.Header.Get("Server"), b)
				}
			}
			if conns != 1 {
				t.Errorf("100 GETs used %d connections, want 1", conns)
			}
			payload := bytes.Repeat([]byte("p"), 4096)
			for i := range 5 {
				resp, err := client.Post(url, "application/octet-stream", bytes.NewReader(payload))
				if err != nil {
					t.Fatalf("POST %d: %v", i, err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || string(b) != testBody {
					t.Fatalf("POST %d: %d %q %v", i, resp.StatusCode, b, err)
				}
			}
		})
	}
}

// testStopNoLeak checks that a stopped server leaves no goroutine behind.
func (s *serverTest) testStopNoLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ready := make(chan net.Addr, 1)
		errCh := make(chan error, 1)
		go func() { errCh <- s.run(ctx, "127.0.0.1:0", 2, testBody, func(a net.Addr) { ready <- a }) }()
		var addr string
		select {
		case a := <-ready:
			addr = a.String()
		case err := <-errCh:
			t.Fatalf("run: %v", err)
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		write(t, c, get)
		s.expectResponses(t, c, 1)
		// Stop with a connection still open.
		cancel()
		select {
		case err := <-errCh:
			if err != nil {
				t.Fatalf("run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("server did not stop within 10s")
		}
		expectClosed(t, c, "")
	}()
	// Short: what must go is the server's own goroutines, which run has
	// waited for, and the test's goroutine that called run.
	deadline := time.Now().Add(50 * time.Millisecond)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
