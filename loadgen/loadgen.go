package loadgen

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Config is one run.
type Config struct {
	URL      string
	URLs     []string      // more targets on the same host:port, taken in turn by each connection
	Conns    int           // connections, spread over the threads; default 10
	Threads  int           // event loops, each on its own OS thread; default 1
	Duration time.Duration // how long to send; 0 with Requests > 0 means until Requests
	Requests int64         // stop after this many responses (0: no limit)
	Rate     float64       // requests per second over all connections (open model); 0: closed model
	Method   string        // default GET
	Headers  []string      // "Name: value"
	Body     []byte
	Pipeline int  // requests in flight per connection; default 1
	Close    bool // a new connection per request
	Timeout  time.Duration
	// Verify checks every response with net/http as well (slower; for
	// trusting the fast path, not for measuring).
	Verify bool
	// Progress, when set, is called about once a second with the
	// responses so far (from a goroutine of its own).
	Progress func(done int64, elapsed time.Duration)
}

// Result is what a run measured. Latencies are in microseconds.
type Result struct {
	Requests int64
	Duration time.Duration
	Bytes    int64
	Status   map[int]int64
	Errors   map[string]int64 // connect, read, write, timeout, bad-response
	Latency  *hdrhistogram.Histogram
}

// ErrorCount is the sum of Errors.
func (r *Result) ErrorCount() int64 {
	var n int64
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// RPS is the responses per second.
func (r *Result) RPS() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Duration.Seconds()
}

// newHistogram records 1 µs to 1 h with 3 significant digits.
func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3)
}

// Run drives the URL as cfg says and returns what it measured.
func Run(cfg Config) (*Result, error) {
	if cfg.Conns <= 0 {
		cfg.Conns = 10
	}
	if cfg.Threads <= 0 {
		cfg.Threads = 1
	}
	cfg.Threads = min(cfg.Threads, cfg.Conns)
	if cfg.Pipeline <= 0 {
		cfg.Pipeline = 1
	}
	if cfg.Method == "" {
		cfg.Method = "GET"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Duration <= 0 && cfg.Requests <= 0 {
		return nil, errors.New("loadgen: give a duration or a number of requests")
	}
	if cfg.Rate < 0 {
		return nil, errors.New("loadgen: negative rate")
	}
	addr, reqs, err := buildRequests(cfg)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	var deadline time.Time
	if cfg.Duration > 0 {
		deadline = start.Add(cfg.Duration)
	}
	shared := &budget{left: cfg.Requests, limited: cfg.Requests > 0}
	workers := make([]*worker, cfg.Threads)
	var wg sync.WaitGroup
	for i := range workers {
		conns := cfg.Conns / cfg.Threads
		if i < cfg.Conns%cfg.Threads {
			conns++
		}
		w := &worker{cfg: cfg, addr: addr, reqs: reqs, conns: conns, start: start, deadline: deadline,
			budget: shared, hist: newHistogram(), status: map[int]int64{}, errs: map[string]int64{}}
		if cfg.Rate > 0 {
			w.interval = time.Duration(float64(time.Second) * float64(conns) / cfg.Rate)
		}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			w.run()
		}()
	}
	stopProgress, progressDone := make(chan struct{}), make(chan struct{})
	if cfg.Progress == nil {
		close(progressDone)
	} else {
		go func() {
			defer close(progressDone)
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-stopProgress:
					return
				case now := <-t.C:
					var done int64
					for _, w := range workers {
						done += w.progress.Load()
					}
					cfg.Progress(done, now.Sub(start))
				}
			}
		}()
	}
	wg.Wait()
	close(stopProgress)
	<-progressDone // no callback runs after Run returns
	res := &Result{Duration: time.Since(start), Status: map[int]int64{}, Errors: map[string]int64{}, Latency: newHistogram()}
	for _, w := range workers {
		if w.fatal != nil {
			return nil, w.fatal
		}
		res.Requests += w.done
		res.Bytes += w.bytes
		res.Latency.Merge(w.hist)
		for k, v := range w.status {
			res.Status[k] += v
		}
		for k, v := range w.errs {
			res.Errors[k] += v
		}
	}
	return res, nil
}

// budget is the requests left to start when Requests limits the run,
// shared by the workers.
type budget struct {
	mu      sync.Mutex
	left    int64
	limited bool
}

// take reserves one request; false when none is left.
func (b *budget) take() bool {
	if !b.limited {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.left <= 0 {
		return false
	}
	b.left--
	return true
}

// spent reports whether no request is left to start.
func (b *budget) spent() bool {
	if !b.limited {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.left <= 0
}

// buildRequests resolves the address once and writes one request per
// URL; every URL must name the same host:port.
func buildRequests(cfg Config) (string, [][]byte, error) {
	var addr string
	var reqs [][]byte
	for _, raw := range append([]string{cfg.URL}, cfg.URLs...) {
		a, req, err := buildRequest(cfg, raw)
		if err != nil {
			return "", nil, err
		}
		if addr != "" && a != addr {
			return "", nil, fmt.Errorf("loadgen: %s: every URL must go to %s", raw, addr)
		}
		addr, reqs = a, append(reqs, req)
	}
	return addr, reqs, nil
}

// buildRequest resolves a URL's address and writes its request.
func buildRequest(cfg Config, raw string) (string, []byte, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return "", nil, fmt.Errorf("loadgen: %q: want an http:// URL", raw)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
	}
	ips, err := net.LookupIP(host)
	if err != nil || len(ips) == 0 {
		return "", nil, fmt.Errorf("loadgen: %s does not resolve: %v", host, err)
	}
	ip := ips[0]
	for _, x := range ips {
		if x.To4() != nil {
			ip = x
			break
		}
	}
	target := u.RequestURI()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", cfg.Method, target, u.Host)
	for _, h := range cfg.Headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" || strings.ContainsAny(h, "\r\n") {
			return "", nil, fmt.Errorf("loadgen: header %q: want 'Name: value'", h)
		}
		fmt.Fprintf(&b, "%s: %s\r\n", strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if len(cfg.Body) > 0 || cfg.Method == "POST" || cfg.Method == "PUT" {
		b.WriteString("Content-Length: " + strconv.Itoa(len(cfg.Body)) + "\r\n")
	}
	if cfg.Close {
		b.WriteString("Connection: close\r\n")
	}
	b.WriteString("\r\n")
	req := append([]byte(b.String()), cfg.Body...)
	return net.JoinHostPort(ip.String(), port), req, nil
}
