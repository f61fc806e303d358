package eventloop_test

// The request-smuggling suite: raw client bytes through the live proxy to
// a recording origin (raworigin_test.go), whose strict reader is
// independent of package http1. Each case states, in the case itself,
// what the origin must receive and what the client must be answered:
// never derived from what the proxy does.
//
// The invariant, for every request case: the client reads exactly
// len(want) responses 200 "ok", then, for a rejected message, one
// response with the reject status and the end of the connection; the
// origin reads exactly the wanted requests, each well framed, and not one
// byte more, except, when the rejection came inside a chunked body
// (truncatedOK), a cut-off prefix of the rejected message on a
// connection the proxy then closed.
//
// For every response case: the client gets either a 502 and the end of
// the connection (where the case allows it), or the wanted responses,
// well framed, and never a response it did not ask for: its next request
// on the same connection, and a request from a new client, get their own
// answers.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgeloop/edgeloop/eventloop"
)

// smuggleIO bounds every read of the suite: a case that hangs fails in
// seconds, and the whole suite stays short even when some fail.
const smuggleIO = 3 * time.Second

// smuggleCase is one raw client stream and what must come of it.
type smuggleCase struct {
	name string
	send string    // raw bytes the client writes (all at once)
	want []wantReq // the requests the origin must receive, in order
	// reject: 0, every request is forwarded; else the status of the
	// proxy's answer to the first bad message, after which the client
	// connection must be closed.
	reject int
	// truncatedOK: the proxy may have started forwarding the rejected
	// message (a bad chunk found mid-body): the origin may see a cut-off
	// message, then the close, never anything after it.
	truncatedOK bool
	// closes: with reject 0, the proxy closes the client connection after
	// the last wanted response (Connection: close, HTTP/1.0), and nothing
	// the client sent after that request reaches the origin.
	closes bool
}

// wantReq is a request as the origin must receive it.
type wantReq struct {
	method, target string
	// fields: end-to-end fields expected at the origin, in order. Only
	// the names listed are compared (the proxy adds Via, X-Forwarded-*,
	// Content-Length or Transfer-Encoding), each with its exact value.
	fields  [][2]string
	absent  []string // field names that must not reach the origin
	body    string
	chunked bool
}

// Raw pieces of the cases. Every case's send is the plain concatenation
// of literal bytes.
const (
	smPost  = "POST /p HTTP/1.1\r\nHost: a.example\r\n"
	smGetA  = "GET /a HTTP/1.1\r\nHost: a.example\r\n\r\n"
	smGetB  = "GET /b HTTP/1.1\r\nHost: a.example\r\n\r\n"
	smTE    = "Transfer-Encoding: chunked\r\n"
	smHello = "5\r\nhello\r\n0\r\n\r\n" // "hello", chunked
	// smuggled is a whole request (43 bytes, 0x2b) hidden in bodies.
	smuggled = "GET /smuggled HTTP/1.1\r\nHost: a.example\r\n\r\n"
)

var smHostA = [][2]string{{"Host", "a.example"}}

func wGet(target string) wantReq {
	return wantReq{method: "GET", target: target, fields: smHostA}
}

func wPost(body string, chunked bool) wantReq {
	return wantReq{method: "POST", target: "/p", fields: smHostA, body: body, chunked: chunked}
}

func wPostCL(body string) wantReq {
	r := wPost(body, false)
	r.fields = [][2]string{{"Host", "a.example"}, {"Content-Length", strconv.Itoa(len(body))}}
	return r
}

var smuggleRequestCases = []smuggleCase{
	// CL.TE and TE.CL: RFC 9112 §6.3 (3), refused in either order.
	{name: "CL.TE", send: smPost + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", reject: 400},
	{name: "TE.CL", send: smPost + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n2b\r\n" + smuggled + "\r\n0\r\n\r\n", reject: 400},
	{name: "CL.TE with CL 0", send: smPost + "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n2b\r\n" + smuggled + "\r\n0\r\n\r\n", reject: 400},
	{name: "TE.CL with TE behind a tab", send: smPost + "Transfer-Encoding:\tchunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", reject: 400},
	{name: "TE.CL with TE in mixed case", send: smPost + "Transfer-Encoding: cHuNkEd\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", reject: 400},
	{name: "CL.TE after a valid request", send: smGetA + smPost + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
		want: []wantReq{wGet("/a")}, reject: 400},

	// TE.TE: obfuscated Transfer-Encoding.
	{name: "TE value Chunked", send: smPost + "Transfer-Encoding: Chunked\r\n\r\n" + smHello, want: []wantReq{wPost("hello", true)}},
	{name: "TE value CHUNKED", send: smPost + "Transfer-Encoding: CHUNKED\r\n\r\n" + smHello, want: []wantReq{wPost("hello", true)}},
	{name: "TE name in mixed case", send: smPost + "tRaNsFeR-eNcOdInG: chunked\r\n\r\n" + smHello, want: []wantReq{wPost("hello", true)}},
	{name: "TE value padded with spaces and tabs", send: smPost + "Transfer-Encoding: \t chunked\t \r\n\r\n" + smHello, want: []wantReq{wPost("hello", true)}},
	{name: "TE space before colon", send: smPost + "Transfer-Encoding : chunked\r\n\r\n" + smHello, reject: 400},
	{name: "TE tab before colon", send: smPost + "Transfer-Encoding\t: chunked\r\n\r\n" + smHello, reject: 400},
	{name: "TE chunked twice in two fields", send: smPost + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + smHello, reject: 400},
	{name: "TE chunked twice in one field", send: smPost + "Transfer-Encoding: chunked, chunked\r\n\r\n" + smHello, reject: 400},
	// Two fields are one list (RFC 9110 §5.3), but an origin that reads
	// one line only (Go's net/http refuses two) would frame otherwise:
	// the proxy must write one Transfer-Encoding line.
	{name: "TE gzip and chunked in two fields", send: smPost + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" + smHello,
		want: []wantReq{wPost("hello", true)}},
	{name: "TE chunked then identity in two fields", send: smPost + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n" + smHello, reject: 501},
	{name: "TE chunked, identity", send: smPost + "Transfer-Encoding: chunked, identity\r\n\r\n" + smHello, reject: 501},
	// docs/conformance.md: codings before the final chunked are forwarded.
	{name: "TE identity, chunked", send: smPost + "Transfer-Encoding: identity, chunked\r\n\r\n" + smHello, want: []wantReq{wPost("hello", true)}},
	{name: "TE quoted chunked", send: smPost + "Transfer-Encoding: \"chunked\"\r\n\r\n" + smHello, reject: 400},
	// RFC 9112 §7.1: chunked has no parameters; their presence SHOULD
	// be treated as an error (an origin comparing the value would not
	// see chunked).
	{name: "TE chunked with a parameter", send: smPost + "Transfer-Encoding: chunked;q=1\r\n\r\n" + smHello, reject: 400},
	// RFC 9110 §5.6.1: empty list elements are ignored.
	{name: "TE chunked with a trailing comma", send: smPost + "Transfer-Encoding: chunked,\r\n\r\n" + smHello, want: []wantReq{wPost("hello", true)}},
	{name: "TE with a leading empty element", send: smPost + "Transfer-Encoding: , chunked\r\n\r\n" + smHello, want: []wantReq{wPost("hello", true)}},
	{name: "TE vertical tab before the value", send: smPost + "Transfer-Encoding:\x0bchunked\r\n\r\n" + smHello, reject: 400},
	{name: "TE form feed after the value", send: smPost + "Transfer-Encoding: chunked\x0c\r\n\r\n" + smHello, reject: 400},
	{name: "TE chunkedx", send: smPost + "Transfer-Encoding: chunkedx\r\n\r\n" + smHello, reject: 501},
	{name: "TE xchunked", send: smPost + "Transfer-Encoding: xchunked\r\n\r\n" + smHello, reject: 501},
	{name: "TE empty value", send: smPost + "Transfer-Encoding:\r\n\r\n" + smHello, reject: 400},
	{name: "TE value on an obs-fold line", send: smPost + "Transfer-Encoding:\r\n chunked\r\n\r\n" + smHello, reject: 400},
	{name: "TE in HTTP/1.0", send: "POST /p HTTP/1.0\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n" + smHello, reject: 400},
	// Transfer_Encoding is another field name: the body is framed by
	// Content-Length, whatever an origin makes of the underscore.
	{name: "TE with an underscore is not TE", send: smPost + "Transfer_Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello",
		want: []wantReq{wPostCL("hello")}},
	{name: "Connection names Transfer-Encoding", send: smPost + "Connection: Transfer-Encoding\r\n" + smTE + "\r\n" + smHello + smGetA,
		want: []wantReq{wPost("hello", true), wGet("/a")}},

	// Content-Length: RFC 9110 §8.6, RFC 9112 §6.3 (5).
	{name: "CL repeated with one value is forwarded once", send: smPost + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
		want: []wantReq{wPostCL("hello")}},
	{name: "CL differing values", send: smPost + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", reject: 400},
	{name: "CL comma list", send: smPost + "Content-Length: 5, 5\r\n\r\nhello", reject: 400},
	{name: "CL plus sign", send: smPost + "Content-Length: +5\r\n\r\nhello", reject: 400},
	{name: "CL negative", send: smPost + "Content-Length: -1\r\n\r\nhello", reject: 400},
	{name: "CL leading zeros are normalised", send: smPost + "Content-Length: 00005\r\n\r\nhello", want: []wantReq{wPostCL("hello")}},
	{name: "CL padded with spaces and tabs", send: smPost + "Content-Length: \t5 \r\n\r\nhello", want: []wantReq{wPostCL("hello")}},
	{name: "CL space inside", send: smPost + "Content-Length: 1 0\r\n\r\nhellohello", reject: 400},
	{name: "CL hex", send: smPost + "Content-Length: 0x5\r\n\r\nhello", reject: 400},
	{name: "CL decimal point", send: smPost + "Content-Length: 5.0\r\n\r\nhello", reject: 400},
	{name: "CL empty", send: smPost + "Content-Length:\r\n\r\nhello", reject: 400},
	{name: "CL beyond int64", send: smPost + "Content-Length: 99999999999999999999\r\n\r\nhello", reject: 400},
	{name: "CL vertical tab before the value", send: smPost + "Content-Length:\x0b5\r\n\r\nhello", reject: 400},
	{name: "CL 0 then a pipelined request", send: smPost + "Content-Length: 0\r\n\r\n" + smGetA,
		want: []wantReq{wPost("", false), wGet("/a")}},
	{name: "CL body holds a request", send: smPost + "Content-Length: 43\r\n\r\n" + smuggled,
		want: []wantReq{wPostCL(smuggled)}},
	{name: "GET with a CL body", send: "GET /a HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\n\r\nhello" + smGetB,
		want: []wantReq{{method: "GET", target: "/a", fields: smHostA, body: "hello"}, wGet("/b")}},
	{name: "Connection names Content-Length", send: smPost + "Connection: Content-Length\r\nContent-Length: 5\r\n\r\nhello" + smGetA,
		want: []wantReq{wPostCL("hello"), wGet("/a")}},

	// Chunked bodies (RFC 9112 §7.1): a bad chunk is found after the head
	// went out, so the origin may see the head, then the close.
	{name: "chunk size of 17 hex digits", send: smPost + smTE + "\r\n10000000000000005\r\nhello\r\n0\r\n\r\n", reject: 400, truncatedOK: true},
	{name: "chunk size of 16 hex digits", send: smPost + smTE + "\r\nffffffffffffffff\r\nhello\r\n0\r\n\r\n", reject: 400, truncatedOK: true},
	{name: "chunk size negative", send: smPost + smTE + "\r\n-5\r\nhello\r\n0\r\n\r\n", reject: 400, truncatedOK: true},
	{name: "chunk size with 0x prefix", send: smPost + smTE + "\r\n0x5\r\nhello\r\n0\r\n\r\n", reject: 400, truncatedOK: true},
	{name: "chunk size after a space", send: smPost + smTE + "\r\n 5\r\nhello\r\n0\r\n\r\n", reject: 400, truncatedOK: true},
	{name: "chunk size before a space", send: smPost + smTE + "\r\n5 \r\nhello\r\n0\r\n\r\n", reject: 400, truncatedOK: true},
	{name: "chunk extension with bare CR", send: smPost + smTE + "\r\n5;a\rb\r\nhello\r\n0\r\n\r\n", reject: 400, truncatedOK: true},
	{name: "chunk extension with bare LF", send: smPost + smTE + "\r\n5;a\nhello\r\n0\r\n\r\n", reject: 400, truncatedOK: true},
	{name: "chunk lines end in bare LF", send: smPost + smTE + "\r\n5\nhello\n0\n\n", reject: 400, truncatedOK: true},
	{name: "chunk data longer than declared", send: smPost + smTE + "\r\n5\r\nhelloXX\r\n0\r\n\r\n", reject: 400, truncatedOK: true},
	{name: "chunk data shorter than declared", send: smPost + smTE + "\r\n5\r\nhel\r\n0\r\n\r\n", reject: 400, truncatedOK: true},
	{name: "no CRLF after chunk data", send: smPost + smTE + "\r\n5\r\nhello0\r\n\r\n", reject: 400, truncatedOK: true},
	{name: "a request where the final CRLF belongs", send: smPost + smTE + "\r\n5\r\nhello\r\n0\r\n" + smuggled, reject: 400, truncatedOK: true},
	{name: "trailer with space before colon", send: smPost + smTE + "\r\n5\r\nhello\r\n0\r\nX-T : v\r\n\r\n", reject: 400, truncatedOK: true},
	{name: "chunk extensions are forwarded", send: smPost + smTE + "\r\n5;ext=val\r\nhello\r\n0;last=\"q\"\r\n\r\n",
		want: []wantReq{wPost("hello", true)}},
	// RFC 9112 §7.1.1: chunk-ext = *( BWS ";" ... ).
	{name: "chunk extension after whitespace", send: smPost + smTE + "\r\n5 ;ext=val\r\nhello\r\n0\r\n\r\n",
		want: []wantReq{wPost("hello", true)}},
	{name: "chunk size with leading zeros in upper case", send: smPost + smTE + "\r\n000A\r\n0123456789\r\n0\r\n\r\n",
		want: []wantReq{wPost("0123456789", true)}},
	{name: "chunked with a trailer", send: smPost + smTE + "\r\n5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n" + smGetA,
		want: []wantReq{wPost("hello", true), wGet("/a")}},
	{name: "chunked body holds a request", send: smPost + smTE + "\r\n2b\r\n" + smuggled + "\r\n0\r\n\r\n",
		want: []wantReq{wPost(smuggled, true)}},
	{name: "chunked body holds a last-chunk and a request", send: smPost + smTE + "\r\n30\r\n0\r\n\r\n" + smuggled + "\r\n0\r\n\r\n",
		want: []wantReq{wPost("0\r\n\r\n"+smuggled, true)}},

	// Heads: RFC 9112 §2.2, §5, RFC 9110 §5.
	{name: "bare LF line endings", send: "GET /a HTTP/1.1\nHost: a.example\n\n", reject: 400},
	{name: "bare LF after the request-line", send: "GET /a HTTP/1.1\nHost: a.example\r\n\r\n", reject: 400},
	{name: "bare LF ends a field line", send: "GET /a HTTP/1.1\r\nHost: a.example\nX-A: 1\r\n\r\n", reject: 400},
	{name: "bare CR ends the request-line", send: "GET /a HTTP/1.1\rHost: a.example\r\n\r\n", reject: 400},
	{name: "bare CR in a field value", send: "GET /a HTTP/1.1\r\nHost: a.example\r\nX-A: 1\rX-B: 2\r\n\r\n", reject: 400},
	{name: "obs-fold", send: "GET /a HTTP/1.1\r\nHost: a.example\r\nX-A: 1\r\n 2\r\n\r\n", reject: 400},
	{name: "NUL in a field name", send: "GET /a HTTP/1.1\r\nHost: a.example\r\nX-A\x00B: 1\r\n\r\n", reject: 400},
	{name: "NUL in a field value", send: "GET /a HTTP/1.1\r\nHost: a.example\r\nX-A: 1\x002\r\n\r\n", reject: 400},
	{name: "SOH in a field value", send: "GET /a HTTP/1.1\r\nHost: a.example\r\nX-A: 1\x012\r\n\r\n", reject: 400},
	{name: "DEL in a field name", send: "GET /a HTTP/1.1\r\nHost: a.example\r\nX-A\x7f: 1\r\n\r\n", reject: 400},
	{name: "DEL in a field value", send: "GET /a HTTP/1.1\r\nHost: a.example\r\nX-A: 1\x7f\r\n\r\n", reject: 400},
	{name: "NUL in the request-target", send: "GET /a\x00 HTTP/1.1\r\nHost: a.example\r\n\r\n", reject: 400},
	{name: "space before colon", send: "GET /a HTTP/1.1\r\nHost: a.example\r\nX-A : 1\r\n\r\n", reject: 400},
	{name: "space inside a field name", send: "GET /a HTTP/1.1\r\nHost: a.example\r\nX A: 1\r\n\r\n", reject: 400},
	{name: "empty field name", send: "GET /a HTTP/1.1\r\nHost: a.example\r\n: 1\r\n\r\n", reject: 400},
	{name: "field line without colon", send: "GET /a HTTP/1.1\r\nHost: a.example\r\nX-A\r\n\r\n", reject: 400},
	{name: "obs-text in a value is forwarded", send: "GET /a HTTP/1.1\r\nHost: a.example\r\nX-A: caf\xc3\xa9\r\n\r\n",
		want: []wantReq{{method: "GET", target: "/a", fields: [][2]string{{"Host", "a.example"}, {"X-A", "caf\xc3\xa9"}}}}},
	{name: "empty lines before the request-line", send: "\r\n\r\n" + smGetA, want: []wantReq{wGet("/a")}},
	{name: "two spaces in the request-line", send: "GET  /a HTTP/1.1\r\nHost: a.example\r\n\r\n", reject: 400},
	{name: "tab in the request-line", send: "GET\t/a HTTP/1.1\r\nHost: a.example\r\n\r\n", reject: 400},
	{name: "lower-case HTTP-version", send: "GET /a http/1.1\r\nHost: a.example\r\n\r\n", reject: 400},
	{name: "HTTP/1.2 is handled as 1.1", send: "GET /a HTTP/1.2\r\nHost: a.example\r\n\r\n", want: []wantReq{wGet("/a")}},
	{name: "HTTP/0.9 request-line", send: "GET /\r\n", reject: 400},
	{name: "HTTP/2 preface", send: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", reject: 505},

	// Host and target: RFC 9112 §3.2.
	{name: "absolute-form beats Host", send: "GET http://a.example/p?q=1 HTTP/1.1\r\nHost: b.example\r\n\r\n",
		want: []wantReq{{method: "GET", target: "/p?q=1", fields: [][2]string{{"Host", "a.example"}, {"X-Forwarded-Host", "a.example"}}}}},
	{name: "absolute-form https with a port beats Host", send: "GET https://a.example:8443/p HTTP/1.1\r\nHost: b.example\r\n\r\n",
		want: []wantReq{{method: "GET", target: "/p", fields: [][2]string{{"Host", "a.example:8443"}}}}},
	{name: "absolute-form with userinfo", send: "GET http://b.example@a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n", reject: 400},
	{name: "absolute-form without Host", send: "GET http://a.example/ HTTP/1.1\r\n\r\n", reject: 400},
	{name: "asterisk-form for GET", send: "GET * HTTP/1.1\r\nHost: a.example\r\n\r\n", reject: 400},
	{name: "two Host fields", send: "GET /a HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n", reject: 400},
	{name: "two Host fields with one value", send: "GET /a HTTP/1.1\r\nHost: a.example\r\nHost: a.example\r\n\r\n", reject: 400},
	{name: "Host with a path", send: "GET /a HTTP/1.1\r\nHost: a.example/evil\r\n\r\n", reject: 400},
	{name: "Host with a space inside", send: "GET /a HTTP/1.1\r\nHost: a.example b.example\r\n\r\n", reject: 400},
	// Host is not a connection option: naming it in Connection must not
	// strip it (an HTTP/1.1 request without Host is invalid, RFC 9112 §3.2).
	{name: "Connection names Host", send: "GET /a HTTP/1.1\r\nHost: a.example\r\nConnection: Host\r\n\r\n",
		want: []wantReq{wGet("/a")}},

	// Upgrades the origin does not take: it answers 200, not 101, so the
	// next bytes are a new request, never a tunnel.
	{name: "h2c upgrade then a pipelined request",
		send: "GET /a HTTP/1.1\r\nHost: a.example\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n" + smGetB,
		want: []wantReq{{method: "GET", target: "/a", fields: smHostA, absent: []string{"Upgrade", "HTTP2-Settings", "Connection"}}, wGet("/b")}},
	{name: "h2c upgrade then the HTTP/2 preface",
		send:   "GET /a HTTP/1.1\r\nHost: a.example\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		want:   []wantReq{{method: "GET", target: "/a", fields: smHostA, absent: []string{"Upgrade", "HTTP2-Settings", "Connection"}}},
		reject: 505},
	{name: "websocket upgrade answered 200 then a pipelined request",
		send: "GET /a HTTP/1.1\r\nHost: a.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n" + smGetB,
		want: []wantReq{{method: "GET", target: "/a", fields: [][2]string{{"Host", "a.example"}, {"Connection", "Upgrade"}, {"Upgrade", "websocket"}}}, wGet("/b")}},

	// Pipelining.
	{name: "valid request then two Host fields", send: smGetA + "GET /b HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n",
		want: []wantReq{wGet("/a")}, reject: 400},
	{name: "valid request then bare LF", send: smGetA + "GET /b HTTP/1.1\nHost: a.example\n\n",
		want: []wantReq{wGet("/a")}, reject: 400},
	{name: "valid chunked request then a broken chunk", send: smPost + smTE + "\r\n" + smHello + smPost + smTE + "\r\n3\r\nabc\r\nzz\r\n",
		want: []wantReq{wPost("hello", true)}, reject: 400, truncatedOK: true},
	{name: "several pipelined requests",
		send: smGetA + smPost + "Content-Length: 5\r\n\r\nhello" + smPost + smTE + "\r\n3\r\nabc\r\n0\r\n\r\n" + smGetB,
		want: []wantReq{wGet("/a"), wPostCL("hello"), wPost("abc", true), wGet("/b")}},
	{name: "nothing forwarded after Connection: close", send: "GET /a HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n" + smGetB,
		want: []wantReq{wGet("/a")}, closes: true},
	{name: "nothing forwarded after an HTTP/1.0 request", send: "GET /a HTTP/1.0\r\nHost: a.example\r\n\r\n" + smGetB,
		want: []wantReq{wGet("/a")}, closes: true},
	{name: "HTTP/1.0 keep-alive then a pipelined request", send: "GET /a HTTP/1.0\r\nHost: a.example\r\nConnection: keep-alive\r\n\r\n" + smGetB,
		want: []wantReq{wGet("/a"), wGet("/b")}},
}

func TestSmuggleRequests(t *testing.T) {
	for _, tc := range smuggleRequestCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := startRawOrigin(t, nil)
			p := startProxy(t, eventloop.Options{Loops: 1, Origins: []string{o.Addr()}})
			c := dial(t, p.Addr)
			c.send(tc.send)
			if err := smuggleClientSide(c, tc); err != nil {
				t.Errorf("client: %v", err)
			}
			checkSmuggleOrigin(t, o, tc)
		})
	}
}

// smuggleClientSide reads what the client must get: len(want) responses
// 200 "ok", then the rejection and the close, or the close alone.
func smuggleClientSide(c *client, tc smuggleCase) error {
	for i, w := range tc.want {
		r, err := c.readWire(w.method)
		if err != nil {
			return fmt.Errorf("response %d of %d: %w", i+1, len(tc.want), err)
		}
		if r.Status != 200 || string(r.Body) != "ok" {
			return fmt.Errorf("response %d of %d: %d %q, want 200 \"ok\"", i+1, len(tc.want), r.Status, r.Body)
		}
	}
	if tc.reject != 0 {
		r, err := c.readWire("GET")
		if err != nil {
			return fmt.Errorf("the answer to the bad message: %w", err)
		}
		if r.Status != tc.reject {
			return fmt.Errorf("the bad message was answered %d %q, want %d", r.Status, r.Body, tc.reject)
		}
	}
	if tc.reject != 0 || tc.closes {
		return c.wireEOF()
	}
	return nil
}

// checkSmuggleOrigin polls the origin until what it received matches the
// case (the proxy may write just after the client read its last byte),
// then once more after a short grace, so that nothing arrives late.
func checkSmuggleOrigin(t *testing.T, o *rawOrigin, tc smuggleCase) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := smuggleOriginVerdict(o, tc)
		if err == nil {
			time.Sleep(50 * time.Millisecond)
			if err = smuggleOriginVerdict(o, tc); err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Errorf("origin: %v", err)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const endsInside = "ends inside a message"

func smuggleOriginVerdict(o *rawOrigin, tc smuggleCase) error {
	errs := o.Errors()
	reqs := o.Requests()
	streams := o.Streams()
	closedInside := map[int]bool{} // connections closed inside a message
	for _, e := range errs {
		if tc.truncatedOK && strings.Contains(e.Error(), endsInside) {
			var n int
			if _, err := fmt.Sscanf(e.Error(), "connection %d:", &n); err == nil {
				closedInside[n] = true
				continue
			}
		}
		return fmt.Errorf("framing error: %v", e)
	}
	if len(reqs) != len(tc.want) {
		return fmt.Errorf("got %d requests %s, want %d", len(reqs), describeRefs(reqs), len(tc.want))
	}
	for i, w := range tc.want {
		if err := matchWant(reqs[i], w); err != nil {
			return fmt.Errorf("request %d of %d: %v (got %q)", i+1, len(reqs), err, reqs[i].Raw)
		}
	}
	// Every byte received is a wanted request's, but for a cut-off
	// prefix of the rejected message on a connection since closed.
	for i, s := range streams {
		rest := s
		for _, r := range reqs {
			if r.Conn != i+1 {
				continue
			}
			if !bytes.HasPrefix(rest, r.Raw) {
				return fmt.Errorf("connection %d: request %q is not where its stream %q has it", i+1, r.Raw, s)
			}
			rest = rest[len(r.Raw):]
		}
		if len(rest) == 0 {
			continue
		}
		if !tc.truncatedOK {
			return fmt.Errorf("connection %d: %d bytes beyond the wanted requests: %q", i+1, len(rest), rest)
		}
		if _, _, err := refParse(rest); !errors.Is(err, errRefNeedMore) {
			return fmt.Errorf("connection %d: the bytes beyond the wanted requests are not a cut-off message (%v): %q", i+1, err, rest)
		}
		if !closedInside[i+1] {
			return fmt.Errorf("connection %d holds a cut-off message %q and is still open", i+1, rest)
		}
	}
	return nil
}

// matchWant compares a request the origin read with the case's.
func matchWant(r *refRequest, w wantReq) error {
	if r.Method != w.method || r.Target != w.target {
		return fmt.Errorf("%s %s, want %s %s", r.Method, r.Target, w.method, w.target)
	}
	if r.Version != "HTTP/1.1" {
		return fmt.Errorf("version %s, want HTTP/1.1", r.Version)
	}
	if string(r.Body) != w.body || r.Chunked != w.chunked {
		return fmt.Errorf("body %q (chunked %v), want %q (chunked %v)", r.Body, r.Chunked, w.body, w.chunked)
	}
	// RFC 9112 §3.2: every HTTP/1.1 request has exactly one Host.
	if h := r.Get("Host"); len(h) != 1 {
		return fmt.Errorf("%d Host fields %q, want one", len(h), h)
	}
	return matchFields(r.Fields, w.fields, w.absent)
}

// matchFields checks that the fields of got named in want are exactly
// want, in order (names in any case, values exact), and that none of
// absent is in got.
func matchFields(got, want [][2]string, absent []string) error {
	names := map[string]bool{}
	for _, f := range want {
		names[strings.ToLower(f[0])] = true
	}
	var sel [][2]string
	for _, f := range got {
		if names[strings.ToLower(f[0])] {
			sel = append(sel, f)
		}
	}
	same := len(sel) == len(want)
	for i := 0; same && i < len(sel); i++ {
		same = strings.EqualFold(sel[i][0], want[i][0]) && sel[i][1] == want[i][1]
	}
	if !same {
		return fmt.Errorf("fields %q, want %q", sel, want)
	}
	for _, a := range absent {
		for _, f := range got {
			if strings.EqualFold(f[0], a) {
				return fmt.Errorf("field %q: %q, want none", f[0], f[1])
			}
		}
	}
	return nil
}

func describeRefs(reqs []*refRequest) string {
	var b strings.Builder
	for _, r := range reqs {
		fmt.Fprintf(&b, "[%s %s on connection %d]", r.Method, r.Target, r.Conn)
	}
	return b.String()
}

// ---------------------------------------------------------------------
// Responses.

// responseCase is one raw origin answer and what the client must get.
type responseCase struct {
	name string
	// request is the client's raw request; "" means a GET of / with Host.
	request    string
	response   string // raw bytes the origin answers the request with
	closeAfter bool   // the origin closes the connection after them
	// want: the responses the client must get, in order (interim ones
	// first); nil: a 502, then the connection closed.
	want []wantResp
	// or502: a 502 and the close are accepted instead of want (the
	// proxy may refuse what it cannot pass on faithfully).
	or502 bool
}

// wantResp is a response as the client must receive it.
type wantResp struct {
	status int
	body   string
	fields [][2]string // only the names listed are compared, exact values, in order
	absent []string
}

const smOK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// smExtra is a whole response (46 bytes) an origin sends unasked.
const smExtra = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"

var ok200 = []wantResp{{status: 200, body: "ok"}}

var smuggleResponseCases = []responseCase{
	// Framing: RFC 9112 §6.3.
	{name: "CL and TE", response: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{name: "two differing CL", response: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!"},
	{name: "CL repeated with one value is forwarded once", response: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
		want: []wantResp{{status: 200, body: "ok", fields: [][2]string{{"Content-Length", "2"}}}}},
	{name: "CL leading zeros are normalised", response: "HTTP/1.1 200 OK\r\nContent-Length: 002\r\n\r\nok",
		want: []wantResp{{status: 200, body: "ok", fields: [][2]string{{"Content-Length", "2"}}}}},
	{name: "CL with a sign", response: "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok"},
	{name: "TE chunked twice", response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{name: "TE in an HTTP/1.0 response", response: "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	// A transfer coding other than chunked in a response is a 502, as
	// nginx makes it: the proxy does not decode, clients (browsers,
	// net/http) do not either, and dropping the field would pass coded
	// bytes off as the content.
	{name: "TE gzip, chunked is refused", response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{name: "TE gzip and chunked in two fields", response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
	{name: "TE gzip without chunked", response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nhello", closeAfter: true},
	{name: "TE unknown coding", response: "HTTP/1.1 200 \r\nTrAnsfer-EnCoding:0\r\n\r\n", closeAfter: true},
	// Several lines of chunked alone are one chunked.
	{name: "TE chunked with an empty element", response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: , chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		want: []wantResp{{status: 200, body: "hello", fields: [][2]string{{"Transfer-Encoding", "chunked"}}}}},

	// Interim responses: RFC 9110 §15.2, a proxy forwards them to a 1.1
	// client, never to a 1.0 one.
	{name: "100 Continue before the final response", response: "HTTP/1.1 100 Continue\r\n\r\n" + smOK,
		want: []wantResp{{status: 100}, {status: 200, body: "ok"}}},
	{name: "103 Early Hints before the final response", response: "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n" + smOK,
		want: []wantResp{{status: 103, fields: [][2]string{{"Link", "</s.css>; rel=preload"}}}, {status: 200, body: "ok"}}},
	{name: "100 then 103 then the final response", response: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n" + smOK,
		want: []wantResp{{status: 100}, {status: 103, fields: [][2]string{{"Link", "</s.css>"}}}, {status: 200, body: "ok"}}},
	{name: "1xx with a Content-Length has no body", response: "HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\n" + smOK,
		want: []wantResp{{status: 100, absent: []string{"Content-Length"}}, {status: 200, body: "ok"}}},
	{name: "1xx to an HTTP/1.0 client is dropped", request: "GET / HTTP/1.0\r\nHost: a.example\r\n\r\n",
		response: "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n" + smOK, want: ok200},
	// RFC 9110 §15.2.2: only a protocol the request named.
	{name: "101 without an Upgrade request", response: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"},

	// Splitting: no CTL survives in a head (RFC 9112 §2.2, §5.2).
	{name: "bare CR in a field value", response: "HTTP/1.1 200 OK\r\nX-A: a\rSet-Cookie: evil=1\r\nContent-Length: 2\r\n\r\nok"},
	{name: "bare LF in a field value", response: "HTTP/1.1 200 OK\r\nX-A: a\nSet-Cookie: evil=1\r\nContent-Length: 2\r\n\r\nok"},
	{name: "obs-fold", response: "HTTP/1.1 200 OK\r\nX-A: a\r\n Set-Cookie: evil=1\r\nContent-Length: 2\r\n\r\nok"},
	{name: "NUL in a field value", response: "HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok"},
	{name: "space before colon", response: "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok"},
	{name: "an empty line ends the head: the rest is body", closeAfter: true,
		response: "HTTP/1.1 200 OK\r\nX-A: a\r\n\r\n" + smExtra,
		want:     []wantResp{{status: 200, body: smExtra, fields: [][2]string{{"X-A", "a"}}}}},

	// Bytes after a complete response (TestOriginSendsExtraBytes has the
	// Content-Length, HEAD and 204 ones).
	{name: "a response after a chunked one", response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n" + smExtra,
		want: ok200},
	{name: "a response after a 304 that announces its length", response: "HTTP/1.1 304 Not Modified\r\nContent-Length: 46\r\n\r\n" + smExtra,
		want: []wantResp{{status: 304, fields: [][2]string{{"Content-Length", "46"}}}}},
	{name: "a response after the final one that followed a 100", response: "HTTP/1.1 100 Continue\r\n\r\n" + smOK + smExtra,
		want: []wantResp{{status: 100}, {status: 200, body: "ok"}}},

	// Status lines: RFC 9112 §4.
	{name: "status line HTTP/2.0", response: "HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok"},
	{name: "status line lower-case version", response: "http/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"},
	{name: "status line without space after the version", response: "HTTP/1.1200 OK\r\nContent-Length: 2\r\n\r\nok"},
	{name: "status line with four digits", response: "HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok"},
	{name: "status 099", response: "HTTP/1.1 099 Low\r\nContent-Length: 2\r\n\r\nok"},
	{name: "status line ICY", response: "ICY 200 OK\r\nContent-Length: 2\r\n\r\nok"},
	{name: "status line HTTP/1.2 is taken as 1.1", response: "HTTP/1.2 200 OK\r\nContent-Length: 2\r\n\r\nok", want: ok200},
	{name: "status line without reason", response: "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok", want: ok200},
}

func TestSmuggleResponses(t *testing.T) {
	for _, tc := range smuggleResponseCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := startRawOrigin(t, func(r *refRequest) (string, bool) {
				if r.Target == "/second" {
					return "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond", false
				}
				return tc.response, tc.closeAfter
			})
			p := startProxy(t, eventloop.Options{Loops: 1, Origins: []string{o.Addr()}})
			c := dial(t, p.Addr)
			req := tc.request
			if req == "" {
				req = "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n"
			}
			c.send(req)
			if err := smuggleResponseClient(c, tc, strings.Fields(req)[0]); err != nil {
				t.Errorf("client: %v", err)
			}
			// The proxy goes on serving, and no origin connection it
			// keeps holds a stale answer.
			if err := askSecond(dial(t, p.Addr)); err != nil {
				t.Errorf("a new client: %v", err)
			}
			if errs := o.Errors(); len(errs) > 0 {
				t.Errorf("origin framing errors: %v", errs)
			}
		})
	}
}

// smuggleResponseClient reads the responses the case wants (or a 502
// and the close), then checks the connection: closed when the last
// response said so, else answering its next request with its own answer.
func smuggleResponseClient(c *client, tc responseCase, method string) error {
	r, err := c.readWire(method)
	if err != nil {
		return fmt.Errorf("response 1: %w", err)
	}
	if r.Status == 502 && (tc.want == nil || tc.or502) {
		return c.wireEOF()
	}
	if tc.want == nil {
		return fmt.Errorf("response %d %q, want 502 and the close", r.Status, r.Body)
	}
	for i, w := range tc.want {
		if i > 0 {
			if r, err = c.readWire(method); err != nil {
				return fmt.Errorf("response %d of %d: %w", i+1, len(tc.want), err)
			}
		}
		if r.Status != w.status || string(r.Body) != w.body {
			return fmt.Errorf("response %d of %d: %d %q, want %d %q", i+1, len(tc.want), r.Status, r.Body, w.status, w.body)
		}
		if err := matchFields(r.Fields, w.fields, w.absent); err != nil {
			return fmt.Errorf("response %d of %d: %v", i+1, len(tc.want), err)
		}
	}
	if r.UntilClose || r.closes() {
		return c.wireEOF()
	}
	return askSecond(c)
}

// askSecond sends GET /second and expects the origin's own answer to it.
func askSecond(c *client) error {
	if err := c.write("GET /second HTTP/1.1\r\nHost: a.example\r\n\r\n"); err != nil {
		return fmt.Errorf("GET /second: %w", err)
	}
	r, err := c.readWire("GET")
	if err != nil {
		return fmt.Errorf("GET /second: %w", err)
	}
	if r.Status != 200 || string(r.Body) != "second" {
		return fmt.Errorf("GET /second was answered %d %q", r.Status, r.Body)
	}
	return nil
}

// ---------------------------------------------------------------------
// A strict reader of the responses the client gets.

// wireResp is a response as the client read it off the wire.
type wireResp struct {
	Status     int
	Fields     [][2]string
	Body       []byte // de-chunked
	Chunked    bool
	UntilClose bool // the body ran until the connection closed
}

func (r *wireResp) get(name string) []string {
	var out []string
	for _, f := range r.Fields {
		if strings.EqualFold(f[0], name) {
			out = append(out, f[1])
		}
	}
	return out
}

// closes reports whether the response said the connection closes.
func (r *wireResp) closes() bool {
	for _, v := range r.get("Connection") {
		for _, o := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(o), "close") {
				return true
			}
		}
	}
	return false
}

// readWire reads one response to a request of the given method, refusing
// what a proxy must not write: anything but CRLF line endings, a status
// line other than "HTTP/1.1 DDD reason", field lines that are not token,
// colon, value without CTLs, or more than one framing field.
func (c *client) readWire(method string) (*wireResp, error) {
	c.c.SetReadDeadline(time.Now().Add(smuggleIO))
	line, err := c.wireLine()
	if err != nil {
		return nil, fmt.Errorf("status line: %w", err)
	}
	if len(line) < 12 || !strings.HasPrefix(line, "HTTP/1.1 ") || len(line) > 12 && line[12] != ' ' {
		return nil, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(line[9:12])
	if err != nil || status < 100 {
		return nil, fmt.Errorf("bad status line %q", line)
	}
	r := &wireResp{Status: status}
	for {
		l, err := c.wireLine()
		if err != nil {
			return nil, fmt.Errorf("head after %q: %w", line, err)
		}
		if l == "" {
			break
		}
		colon := strings.IndexByte(l, ':')
		if colon <= 0 || !refToken(l[:colon]) {
			return nil, fmt.Errorf("bad field line %q", l)
		}
		v := strings.Trim(l[colon+1:], " \t")
		if refHasCTL(v, true) {
			return nil, fmt.Errorf("control byte in field line %q", l)
		}
		r.Fields = append(r.Fields, [2]string{l[:colon], v})
	}
	te, cl := r.get("Transfer-Encoding"), r.get("Content-Length")
	switch {
	case len(te) > 1:
		return nil, fmt.Errorf("%d Transfer-Encoding fields %q", len(te), te)
	case len(te) > 0 && len(cl) > 0:
		return nil, fmt.Errorf("Transfer-Encoding %q with Content-Length %q", te, cl)
	case len(cl) > 1:
		return nil, fmt.Errorf("%d Content-Length fields %q", len(cl), cl)
	}
	switch {
	case status < 200 || status == 204 || status == 304 || method == "HEAD":
	case len(te) == 1 && lastCodingChunked(te[0]):
		r.Chunked = true
		r.Body, err = c.wireChunked()
	case len(cl) == 1:
		if cl[0] == "" || strings.Trim(cl[0], "0123456789") != "" || len(cl[0]) > 15 {
			return nil, fmt.Errorf("bad Content-Length %q", cl[0])
		}
		n, _ := strconv.Atoi(cl[0])
		r.Body = make([]byte, n)
		if k, err := io.ReadFull(c.br, r.Body); err != nil {
			return nil, fmt.Errorf("body: %w after %q", err, r.Body[:k])
		}
	default: // RFC 9112 §6.3 (4), (7): until the close
		r.UntilClose = true
		r.Body, err = io.ReadAll(c.br)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, fmt.Errorf("close-delimited body still open after %v (read %q)", smuggleIO, r.Body)
		}
		err = nil // a reset ends it too
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// lastCodingChunked: the final transfer coding of v is chunked (empty
// list elements ignored, RFC 9110 §5.6.1).
func lastCodingChunked(v string) bool {
	codings := strings.Split(v, ",")
	for i := len(codings) - 1; i >= 0; i-- {
		if c := strings.TrimSpace(codings[i]); c != "" {
			return strings.EqualFold(c, "chunked")
		}
	}
	return false
}

// wireLine reads one line, which must end in CRLF and hold no other CR
// or LF; it returns it without the CRLF.
func (c *client) wireLine() (string, error) {
	s, err := c.br.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("%w (read %q)", err, s)
	}
	if !strings.HasSuffix(s, "\r\n") {
		return "", fmt.Errorf("bare LF in %q", s)
	}
	s = s[:len(s)-2]
	if strings.ContainsAny(s, "\r\n") {
		return "", fmt.Errorf("bare CR in %q", s)
	}
	return s, nil
}

// wireChunked reads a chunked body and its trailer section.
func (c *client) wireChunked() ([]byte, error) {
	var body []byte
	for {
		l, err := c.wireLine()
		if err != nil {
			return nil, fmt.Errorf("chunk line: %w", err)
		}
		size, ext, hasExt := strings.Cut(l, ";")
		if hasExt {
			size = strings.TrimRight(size, " \t") // BWS before ";"
			if refHasCTL(ext, true) {
				return nil, fmt.Errorf("control byte in chunk extension %q", l)
			}
		}
		if size == "" || len(size) > 15 || strings.Trim(size, "0123456789abcdefABCDEF") != "" {
			return nil, fmt.Errorf("bad chunk line %q", l)
		}
		n, _ := strconv.ParseInt(size, 16, 64)
		if n == 0 {
			break
		}
		data := make([]byte, n+2)
		if _, err := io.ReadFull(c.br, data); err != nil {
			return nil, fmt.Errorf("chunk data: %w", err)
		}
		if string(data[n:]) != "\r\n" {
			return nil, fmt.Errorf("chunk data not followed by CRLF: %q", data)
		}
		body = append(body, data[:n]...)
	}
	for {
		l, err := c.wireLine()
		if err != nil {
			return nil, fmt.Errorf("trailer: %w", err)
		}
		if l == "" {
			return body, nil
		}
		colon := strings.IndexByte(l, ':')
		if colon <= 0 || !refToken(l[:colon]) || refHasCTL(l[colon+1:], true) {
			return nil, fmt.Errorf("bad trailer line %q", l)
		}
	}
}

// wireEOF checks that the proxy closes the connection with nothing more
// to read (a reset counts as a close).
func (c *client) wireEOF() error {
	c.c.SetReadDeadline(time.Now().Add(smuggleIO))
	b, err := io.ReadAll(c.br)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("connection still open after %v (read %q)", smuggleIO, b)
	case len(b) > 0:
		return fmt.Errorf("bytes before the close: %q", b)
	}
	return nil
}
