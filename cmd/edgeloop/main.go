// Command edgeloop is the reverse proxy (CONTRACT.md, "edgeloop").
//
//	edgeloop [-config FILE] [-listen ADDR] [-admin ADDR] [-origin URL]...
//	         [-loops N] [-state FILE] [-check] [-version] [-log-format text|json]
//
// It reads the flags and the YAML file (package config), starts the gnet
// event loops (package eventloop) in front of the origins of pool
// "default", and serves /healthz on the admin address until the
// management API lands (issue 4). SIGTERM or SIGINT drains in-flight
// requests, up to the drain timeout, and exits 0. A bad flag or config is
// one line naming the key, and exit 2.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/edgeloop/edgeloop/config"
	"github.com/edgeloop/edgeloop/eventloop"
	"github.com/edgeloop/edgeloop/http1"
	"github.com/edgeloop/edgeloop/internal/version"
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
	p, err := eventloop.New(proxyOptions(cfg, log))
	if err != nil {
		fmt.Fprintln(stderr, "edgeloop: "+err.Error())
		return 2
	}
	admin, err := startAdmin(cfg.Admin, p, log)
	if err != nil {
		fmt.Fprintln(stderr, "edgeloop: admin: "+err.Error())
		return 2
	}
	done := make(chan error, 1)
	go func() { done <- p.Serve() }()
	select {
	case err := <-done:
		fmt.Fprintln(stderr, "edgeloop: listen: "+err.Error())
		return 2
	case <-p.Ready():
	}
	log.Info("edgeloop serving", "listen", cfg.Listen, "admin", cfg.Admin, "loops", cfg.Loops,
		"origins", len(proxyOptions(cfg, log).Origins), "version", version.Version)

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
	_ = admin.Shutdown(ctx)
	s := p.Stats()
	log.Info("stopped", "client_success", s.ClientSuccess, "client_failed", s.ClientFailed,
		"origin_success", s.OriginSuccess, "origin_failed", s.OriginFailed)
	return 0
}

// proxyOptions maps the configuration onto the event loops' options: the
// servers of pool "default", then the -origin flags.
func proxyOptions(cfg *config.Config, log *slog.Logger) eventloop.Options {
	var origins []string
	if def := cfg.Pools["default"]; def != nil {
		for _, s := range def.Servers {
			origins = append(origins, net.JoinHostPort(s.Host, fmt.Sprint(s.Port)))
		}
	}
	for _, raw := range cfg.Origins { // validated by config.Load
		if u, err := url.Parse(raw); err == nil {
			port := u.Port()
			if port == "" {
				port = "80" // CONTRACT.md: a URL without a port means 80
			}
			origins = append(origins, net.JoinHostPort(u.Hostname(), port))
		}
	}
	t := cfg.Timeouts
	return eventloop.Options{
		Listen:  cfg.Listen,
		Loops:   cfg.Loops,
		Origins: origins,
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
	}
}

func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// startAdmin serves /healthz on the admin address until the management
// API (issue 4) takes the address over.
func startAdmin(addr string, p *eventloop.Proxy, log *slog.Logger) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-p.Ready():
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"status":"serving"}`+"\n")
		default:
			http.Error(w, `{"error":"starting"}`, http.StatusServiceUnavailable)
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin server", "err", err)
		}
	}()
	return srv, nil
}
