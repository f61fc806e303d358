package pool

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Registry owns the pools: it applies changes (management API, health
// checkers, the drain reaper) one at a time under its lock, persists the
// dynamic ones, and publishes each result as a new Snapshot.
type Registry struct {
	mu      sync.Mutex
	cfg     Config              // with defaults; Pools and Routes as configured
	defs    map[string]*poolDef // the writers' view of each pool
	names   []string            // sorted, "default" first; fixed after New
	nextID  int
	version uint64
	snap    atomic.Pointer[Snapshot]

	// lifecycle, under mu
	started, closed bool
	cancel          context.CancelFunc
	wg              sync.WaitGroup
}

// poolDef is one pool as the writers keep it.
type poolDef struct {
	cfg     PoolConfig // with defaults; Servers only as configured
	policy  policy
	keyKind KeyKind
	keyName string
	entries []*entry // ID order
	shared  *poolShared
}

// entry is one server as the writers keep it; a snapshot's Server is
// made from it.
type entry struct {
	id     int
	u      serverURL
	weight int
	live   *Live
	// drain: drained through Patch (kept, takes nothing new).
	drain bool
	// removing: deleted, waiting for its in-flight requests until
	// deadline; not persisted, invisible to Add, Patch and Remove.
	removing bool
	deadline time.Time
	// active health: down, and the run of results that moves it.
	down        bool
	fails, rise int
}

func (e *entry) state() State {
	switch {
	case e.drain || e.removing:
		return Draining
	case e.down:
		return Down
	}
	return Active
}

// New checks cfg, builds the pools, restores the state file if there is
// one, and publishes the first snapshot. Checkers and the drain reaper
// run only after Start.
func New(cfg Config) (*Registry, error) {
	c, err := withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	r := &Registry{cfg: c, defs: map[string]*poolDef{}, nextID: 1}
	for _, pc := range c.Pools {
		pol, _ := parsePolicy(pc.Policy)
		kind, name, _ := parseHashKey(pc.HashKey)
		r.defs[pc.Name] = &poolDef{cfg: pc, policy: pol, keyKind: kind, keyName: name, shared: new(poolShared)}
		r.names = append(r.names, pc.Name)
	}
	slices.SortFunc(r.names, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == "default":
			return -1
		case b == "default":
			return 1
		case a < b:
			return -1
		}
		return 1
	})
	restored := map[string]bool{}
	if c.StateFile != "" {
		st, err := loadState(c.StateFile)
		if err != nil {
			return nil, err
		}
		if st != nil {
			restored = r.restore(st)
		}
	}
	// Configured servers of the pools the state file did not hold take
	// IDs after every restored one.
	for _, name := range r.names {
		d := r.defs[name]
		if restored[name] {
			continue
		}
		for _, sc := range d.cfg.Servers {
			u, _ := parseServerURL(sc.URL) // checked by withDefaults
			d.entries = append(d.entries, &entry{id: r.nextID, u: u, weight: sc.Weight, live: new(Live)})
			r.nextID++
		}
	}
	// Then the -origin servers: on top of what the config and the state
	// file gave, not written to the file by themselves (they are the
	// command line's, not dynamic changes), and left as they are when
	// the state file holds them already.
	def := r.defs["default"]
	for _, sc := range cfg.Origins {
		u, err := parseServerURL(sc.URL)
		if err != nil {
			return nil, err
		}
		w, err := checkWeight(sc.Weight)
		if err != nil {
			return nil, err
		}
		if def.cfg.Kind == KindPull {
			return nil, badInput("pool \"default\" is a pull pool: it takes no servers")
		}
		if def.find(u.host, u.port) == nil {
			def.entries = append(def.entries, &entry{id: r.nextID, u: u, weight: w, live: new(Live)})
			r.nextID++
		}
	}
	r.publish()
	return r, nil
}

// Snapshot is the latest published snapshot: one atomic load.
func (r *Registry) Snapshot() *Snapshot { return r.snap.Load() }

// publish builds and stores a snapshot of the current state. Called with
// mu held (or before the registry is shared).
func (r *Registry) publish() *Snapshot {
	r.version++
	s := buildSnapshot(r.version, r.names, r.defs, r.cfg.Routes, r.cfg.Passive)
	r.snap.Store(s)
	return s
}

// PoolNames lists the pools: "default" first, then by name.
func (r *Registry) PoolNames() []string { return slices.Clone(r.names) }

// Servers copies the servers of a pool, draining ones included, in ID
// order.
func (r *Registry) Servers(pool string) ([]Server, error) {
	p := r.Snapshot().Pool(pool)
	if p == nil {
		return nil, fmt.Errorf("%w: %q", ErrNoPool, pool)
	}
	out := make([]Server, len(p.Servers))
	for i, s := range p.Servers {
		out[i] = *s
	}
	return out, nil
}

// def finds a pool for a change. Called with mu held.
func (r *Registry) def(pool string) (*poolDef, error) {
	d := r.defs[pool]
	if d == nil {
		return nil, fmt.Errorf("%w: %q", ErrNoPool, pool)
	}
	return d, nil
}

// find is the server at host:port in d, ignoring those being removed.
func (d *poolDef) find(host string, port int) *entry {
	host = normHost(host)
	for _, e := range d.entries {
		if !e.removing && e.u.host == host && e.u.port == port {
			return e
		}
	}
	return nil
}

// commit persists the change just made and publishes it; when the state
// file cannot be written it calls undo and returns the error, leaving
// the state as it was. Called with mu held.
func (r *Registry) commit(undo func()) (*Snapshot, error) {
	if err := r.persist(); err != nil {
		undo()
		return nil, err
	}
	return r.publish(), nil
}

// Add adds a server to a pool, as weldr's POST /servers does: it starts
// Active. rawURL is http://host[:port] (port 80 when absent); weight 0
// means 1. Returns a copy of the server as published.
func (r *Registry) Add(pool, rawURL string, weight int) (Server, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, err := r.def(pool)
	if err != nil {
		return Server{}, err
	}
	if d.cfg.Kind == KindPull {
		return Server{}, badInput("pool %q is a pull pool: it takes no servers", pool)
	}
	u, err := parseServerURL(rawURL)
	if err != nil {
		return Server{}, err
	}
	w, err := checkWeight(weight)
	if err != nil {
		return Server{}, err
	}
	if d.find(u.host, u.port) != nil {
		return Server{}, fmt.Errorf("%w: %s in pool %q", ErrExists, u.url, pool)
	}
	e := &entry{id: r.nextID, u: u, weight: w, live: new(Live)}
	d.entries = append(d.entries, e)
	r.nextID++
	s, err := r.commit(func() {
		d.entries = d.entries[:len(d.entries)-1]
		r.nextID--
	})
	if err != nil {
		return Server{}, err
	}
	return *s.Server(e.id), nil
}

// Remove deletes a server, as weldr's DELETE does: it takes no new
// request at once (Draining) and leaves the pool when its in-flight
// requests are done or the drain timeout has passed, whichever comes
// first (the reaper that Start runs checks every 100 ms).
func (r *Registry) Remove(pool, host string, port int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, err := r.def(pool)
	if err != nil {
		return err
	}
	e := d.find(host, port)
	if e == nil {
		return fmt.Errorf("%w: %s in pool %q", ErrNotFound, joinHostPort(normHost(host), port), pool)
	}
	before := slices.Clone(d.entries)
	e.removing, e.deadline = true, time.Now().Add(r.cfg.DrainTimeout)
	if e.live.Inflight.Load() == 0 {
		d.entries = slices.DeleteFunc(d.entries, func(x *entry) bool { return x == e })
	}
	_, err = r.commit(func() {
		e.removing, e.deadline = false, time.Time{}
		d.entries = before
	})
	return err
}

// Patch changes a server's weight, its state, or both: state Draining
// drains it (without removing it), Active undrains it; a server Down by
// its health checks stays Down until they pass. Other states are
// ErrBadInput. Returns a copy of the server as published.
func (r *Registry) Patch(pool, host string, port int, weight *int, state *State) (Server, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, err := r.def(pool)
	if err != nil {
		return Server{}, err
	}
	e := d.find(host, port)
	if e == nil {
		return Server{}, fmt.Errorf("%w: %s in pool %q", ErrNotFound, joinHostPort(normHost(host), port), pool)
	}
	w, drain := e.weight, e.drain
	if weight != nil {
		if *weight < 1 || *weight > maxWeight {
			return Server{}, badInput("weight %d is outside 1-%d", *weight, maxWeight)
		}
		w = *weight
	}
	if state != nil {
		switch *state {
		case Active:
			drain = false
		case Draining:
			drain = true
		default:
			return Server{}, badInput("state %q cannot be set (want active or draining)", state.String())
		}
	}
	if w == e.weight && drain == e.drain {
		return *r.Snapshot().Server(e.id), nil // nothing to write
	}
	oldW, oldDrain := e.weight, e.drain
	e.weight, e.drain = w, drain
	s, err := r.commit(func() { e.weight, e.drain = oldW, oldDrain })
	if err != nil {
		return Server{}, err
	}
	return *s.Server(e.id), nil
}

// reapEvery is how often the reaper looks at servers being removed.
const reapEvery = 100 * time.Millisecond

// Start runs the active health checkers (one goroutine per pool whose
// checks are enabled) and the drain reaper, until ctx is done or Close
// is called. A second call does nothing.
func (r *Registry) Start(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.closed {
		return
	}
	r.started = true
	ctx, r.cancel = context.WithCancel(ctx)
	r.wg.Add(1)
	go r.reaper(ctx)
	for _, name := range r.names {
		d := r.defs[name]
		if d.cfg.Kind == "" && !d.cfg.Check.Disabled {
			r.wg.Add(1)
			go r.checker(ctx, name, d.cfg.Check)
		}
	}
}

// Close stops what Start started and waits for it to finish.
func (r *Registry) Close() {
	r.mu.Lock()
	r.closed = true
	cancel := r.cancel
	r.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	r.wg.Wait()
}

func (r *Registry) reaper(ctx context.Context) {
	defer r.wg.Done()
	t := time.NewTicker(reapEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			r.reap(now)
		}
	}
}

// reap drops the servers being removed that are idle or past their
// deadline. The state file already left them out when they were marked,
// so there is nothing to write.
func (r *Registry) reap(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := false
	for _, name := range r.names {
		d := r.defs[name]
		n := len(d.entries)
		d.entries = slices.DeleteFunc(d.entries, func(e *entry) bool {
			return e.removing && (e.live.Inflight.Load() <= 0 || !now.Before(e.deadline))
		})
		changed = changed || len(d.entries) != n
	}
	if changed {
		r.publish()
	}
}
