package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "edgeloop.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":8080" || c.Admin != "127.0.0.1:8687" || c.State != "edgeloop.state.json" ||
		c.Timeouts.ClientHead != 10*time.Second || c.Limits.MaxFields != 100 || c.Pools["default"] == nil {
		t.Fatalf("%+v", c)
	}
}

// The example documents every key with its default: loading it gives
// exactly the defaults, so the two cannot drift apart.
func TestExampleIsDefaults(t *testing.T) {
	c, err := Load([]string{"-config", "../edgeloop.example.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	c.ConfigFile = ""
	if d := Defaults(); !reflect.DeepEqual(c, d) {
		t.Fatalf("example differs from defaults:\n%+v\n%+v", c, d)
	}
}

func TestFlagsOverrideFile(t *testing.T) {
	p := writeFile(t, "listen: 127.0.0.1:9999\nloops: 3\npools:\n  default:\n    servers:\n      - url: http://127.0.0.1:9000\n        weight: 5\n")
	c, err := Load([]string{"-config", p, "-loops", "1", "-origin", "http://127.0.0.1:9001", "-origin", "http://localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9999" || c.Loops != 1 {
		t.Fatalf("listen %q loops %d", c.Listen, c.Loops)
	}
	s := c.Pools["default"].Servers
	if len(s) != 1 || s[0].Host != "127.0.0.1" || s[0].Port != 9000 || s[0].Weight != 5 {
		t.Fatalf("servers %+v", s)
	}
	if strings.Join(c.Origins, " ") != "http://127.0.0.1:9001 http://localhost" {
		t.Fatalf("origins %q", c.Origins)
	}
}

func TestSizesAndDurations(t *testing.T) {
	p := writeFile(t, "timeouts:\n  client_head: 1500ms\nlimits:\n  max_body_bytes: 10MiB\n  retry_body_bytes: 512\n")
	c, err := Load([]string{"-config", p})
	if err != nil {
		t.Fatal(err)
	}
	if c.Timeouts.ClientHead != 1500*time.Millisecond || c.Limits.MaxBodyBytes != 10<<20 || c.Limits.RetryBodyBytes != 512 {
		t.Fatalf("%+v %+v", c.Timeouts, c.Limits)
	}
}

// Every bad input names its key, in one line, and nothing is returned.
func TestErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		args []string
		file string
		key  string
	}{
		{args: []string{"-loops", "-1"}, key: "-loops"},
		{args: []string{"-loops", "x"}, key: "-loops"},
		{args: []string{"-nope"}, key: "-nope"},
		{args: []string{"-listen", "8080"}, key: "-listen"},
		{args: []string{"-admin", "0.0.0.0:8687"}, key: "-admin"},
		{args: []string{"-origin", "https://a"}, key: "-origin"},
		{args: []string{"-origin", "http://a/path"}, key: "-origin"},
		{args: []string{"-log-format", "xml"}, key: "-log-format"},
		{args: []string{"-config", "/nonexistent/edgeloop.yaml"}, key: "-config"},
		{args: []string{"stray"}, key: "stray"},
		{file: "loops: -2\n", key: "loops"},
		{file: "lisen: :80\n", key: "lisen"},
		{file: "timeouts:\n  client_head: 10x\n", key: "timeouts.client_head"},
		{file: "timeouts:\n  client_heed: 10s\n", key: "timeouts.client_heed"},
		{file: "limits:\n  max_fields: 129\n", key: "limits.max_fields"},
		{file: "limits:\n  max_body_bytes: 10MB\n", key: "limits.max_body_bytes"},
		{file: "pools:\n  default:\n    balance: random\n", key: "pools.default.balance"},
		{file: "pools:\n  default:\n    servers:\n      - url: http://a:1\n        weight: 0\n", key: "pools.default.servers[0].weight"},
		{file: "pools:\n  default:\n    servers:\n      - url: http://a:1\n      - url: http://a:1\n", key: "pools.default.servers[1].url"},
		{file: "pools:\n  default:\n    servers:\n      - url: ftp://a\n", key: "pools.default.servers[0].url"},
		{file: "pools:\n  jobs:\n    kind: pull\n    servers:\n      - url: http://a:1\n", key: "pools.jobs.servers"},
		{file: "pools:\n  jobs:\n    kind: push\n", key: "pools.jobs.kind"},
		{file: "routes:\n  - path_prefix: /x/\n    pool: nope\n", key: "routes[0].pool"},
		{file: "routes:\n  - path_prefix: x\n    pool: default\n", key: "routes[0].path_prefix"},
		{file: "admin: 10.1.2.3:8687\n", key: "admin"},
		{file: "listen: [\n", key: "FILE"},
	}
	for _, tc := range cases {
		args := tc.args
		key := tc.key
		if tc.file != "" {
			p := writeFile(t, tc.file)
			args = append([]string{"-config", p}, args...)
			if key == "FILE" {
				key = p
			}
		}
		c, err := Load(args)
		e, ok := err.(*Error)
		if !ok || c != nil {
			t.Errorf("%v %q: got %v, %v; want an *Error", tc.args, tc.file, c, err)
			continue
		}
		if e.Key != key || strings.Contains(e.Error(), "\n") || !strings.HasPrefix(e.Error(), "config: ") {
			t.Errorf("%v %q: %q (key %q), want key %q", tc.args, tc.file, e.Error(), e.Key, key)
		}
	}
}

func TestNonLoopbackAdminWithToken(t *testing.T) {
	p := writeFile(t, "admin: 0.0.0.0:8687\nadmin_token: s3cret\n")
	if _, err := Load([]string{"-config", p}); err != nil {
		t.Fatal(err)
	}
}

func TestUsageListsFlags(t *testing.T) {
	u := Usage()
	for _, f := range []string{"-config", "-listen", "-admin", "-origin", "-loops", "-state", "-check", "-version", "-log-format"} {
		if !strings.Contains(u, f) {
			t.Errorf("usage lacks %s", f)
		}
	}
}

// Pool keys of the pool issue: hash_key and health_check, with one line
// naming the key for each bad value.
func TestPoolKeys(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := Load([]string{"-config", write("pools:\n  default:\n    balance: hash\n    hash_key: cookie:sid\n    health_check: {path: /health, interval: 5s, fall: 2, enabled: false}\n")})
	if err != nil {
		t.Fatal(err)
	}
	p := c.Pools["default"]
	want := HealthCheck{Enabled: false, Path: "/health", Interval: 5 * time.Second, Timeout: 2 * time.Second, Fall: 2, Rise: 2}
	if p.Balance != "hash" || p.HashKey != "cookie:sid" || p.Check != want {
		t.Fatalf("pool %+v", p)
	}
	c, err = Load([]string{"-config", write("worker_listen: 0.0.0.0:8688\nworker_token: s3cret\npools:\n  jobs:\n" +
		"    kind: pull\n    lease: 5s\n    queue_len: 10\n    inline_body_bytes: 1KiB\n    max_body_bytes: 1MiB\n")})
	if j := c.Pools["jobs"]; err != nil || c.WorkerToken != "s3cret" || j.Kind != "pull" || j.Lease != 5*time.Second ||
		j.QueueLen != 10 || j.QueueTimeout != 30*time.Second || j.InlineBody != 1024 || j.MaxBody != 1<<20 || j.QueueBody != 64<<20 {
		t.Fatalf("pull pool: %+v %v", c.Pools["jobs"], err)
	}
	c, err = Load([]string{"-config", write("passive_health: {fails: 2, cool_down: 1s, eject_last: true}\n")})
	if err != nil || c.Passive != (Passive{Fails: 2, CoolDown: time.Second, MaxCoolDown: 5 * time.Minute, EjectLast: true}) {
		t.Fatalf("passive_health: %+v %v", c.Passive, err)
	}
	for body, key := range map[string]string{
		"pools:\n  default:\n    hash_key: body\n":                    "pools.default.hash_key",
		"pools:\n  default:\n    hash_key: 'header:'\n":               "pools.default.hash_key",
		"pools:\n  default:\n    health_check: {interval: soon}\n":    "pools.default.health_check.interval",
		"pools:\n  default:\n    health_check: {fall: 0}\n":           "pools.default.health_check.fall",
		"pools:\n  default:\n    health_check: {path: health}\n":      "pools.default.health_check.path",
		"pools:\n  default:\n    health_check: {every: 5s}\n":         "every",
		"pools:\n  default:\n    max_conns: -1\n":                     "pools.default.max_conns",
		"passive_health: {fails: -1}\n":                               "passive_health.fails",
		"passive_health: {cool_down: 1m, max_cool_down: 10s}\n":       "passive_health.max_cool_down",
		"pools:\n  default:\n    queue_timeout: 0s\n":                 "pools.default.queue_timeout",
		"pools:\n  default:\n    lease: 5s\n":                         "pools.default.lease",
		"pools:\n  jobs:\n    kind: pull\n    lease: soon\n":          "pools.jobs.lease",
		"pools:\n  jobs:\n    kind: pull\n    inline_body_bytes: 0\n": "pools.jobs.inline_body_bytes",
		"pools:\n  jobs:\n    kind: pull\n    max_body_bytes: 1GiB\n": "pools.jobs.max_body_bytes",
		"pools:\n  jobs:\n    kind: push\n":                           "pools.jobs.kind",
		"worker_listen: 0.0.0.0:8688\n":                               "worker_listen",
		"worker_listen: nowhere\n":                                    "worker_listen",
		"worker_listen: ''\npools:\n  jobs:\n    kind: pull\n":        "worker_listen",
	} {
		_, err := Load([]string{"-config", write(body)})
		if err == nil || !strings.Contains(err.Error(), key) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v, want one line naming %s", body, err, key)
		}
	}
}

func TestDeferAcceptKey(t *testing.T) {
	if !Defaults().DeferAccept {
		t.Fatal("defer_accept is off by default")
	}
	c, err := Load([]string{"-config", writeFile(t, "defer_accept: false\n")})
	if err != nil {
		t.Fatal(err)
	}
	if c.DeferAccept {
		t.Fatal("defer_accept: false left it on")
	}
	_, err = Load([]string{"-config", writeFile(t, "defer_accept: sometimes\n")})
	if err == nil || !strings.Contains(err.Error(), "defer_accept") {
		t.Fatalf("a non-boolean defer_accept: %v", err)
	}
}

// A value of the wrong type is one line naming its key, however deep.
func TestWrongTypeNamesKey(t *testing.T) {
	for _, c := range []struct{ file, key string }{
		{"access_log: sometimes\n", "access_log"},
		{"loops: many\n", "loops"},
		{"pools:\n  default:\n    max_conns: lots\n", "pools.default.max_conns"},
		{"pools:\n  default:\n    health_check:\n      fall: [1]\n", "pools.default.health_check.fall"},
		{"routes:\n  - path_prefix: /a\n    pool: [x]\n", "routes[0].pool"},
		{"passive_health:\n  eject_last: perhaps\n", "passive_health.eject_last"},
	} {
		_, err := Load([]string{"-config", writeFile(t, c.file)})
		var ce *Error
		if !errors.As(err, &ce) || ce.Key != c.key || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v, want one line naming %s", c.file, err, c.key)
		}
	}
}
