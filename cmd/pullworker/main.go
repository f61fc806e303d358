// Command pullworker runs the bundled test origin (package origin's
// Handler) as a pull-mode worker of an edgeloop pull pool (CONTRACT.md,
// "Worker API"):
//
//	pullworker [-proxy http://127.0.0.1:8688] [-pool NAME] [-token T]
//	           [-id NAME] [-c 4] [-wait 30s] [-strip]
//	pullworker -listen ADDR
//
// With -listen it serves the same handler as an ordinary (push) origin
// over net/http instead, so that pull and push can be compared on the
// same app (make bench).
//
// -token defaults to $EDGELOOP_WORKER_TOKEN, -id to HOSTNAME-PID. -c
// requests are handled at once. -strip serves PATH_INFO instead of the
// whole path, as if the origin were mounted at the route's prefix (by
// default /jobs/echo reaches the origin as /jobs/echo, as with a push
// pool).
//
// SIGTERM or SIGINT stops fetching; the requests in progress are
// answered, then it exits 0 (a second signal exits 1 at once). A bad
// flag is one line naming it and exit 2.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/edgeloop/edgeloop/origin"
	"github.com/edgeloop/edgeloop/queue"
	"github.com/edgeloop/edgeloop/queue/worker"
)

func main() {
	fs := flag.NewFlagSet("pullworker", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	proxy := fs.String("proxy", "http://127.0.0.1:8688", "the proxy's worker API (worker_listen)")
	pool := fs.String("pool", "", "the pull pool to serve (needed when the proxy has several)")
	token := fs.String("token", "", "worker token (default $EDGELOOP_WORKER_TOKEN)")
	id := fs.String("id", "", "worker name in the proxy's metrics (default HOSTNAME-PID)")
	conc := fs.Int("c", 4, "requests handled at once")
	wait := fs.Duration("wait", worker.DefaultWait, "long-poll wait")
	strip := fs.Bool("strip", false, "serve PATH_INFO, without the route's prefix (SCRIPT_NAME)")
	listen := fs.String("listen", "", "serve the handler as a push origin on this address instead")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stderr)
			fmt.Fprintln(os.Stderr, "usage: pullworker [flags]")
			fs.PrintDefaults()
			os.Exit(0)
		}
		fail("%v", err)
	}
	if fs.NArg() > 0 {
		fail("unexpected argument %q (flags only)", fs.Arg(0))
	}
	if u, err := url.Parse(*proxy); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fail("-proxy: %q: want http://HOST:PORT", *proxy)
	}
	if *conc < 1 || *conc > 10000 {
		fail("-c: %d: want 1 to 10000", *conc)
	}
	if *wait < time.Second || *wait > queue.MaxWait {
		fail("-wait: %v: want a duration from 1s to %v", *wait, queue.MaxWait)
	}
	if *token == "" {
		*token = os.Getenv("EDGELOOP_WORKER_TOKEN")
	}
	if *id == "" {
		host, _ := os.Hostname()
		*id = host + "-" + strconv.Itoa(os.Getpid())
	}

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	h := origin.Handler()
	if *listen != "" {
		log.Info("pullworker: serving the test origin as a push origin", "listen", *listen)
		srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
		if err := srv.ListenAndServe(); err != nil {
			fail("-listen: %v", err)
		}
		return
	}
	if *strip {
		h = stripScriptName(h)
	}
	w := &worker.Worker{URL: *proxy, Pool: *pool, Token: *token, ID: *id, Wait: *wait, Handler: h, Logger: log}

	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-sig
		log.Info("pullworker: stopping: answering the requests in progress (signal again to quit now)", "signal", s.String())
		cancel()
		<-sig
		os.Exit(1)
	}()
	log.Info("pullworker: serving the test origin", "proxy", *proxy, "pool", *pool, "id", *id, "c", *conc, "wait", wait.String())
	if err := w.Run(ctx, *conc); err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pullworker: "+format+"\n", args...)
	os.Exit(2)
}

// stripScriptName serves a request by its PATH_INFO: the path without
// the prefix of the proxy's route (SCRIPT_NAME).
func stripScriptName(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env := worker.Env(r)
		if env["SCRIPT_NAME"] == "" {
			h.ServeHTTP(w, r)
			return
		}
		uri := env["PATH_INFO"]
		if uri == "" {
			uri = "/"
		}
		if q := env["QUERY_STRING"]; q != "" {
			uri += "?" + q
		}
		u, err := url.ParseRequestURI(uri)
		if err != nil {
			http.Error(w, "bad request path", http.StatusBadRequest)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL, r2.RequestURI = u, uri
		h.ServeHTTP(w, r2)
	})
}
