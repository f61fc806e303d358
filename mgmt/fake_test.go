package mgmt

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
)

// fake is an in-memory Control: pools of servers keyed by ip:port, with
// the same errors the real one returns. It counts the calls that change
// state, so a test can tell that bad input never reached it.
type fake struct {
	mu      sync.Mutex
	pools   map[string][]*ServerStats // in insertion order
	names   []string
	nextID  int
	writes  int // AddServer, RemoveServer and PatchServer calls
	totals  Totals
	loops   int
	removed []ServerStats // removed but still draining, for Detail
	pulls   []PullStats
}

func newFake(pools ...string) *fake {
	f := &fake{pools: map[string][]*ServerStats{}, nextID: 1, loops: 2}
	for _, p := range pools {
		f.pools[p] = nil
		f.names = append(f.names, p)
	}
	return f
}

func (f *fake) PoolNames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.names)
}

func (f *fake) Servers(pool string) ([]ServerInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	list, ok := f.pools[pool]
	if !ok {
		return nil, fmt.Errorf("pool %q: %w", pool, ErrNoPool)
	}
	var out []ServerInfo // nil when empty: the handler must still send []
	for _, s := range list {
		out = append(out, s.ServerInfo)
	}
	return out, nil
}

// AddServer accepts http URLs with a literal IP; no port means 80.
func (f *fake) AddServer(pool, rawURL string, weight int) (ServerInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	list, ok := f.pools[pool]
	if !ok {
		return ServerInfo{}, fmt.Errorf("pool %q: %w", pool, ErrNoPool)
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" || u.Hostname() == "" {
		return ServerInfo{}, fmt.Errorf("url %q: want http://IP[:PORT]: %w", rawURL, ErrBadInput)
	}
	ip, err := netip.ParseAddr(u.Hostname())
	if err != nil {
		return ServerInfo{}, fmt.Errorf("url %q: host is not an IP: %w", rawURL, ErrBadInput)
	}
	port := 80
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
			return ServerInfo{}, fmt.Errorf("url %q: bad port: %w", rawURL, ErrBadInput)
		}
	}
	if f.find(pool, ip.String(), port) >= 0 {
		return ServerInfo{}, fmt.Errorf("%s:%d: %w", ip, port, ErrExists)
	}
	s := &ServerStats{ServerInfo: ServerInfo{
		ID: f.nextID, URL: rawURL, IP: ip.String(), Port: port, Pool: pool, Weight: weight, State: "active",
	}}
	f.nextID++
	f.pools[pool] = append(list, s)
	return s.ServerInfo, nil
}

// find returns the index of ip:port in pool, or -1. f.mu is held.
func (f *fake) find(pool, ip string, port int) int {
	return slices.IndexFunc(f.pools[pool], func(s *ServerStats) bool { return s.IP == ip && s.Port == port })
}

func (f *fake) RemoveServer(pool, ip string, port int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	if _, ok := f.pools[pool]; !ok {
		return fmt.Errorf("pool %q: %w", pool, ErrNoPool)
	}
	i := f.find(pool, ip, port)
	if i < 0 {
		return fmt.Errorf("%s:%d: %w", ip, port, ErrNotFound)
	}
	gone := *f.pools[pool][i]
	gone.State = "draining"
	f.removed = append(f.removed, gone)
	f.pools[pool] = slices.Delete(f.pools[pool], i, i+1)
	return nil
}

func (f *fake) PatchServer(pool, ip string, port int, weight *int, state *string) (ServerInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	if _, ok := f.pools[pool]; !ok {
		return ServerInfo{}, fmt.Errorf("pool %q: %w", pool, ErrNoPool)
	}
	i := f.find(pool, ip, port)
	if i < 0 {
		return ServerInfo{}, fmt.Errorf("%s:%d: %w", ip, port, ErrNotFound)
	}
	s := f.pools[pool][i]
	if weight != nil {
		s.Weight = *weight
	}
	if state != nil {
		s.State = *state
	}
	return s.ServerInfo, nil
}

func (f *fake) Totals() Totals {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.totals
}

func (f *fake) Detail() []ServerStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ServerStats
	for _, p := range f.names {
		for _, s := range f.pools[p] {
			out = append(out, *s)
		}
	}
	return append(out, f.removed...)
}

func (f *fake) Loops() int { return f.loops }

func (f *fake) Queued() map[string]int { return map[string]int{"default": 2} }

func (f *fake) Pulls() []PullStats { return f.pulls }

// snapshot encodes the fake's whole state, to compare before and after.
func (f *fake) snapshot(t *testing.T) string {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := json.Marshal(struct {
		P map[string][]*ServerStats
		R []ServerStats
	}{f.pools, f.removed})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// writeCount returns how many state-changing calls reached the fake.
func (f *fake) writeCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes
}

// mustAdd adds a server or fails the test.
func (f *fake) mustAdd(t *testing.T, pool, rawURL string, weight int) ServerInfo {
	t.Helper()
	s, err := f.AddServer(pool, rawURL, weight)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
