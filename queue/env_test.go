package queue

import (
	"maps"
	"slices"
	"testing"
)

func TestEnv(t *testing.T) {
	const (
		remote = "203.0.113.9"
		local  = "198.51.100.1:8080"
	)
	type tc struct {
		name   string
		head   string
		body   string
		script string
		local  string // default local
		want   map[string]string
		absent []string
	}
	cases := []tc{
		{
			name:   "basic GET",
			head:   "GET /jobs/a?x=1&y=%20 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t/1\r\n\r\n",
			script: "/jobs",
			want: map[string]string{
				"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/jobs", "PATH_INFO": "/a",
				"QUERY_STRING": "x=1&y=%20", "SERVER_NAME": "example.com", "SERVER_PORT": "80",
				"SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": remote, "rack.url_scheme": "http",
				"HTTP_HOST": "example.com", "HTTP_USER_AGENT": "t/1",
				"HTTP_X_FORWARDED_FOR": remote, "HTTP_X_FORWARDED_PROTO": "http",
				"HTTP_X_FORWARDED_HOST": "example.com",
			},
			absent: []string{"CONTENT_LENGTH", "CONTENT_TYPE", "HTTP_CONTENT_LENGTH", "HTTP_CONTENT_TYPE"},
		},
		{
			name: "other method", head: "DELETE /jobs/a/b HTTP/1.1\r\nHost: h\r\n\r\n", script: "/jobs",
			want: map[string]string{"REQUEST_METHOD": "DELETE", "SCRIPT_NAME": "/jobs", "PATH_INFO": "/a/b", "QUERY_STRING": ""},
		},
		{
			name: "unknown method", head: "PURGE /x HTTP/1.1\r\nHost: h\r\n\r\n",
			want: map[string]string{"REQUEST_METHOD": "PURGE", "SCRIPT_NAME": "", "PATH_INFO": "/x"},
		},
		{
			name: "prefix is not a path segment", head: "GET /jobsx HTTP/1.1\r\nHost: h\r\n\r\n", script: "/jobs",
			want: map[string]string{"SCRIPT_NAME": "", "PATH_INFO": "/jobsx"},
		},
		{
			name: "path is the prefix", head: "GET /jobs HTTP/1.1\r\nHost: h\r\n\r\n", script: "/jobs",
			want: map[string]string{"SCRIPT_NAME": "/jobs", "PATH_INFO": ""},
		},
		{
			name: "path is the prefix with query", head: "GET /jobs?a=b HTTP/1.1\r\nHost: h\r\n\r\n", script: "/jobs",
			want: map[string]string{"SCRIPT_NAME": "/jobs", "PATH_INFO": "", "QUERY_STRING": "a=b"},
		},
		{
			name: "prefix and slash", head: "GET /jobs/ HTTP/1.1\r\nHost: h\r\n\r\n", script: "/jobs",
			want: map[string]string{"SCRIPT_NAME": "/jobs", "PATH_INFO": "/"},
		},
		{
			name: "no prefix", head: "GET /a/b?c HTTP/1.1\r\nHost: h\r\n\r\n",
			want: map[string]string{"SCRIPT_NAME": "", "PATH_INFO": "/a/b", "QUERY_STRING": "c"},
		},
		{
			name: "empty query", head: "GET /a? HTTP/1.1\r\nHost: h\r\n\r\n",
			want: map[string]string{"PATH_INFO": "/a", "QUERY_STRING": ""},
		},
		{
			name: "absolute-form", head: "GET http://h:81/p?q HTTP/1.1\r\nHost: h:81\r\n\r\n",
			want: map[string]string{"SERVER_NAME": "h", "SERVER_PORT": "81", "PATH_INFO": "/p", "QUERY_STRING": "q",
				"SCRIPT_NAME": "", "HTTP_X_FORWARDED_HOST": "h:81"},
		},
		{
			name: "absolute-form with prefix", head: "GET http://h/jobs/x HTTP/1.1\r\nHost: h\r\n\r\n", script: "/jobs",
			want: map[string]string{"SERVER_NAME": "h", "SERVER_PORT": "80", "SCRIPT_NAME": "/jobs", "PATH_INFO": "/x"},
		},
		{
			name: "absolute-form without path", head: "GET http://h:82?q=1 HTTP/1.1\r\nHost: h:82\r\n\r\n",
			want: map[string]string{"SERVER_NAME": "h", "SERVER_PORT": "82", "PATH_INFO": "/", "QUERY_STRING": "q=1"},
		},
		{
			name: "absolute-form overrides Host", head: "GET http://h:81/p HTTP/1.1\r\nHost: other\r\n\r\n",
			want: map[string]string{"SERVER_NAME": "h", "HTTP_HOST": "h:81", "HTTP_X_FORWARDED_HOST": "h:81"},
		},
		{
			name: "Proxy field dropped (httpoxy)", head: "GET / HTTP/1.1\r\nHost: h\r\nProxy: http://evil:3128\r\n\r\n",
			absent: []string{"HTTP_PROXY"},
		},
		{
			name: "host with port", head: "GET / HTTP/1.1\r\nHost: example.com:8443\r\n\r\n",
			want: map[string]string{"SERVER_NAME": "example.com", "SERVER_PORT": "8443", "HTTP_HOST": "example.com:8443",
				"HTTP_X_FORWARDED_HOST": "example.com:8443"},
		},
		{
			name: "IPv6 host", head: "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
			want: map[string]string{"SERVER_NAME": "::1", "SERVER_PORT": "8080", "HTTP_HOST": "[::1]:8080"},
		},
		{
			name: "IPv6 host without port", head: "GET / HTTP/1.1\r\nHost: [2001:db8::1]\r\n\r\n",
			want: map[string]string{"SERVER_NAME": "2001:db8::1", "SERVER_PORT": "80"},
		},
		{
			name: "HTTP/1.0 without Host", head: "GET /x HTTP/1.0\r\n\r\n",
			want: map[string]string{"SERVER_NAME": "198.51.100.1", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.0",
				"PATH_INFO": "/x"},
			absent: []string{"HTTP_HOST", "HTTP_X_FORWARDED_HOST"},
		},
		{
			name: "HTTP/1.0 without Host, IPv6 local", head: "GET /x HTTP/1.0\r\n\r\n", local: "[::1]:9090",
			want: map[string]string{"SERVER_NAME": "::1", "SERVER_PORT": "9090"},
		},
		{
			name: "HTTP/1.0 without Host, local address without port", head: "GET /x HTTP/1.0\r\n\r\n", local: "sock",
			want: map[string]string{"SERVER_NAME": "sock", "SERVER_PORT": "80"},
		},
		{
			name: "HTTP/1.0 with Host", head: "GET / HTTP/1.0\r\nHost: a.example\r\n\r\n",
			want: map[string]string{"SERVER_NAME": "a.example", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.0"},
		},
		{
			name: "HTTP/1.1 empty Host", head: "GET / HTTP/1.1\r\nHost:\r\n\r\n",
			want:   map[string]string{"SERVER_NAME": "198.51.100.1", "SERVER_PORT": "8080", "HTTP_HOST": ""},
			absent: []string{"HTTP_X_FORWARDED_HOST"},
		},
		{
			name:   "content fields",
			head:   "POST /up HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\n",
			body:   "hello",
			want:   map[string]string{"REQUEST_METHOD": "POST", "CONTENT_TYPE": "text/plain; charset=utf-8", "CONTENT_LENGTH": "5"},
			absent: []string{"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"},
		},
		{
			name:   "chunked body",
			head:   "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n",
			body:   "hello world",
			want:   map[string]string{"CONTENT_LENGTH": "11", "CONTENT_TYPE": "application/json"},
			absent: []string{"HTTP_TRANSFER_ENCODING", "HTTP_CONTENT_LENGTH", "HTTP_CONTENT_TYPE"},
		},
		{
			name: "GET with Content-Length 0", head: "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
			want: map[string]string{"CONTENT_LENGTH": "0"},
		},
		{
			name: "repeated fields",
			head: "GET / HTTP/1.1\r\nHost: h\r\nAccept: text/html\r\nCookie: a=1\r\nX-Trace: 1\r\naccept: */*\r\nCookie: b=2\r\nx-trace: 2\r\n\r\n",
			want: map[string]string{"HTTP_ACCEPT": "text/html, */*", "HTTP_COOKIE": "a=1; b=2", "HTTP_X_TRACE": "1, 2"},
		},
		{
			name:   "field names with underscores dropped",
			head:   "GET / HTTP/1.1\r\nHost: h\r\nX_Real_IP: 6.6.6.6\r\nX-Real-IP: 1.2.3.4\r\nX_Other: y\r\n\r\n",
			want:   map[string]string{"HTTP_X_REAL_IP": "1.2.3.4"},
			absent: []string{"HTTP_X_OTHER"},
		},
		{
			name: "hop-by-hop fields dropped",
			head: "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Secret, Upgrade\r\nKeep-Alive: timeout=5\r\n" +
				"TE: trailers\r\nUpgrade: websocket\r\nX-Secret: s\r\nProxy-Authorization: Basic eA==\r\n" +
				"Proxy-Connection: keep-alive\r\nX-Kept: k\r\n\r\n",
			want: map[string]string{"HTTP_X_KEPT": "k"},
			absent: []string{"HTTP_CONNECTION", "HTTP_KEEP_ALIVE", "HTTP_TE", "HTTP_UPGRADE", "HTTP_X_SECRET",
				"HTTP_PROXY_AUTHORIZATION", "HTTP_PROXY_CONNECTION"},
		},
		{
			name:   "field named in Connection, any case",
			head:   "GET / HTTP/1.1\r\nHost: h\r\nx-private: p\r\nConnection: X-PRIVATE\r\nX-Public: q\r\n\r\n",
			want:   map[string]string{"HTTP_X_PUBLIC": "q"},
			absent: []string{"HTTP_X_PRIVATE", "HTTP_CONNECTION"},
		},
		{
			name: "X-Forwarded-* rewritten",
			head: "GET / HTTP/1.1\r\nHost: real.example\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\n" +
				"X-Forwarded-Host: evil.example\r\nx-forwarded-for: 10.0.0.2, 10.0.0.3\r\n\r\n",
			want: map[string]string{
				"HTTP_X_FORWARDED_FOR":   "10.0.0.1, 10.0.0.2, 10.0.0.3, " + remote,
				"HTTP_X_FORWARDED_PROTO": "http", "HTTP_X_FORWARDED_HOST": "real.example", "rack.url_scheme": "http",
			},
		},
		{
			name: "empty X-Forwarded-For", head: "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For:\r\n\r\n",
			want: map[string]string{"HTTP_X_FORWARDED_FOR": remote},
		},
		{
			name: "lower-case and odd names", head: "GET / HTTP/1.1\r\nHost: h\r\nx-custom-header: v  w\r\nX.Dot: d\r\n\r\n",
			want: map[string]string{"HTTP_X_CUSTOM_HEADER": "v  w", "HTTP_X.DOT": "d"},
		},
		{
			name: "HEAD", head: "HEAD /jobs/x HTTP/1.1\r\nHost: h\r\n\r\n", script: "/jobs",
			want:   map[string]string{"REQUEST_METHOD": "HEAD", "PATH_INFO": "/x"},
			absent: []string{"CONTENT_LENGTH"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &Request{Head: []byte(c.head), Body: []byte(c.body), ScriptName: c.script,
				RemoteAddr: remote, LocalAddr: local}
			if c.local != "" {
				r.LocalAddr = c.local
			}
			env, err := Env(r)
			if err != nil {
				t.Fatalf("Env: %v", err)
			}
			for k, v := range c.want {
				if got, ok := env[k]; !ok || got != v {
					t.Errorf("%s = %q (set %v), want %q", k, got, ok, v)
				}
			}
			for _, k := range c.absent {
				if v, ok := env[k]; ok {
					t.Errorf("%s = %q, want it absent", k, v)
				}
			}
			for _, k := range []string{"REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME",
				"SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR", "rack.url_scheme", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO"} {
				if _, ok := env[k]; !ok {
					t.Errorf("%s missing", k)
				}
			}
			// Rack: SCRIPT_NAME + PATH_INFO is the path; PATH_INFO is empty
			// or starts with a slash.
			if p := env["PATH_INFO"]; p != "" && p[0] != '/' {
				t.Errorf("PATH_INFO %q does not start with /", p)
			}
			if t.Failed() {
				keys := slices.Sorted(maps.Keys(env))
				for _, k := range keys {
					t.Logf("  %s=%q", k, env[k])
				}
			}
		})
	}
}

// A Host with an empty port ("h:", RFC 3986 §3.2.3: port = *DIGIT, an
// empty port means the scheme's default) must give SERVER_PORT 80, not an
// empty string, which Rack::Lint rejects (SERVER_PORT must be an integer).
func TestEnvHostEmptyPort(t *testing.T) {
	env, err := Env(&Request{Head: []byte("GET / HTTP/1.1\r\nHost: example.com:\r\n\r\n"), LocalAddr: "127.0.0.1:8080"})
	if err != nil {
		t.Fatal(err)
	}
	if env["SERVER_NAME"] != "example.com" || env["SERVER_PORT"] != "80" {
		t.Errorf(`BUG: Host "example.com:" gives SERVER_NAME %q SERVER_PORT %q, want "example.com" "80" `+
			`(env.go serverName: net.SplitHostPort accepts an empty port and it is returned as is)`,
			env["SERVER_NAME"], env["SERVER_PORT"])
	}
}

func TestEnvErrors(t *testing.T) {
	for _, h := range []string{
		"",
		"garbage\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n", // 1.1 without Host
		"GET / HTTP/1.1\r\nHost: h\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	} {
		if env, err := Env(&Request{Head: []byte(h)}); err == nil {
			t.Errorf("Env(%q): no error, env %v", h, env)
		}
	}
}

// The env is built under the limits the head was parsed with.
func TestEnvLimits(t *testing.T) {
	r := &Request{Head: []byte("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n")}
	r.Limits.MaxFields = 2
	if _, err := Env(r); err == nil {
		t.Error("Env: 3 fields under MaxFields 2 passed")
	}
	r.Limits.MaxFields = 3
	if _, err := Env(r); err != nil {
		t.Errorf("Env under MaxFields 3: %v", err)
	}
}
