package pool

import (
	"context"
	"sync"
	"testing"
	"time"
)

func routedReg(t testing.TB) *Registry {
	t.Helper()
	return newReg(t, Config{
		Pools: []PoolConfig{
			{Name: "default"}, {Name: "api"}, {Name: "apiv2"}, {Name: "jobs", Kind: "pull"},
			{Name: "static"}, {Name: "v6"},
		},
		Routes: []RouteConfig{
			{PathPrefix: "/api/", Pool: "api"},
			{PathPrefix: "/api/v2/", Pool: "apiv2"},
			{Host: "Jobs.Example.com", PathPrefix: "/", Pool: "jobs"},
			{Host: "jobs.example.com:8443", PathPrefix: "/static/", Pool: "static"},
			{PathPrefix: "/static/", Pool: "default"},
			{Host: "[::1]", Pool: "v6"},
		},
	})
}

func TestRoute(t *testing.T) {
	s := routedReg(t).Snapshot()
	for _, tc := range []struct {
		host, path, want string
	}{
		{"example.com", "/", "default"},
		{"example.com", "/api", "default"},
		{"example.com", "/api/", "api"},
		{"example.com", "/api/v1/x", "api"},
		{"example.com", "/api/v2/x?y", "apiv2"},
		{"", "/api/v2/", "apiv2"},
		{"jobs.example.com", "/anything", "jobs"},
		{"JOBS.example.COM:8080", "/api/v2/", "apiv2"}, // a longer prefix wins over the host
		{"jobs.example.com", "/static/a.css", "static"},
		{"other.example.com", "/static/a.css", "default"},
		{"jobs.example.com.", "/x", "default"},
		{"jobs.example.co", "/x", "default"},
		{"[::1]:8080", "/x", "v6"},
		{"[::1]", "/", "v6"},
		{"[::1]", "/api/", "api"},
		{"*", "*", "default"},
	} {
		got := s.Route([]byte(tc.host), []byte(tc.path))
		if got == nil || got.Name != tc.want {
			t.Errorf("Route(%q, %q) = %v, want %s", tc.host, tc.path, got, tc.want)
		}
	}
	if got := s.PoolNames(); len(got) != 6 || got[0] != "default" || got[1] != "api" || got[5] != "v6" {
		t.Fatalf("PoolNames = %v", got)
	}
	if s.Pool("jobs").Kind != "pull" || s.Pool("nope") != nil {
		t.Fatal("Pool lookup")
	}
}

func TestRouteAllocs(t *testing.T) {
	s := routedReg(t).Snapshot()
	host, path := []byte("Jobs.Example.com:8443"), []byte("/static/app.js")
	if n := testing.AllocsPerRun(1000, func() {
		if s.Route(host, path).Name != "static" {
			panic("route")
		}
	}); n != 0 {
		t.Fatalf("%v allocations per Route", n)
	}
}

func TestHostOnly(t *testing.T) {
	for in, want := range map[string]string{
		"":                 "",
		"a":                "a",
		"a:80":             "a",
		"a:":               "a",
		"a.b.c:443":        "a.b.c",
		"1.2.3.4:5":        "1.2.3.4",
		"1.2.3.4":          "1.2.3.4",
		"[::1]:80":         "::1",
		"[::1]":            "::1",
		"[::1":             "[::1",
		"host-with-9":      "host-with-9",
		"example.com:8x80": "example.com:8x80",
	} {
		if got := string(hostOnly([]byte(in))); got != want {
			t.Errorf("hostOnly(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSnapshotConcurrent: readers load and pick while writers change the
// pool; under -race this checks the snapshots are only read.
func TestSnapshotConcurrent(t *testing.T) {
	r := newReg(t, Config{Pools: []PoolConfig{noCheck("default", "hash", "http://a:1", "http://b:1")}, DrainTimeout: 50 * time.Millisecond})
	r.Start(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			var last uint64
			for ctx.Err() == nil {
				s := r.Snapshot()
				if s.Version < last {
					t.Error("version went back")
					return
				}
				last = s.Version
				p := s.Route([]byte("x"), []byte("/"))
				if srv := p.Pick([]byte("k"), nil); srv != nil {
					p.Begin(srv)
					p.Report(srv, true, false, time.Microsecond)
				}
			}
		})
	}
	w := 3
	for i := range 50 {
		if _, err := r.Add("default", "http://c:1", 1); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Patch("default", "c", 1, &w, nil); err != nil {
			t.Fatal(err)
		}
		if err := r.Remove("default", "c", 1); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	cancel()
	wg.Wait()
	eventually(t, 2*time.Second, "the reaper", func() bool { return len(r.Snapshot().Pool("default").Servers) == 2 })
}

// TestSnapshotVersion: each change publishes one snapshot; a refused one
// none.
func TestSnapshotVersion(t *testing.T) {
	r := newReg(t, Config{Pools: []PoolConfig{noCheck("default", "", "http://a:1")}})
	v := r.Snapshot().Version
	if v != 1 {
		t.Fatalf("first version %d", v)
	}
	w, dr := 3, Draining
	steps := []func() error{
		func() error { _, err := r.Add("default", "http://b:1", 2); return err },
		func() error { _, err := r.Patch("default", "b", 1, &w, nil); return err },
		func() error { _, err := r.Patch("default", "b", 1, nil, &dr); return err },
		func() error { return r.Remove("default", "a", 1) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
		if got := r.Snapshot().Version; got != v+uint64(i)+1 {
			t.Fatalf("step %d: version %d", i, got)
		}
	}
	v = r.Snapshot().Version
	if _, err := r.Add("default", "http://b:1", 1); err == nil || r.Snapshot().Version != v {
		t.Fatal("a refused Add published")
	}
	p := r.Snapshot().Pool("default")
	if len(p.Servers) != 1 || len(p.usable) != 0 || p.Pick(nil, nil) != nil {
		t.Fatalf("only a drained server left: %+v usable %d", p.Servers, len(p.usable))
	}
	if r.Snapshot().Server(1) != nil || r.Snapshot().Server(99) != nil {
		t.Fatal("Server of a removed or unknown ID")
	}
}
