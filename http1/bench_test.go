package http1

import (
	"bufio"
	"bytes"
	"net/http"
	"testing"

	"github.com/valyala/fasthttp"
)

// Benchmark inputs: the names are part of the contract with
// ../shared/acceptance/http1-parser and bench scripts
// (BenchmarkParseRequest/<input>/<parser>).
var benchInputs = []struct{ name, head string }{
	{"get3", "GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n"},
	{"browser12", "GET /static/js/app.3f2a1c.js?v=20261123 HTTP/1.1\r\n" +
		"Host: www.example.com\r\n" +
		"Connection: keep-alive\r\n" +
		"sec-ch-ua: \"Chromium\";v=\"156\", \"Not=A?Brand\";v=\"24\"\r\n" +
		"sec-ch-ua-mobile: ?0\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36\r\n" +
		"sec-ch-ua-platform: \"Linux\"\r\n" +
		"Accept: */*\r\n" +
		"Sec-Fetch-Site: same-origin\r\n" +
		"Sec-Fetch-Mode: no-cors\r\n" +
		"Referer: https://www.example.com/account/settings?tab=profile\r\n" +
		"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
		"Cookie: session=4f2a9c1e7b3d5a8f0e6c2b9d1a7f3e5c; theme=dark; _ga=GA1.2.1234567890.1700000000\r\n\r\n"},
	{"post", "POST /api/v1/orders HTTP/1.1\r\nHost: api.example.com\r\nContent-Type: application/json\r\n" +
		"Content-Length: 348\r\nAuthorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abc\r\n" +
		"Accept: application/json\r\nX-Request-Id: 7f1c2e4a-9b3d-4c5e-8f6a-1b2c3d4e5f60\r\n\r\n"},
}

func BenchmarkParseRequest(b *testing.B) {
	for _, in := range benchInputs {
		head := []byte(in.head)
		b.Run(in.name+"/edgeloop", func(b *testing.B) {
			var r Request
			b.SetBytes(int64(len(head)))
			b.ReportAllocs()
			for b.Loop() {
				r.Reset()
				if _, err := r.Parse(head); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(in.name+"/nethttp", func(b *testing.B) {
			rd := bytes.NewReader(head)
			br := bufio.NewReader(rd)
			b.SetBytes(int64(len(head)))
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(head)
				br.Reset(rd)
				if _, err := http.ReadRequest(br); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(in.name+"/fasthttp", func(b *testing.B) {
			var h fasthttp.RequestHeader
			rd := bytes.NewReader(head)
			br := bufio.NewReader(rd)
			b.SetBytes(int64(len(head)))
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(head)
				br.Reset(rd)
				h.Reset()
				if err := h.Read(br); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseRequestBytewise is the worst case of resumption: the head
// arrives one byte per read.
func BenchmarkParseRequestBytewise(b *testing.B) {
	head := []byte(benchInputs[1].head)
	var r Request
	b.SetBytes(int64(len(head)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset()
		for i := 1; i <= len(head); i++ {
			if _, err := r.Parse(head[:i]); err != nil && err != ErrNeedMore {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkParseResponse(b *testing.B) {
	head := []byte("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Mon, 23 Nov 2026 10:00:00 GMT\r\n" +
		"Content-Type: text/html; charset=utf-8\r\nContent-Length: 1234\r\nConnection: keep-alive\r\n" +
		"Cache-Control: max-age=3600\r\nETag: \"5f3a-1234\"\r\n\r\n")
	var r Response
	b.SetBytes(int64(len(head)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset()
		if _, err := r.Parse(head); err != nil {
			b.Fatal(err)
		}
	}
}
