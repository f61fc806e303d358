// Package config turns edgeloop's command line and YAML file
// (CONTRACT.md, "edgeloop") into a validated Config. It owns no sockets
// and starts nothing; cmd/edgeloop wires what it returns.
//
// Imports: the standard library and gopkg.in/yaml.v3; nothing of ours.
// Every error is an *Error naming the key (a dotted YAML path, or a flag
// as "-name"), one line, so that edgeloop can print it and exit 2.
package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Error is a bad flag or config value: Key names it, Msg says what is
// wrong. Error() is one line.
type Error struct{ Key, Msg string }

func (e *Error) Error() string {
	return "config: " + e.Key + ": " + strings.ReplaceAll(e.Msg, "\n", " ")
}

func errf(key, format string, args ...any) *Error {
	return &Error{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Config is the whole configuration, defaults applied and validated.
type Config struct {
	Listen       string
	Admin        string
	AdminToken   string
	WorkerListen string // the worker API of pull pools
	WorkerToken  string // required from workers when set; must be set off loopback
	State        string
	Loops        int // 0 = one per CPU
	LogFormat    string
	AccessLog    bool
	DeferAccept  bool // TCP_DEFER_ACCEPT on the client listeners
	Timeouts     Timeouts
	Limits       Limits
	Pools        map[string]*Pool // always holds "default"
	Routes       []Route
	Passive      Passive
	Origins      []string // -origin URLs, in order, validated
	Check        bool
	Version      bool
	ConfigFile   string
}

// Timeouts (key "timeouts"): Go durations, each > 0.
type Timeouts struct {
	ClientHead, ClientIdle, OriginConnect, OriginResponse, OriginIdle, Drain time.Duration
}

// Limits (key "limits").
type Limits struct {
	MaxRequestLine int
	MaxHeaderBytes int
	MaxFields      int
	MaxBodyBytes   int64 // 0 = unlimited
	RetryBodyBytes int64
	IdlePerOrigin  int
}

// Pool is a named pool of origins.
type Pool struct {
	Kind    string // "" (servers are dialed) or "pull" (workers fetch)
	Balance string // round_robin, least_conn, p2c_ewma, hash
	HashKey string // for hash: ip, header:NAME or cookie:NAME
	Check   HealthCheck
	// MaxConns caps each server's requests in flight (0: no cap); when all
	// are full, up to QueueLen requests wait up to QueueTimeout, then 503.
	MaxConns     int
	QueueLen     int
	QueueTimeout time.Duration
	Servers      []Server
	// Kind pull: a worker holds a fetched request for Lease; bodies up
	// to InlineBody go inline as base64; MaxBody caps one request body
	// and QueueBody all the bodies the pool holds.
	Lease                          time.Duration
	InlineBody, MaxBody, QueueBody int64
}

// Passive is passive health checking (key passive_health): Fails
// consecutive connect errors, resets, timeouts or 5xx on live traffic
// eject a server for CoolDown, doubling on each repeat up to MaxCoolDown;
// the last usable server of a pool stays unless EjectLast. Fails 0: off.
type Passive struct {
	Fails                 int
	CoolDown, MaxCoolDown time.Duration
	EjectLast             bool
}

// HealthCheck is a pool's active health check (key health_check).
type HealthCheck struct {
	Enabled           bool
	Path              string
	Interval, Timeout time.Duration
	Fall, Rise        int
}

// DefaultCheck is weldr's: GET / every 30 s, 2 s timeout, down after 3
// failures, up again after 2 successes.
func DefaultCheck() HealthCheck {
	return HealthCheck{Enabled: true, Path: "/", Interval: 30 * time.Second, Timeout: 2 * time.Second, Fall: 3, Rise: 2}
}

// Server is one origin of a pool.
type Server struct {
	URL    string
	Weight int // 1-1000
	Host   string
	Port   int
}

// Route sends requests to a pool by host and longest path prefix.
type Route struct{ Host, PathPrefix, Pool string }

// Defaults returns the configuration with no flag and no file.
func Defaults() *Config {
	return &Config{
		Listen: ":8080", Admin: "127.0.0.1:8687", WorkerListen: "127.0.0.1:8688", State: "edgeloop.state.json", LogFormat: "text", DeferAccept: true,
		Timeouts: Timeouts{
			ClientHead: 10 * time.Second, ClientIdle: 60 * time.Second, OriginConnect: 2 * time.Second,
			OriginResponse: 30 * time.Second, OriginIdle: 60 * time.Second, Drain: 30 * time.Second,
		},
		Limits: Limits{
			MaxRequestLine: 8192, MaxHeaderBytes: 16384, MaxFields: 100,
			RetryBodyBytes: 64 << 10, IdlePerOrigin: 64,
		},
		Passive: Passive{Fails: 5, CoolDown: 10 * time.Second, MaxCoolDown: 5 * time.Minute},
		Pools: map[string]*Pool{"default": {Balance: "round_robin", HashKey: "ip", Check: DefaultCheck(),
			QueueLen: 1024, QueueTimeout: 5 * time.Second}},
	}
}

// Usage is the flags' help text.
func Usage() string {
	var b bytes.Buffer
	fs, _ := newFlags(Defaults())
	fs.SetOutput(&b)
	fs.PrintDefaults()
	return b.String()
}

// flagValues holds what the flags set, before they are laid over the file.
type flagValues struct {
	config, listen, admin, state, logFormat *string
	loops                                   *int
	check, version                          *bool
	origins                                 *originList
}

type originList []string

func (o *originList) String() string     { return strings.Join(*o, ",") }
func (o *originList) Set(v string) error { *o = append(*o, v); return nil }

func newFlags(d *Config) (*flag.FlagSet, *flagValues) {
	fs := flag.NewFlagSet("edgeloop", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	v := &flagValues{
		config:    fs.String("config", "", "YAML configuration `file`"),
		listen:    fs.String("listen", d.Listen, "client `address`"),
		admin:     fs.String("admin", d.Admin, "management API `address`"),
		state:     fs.String("state", d.State, "state `file` of dynamic pool changes"),
		logFormat: fs.String("log-format", d.LogFormat, "log format: text or json"),
		loops:     fs.Int("loops", d.Loops, "event loops (0 = one per CPU)"),
		check:     fs.Bool("check", false, "validate the configuration and exit"),
		version:   fs.Bool("version", false, "print the version and exit"),
		origins:   &originList{},
	}
	fs.Var(v.origins, "origin", "origin `URL` added to pool default (repeatable)")
	return fs, v
}

// Load reads the flags in args, then the -config file if one is named,
// then lays the flags given over the file; it validates everything.
func Load(args []string) (*Config, error) {
	cfg := Defaults()
	fs, fv := newFlags(cfg)
	if err := fs.Parse(args); err != nil {
		return nil, flagError(err)
	}
	if fs.NArg() > 0 {
		return nil, errf(fs.Arg(0), "unexpected argument")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *fv.config != "" {
		cfg.ConfigFile = *fv.config
		if err := cfg.readFile(*fv.config); err != nil {
			return nil, err
		}
	}
	if set["listen"] {
		cfg.Listen = *fv.listen
	}
	if set["admin"] {
		cfg.Admin = *fv.admin
	}
	if set["state"] {
		cfg.State = *fv.state
	}
	if set["log-format"] {
		cfg.LogFormat = *fv.logFormat
	}
	if set["loops"] {
		cfg.Loops = *fv.loops
	}
	cfg.Check, cfg.Version = *fv.check, *fv.version
	for _, u := range *fv.origins {
		if _, _, err := parseOrigin(u); err != nil {
			return nil, errf("-origin", "%q: %s", u, err)
		}
		cfg.Origins = append(cfg.Origins, u)
	}
	if err := cfg.validate(set); err != nil {
		return nil, err
	}
	return cfg, nil
}

// flagError names the flag a parse error is about.
func flagError(err error) *Error {
	msg := err.Error()
	if _, rest, ok := strings.Cut(msg, "-"); ok && strings.Contains(msg, "flag") {
		name, _, _ := strings.Cut(rest, " ")
		name = strings.TrimRight(name, ":")
		return &Error{Key: "-" + name, Msg: msg}
	}
	return &Error{Key: "flags", Msg: msg}
}

func (c *Config) validate(set map[string]bool) error {
	key := func(name, flagName string) string {
		if set[flagName] {
			return "-" + flagName
		}
		return name
	}
	if err := checkAddr(c.Listen, true); err != nil {
		return errf(key("listen", "listen"), "%q: %s", c.Listen, err)
	}
	if err := checkAddr(c.Admin, false); err != nil {
		return errf(key("admin", "admin"), "%q: %s", c.Admin, err)
	}
	if host, _, _ := net.SplitHostPort(c.Admin); !isLoopback(host) && c.AdminToken == "" {
		return errf(key("admin", "admin"), "%q is not a loopback address: set admin_token", c.Admin)
	}
	if c.WorkerListen != "" {
		if err := checkAddr(c.WorkerListen, true); err != nil {
			return errf("worker_listen", "%q: %s", c.WorkerListen, err)
		}
		if host, _, _ := net.SplitHostPort(c.WorkerListen); !isLoopback(host) && c.WorkerToken == "" {
			return errf("worker_listen", "%q is not a loopback address: set worker_token", c.WorkerListen)
		}
	}
	if c.WorkerListen == "" {
		for _, name := range sortedKeys(c.Pools) {
			if c.Pools[name].Kind == "pull" {
				return errf("worker_listen", "empty, but pool %s is kind: pull: its workers need the worker API", name)
			}
		}
	}
	if c.Loops < 0 {
		return errf(key("loops", "loops"), "%d: must be 0 (one per CPU) or more", c.Loops)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return errf(key("log_format", "log-format"), "%q: want text or json", c.LogFormat)
	}
	if c.State == "" {
		return errf(key("state", "state"), "must not be empty")
	}
	return nil
}

func checkAddr(a string, emptyHostOK bool) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return errors.New("want host:port")
	}
	if host == "" && !emptyHostOK {
		return errors.New("want a host")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return errors.New("port must be 0-65535")
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// parseOrigin checks an origin URL: http, a host, no path, query or
// userinfo; no port means 80 (CONTRACT.md).
func parseOrigin(raw string) (host string, port int, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", 0, errors.New("not a URL")
	}
	switch {
	case u.Scheme == "https":
		return "", 0, errors.New("https origins are not supported yet")
	case u.Scheme != "http":
		return "", 0, errors.New("scheme must be http")
	case u.Hostname() == "":
		return "", 0, errors.New("no host")
	case u.User != nil, u.RawQuery != "", u.Fragment != "", u.Path != "" && u.Path != "/":
		return "", 0, errors.New("only scheme, host and port are allowed")
	}
	port = 80
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
			return "", 0, errors.New("port must be 1-65535")
		}
	}
	return u.Hostname(), port, nil
}

// readFile decodes the YAML file over the defaults.
func (c *Config) readFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return errf("-config", "%s", err)
	}
	var f fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		var doc yaml.Node
		_ = yaml.Unmarshal(b, &doc)
		return yamlError(path, err, keyLines(&doc))
	}
	return f.apply(c)
}

// keyLines maps the line of each value in the document to its key's path
// (pools.default.max_conns, routes[0].pool), so that a type error, which
// yaml.v3 reports by line, can name its key.
func keyLines(doc *yaml.Node) map[int]string {
	lines := map[int]string{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				key := n.Content[i].Value
				if path != "" {
					key = path + "." + key
				}
				v := n.Content[i+1]
				walk(v, key)
				if _, seen := lines[v.Line]; !seen { // the deepest key on the line
					lines[v.Line] = key
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	walk(doc, "")
	return lines
}

// yamlError turns yaml.v3's messages into one line naming the key.
func yamlError(path string, err error, lines map[int]string) *Error {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if i := strings.Index(msg, "field "); i >= 0 && strings.Contains(msg, "not found in type") {
		name, _, _ := strings.Cut(msg[i+len("field "):], " ")
		return &Error{Key: name, Msg: "unknown key (" + msg + ")"}
	}
	// A value of the wrong type: yaml.v3 says "line 3: cannot unmarshal
	// !!str `x` into bool"; the first such error names its key.
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		var line int
		if _, err := fmt.Sscanf(te.Errors[0], "line %d:", &line); err == nil && lines[line] != "" {
			_, what, _ := strings.Cut(te.Errors[0], ": ")
			return &Error{Key: lines[line], Msg: what + " (" + path + ", line " + strconv.Itoa(line) + ")"}
		}
	}
	return &Error{Key: path, Msg: msg}
}
