package queue

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/edgeloop/edgeloop/http1"
)

// FuzzAnswer: whatever a worker posts, an answer the API takes is safe to
// write to a client. Its fields are valid and none frames the message or
// the connection, and the response written from it (status line, its
// fields, the proxy's own Content-Length, the body) reads back with
// net/http as one response carrying exactly those fields and that body:
// no worker can split the client's response.
func FuzzAnswer(f *testing.F) {
	for _, s := range []string{
		`{"id":"a","status":200,"headers":[["Content-Type","text/plain"]],"body":"aGk="}`,
		`{"id":"a","status":204}`,
		`{"id":"a","status":304,"headers":[["Content-Length","10"],["ETag","\"x\""]]}`,
		`{"id":"a","status":200,"headers":[["X-A","1\r\nSet-Cookie: evil=1"]]}`,
		`{"id":"a","status":200,"headers":[["Transfer-Encoding","chunked"],["Connection","close"]]}`,
		`{"id":"a","status":200,"headers":[["Content-Length","2"]],"body":"aGk="}`,
		`{"id":"a","status":200,"stream":true}`,
		`{"id":"a","status":200}]`,
		`{"id":"a","status":99}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, raw []byte, head bool) {
		in, msg := decodeAnswer(raw)
		if msg != "" {
			return
		}
		method := http1.MethodGet
		if head {
			method = http1.MethodHead
		}
		a, msg := checkAnswer(in, method)
		if msg != "" {
			return
		}
		if a.Status < 200 || a.Status > 599 {
			t.Fatalf("status %d taken", a.Status)
		}
		if (head || a.Status == 204 || a.Status == 304) && len(a.Body) > 0 {
			t.Fatalf("a body on a %d to HEAD=%v", a.Status, head)
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, "HTTP/1.1 %d X\r\n", a.Status)
		for _, h := range a.Header {
			if !validName(h[0]) || !validValue(h[1]) {
				t.Fatalf("field %q taken", h)
			}
			if http1.IsHopByHop([]byte(h[0])) || strings.EqualFold(h[0], "content-length") {
				t.Fatalf("framing field %q taken", h[0])
			}
			fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
		}
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(a.Body))
		b.Write(a.Body)
		resp, err := http.ReadResponse(bufio.NewReader(&b), nil)
		if err != nil {
			t.Fatalf("the written response does not read back: %v\n%q", err, b.Bytes())
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil || !bytes.Equal(body, a.Body) || b.Len() != 0 {
			t.Fatalf("body %q (%v), %d bytes left after the response", body, err, b.Len())
		}
		n := 0
		for _, vs := range resp.Header {
			n += len(vs)
		}
		if n != len(a.Header)+1 { // + Content-Length
			t.Fatalf("%d fields read back, %d written", n, len(a.Header)+1)
		}
	})
}
