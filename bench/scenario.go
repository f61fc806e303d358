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
	Direct   bool    // also run against the origin directly
	Bare     bool    // also run against the bare gnet and evio servers
}

// Systems is the order systems alternate in within a scenario.
var proxies = []string{"edgeloop", "nginx", "haproxy"}

// systems lists the systems sc is run against, proxies first.
func (sc Scenario) systems() []string {
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
}

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
	fullTiming  = Timing{Run: 5 * time.Second, Warmup: 500 * time.Millisecond, Repeats: 3}
	quickTiming = Timing{Run: 1500 * time.Millisecond, Warmup: 300 * time.Millisecond, Repeats: 3}
)
