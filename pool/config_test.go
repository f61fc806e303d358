package pool

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseServerURL(t *testing.T) {
	for _, tc := range []struct {
		in         string
		url, host  string
		port       int
		addr       string
		wantErrSub string
	}{
		{in: "http://127.0.0.1:9000", url: "http://127.0.0.1:9000", host: "127.0.0.1", port: 9000, addr: "127.0.0.1:9000"},
		{in: "http://127.0.0.1", url: "http://127.0.0.1:80", host: "127.0.0.1", port: 80, addr: "127.0.0.1:80"},
		{in: "http://127.0.0.1/", url: "http://127.0.0.1:80", host: "127.0.0.1", port: 80, addr: "127.0.0.1:80"},
		{in: "HTTP://Origin.Example:8080/", url: "http://origin.example:8080", host: "origin.example", port: 8080, addr: "origin.example:8080"},
		{in: "http://[::1]:9000", url: "http://[::1]:9000", host: "::1", port: 9000, addr: "[::1]:9000"},
		{in: "http://[0:0::1]", url: "http://[::1]:80", host: "::1", port: 80, addr: "[::1]:80"},
		{in: "http://[::ffff:10.0.0.1]:1", url: "http://10.0.0.1:1", host: "10.0.0.1", port: 1, addr: "10.0.0.1:1"},
		{in: "http://a_b-c.d:65535", url: "http://a_b-c.d:65535", host: "a_b-c.d", port: 65535, addr: "a_b-c.d:65535"},
		{in: "https://a", wantErrSub: "want http://"},
		{in: "a:80", wantErrSub: "want http://"},
		{in: "127.0.0.1:80", wantErrSub: ""},
		{in: "", wantErrSub: "want http://"},
		{in: "http://", wantErrSub: "no host"},
		{in: "http://:80", wantErrSub: "no host"},
		{in: "http://a/b", wantErrSub: "no path"},
		{in: "http://a//", wantErrSub: "no path"},
		{in: "http://a/%2F", wantErrSub: "no path"},
		{in: "http://a?x=1", wantErrSub: "no query"},
		{in: "http://a?", wantErrSub: "no query"},
		{in: "http://a#f", wantErrSub: "no query"},
		{in: "http://a#", wantErrSub: "no query"},
		{in: "http://u@a", wantErrSub: "userinfo"},
		{in: "http://u:p@a", wantErrSub: "userinfo"},
		{in: "http:a", wantErrSub: "userinfo"},
		{in: "http://a:0", wantErrSub: "port outside"},
		{in: "http://a:65536", wantErrSub: "port outside"},
		{in: "http://a:", wantErrSub: "empty port"},
		{in: "http://a:x", wantErrSub: ""},
		{in: "http://a b", wantErrSub: ""},
		{in: "http://a%20b", wantErrSub: ""},
		{in: "http://a*b", wantErrSub: "bad host"},
		{in: "http://[fe80::1%25eth0]:80", wantErrSub: "zone"},
		{in: "http://[example.com]:80", wantErrSub: ""},
	} {
		u, err := parseServerURL(tc.in)
		if tc.url == "" {
			if !errors.Is(err, ErrBadInput) {
				t.Errorf("parseServerURL(%q) = %+v, %v; want ErrBadInput", tc.in, u, err)
			} else if tc.wantErrSub != "" && !strings.Contains(err.Error(), tc.wantErrSub) {
				t.Errorf("parseServerURL(%q): %v, want it to say %q", tc.in, err, tc.wantErrSub)
			}
			continue
		}
		if err != nil || u != (serverURL{url: tc.url, host: tc.host, port: tc.port, addr: tc.addr}) {
			t.Errorf("parseServerURL(%q) = %+v, %v", tc.in, u, err)
		}
	}
}

func TestNormHost(t *testing.T) {
	for in, want := range map[string]string{
		"A.Example":        "a.example",
		"127.0.0.1":        "127.0.0.1",
		"::1":              "::1",
		"[::1]":            "::1",
		"0:0::1":           "::1",
		"::FFFF:127.0.0.1": "127.0.0.1",
	} {
		if got := normHost(in); got != want {
			t.Errorf("normHost(%q) = %q, want %q", in, got, want)
		}
	}
	// Remove and Patch find servers by any spelling of their host.
	r := newReg(t, Config{Pools: []PoolConfig{noCheck("default", "", "http://[::1]:80", "http://Host.Example:81")}})
	w := 2
	if _, err := r.Patch("default", "[0::1]", 80, &w, nil); err != nil {
		t.Fatal(err)
	}
	if err := r.Remove("default", "HOST.example", 81); err != nil {
		t.Fatal(err)
	}
}

func TestWeightsAndKeys(t *testing.T) {
	for _, tc := range []struct {
		in, want int
		ok       bool
	}{{0, 1, true}, {1, 1, true}, {1000, 1000, true}, {1001, 0, false}, {-1, 0, false}} {
		got, err := checkWeight(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("checkWeight(%d) = %d, %v", tc.in, got, err)
		}
	}
	for _, bad := range []string{"ip:", "header", "header:", "cookie:", "cookie:a b", "header:a:b", "url", "IP"} {
		if _, _, err := parseHashKey(bad); !errors.Is(err, ErrBadInput) {
			t.Errorf("parseHashKey(%q) = %v", bad, err)
		}
	}
	for _, name := range []string{"default", "a-b_c.d", "A1"} {
		if !validName(name) {
			t.Errorf("validName(%q) = false", name)
		}
	}
	for _, name := range []string{"", "a b", "a/b", "é", string(make([]byte, 129))} {
		if validName(name) {
			t.Errorf("validName(%q) = true", name)
		}
	}
}

func TestStateString(t *testing.T) {
	for _, s := range []State{Active, Down, Draining} {
		back, ok := ParseState(s.String())
		if !ok || back != s {
			t.Errorf("ParseState(%q) = %v, %v", s.String(), back, ok)
		}
	}
	if _, ok := ParseState("up"); ok {
		t.Error("ParseState(up) ok")
	}
}

func TestPassiveDefaults(t *testing.T) {
	for _, tc := range []struct {
		in, want PassiveConfig
	}{
		{PassiveConfig{}, PassiveConfig{Fails: 5, CoolDown: 10 * time.Second, MaxCoolDown: 5 * time.Minute}},
		{PassiveConfig{Fails: -1}, PassiveConfig{Fails: -1, CoolDown: 10 * time.Second, MaxCoolDown: 5 * time.Minute}},
		{PassiveConfig{Fails: 2, CoolDown: time.Second, MaxCoolDown: 4 * time.Second, EjectLast: true},
			PassiveConfig{Fails: 2, CoolDown: time.Second, MaxCoolDown: 4 * time.Second, EjectLast: true}},
		// The longest cool-down is never shorter than the first.
		{PassiveConfig{CoolDown: 10 * time.Minute}, PassiveConfig{Fails: 5, CoolDown: 10 * time.Minute, MaxCoolDown: 10 * time.Minute}},
		{PassiveConfig{CoolDown: time.Minute, MaxCoolDown: time.Second}, PassiveConfig{Fails: 5, CoolDown: time.Minute, MaxCoolDown: time.Minute}},
	} {
		c, err := withDefaults(Config{Passive: tc.in})
		if err != nil || c.Passive != tc.want {
			t.Errorf("withDefaults(%+v) = %+v, %v; want %+v", tc.in, c.Passive, err, tc.want)
		}
	}
	for _, bad := range []PassiveConfig{{CoolDown: -1}, {MaxCoolDown: -1}} {
		if _, err := withDefaults(Config{Passive: bad}); !errors.Is(err, ErrBadInput) {
			t.Errorf("withDefaults(%+v) = %v", bad, err)
		}
	}
}

func TestCheckDefaults(t *testing.T) {
	for _, tc := range []struct {
		in, want CheckConfig
	}{
		{CheckConfig{}, CheckConfig{Path: "/", Interval: 30 * time.Second, Timeout: 2 * time.Second, Fall: 3, Rise: 2}},
		{CheckConfig{Path: "/health?x=1", Interval: time.Second, Timeout: time.Millisecond, Fall: 1, Rise: 9},
			CheckConfig{Path: "/health?x=1", Interval: time.Second, Timeout: time.Millisecond, Fall: 1, Rise: 9}},
		{CheckConfig{Disabled: true}, CheckConfig{Disabled: true, Path: "/", Interval: 30 * time.Second, Timeout: 2 * time.Second, Fall: 3, Rise: 2}},
	} {
		pc, err := poolDefaults(PoolConfig{Name: "p", Check: tc.in})
		if err != nil || pc.Check != tc.want {
			t.Errorf("poolDefaults(check %+v) = %+v, %v", tc.in, pc.Check, err)
		}
	}
	// A pull pool is never checked.
	pc, err := poolDefaults(PoolConfig{Name: "p", Kind: "pull"})
	if err != nil || !pc.Check.Disabled {
		t.Errorf("pull pool check: %+v, %v", pc.Check, err)
	}
}
