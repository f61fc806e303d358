package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"time"

	"github.com/edgeloop/edgeloop/eventloop"
	"github.com/edgeloop/edgeloop/mgmt"
	"github.com/edgeloop/edgeloop/pool"
	"github.com/edgeloop/edgeloop/queue"
)

// control is the management API's view of the proxy (mgmt.Control): the
// pool registry for servers, the proxy for its counters. mgmt imports
// neither, so pool's errors are translated here into mgmt's.
type control struct {
	reg    *pool.Registry
	proxy  *eventloop.Proxy
	loops  int
	queues map[string]*queue.Queue // the pull pools'
}

var _ mgmt.Control = (*control)(nil)

func (c *control) PoolNames() []string { return c.reg.PoolNames() }

func (c *control) Servers(name string) ([]mgmt.ServerInfo, error) {
	list, err := c.reg.Servers(name)
	if err != nil {
		return nil, mgmtErr(err)
	}
	out := make([]mgmt.ServerInfo, 0, len(list))
	for i := range list {
		out = append(out, info(&list[i]))
	}
	return out, nil
}

func (c *control) AddServer(name, rawURL string, weight int) (mgmt.ServerInfo, error) {
	if err := resolvable(rawURL); err != nil {
		return mgmt.ServerInfo{}, err
	}
	s, err := c.reg.Add(name, rawURL, weight)
	if err != nil {
		return mgmt.ServerInfo{}, mgmtErr(err)
	}
	return info(&s), nil
}

func (c *control) RemoveServer(name, ip string, port int) error {
	return mgmtErr(c.reg.Remove(name, ip, port))
}

func (c *control) PatchServer(name, ip string, port int, weight *int, state *string) (mgmt.ServerInfo, error) {
	var st *pool.State
	if state != nil {
		s, ok := pool.ParseState(*state)
		if !ok || s == pool.Down {
			return mgmt.ServerInfo{}, fmt.Errorf("state %q: want active or draining: %w", *state, mgmt.ErrBadInput)
		}
		st = &s
	}
	s, err := c.reg.Patch(name, ip, port, weight, st)
	if err != nil {
		return mgmt.ServerInfo{}, mgmtErr(err)
	}
	return info(&s), nil
}

// Totals are weldr's /stats: the proxy's counters, summed over the loops.
func (c *control) Totals() mgmt.Totals {
	s := c.proxy.Stats()
	t := mgmt.Totals{ClientSuccess: s.ClientSuccess, ClientFailed: s.ClientFailed,
		ServerSuccess: s.OriginSuccess, ServerFailed: s.OriginFailed}
	for _, l := range s.Loops {
		if l.ThreadLocked {
			t.LoopsLocked++
		}
	}
	return t
}

// Detail is one row per server of every pool, from the current snapshot
// (a removed server's row goes with it).
func (c *control) Detail() []mgmt.ServerStats {
	now := time.Now()
	var rows []mgmt.ServerStats
	for _, name := range c.reg.PoolNames() {
		list, err := c.reg.Servers(name)
		if err != nil {
			continue
		}
		for i := range list {
			s := &list[i]
			counts, sum := s.Live.Latency()
			rows = append(rows, mgmt.ServerStats{
				ServerInfo: info(s),
				Success:    s.Live.Success.Load(), Failed: s.Live.Failed.Load(),
				Opened: s.Live.Opened.Load(), Reused: s.Live.Reused.Load(),
				Ejected:       s.Live.Ejected(now),
				LatencyBounds: pool.LatencyBounds, LatencyCounts: counts, LatencySum: sum.Seconds(),
			})
		}
	}
	return rows
}

func (c *control) Loops() int { return c.loops }

// Queued reads each pool's max_conns queue from the current snapshot.
func (c *control) Queued() map[string]int {
	snap := c.reg.Snapshot()
	q := map[string]int{}
	for _, name := range snap.PoolNames() {
		if p := snap.Pool(name); p != nil && p.Kind == "" {
			q[name] = p.Queued()
		}
	}
	return q
}

// resolvable checks that a URL's host is an IP address or a name that
// resolves now (CONTRACT.md: a hostname is resolved when added; dials and
// health checks resolve it again each time). The lookup runs before the
// registry's lock, so a slow resolver delays only this call.
func resolvable(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" || net.ParseIP(u.Hostname()) != nil {
		return nil // the registry judges the URL itself
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := net.DefaultResolver.LookupHost(ctx, u.Hostname()); err != nil {
		return fmt.Errorf("%w: %s does not resolve: %v", mgmt.ErrBadInput, u.Hostname(), err)
	}
	return nil
}

// info is the server object of CONTRACT.md.
func info(s *pool.Server) mgmt.ServerInfo {
	return mgmt.ServerInfo{ID: s.ID, URL: s.URL, IP: s.Host, Port: s.Port, Pool: s.Pool,
		Weight: s.Weight, State: s.State.String(), Inflight: s.Live.Inflight.Load()}
}

// mgmtErr keeps err's message and makes it mgmt's sentinel for errors.Is.
func mgmtErr(err error) error {
	for _, m := range []struct{ p, m error }{
		{pool.ErrBadInput, mgmt.ErrBadInput}, {pool.ErrExists, mgmt.ErrExists},
		{pool.ErrNotFound, mgmt.ErrNotFound}, {pool.ErrNoPool, mgmt.ErrNoPool},
	} {
		if errors.Is(err, m.p) {
			return apiError{err, m.m}
		}
	}
	return err
}

// apiError reads as the pool's error and unwraps to mgmt's sentinel.
type apiError struct{ err, kind error }

func (e apiError) Error() string { return e.err.Error() }
func (e apiError) Unwrap() error { return e.kind }

// Pulls reads the queue of each pull pool.
func (c *control) Pulls() []mgmt.PullStats {
	out := make([]mgmt.PullStats, 0, len(c.queues))
	for _, name := range slices.Sorted(maps.Keys(c.queues)) {
		s := c.queues[name].Stats()
		p := mgmt.PullStats{Pool: s.Pool, Queued: s.Queued, Leased: s.Leased, Waiting: s.Waiting,
			BodyBytes: s.BodyBytes, Enqueued: s.Enqueued, Answered: s.Answered, Full: s.Full,
			TimedOut: s.TimedOut, LeasesExpired: s.Expired, Requeued: s.Requeued, Cancelled: s.Cancelled,
			WaitBounds: queue.WaitBounds, WaitCounts: s.WaitCounts, WaitSum: s.WaitSum,
			Workers: []mgmt.WorkerStats{}}
		for _, w := range s.Workers {
			p.Workers = append(p.Workers, mgmt.WorkerStats{ID: w.ID, Fetched: w.Fetched, Answered: w.Answered,
				LeasesExpired: w.Expired, LastSeen: w.LastSeen})
		}
		out = append(out, p)
	}
	return out
}
