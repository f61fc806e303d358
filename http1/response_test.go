package http1

import (
	"strings"
	"testing"
)

// respCase is one raw response head, the method of the request it
// answers, and the verdict: a parse error, a framing error, or the body.
type respCase struct {
	name   string
	in     string
	method Method
	err    *Error // from Parse or Framing
	status int
	body   Body
}

var ok200 = "HTTP/1.1 200 OK\r\n"

var responseCases = []respCase{
	{name: "length", in: ok200 + "Content-Length: 12\r\n\r\n", status: 200, body: Body{BodyLength, 12}},
	{name: "zero length", in: ok200 + "Content-Length: 0\r\n\r\n", status: 200},
	{name: "chunked", in: ok200 + "Transfer-Encoding: chunked\r\n\r\n", status: 200, body: Body{Kind: BodyChunked}},
	{name: "gzip chunked", in: ok200 + "Transfer-Encoding: gzip, chunked\r\n\r\n", status: 200, body: Body{Kind: BodyChunked}},
	// RFC 9112 §6.3 (4): a final coding other than chunked: until close.
	{name: "te gzip only", in: ok200 + "Transfer-Encoding: gzip\r\n\r\n", status: 200, body: Body{Kind: BodyUntilClose}},
	{name: "te unknown", in: ok200 + "Transfer-Encoding: foo\r\n\r\n", status: 200, body: Body{Kind: BodyUntilClose}},
	// RFC 9112 §6.3 (7): neither field: until close.
	{name: "until close", in: ok200 + "Server: x\r\n\r\n", status: 200, body: Body{Kind: BodyUntilClose}},
	{name: "http10 until close", in: "HTTP/1.0 200 OK\r\n\r\n", status: 200, body: Body{Kind: BodyUntilClose}},
	// RFC 9112 §6.3 (1): HEAD, 1xx, 204, 304 have no body whatever they say.
	{name: "head", in: ok200 + "Content-Length: 99\r\n\r\n", method: MethodHead, status: 200},
	{name: "head chunked", in: ok200 + "Transfer-Encoding: chunked\r\n\r\n", method: MethodHead, status: 200},
	{name: "204", in: "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", status: 204},
	{name: "304", in: "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", status: 304},
	{name: "100", in: "HTTP/1.1 100 Continue\r\n\r\n", status: 100},
	{name: "103", in: "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n", status: 103},
	// 101 and a 2xx to CONNECT make a tunnel (RFC 9112 §6.3 (2), RFC 9110 §15.2.2).
	{name: "101", in: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", method: MethodGet, status: 101, body: Body{Kind: BodyTunnel}},
	{name: "connect 200", in: ok200 + "\r\n", method: MethodConnect, status: 200, body: Body{Kind: BodyTunnel}},
	{name: "connect 407", in: "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 2\r\n\r\n", method: MethodConnect, status: 407, body: Body{BodyLength, 2}},
	{name: "empty reason", in: "HTTP/1.1 200 \r\nContent-Length: 1\r\n\r\n", status: 200, body: Body{BodyLength, 1}},
	{name: "no reason no space", in: "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n", status: 200, body: Body{BodyLength, 1}},
	{name: "reason with spaces", in: "HTTP/1.1 404 Not  Found Here\r\nContent-Length: 1\r\n\r\n", status: 404, body: Body{BodyLength, 1}},
	{name: "999", in: "HTTP/1.1 999 Odd\r\nContent-Length: 1\r\n\r\n", status: 999, body: Body{BodyLength, 1}},
	{name: "http 1.1 minor 2", in: "HTTP/1.2 200 OK\r\nContent-Length: 1\r\n\r\n", status: 200, body: Body{BodyLength, 1}},

	{name: "te with cl", in: ok200 + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", err: ErrTEWithCL},
	{name: "te in 1.0", in: "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", err: ErrTEHTTP10},
	{name: "chunked twice", in: ok200 + "Transfer-Encoding: chunked, chunked\r\n\r\n", err: ErrTEChunkedTwice},
	{name: "cl differing", in: ok200 + "Content-Length: 5\r\nContent-Length: 7\r\n\r\n", err: ErrCLMismatch},
	{name: "cl bad", in: ok200 + "Content-Length: 5x\r\n\r\n", err: ErrContentLength},
	{name: "status two digits", in: "HTTP/1.1 20 OK\r\n\r\n", err: ErrStatusLine},
	{name: "status letters", in: "HTTP/1.1 2x0 OK\r\n\r\n", err: ErrStatusLine},
	{name: "status 099", in: "HTTP/1.1 099 OK\r\n\r\n", err: ErrStatusLine},
	{name: "status four digits", in: "HTTP/1.1 2000 OK\r\n\r\n", err: ErrStatusLine},
	{name: "version lower", in: "http/1.1 200 OK\r\n\r\n", err: ErrVersion},
	{name: "version 2", in: "HTTP/2.0 200 OK\r\n\r\n", err: ErrVersionMajor},
	{name: "no version", in: "200 OK\r\n\r\n", err: ErrStatusLine},
	{name: "bare LF", in: "HTTP/1.1 200 OK\nContent-Length: 1\r\n\r\n", err: ErrBareLF},
	{name: "nul reason", in: "HTTP/1.1 200 O\x00K\r\n\r\n", err: ErrCTL},
	{name: "obs-fold", in: ok200 + "X: a\r\n b\r\n\r\n", err: ErrObsFold},
	{name: "space colon", in: ok200 + "Content-Length : 1\r\n\r\n", err: ErrSpaceColon},
	{name: "long status line", in: "HTTP/1.1 200 " + strings.Repeat("x", 9000) + "\r\n\r\n", err: ErrRequestLineSize},
}

// parseResp parses in all at once, then asks for the framing.
func parseResp(r *Response, in []byte, m Method) (int, Body, error) {
	n, err := r.Parse(in)
	if err != nil {
		return n, Body{}, err
	}
	body, err := r.Framing(m)
	return n, body, err
}

func checkResp(t *testing.T, c respCase, r *Response, n int, body Body, err error) {
	t.Helper()
	if c.err != nil {
		if err != c.err {
			t.Fatalf("err = %v, want %v", err, c.err)
		}
		return
	}
	if err != nil {
		t.Fatalf("err = %v", err)
	}
	if n != len(c.in) || r.Status != c.status || body != c.body {
		t.Fatalf("n=%d status=%d body=%+v, want %d %d %+v", n, r.Status, body, len(c.in), c.status, c.body)
	}
}

func TestResponseTable(t *testing.T) {
	for _, c := range responseCases {
		t.Run(c.name, func(t *testing.T) {
			var r Response
			n, body, err := parseResp(&r, []byte(c.in), c.method)
			checkResp(t, c, &r, n, body, err)
		})
	}
}

func TestResponseSplits(t *testing.T) {
	for _, c := range responseCases {
		t.Run(c.name, func(t *testing.T) {
			in := []byte(c.in)
			var r Response
			var n int
			var body Body
			err := error(ErrNeedMore)
			for i := 0; i <= len(in) && err == ErrNeedMore; i++ {
				n, body, err = parseResp(&r, in[:i], c.method)
			}
			checkResp(t, c, &r, n, body, err)
			for cut := 0; cut < len(in); cut++ {
				var r Response
				if _, _, err := parseResp(&r, in[:cut], c.method); err != ErrNeedMore && err != c.err {
					t.Fatalf("cut %d: %v", cut, err)
				}
				n, body, err := parseResp(&r, in, c.method)
				checkResp(t, c, &r, n, body, err)
			}
		})
	}
}

func TestResponseReason(t *testing.T) {
	in := []byte("HTTP/1.1 404 Not Found\r\nServer: s\r\n\r\nbody")
	var r Response
	n, err := r.Parse(in)
	if err != nil || string(in[n:]) != "body" || string(r.Reason.Of(in)) != "Not Found" {
		t.Fatalf("%d %v %q", n, err, r.Reason.Of(in))
	}
	if v, _ := r.Get(in, "server"); string(v) != "s" {
		t.Fatalf("server %q", v)
	}
}

// A 100 Continue is followed by the final response on the same
// connection: the parser frames one after the other.
func TestResponseInterimThenFinal(t *testing.T) {
	in := []byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
	var r Response
	n, err := r.Parse(in)
	if err != nil || r.Status != 100 {
		t.Fatal(n, err)
	}
	r.Reset()
	n2, err := r.Parse(in[n:])
	body, ferr := r.Framing(MethodPost)
	if err != nil || ferr != nil || r.Status != 201 || body.Length != 2 || string(in[n+n2:]) != "ok" {
		t.Fatal(n2, err, ferr, body)
	}
}
