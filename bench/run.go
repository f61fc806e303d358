package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/edgeloop/edgeloop/bench/report"
	"github.com/edgeloop/edgeloop/loadgen"
)

// Options configure one benchmark run.
type Options struct {
	Quick    bool
	Profile  bool   // save CPU and allocation profiles of edgeloop per scenario
	Taskset  bool   // pin the proxy to CPU 0, origin and loadgen to CPU 1
	Workers  int    // workers/threads/loops of each proxy (default 1)
	Threads  int    // loadgen threads (default 1)
	Out      string // results directory (bench/results)
	Root     string // the repository's root
	Only     string // comma-separated scenario names to run; "" all
	Timing   Timing // zero: the quick or full default
	Log      io.Writer
	PortBase int // ports PortBase..PortBase+11 on 127.0.0.1 (default 28080)
}

// Loadgen is loadgen's -json output (CONTRACT.md).
type Loadgen struct{ loadgen.Summary }

// ParseLoadgen reads loadgen's -json output; it refuses an object without
// the fields the report needs.
func ParseLoadgen(b []byte) (*Loadgen, error) {
	var l Loadgen
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("loadgen output: %w", err)
	}
	if l.Status == nil || l.DurationS <= 0 || l.LatencyUS == nil {
		return nil, fmt.Errorf("loadgen output: no status or duration in %.200q", b)
	}
	return &l, nil
}

// Non2xx counts the responses whose status is not 2xx.
func (l *Loadgen) Non2xx() int64 {
	var n int64
	for k, v := range l.Status {
		if !strings.HasPrefix(k, "2") {
			n += v
		}
	}
	return n
}

// system is one thing loadgen is pointed at.
type system struct {
	name  string
	port  int
	proc  *process
	admin int      // edgeloop's admin port (profiles); 0 for the others
	app   *process // app scenarios: the app behind edgeloop, whose CPU is counted apart
}

// harness holds what one run started.
type harness struct {
	opt      Options
	tmp, bin string
	ports    map[string]int
	origin   *process
	systems  map[string]*system
	all      []*process
	bodyFile string
	notes    []string
	// The CPUs of the proxies and of the rest (origin, app, loadgen)
	// under BENCH_TASKSET; "" otherwise.
	cpusProxy, cpusOther string
	// pull is the second edgeloop of the app scenarios, its app the push
	// app (pullworker -listen); nil when no app scenario runs.
	pull *system
}

// Run runs the benchmark and writes latest.json, latest.md and latest.svg
// into opt.Out. It stops every process it started before returning,
// including when ctx is cancelled.
func Run(ctx context.Context, opt Options) (*report.Result, error) {
	if opt.Workers <= 0 {
		opt.Workers = 1
	}
	if opt.Threads <= 0 {
		opt.Threads = 1
	}
	if opt.PortBase == 0 {
		opt.PortBase = 28080
	}
	if opt.Log == nil {
		opt.Log = io.Discard
	}
	if opt.Timing.Run == 0 {
		opt.Timing = fullTiming
		if opt.Quick {
			opt.Timing = quickTiming
		}
	}
	scs := FullScenarios
	if opt.Quick {
		scs = QuickScenarios
	}
	if opt.Only != "" {
		var picked []Scenario
		for _, name := range strings.Split(opt.Only, ",") {
			found := false
			for _, sc := range FullScenarios {
				if sc.Name == name {
					picked, found = append(picked, sc), true
				}
			}
			if !found {
				return nil, fmt.Errorf("BENCH_ONLY: no scenario %q", name)
			}
		}
		scs = picked
	}
	// The proxies' scenarios, then the app scenarios, which need other
	// processes and take turns among themselves.
	var proxyScs, appScs []Scenario
	for _, sc := range scs {
		if sc.App {
			appScs = append(appScs, sc)
		} else {
			proxyScs = append(proxyScs, sc)
		}
	}
	var need []string
	if len(proxyScs) > 0 {
		need = append(need, "nginx:nginx", "haproxy:haproxy")
	}
	if opt.Taskset {
		need = append(need, "taskset:util-linux")
	}
	if err := ensureTools(need...); err != nil {
		return nil, err
	}
	if err := raiseNoFile(); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "edgeloop-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	_ = os.Chmod(tmp, 0o755) // nginx's workers run as www-data and read www/
	h := &harness{opt: opt, tmp: tmp, bin: filepath.Join(tmp, "bin"), systems: map[string]*system{}, ports: ports(opt.PortBase)}
	if opt.Taskset {
		h.cpusProxy, h.cpusOther = "0", "1"
	}
	defer h.stopAll()
	if err := h.build(); err != nil {
		return nil, err
	}
	if len(proxyScs) > 0 {
		if err := h.startAll(proxyScs); err != nil {
			return nil, err
		}
	}
	if len(appScs) > 0 {
		if err := h.startApp(); err != nil {
			return nil, err
		}
	}
	res := &report.Result{
		Machine:  machine(),
		Date:     time.Now().UTC().Format(time.RFC3339),
		Versions: h.versions(),
		Quick:    opt.Quick,
		Settings: map[string]string{
			"run":      opt.Timing.Run.String(),
			"warmup":   opt.Timing.Warmup.String(),
			"repeats":  strconv.Itoa(opt.Timing.Repeats),
			"workers":  strconv.Itoa(opt.Workers),
			"loadgen":  fmt.Sprintf("%d thread(s)", opt.Threads),
			"taskset":  map[bool]string{true: "proxy on CPU 0, origin and loadgen on CPU 1", false: "off"}[opt.Taskset],
			"profiles": strconv.FormatBool(opt.Profile),
		},
	}
	var nginxPeak float64
	for _, sc := range proxyScs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rate := 0.0
		if sc.Rate > 0 {
			if nginxPeak == 0 {
				if nginxPeak, err = h.peak(ctx, "nginx"); err != nil {
					return nil, err
				}
			}
			rate = sc.Rate * nginxPeak
		}
		rows, err := h.scenario(ctx, sc, rate)
		if err != nil {
			return nil, fmt.Errorf("scenario %s: %w", sc.Name, err)
		}
		for _, r := range rows {
			if sc.Name == "small-keepalive" && r.System == "nginx" {
				nginxPeak = r.RPS
			}
		}
		res.Rows = append(res.Rows, rows...)
	}
	if len(appScs) > 0 {
		rows, err := h.appScenarios(ctx, appScs)
		if err != nil {
			return nil, err
		}
		res.Rows = append(res.Rows, rows...)
	}
	res.Notes = h.notes
	if err := write(res, opt.Out); err != nil {
		return nil, err
	}
	return res, nil
}

// write saves latest.json, latest.md and latest.svg in dir. The chart
// compares the proxies; with no row for it (only app scenarios ran), an
// older latest.svg is removed rather than left beside the new results.
func write(res *report.Result, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := report.WriteJSON(filepath.Join(dir, "latest.json"), res); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "latest.md"), []byte(report.Markdown(res)), 0o644); err != nil {
		return err
	}
	svg := filepath.Join(dir, "latest.svg")
	err := report.Chart(res, svg)
	if errors.Is(err, report.ErrNothingToChart) {
		if err := os.Remove(svg); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return err
}

func (h *harness) logf(format string, a ...any) {
	fmt.Fprintf(h.opt.Log, format+"\n", a...)
}

// build compiles edgeloop, loadgen, pullworker and the bare servers into
// tmp/bin.
func (h *harness) build() error {
	h.logf("bench: building edgeloop, loadgen, pullworker, gnet-bare, evio-bare")
	cmd := exec.Command("go", "build", "-o", h.bin+"/", "./cmd/edgeloop", "./cmd/loadgen", "./cmd/pullworker", "./bench/gnetbare", "./bench/eviobare")
	cmd.Dir = h.opt.Root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v: %s", err, out)
	}
	return nil
}

// tmplData fills bench/templates/*.tmpl.
type tmplData struct {
	Dir                                     string
	Port, StatusPort, AdminPort, WorkerPort int
	Workers, Keepalive                      int
	Origin                                  string
}

// render writes template name from bench/templates into dir/out.
func (h *harness) render(name, out string, d tmplData) (string, error) {
	t, err := template.ParseFiles(filepath.Join(h.opt.Root, "bench", "templates", name))
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return "", err
	}
	path := filepath.Join(d.Dir, out)
	return path, os.WriteFile(path, b.Bytes(), 0o644)
}

// ports are the harness's ports, from base: the first eight for the
// proxies' comparison, the last four for the app scenarios' second
// edgeloop (listen, admin, worker API) and the push app.
func ports(b int) map[string]int {
	return map[string]int{"edgeloop": b, "nginx": b + 1, "haproxy": b + 2, "gnet-bare": b + 3, "evio-bare": b + 4,
		"origin-direct": b + 5, "status": b + 6, "admin": b + 7,
		"pull": b + 8, "pull-admin": b + 9, "pull-workers": b + 10, "app": b + 11}
}

// keepalive is every proxy's number of idle origin connections kept
// (bench/README.md, "Tuning").
const keepalive = 1024

// mkdir makes tmp/name with the subdirectories nginx wants.
func (h *harness) mkdir(name string) (string, error) {
	d := filepath.Join(h.tmp, name)
	for _, sub := range []string{"", "body", "proxy", "fastcgi", "uwsgi", "scgi", "www/b"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			return "", err
		}
	}
	return d, nil
}

// startAll writes the configs and starts the origin, the three proxies and
// the bare servers the scenarios need, and waits until each listens.
func (h *harness) startAll(scs []Scenario) error {
	origin := fmt.Sprintf("127.0.0.1:%d", h.ports["origin-direct"])
	cpusProxy, cpusOther := h.cpusProxy, h.cpusOther
	mk := h.mkdir
	// The origin.
	od, err := mk("origin")
	if err != nil {
		return err
	}
	for name, size := range map[string]int{"1k": 1 << 10, "64k": 64 << 10, "1m": 1 << 20} {
		if err := os.WriteFile(filepath.Join(od, "www/b", name), pattern(size), 0o644); err != nil {
			return err
		}
	}
	conf, err := h.render("nginx-origin.conf.tmpl", "nginx.conf", tmplData{Dir: od, Port: h.ports["origin-direct"], StatusPort: h.ports["status"], Workers: 1})
	if err != nil {
		return err
	}
	if h.origin, err = h.start("origin", od, cpusOther, origin, "nginx", "-p", od+"/", "-e", "stderr", "-c", conf); err != nil {
		return err
	}
	h.systems["origin-direct"] = &system{name: "origin-direct", port: h.ports["origin-direct"], proc: h.origin}
	// The proxies.
	for _, name := range proxies {
		d, err := mk(name)
		if err != nil {
			return err
		}
		td := tmplData{Dir: d, Port: h.ports[name], AdminPort: h.ports["admin"], Workers: h.opt.Workers, Keepalive: keepalive, Origin: origin}
		var argv []string
		switch name {
		case "edgeloop":
			conf, err := h.render("edgeloop.yaml.tmpl", "edgeloop.yaml", td)
			if err != nil {
				return err
			}
			argv = []string{filepath.Join(h.bin, "edgeloop"), "-config", conf}
		case "nginx":
			conf, err := h.render("nginx-proxy.conf.tmpl", "nginx.conf", td)
			if err != nil {
				return err
			}
			argv = []string{"nginx", "-p", d + "/", "-e", "stderr", "-c", conf}
		case "haproxy":
			conf, err := h.render("haproxy.cfg.tmpl", "haproxy.cfg", td)
			if err != nil {
				return err
			}
			argv = []string{"haproxy", "-db", "-f", conf}
		}
		p, err := h.start(name, d, cpusProxy, fmt.Sprintf("127.0.0.1:%d", h.ports[name]), argv...)
		if err != nil {
			return err
		}
		h.systems[name] = &system{name: name, port: h.ports[name], proc: p}
		if name == "edgeloop" {
			h.systems[name].admin = h.ports["admin"]
		}
	}
	bare := false
	for _, sc := range scs {
		bare = bare || sc.Bare
	}
	if bare {
		for _, name := range []string{"gnet-bare", "evio-bare"} {
			addr := fmt.Sprintf("127.0.0.1:%d", h.ports[name])
			exe := filepath.Join(h.bin, strings.ReplaceAll(name, "-", ""))
			p, err := h.start(name, h.tmp, cpusProxy, addr, exe, "-listen", addr, "-loops", strconv.Itoa(h.opt.Workers))
			if err != nil {
				return err
			}
			h.systems[name] = &system{name: name, port: h.ports[name], proc: p}
		}
	}
	body := filepath.Join(h.tmp, "body-4k")
	h.bodyFile = body
	return os.WriteFile(body, pattern(4096), 0o644)
}

// start starts one server, logging to dir/NAME.log, and waits for addr.
func (h *harness) start(name, dir, cpus, addr string, argv ...string) (*process, error) {
	logPath := filepath.Join(dir, name+".log")
	p, err := startProcess(name, logPath, cpus, argv...)
	if err != nil {
		return nil, err
	}
	h.all = append(h.all, p)
	if err := p.waitListening(addr, logPath); err != nil {
		return nil, err
	}
	return p, nil
}

// stopAll stops every process started, proxies before the origin.
func (h *harness) stopAll() {
	for i := len(h.all) - 1; i >= 0; i-- {
		h.all[i].stop()
	}
}

// pattern is n deterministic, not very compressible bytes.
func pattern(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = 'a' + byte(x%26)
	}
	return b
}

// sample is one measured run of one system.
type sample struct {
	lg        *Loadgen
	cpuUS     float64 // per request
	appCPUUS  float64 // per request, of the app behind edgeloop (app scenarios)
	conns1k   float64
	rss       int64
	disturbed string
}

// loadgenArgs are loadgen's arguments for sc against port.
func (h *harness) loadgenArgs(sc Scenario, port int, d time.Duration, rate float64) []string {
	a := []string{"-json", "-t", strconv.Itoa(h.opt.Threads), "-c", strconv.Itoa(sc.Conns), "-d", d.String(), "-timeout", "10s"}
	if rate > 0 {
		a = append(a, "-rate", strconv.FormatFloat(rate, 'f', 0, 64))
	}
	if sc.Method != "" {
		a = append(a, "-m", sc.Method)
	}
	if sc.Body > 0 {
		a = append(a, "-body", h.bodyFile, "-H", "Content-Type: application/octet-stream")
	}
	if sc.Close {
		a = append(a, "-close")
	}
	if sc.Pipeline > 1 {
		a = append(a, "-pipeline", strconv.Itoa(sc.Pipeline))
	}
	return append(a, fmt.Sprintf("http://127.0.0.1:%d%s", port, sc.Path))
}

// measure runs loadgen once against sys and reads what it cost the system
// (and the app behind it, when sys has one; the origin nginx's accepted
// connections otherwise).
func (h *harness) measure(ctx context.Context, sys *system, sc Scenario, d time.Duration, rate float64) (*sample, error) {
	pids := tree(sys.proc.pid())
	resetPeakRSS(pids)
	var acc0, acc1, a0, a1 int64
	var err error
	if sys.app == nil {
		if acc0, err = originAccepts(h.ports["status"]); err != nil {
			return nil, err
		}
	}
	var appPIDs []int
	if sys.app != nil {
		appPIDs = tree(sys.app.pid())
		a0 = cpuTicks(appPIDs)
	}
	c0 := cpuTicks(pids)
	snap0 := takeSnapshot()
	argv := append([]string{filepath.Join(h.bin, "loadgen")}, h.loadgenArgs(sc, sys.port, d, rate)...)
	if h.opt.Taskset {
		argv = append([]string{"taskset", "-c", "1"}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lgPID := cmd.Process.Pid
	werr := cmd.Wait()
	elapsed := time.Since(t0)
	pids = tree(sys.proc.pid())
	c1 := cpuTicks(pids)
	if sys.app != nil {
		a1 = cpuTicks(tree(sys.app.pid()))
	}
	snap1 := takeSnapshot()
	rss := peakRSS(pids)
	if sys.app == nil {
		if acc1, err = originAccepts(h.ports["status"]); err != nil {
			return nil, err
		}
	}
	if werr != nil {
		return nil, fmt.Errorf("loadgen against %s: %v: %s", sys.name, werr, strings.TrimSpace(stderr.String()))
	}
	lg, err := ParseLoadgen(stdout.Bytes())
	if err != nil {
		return nil, err
	}
	s := &sample{lg: lg, rss: rss}
	if lg.Requests > 0 {
		s.cpuUS = float64(c1-c0) / clockTicks * 1e6 / float64(lg.Requests)
		s.appCPUUS = float64(a1-a0) / clockTicks * 1e6 / float64(lg.Requests)
		s.conns1k = float64(acc1-acc0) * 1000 / float64(lg.Requests)
	}
	// Disturbed: processes other than ours used more than a tenth of a CPU.
	ours := map[int]bool{os.Getpid(): true, lgPID: true}
	for _, p := range h.all {
		for _, q := range tree(p.pid()) {
			ours[q] = true
		}
	}
	if ft, who := foreign(snap0, snap1, ours); float64(ft)/clockTicks > 0.1*elapsed.Seconds() {
		s.disturbed = fmt.Sprintf("%.0f%% of a CPU, most by %s", 100*float64(ft)/clockTicks/elapsed.Seconds(), who)
	}
	return s, nil
}

// peak measures sys's small-keepalive rps when a fixed-rate scenario needs
// it and small-keepalive did not run.
func (h *harness) peak(ctx context.Context, sys string) (float64, error) {
	sc := FullScenarios[0]
	var rps []float64
	for i := 0; i < h.opt.Timing.Repeats; i++ {
		s, err := h.measure(ctx, h.systems[sys], sc, h.opt.Timing.Run, 0)
		if err != nil {
			return 0, err
		}
		rps = append(rps, s.lg.RPS)
	}
	return median(rps), nil
}

// scenario runs sc: a warm-up per system, then Repeats rounds in which the
// systems alternate, then one row per system of medians.
func (h *harness) scenario(ctx context.Context, sc Scenario, rate float64) ([]report.Row, error) {
	names := sc.systems()
	h.logf("bench: %s (%s)", sc.Name, strings.Join(names, ", "))
	for _, n := range names {
		if _, err := h.measure(ctx, h.systems[n], sc, h.opt.Timing.Warmup, rate); err != nil {
			return nil, err
		}
	}
	runs := map[string][]*sample{}
	for r := 0; r < h.opt.Timing.Repeats; r++ {
		for _, n := range names {
			s, err := h.measure(ctx, h.systems[n], sc, h.opt.Timing.Run, rate)
			if err != nil {
				return nil, err
			}
			if s.disturbed != "" {
				h.notes = append(h.notes, fmt.Sprintf("%s, %s, run %d: disturbed (%s)", sc.Name, n, r+1, s.disturbed))
			}
			h.logf("  %-14s run %d: %8.0f rps  %6.2f us CPU/req  p99 %7.0f us  errors %d%s", n, r+1,
				s.lg.RPS, s.cpuUS, s.lg.LatencyUS["p99"], s.lg.Errors, map[bool]string{true: "  (disturbed)", false: ""}[s.disturbed != ""])
			runs[n] = append(runs[n], s)
		}
	}
	var rows []report.Row
	for _, n := range names {
		row := summarize(sc.Name, n, runs[n])
		row.RateRPS = rate
		if h.opt.Profile && n == "edgeloop" {
			p, err := h.profile(ctx, h.systems[n], sc, rate)
			if err != nil {
				return nil, err
			}
			row.Profile = p
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// summarize makes one row of medians (errors summed, RSS the peak).
func summarize(scenario, sys string, ss []*sample) report.Row {
	row := report.Row{Scenario: scenario, System: sys, Runs: len(ss)}
	var rps, p50, p99, p999, cpu, appCPU, conns []float64
	for _, s := range ss {
		rps = append(rps, s.lg.RPS)
		appCPU = append(appCPU, s.appCPUUS)
		p50 = append(p50, s.lg.LatencyUS["p50"])
		p99 = append(p99, s.lg.LatencyUS["p99"])
		p999 = append(p999, s.lg.LatencyUS["p999"])
		cpu = append(cpu, s.cpuUS)
		conns = append(conns, s.conns1k)
		row.Errors += s.lg.Errors
		row.Non2xx += s.lg.Non2xx()
		row.RSSMB = max(row.RSSMB, float64(s.rss)/(1<<20))
		if s.disturbed != "" {
			row.Disturbed++
		}
	}
	row.RPS, row.P50, row.P99, row.P999 = median(rps), median(p50), median(p99), median(p999)
	row.CPUPerReq, row.OriginConnsPer1k, row.AppCPUPerReq = median(cpu), median(conns), median(appCPU)
	if m := row.CPUPerReq; m > 0 && len(cpu) > 1 {
		lo, hi := cpu[0], cpu[0]
		for _, c := range cpu {
			lo, hi = min(lo, c), max(hi, c)
		}
		row.Spread = (hi - lo) / m
	}
	return row
}

// median of xs (the mean of the middle two for an even count).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// statusClient reads the origin's status page; a hung origin fails the
// run instead of hanging it.
var statusClient = http.Client{Timeout: 5 * time.Second}

// originAccepts reads the connections the origin nginx has accepted, from
// its stub_status page.
func originAccepts(port int) (int64, error) {
	resp, err := statusClient.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		return 0, fmt.Errorf("origin status: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	return parseStubStatus(b)
}

// parseStubStatus finds "accepts" in nginx's stub_status output:
//
//	Active connections: 1
//	server accepts handled requests
//	 10 10 20
func parseStubStatus(b []byte) (int64, error) {
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "server accepts") && i+1 < len(lines) {
			f := strings.Fields(lines[i+1])
			if len(f) >= 1 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("origin status: no accepts in %.100q", b)
}
