package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/edgeloop/edgeloop/bench/report"
)

// The app scenarios (app-*, Scenario.App) compare pull mode with push on
// the same app: a second edgeloop (edgeloop-pull.yaml.tmpl) has the app as
// the origin of its pool default, served by `pullworker -listen` (the push
// app), and a pull pool app under /pull/, served by one `pullworker -c N`
// process started for each run. bench/README.md, "Pull mode".

// appPool is the pull pool of edgeloop-pull.yaml.tmpl.
const appPool = "app"

// hello is what the app answers to GET /.
const hello = "Hello, World!"

// startApp starts the push app and the second edgeloop in front of it,
// and checks that a request reaches the app through it.
func (h *harness) startApp() error {
	d, err := h.mkdir("pull")
	if err != nil {
		return err
	}
	app := fmt.Sprintf("127.0.0.1:%d", h.ports["app"])
	pushApp, err := h.start("push-app", d, h.cpusOther, app, filepath.Join(h.bin, "pullworker"), "-listen", app)
	if err != nil {
		return err
	}
	conf, err := h.render("edgeloop-pull.yaml.tmpl", "edgeloop.yaml", tmplData{Dir: d,
		Port: h.ports["pull"], AdminPort: h.ports["pull-admin"], WorkerPort: h.ports["pull-workers"],
		Workers: h.opt.Workers, Keepalive: keepalive, Origin: app})
	if err != nil {
		return err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", h.ports["pull"])
	p, err := h.start("edgeloop-pull", d, h.cpusProxy, addr, filepath.Join(h.bin, "edgeloop"), "-config", conf)
	if err != nil {
		return err
	}
	h.pull = &system{name: "edgeloop-pull", port: h.ports["pull"], proc: p, admin: h.ports["pull-admin"], app: pushApp}
	return checkHello("http://" + addr + "/")
}

// checkHello GETs url and wants 200 and the app's body.
func checkHello(url string) error {
	resp, err := statusClient.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || string(b) != hello {
		return fmt.Errorf("GET %s: %s %.100q, want 200 %q", url, resp.Status, b, hello)
	}
	return nil
}

// startWorkers starts a pullworker process of n workers against the
// second edgeloop and waits until all n long-poll, then checks a request
// through /pull/.
func (h *harness) startWorkers(n int) (*process, error) {
	name := fmt.Sprintf("pullworker-%dw", n)
	logPath := filepath.Join(h.tmp, "pull", name+".log")
	p, err := startProcess(name, logPath, h.cpusOther, filepath.Join(h.bin, "pullworker"),
		"-proxy", fmt.Sprintf("http://127.0.0.1:%d", h.ports["pull-workers"]), "-c", strconv.Itoa(n), "-strip", "-id", name)
	if err != nil {
		return nil, err
	}
	h.all = append(h.all, p)
	err = h.waitWaiting(p, logPath, fmt.Sprintf("%d workers polling", n), func(w int) bool { return w >= n })
	if err == nil {
		err = checkHello(fmt.Sprintf("http://127.0.0.1:%d/pull/", h.ports["pull"]))
	}
	if err != nil {
		_ = h.stopWorkers(p)
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

// stopWorkers stops a pullworker process and waits until edgeloop sees
// none of its workers polling, so that the next run has only its own.
func (h *harness) stopWorkers(p *process) error {
	p.stop()
	for i, q := range h.all {
		if q == p {
			h.all = append(h.all[:i:i], h.all[i+1:]...)
			break
		}
	}
	return h.waitWaiting(nil, "", "no worker polling", func(w int) bool { return w == 0 })
}

// waitWaiting polls the second edgeloop's /stats until the pull pool's
// waiting_workers satisfies ok, for up to 15 s; it fails early, with its
// log's last line, if p (when not nil) exits meanwhile.
func (h *harness) waitWaiting(p *process, logPath, what string, ok func(int) bool) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/stats", h.ports["pull-admin"])
	deadline := time.Now().Add(15 * time.Second)
	last := -1
	for {
		if p != nil {
			select {
			case <-p.done:
				return fmt.Errorf("%s exited (%v): %s", p.name, p.err, lastLine(logPath))
			default:
			}
		}
		resp, err := statusClient.Get(url)
		if err != nil {
			return fmt.Errorf("pull edgeloop stats: %w", err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if last, err = pullWaiting(b, appPool); err != nil {
			return err
		}
		if ok(last) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting for %s: edgeloop shows %d after 15 s", what, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pullWaiting reads waiting_workers of pull pool pool from edgeloop's
// GET /stats:
//
//	{"client": {...}, "server": {...}, "pull": [{"pool": "app", "waiting_workers": 4, ...}]}
func pullWaiting(b []byte, pool string) (int, error) {
	var st struct {
		Pull []struct {
			Pool    string `json:"pool"`
			Waiting *int   `json:"waiting_workers"`
		} `json:"pull"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return 0, fmt.Errorf("pull edgeloop stats: %w", err)
	}
	for _, p := range st.Pull {
		if p.Pool == pool && p.Waiting != nil {
			return *p.Waiting, nil
		}
	}
	return 0, fmt.Errorf("pull edgeloop stats: no waiting_workers of pool %q in %.200q", pool, b)
}

// withApp runs fn against the second edgeloop as sc has it: with the push
// app behind it, or with a pullworker process of sc.Pull workers started
// before and stopped after. sys.app is the process whose CPU is the app's.
func (h *harness) withApp(sc Scenario, fn func(sys *system) error) (err error) {
	sys := *h.pull
	if sc.Pull > 0 {
		w, err := h.startWorkers(sc.Pull)
		if err != nil {
			return err
		}
		defer func() {
			if serr := h.stopWorkers(w); err == nil {
				err = serr
			}
		}()
		sys.app = w
	}
	return fn(&sys)
}

// appScenarios runs the app scenarios. Having one system each, they take
// turns among themselves, as the systems of a proxy scenario do: Repeats
// rounds in which each scenario runs once, in order, each run preceded by
// an unmeasured warm-up (a pull run's worker process is a new one), then
// one row per scenario of medians.
func (h *harness) appScenarios(ctx context.Context, scs []Scenario) ([]report.Row, error) {
	names := make([]string, len(scs))
	for i, sc := range scs {
		names[i] = sc.Name
	}
	h.logf("bench: %s (edgeloop in front of the app, in turns)", strings.Join(names, ", "))
	runs := make([][]*sample, len(scs))
	for r := 0; r < h.opt.Timing.Repeats; r++ {
		for i, sc := range scs {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			var s *sample
			err := h.withApp(sc, func(sys *system) error {
				if _, err := h.measure(ctx, sys, sc, h.opt.Timing.Warmup, sc.RPS); err != nil {
					return err
				}
				var err error
				s, err = h.measure(ctx, sys, sc, h.opt.Timing.Run, sc.RPS)
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("scenario %s: %w", sc.Name, err)
			}
			if s.disturbed != "" {
				h.notes = append(h.notes, fmt.Sprintf("%s, edgeloop, run %d: disturbed (%s)", sc.Name, r+1, s.disturbed))
			}
			h.logf("  %-16s run %d: %8.0f rps  %6.2f us CPU/req  app %6.2f us/req  p99 %7.0f us  errors %d%s", sc.Name, r+1,
				s.lg.RPS, s.cpuUS, s.appCPUUS, s.lg.LatencyUS["p99"], s.lg.Errors, map[bool]string{true: "  (disturbed)", false: ""}[s.disturbed != ""])
			runs[i] = append(runs[i], s)
		}
	}
	var rows []report.Row
	for i, sc := range scs {
		row := summarize(sc.Name, "edgeloop", runs[i])
		row.RateRPS = sc.RPS
		row.App, row.PullWorkers = "push", sc.Pull
		if sc.Pull > 0 {
			row.App = "pull"
		}
		if h.opt.Profile {
			err := h.withApp(sc, func(sys *system) error {
				var err error
				row.Profile, err = h.profile(ctx, sys, sc, sc.RPS)
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("scenario %s: %w", sc.Name, err)
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}
