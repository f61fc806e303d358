package queue

import (
	"bytes"
	"net"
	"strconv"
	"strings"

	"github.com/edgeloop/edgeloop/http1"
)

// Env builds the Rack-style environment of a request (CONTRACT.md,
// Worker API). The head is parsed again here, on the worker API's
// goroutine, so the loop only copies bytes.
func Env(r *Request) (map[string]string, error) {
	var h http1.Request
	h.Limits = r.Limits
	b := r.Head
	if _, err := h.Parse(b); err != nil {
		return nil, err
	}
	env := make(map[string]string, 16+len(h.Fields()))
	env["REQUEST_METHOD"] = string(h.Method.Of(b))
	env["SERVER_PROTOCOL"] = "HTTP/" + strconv.Itoa(int(h.Major)) + "." + strconv.Itoa(int(h.Minor))
	env["REMOTE_ADDR"] = r.RemoteAddr
	env["rack.url_scheme"] = "http"

	target := h.Target.Of(b)
	host := h.Host.Of(b)
	if h.Form == http1.FormAbsolute {
		host = h.Authority.Of(b)
		target = target[h.Authority.End()-int(h.Target.Off):]
	}
	path, query, _ := bytes.Cut(target, []byte("?"))
	if len(path) == 0 {
		path = []byte("/")
	}
	script, info := r.ScriptName, string(path)
	// Rack: PATH_INFO is empty or starts with "/", and SCRIPT_NAME +
	// PATH_INFO is the path.
	if rest, ok := strings.CutPrefix(info, script); ok && (rest == "" || rest[0] == '/') {
		info = rest
	} else {
		script = ""
	}
	env["SCRIPT_NAME"], env["PATH_INFO"], env["QUERY_STRING"] = script, info, string(query)

	name, port := serverName(string(host), r.LocalAddr)
	env["SERVER_NAME"], env["SERVER_PORT"] = name, port

	if h.Body.Kind != http1.BodyNone || h.Flags.Has(http1.FlagContentLength) {
		env["CONTENT_LENGTH"] = strconv.Itoa(len(r.Body))
	}
	forwarded := ""
	for _, f := range h.Fields() {
		n, v := f.Name.Of(b), f.Value.Of(b)
		switch {
		case http1.IsHopByHop(n), h.ListedInConnection(b, n):
			continue // RFC 9110 §7.6.1: not for the next hop
		case bytes.IndexByte(n, '_') >= 0:
			// "X_Real_IP" would become the same variable as
			// "X-Real-IP" and could overwrite what a front proxy set:
			// dropped, as nginx and the Rack servers drop them.
			continue
		case equalFold(n, "content-length"):
			continue // CONTENT_LENGTH above: the body as the worker gets it
		case equalFold(n, "content-type"):
			env["CONTENT_TYPE"] = string(v)
			continue
		case equalFold(n, "x-forwarded-for"):
			if len(v) > 0 {
				forwarded += string(v) + ", "
			}
			continue
		case equalFold(n, "x-forwarded-proto"), equalFold(n, "x-forwarded-host"):
			continue // set by the proxy, below
		case equalFold(n, "proxy"):
			// HTTP_PROXY is also the variable many HTTP clients take
			// their outgoing proxy from ("httpoxy", CVE-2016-5385).
			continue
		case equalFold(n, "host") && h.Form == http1.FormAbsolute:
			continue // the target's authority replaces it (RFC 9112 §3.2.2), below
		}
		key := envKey(n)
		if old, ok := env[key]; ok {
			sep := ", " // RFC 9110 §5.3: repeated fields are one list
			if key == "HTTP_COOKIE" {
				sep = "; " // RFC 6265 §5.4
			}
			env[key] = old + sep + string(v)
		} else {
			env[key] = string(v)
		}
	}
	if h.Form == http1.FormAbsolute {
		env["HTTP_HOST"] = string(host)
	}
	// The X-Forwarded-* fields a push origin gets.
	env["HTTP_X_FORWARDED_FOR"] = forwarded + r.RemoteAddr
	env["HTTP_X_FORWARDED_PROTO"] = "http"
	if len(host) > 0 {
		env["HTTP_X_FORWARDED_HOST"] = string(host)
	}
	return env, nil
}

// envKey is HTTP_ and the field name upper-cased, "-" as "_".
func envKey(n []byte) string {
	k := make([]byte, 0, 5+len(n))
	k = append(k, "HTTP_"...)
	for _, c := range n {
		switch {
		case c == '-':
			c = '_'
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		k = append(k, c)
	}
	return string(k)
}

// serverName splits the request's host into SERVER_NAME and SERVER_PORT;
// without a host, the address the client connected to stands in.
func serverName(host, local string) (string, string) {
	if host == "" {
		h, p, err := net.SplitHostPort(local)
		if err != nil {
			return local, "80"
		}
		return h, p
	}
	if h, p, err := net.SplitHostPort(host); err == nil {
		if p == "" {
			p = "80" // "host:" is the default port (RFC 3986 §3.2.3)
		}
		return h, p
	}
	return strings.Trim(host, "[]"), "80"
}

func equalFold(b []byte, s string) bool {
	return len(b) == len(s) && strings.EqualFold(string(b), s)
}
