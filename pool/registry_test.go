package pool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run when a test leaves goroutines behind (checkers,
// reapers, probe listeners).
func TestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(3 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			fmt.Fprintf(os.Stderr, "goroutine leak: %d before, %d after\n%s\n", before, n, buf)
			code = 1
		}
	}
	os.Exit(code)
}

// eventually waits for cond, failing the test after d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// newReg builds a registry or fails the test; Close runs at cleanup.
func newReg(t testing.TB, cfg Config) *Registry {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

// noCheck is a dialed pool without active checks.
func noCheck(name, policy string, urls ...string) PoolConfig {
	pc := PoolConfig{Name: name, Policy: policy, Check: CheckConfig{Disabled: true}}
	for _, u := range urls {
		pc.Servers = append(pc.Servers, ServerConfig{URL: u})
	}
	return pc
}

func TestNewRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"policy", Config{Pools: []PoolConfig{{Name: "default", Policy: "random"}}}, `unknown policy "random"`},
		{"url", Config{Pools: []PoolConfig{noCheck("default", "", "https://a:1")}}, "want http://"},
		{"url path", Config{Pools: []PoolConfig{noCheck("default", "", "http://a:1/x")}}, "no path"},
		{"weight", Config{Pools: []PoolConfig{{Name: "default", Servers: []ServerConfig{{URL: "http://a", Weight: 1001}}}}}, "outside 1-1000"},
		{"negative weight", Config{Pools: []PoolConfig{{Name: "default", Servers: []ServerConfig{{URL: "http://a", Weight: -1}}}}}, "outside 1-1000"},
		{"route", Config{Routes: []RouteConfig{{PathPrefix: "/x/", Pool: "nope"}}}, `unknown pool "nope"`},
		{"route prefix", Config{Routes: []RouteConfig{{PathPrefix: "x", Pool: "default"}}}, "does not start with /"},
		{"twice", Config{Pools: []PoolConfig{{Name: "a"}, {Name: "a"}}}, "configured twice"},
		{"name", Config{Pools: []PoolConfig{{Name: "a/b"}}}, "pool name"},
		{"empty name", Config{Pools: []PoolConfig{{Name: ""}}}, "pool name"},
		{"kind", Config{Pools: []PoolConfig{{Name: "a", Kind: "push"}}}, "unknown kind"},
		{"pull servers", Config{Pools: []PoolConfig{{Name: "a", Kind: "pull", Servers: []ServerConfig{{URL: "http://a"}}}}}, "takes no servers"},
		{"hash key", Config{Pools: []PoolConfig{{Name: "a", Policy: "hash", HashKey: "query:x"}}}, "hash key"},
		{"hash key empty name", Config{Pools: []PoolConfig{{Name: "a", Policy: "hash", HashKey: "header:"}}}, "hash key"},
		{"duplicate server", Config{Pools: []PoolConfig{noCheck("default", "", "http://a", "http://A:80/")}}, "listed twice"},
		{"check path", Config{Pools: []PoolConfig{{Name: "a", Check: CheckConfig{Path: "health"}}}}, "does not start with /"},
		{"check path space", Config{Pools: []PoolConfig{{Name: "a", Check: CheckConfig{Path: "/a b"}}}}, "space or control"},
		{"check negative", Config{Pools: []PoolConfig{{Name: "a", Check: CheckConfig{Fall: -1}}}}, "negative"},
		{"drain", Config{DrainTimeout: -time.Second}, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrBadInput containing %q", err, tc.want)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	r := newReg(t, Config{Pools: []PoolConfig{{Name: "jobs", Kind: "pull"}, noCheck("b", "", "http://h")}})
	if got := strings.Join(r.PoolNames(), ","); got != "default,b,jobs" {
		t.Fatalf("PoolNames = %s", got)
	}
	s := r.Snapshot()
	if s == nil || s.Pool("default") == nil || s.Pool("default").Kind != "" {
		t.Fatal("no default pool")
	}
	if r.cfg.DrainTimeout != 30*time.Second || r.cfg.Passive.Fails != 5 || r.cfg.Passive.CoolDown != 10*time.Second || r.cfg.Passive.MaxCoolDown != 5*time.Minute {
		t.Fatalf("defaults: %+v", r.cfg)
	}
	chk := r.defs["default"].cfg.Check
	if chk != (CheckConfig{Path: "/", Interval: 30 * time.Second, Timeout: 2 * time.Second, Fall: 3, Rise: 2}) {
		t.Fatalf("check defaults: %+v", chk)
	}
	if r.defs["default"].cfg.Policy != "round_robin" {
		t.Fatal("policy default")
	}
	srv, _ := r.Servers("b")
	if len(srv) != 1 || srv[0].URL != "http://h:80" || srv[0].Weight != 1 || srv[0].ID != 1 || srv[0].State != Active {
		t.Fatalf("servers of b: %+v", srv)
	}
}

func TestAdd(t *testing.T) {
	r := newReg(t, Config{Pools: []PoolConfig{{Name: "jobs", Kind: "pull"}}})
	v0 := r.Snapshot().Version
	s, err := r.Add("default", "http://127.0.0.1:9000", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := Server{ID: 1, Pool: "default", URL: "http://127.0.0.1:9000", Host: "127.0.0.1", Port: 9000, Addr: "127.0.0.1:9000", Weight: 1, State: Active}
	s.Live = nil
	if s != want {
		t.Fatalf("Add = %+v, want %+v", s, want)
	}
	if r.Snapshot().Version != v0+1 {
		t.Fatal("no new snapshot")
	}
	s2, err := r.Add("default", "HTTP://Example.COM/", 7)
	if err != nil || s2.ID != 2 || s2.Port != 80 || s2.URL != "http://example.com:80" || s2.Weight != 7 {
		t.Fatalf("Add example.com = %+v, %v", s2, err)
	}
	for _, tc := range []struct {
		pool, url string
		weight    int
		err       error
	}{
		{"default", "http://127.0.0.1:9000", 1, ErrExists},
		{"default", "http://127.0.0.1:9000/", 3, ErrExists},
		{"default", "http://example.com", 1, ErrExists},
		{"nope", "http://127.0.0.1:9001", 1, ErrNoPool},
		{"jobs", "http://127.0.0.1:9001", 1, ErrBadInput},
		{"default", "http://127.0.0.1:9001", 1001, ErrBadInput},
		{"default", "http://127.0.0.1:9001", -5, ErrBadInput},
		{"default", "ftp://127.0.0.1:9001", 1, ErrBadInput},
		{"default", "http://u:p@127.0.0.1:9001", 1, ErrBadInput},
		{"default", "http://127.0.0.1:9001/?a", 1, ErrBadInput},
	} {
		if _, err := r.Add(tc.pool, tc.url, tc.weight); !errors.Is(err, tc.err) {
			t.Errorf("Add(%s, %s, %d) = %v, want %v", tc.pool, tc.url, tc.weight, err, tc.err)
		}
	}
	srv, _ := r.Servers("default")
	if len(srv) != 2 {
		t.Fatalf("%d servers after failed adds", len(srv))
	}
	// A failed Add uses no ID.
	s3, _ := r.Add("default", "http://[::1]:81", 2)
	if s3.ID != 3 || s3.Host != "::1" || s3.Addr != "[::1]:81" {
		t.Fatalf("Add v6 = %+v", s3)
	}
}

func TestRemoveIdle(t *testing.T) {
	r := newReg(t, Config{Pools: []PoolConfig{noCheck("default", "", "http://a:1", "http://b:2")}})
	if err := r.Remove("default", "A", 1); err != nil {
		t.Fatal(err)
	}
	snap := r.Snapshot()
	if snap.Server(1) != nil || len(snap.Pool("default").Servers) != 1 {
		t.Fatal("an idle server should leave at once")
	}
	for _, tc := range []struct {
		pool, host string
		port       int
		err        error
	}{
		{"default", "a", 1, ErrNotFound},
		{"default", "b", 3, ErrNotFound},
		{"x", "b", 2, ErrNoPool},
	} {
		if err := r.Remove(tc.pool, tc.host, tc.port); !errors.Is(err, tc.err) {
			t.Errorf("Remove(%s, %s, %d) = %v, want %v", tc.pool, tc.host, tc.port, err, tc.err)
		}
	}
	// Added again, it is a new server.
	s, err := r.Add("default", "http://a:1", 1)
	if err != nil || s.ID != 3 {
		t.Fatalf("re-add = %+v, %v", s, err)
	}
}

func TestRemoveDrains(t *testing.T) {
	r := newReg(t, Config{Pools: []PoolConfig{noCheck("default", "", "http://a:1", "http://b:2")}, DrainTimeout: time.Hour})
	r.Start(context.Background())
	p := r.Snapshot().Pool("default")
	a := r.Snapshot().Server(1)
	p.Begin(a)
	if err := r.Remove("default", "a", 1); err != nil {
		t.Fatal(err)
	}
	snap := r.Snapshot()
	got := snap.Server(1)
	if got == nil || got.State != Draining || got.Live != a.Live {
		t.Fatalf("draining server: %+v", got)
	}
	for range 100 {
		if s := snap.Pool("default").Pick(nil, nil); s.ID != 2 {
			t.Fatal("a draining server was picked")
		}
	}
	if err := r.Remove("default", "a", 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Remove = %v", err)
	}
	w := 5
	if _, err := r.Patch("default", "a", 1, &w, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Patch of a removed server = %v", err)
	}
	// While it drains, the address may be added again.
	if _, err := r.Add("default", "http://a:1", 1); err != nil {
		t.Fatalf("Add while draining: %v", err)
	}
	list, _ := r.Servers("default")
	if len(list) != 3 || list[0].ID != 1 || list[0].State != Draining {
		t.Fatalf("servers while draining: %+v", list)
	}
	time.Sleep(2 * reapEvery)
	if r.Snapshot().Server(1) == nil {
		t.Fatal("removed while a request was in flight")
	}
	p.Report(a, true, false, time.Millisecond)
	eventually(t, 2*time.Second, "the reaper", func() bool { return r.Snapshot().Server(1) == nil })
}

func TestRemoveDrainTimeout(t *testing.T) {
	r := newReg(t, Config{Pools: []PoolConfig{noCheck("default", "", "http://a:1")}, DrainTimeout: 150 * time.Millisecond})
	r.Start(context.Background())
	s := r.Snapshot().Server(1)
	r.Snapshot().Pool("default").Begin(s)
	start := time.Now()
	if err := r.Remove("default", "a", 1); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "the drain timeout", func() bool { return r.Snapshot().Server(1) == nil })
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("removed after %v, before the drain timeout", d)
	}
	if r.Snapshot().Pool("default").Pick(nil, nil) != nil {
		t.Fatal("an empty pool picked a server")
	}
}

func TestPatch(t *testing.T) {
	r := newReg(t, Config{Pools: []PoolConfig{noCheck("default", "", "http://a:1", "http://b:2")}})
	w := 10
	s, err := r.Patch("default", "a", 1, &w, nil)
	if err != nil || s.Weight != 10 || s.State != Active {
		t.Fatalf("Patch weight = %+v, %v", s, err)
	}
	dr, act, down := Draining, Active, Down
	if s, err = r.Patch("default", "a", 1, nil, &dr); err != nil || s.State != Draining || s.Weight != 10 {
		t.Fatalf("Patch drain = %+v, %v", s, err)
	}
	if got := r.Snapshot().Pool("default").Pick(nil, nil); got.ID != 2 {
		t.Fatal("drained server picked")
	}
	v := r.Snapshot().Version
	if _, err = r.Patch("default", "a", 1, nil, &dr); err != nil || r.Snapshot().Version != v {
		t.Fatalf("Patch without change: %v, version %d -> %d", err, v, r.Snapshot().Version)
	}
	if s, err = r.Patch("default", "a", 1, nil, &act); err != nil || s.State != Active {
		t.Fatalf("Patch undrain = %+v, %v", s, err)
	}
	zero, big := 0, 1001
	for _, tc := range []struct {
		host   string
		port   int
		weight *int
		state  *State
		err    error
	}{
		{"a", 1, &zero, nil, ErrBadInput},
		{"a", 1, &big, nil, ErrBadInput},
		{"a", 1, nil, &down, ErrBadInput},
		{"c", 1, &w, nil, ErrNotFound},
	} {
		if _, err := r.Patch("default", tc.host, tc.port, tc.weight, tc.state); !errors.Is(err, tc.err) {
			t.Errorf("Patch(%s:%d) = %v, want %v", tc.host, tc.port, err, tc.err)
		}
	}
	if _, err := r.Patch("nope", "a", 1, &w, nil); !errors.Is(err, ErrNoPool) {
		t.Errorf("Patch unknown pool = %v", err)
	}
	// Undraining does not bring a server Down by its checks back.
	r.mu.Lock()
	r.defs["default"].entries[1].down = true
	r.publish()
	r.mu.Unlock()
	if s, err = r.Patch("default", "b", 2, nil, &act); err != nil || s.State != Down {
		t.Fatalf("undrain of a down server = %+v, %v", s, err)
	}
}

func TestServersAndSnapshotLive(t *testing.T) {
	r := newReg(t, Config{Pools: []PoolConfig{noCheck("default", "", "http://a:1")}})
	if _, err := r.Servers("nope"); !errors.Is(err, ErrNoPool) {
		t.Fatalf("Servers(nope) = %v", err)
	}
	old := r.Snapshot()
	if _, err := r.Add("default", "http://b:1", 1); err != nil {
		t.Fatal(err)
	}
	cur := r.Snapshot()
	if old.Server(1).Live != cur.Server(1).Live {
		t.Fatal("Live did not carry over")
	}
	if old.Server(2) != nil || cur.Server(2) == nil {
		t.Fatal("snapshots are not immutable")
	}
	list, _ := r.Servers("default")
	list[0].Weight = 99
	if r.Snapshot().Server(1).Weight == 99 {
		t.Fatal("Servers returned the snapshot's servers, not copies")
	}
}

func TestStartClose(t *testing.T) {
	r := newReg(t, Config{Pools: []PoolConfig{{Name: "default", Check: CheckConfig{Interval: time.Hour}}}})
	ctx, cancel := context.WithCancel(context.Background())
	r.Start(ctx)
	r.Start(ctx) // no effect
	cancel()
	r.Close()
	r.Close()
	r2, _ := New(Config{})
	r2.Close() // never started
	r2.Start(context.Background())
	r2.Close()
}
