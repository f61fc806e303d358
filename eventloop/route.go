package eventloop

import (
	"bytes"
	"unsafe"

	"github.com/edgeloop/edgeloop/http1"
	"github.com/edgeloop/edgeloop/pool"
)

// What a request offers the pool: the host and path that route it to a
// pool, and the key a hash policy hashes. All are views into the
// request's buffer (or the connection's address): valid only while the
// head is, and never kept by the pool.

// routeHost is the request's host: the authority of an absolute-form
// target (RFC 9112 §3.2.2: it replaces Host), else the Host field.
func routeHost(r *http1.Request, b []byte) []byte {
	if r.Form == http1.FormAbsolute {
		return r.Authority.Of(b)
	}
	h, _ := r.Get(b, "host")
	return h
}

// routePath is the request's path (and query) in origin-form.
func routePath(r *http1.Request, b []byte) []byte {
	t := r.Target.Of(b)
	if r.Form == http1.FormAbsolute {
		t = t[r.Authority.End()-int(r.Target.Off):]
	}
	return t
}

// hashKey is the bytes pl's hash policy hashes: the client's IP, a
// field's value or a cookie's; nil for other policies or when the field
// or cookie is missing (the pool then falls back to round robin).
func (cc *clientConn) hashKey(pl *pool.Pool, r *http1.Request, b []byte) []byte {
	kind, name := pl.Key()
	switch kind {
	case pool.KeyIP:
		return unsafe.Slice(unsafe.StringData(cc.ip), len(cc.ip)) // read only
	case pool.KeyHeader:
		v, _ := r.Get(b, name)
		return v
	case pool.KeyCookie:
		for _, f := range r.Fields() {
			if equalFold(f.Name.Of(b), "cookie") {
				if v, ok := cookieValue(f.Value.Of(b), name); ok {
					return v
				}
			}
		}
	}
	return nil
}

// cookieValue finds name's value in a Cookie field value
// ("a=1; b=2", RFC 6265 §4.2.1).
func cookieValue(v []byte, name string) ([]byte, bool) {
	for len(v) > 0 {
		var pair []byte
		pair, v = cutItem(v, ';')
		if i := bytes.IndexByte(pair, '='); i >= 0 && string(pair[:i]) == name {
			return pair[i+1:], true
		}
	}
	return nil, false
}

// knownHTTP10 reports whether s was seen answering in HTTP/1.0.
func (p *Proxy) knownHTTP10(s *pool.Server) bool {
	_, ok := p.http10.Load(s.ID)
	return ok
}

// cutItem splits the first item of a sep-separated field value off the
// rest, without the whitespace around it.
func cutItem(v []byte, sep byte) (item, rest []byte) {
	if i := bytes.IndexByte(v, sep); i >= 0 {
		item, rest = v[:i], v[i+1:]
	} else {
		item = v
	}
	return bytes.Trim(item, " \t"), rest
}
