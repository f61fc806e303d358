package http1

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http/httputil"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Strictness differences from net/http's chunked reader
// (httputil.NewChunkedReader, Go 1.26), found by FuzzChunked; the
// differential below allows exactly these and nothing else.
//
// We refuse, net/http accepts:
//   - whitespace after chunk-size or after an extension that no ";"
//     follows ("5 \r\n", "5;a=b\t\r\n"): ErrChunkExt. RFC 9112 §7.1.1 allows
//     BWS only before ";"; net/http trims trailing whitespace.
//   - any other chunk-ext syntax error (empty name "5;\r\n", bad bytes, an
//     unterminated quoted-string, NUL, DEL): ErrChunkExt. net/http drops
//     everything after the first ";" unread.
//   - a chunk-size of 16 significant hex digits (>= 2^60): ErrChunkTooLarge.
//     net/http takes up to 2^64-1.
//   - anything in the trailer section (bare LF, bare CR, obs-fold, space
//     before colon, CTLs, a line without colon, size over
//     MaxTrailerBytes): NewChunkedReader stops after the last-chunk line
//     and never reads the trailer section.
//
// net/http refuses, we accept:
//   - BWS before ";" ("5 ;a"), which RFC 9112 §7.1.1 allows: net/http trims
//     trailing whitespace, cuts at ";" and then finds "5 " not a number.
//   - more than 16 characters of chunk-size (leading zeros): net/http
//     counts characters, we count significant digits and bound the line.
//   - framing overhead: net/http refuses a body whose chunk lines exceed
//     16 bytes plus twice the data per chunk by more than 16 KiB in total
//     ("too much non-data"); we bound each line (MaxLineBytes) instead.
//   - chunk lines of 4095 or 4096 bytes: net/http's bound is 4094 bytes
//     before CRLF (its 4096-byte buffer holds the CRLF), ours 4096.

var updateChunkedSeeds = flag.Bool("update-chunked-seeds", false, "rewrite testdata/fuzz/FuzzChunked from the chunked test tables")

// chunkedSmuggling holds chunked bodies known from smuggling work: framing
// that lenient and strict peers read differently.
var chunkedSmuggling = []string{
	"5xyz\r\nhello\r\n0\r\n\r\n",                      // size with trailing junk
	"5\r\nhello\r\n0\n\r\n",                           // "0\n\r\n": bare LF after the last chunk
	"0\n\r\n",                                         // the same alone
	"0\r\n\n",                                         // bare LF as the final line
	"5\nhello\n0\n\n",                                 // LF-only framing
	"5;ext\rhello\r\n0\r\n\r\n",                       // extension ending in a bare CR
	"5;a\rb\r\nhello\r\n0\r\n\r\n",                    // bare CR inside an extension
	"5;a=\"x\ry\"\r\nhello\r\n0\r\n\r\n",              // bare CR inside a quoted extension
	"ffffffffffffffff\r\nhello\r\n0\r\n\r\n",          // 2^64-1
	"10000000000000005\r\nhello\r\n0\r\n\r\n",         // 2^64+5, wraps to 5 in a careless parser
	"fffffffffffffffffffffffffffffff0\r\n\r\n",        // far past 2^64
	"0000000000000000005\r\nhello\r\n0\r\n\r\n",       // leading zeros past 16 characters
	"5 \r\nhello\r\n0\r\n\r\n",                        // whitespace after the size
	"5\t;a\r\nhello\r\n0\r\n\r\n",                     // BWS before ";"
	"5\r\nhello\r\r\n0\r\n\r\n",                       // CR CR LF after data
	"5\r\nhello\n\r\n0\r\n\r\n",                       // LF CR LF after data
	"5\r\nhello0\r\n\r\n",                             // no CRLF after data
	"\r\n5\r\nhello\r\n0\r\n\r\n",                     // empty line first
	"0;a=\"\r\n\r\n",                                  // unterminated quoted extension
	"0\r\n X: y\r\n\r\n",                              // obs-fold in the trailer section
	"0\r\nX: y\rZ: w\r\n\r\n",                         // bare CR in a trailer
	"1\r\nA\r\n0\r\nContent-Length: 5\r\n\r\n",        // framing field as a trailer
	"0\r\nTransfer-Encoding: chunked\r\n\r\n",         // framing field as a trailer
	"0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n", // a pipelined request right after the body
	// TE.CL: a chunk whose data is a request, and the same with a chunk
	// size that is short by one and long by one.
	fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(teclBody), teclBody),
	fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(teclBody)-1, teclBody),
	fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(teclBody)+1, teclBody),
	"4\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n",
	// Overhead net/http refuses: many 1-byte chunks with long extensions.
	strings.Repeat("1;"+strings.Repeat("x", 200)+"\r\nA\r\n", 90) + "0\r\n\r\n",
}

func FuzzChunked(f *testing.F) {
	for _, c := range chunkCases {
		f.Add([]byte(c.in + c.next))
	}
	for _, s := range chunkedSmuggling {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// Never panics; n <= len(b) and data aliases b (decodeChunked);
		// the verdict, error, data and n do not depend on how b is split.
		// Every split up to 256 bytes; a sample beyond, which keeps the
		// fuzzer's minimizing of long inputs quick.
		r := checkChunkSplits(t, func() *Chunked { return new(Chunked) }, b, 256)
		checkChunkSplits(t, func() *Chunked { return &Chunked{MaxLineBytes: 12, MaxTrailerBytes: 24} }, b, 16)
		if r.err == nil && r.done {
			checkChunkedAccepted(t, b, r)
		}
		chunkedDifferential(t, b, r)
	})
}

// checkChunkedAccepted: an accepted body ends where n says (its prefix
// alone is complete, one byte less is not), and the data re-encoded by our
// writers decodes to the same data.
func checkChunkedAccepted(t *testing.T, b []byte, r chunkResult) {
	if again := decodeChunked(t, new(Chunked), b[:r.consumed]); again != r {
		t.Fatalf("the body alone: %v, with what follows: %v", again, r)
	}
	if short := decodeChunked(t, new(Chunked), b[:r.consumed-1]); short.done || short.err != nil {
		t.Fatalf("the body less one byte: %v", short)
	}
	data := []byte(r.data)
	for _, size := range []int{len(data), 1, 7} {
		if size == 0 {
			continue
		}
		var enc []byte
		for rest := data; len(rest) > 0; {
			k := min(size, len(rest))
			enc = AppendChunkSize(enc, k)
			enc = append(enc, rest[:k]...)
			enc = AppendChunkEnd(enc)
			rest = rest[k:]
		}
		enc = AppendLastChunk(enc)
		got := decodeChunked(t, new(Chunked), enc)
		if !got.done || got.err != nil || got.data != r.data || got.consumed != len(enc) || got.trailers {
			t.Fatalf("re-encoded in chunks of %d: %v, want data %q", size, got, clipStr(r.data))
		}
	}
}

// chunkedDifferential compares with net/http's chunked reader, allowing
// only the differences listed at the top of this file.
func chunkedDifferential(t *testing.T, b []byte, ours chunkResult) {
	theirs, herr := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(b)))
	// Both readers frame the same sizes from the lines both accept, so
	// the data one produced before stopping is a prefix of the other's.
	if !strings.HasPrefix(ours.data, string(theirs)) && !strings.HasPrefix(string(theirs), ours.data) {
		t.Fatalf("data differs: ours %q, net/http %q (%v)", clipStr(ours.data), clipStr(string(theirs)), herr)
	}
	// Where did we stop? Decode again to look at the state.
	var d Chunked
	decodeChunked(t, &d, b)
	inTrailers := d.state >= csTrStart
	switch {
	case ours.done && ours.err == nil:
		if herr == nil {
			if string(theirs) != ours.data {
				t.Fatalf("both accept, data differs: ours %q, net/http %q", clipStr(ours.data), clipStr(string(theirs)))
			}
			return
		}
		if q := netHTTPQuirks(b); !q[herr.Error()] {
			t.Fatalf("we accept, net/http refuses (%v), quirks %v: %q", herr, q, clipStr(string(b)))
		}
	case ours.err != nil:
		if herr != nil || inTrailers || ours.err == ErrChunkExt || ours.err == ErrChunkTooLarge {
			return
		}
		t.Fatalf("we refuse (%v), net/http accepts %q: %q", ours.err, clipStr(string(theirs)), clipStr(string(b)))
	default: // incomplete
		if herr == nil && !inTrailers {
			t.Fatalf("incomplete for us before the trailers, net/http accepts: %q", clipStr(string(b)))
		}
	}
}

// netHTTPQuirks walks the chunk lines of a body we accepted and returns
// the errors net/http's reader may give it, in its words.
func netHTTPQuirks(b []byte) map[string]bool {
	q := map[string]bool{}
	var excess int64
	for {
		i := bytes.Index(b, []byte("\r\n")) // there: we accepted b
		line := b[:i]
		b = b[i+2:]
		if len(line) > 4094 {
			q["header line too long"] = true
		}
		j, size := 0, uint64(0) // at most 15 significant digits: we accepted
		for j < len(line) && hexVal[line[j]] != 0xff {
			size = size<<4 | uint64(hexVal[line[j]])
			j++
		}
		if j > 16 {
			q["http chunk length too large"] = true
		}
		if j < len(line) && (line[j] == ' ' || line[j] == '\t') {
			q["invalid byte in chunk length"] = true
		}
		excess += int64(len(line)) + 2 - 16 - 2*int64(size)
		excess = max(excess, 0)
		if excess > 16*1024 {
			q["chunked encoding contains too much non-data"] = true
		}
		if size == 0 {
			return q
		}
		b = b[size+2:]
	}
}

// TestChunkedNetHTTPDifferences pins each difference listed at the top of
// this file (and a few agreements), so that a change on either side shows.
func TestChunkedNetHTTPDifferences(t *testing.T) {
	for _, c := range []struct {
		in     string
		ours   error  // nil: accepted
		theirs string // net/http's error, "" for a clean end
	}{
		{"5 \r\nhello\r\n0\r\n\r\n", ErrChunkExt, ""},
		{"5;a=b\t\r\nhello\r\n0\r\n\r\n", ErrChunkExt, ""},
		{"5;\r\nhello\r\n0\r\n\r\n", ErrChunkExt, ""},
		{"5;a=\"x\r\nhello\r\n0\r\n\r\n", ErrChunkExt, ""},
		{"5;a\x00\r\nhello\r\n0\r\n\r\n", ErrChunkExt, ""},
		{"1000000000000000\r\nhello", ErrChunkTooLarge, io.ErrUnexpectedEOF.Error()},
		{"0\r\nX : y\r\n\r\n", ErrSpaceColon, ""},
		{"0\r\nX: y\n\r\n", ErrBareLF, ""},
		{"5 ;a\r\nhello\r\n0\r\n\r\n", nil, "invalid byte in chunk length"},
		{"00000000000000005\r\nhello\r\n0\r\n\r\n", nil, "http chunk length too large"},
		{chunkedSmuggling[len(chunkedSmuggling)-1], nil, "chunked encoding contains too much non-data"},
		{"5;" + strings.Repeat("a", 4093) + "\r\nhello\r\n0\r\n\r\n", nil, "header line too long"},
		// Agreements.
		{"5;" + strings.Repeat("a", 4092) + "\r\nhello\r\n0\r\n\r\n", nil, ""},
		{"5\nhello\r\n0\r\n\r\n", ErrBareLF, "chunked line ends with bare LF"},
		{"5;a\rb\r\nhello\r\n0\r\n\r\n", ErrCTL, "invalid CR in chunked line"},
		{"5\r\nhelloX\r\n0\r\n\r\n", ErrChunkCRLF, "malformed chunked encoding"},
	} {
		got := decodeChunked(t, new(Chunked), []byte(c.in))
		if got.err != c.ours || c.ours == nil && !got.done {
			t.Errorf("%q: ours %v, want %v", clipStr(c.in), got, c.ours)
		}
		_, herr := io.ReadAll(httputil.NewChunkedReader(strings.NewReader(c.in)))
		if msg := fmt.Sprint(herr); herr == nil && c.theirs != "" || herr != nil && msg != c.theirs {
			t.Errorf("%q: net/http says %v, want %q", clipStr(c.in), herr, c.theirs)
		}
	}
}

// TestWriteChunkedSeeds rewrites testdata/fuzz/FuzzChunked from the tables,
// so that the corpus is reviewable as files and runs in every `go test`.
func TestWriteChunkedSeeds(t *testing.T) {
	if !*updateChunkedSeeds {
		t.Skip("run with -update-chunked-seeds to rewrite testdata/fuzz/FuzzChunked")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzChunked")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, in string) {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(in) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range chunkCases {
		write(fmt.Sprintf("table-%03d", i), c.in+c.next)
	}
	for i, s := range chunkedSmuggling {
		write(fmt.Sprintf("smuggling-%03d", i), s)
	}
}
