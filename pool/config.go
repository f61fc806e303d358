package pool

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config builds a Registry.
type Config struct {
	Pools     []PoolConfig  // must include "default" (New adds an empty round_robin "default" if missing)
	Routes    []RouteConfig // longest PathPrefix wins; no match: pool "default"
	StateFile string        // "" = no persistence
	// Origins are added to pool "default" after the state file is read
	// (edgeloop's -origin flags); see New.
	Origins      []ServerConfig
	DrainTimeout time.Duration // 0 = 30s
	Passive      PassiveConfig
}

// KindPull is the Kind of a pull pool: workers fetch its requests
// (package queue) and it has no servers.
const KindPull = "pull"

// PoolConfig is one pool of the configuration.
type PoolConfig struct {
	Name    string
	Kind    string // "" (dialed origins) or "pull"
	Policy  string // "round_robin" (default when ""), "least_conn", "p2c_ewma", "hash"
	HashKey string // policy hash: "ip" (default), "header:NAME" or "cookie:NAME"
	Servers []ServerConfig
	Check   CheckConfig
	// MaxConns caps each server's requests in flight (0 = no cap). When
	// every usable server is at its cap, a request waits in the pool's
	// queue, in order, for at most QueueTimeout (default 5 s); at most
	// QueueLen (default 1024) wait (HAProxy's maxconn queue).
	MaxConns     int
	QueueLen     int
	QueueTimeout time.Duration
}

// ServerConfig is one origin of a configured pool.
type ServerConfig struct {
	URL    string // http://host[:port]
	Weight int    // 0 means 1
}

// CheckConfig sets a pool's active health checks.
type CheckConfig struct {
	Disabled bool
	Path     string        // default "/"
	Interval time.Duration // default 30s (weldr)
	Timeout  time.Duration // default 2s
	Fall     int           // default 3 consecutive failures -> Down
	Rise     int           // default 2 consecutive successes -> Active again
}

// PassiveConfig sets passive health checking: ejection of a server whose
// exchanges keep failing, for every pool.
type PassiveConfig struct {
	Fails       int           // consecutive failures (connect errors, resets, 5xx) that eject; default 5; <0 disables
	CoolDown    time.Duration // first ejection; doubles on each repeat up to MaxCoolDown; default 10s
	MaxCoolDown time.Duration // default 5m
	EjectLast   bool          // false: never eject the last usable server of a pool
}

// RouteConfig sends requests for Host (any host when empty) whose path
// starts with PathPrefix to Pool.
type RouteConfig struct{ Host, PathPrefix, Pool string }

// Defaults applied by New.
const (
	defaultDrainTimeout = 30 * time.Second
	defaultInterval     = 30 * time.Second
	defaultTimeout      = 2 * time.Second
	defaultFall         = 3
	defaultRise         = 2
	defaultFails        = 5
	defaultCoolDown     = 10 * time.Second
	defaultMaxCoolDown  = 5 * time.Minute
	maxWeight           = 1000
)

// policy is a pool's selection policy.
type policy uint8

const (
	roundRobin policy = iota
	leastConn
	p2cEWMA
	hashPolicy
)

func parsePolicy(s string) (policy, bool) {
	switch s {
	case "", "round_robin":
		return roundRobin, true
	case "least_conn":
		return leastConn, true
	case "p2c_ewma":
		return p2cEWMA, true
	case "hash":
		return hashPolicy, true
	}
	return 0, false
}

func badInput(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadInput}, a...)...)
}

// withDefaults checks cfg and fills in its defaults; the result shares
// nothing mutable with cfg.
func withDefaults(cfg Config) (Config, error) {
	out := cfg
	out.Pools = nil
	if out.DrainTimeout < 0 {
		return out, badInput("drain timeout %v is negative", cfg.DrainTimeout)
	}
	if out.DrainTimeout == 0 {
		out.DrainTimeout = defaultDrainTimeout
	}
	p := &out.Passive
	if p.Fails == 0 {
		p.Fails = defaultFails
	}
	if p.CoolDown < 0 || p.MaxCoolDown < 0 {
		return out, badInput("passive cool-down is negative")
	}
	if p.CoolDown == 0 {
		p.CoolDown = defaultCoolDown
	}
	if p.MaxCoolDown == 0 {
		p.MaxCoolDown = defaultMaxCoolDown
	}
	p.MaxCoolDown = max(p.MaxCoolDown, p.CoolDown)
	seen := map[string]bool{}
	for _, pc := range cfg.Pools {
		if seen[pc.Name] {
			return out, badInput("pool %q is configured twice", pc.Name)
		}
		seen[pc.Name] = true
		npc, err := poolDefaults(pc)
		if err != nil {
			return out, err
		}
		out.Pools = append(out.Pools, npc)
	}
	if !seen["default"] {
		out.Pools = append(out.Pools, PoolConfig{Name: "default", Policy: "round_robin",
			HashKey: "ip", Check: checkDefaults(CheckConfig{})})
	}
	out.Routes = nil
	for _, rc := range cfg.Routes {
		if !seen[rc.Pool] && rc.Pool != "default" {
			return out, badInput("route %q%s goes to unknown pool %q", rc.Host, rc.PathPrefix, rc.Pool)
		}
		if rc.PathPrefix != "" && rc.PathPrefix[0] != '/' {
			return out, badInput("route path prefix %q does not start with /", rc.PathPrefix)
		}
		rc.Host = strings.ToLower(stripPort(rc.Host))
		out.Routes = append(out.Routes, rc)
	}
	return out, nil
}

// poolDefaults checks one pool's configuration and fills in its defaults.
func poolDefaults(pc PoolConfig) (PoolConfig, error) {
	if !validName(pc.Name) {
		return pc, badInput("pool name %q: want letters, digits, '-', '_' or '.'", pc.Name)
	}
	switch pc.Kind {
	case "":
	case "pull":
		if len(pc.Servers) > 0 {
			return pc, badInput("pool %q: a pull pool takes no servers", pc.Name)
		}
		pc.Check.Disabled = true
	default:
		return pc, badInput("pool %q: unknown kind %q (want \"\" or \"pull\")", pc.Name, pc.Kind)
	}
	if pc.MaxConns < 0 || pc.QueueLen < 0 || pc.QueueTimeout < 0 {
		return pc, badInput("pool %q: max_conns, queue length and queue timeout must not be negative", pc.Name)
	}
	if pc.QueueLen == 0 {
		pc.QueueLen = 1024
	}
	if pc.QueueTimeout == 0 {
		pc.QueueTimeout = 5 * time.Second
	}
	if _, ok := parsePolicy(pc.Policy); !ok {
		return pc, badInput("pool %q: unknown policy %q (want round_robin, least_conn, p2c_ewma or hash)", pc.Name, pc.Policy)
	}
	if pc.Policy == "" {
		pc.Policy = "round_robin"
	}
	if _, _, err := parseHashKey(pc.HashKey); err != nil {
		return pc, fmt.Errorf("pool %q: %w", pc.Name, err)
	}
	if pc.HashKey == "" {
		pc.HashKey = "ip"
	}
	if err := checkValid(pc.Check); err != nil {
		return pc, fmt.Errorf("pool %q: %w", pc.Name, err)
	}
	pc.Check = checkDefaults(pc.Check)
	servers := make([]ServerConfig, 0, len(pc.Servers))
	addrs := map[string]bool{}
	for _, sc := range pc.Servers {
		u, err := parseServerURL(sc.URL)
		if err != nil {
			return pc, fmt.Errorf("pool %q: %w", pc.Name, err)
		}
		w, err := checkWeight(sc.Weight)
		if err != nil {
			return pc, fmt.Errorf("pool %q: server %s: %w", pc.Name, sc.URL, err)
		}
		if addrs[u.addr] {
			return pc, badInput("pool %q: server %s is listed twice", pc.Name, u.url)
		}
		addrs[u.addr] = true
		servers = append(servers, ServerConfig{URL: u.url, Weight: w})
	}
	pc.Servers = servers
	return pc, nil
}

func checkValid(c CheckConfig) error {
	if c.Interval < 0 || c.Timeout < 0 || c.Fall < 0 || c.Rise < 0 {
		return badInput("health check interval, timeout, fall and rise must not be negative")
	}
	if c.Path == "" {
		return nil
	}
	if c.Path[0] != '/' {
		return badInput("health check path %q does not start with /", c.Path)
	}
	for i := 0; i < len(c.Path); i++ {
		if b := c.Path[i]; b <= ' ' || b == 0x7f {
			return badInput("health check path %q holds a space or control byte", c.Path)
		}
	}
	return nil
}

func checkDefaults(c CheckConfig) CheckConfig {
	if c.Path == "" {
		c.Path = "/"
	}
	if c.Interval == 0 {
		c.Interval = defaultInterval
	}
	if c.Timeout == 0 {
		c.Timeout = defaultTimeout
	}
	if c.Fall == 0 {
		c.Fall = defaultFall
	}
	if c.Rise == 0 {
		c.Rise = defaultRise
	}
	return c
}

// validName allows the names that can sit in a management API path.
func validName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// parseHashKey reads a hash policy's key: "" or "ip", "header:NAME",
// "cookie:NAME". A header name is kept lower case (field names are
// case-insensitive); a cookie name as given (RFC 6265 compares it
// exactly).
func parseHashKey(s string) (KeyKind, string, error) {
	if s == "" || s == "ip" {
		return KeyIP, "", nil
	}
	kind, name, ok := strings.Cut(s, ":")
	if ok && name != "" && validToken(name) {
		switch kind {
		case "header":
			return KeyHeader, strings.ToLower(name), nil
		case "cookie":
			return KeyCookie, name, nil
		}
	}
	return KeyNone, "", badInput("hash key %q: want ip, header:NAME or cookie:NAME", s)
}

// validToken reports whether s is an RFC 9110 §5.6.2 token.
func validToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func checkWeight(w int) (int, error) {
	if w == 0 {
		return 1, nil
	}
	if w < 1 || w > maxWeight {
		return 0, badInput("weight %d is outside 1-%d", w, maxWeight)
	}
	return w, nil
}

// serverURL is an origin's address, checked and normalised.
type serverURL struct {
	url  string // http://host:port
	host string // lower case; an IPv6 address without brackets, in canonical form
	port int
	addr string // host:port to dial
}

// parseServerURL accepts http://host[:port] with at most "/" as its path,
// no query, fragment or userinfo; no port means 80.
func parseServerURL(raw string) (serverURL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return serverURL{}, badInput("server url %q: %v", raw, err)
	}
	switch {
	case !strings.EqualFold(u.Scheme, "http"):
		return serverURL{}, badInput("server url %q: want http://host[:port]", raw)
	case u.Opaque != "" || u.User != nil:
		return serverURL{}, badInput("server url %q: no userinfo allowed", raw)
	case u.Path != "" && u.Path != "/" || u.RawPath != "":
		return serverURL{}, badInput("server url %q: no path allowed", raw)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsRune(raw, '#'):
		return serverURL{}, badInput("server url %q: no query or fragment allowed", raw)
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return serverURL{}, badInput("server url %q: no host", raw)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return serverURL{}, badInput("server url %q: no IPv6 zone allowed", raw)
		}
		host = a.Unmap().String()
	} else if strings.Contains(u.Host, "[") || !validHostname(host) {
		return serverURL{}, badInput("server url %q: bad host", raw)
	}
	port := 80
	if p := u.Port(); p != "" {
		port, err = strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return serverURL{}, badInput("server url %q: port outside 1-65535", raw)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return serverURL{}, badInput("server url %q: empty port", raw)
	}
	addr := joinHostPort(host, port)
	return serverURL{url: "http://" + addr, host: host, port: port, addr: addr}, nil
}

// validHostname accepts DNS names: letters, digits, '-', '.' and '_'.
func validHostname(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return len(h) <= 253
}

func joinHostPort(host string, port int) string {
	if strings.IndexByte(host, ':') >= 0 {
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	return host + ":" + strconv.Itoa(port)
}

// normHost puts a host given to Remove or Patch in the form the URL
// parser keeps: lower case, an IPv6 address canonical and unbracketed.
func normHost(h string) string {
	h = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
	if a, err := netip.ParseAddr(h); err == nil && a.Zone() == "" {
		return a.Unmap().String()
	}
	return h
}
