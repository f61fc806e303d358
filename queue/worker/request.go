package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
)

type envKey struct{}

// Env is the Rack environment a request built by Request came from (nil
// for any other request): SCRIPT_NAME, PATH_INFO, rack.url_scheme and the
// rest, as the proxy sent them. Read only.
func Env(r *http.Request) map[string]string {
	env, _ := r.Context().Value(envKey{}).(map[string]string)
	return env
}

// Request builds the server-side *http.Request of a Rack environment
// (CONTRACT.md, "Worker API"), as net/http's server would hand it to a
// handler:
//
//   - Method from REQUEST_METHOD (required);
//   - RequestURI and URL from SCRIPT_NAME+PATH_INFO ("/" when both are
//     empty) and QUERY_STRING;
//   - Proto, ProtoMajor and ProtoMinor from SERVER_PROTOCOL (HTTP/1.1 when
//     missing);
//   - Header from HTTP_* (HTTP_X_TEST is X-Test), CONTENT_TYPE and
//     CONTENT_LENGTH; Host from HTTP_HOST, else SERVER_NAME:SERVER_PORT,
//     and, as with net/http, not in Header;
//   - ContentLength from CONTENT_LENGTH; without it, -1 when body is not
//     nil and 0 (body http.NoBody) when it is;
//   - RemoteAddr from REMOTE_ADDR, with port 0 added when it has none so
//     that net.SplitHostPort takes it.
//
// The request's context is ctx, carrying env for Env.
func Request(ctx context.Context, env map[string]string, body io.Reader) (*http.Request, error) {
	method := env["REQUEST_METHOD"]
	if method == "" {
		return nil, errors.New("worker: env: REQUEST_METHOD missing")
	}
	path := env["SCRIPT_NAME"] + env["PATH_INFO"]
	if path == "" {
		path = "/"
	}
	uri := path
	if q := env["QUERY_STRING"]; q != "" {
		uri += "?" + q
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return nil, fmt.Errorf("worker: env: request target %q: %v", uri, err)
	}
	proto := env["SERVER_PROTOCOL"]
	major, minor, ok := http.ParseHTTPVersion(proto)
	if !ok {
		proto, major, minor = "HTTP/1.1", 1, 1
	}

	h := make(http.Header, len(env))
	for k, v := range env {
		name, ok := strings.CutPrefix(k, "HTTP_")
		if !ok || name == "" || name == "HOST" {
			continue
		}
		h[textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(name, "_", "-"))] = []string{v}
	}
	if v, ok := env["CONTENT_TYPE"]; ok {
		h["Content-Type"] = []string{v}
	}
	length := int64(0)
	if v, ok := env["CONTENT_LENGTH"]; ok && v != "" {
		length, err = strconv.ParseInt(v, 10, 64)
		if err != nil || length < 0 {
			return nil, fmt.Errorf("worker: env: CONTENT_LENGTH %q is not a length", v)
		}
		h["Content-Length"] = []string{v}
	} else if body != nil && body != http.NoBody {
		length = -1
	}
	rc, ok := body.(io.ReadCloser)
	switch {
	case body == nil || length == 0:
		rc = http.NoBody
	case !ok:
		rc = io.NopCloser(body)
	}

	host := env["HTTP_HOST"]
	if host == "" && env["SERVER_NAME"] != "" {
		host = env["SERVER_NAME"]
		if p := env["SERVER_PORT"]; p != "" {
			host = net.JoinHostPort(host, p)
		}
	}
	remote := env["REMOTE_ADDR"]
	if _, _, err := net.SplitHostPort(remote); err != nil && remote != "" {
		remote = net.JoinHostPort(remote, "0")
	}

	r := &http.Request{
		Method:        method,
		URL:           u,
		Proto:         proto,
		ProtoMajor:    major,
		ProtoMinor:    minor,
		Header:        h,
		Body:          rc,
		ContentLength: length,
		Host:          host,
		RemoteAddr:    remote,
		RequestURI:    uri,
	}
	return r.WithContext(context.WithValue(ctx, envKey{}, env)), nil
}
