package http1

import (
	"math/bits"
	"testing"
)

// TestParseAllocs: the hot path allocates nothing, whatever the head: a
// full parse, a resumed one, a framing decision, the field helpers, and
// appending into a buffer with room.
func TestParseAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates; run without -race")
	}
	heads := make([][]byte, 0, len(benchInputs))
	for _, in := range benchInputs {
		heads = append(heads, []byte(in.head))
	}
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close, X-A\r\n\r\n")
	var req Request
	var res Response
	out := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(200, func() {
		for _, h := range heads {
			req.Reset()
			if _, err := req.Parse(h[:len(h)/2]); err != ErrNeedMore {
				t.Fatal(err)
			}
			if _, err := req.Parse(h); err != nil {
				t.Fatal(err)
			}
			if _, ok := req.Get(h, "host"); !ok {
				t.Fatal("no host")
			}
			out = req.AppendTo(out[:0], h)
		}
		res.Reset()
		if _, err := res.Parse(resp); err != nil {
			t.Fatal(err)
		}
		if _, err := res.Framing(MethodGet); err != nil {
			t.Fatal(err)
		}
		if !res.ListedInConnection(resp, []byte("x-a")) || !IsHopByHop([]byte("Keep-Alive")) {
			t.Fatal("connection helpers")
		}
		// Errors are sentinels: refusing a head allocates nothing either.
		req.Reset()
		if _, err := req.Parse([]byte("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")); err != ErrDupHost {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run, want 0", allocs)
	}
}

// TestCtlMask checks the word test against the byte table for every byte
// value at every position, with clean and dirty neighbours.
func TestCtlMask(t *testing.T) {
	fills := []byte{'a', 0xff, 0x80, 0x20, 0x7e}
	for _, fill := range fills {
		for pos := 0; pos < 8; pos++ {
			for v := 0; v < 256; v++ {
				var w [8]byte
				for i := range w {
					w[i] = fill
				}
				w[pos] = byte(v)
				x := uint64(0)
				for i := 7; i >= 0; i-- {
					x = x<<8 | uint64(w[i])
				}
				m := ctlMask(x)
				bad := v < 0x20 || v == 0x7f
				if bad != (m != 0) {
					t.Fatalf("fill %#x pos %d byte %#x: mask %#x", fill, pos, v, m)
				}
				if bad && bits.TrailingZeros64(m)>>3 != pos {
					t.Fatalf("fill %#x pos %d byte %#x: first flagged %d", fill, pos, v, bits.TrailingZeros64(m)>>3)
				}
			}
		}
	}
	// Several hits: the lowest is the first.
	w := []byte{'a', 'b', '\t', 0, '\r', 0x7f, 'c', '\n'}
	x := uint64(0)
	for i := 7; i >= 0; i-- {
		x = x<<8 | uint64(w[i])
	}
	if got := bits.TrailingZeros64(ctlMask(x)) >> 3; got != 2 {
		t.Fatalf("first hit %d, want 2", got)
	}
}

func TestAppend(t *testing.T) {
	var out []byte
	out = AppendRequestLine(out, "GET", []byte("/x?y"))
	out = AppendField(out, "Host", "a")
	out = AppendField(out, []byte("Via"), "1.1 edgeloop")
	out = AppendContentLength(out, 1234567)
	out = AppendEndOfHead(out)
	want := "GET /x?y HTTP/1.1\r\nHost: a\r\nVia: 1.1 edgeloop\r\nContent-Length: 1234567\r\n\r\n"
	if string(out) != want {
		t.Fatalf("%q", out)
	}
	var r Request
	if n, err := r.Parse(out); err != nil || n != len(out) || r.Body.Length != 1234567 {
		t.Fatal(n, err, r.Body)
	}
	if s := string(AppendStatusLine(nil, 502, "")); s != "HTTP/1.1 502 Bad Gateway\r\n" {
		t.Fatalf("%q", s)
	}
	if s := string(AppendStatusLine(nil, 299, "Custom")); s != "HTTP/1.1 299 Custom\r\n" {
		t.Fatalf("%q", s)
	}
}

// TestAppendToRoundTrip: parse, append, parse again gives the same head
// for every valid table case.
func TestAppendToRoundTrip(t *testing.T) {
	for _, c := range requestCases {
		if c.err != nil {
			continue
		}
		if err := requestRoundTrip([]byte(c.in)); err != "" {
			t.Errorf("%s: %s", c.name, err)
		}
	}
	for _, c := range responseCases {
		if c.err != nil {
			continue
		}
		if err := responseRoundTrip([]byte(c.in), c.method); err != "" {
			t.Errorf("%s: %s", c.name, err)
		}
	}
}
