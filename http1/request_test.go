package http1

import (
	"errors"
	"strings"
	"testing"
)

// reqCase is one raw request head and the verdict on it.
type reqCase struct {
	name string
	in   string
	err  *Error // nil: valid
	// For valid heads: method, target and body framing.
	method, target string
	body           Body
}

var get = "GET / HTTP/1.1\r\nHost: a\r\n"

// requestCases: every rule of the parser, with the RFC clause it stands on.
var requestCases = []reqCase{
	// Valid heads.
	{name: "simple", in: get + "\r\n", method: "GET", target: "/"},
	{name: "http10 no host", in: "GET /x HTTP/1.0\r\n\r\n", method: "GET", target: "/x"},
	{name: "query", in: "GET /a/b?c=d&e HTTP/1.1\r\nHost: h:80\r\n\r\n", method: "GET", target: "/a/b?c=d&e"},
	{name: "utf8 path", in: "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", method: "GET", target: "/caf\xc3\xa9"},
	{name: "ows around value", in: "GET / HTTP/1.1\r\nHost: \t a \t\r\nX:\r\n\r\n", method: "GET", target: "/"},
	{name: "tab inside value", in: get + "X: a\tb\r\n\r\n", method: "GET", target: "/"},
	{name: "obs-text value", in: get + "X: \xff\x80\r\n\r\n", method: "GET", target: "/"},
	{name: "content-length", in: "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", method: "POST", target: "/p", body: Body{BodyLength, 5}},
	{name: "content-length zero", in: "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", method: "POST", target: "/p"},
	{name: "content-length many leading zeros", in: "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 000000000000000000000000012\r\n\r\n", method: "POST", target: "/p", body: Body{BodyLength, 12}},
	{name: "content-length int64 max", in: "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n", method: "POST", target: "/p", body: Body{BodyLength, 9223372036854775807}},
	{name: "content-length leading zeros", in: "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n", method: "POST", target: "/p", body: Body{BodyLength, 7}},
	// RFC 9110 §8.6: identical repeated values may be taken as one.
	{name: "content-length repeated same", in: "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n", method: "POST", target: "/p", body: Body{BodyLength, 5}},
	{name: "chunked", in: "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", method: "POST", target: "/p", body: Body{Kind: BodyChunked}},
	{name: "chunked any case", in: "POST /p HTTP/1.1\r\nHost: a\r\ntransfer-encoding: ChUnKeD\r\n\r\n", method: "POST", target: "/p", body: Body{Kind: BodyChunked}},
	{name: "gzip then chunked", in: "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", method: "POST", target: "/p", body: Body{Kind: BodyChunked}},
	{name: "te over two fields", in: "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", method: "POST", target: "/p", body: Body{Kind: BodyChunked}},
	{name: "te empty elements", in: "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,chunked,\r\n\r\n", method: "POST", target: "/p", body: Body{Kind: BodyChunked}},
	// RFC 9112 §2.2: empty lines before the request-line are ignored.
	{name: "leading empty lines", in: "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", method: "GET", target: "/"},
	// RFC 9110 §2.5: a higher 1.x minor is handled as 1.1.
	{name: "http 1.9", in: "GET / HTTP/1.9\r\nHost: a\r\n\r\n", method: "GET", target: "/"},
	{name: "absolute form", in: "GET http://example.com:81/x?y HTTP/1.1\r\nHost: other\r\n\r\n", method: "GET", target: "http://example.com:81/x?y"},
	{name: "absolute form no path", in: "GET https://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", method: "GET", target: "https://example.com"},
	{name: "connect", in: "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", method: "CONNECT", target: "example.com:443"},
	{name: "connect ipv6", in: "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n", method: "CONNECT", target: "[::1]:443"},
	{name: "absolute ipv6", in: "GET http://[::1]:8080/x HTTP/1.1\r\nHost: a\r\n\r\n", method: "GET", target: "http://[::1]:8080/x"},
	{name: "absolute ipv6 no port", in: "GET http://[::1]/x HTTP/1.1\r\nHost: a\r\n\r\n", method: "GET", target: "http://[::1]/x"},
	{name: "options asterisk", in: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", method: "OPTIONS", target: "*"},
	{name: "extension method", in: "PROPFIND /d HTTP/1.1\r\nHost: a\r\n\r\n", method: "PROPFIND", target: "/d"},
	{name: "empty host", in: "GET / HTTP/1.1\r\nHost:\r\n\r\n", method: "GET", target: "/"},
	{name: "ipv6 host", in: "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", method: "GET", target: "/"},
	{name: "expect", in: "PUT /u HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", method: "PUT", target: "/u", body: Body{BodyLength, 3}},

	// Request-line (RFC 9112 §3).
	{name: "lowercase version", in: "GET / http/1.1\r\nHost: a\r\n\r\n", err: ErrVersion},
	{name: "version junk", in: "GET / HTTP/1.1x\r\nHost: a\r\n\r\n", err: ErrVersion},
	{name: "version two digits minor", in: "GET / HTTP/1.10\r\nHost: a\r\n\r\n", err: ErrVersion},
	{name: "version no minor", in: "GET / HTTP/1\r\nHost: a\r\n\r\n", err: ErrVersion},
	// RFC 9110 §15.6.6: another major version is 505.
	{name: "http2 version", in: "GET / HTTP/2.0\r\nHost: a\r\n\r\n", err: ErrVersionMajor},
	{name: "http2 bare", in: "GET / HTTP/2\r\nHost: a\r\n\r\n", err: ErrVersionMajor},
	{name: "http 0.9 version", in: "GET / HTTP/0.9\r\n\r\n", err: ErrVersionMajor},
	{name: "http 3", in: "GET / HTTP/3.0\r\nHost: a\r\n\r\n", err: ErrVersionMajor},
	{name: "no version", in: "GET /\r\nHost: a\r\n\r\n", err: ErrRequestLine},
	{name: "double space", in: "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrTarget},
	{name: "space in target", in: "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrTarget},
	{name: "leading space", in: " GET / HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrRequestLine},
	{name: "tab separator", in: "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrCTL},
	{name: "trailing space", in: "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", err: ErrTarget},
	// RFC 9110 §9.1: method = token.
	{name: "bad method char", in: "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrMethod},
	{name: "method with slash", in: "GE/T / HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrMethod},
	{name: "nul in method", in: "G\x00T / HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrCTL},
	{name: "del in target", in: "GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrCTL},
	{name: "fragment", in: "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrTarget},
	{name: "relative target", in: "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrTarget},
	{name: "ftp target", in: "GET ftp://a/b HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrTarget},
	{name: "absolute no host", in: "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrTarget},
	// RFC 9112 §3.2.3, §3.2.4: authority-form and asterisk-form.
	{name: "connect origin form", in: "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrTargetForm},
	{name: "connect no port", in: "CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrTargetForm},
	// RFC 3986 §3.2.2: brackets only around an IP-literal (found by
	// FuzzDifferentialRequest in CI: net/http refuses these too).
	{name: "connect open bracket", in: "CONNECT [:0 HTTP/1.0\r\n\r\n", err: ErrTargetForm},
	{name: "absolute open bracket", in: "GET http://[::1/x HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrTarget},
	{name: "absolute bracket inside", in: "GET http://a]b/x HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrTarget},
	{name: "absolute empty literal", in: "GET http://[]/ HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrTarget},
	{name: "absolute ipv4 in brackets", in: "GET http://[1.2.3.4]/ HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrTarget},
	{name: "absolute junk after literal", in: "GET http://[::1]x/ HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrTarget},
	{name: "asterisk get", in: "GET * HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrTargetForm},

	// Line endings (RFC 9112 §2.2).
	{name: "bare LF request line", in: "GET / HTTP/1.1\nHost: a\r\n\r\n", err: ErrBareLF},
	{name: "bare LF field", in: "GET / HTTP/1.1\r\nHost: a\n\r\n", err: ErrBareLF},
	{name: "bare LF end", in: "GET / HTTP/1.1\r\nHost: a\r\n\n", err: ErrBareLF},
	{name: "bare LF leading", in: "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrBareLF},
	{name: "bare CR in value", in: get + "X: a\rb\r\n\r\n", err: ErrCTL},
	{name: "bare CR in target", in: "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrCTL},
	{name: "CR CR LF", in: get + "X: a\r\r\n\r\n", err: ErrCTL},
	{name: "nul in value", in: get + "X: a\x00b\r\n\r\n", err: ErrCTL},
	{name: "nul in long value", in: get + "X: abcdefghijklmnop\x00qrstuvwxyz\r\n\r\n", err: ErrCTL},
	{name: "del in value", in: get + "X: abcdefgh\x7f\r\n\r\n", err: ErrCTL},
	{name: "esc in value", in: get + "X: \x1b[31m\r\n\r\n", err: ErrCTL},

	// Field lines (RFC 9112 §5).
	{name: "obs-fold", in: get + "X: a\r\n b\r\n\r\n", err: ErrObsFold},
	{name: "obs-fold tab", in: get + "X: a\r\n\tb\r\n\r\n", err: ErrObsFold},
	{name: "whitespace first field", in: "GET / HTTP/1.1\r\n Host: a\r\n\r\n", err: ErrObsFold},
	{name: "space before colon", in: get + "X : a\r\n\r\n", err: ErrSpaceColon},
	{name: "tab before colon", in: get + "X\t: a\r\n\r\n", err: ErrSpaceColon},
	{name: "space before colon on host", in: "GET / HTTP/1.1\r\nHost : a\r\n\r\n", err: ErrSpaceColon},
	{name: "space inside name", in: get + "X Y: a\r\n\r\n", err: ErrFieldName},
	{name: "no colon", in: get + "Xa\r\n\r\n", err: ErrFieldName},
	{name: "empty name", in: get + ": a\r\n\r\n", err: ErrFieldName},
	{name: "bad name char", in: get + "X(Y): a\r\n\r\n", err: ErrFieldName},
	{name: "utf8 name", in: get + "X\xc3\xa9: a\r\n\r\n", err: ErrFieldName},
	{name: "nul in name", in: get + "X\x00: a\r\n\r\n", err: ErrCTL},

	// Host (RFC 9112 §3.2).
	{name: "no host 1.1", in: "GET / HTTP/1.1\r\n\r\n", err: ErrNoHost},
	{name: "two hosts", in: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", err: ErrDupHost},
	{name: "two hosts same", in: "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", err: ErrDupHost},
	{name: "bad host", in: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", err: ErrHost},
	{name: "host with slash", in: "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", err: ErrHost},
	{name: "host userinfo", in: "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", err: ErrHost},

	// Content-Length (RFC 9110 §8.6, RFC 9112 §6.3).
	{name: "cl plus", in: get + "Content-Length: +5\r\n\r\n", err: ErrContentLength},
	{name: "cl minus", in: get + "Content-Length: -1\r\n\r\n", err: ErrContentLength},
	{name: "cl space inside", in: get + "Content-Length: 1 2\r\n\r\n", err: ErrContentLength},
	{name: "cl hex", in: get + "Content-Length: 0x10\r\n\r\n", err: ErrContentLength},
	{name: "cl empty", in: get + "Content-Length:\r\n\r\n", err: ErrContentLength},
	{name: "cl list", in: get + "Content-Length: 5, 5\r\n\r\n", err: ErrContentLength},
	{name: "cl overflow", in: get + "Content-Length: 99999999999999999999\r\n\r\n", err: ErrContentLength},
	{name: "cl int64 overflow", in: get + "Content-Length: 9223372036854775808\r\n\r\n", err: ErrContentLength},
	{name: "cl differing", in: get + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", err: ErrCLMismatch},

	// Transfer-Encoding (RFC 9112 §6.1, §6.3).
	{name: "te and cl", in: get + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", err: ErrTEWithCL},
	{name: "cl and te", in: get + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", err: ErrTEWithCL},
	{name: "te unknown", in: get + "Transfer-Encoding: foo\r\n\r\n", err: ErrTEUnknown},
	{name: "te unknown then chunked", in: get + "Transfer-Encoding: foo, chunked\r\n\r\n", err: nil, method: "GET", target: "/", body: Body{Kind: BodyChunked}},
	{name: "te gzip alone", in: get + "Transfer-Encoding: gzip\r\n\r\n", err: ErrTENotChunked},
	{name: "te chunked not final", in: get + "Transfer-Encoding: chunked, gzip\r\n\r\n", err: ErrTENotChunked},
	{name: "te chunked twice", in: get + "Transfer-Encoding: chunked, chunked\r\n\r\n", err: ErrTEChunkedTwice},
	{name: "te chunked twice fields", in: get + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", err: ErrTEChunkedTwice},
	{name: "te empty", in: get + "Transfer-Encoding:\r\n\r\n", err: ErrTEMalformed},
	{name: "te garbage", in: get + "Transfer-Encoding: \"chunked\"\r\n\r\n", err: ErrTEMalformed},
	{name: "te chunked with a parameter", in: get + "Transfer-Encoding: chunked;q=1\r\n\r\n", err: ErrTEMalformed},
	{name: "te chunked with a parameter after gzip", in: get + "Transfer-Encoding: gzip, chunked ; a=b\r\n\r\n", err: ErrTEMalformed},
	{name: "te gzip with a parameter", in: get + "Transfer-Encoding: gzip;level=1, chunked\r\n\r\n", err: nil, method: "GET", target: "/", body: Body{Kind: BodyChunked}},
	{name: "te chunked-false", in: get + "Transfer-Encoding: xchunked\r\n\r\n", err: ErrTEUnknown},
	{name: "te in http10", in: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", err: ErrTEHTTP10},
	{name: "te identity", in: get + "Transfer-Encoding: identity\r\n\r\n", err: ErrTEUnknown},

	// Limits (RFC 9112 §3 and RFC 6585 §5).
	{name: "long request line", in: "GET /" + strings.Repeat("a", 8192) + " HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrRequestLineSize},
	{name: "long header block", in: get + strings.Repeat("X-Pad: "+strings.Repeat("p", 990)+"\r\n", 17) + "\r\n", err: ErrHeadTooLarge},
	{name: "too many fields", in: get + strings.Repeat("X: y\r\n", 100) + "\r\n", err: ErrTooManyField},
	{name: "exactly 100 fields", in: get + strings.Repeat("X: y\r\n", 99) + "\r\n", method: "GET", target: "/"},
}

// checkRequest parses in all at once and checks the verdict of c.
func checkRequest(t *testing.T, c reqCase, r *Request, n int, err error) {
	t.Helper()
	if c.err != nil {
		if err != c.err {
			t.Fatalf("err = %v, want %v", err, c.err)
		}
		if n != 0 {
			t.Fatalf("n = %d with an error", n)
		}
		return
	}
	if err != nil {
		t.Fatalf("err = %v, want none", err)
	}
	if n != len(c.in) {
		t.Fatalf("n = %d, want %d", n, len(c.in))
	}
	b := []byte(c.in)
	if got := string(r.Method.Of(b)); got != c.method {
		t.Errorf("method = %q, want %q", got, c.method)
	}
	if got := string(r.Target.Of(b)); got != c.target {
		t.Errorf("target = %q, want %q", got, c.target)
	}
	if r.Body != c.body {
		t.Errorf("body = %+v, want %+v", r.Body, c.body)
	}
}

func TestRequestTable(t *testing.T) {
	for _, c := range requestCases {
		t.Run(c.name, func(t *testing.T) {
			var r Request
			n, err := r.Parse([]byte(c.in))
			checkRequest(t, c, &r, n, err)
			if c.err != nil {
				if StatusOf(err) != c.err.Status {
					t.Fatalf("status %d", StatusOf(err))
				}
				// The verdict sticks until Reset.
				if _, err2 := r.Parse([]byte(c.in)); err2 != c.err {
					t.Fatalf("second Parse = %v", err2)
				}
			}
		})
	}
}

// TestRequestSplits feeds every case in every two-piece split and one byte
// at a time: the verdict must not change, and every prefix short of the
// head must say ErrNeedMore unless a limit or error is already certain.
func TestRequestSplits(t *testing.T) {
	for _, c := range requestCases {
		t.Run(c.name, func(t *testing.T) {
			in := []byte(c.in)
			for cut := 0; cut < len(in); cut++ {
				var r Request
				n, err := r.Parse(in[:cut])
				if err == nil {
					t.Fatalf("cut %d: complete before the end (n=%d)", cut, n)
				}
				if err != ErrNeedMore && err != c.err {
					t.Fatalf("cut %d: err %v, want ErrNeedMore or %v", cut, err, c.err)
				}
				if err == ErrNeedMore {
					n, err = r.Parse(in)
				}
				checkRequest(t, c, &r, n, err)
			}
			var r Request
			n, err := 0, error(ErrNeedMore)
			for i := 0; i <= len(in) && err == ErrNeedMore; i++ {
				n, err = r.Parse(in[:i])
			}
			checkRequest(t, c, &r, n, err)
		})
	}
}

// TestRequestPrefixesNeedMore: every proper prefix of a valid head is
// ErrNeedMore, and the head's own bytes are parsed once more at most
// (resumption does not rescan).
func TestRequestPrefixesNeedMore(t *testing.T) {
	for _, c := range requestCases {
		if c.err != nil {
			continue
		}
		in := []byte(c.in)
		for i := 0; i < len(in); i++ {
			var r Request
			if _, err := r.Parse(in[:i]); err != ErrNeedMore {
				t.Fatalf("%s: prefix %d: %v", c.name, i, err)
			}
		}
	}
}

func TestRequestLimitsConfigurable(t *testing.T) {
	in := []byte("GET /0123456789 HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\n\r\n")
	cases := []struct {
		lim Limits
		err error
	}{
		{Limits{}, nil},
		{Limits{MaxRequestLine: 24}, nil},
		{Limits{MaxRequestLine: 23}, ErrRequestLineSize},
		{Limits{MaxHeaderBytes: 23}, nil}, // 3 lines of 9+6+6 bytes + 2
		{Limits{MaxHeaderBytes: 22}, ErrHeadTooLarge},
		{Limits{MaxFields: 3}, nil},
		{Limits{MaxFields: 2}, ErrTooManyField},
	}
	for _, c := range cases {
		r := Request{Head: Head{Limits: c.lim}}
		_, err := r.Parse(in)
		if err != c.err {
			t.Errorf("%+v: err %v, want %v", c.lim, err, c.err)
		}
		// Byte at a time gives the same verdict.
		r.Reset()
		err = ErrNeedMore
		for i := 0; i <= len(in) && err == ErrNeedMore; i++ {
			_, err = r.Parse(in[:i])
		}
		if err != c.err {
			t.Errorf("%+v bytewise: err %v, want %v", c.lim, err, c.err)
		}
	}
}

// An endless request-line is refused as soon as it passes the limit, not
// when (if ever) its LF comes.
func TestRequestLineLimitEarly(t *testing.T) {
	var r Request
	in := []byte("GET /" + strings.Repeat("a", 9000))
	if _, err := r.Parse(in[:8000]); err != ErrNeedMore {
		t.Fatalf("8000: %v", err)
	}
	if _, err := r.Parse(in); err != ErrRequestLineSize {
		t.Fatalf("9000: %v", err)
	}
	var r2 Request
	in = []byte(get + "X: " + strings.Repeat("a", 20000))
	if _, err := r2.Parse(in); err != ErrHeadTooLarge {
		t.Fatalf("field: %v", err)
	}
}

func TestRequestPipelined(t *testing.T) {
	in := []byte("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n" +
		"POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" +
		"\r\nHEAD /3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	want := []struct {
		target string
		body   int64
	}{{"/1", 0}, {"/2", 3}, {"/3", 0}}
	var r Request
	b := in
	for i, w := range want {
		r.Reset()
		n, err := r.Parse(b)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if got := string(r.Target.Of(b)); got != w.target {
			t.Fatalf("message %d: target %q", i, got)
		}
		b = b[n+int(r.Body.Length):]
	}
	if len(b) != 0 || r.KeepAlive() {
		t.Fatalf("left %q, keepalive %v", b, r.KeepAlive())
	}
}

func TestRequestFields(t *testing.T) {
	in := []byte("GET http://h.example/p HTTP/1.1\r\nHost: h.example\r\nAccept:  */*  \r\n" +
		"Connection: keep-alive, X-Secret ,Upgrade\r\nX-Secret: 1\r\nUpgrade: websocket\r\nExpect: 100-Continue\r\n\r\n")
	var r Request
	if _, err := r.Parse(in); err != nil {
		t.Fatal(err)
	}
	if len(r.Fields()) != 6 {
		t.Fatalf("%d fields", len(r.Fields()))
	}
	if v, ok := r.Get(in, "ACCEPT"); !ok || string(v) != "*/*" {
		t.Fatalf("accept %q %v", v, ok)
	}
	if _, ok := r.Get(in, "cookie"); ok {
		t.Fatal("cookie found")
	}
	if !r.Flags.Has(FlagKeepAlive|FlagUpgrade|FlagConnOther|FlagExpectContinue|FlagHost) || r.Flags.Has(FlagClose) {
		t.Fatalf("flags %b", r.Flags)
	}
	if !r.ListedInConnection(in, []byte("x-secret")) || r.ListedInConnection(in, []byte("accept")) {
		t.Fatal("ListedInConnection")
	}
	if r.Form != FormAbsolute || string(r.Authority.Of(in)) != "h.example" || string(r.Host.Of(in)) != "h.example" {
		t.Fatalf("form %d authority %q", r.Form, r.Authority.Of(in))
	}
	if r.MethodKind != MethodGet || !r.MethodKind.Idempotent() || MethodPost.Idempotent() {
		t.Fatal("method kind")
	}
}

func TestKeepAlive(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", false},
		{"GET / HTTP/1.0\r\n\r\n", false},
		{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
		{"GET / HTTP/1.2\r\nHost: a\r\n\r\n", true},
	}
	for _, c := range cases {
		var r Request
		if _, err := r.Parse([]byte(c.in)); err != nil {
			t.Fatal(err)
		}
		if r.KeepAlive() != c.want {
			t.Errorf("%q: keep-alive %v", c.in, !c.want)
		}
	}
}

func TestHopByHop(t *testing.T) {
	for _, h := range HopByHop {
		if !IsHopByHop([]byte(strings.ToUpper(h.Name))) || h.Reason == "" {
			t.Errorf("%s", h.Name)
		}
	}
	for _, n := range []string{"host", "content-length", "trailer", "x-connection", "tee", "upgrades"} {
		if IsHopByHop([]byte(n)) {
			t.Errorf("%s is not hop-by-hop", n)
		}
	}
}

func TestNextToken(t *testing.T) {
	v := []byte(` a ,, b;q="x,y" ,c `)
	var got []string
	for i := 0; i < len(v); {
		var tok []byte
		tok, i = NextToken(v, i)
		if len(tok) > 0 {
			got = append(got, string(tok))
		}
	}
	if strings.Join(got, "|") != `a|b;q="x,y"|c` {
		t.Fatalf("%q", got)
	}
}

func TestStatusOf(t *testing.T) {
	if StatusOf(nil) != 0 || StatusOf(ErrTEUnknown) != 501 || StatusOf(errors.New("x")) != 400 ||
		StatusOf(ErrVersionMajor) != 505 || StatusOf(ErrRequestLineSize) != 414 || StatusOf(ErrTooManyField) != 431 {
		t.Fatal("StatusOf")
	}
}
