package bench

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeloop/edgeloop/bench/report"
	"github.com/edgeloop/edgeloop/config"
)

func TestParseStat(t *testing.T) {
	// A command name with a space and a parenthesis, as /proc prints it.
	line := "4242 (we ird) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 123 4096 10 18446744073709551615\n"
	s, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if s.comm != "we ird) x" || s.ticks != 325 || s.kthread {
		t.Fatalf("got %+v, want comm %q ticks 325 user-space", s, "we ird) x")
	}
	kt := "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 1 2 0 0 20 0 1 0 1 0 0 18446744073709551615\n"
	if s, err := parseStat([]byte(kt)); err != nil || !s.kthread || s.ticks != 3 {
		t.Fatalf("kthread: %+v %v", s, err)
	}
	if _, err := parseStat([]byte("12 no parens")); err == nil {
		t.Fatal("a line without a command name parsed")
	}
}

func TestParseStubStatus(t *testing.T) {
	n, err := parseStubStatus([]byte("Active connections: 3 \nserver accepts handled requests\n 17 17 941 \nReading: 0 Writing: 1 Waiting: 2 \n"))
	if err != nil || n != 17 {
		t.Fatalf("got %d, %v; want 17", n, err)
	}
	if _, err := parseStubStatus([]byte("<html>not it</html>")); err == nil {
		t.Fatal("a page without accepts parsed")
	}
}

func TestForeign(t *testing.T) {
	before := snapshot{1: {comm: "a", ticks: 10}, 2: {comm: "ours", ticks: 5}, 3: {comm: "b", ticks: 7}}
	after := snapshot{1: {comm: "a", ticks: 12}, 2: {comm: "ours", ticks: 500}, 3: {comm: "b", ticks: 37}, 4: {comm: "new", ticks: 4}}
	total, who := foreign(before, after, map[int]bool{2: true})
	if total != 2+30+4 || who != "b(3)" {
		t.Fatalf("got %d %q; want 36 b(3)", total, who)
	}
}

func TestMedianAndSummarize(t *testing.T) {
	if m := median([]float64{5, 1, 3}); m != 3 {
		t.Fatalf("median odd: %v", m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Fatalf("median even: %v", m)
	}
	mk := func(rps, cpu float64, errs int64, status map[string]int64, rss int64, dist string) *sample {
		lg := &Loadgen{}
		lg.RPS, lg.Errors, lg.Status = rps, errs, status
		lg.LatencyUS = map[string]float64{"p99": rps / 10}
		return &sample{lg: lg, cpuUS: cpu, rss: rss, disturbed: dist}
	}
	row := summarize("s", "edgeloop", []*sample{
		mk(100, 10, 0, map[string]int64{"200": 5}, 10<<20, ""),
		mk(300, 30, 2, map[string]int64{"200": 5, "503": 1}, 30<<20, "busy"),
		mk(200, 12, 1, map[string]int64{"404": 2}, 20<<20, ""),
	})
	if row.RPS != 200 || row.CPUPerReq != 12 || row.P99 != 20 || row.Errors != 3 || row.Non2xx != 3 ||
		row.RSSMB != 30 || row.Disturbed != 1 || row.Runs != 3 {
		t.Fatalf("row %+v", row)
	}
	if want := (30.0 - 10) / 12; row.Spread != want {
		t.Fatalf("spread %v, want %v", row.Spread, want)
	}
}

// TestTreeAndTicks starts a shell with a busy child and checks that the
// child is found under it and its CPU counted, as nginx's workers are.
func TestTreeAndTicks(t *testing.T) {
	sh, err := startProcess("sh", filepath.Join(t.TempDir(), "log"), "", "sh", "-c",
		"timeout 5 sh -c 'while :; do :; done' & wait")
	if err != nil {
		t.Fatal(err)
	}
	defer sh.stop()
	var pids []int
	for i := 0; i < 50 && len(pids) < 2; i++ {
		time.Sleep(20 * time.Millisecond)
		pids = tree(sh.pid())
	}
	if len(pids) < 2 || pids[0] != sh.pid() {
		t.Fatalf("tree of %d: %v, want the shell and its child", sh.pid(), pids)
	}
	c0 := cpuTicks(pids)
	time.Sleep(300 * time.Millisecond)
	if d := cpuTicks(tree(sh.pid())) - c0; d < 10 {
		t.Fatalf("a busy child used %d ticks in 300 ms, want about 30", d)
	}
	for _, p := range tree(sh.pid())[1:] {
		_ = syscallKill(p)
	}
}

func syscallKill(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds loadgen, the bundled origin, edgeloop and pullworker
// once per test binary.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "benchtest-bin-")
		if buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", binDir+"/", "../cmd/loadgen", "../cmd/origin", "../cmd/edgeloop", "../cmd/pullworker").CombinedOutput()
		if err != nil {
			buildErr = err
			binDir = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build: %v %s", buildErr, binDir)
	}
	return binDir
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestOwnOutputParses drives the bundled origin with the real loadgen the
// way the harness does, parses its output with ParseLoadgen, charges the
// origin's CPU as the harness does, and writes and reads back the report:
// the harness's whole chain of parsing, on real output.
func TestOwnOutputParses(t *testing.T) {
	bin := binaries(t)
	dir := t.TempDir()
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	o, err := startProcess("origin", filepath.Join(dir, "origin.log"), "", filepath.Join(bin, "origin"), "-listen", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer o.stop()
	if err := o.waitListening(addr, filepath.Join(dir, "origin.log")); err != nil {
		t.Fatal(err)
	}
	h := &harness{bodyFile: filepath.Join(dir, "body")}
	if err := os.WriteFile(h.bodyFile, pattern(4096), 0o644); err != nil {
		t.Fatal(err)
	}
	h.opt.Threads = 1
	var samples []*sample
	for _, sc := range []Scenario{
		{Name: "get", Path: "/", Conns: 4},
		{Name: "post", Path: "/echo", Conns: 4, Method: "POST", Body: 4096},
		{Name: "missing", Path: "/status/404", Conns: 2},
	} {
		args := h.loadgenArgs(sc, port, 0, 0)
		args = append([]string{"-n", "3000"}, args...)
		args = slicesDelete(args, "-d", "0s")
		pids := tree(o.pid())
		c0 := cpuTicks(pids)
		out, err := exec.Command(filepath.Join(bin, "loadgen"), args...).Output()
		if err != nil {
			t.Fatalf("%s: loadgen %v: %v", sc.Name, args, err)
		}
		lg, err := ParseLoadgen(out)
		if err != nil {
			t.Fatalf("%s: %v", sc.Name, err)
		}
		if lg.Requests != 3000 || lg.Errors != 0 || lg.LatencyUS["p50"] <= 0 || lg.LatencyUS["p99"] < lg.LatencyUS["p50"] {
			t.Fatalf("%s: %+v", sc.Name, lg)
		}
		wantNon2xx := int64(0)
		if sc.Name == "missing" {
			wantNon2xx = 3000
		}
		if lg.Non2xx() != wantNon2xx {
			t.Fatalf("%s: non-2xx %d, want %d (status %v)", sc.Name, lg.Non2xx(), wantNon2xx, lg.Status)
		}
		s := &sample{lg: lg, cpuUS: float64(cpuTicks(pids)-c0) / clockTicks * 1e6 / float64(lg.Requests)}
		samples = append(samples, s)
	}
	if samples[1].lg.Bytes <= samples[0].lg.Bytes {
		t.Fatalf("echo of 4 KiB POSTs read %d bytes, GET / %d", samples[1].lg.Bytes, samples[0].lg.Bytes)
	}
	var total float64
	for _, s := range samples {
		total += s.cpuUS
	}
	if total <= 0 {
		t.Fatal("9000 requests cost the origin no CPU at all: /proc accounting is not read")
	}
	res := &report.Result{Machine: machine(), Date: time.Now().UTC().Format(time.RFC3339), Versions: map[string]string{"go": "x"},
		Rows: []report.Row{summarize("get", "origin-direct", samples[:1]), summarize("post", "origin-direct", samples[1:2])}}
	if err := write(res, dir); err != nil {
		t.Fatal(err)
	}
	back, err := report.ReadJSON(filepath.Join(dir, "latest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Rows) != 2 || back.Rows[1].Scenario != "post" || back.Rows[0].RPS != samples[0].lg.RPS {
		t.Fatalf("read back %+v", back.Rows)
	}
	md, err := os.ReadFile(filepath.Join(dir, "latest.md"))
	if err != nil || !strings.Contains(string(md), "origin-direct") {
		t.Fatalf("latest.md: %v\n%s", err, md)
	}
	if fi, err := os.Stat(filepath.Join(dir, "latest.svg")); err != nil || fi.Size() < 1000 {
		t.Fatalf("latest.svg: %v", err)
	}
}

// slicesDelete removes the adjacent pair a, b from args.
func slicesDelete(args []string, a, b string) []string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == a && args[i+1] == b {
			return append(args[:i:i], args[i+2:]...)
		}
	}
	return args
}

func TestScenarios(t *testing.T) {
	seen := map[string]bool{}
	for _, sc := range FullScenarios {
		if seen[sc.Name] {
			t.Fatalf("scenario %s twice", sc.Name)
		}
		seen[sc.Name] = true
		if sc.App {
			// The second edgeloop only; /pull/ is the pull pool's route.
			if sys := sc.systems(); len(sys) != 1 || sys[0] != "edgeloop" || sc.Rate != 0 || sc.Direct || sc.Bare ||
				(sc.Pull > 0) != (sc.Path == "/pull/") || (sc.Pull == 0 && sc.Path != "/") {
				t.Fatalf("app scenario %+v, systems %v", sc, sc.systems())
			}
			continue
		}
		if sys := sc.systems(); len(sys) < 3 || sys[0] != "edgeloop" || sys[1] != "nginx" || sys[2] != "haproxy" {
			t.Fatalf("%s systems %v", sc.Name, sys)
		}
		if sc.RPS != 0 || sc.Pull != 0 {
			t.Fatalf("%s: a proxy scenario with app fields", sc.Name)
		}
	}
	// What the issue asks: 1, 4 and 16 workers beside push, and push
	// against 4 workers at one fixed rate.
	byName := map[string]Scenario{}
	for _, sc := range FullScenarios {
		byName[sc.Name] = sc
	}
	for name, pull := range map[string]int{"app-push": 0, "app-pull-1w": 1, "app-pull-4w": 4, "app-pull-16w": 16, "app-push-rate": 0, "app-pull-4w-rate": 4} {
		sc, ok := byName[name]
		if !ok || !sc.App || sc.Pull != pull || sc.Conns != 64 || (sc.RPS > 0) != strings.HasSuffix(name, "-rate") {
			t.Fatalf("scenario %s: %+v", name, sc)
		}
	}
	if byName["app-push-rate"].RPS != byName["app-pull-4w-rate"].RPS {
		t.Fatal("the fixed-rate app rows differ in rate")
	}
	if FullScenarios[0].Name != "small-keepalive" || QuickScenarios[0].Name != "small-keepalive" {
		t.Fatal("small-keepalive must come first: fixed rates are fractions of nginx's peak in it")
	}
	for _, sc := range QuickScenarios {
		if !seen[sc.Name] {
			t.Fatalf("quick scenario %s is not a full one", sc.Name)
		}
		if sc.App {
			t.Fatalf("quick scenario %s is an app scenario", sc.Name)
		}
	}
	h := &harness{bodyFile: "/b"}
	h.opt.Threads = 2
	got := strings.Join(h.loadgenArgs(Scenario{Path: "/x", Conns: 9, Method: "POST", Body: 1, Close: true, Pipeline: 4}, 7, time.Second, 123.4), " ")
	want := "-json -t 2 -c 9 -d 1s -timeout 10s -rate 123 -m POST -body /b -H Content-Type: application/octet-stream -close -pipeline 4 http://127.0.0.1:7/x"
	if got != want {
		t.Fatalf("loadgen args\n got %s\nwant %s", got, want)
	}
}

// TestPullTemplate renders edgeloop-pull.yaml.tmpl as the harness does and
// loads it as edgeloop would: a valid config with the push app as pool
// default, a pull pool app routed by /pull/, and the worker API.
func TestPullTemplate(t *testing.T) {
	h := &harness{opt: Options{Root: ".."}}
	p := ports(28080)
	dir := t.TempDir()
	path, err := h.render("edgeloop-pull.yaml.tmpl", "edgeloop.yaml", tmplData{Dir: dir,
		Port: p["pull"], AdminPort: p["pull-admin"], WorkerPort: p["pull-workers"], Workers: 2, Keepalive: keepalive,
		Origin: "127.0.0.1:" + strconv.Itoa(p["app"])})
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Load([]string{"-config", path})
	if err != nil {
		b, _ := os.ReadFile(path)
		t.Fatalf("%v\n%s", err, b)
	}
	if c.Listen != "127.0.0.1:28088" || c.Admin != "127.0.0.1:28089" || c.WorkerListen != "127.0.0.1:28090" ||
		c.Loops != 2 || c.State != dir+"/state.json" || c.Limits.IdlePerOrigin != keepalive {
		t.Errorf("config %+v", c)
	}
	def, app := c.Pools["default"], c.Pools[appPool]
	if def == nil || def.Kind != "" || len(def.Servers) != 1 || def.Servers[0].URL != "http://127.0.0.1:28091" {
		t.Errorf("pool default: %+v", def)
	}
	if app == nil || app.Kind != "pull" || len(app.Servers) != 0 {
		t.Errorf("pool app: %+v", app)
	}
	if len(c.Routes) != 1 || c.Routes[0].PathPrefix != "/pull/" || c.Routes[0].Pool != appPool || c.Routes[0].Host != "" {
		t.Errorf("routes %+v", c.Routes)
	}
	// The twelve ports are distinct.
	seen := map[int]bool{}
	for _, port := range p {
		if seen[port] || port < 28080 || port > 28091 {
			t.Fatalf("ports %v", p)
		}
		seen[port] = true
	}
}

func TestPullWaiting(t *testing.T) {
	b := []byte(`{"client":{"success":2,"failed":0},"server":{"success":1,"failed":0},"pull":[` +
		`{"pool":"other","waiting_workers":9},{"pool":"app","queued":0,"leased":1,"waiting_workers":4,"workers":[]}]}`)
	if n, err := pullWaiting(b, "app"); err != nil || n != 4 {
		t.Fatalf("got %d, %v; want 4", n, err)
	}
	for _, bad := range []string{`{"client":{}}`, `{"pull":[{"pool":"app"}]}`, `not json`} {
		if _, err := pullWaiting([]byte(bad), "app"); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// TestPullChain runs app scenarios the way the harness does, shortened:
// the second edgeloop from its template and the push app, then rounds in
// which each scenario's pullworker process is started, waited for,
// measured with loadgen and stopped; then the report. Every process is
// stopped at the end.
func TestPullChain(t *testing.T) {
	if testing.Short() {
		t.Skip("starts edgeloop, pullworker and loadgen")
	}
	bin := binaries(t)
	h := &harness{tmp: t.TempDir(), bin: bin, systems: map[string]*system{}}
	h.opt.Root, h.opt.Threads, h.opt.Workers, h.opt.Log = "..", 1, 1, t.Output()
	h.opt.Timing = Timing{Run: 400 * time.Millisecond, Warmup: 100 * time.Millisecond, Repeats: 2}
	h.ports = map[string]int{"pull": freePort(t), "pull-admin": freePort(t), "pull-workers": freePort(t), "app": freePort(t)}
	defer h.stopAll()
	if err := h.startApp(); err != nil {
		t.Fatal(err)
	}
	scs := []Scenario{
		{Name: "app-push", Path: "/", Conns: 4, App: true},
		{Name: "app-pull-2w", Path: "/pull/", Conns: 4, App: true, Pull: 2},
		{Name: "app-pull-2w-rate", Path: "/pull/", Conns: 4, App: true, Pull: 2, RPS: 200},
	}
	rows, err := h.appScenarios(context.Background(), scs)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	for i, r := range rows {
		wantApp := map[bool]string{true: "pull", false: "push"}[scs[i].Pull > 0]
		if r.Scenario != scs[i].Name || r.System != "edgeloop" || r.App != wantApp || r.PullWorkers != scs[i].Pull ||
			r.Runs != 2 || r.Errors != 0 || r.Non2xx != 0 || r.RPS <= 0 || r.P50 <= 0 || r.RateRPS != scs[i].RPS {
			t.Errorf("row %d: %+v", i, r)
		}
		if r.RateRPS == 0 && (r.CPUPerReq <= 0 || r.AppCPUPerReq <= 0) {
			t.Errorf("%s: edgeloop %.2f, app %.2f µs/req: a CPU not counted", r.Scenario, r.CPUPerReq, r.AppCPUPerReq)
		}
	}
	if r := rows[2]; r.RPS < 150 || r.RPS > 250 {
		t.Errorf("fixed 200 rps ran at %.0f", r.RPS)
	}
	// The worker processes are gone, and none of their workers polls.
	if len(h.all) != 2 || h.all[0].name != "push-app" || h.all[1].name != "edgeloop-pull" {
		t.Errorf("processes left: %d", len(h.all))
	}
	if err := h.waitWaiting(nil, "", "no worker", func(w int) bool { return w == 0 }); err != nil {
		t.Error(err)
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "latest.svg"), []byte("<svg/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := write(&report.Result{Date: "d", Machine: "m", Rows: rows}, dir); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "latest.md"))
	pullRow := ""
	for _, l := range strings.Split(string(md), "\n") {
		if strings.HasPrefix(l, "| app-pull-2w ") {
			pullRow = l // the Pull mode table's, which comes last
		}
	}
	if err != nil || !strings.Contains(string(md), "## Pull mode") || !strings.Contains(pullRow, " | 2 | ") {
		t.Errorf("latest.md: %v\n%s", err, md)
	}
	if _, err := os.Stat(filepath.Join(dir, "latest.svg")); err == nil {
		t.Error("a stale latest.svg is left beside results with no chart")
	}

	all := append([]*process(nil), h.all...)
	h.stopAll()
	for _, p := range all {
		select {
		case <-p.done:
		default:
			t.Errorf("%s still runs", p.name)
		}
	}
}
