package http1

import (
	"bytes"
	"fmt"
	"io"
	"net/http/httputil"
	"strings"
	"testing"
)

// chunkCase is one chunked body as raw bytes and what decoding it says.
type chunkCase struct {
	name string
	in   string // the body (or the prefix of it that is there)
	next string // bytes after the body (pipelining): never consumed
	data string // the chunk data, concatenated (before the error, if any)
	err  error  // the sentinel, or nil when the body is accepted or incomplete
	more bool   // incomplete: no error, not done, everything consumed
	tr   bool   // Trailers() once done

	maxLine, maxTrailer int // 0: the defaults
}

// teclBody is the body of a classic TE.CL smuggling request: a valid
// chunk whose data is itself a request, which a peer that framed by a
// Content-Length of 4 would see as the next message.
var teclBody = "GPOST / HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 15\r\n\r\nx=1"

var chunkCases = []chunkCase{
	// Valid bodies.
	{name: "empty body", in: "0\r\n\r\n"},
	{name: "single chunk", in: "5\r\nhello\r\n0\r\n\r\n", data: "hello"},
	{name: "many chunks", in: "5\r\nhello\r\n1\r\n \r\n6\r\nworld!\r\n3\r\nabc\r\n0\r\n\r\n", data: "hello world!abc"},
	{name: "uppercase hex", in: "A\r\n0123456789\r\n0\r\n\r\n", data: "0123456789"},
	{name: "mixed case hex", in: "1a\r\n" + strings.Repeat("x", 0x1a) + "\r\n0\r\n\r\n", data: strings.Repeat("x", 0x1a)},
	{name: "two-byte hex", in: "Ff\r\n" + strings.Repeat("y", 255) + "\r\n0\r\n\r\n", data: strings.Repeat("y", 255)},
	{name: "leading zeros", in: "0005\r\nhello\r\n000\r\n\r\n", data: "hello"},
	{name: "many leading zeros", in: strings.Repeat("0", 40) + "5\r\nhello\r\n0\r\n\r\n", data: "hello"},
	{name: "15 significant digits", in: "fffffffffffffff\r\nab", data: "ab", more: true},
	{name: "15 digits after zeros", in: "000000fffffffffffffff\r\nab", data: "ab", more: true},
	{name: "data holds framing", in: "5\r\n0\r\n\r\n\r\n0\r\n\r\n", data: "0\r\n\r\n"},
	{name: "data holds LF and CR", in: "4\r\n\n\r\r\n\r\n0\r\n\r\n", data: "\n\r\r\n"},
	{name: "ext name", in: "5;foo\r\nhello\r\n0\r\n\r\n", data: "hello"},
	{name: "ext token value", in: "5;name=value\r\nhello\r\n0;last\r\n\r\n", data: "hello"},
	{name: "ext several", in: "5;a=1;b;c=x-y\r\nhello\r\n0;a;b=2\r\n\r\n", data: "hello"},
	{name: "ext BWS", in: "5 ;\ta = b ; c\t=\t\"d\" ;e\r\nhello\r\n0 ; z\r\n\r\n", data: "hello"},
	{name: "ext quoted", in: "5;a=\"x y;z=w\"\r\nhello\r\n0\r\n\r\n", data: "hello"},
	{name: "ext quoted empty", in: "5;a=\"\"\r\nhello\r\n0\r\n\r\n", data: "hello"},
	{name: "ext escaped quotes", in: "5;a=\"say \\\"hi\\\" \\\\ \\\t\"\r\nhello\r\n0\r\n\r\n", data: "hello"},
	{name: "ext quoted obs-text", in: "5;a=\"\x80\xff\"\r\nhello\r\n0\r\n\r\n", data: "hello"},
	{name: "trailers", in: "5\r\nhello\r\n0\r\nExpires: never\r\nX-Sum:abc \r\n\r\n", data: "hello", tr: true},
	{name: "trailer empty value", in: "0\r\nX:\r\n\r\n", tr: true},
	{name: "trailer obs-text value", in: "0\r\nX: \x80\xff\t!\r\n\r\n", tr: true},
	{name: "pipelined", in: "5\r\nhello\r\n0\r\n\r\n", next: "GET / HTTP/1.1\r\nHost: a\r\n\r\n", data: "hello"},
	{name: "pipelined chunked", in: "3\r\nabc\r\n0\r\nT: 1\r\n\r\n", next: "3\r\nxyz\r\n0\r\n\r\n", data: "abc", tr: true},
	{name: "pipelined bare LF next", in: "0\r\n\r\n", next: "\n\n\x00"},
	{name: "TE.CL body", in: fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(teclBody), teclBody), data: teclBody},
	{name: "line at limit", in: "5;" + strings.Repeat("a", 4094) + "\r\nhello\r\n0\r\n\r\n", data: "hello"},
	{name: "small line at limit", in: "05;abcde\r\nhello\r\n0\r\n\r\n", data: "hello", maxLine: 8},
	{name: "trailer at limit", in: "0\r\nX: 01234\r\n\r\n", tr: true, maxTrailer: 10},

	// Incomplete bodies.
	{name: "nothing yet", in: "", more: true},
	{name: "in size", in: "5", more: true},
	{name: "in data", in: "5\r\nhel", data: "hel", more: true},
	{name: "after data", in: "5\r\nhello\r", data: "hello", more: true},
	{name: "in ext", in: "5;a=\"x", more: true},
	{name: "after last chunk", in: "5\r\nhello\r\n0\r\n", data: "hello", more: true},
	{name: "in trailer", in: "0\r\nX: y\r\n", more: true, tr: true},
	{name: "final CR", in: "0\r\n\r", more: true},

	// Chunk-size line.
	{name: "empty size line", in: "\r\n", err: ErrChunkSize},
	{name: "0x prefix", in: "0x5\r\nhello\r\n0\r\n\r\n", err: ErrChunkSize},
	{name: "minus", in: "-5\r\nhello\r\n0\r\n\r\n", err: ErrChunkSize},
	{name: "plus", in: "+5\r\nhello\r\n0\r\n\r\n", err: ErrChunkSize},
	{name: "leading space", in: " 5\r\nhello\r\n0\r\n\r\n", err: ErrChunkSize},
	{name: "leading tab", in: "\t5\r\nhello\r\n0\r\n\r\n", err: ErrChunkSize},
	{name: "trailing space", in: "5 \r\nhello\r\n0\r\n\r\n", err: ErrChunkExt},
	{name: "trailing tab", in: "5\t\r\nhello\r\n0\r\n\r\n", err: ErrChunkExt},
	{name: "space in size", in: "5 5\r\nhello\r\n0\r\n\r\n", err: ErrChunkExt},
	{name: "huge hex", in: "ffffffffffffffffff\r\nhello\r\n0\r\n\r\n", err: ErrChunkTooLarge},
	{name: "16 significant digits", in: "1000000000000000\r\nhello\r\n0\r\n\r\n", err: ErrChunkTooLarge},
	{name: "16 digits after zeros", in: "0001000000000000000\r\n", err: ErrChunkTooLarge},
	{name: "2^64 wraps to 0", in: "10000000000000000\r\n\r\n", err: ErrChunkTooLarge},
	{name: "2^64+5 wraps to 5", in: "10000000000000005\r\nhello\r\n0\r\n\r\n", err: ErrChunkTooLarge},
	{name: "non-hex", in: "g\r\nhello\r\n0\r\n\r\n", err: ErrChunkSize},
	{name: "size trailing junk", in: "5g\r\nhello\r\n0\r\n\r\n", err: ErrChunkSize},
	{name: "size NUL", in: "5\x00\r\nhello\r\n0\r\n\r\n", err: ErrChunkSize},
	{name: "size comma", in: "5,5\r\nhello\r\n0\r\n\r\n", err: ErrChunkSize},
	{name: "bare LF in size line", in: "5\nhello\r\n0\r\n\r\n", err: ErrBareLF},
	{name: "bare LF empty line", in: "\n", err: ErrBareLF},
	{name: "0 LF CRLF", in: "0\n\r\n", err: ErrBareLF},
	{name: "LF-only framing", in: "5\nhello\n0\n\n", err: ErrBareLF},
	{name: "CR without LF in size line", in: "5\rhello\r\n0\r\n\r\n", err: ErrCTL},
	{name: "CR CR LF", in: "5\r\r\nhello\r\n0\r\n\r\n", err: ErrCTL},
	{name: "line over limit", in: "5;" + strings.Repeat("a", 4095) + "\r\nhello\r\n0\r\n\r\n", err: ErrChunkLine},
	{name: "zeros over limit", in: strings.Repeat("0", 4097) + "\r\n\r\n", err: ErrChunkLine},
	{name: "small line over limit", in: "005;abcde\r\nhello\r\n0\r\n\r\n", err: ErrChunkLine, maxLine: 8},

	// Chunk extensions.
	{name: "bad ext char", in: "5;a@b\r\nhello\r\n0\r\n\r\n", err: ErrChunkExt},
	{name: "ext empty", in: "5;\r\nhello\r\n0\r\n\r\n", err: ErrChunkExt},
	{name: "ext empty name", in: "5;=x\r\nhello\r\n0\r\n\r\n", err: ErrChunkExt},
	{name: "ext empty value", in: "5;a=\r\nhello\r\n0\r\n\r\n", err: ErrChunkExt},
	{name: "ext space in name", in: "5;a b\r\nhello\r\n0\r\n\r\n", err: ErrChunkExt},
	{name: "ext trailing space", in: "5;a \r\nhello\r\n0\r\n\r\n", err: ErrChunkExt},
	{name: "ext value trailing space", in: "5;a=b \r\nhello\r\n0\r\n\r\n", err: ErrChunkExt},
	{name: "ext double semicolon", in: "5;a;;b\r\nhello\r\n0\r\n\r\n", err: ErrChunkExt},
	{name: "ext NUL", in: "5;a=b\x00\r\nhello\r\n0\r\n\r\n", err: ErrChunkExt},
	{name: "ext junk after quote", in: "5;a=\"b\"c\r\nhello\r\n0\r\n\r\n", err: ErrChunkExt},
	{name: "unterminated quoted string", in: "5;a=\"abc\r\nhello\r\n0\r\n\r\n", err: ErrChunkExt},
	{name: "quoted-pair CR", in: "5;a=\"\\\r\nhello\r\n0\r\n\r\n", err: ErrChunkExt},
	{name: "quoted DEL", in: "5;a=\"\x7f\"\r\nhello\r\n0\r\n\r\n", err: ErrChunkExt},
	{name: "ext bare CR", in: "5;a\rb\r\nhello\r\n0\r\n\r\n", err: ErrCTL},
	{name: "ext bare LF", in: "5;a\nhello\r\n0\r\n\r\n", err: ErrBareLF},
	{name: "ext LF in quotes", in: "5;a=\"x\ny\"\r\nhello\r\n0\r\n\r\n", err: ErrBareLF},
	{name: "last chunk ext space", in: "0 \r\n\r\n", err: ErrChunkExt},

	// Chunk data and its CRLF.
	{name: "bare LF after data", in: "5\r\nhello\n0\r\n\r\n", data: "hello", err: ErrBareLF},
	{name: "missing CRLF after data", in: "5\r\nhelloX0\r\n\r\n", data: "hello", err: ErrChunkCRLF},
	{name: "data longer than size", in: "3\r\nhello\r\n0\r\n\r\n", data: "hel", err: ErrChunkCRLF},
	{name: "CR without LF after data", in: "5\r\nhello\rX\r\n0\r\n\r\n", data: "hello", err: ErrChunkCRLF},
	{name: "CR CR after data", in: "5\r\nhello\r\r\n0\r\n\r\n", data: "hello", err: ErrChunkCRLF},

	// Trailer section.
	{name: "bare LF in trailer", in: "0\r\nX: y\n\r\n", err: ErrBareLF},
	{name: "bare LF ending body", in: "0\r\n\n", err: ErrBareLF},
	{name: "bare LF ending trailers", in: "0\r\nX: y\r\n\n", err: ErrBareLF},
	{name: "CR without LF ending body", in: "0\r\n\rX", err: ErrCTL},
	{name: "CR without LF in trailer", in: "0\r\nX: y\rZ: w\r\n\r\n", err: ErrCTL},
	{name: "obs-fold in trailer", in: "0\r\nX: y\r\n z\r\n\r\n", err: ErrObsFold},
	{name: "trailer starts with space", in: "0\r\n X: y\r\n\r\n", err: ErrObsFold},
	{name: "space before colon", in: "0\r\nX : y\r\n\r\n", err: ErrSpaceColon},
	{name: "tab before colon", in: "0\r\nX\t: y\r\n\r\n", err: ErrSpaceColon},
	{name: "space in name", in: "0\r\nX Y: z\r\n\r\n", err: ErrFieldName},
	{name: "empty name", in: "0\r\n: y\r\n\r\n", err: ErrFieldName},
	{name: "bad name char", in: "0\r\nX@: y\r\n\r\n", err: ErrFieldName},
	{name: "name NUL", in: "0\r\nX\x00: y\r\n\r\n", err: ErrCTL},
	{name: "no colon", in: "0\r\nX\r\n\r\n", err: ErrTrailer},
	{name: "no colon space", in: "0\r\nX \r\n\r\n", err: ErrTrailer},
	{name: "NUL in trailer", in: "0\r\nX: a\x00b\r\n\r\n", err: ErrCTL},
	{name: "DEL in trailer", in: "0\r\nX: a\x7fb\r\n\r\n", err: ErrCTL},
	{name: "trailer over limit", in: "0\r\nX: 012345\r\n\r\n", err: ErrTrailerSize, maxTrailer: 10},
	{name: "trailers over default limit", in: "0\r\n" + strings.Repeat("X: "+strings.Repeat("v", 1000)+"\r\n", 17) + "\r\n", err: ErrTrailerSize},
}

// chunkResult is everything a decode decides, for comparing two decodes.
type chunkResult struct {
	consumed int
	data     string
	err      error
	done     bool
	trailers bool
}

func (r chunkResult) String() string {
	return fmt.Sprintf("{consumed %d, data %q, err %v, done %v, trailers %v}", r.consumed, clipStr(r.data), r.err, r.done, r.trailers)
}

func clipStr(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// decodeChunked feeds pieces to d in order, the way a caller does, and
// checks the Decode contract on each call: n within the piece, data a
// subslice of the piece ending at n, progress unless done or failed, and a
// sticky error.
func decodeChunked(tb testing.TB, d *Chunked, pieces ...[]byte) chunkResult {
	tb.Helper()
	var r chunkResult
	var data []byte
	for _, p := range pieces {
		for len(p) > 0 && !d.Done() {
			n, got, err := d.Decode(p)
			if n < 0 || n > len(p) {
				tb.Fatalf("n = %d for %d bytes", n, len(p))
			}
			if len(got) > 0 && (len(got) > n || &got[0] != &p[n-len(got)]) {
				tb.Fatalf("data (%d bytes) is not the subslice of b ending at n = %d", len(got), n)
			}
			r.consumed += n
			data = append(data, got...)
			if err != nil {
				if n2, got2, err2 := d.Decode(p[n:]); n2 != 0 || got2 != nil || err2 != err {
					tb.Fatalf("after %v: Decode = %d, %q, %v", err, n2, got2, err2)
				}
				if len(got) > 0 {
					tb.Fatalf("data %q with error %v", got, err)
				}
				r.err = err
				r.data = string(data)
				return r
			}
			if n == 0 {
				tb.Fatalf("no progress, not done, no error")
			}
			p = p[n:]
		}
	}
	r.data, r.done, r.trailers = string(data), d.Done(), d.Trailers()
	return r
}

func newChunked(c chunkCase) *Chunked {
	return &Chunked{MaxLineBytes: c.maxLine, MaxTrailerBytes: c.maxTrailer}
}

// checkChunkSplits decodes b at once, in every 2-way split (or in about
// maxSplits of them, evenly spread, when b is longer) and byte at a time,
// and fails unless every way gives the same result. It returns the result.
func checkChunkSplits(tb testing.TB, mk func() *Chunked, b []byte, maxSplits int) chunkResult {
	tb.Helper()
	whole := decodeChunked(tb, mk(), b)
	step := 1
	if len(b) >= maxSplits {
		step = len(b)/maxSplits + 1
	}
	for i := 0; i <= len(b); i += step {
		if got := decodeChunked(tb, mk(), b[:i], b[i:]); got != whole {
			tb.Fatalf("split at %d: %v, whole: %v", i, got, whole)
		}
	}
	pieces := make([][]byte, len(b))
	for i := range b {
		pieces[i] = b[i : i+1]
	}
	if got := decodeChunked(tb, mk(), pieces...); got != whole {
		tb.Fatalf("byte at a time: %v, whole: %v", got, whole)
	}
	return whole
}

func TestChunked(t *testing.T) {
	for _, c := range chunkCases {
		t.Run(c.name, func(t *testing.T) {
			b := []byte(c.in + c.next)
			// Every split of the short inputs; a sample for the long ones.
			got := checkChunkSplits(t, func() *Chunked { return newChunked(c) }, b, 1024)
			want := chunkResult{data: c.data, err: c.err, trailers: c.tr}
			switch {
			case c.err != nil:
				want.consumed = got.consumed // the offending byte's offset: checked across splits only
			case c.more:
				want.consumed = len(c.in)
			default:
				want.consumed, want.done = len(c.in), true
			}
			if got != want {
				t.Fatalf("got %v\nwant %v", got, want)
			}
			if c.err != nil && (got.consumed >= len(b) || got.consumed < 0) {
				t.Fatalf("error at offset %d of %d", got.consumed, len(b))
			}
		})
	}
}

// TestChunkedErrorOffset: on an error, n counts the bytes before the
// offending one.
func TestChunkedErrorOffset(t *testing.T) {
	for _, c := range []struct {
		in  string
		off int
	}{
		{"5\r\nhello\r\n0x", 11},
		{"5\r\nhelloX", 8},
		{"0\r\nX : y", 5}, // the colon after the space
		{"\n", 0},
	} {
		var d Chunked
		if got := decodeChunked(t, &d, []byte(c.in)); got.err == nil || got.consumed != c.off {
			t.Errorf("%q: %v, want an error at %d", c.in, got, c.off)
		}
	}
}

func TestChunkedResetAndSticky(t *testing.T) {
	d := Chunked{MaxLineBytes: 3, MaxTrailerBytes: 5}
	if got := decodeChunked(t, &d, []byte("0005\r\n")); got.err != ErrChunkLine {
		t.Fatalf("got %v, want ErrChunkLine", got)
	}
	if _, _, err := d.Decode([]byte("5\r\nhello\r\n0\r\n\r\n")); err != ErrChunkLine {
		t.Fatalf("not sticky: %v", err)
	}
	d.Reset()
	if d.MaxLineBytes != 3 || d.MaxTrailerBytes != 5 {
		t.Fatalf("Reset lost the limits: %+v", d)
	}
	if got := decodeChunked(t, &d, []byte("5\r\nhello\r\n0\r\nA:b\r\n\r\n")); !got.done || got.data != "hello" || !got.trailers {
		t.Fatalf("after Reset: %v", got)
	}
	if n, data, err := d.Decode([]byte("more")); n != 0 || data != nil || err != nil {
		t.Fatalf("after Done: %d %q %v", n, data, err)
	}
	d.Reset()
	if d.Done() || d.Trailers() {
		t.Fatal("Reset kept Done or Trailers")
	}
	if got := decodeChunked(t, &d, []byte("0\r\nAb: c\r\n\r\n")); got.err != ErrTrailerSize {
		t.Fatalf("got %v, want ErrTrailerSize", got)
	}
}

// TestChunkedDataRuns: data comes in one run per call, as long as the
// chunk and the buffer allow, and the call returns right after it.
func TestChunkedDataRuns(t *testing.T) {
	var d Chunked
	b := []byte("a\r\n0123456789\r\n3\r\nabc\r\n0\r\n\r\n")
	var runs []string
	for len(b) > 0 && !d.Done() {
		n, data, err := d.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, string(data))
		b = b[n:]
	}
	want := []string{"0123456789", "abc", ""}
	if fmt.Sprint(runs) != fmt.Sprint(want) {
		t.Fatalf("runs %q, want %q", runs, want)
	}
}

func TestAppendChunk(t *testing.T) {
	var b []byte
	b = AppendChunkSize(b, 0x1aF)
	b = append(b, strings.Repeat("z", 0x1af)...)
	b = AppendChunkEnd(b)
	b = AppendChunkSize(b, 1)
	b = append(b, 'q')
	b = AppendChunkEnd(b)
	b = AppendLastChunk(b)
	want := "1af\r\n" + strings.Repeat("z", 0x1af) + "\r\n1\r\nq\r\n0\r\n\r\n"
	if string(b) != want {
		t.Fatalf("got %q", b)
	}
	var d Chunked
	if got := decodeChunked(t, &d, b); !got.done || got.data != strings.Repeat("z", 0x1af)+"q" {
		t.Fatalf("decode: %v", got)
	}
	// The writers agree with net/http's reader.
	r, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(b)))
	if err != nil || string(r) != strings.Repeat("z", 0x1af)+"q" {
		t.Fatalf("net/http: %q %v", r, err)
	}
	for _, size := range []int{0, -1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("AppendChunkSize(%d) did not panic", size)
				}
			}()
			AppendChunkSize(nil, size)
		}()
	}
}

// chunkedAllocBody is a multi-chunk body with extensions and trailers.
var chunkedAllocBody = []byte("5;a=b\r\nhello\r\n6 ; q=\"x\\\"y\"\r\n world\r\n" +
	"1\r\n!\r\n0;end\r\nExpires: never\r\nX-Sum: 1234\r\n\r\n")

func TestChunkedAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates; run without -race")
	}
	var d Chunked
	bad := []byte("5 \r\nhello\r\n")
	out := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(200, func() {
		d.Reset()
		b, total := chunkedAllocBody, 0
		for len(b) > 0 && !d.Done() {
			n, data, err := d.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			total += len(data)
			b = b[n:]
		}
		if !d.Done() || total != 12 || !d.Trailers() {
			t.Fatal("body not decoded")
		}
		// Errors are sentinels: refusing allocates nothing either.
		d.Reset()
		if _, _, err := d.Decode(bad); err != ErrChunkExt {
			t.Fatal(err)
		}
		out = AppendChunkSize(out[:0], 12345)
		out = AppendChunkEnd(out)
		out = AppendLastChunk(out)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run, want 0", allocs)
	}
}

// benchChunkedBody is 1 MiB of data in 16 KiB chunks.
func benchChunkedBody() (wire []byte, size int) {
	const chunk, total = 16 << 10, 1 << 20
	payload := bytes.Repeat([]byte("0123456789abcdef"), chunk/16)
	for n := 0; n < total; n += chunk {
		wire = AppendChunkSize(wire, chunk)
		wire = append(wire, payload...)
		wire = AppendChunkEnd(wire)
	}
	return AppendLastChunk(wire), total
}

// BenchmarkChunked decodes a 1 MiB body of 16 KiB chunks fed in 64 KiB
// pieces, as reads from a socket would bring it.
func BenchmarkChunked(b *testing.B) {
	wire, size := benchChunkedBody()
	const piece = 64 << 10
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	var d Chunked
	for b.Loop() {
		d.Reset()
		total := 0
		for off := 0; off < len(wire) && !d.Done(); off += piece {
			p := wire[off:min(off+piece, len(wire))]
			for len(p) > 0 && !d.Done() {
				n, data, err := d.Decode(p)
				if err != nil {
					b.Fatal(err)
				}
				total += len(data)
				p = p[n:]
			}
		}
		if total != size || !d.Done() {
			b.Fatalf("decoded %d bytes, done %v", total, d.Done())
		}
	}
}

// BenchmarkChunkedNetHTTP is the peer for BenchmarkChunked: net/http's
// reader over the same wire bytes, in the same run, copying into a 64 KiB
// buffer (it cannot hand out views).
func BenchmarkChunkedNetHTTP(b *testing.B) {
	wire, size := benchChunkedBody()
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	buf := make([]byte, 64<<10)
	var rd bytes.Reader
	for b.Loop() {
		rd.Reset(wire)
		cr := httputil.NewChunkedReader(&rd)
		total := 0
		for {
			n, err := cr.Read(buf)
			total += n
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if total != size {
			b.Fatalf("decoded %d bytes", total)
		}
	}
}
