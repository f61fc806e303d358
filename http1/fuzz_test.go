package http1

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// smuggling holds classic request-smuggling and response-splitting inputs
// (CL.TE, TE.CL, TE.TE obfuscations, bare CR/LF tricks). Each must be
// refused or framed unambiguously; the fuzz properties check that.
var smuggling = []string{
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-encoding: x\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\n Transfer-Encoding: chunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nX: y\r\n Transfer-Encoding: chunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding\r\n : chunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\x00\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\rX: y\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity, chunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\nContent-Length: 0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:  5 \r\n\r\n12345",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\x0b\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent_Length: 5\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\n\nGET /admin HTTP/1.1\r\n\r\n",
	"GET / HTTP/1.1\nHost: a\n\n",
	"GET / HTTP/1.1\r\nHost: a\rGET /admin HTTP/1.1\r\n\r\n",
	"GET /\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: Content-Length\r\nContent-Length: 3\r\n\r\nabc",
	"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-\xff: y\r\n\r\n",
}

var smugglingResponses = []string{
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX: a\r\nSet-Cookie: s=1\r\n\r\n",
	"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
	"HTTP/1.1 200 OK\r\nX: a\rContent-Length: 0\r\n\r\n",
	"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n0123456789",
	"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
}

// reqVerdict is everything a parse decides, for comparing two parses.
type reqVerdict struct {
	n      int
	err    error
	method string
	target string
	fields string
	body   Body
	flags  Flags
	ver    [2]uint8
}

func verdictOf(r *Request, b []byte, n int, err error) reqVerdict {
	v := reqVerdict{n: n, err: err}
	if err != nil {
		return v
	}
	v.method, v.target = string(r.Method.Of(b)), string(r.Target.Of(b))
	var fs []byte
	for _, f := range r.Fields() {
		fs = append(fs, f.Name.Of(b)...)
		fs = append(fs, 0)
		fs = append(fs, f.Value.Of(b)...)
		fs = append(fs, 0)
	}
	v.fields, v.body, v.flags, v.ver = string(fs), r.Body, r.Flags, [2]uint8{r.Major, r.Minor}
	return v
}

// requestRoundTrip parses b, writes the head back with AppendTo and parses
// that: both parses must agree. It returns what differs, or "".
func requestRoundTrip(b []byte) string {
	var r1, r2 Request
	n, err := r1.Parse(b)
	if err != nil {
		return "first parse: " + err.Error()
	}
	out := r1.AppendTo(nil, b)
	n2, err2 := r2.Parse(out)
	v1, v2 := verdictOf(&r1, b, n, err), verdictOf(&r2, out, n2, err2)
	v1.n, v2.n = 0, 0
	if v1 != v2 {
		return fmt.Sprintf("round trip differs:\n%+v\n%+v", v1, v2)
	}
	return ""
}

func responseRoundTrip(b []byte, m Method) string {
	var r1, r2 Response
	if _, err := r1.Parse(b); err != nil {
		return "first parse: " + err.Error()
	}
	out := r1.AppendTo(nil, b)
	if _, err := r2.Parse(out); err != nil {
		return "second parse: " + err.Error()
	}
	b1, e1 := r1.Framing(m)
	b2, e2 := r2.Framing(m)
	if r1.Status != r2.Status || string(r1.Reason.Of(b)) != string(r2.Reason.Of(out)) ||
		b1 != b2 || e1 != e2 || r1.Flags != r2.Flags || len(r1.Fields()) != len(r2.Fields()) {
		return fmt.Sprintf("round trip differs: %d/%d %+v/%+v %v/%v", r1.Status, r2.Status, b1, b2, e1, e2)
	}
	return ""
}

func FuzzParseRequest(f *testing.F) {
	addRequestSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Request
		n, err := r.Parse(b)
		if n < 0 || n > len(b) || (err == nil) != (n > 0) {
			t.Fatalf("n=%d err=%v len=%d", n, err, len(b))
		}
		if err != nil && err != ErrNeedMore && StatusOf(err) < 400 {
			t.Fatalf("error without a 4xx/5xx: %v", err)
		}
		whole := verdictOf(&r, b, n, err)
		// Byte at a time: the same verdict.
		var rb Request
		nb, errb := 0, error(ErrNeedMore)
		for i := 0; i <= len(b) && errb == ErrNeedMore; i++ {
			nb, errb = rb.Parse(b[:i])
		}
		if v := verdictOf(&rb, b, nb, errb); v != whole {
			t.Fatalf("bytewise %+v\nwhole    %+v", v, whole)
		}
		// Three pieces, cut where the input says.
		if len(b) > 2 {
			c1, c2 := int(b[0])%len(b), int(b[len(b)-1])%len(b)
			c1, c2 = min(c1, c2), max(c1, c2)
			var rs Request
			ns, errs := rs.Parse(b[:c1])
			if errs == ErrNeedMore {
				ns, errs = rs.Parse(b[:c2])
			}
			if errs == ErrNeedMore {
				ns, errs = rs.Parse(b)
			}
			if v := verdictOf(&rs, b, ns, errs); v != whole {
				t.Fatalf("split %d,%d %+v\nwhole %+v", c1, c2, v, whole)
			}
		}
		if err != nil {
			return
		}
		// Every proper prefix of an accepted head needs more.
		for _, k := range []int{0, n / 3, n / 2, n - 2, n - 1} {
			if k < 0 {
				continue
			}
			var rp Request
			if _, e := rp.Parse(b[:k]); e != ErrNeedMore {
				t.Fatalf("prefix %d of %d: %v", k, n, e)
			}
		}
		if d := requestRoundTrip(b); d != "" {
			t.Fatal(d)
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	for _, c := range responseCases {
		f.Add([]byte(c.in), uint8(c.method))
	}
	for _, s := range smugglingResponses {
		f.Add([]byte(s), uint8(MethodGet))
	}
	f.Fuzz(func(t *testing.T, b []byte, m uint8) {
		method := Method(m % (uint8(MethodPatch) + 1))
		var r Response
		n, body, err := parseResp(&r, b, method)
		if n < 0 || n > len(b) {
			t.Fatalf("n=%d len=%d", n, len(b))
		}
		var rb Response
		nb, bodyb, errb := 0, Body{}, error(ErrNeedMore)
		for i := 0; i <= len(b) && errb == ErrNeedMore; i++ {
			nb, bodyb, errb = parseResp(&rb, b[:i], method)
		}
		if nb != n || bodyb != body || errb != err || rb.Status != r.Status || len(rb.Fields()) != len(r.Fields()) {
			t.Fatalf("bytewise %d %+v %v, whole %d %+v %v", nb, bodyb, errb, n, body, err)
		}
		if err != nil {
			return
		}
		if body.Kind == BodyLength && body.Length <= 0 {
			t.Fatalf("length body of %d", body.Length)
		}
		var rp Response
		if _, e := rp.Parse(b[:n-1]); e != ErrNeedMore {
			t.Fatalf("prefix: %v", e)
		}
		if d := responseRoundTrip(b, method); d != "" {
			t.Fatal(d)
		}
	})
}

// -update-seeds rewrites testdata/fuzz from the tables above, so that the
// corpus is reviewable as files and runs in every `go test`.
var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz seed files from the test tables")

func TestWriteSeeds(t *testing.T) {
	if !*updateSeeds {
		t.Skip("run with -update-seeds to rewrite testdata/fuzz")
	}
	write := func(target, name string, args ...string) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		buf.WriteString("go test fuzz v1\n")
		for _, a := range args {
			buf.WriteString(a + "\n")
		}
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	quote := func(s string) string { return "[]byte(" + strconv.Quote(s) + ")" }
	for i, c := range requestCases {
		write("FuzzParseRequest", fmt.Sprintf("table-%03d", i), quote(c.in))
		write("FuzzDifferentialRequest", fmt.Sprintf("table-%03d", i), quote(c.in))
	}
	for i, s := range smuggling {
		write("FuzzParseRequest", fmt.Sprintf("smuggling-%03d", i), quote(s))
		write("FuzzDifferentialRequest", fmt.Sprintf("smuggling-%03d", i), quote(s))
	}
	for i, c := range responseCases {
		write("FuzzParseResponse", fmt.Sprintf("table-%03d", i), quote(c.in), fmt.Sprintf("byte(%d)", c.method))
		write("FuzzDifferentialResponse", fmt.Sprintf("table-%03d", i), quote(c.in))
	}
	for i, s := range smugglingResponses {
		write("FuzzParseResponse", fmt.Sprintf("smuggling-%03d", i), quote(s), fmt.Sprintf("byte(%d)", MethodGet))
		write("FuzzDifferentialResponse", fmt.Sprintf("smuggling-%03d", i), quote(s))
	}
}
