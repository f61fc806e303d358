package pool

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/edgeloop/edgeloop/http1"
)

// Active health checks: each pool with checks enabled has one checker
// goroutine. Every Interval it probes each of the pool's servers that is
// not draining, all at once, and feeds the results to the state machine:
//
//	Active --Fall failures in a row--> Down --Rise successes in a row--> Active
//
// A probe is one GET of Path on a new connection (Connection: close); a
// 2xx status line within Timeout is a success, anything else a failure.
// A change of state publishes a new snapshot; it is not written to the
// state file, since health is measured again after a restart.

// probeMaxHead bounds the bytes a probe reads while looking for the end
// of the response head.
const probeMaxHead = 32 << 10

func (r *Registry) checker(ctx context.Context, pool string, chk CheckConfig) {
	defer r.wg.Done()
	t := time.NewTicker(chk.Interval)
	defer t.Stop()
	for {
		r.checkPool(ctx, pool, chk)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkPool probes the pool's servers once and applies the results.
func (r *Registry) checkPool(ctx context.Context, pool string, chk CheckConfig) {
	p := r.Snapshot().Pool(pool)
	if p == nil {
		return
	}
	var targets []*Server
	for _, s := range p.Servers {
		if s.State != Draining {
			targets = append(targets, s)
		}
	}
	if len(targets) == 0 {
		return
	}
	ok := make([]bool, len(targets))
	var wg sync.WaitGroup
	for i, s := range targets {
		wg.Go(func() { ok[i] = probe(ctx, s.Addr, chk) == nil })
	}
	wg.Wait()
	if ctx.Err() != nil {
		return // cut short by shutdown: the results mean nothing
	}
	r.applyHealth(pool, targets, ok, chk)
}

// applyHealth moves each probed server's state machine by one result and
// publishes a snapshot when a server changed state.
func (r *Registry) applyHealth(pool string, targets []*Server, ok []bool, chk CheckConfig) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.defs[pool]
	changed := false
	for i, s := range targets {
		e := d.byID(s.ID)
		if e == nil || e.removing || e.drain {
			continue // removed or drained since the probe began
		}
		changed = e.health(ok[i], chk) || changed
	}
	if changed {
		r.publish()
	}
}

// health applies one probe result; true when down changed.
func (e *entry) health(ok bool, chk CheckConfig) bool {
	if !e.down {
		e.rise = 0
		if ok {
			e.fails = 0
			return false
		}
		e.fails++
		if e.fails < chk.Fall {
			return false
		}
		e.down, e.fails = true, 0
		return true
	}
	e.fails = 0
	if !ok {
		e.rise = 0
		return false
	}
	e.rise++
	if e.rise < chk.Rise {
		return false
	}
	e.down, e.rise = false, 0
	return true
}

// byID is the entry with that ID, nil if it has gone.
func (d *poolDef) byID(id int) *entry {
	for _, e := range d.entries {
		if e.id == id {
			return e
		}
	}
	return nil
}

// Probe failures of our own (others come from net and http1).
var (
	errProbeStatus = errors.New("pool: health check status not 2xx")
	errProbeHead   = errors.New("pool: health check response head too large")
)

// probe checks one server: nil when it answers chk.Path with a 2xx
// status within chk.Timeout. A hostname is resolved again by each dial.
func probe(ctx context.Context, addr string, chk CheckConfig) error {
	ctx, cancel := context.WithTimeout(ctx, chk.Timeout)
	defer cancel()
	var dialer net.Dialer
	c, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	if err := c.SetDeadline(deadline); err != nil {
		return err
	}
	// Shutdown (the parent's cancellation) ends a probe at once.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	req := make([]byte, 0, 128+len(chk.Path)+len(addr))
	req = http1.AppendRequestLine(req, "GET", chk.Path)
	req = http1.AppendField(req, "Host", addr)
	req = http1.AppendField(req, "User-Agent", "edgeloop-health")
	req = http1.AppendField(req, "Connection", "close")
	req = http1.AppendEndOfHead(req)
	if _, err := c.Write(req); err != nil {
		return err
	}

	var resp http1.Response
	buf := make([]byte, 0, 4096)
	for {
		if len(buf) == cap(buf) {
			if cap(buf) >= probeMaxHead {
				return errProbeHead
			}
			buf = append(buf, make([]byte, cap(buf))...)[:len(buf)]
		}
		n, rerr := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if n > 0 {
			_, perr := resp.Parse(buf)
			if perr == nil {
				break
			}
			if !errors.Is(perr, http1.ErrNeedMore) {
				return perr
			}
		}
		if rerr != nil {
			return rerr
		}
	}
	if resp.Status < 200 || resp.Status > 299 {
		return errProbeStatus
	}
	return nil
}
