// Command edgeloop is the reverse proxy (CONTRACT.md, "edgeloop").
//
//	edgeloop [-config FILE] [-listen ADDR] [-admin ADDR] [-origin URL]...
//	         [-loops N] [-state FILE] [-check] [-version] [-log-format text|json]
//
// It reads the flags and the YAML file (package config), builds the pool
// registry (package pool: the config's pools, the state file, then the
// -origin servers), starts the gnet event loops (package eventloop) in
// front of it and serves the management API (package mgmt) on the admin
// address. SIGTERM or SIGINT drains in-flight requests, up to the drain
// timeout, and exits 0. A bad flag or config is one line naming the key,
// and exit 2.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"syscall"
	"time"

	"github.com/edgeloop/edgeloop/config"
	"github.com/edgeloop/edgeloop/eventloop"
	"github.com/edgeloop/edgeloop/http1"
	"github.com/edgeloop/edgeloop/internal/version"
	"github.com/edgeloop/edgeloop/mgmt"
	"github.com/edgeloop/edgeloop/pool"
	"github.com/edgeloop/edgeloop/queue"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is main without the process: testable, and every exit is a return.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(args)
	if err != nil {
		fmt.Fprintln(stderr, "edgeloop: "+err.Error())
		return 2
	}
	if cfg.Version {
		fmt.Fprintln(stdout, "edgeloop "+version.Version)
		return 0
	}
	if cfg.Check {
		fmt.Fprintln(stdout, "edgeloop: configuration is valid")
		return 0
	}
	log := newLogger(cfg.LogFormat, stderr)
	if before, after := spareProcs(cfg.Loops); after != before {
		log.Info("GOMAXPROCS raised to one more than the event loops", "from", before, "to", after)
	}
	reg, err := newRegistry(cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "edgeloop: "+err.Error())
		return 2
	}
	defer reg.Close()
	opts := proxyOptions(cfg, log)
	opts.Pools = reg
	opts.Queues = newQueues(cfg)
	p, err := eventloop.New(opts)
	if err != nil {
		fmt.Fprintln(stderr, "edgeloop: "+err.Error())
		return 2
	}
	loops := cfg.Loops
	if loops <= 0 {
		loops = runtime.NumCPU()
	}
	admin, err := startAdmin(cfg, &control{reg: reg, proxy: p, loops: loops, queues: opts.Queues}, p, log)
	if err != nil {
		fmt.Fprintln(stderr, "edgeloop: admin: "+err.Error())
		return 2
	}
	workers, err := startWorkers(cfg, opts.Queues, log)
	if err != nil {
		fmt.Fprintln(stderr, "edgeloop: worker_listen: "+err.Error())
		return 2
	}
	ctx, stopChecks := context.WithCancel(context.Background())
	defer stopChecks()
	reg.Start(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Serve() }()
	select {
	case err := <-done:
		fmt.Fprintln(stderr, "edgeloop: listen: "+err.Error())
		return 2
	case <-p.Ready():
	}
	servers, _ := reg.Servers("default")
	log.Info("edgeloop serving", "listen", cfg.Listen, "admin", cfg.Admin, "loops", loops,
		"servers", len(servers), "state", cfg.State, "version", version.Version)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case s := <-sig:
		log.Info("draining", "signal", s.String(), "timeout", cfg.Timeouts.Drain)
	case err := <-done:
		if err != nil {
			log.Error("event loops stopped", "err", err)
			return 1
		}
		return 0
	}
	if err := p.Shutdown(context.Background()); err != nil {
		log.Error("shutdown", "err", err)
	}
	<-done
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if workers != nil {
		// Only now: the drain above waited for answers from workers.
		workers.api.Close()
		_ = workers.srv.Shutdown(ctx)
	}
	_ = admin.Shutdown(ctx)
	s := p.Stats()
	log.Info("stopped", "client_success", s.ClientSuccess, "client_failed", s.ClientFailed,
		"origin_success", s.OriginSuccess, "origin_failed", s.OriginFailed)
	return 0
}

// proxyOptions maps the configuration onto the event loops' options; the
// origins come from the pool registry (newRegistry).
func proxyOptions(cfg *config.Config, log *slog.Logger) eventloop.Options {
	t := cfg.Timeouts
	return eventloop.Options{
		Listen: cfg.Listen,
		Loops:  cfg.Loops,
		Timeouts: eventloop.Timeouts{
			ClientHead: t.ClientHead, ClientIdle: t.ClientIdle,
			OriginConnect: t.OriginConnect, OriginResponse: t.OriginResponse,
			OriginIdle: t.OriginIdle, Drain: t.Drain,
		},
		Limits: http1.Limits{
			MaxRequestLine: cfg.Limits.MaxRequestLine,
			MaxHeaderBytes: cfg.Limits.MaxHeaderBytes,
			MaxFields:      cfg.Limits.MaxFields,
		},
		MaxBodyBytes:   cfg.Limits.MaxBodyBytes,
		IdlePerOrigin:  cfg.Limits.IdlePerOrigin,
		RetryBodyBytes: cfg.Limits.RetryBodyBytes,
		Logger:         log,
		AccessLog:      cfg.AccessLog,
		DeferAccept:    cfg.DeferAccept,
	}
}

func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// startAdmin serves the management API (package mgmt) on the admin
// address.
func startAdmin(cfg *config.Config, c *control, p *eventloop.Proxy, log *slog.Logger) (*http.Server, error) {
	ln, err := net.Listen("tcp", cfg.Admin)
	if err != nil {
		return nil, err
	}
	ready := func() bool {
		select {
		case <-p.Ready():
			return true
		default:
			return false
		}
	}
	srv := &http.Server{Handler: mgmt.New(c, mgmt.Options{Token: cfg.AdminToken, Ready: ready}),
		ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin server", "err", err)
		}
	}()
	return srv, nil
}

// newQueues makes the queue of each pull pool (package queue), by name.
func newQueues(cfg *config.Config) map[string]*queue.Queue {
	qs := map[string]*queue.Queue{}
	for name, cp := range cfg.Pools {
		if cp.Kind != pool.KindPull {
			continue
		}
		qs[name] = queue.New(queue.Config{Pool: name, Len: cp.QueueLen, Timeout: cp.QueueTimeout,
			Lease: cp.Lease, InlineBody: cp.InlineBody, MaxBody: cp.MaxBody, BodyBudget: cp.QueueBody})
	}
	return qs
}

// workerServer is the worker API of the pull pools, on worker_listen.
type workerServer struct {
	api *queue.API
	srv *http.Server
}

// startWorkers serves the worker API when some pool is kind pull; nil
// otherwise.
func startWorkers(cfg *config.Config, qs map[string]*queue.Queue, log *slog.Logger) (*workerServer, error) {
	if len(qs) == 0 || cfg.WorkerListen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", cfg.WorkerListen)
	if err != nil {
		return nil, err
	}
	list := make([]*queue.Queue, 0, len(qs))
	for _, name := range slices.Sorted(maps.Keys(qs)) {
		list = append(list, qs[name])
	}
	api := queue.NewAPI(list, cfg.WorkerToken)
	// No write timeout: a long poll holds its response for up to its wait.
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("worker API", "err", err)
		}
	}()
	log.Info("worker API serving", "listen", ln.Addr().String(), "pools", len(list))
	return &workerServer{api: api, srv: srv}, nil
}

// newRegistry builds the pool registry: the config's pools, the state
// file over them, then the -origin servers (CONTRACT.md: in that order;
// an -origin server the state file holds already is kept as it is, and
// -origin servers are not written to the state file by themselves).
func newRegistry(cfg *config.Config, log *slog.Logger) (*pool.Registry, error) {
	pc := pool.Config{StateFile: cfg.State, DrainTimeout: cfg.Timeouts.Drain,
		Passive: pool.PassiveConfig{Fails: cfg.Passive.Fails, CoolDown: cfg.Passive.CoolDown,
			MaxCoolDown: cfg.Passive.MaxCoolDown, EjectLast: cfg.Passive.EjectLast}}
	if cfg.Passive.Fails == 0 {
		pc.Passive.Fails = -1 // pool's "off"
	}
	for _, name := range sortedPools(cfg) {
		cp := cfg.Pools[name]
		p := pool.PoolConfig{Name: name, Kind: cp.Kind, Policy: cp.Balance, HashKey: cp.HashKey,
			Check: pool.CheckConfig{Disabled: !cp.Check.Enabled, Path: cp.Check.Path,
				Interval: cp.Check.Interval, Timeout: cp.Check.Timeout, Fall: cp.Check.Fall, Rise: cp.Check.Rise},
			MaxConns: cp.MaxConns, QueueLen: cp.QueueLen, QueueTimeout: cp.QueueTimeout}
		for _, s := range cp.Servers {
			p.Servers = append(p.Servers, pool.ServerConfig{URL: s.URL, Weight: s.Weight})
		}
		pc.Pools = append(pc.Pools, p)
	}
	for _, r := range cfg.Routes {
		pc.Routes = append(pc.Routes, pool.RouteConfig{Host: r.Host, PathPrefix: r.PathPrefix, Pool: r.Pool})
	}
	for _, raw := range cfg.Origins {
		if err := resolvable(raw); err != nil {
			return nil, fmt.Errorf("-origin %s: %w", raw, err)
		}
		pc.Origins = append(pc.Origins, pool.ServerConfig{URL: raw, Weight: 1})
	}
	reg, err := pool.New(pc)
	if err != nil {
		return nil, err
	}
	return reg, nil
}

func sortedPools(cfg *config.Config) []string {
	names := make([]string, 0, len(cfg.Pools))
	for n := range cfg.Pools {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
