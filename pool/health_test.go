package pool

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testOrigin is a loopback listener that answers health probes as its
// mode says.
type testOrigin struct {
	ln   net.Listener
	mode atomic.Value // string: a raw response to send, "close" or "hang"
	hits atomic.Int64
	last atomic.Value // string: the last request head received
	wg   sync.WaitGroup
}

const (
	resp200 = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	resp500 = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
)

func startOrigin(t *testing.T, mode string) *testOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &testOrigin{ln: ln}
	o.mode.Store(mode)
	o.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			o.wg.Go(func() { o.serve(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		o.wg.Wait()
	})
	return o
}

func (o *testOrigin) url() string  { return "http://" + o.ln.Addr().String() }
func (o *testOrigin) port() int    { return o.ln.Addr().(*net.TCPAddr).Port }
func (o *testOrigin) set(m string) { o.mode.Store(m) }

func (o *testOrigin) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var head []byte
	buf := make([]byte, 512)
	for !bytes.Contains(head, []byte("\r\n\r\n")) {
		n, err := c.Read(buf)
		head = append(head, buf[:n]...)
		if err != nil {
			return
		}
	}
	o.last.Store(string(head))
	o.hits.Add(1)
	switch m := o.mode.Load().(string); m {
	case "close":
	case "hang":
		_, _ = io.Copy(io.Discard, c) // until the prober gives up
	default:
		// The start byte by byte: the prober must assemble the head.
		i := 0
		for ; i < len(m) && i < 64; i++ {
			if _, err := c.Write([]byte{m[i]}); err != nil {
				return
			}
		}
		_, _ = c.Write([]byte(m[i:]))
	}
}

func checked(name string, chk CheckConfig, urls ...string) PoolConfig {
	pc := PoolConfig{Name: name, Check: chk}
	for _, u := range urls {
		pc.Servers = append(pc.Servers, ServerConfig{URL: u})
	}
	return pc
}

func stateOf(r *Registry, id int) State {
	if s := r.Snapshot().Server(id); s != nil {
		return s.State
	}
	return 255
}

func TestHealthFallRise(t *testing.T) {
	good, bad := startOrigin(t, resp200), startOrigin(t, resp200)
	state := filepath.Join(t.TempDir(), "state.json")
	chk := CheckConfig{Path: "/healthz", Interval: 20 * time.Millisecond, Timeout: time.Second, Fall: 3, Rise: 2}
	r := newReg(t, Config{Pools: []PoolConfig{checked("default", chk, good.url(), bad.url())}, StateFile: state})
	r.Start(context.Background())
	eventually(t, 2*time.Second, "first probes", func() bool { return good.hits.Load() >= 2 && bad.hits.Load() >= 2 })
	if stateOf(r, 1) != Active || stateOf(r, 2) != Active {
		t.Fatal("healthy servers not active")
	}
	want := "GET /healthz HTTP/1.1\r\nHost: " + bad.ln.Addr().String() +
		"\r\nUser-Agent: edgeloop-health\r\nConnection: close\r\n\r\n"
	if got := bad.last.Load().(string); got != want {
		t.Fatalf("probe request %q, want %q", got, want)
	}

	bad.set(resp500)
	from := bad.hits.Load()
	eventually(t, 2*time.Second, "Down", func() bool { return stateOf(r, 2) == Down })
	if n := bad.hits.Load() - from; n < 3 {
		t.Fatalf("down after %d failed probes, want 3", n)
	}
	for range 20 {
		if s := r.Snapshot().Pool("default").Pick(nil, nil); s.ID != 1 {
			t.Fatal("a down server was picked")
		}
	}
	list, _ := r.Servers("default")
	if list[1].State != Down {
		t.Fatalf("Servers: %+v", list[1])
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Fatal("a health change was written to the state file")
	}

	bad.set(resp200)
	from = bad.hits.Load()
	eventually(t, 2*time.Second, "Active again", func() bool { return stateOf(r, 2) == Active })
	if n := bad.hits.Load() - from; n < 2 {
		t.Fatalf("active after %d good probes, want 2", n)
	}
	if stateOf(r, 1) != Active {
		t.Fatal("the good server moved")
	}
}

func TestHealthFailures(t *testing.T) {
	closer, hanger := startOrigin(t, "close"), startOrigin(t, "hang")
	garbage := startOrigin(t, "HTTP/1.1 2000 OK\r\n\r\n")
	redirect := startOrigin(t, "HTTP/1.1 301 Moved\r\nLocation: /\r\n\r\n")
	// A port with nothing listening.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()
	chk := CheckConfig{Interval: 20 * time.Millisecond, Timeout: 100 * time.Millisecond, Fall: 2, Rise: 1}
	r := newReg(t, Config{Pools: []PoolConfig{
		checked("default", chk, closer.url(), hanger.url(), garbage.url(), redirect.url(), refused),
	}})
	r.Start(context.Background())
	for id := 1; id <= 5; id++ {
		eventually(t, 3*time.Second, "Down", func() bool { return stateOf(r, id) == Down })
	}
	// Rise 1: one good answer brings a server back.
	closer.set("HTTP/1.0 204 No Content\r\n\r\n")
	eventually(t, 2*time.Second, "Active", func() bool { return stateOf(r, 1) == Active })
}

func TestHealthSkipsDraining(t *testing.T) {
	o := startOrigin(t, resp500)
	chk := CheckConfig{Interval: 20 * time.Millisecond, Timeout: time.Second, Fall: 1}
	r := newReg(t, Config{Pools: []PoolConfig{checked("default", chk)}})
	dr := Draining
	if _, err := r.Add("default", o.url(), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Patch("default", "127.0.0.1", o.port(), nil, &dr); err != nil {
		t.Fatal(err)
	}
	r.Start(context.Background())
	time.Sleep(100 * time.Millisecond)
	if n := o.hits.Load(); n != 0 {
		t.Fatalf("a draining server was probed %d times", n)
	}
	// Added after Start: probed.
	o2 := startOrigin(t, resp500)
	if _, err := r.Add("default", o2.url(), 1); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "Down", func() bool { return stateOf(r, 2) == Down })
	// Undrained, the first server is probed again and goes down.
	act := Active
	if s, err := r.Patch("default", "127.0.0.1", o.port(), nil, &act); err != nil || s.State != Active {
		t.Fatalf("undrain = %+v, %v", s, err)
	}
	eventually(t, 2*time.Second, "Down", func() bool { return stateOf(r, 1) == Down })
}

func TestProbe(t *testing.T) {
	chk := CheckConfig{Path: "/", Timeout: time.Second}
	for _, tc := range []struct {
		resp string
		ok   bool
	}{
		{resp200, true},
		{"HTTP/1.1 204 No Content\r\n\r\n", true},
		{"HTTP/1.1 299 X\r\n\r\n", true},
		{"HTTP/1.0 200 OK\r\nX: y\r\n\r\nbody", true},
		{"HTTP/1.1 199 X\r\n\r\n", false},
		{"HTTP/1.1 300 X\r\n\r\n", false},
		{resp500, false},
		{"HTTP/1.1 200 OK\r\n", false}, // head never ends
		{"HTTP/2 200\r\n\r\n", false},
		{"hello\r\n\r\n", false},
		{"HTTP/1.1 200 OK\r\nBad Field\r\n\r\n", false},
		{"HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 40<<10) + "\r\n\r\n", false},
	} {
		o := startOrigin(t, tc.resp)
		err := probe(context.Background(), o.ln.Addr().String(), chk)
		if (err == nil) != tc.ok {
			t.Errorf("probe of %.40q: %v, want ok %v", tc.resp, err, tc.ok)
		}
	}
}

func TestProbeCancel(t *testing.T) {
	o := startOrigin(t, "hang")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- probe(ctx, o.ln.Addr().String(), CheckConfig{Path: "/", Timeout: time.Hour}) }()
	eventually(t, 2*time.Second, "the probe", func() bool { return o.hits.Load() == 1 })
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a cancelled probe succeeded")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("cancel did not end the probe")
	}
}

func TestHealthHealthTransitions(t *testing.T) {
	chk := CheckConfig{Fall: 3, Rise: 2}
	e := &entry{}
	steps := []struct {
		ok      bool
		changed bool
		down    bool
	}{
		{false, false, false}, {false, false, false}, {true, false, false}, // a success resets
		{false, false, false}, {false, false, false}, {false, true, true}, // third in a row
		{true, false, true}, {false, false, true}, {true, false, true}, // rise resets too
		{true, true, false},
	}
	for i, st := range steps {
		if changed := e.health(st.ok, chk); changed != st.changed || e.down != st.down {
			t.Fatalf("step %d: changed %v down %v, want %v %v", i, changed, e.down, st.changed, st.down)
		}
	}
}
