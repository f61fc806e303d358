package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// fileConfig mirrors the YAML file; durations and sizes stay strings
// until apply, so each error can name its key.
type fileConfig struct {
	Listen       *string              `yaml:"listen"`
	Admin        *string              `yaml:"admin"`
	AdminToken   *string              `yaml:"admin_token"`
	WorkerListen *string              `yaml:"worker_listen"`
	WorkerToken  *string              `yaml:"worker_token"`
	State        *string              `yaml:"state"`
	Loops        *int                 `yaml:"loops"`
	LogFormat    *string              `yaml:"log_format"`
	AccessLog    *bool                `yaml:"access_log"`
	DeferAccept  *bool                `yaml:"defer_accept"`
	Timeouts     map[string]string    `yaml:"timeouts"`
	Limits       map[string]string    `yaml:"limits"`
	Pools        map[string]*filePool `yaml:"pools"`
	Routes       []fileRoute          `yaml:"routes"`
	Passive      *filePassive         `yaml:"passive_health"`
}

type filePool struct {
	Kind        string       `yaml:"kind"`
	Balance     string       `yaml:"balance"`
	HashKey     string       `yaml:"hash_key"`
	HealthCheck *fileCheck   `yaml:"health_check"`
	MaxConns    *int         `yaml:"max_conns"`
	QueueLen    *int         `yaml:"queue_len"`
	QueueTime   *string      `yaml:"queue_timeout"`
	Servers     []fileServer `yaml:"servers"`
	// kind: pull only.
	Lease      *string `yaml:"lease"`
	InlineBody *string `yaml:"inline_body_bytes"`
	MaxBody    *string `yaml:"max_body_bytes"`
	QueueBody  *string `yaml:"queue_body_bytes"`
}

type filePassive struct {
	Fails       *int    `yaml:"fails"`
	CoolDown    *string `yaml:"cool_down"`
	MaxCoolDown *string `yaml:"max_cool_down"`
	EjectLast   *bool   `yaml:"eject_last"`
}

type fileCheck struct {
	Enabled  *bool   `yaml:"enabled"`
	Path     *string `yaml:"path"`
	Interval *string `yaml:"interval"`
	Timeout  *string `yaml:"timeout"`
	Fall     *int    `yaml:"fall"`
	Rise     *int    `yaml:"rise"`
}

type fileServer struct {
	URL    string `yaml:"url"`
	Weight *int   `yaml:"weight"`
}

type fileRoute struct {
	Host       string `yaml:"host"`
	PathPrefix string `yaml:"path_prefix"`
	Pool       string `yaml:"pool"`
}

var balances = map[string]bool{"round_robin": true, "least_conn": true, "p2c_ewma": true, "hash": true}

func (f *fileConfig) apply(c *Config) error {
	setStr := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setStr(&c.Listen, f.Listen)
	setStr(&c.Admin, f.Admin)
	setStr(&c.AdminToken, f.AdminToken)
	setStr(&c.WorkerListen, f.WorkerListen)
	setStr(&c.WorkerToken, f.WorkerToken)
	setStr(&c.State, f.State)
	setStr(&c.LogFormat, f.LogFormat)
	if f.Loops != nil {
		c.Loops = *f.Loops
	}
	if f.AccessLog != nil {
		c.AccessLog = *f.AccessLog
	}
	if f.DeferAccept != nil {
		c.DeferAccept = *f.DeferAccept
	}
	if err := applyTimeouts(&c.Timeouts, f.Timeouts); err != nil {
		return err
	}
	if err := applyLimits(&c.Limits, f.Limits); err != nil {
		return err
	}
	if err := applyPassive(&c.Passive, f.Passive); err != nil {
		return err
	}
	if err := applyPools(c, f.Pools); err != nil {
		return err
	}
	for i, r := range f.Routes {
		key := fmt.Sprintf("routes[%d]", i)
		if !strings.HasPrefix(r.PathPrefix, "/") {
			return errf(key+".path_prefix", "%q: must start with /", r.PathPrefix)
		}
		if c.Pools[r.Pool] == nil {
			return errf(key+".pool", "%q: no such pool", r.Pool)
		}
		c.Routes = append(c.Routes, Route{Host: r.Host, PathPrefix: r.PathPrefix, Pool: r.Pool})
	}
	return nil
}

func applyTimeouts(t *Timeouts, m map[string]string) error {
	fields := map[string]*time.Duration{
		"client_head": &t.ClientHead, "client_idle": &t.ClientIdle, "origin_connect": &t.OriginConnect,
		"origin_response": &t.OriginResponse, "origin_idle": &t.OriginIdle, "drain": &t.Drain,
	}
	for _, k := range sortedKeys(m) {
		dst, ok := fields[k]
		if !ok {
			return errf("timeouts."+k, "unknown key")
		}
		d, err := time.ParseDuration(m[k])
		if err != nil || d <= 0 {
			return errf("timeouts."+k, "%q: want a positive duration such as 10s", m[k])
		}
		*dst = d
	}
	return nil
}

func applyLimits(l *Limits, m map[string]string) error {
	ints := map[string]*int{
		"max_request_line": &l.MaxRequestLine, "max_header_bytes": &l.MaxHeaderBytes,
		"max_fields": &l.MaxFields, "idle_per_origin": &l.IdlePerOrigin,
	}
	sizes := map[string]*int64{"max_body_bytes": &l.MaxBodyBytes, "retry_body_bytes": &l.RetryBodyBytes}
	for _, k := range sortedKeys(m) {
		n, err := parseSize(m[k])
		if err != nil {
			return errf("limits."+k, "%q: %s", m[k], err)
		}
		switch {
		case sizes[k] != nil:
			*sizes[k] = n
		case ints[k] != nil:
			if k == "max_fields" && (n < 1 || n > 128) {
				return errf("limits."+k, "%d: want 1-128", n)
			}
			if k != "idle_per_origin" && n == 0 {
				return errf("limits."+k, "must be more than 0")
			}
			*ints[k] = int(n)
		default:
			return errf("limits."+k, "unknown key")
		}
	}
	return nil
}

// parseSize reads "512", "64KiB", "10MiB", "1GiB" (binary units only).
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if v, ok := strings.CutSuffix(s, suffix); ok {
			s, mult = strings.TrimSpace(v), m
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("want a size such as 512, 64KiB, 10MiB or 1GiB")
	}
	return n * mult, nil
}

func applyPools(c *Config, pools map[string]*filePool) error {
	for _, name := range sortedKeys(pools) {
		fp := pools[name]
		key := "pools." + name
		if fp == nil {
			fp = &filePool{}
		}
		p := &Pool{Kind: fp.Kind, Balance: fp.Balance, Check: DefaultCheck(), QueueLen: 1024, QueueTimeout: 5 * time.Second}
		if p.Balance == "" {
			p.Balance = "round_robin"
		}
		if !balances[p.Balance] {
			return errf(key+".balance", "%q: want round_robin, least_conn, p2c_ewma or hash", p.Balance)
		}
		if p.Kind != "" && p.Kind != "pull" {
			return errf(key+".kind", "%q: want pull, or no kind", p.Kind)
		}
		if err := applyHashKey(p, fp.HashKey, key); err != nil {
			return err
		}
		if err := applyCheck(&p.Check, fp.HealthCheck, key+".health_check"); err != nil {
			return err
		}
		if p.Kind == "pull" {
			p.QueueTimeout = 30 * time.Second // a worker deploy may take seconds
		}
		if err := applyQueue(p, fp, key); err != nil {
			return err
		}
		if err := applyPull(p, fp, key); err != nil {
			return err
		}
		if p.Kind == "pull" && len(fp.Servers) > 0 {
			return errf(key+".servers", "a pull pool has no servers: its workers fetch requests")
		}
		seen := map[string]bool{}
		for i, s := range fp.Servers {
			skey := fmt.Sprintf("%s.servers[%d]", key, i)
			host, port, err := parseOrigin(s.URL)
			if err != nil {
				return errf(skey+".url", "%q: %s", s.URL, err)
			}
			if seen[s.URL] {
				return errf(skey+".url", "%q: listed twice", s.URL)
			}
			seen[s.URL] = true
			w := 1
			if s.Weight != nil {
				w = *s.Weight
			}
			if w < 1 || w > 1000 {
				return errf(skey+".weight", "%d: want 1-1000", w)
			}
			p.Servers = append(p.Servers, Server{URL: s.URL, Weight: w, Host: host, Port: port})
		}
		c.Pools[name] = p
	}
	return nil
}

// applyHashKey checks what the hash policy hashes: ip, header:NAME or
// cookie:NAME.
func applyHashKey(p *Pool, v, key string) error {
	p.HashKey = "ip"
	if v == "" {
		return nil
	}
	kind, name, _ := strings.Cut(v, ":")
	switch {
	case v == "ip":
	case (kind == "header" || kind == "cookie") && name != "" && !strings.ContainsAny(name, " \t:;="):
		p.HashKey = v
	default:
		return errf(key+".hash_key", "%q: want ip, header:NAME or cookie:NAME", v)
	}
	return nil
}

// applyPassive reads passive health checking: how many consecutive
// failures on live traffic eject a server, and for how long.
func applyPassive(p *Passive, f *filePassive) error {
	if f == nil {
		return nil
	}
	if f.Fails != nil {
		if *f.Fails < 0 || *f.Fails > 1000 {
			return errf("passive_health.fails", "%d: want 0 (off) to 1000", *f.Fails)
		}
		p.Fails = *f.Fails
	}
	for _, d := range []struct {
		name string
		v    *string
		dst  *time.Duration
	}{{"cool_down", f.CoolDown, &p.CoolDown}, {"max_cool_down", f.MaxCoolDown, &p.MaxCoolDown}} {
		if d.v == nil {
			continue
		}
		v, err := time.ParseDuration(*d.v)
		if err != nil || v <= 0 {
			return errf("passive_health."+d.name, "%q: want a positive duration such as 10s", *d.v)
		}
		*d.dst = v
	}
	if p.MaxCoolDown < p.CoolDown {
		return errf("passive_health.max_cool_down", "%s: less than cool_down %s", p.MaxCoolDown, p.CoolDown)
	}
	if f.EjectLast != nil {
		p.EjectLast = *f.EjectLast
	}
	return nil
}

// applyQueue reads max_conns and its wait queue.
func applyQueue(p *Pool, f *filePool, key string) error {
	if f.MaxConns != nil {
		if *f.MaxConns < 0 || *f.MaxConns > 1000000 {
			return errf(key+".max_conns", "%d: want 0 (no cap) to 1000000", *f.MaxConns)
		}
		p.MaxConns = *f.MaxConns
	}
	if f.QueueLen != nil {
		if *f.QueueLen < 1 || *f.QueueLen > 1000000 {
			return errf(key+".queue_len", "%d: want 1-1000000", *f.QueueLen)
		}
		p.QueueLen = *f.QueueLen
	}
	if f.QueueTime != nil {
		d, err := time.ParseDuration(*f.QueueTime)
		if err != nil || d <= 0 {
			return errf(key+".queue_timeout", "%q: want a positive duration such as 5s", *f.QueueTime)
		}
		p.QueueTimeout = d
	}
	return nil
}

// applyPull reads the keys of a pull pool: how long a worker holds a
// request (lease), the body size sent inline as base64 (larger ones are
// streamed), the cap of one request body and of all the pool holds.
func applyPull(p *Pool, f *filePool, key string) error {
	if p.Kind == "pull" {
		p.Lease, p.InlineBody, p.MaxBody, p.QueueBody = 30*time.Second, 64<<10, 8<<20, 64<<20
	}
	set := map[string]bool{"lease": f.Lease != nil, "inline_body_bytes": f.InlineBody != nil,
		"max_body_bytes": f.MaxBody != nil, "queue_body_bytes": f.QueueBody != nil}
	for _, k := range sortedKeys(set) {
		if set[k] && p.Kind != "pull" {
			return errf(key+"."+k, "only a pull pool (kind: pull) has it")
		}
	}
	if f.Lease != nil {
		d, err := time.ParseDuration(*f.Lease)
		if err != nil || d <= 0 {
			return errf(key+".lease", "%q: want a positive duration such as 30s", *f.Lease)
		}
		p.Lease = d
	}
	for k, dst := range map[string]*int64{"inline_body_bytes": &p.InlineBody, "max_body_bytes": &p.MaxBody, "queue_body_bytes": &p.QueueBody} {
		v := map[string]*string{"inline_body_bytes": f.InlineBody, "max_body_bytes": f.MaxBody, "queue_body_bytes": f.QueueBody}[k]
		if v == nil {
			continue
		}
		n, err := parseSize(*v)
		if err != nil || n < 1 {
			return errf(key+"."+k, "%q: want a size such as 64KiB", *v)
		}
		*dst = n
	}
	if p.MaxBody > p.QueueBody {
		return errf(key+".max_body_bytes", "%d is over queue_body_bytes (%d): no such body could ever queue", p.MaxBody, p.QueueBody)
	}
	return nil
}

// applyCheck reads a pool's active health check over the defaults.
func applyCheck(c *HealthCheck, f *fileCheck, key string) error {
	if f == nil {
		return nil
	}
	if f.Enabled != nil {
		c.Enabled = *f.Enabled
	}
	if f.Path != nil {
		if !strings.HasPrefix(*f.Path, "/") || strings.ContainsAny(*f.Path, " \r\n") {
			return errf(key+".path", "%q: want a path starting with /", *f.Path)
		}
		c.Path = *f.Path
	}
	for _, d := range []struct {
		name string
		v    *string
		dst  *time.Duration
	}{{"interval", f.Interval, &c.Interval}, {"timeout", f.Timeout, &c.Timeout}} {
		if d.v == nil {
			continue
		}
		v, err := time.ParseDuration(*d.v)
		if err != nil || v <= 0 {
			return errf(key+"."+d.name, "%q: want a positive duration such as 5s", *d.v)
		}
		*d.dst = v
	}
	for _, n := range []struct {
		name string
		v    *int
		dst  *int
	}{{"fall", f.Fall, &c.Fall}, {"rise", f.Rise, &c.Rise}} {
		if n.v == nil {
			continue
		}
		if *n.v < 1 || *n.v > 100 {
			return errf(key+"."+n.name, "%d: want 1-100", *n.v)
		}
		*n.dst = *n.v
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
