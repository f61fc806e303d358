package bench

import "time"

// Scenario is one workload every system is driven with.
type Scenario struct {
	Name     string
	Path     string  // on the origin; the proxies pass it through
	Conns    int     // loadgen connections
	Method   string  // "" is GET
	Body     int     // request body bytes (POST)
	Close    bool    // a new connection per request
	Pipeline int     // requests in flight per connection; 0 or 1: none
	Rate     float64 // open model: this fraction of nginx's small-keepalive peak
	RPS      float64 // open model at this fixed rate (app scenarios)
	Direct   bool    // also run against the origin directly
	Bare     bool    // also run against the bare gnet and evio servers
	// App: a pull-mode scenario, run against the second edgeloop only
	// (edgeloop-pull.yaml.tmpl): the app served by Pull workers of one
	// pullworker process under /pull/, or with Pull 0 by the same app as
	// a push origin.
	App  bool
	Pull int
}

// Systems is the order systems alternate in within a scenario.
var proxies = []string{"edgeloop", "nginx", "haproxy"}

// systems lists the systems sc is run against, proxies first. An app
// scenario has one: edgeloop (the second one, in front of the app).
func (sc Scenario) systems() []string {
	if sc.App {
		return []string{"edgeloop"}
	}
	s := append([]string(nil), proxies...)
	if sc.Direct {
		s = append(s, "origin-direct")
	}
	if sc.Bare {
		s = append(s, "gnet-bare", "evio-bare")
	}
	return s
}

// FullScenarios is `make bench`. small-keepalive comes first: the open-model
// rates are fractions of nginx's peak in it.
var FullScenarios = []Scenario{
	{Name: "small-keepalive", Path: "/", Conns: 64, Direct: true, Bare: true},
	{Name: "body-1k", Path: "/b/1k", Conns: 64, Direct: true},
	{Name: "body-64k", Path: "/b/64k", Conns: 64, Direct: true},
	{Name: "body-1m", Path: "/b/1m", Conns: 16, Direct: true},
	{Name: "new-conn", Path: "/", Conns: 64, Close: true, Direct: true, Bare: true},
	{Name: "conns-1000", Path: "/", Conns: 1000, Direct: true},
	{Name: "post-4k", Path: "/", Conns: 64, Method: "POST", Body: 4096, Direct: true},
	{Name: "pipelined-16", Path: "/", Conns: 64, Pipeline: 16, Direct: true, Bare: true},
	{Name: "open-25pct", Path: "/", Conns: 64, Rate: 0.25},
	{Name: "open-50pct", Path: "/", Conns: 64, Rate: 0.50},
	{Name: "open-75pct", Path: "/", Conns: 64, Rate: 0.75},
	// Pull mode against the same app pushed to: throughput with 1, 4 and
	// 16 workers, then added latency at one fixed rate that every setup
	// sustains. They alternate among themselves (appScenarios).
	{Name: "app-push", Path: "/", Conns: 64, App: true},
	{Name: "app-pull-1w", Path: "/pull/", Conns: 64, App: true, Pull: 1},
	{Name: "app-pull-4w", Path: "/pull/", Conns: 64, App: true, Pull: 4},
	{Name: "app-pull-16w", Path: "/pull/", Conns: 64, App: true, Pull: 16},
	{Name: "app-push-rate", Path: "/", Conns: 64, RPS: appRate, App: true},
	{Name: "app-pull-4w-rate", Path: "/pull/", Conns: 64, RPS: appRate, App: true, Pull: 4},
}

// appRate is the fixed rate of the app-*-rate scenarios: about a fifth of
// what 4 pull workers answer at most on 2 CPUs, so that both rows measure
// latency, not a queue.
const appRate = 1000

// QuickScenarios is BENCH_QUICK=1: one of each kind of load (keep-alive,
// body upload, connection setup, fixed rate), about a minute in all.
var QuickScenarios = []Scenario{
	{Name: "small-keepalive", Path: "/", Conns: 64, Direct: true, Bare: true},
	{Name: "post-4k", Path: "/", Conns: 64, Method: "POST", Body: 4096},
	{Name: "new-conn", Path: "/", Conns: 64, Close: true},
	{Name: "open-50pct", Path: "/", Conns: 64, Rate: 0.50},
}

// Timing is how long each measured run and each warm-up lasts, and how
// many times each system runs a scenario.
type Timing struct {
	Run, Warmup time.Duration
	Repeats     int
}

var (
	// Five rounds, as the project's standard asks of any comparison: on
	// this VM a row's rounds spread by 10-30%, and a median of three moved
	// a close scenario's ratio by as much as its margin.
	fullTiming  = Timing{Run: 3 * time.Second, Warmup: 500 * time.Millisecond, Repeats: 5}
	quickTiming = Timing{Run: 1 * time.Second, Warmup: 250 * time.Millisecond, Repeats: 5}
)
