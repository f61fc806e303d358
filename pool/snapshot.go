package pool

import "slices"

// Snapshot is the registry's state at one moment: every pool with its
// servers, and the routes. Immutable once published; hold it as long as
// you like. Its Live counters are shared with every other snapshot.
type Snapshot struct {
	Version uint64 // grows by one with each published change

	names  []string // sorted, "default" first
	pools  map[string]*Pool
	def    *Pool
	routes []route // longest prefix first
	byID   map[int]*Server
}

// route is a RouteConfig resolved to its pool.
type route struct {
	host   string // lower case, no port; "" matches any host
	prefix string
	pool   *Pool
}

// Route finds the pool for a request's host (which may carry ":port")
// and path: the longest PathPrefix among the routes whose Host, if set,
// equals host case-insensitively; pool "default" when none matches.
// No allocation.
func (s *Snapshot) Route(host, path []byte) *Pool {
	p, _ := s.Match(host, path)
	return p
}

// Match is Route that also says which path prefix matched ("" for the
// fallback to pool default): a pull pool's workers get it as
// SCRIPT_NAME.
func (s *Snapshot) Match(host, path []byte) (*Pool, string) {
	h := hostOnly(host)
	for i := range s.routes {
		r := &s.routes[i]
		if r.host != "" && !equalFoldASCII(h, r.host) {
			continue
		}
		if len(path) >= len(r.prefix) && string(path[:len(r.prefix)]) == r.prefix {
			return r.pool, r.prefix
		}
	}
	return s.def, ""
}

// Routed reports whether the snapshot has routes: without any, every
// request goes to pool default and the caller need not find its host
// and path.
func (s *Snapshot) Routed() bool { return len(s.routes) > 0 }

// Pool is the pool of that name, nil if there is none.
func (s *Snapshot) Pool(name string) *Pool { return s.pools[name] }

// PoolNames lists the snapshot's pools as Registry.PoolNames does:
// "default" first, then by name. The slice is the caller's.
func (s *Snapshot) PoolNames() []string { return slices.Clone(s.names) }

// Server is the server with that ID, nil if this snapshot does not hold
// it (it was removed, or not yet added).
func (s *Snapshot) Server(id int) *Server { return s.byID[id] }

// equalFoldASCII compares b with the lower-case s, ignoring ASCII case.
func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// stripPort drops a ":port" from a host, keeping an IPv6 literal whole.
func stripPort(h string) string {
	return string(hostOnly([]byte(h)))
}

// hostOnly is stripPort for a request's Host, without allocating.
func hostOnly(h []byte) []byte {
	if len(h) > 0 && h[0] == '[' {
		for i := 1; i < len(h); i++ {
			if h[i] == ']' {
				return h[1:i]
			}
		}
		return h
	}
	for i := len(h) - 1; i >= 0; i-- {
		switch c := h[i]; {
		case c == ':':
			return h[:i]
		case c < '0' || c > '9':
			return h
		}
	}
	return h
}

// buildSnapshot makes the snapshot of the registry's pools (in defs,
// named in order) and routes. Called with the registry's lock held.
func buildSnapshot(version uint64, order []string, defs map[string]*poolDef, routes []RouteConfig, passive PassiveConfig) *Snapshot {
	s := &Snapshot{
		Version: version,
		names:   order,
		pools:   make(map[string]*Pool, len(order)),
		byID:    make(map[int]*Server),
	}
	for _, name := range order {
		p := buildPool(defs[name], passive)
		s.pools[name] = p
		for _, srv := range p.Servers {
			s.byID[srv.ID] = srv
		}
	}
	s.def = s.pools["default"]
	for _, rc := range routes {
		s.routes = append(s.routes, route{host: rc.Host, prefix: rc.PathPrefix, pool: s.pools[rc.Pool]})
	}
	// Longest prefix first; at equal length a route naming the host goes
	// before one for any host; otherwise the configuration's order.
	slices.SortStableFunc(s.routes, func(a, b route) int {
		if d := len(b.prefix) - len(a.prefix); d != 0 {
			return d
		}
		return boolInt(a.host == "") - boolInt(b.host == "")
	})
	return s
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// buildPool makes one pool's snapshot: a fresh Server per entry (sharing
// its Live), the usable list, and what the policy precomputes.
func buildPool(d *poolDef, passive PassiveConfig) *Pool {
	p := &Pool{
		Name:         d.cfg.Name,
		Kind:         d.cfg.Kind,
		policy:       d.policy,
		keyKind:      d.keyKind,
		keyName:      d.keyName,
		passive:      passive,
		shared:       d.shared,
		maxConns:     int64(d.cfg.MaxConns),
		queueLen:     d.cfg.QueueLen,
		queueTimeout: d.cfg.QueueTimeout,
	}
	p.Servers = make([]*Server, 0, len(d.entries))
	var weights []int
	for _, e := range d.entries {
		srv := &Server{
			ID:     e.id,
			Pool:   d.cfg.Name,
			URL:    e.u.url,
			Host:   e.u.host,
			Port:   e.u.port,
			Addr:   e.u.addr,
			Weight: e.weight,
			State:  e.state(),
			Live:   e.live,
		}
		p.Servers = append(p.Servers, srv)
		if srv.State == Active {
			p.usable = append(p.usable, srv)
			p.seeds = append(p.seeds, serverSeed(srv.ID))
			weights = append(weights, srv.Weight)
		}
	}
	p.seq = smoothSeq(weights)
	p.sameWeight = true
	for _, w := range weights {
		if w != weights[0] {
			p.sameWeight = false
		}
	}
	return p
}
