package bare

import (
	"strings"
	"testing"
)

// get is a plain keep-alive GET.
const get = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

// want400 is the answer to a request the servers cannot frame.
const want400 = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

func TestParser(t *testing.T) {
	// The same input fed whole, and byte by byte, gives the same answers.
	input := get + "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello" + "\r\n" + get + "GET / HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n" + get
	var p Parser
	consumed, answers, v := p.Feed([]byte(input))
	if answers != 4 || v != VerdictClose {
		t.Fatalf("whole: %d answers, verdict %d", answers, v)
	}
	rest := input[consumed:]
	if rest != get {
		t.Fatalf("whole: left %q", rest)
	}

	var q Parser
	buf := []byte{}
	total := 0
	for i := range len(input) {
		buf = append(buf, input[i])
		n, a, v := q.Feed(buf)
		buf = buf[n:]
		total += a
		if v == VerdictBad {
			t.Fatalf("byte by byte: bad at %d", i)
		}
		if v == VerdictClose {
			break
		}
	}
	if total != 4 {
		t.Fatalf("byte by byte: %d answers", total)
	}
}

// feedChunks feeds input to a new Parser k bytes at a time, the way a
// server does across reads: unconsumed input stays at the start of the next
// buffer. It stops at the first verdict other than VerdictKeep and returns
// the answers due, that verdict and the input left unconsumed.
func feedChunks(input []byte, k int) (answers int, v Verdict, left []byte) {
	var p Parser
	var buf []byte
	for i := 0; i < len(input); i += k {
		buf = append(buf, input[i:min(i+k, len(input))]...)
		n, a, v := p.Feed(buf)
		buf = buf[n:]
		answers += a
		if v != VerdictKeep {
			return answers, v, buf
		}
	}
	return answers, VerdictKeep, buf
}

func TestFeed(t *testing.T) {
	big := "GET / HTTP/1.1\r\nX-Big: "
	tests := []struct {
		name    string
		in      string
		answers int
		v       Verdict
		left    string // unconsumed input, when v is VerdictKeep
	}{
		{name: "nothing", in: "", v: VerdictKeep},
		{name: "empty lines only", in: "\r\n\n\r\n", v: VerdictKeep},
		{name: "one GET", in: get, answers: 1, v: VerdictKeep},
		{name: "three pipelined GETs", in: get + get + get, answers: 3, v: VerdictKeep},
		{name: "empty lines before and between", in: "\r\n\r\n" + get + "\r\n" + get, answers: 2, v: VerdictKeep},
		{name: "partial head", in: get + "GET / HTTP/1.1\r\nHo", answers: 1, v: VerdictKeep, left: "GET / HTTP/1.1\r\nHo"},
		{name: "head missing its last LF", in: get[:len(get)-1], v: VerdictKeep, left: get[:len(get)-1]},
		{name: "partial body", in: "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n01234", v: VerdictKeep},
		{name: "body, then GET", in: "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789" + get, answers: 2, v: VerdictKeep},
		{name: "zero Content-Length", in: "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n" + get, answers: 2, v: VerdictKeep},
		{name: "close after a body", in: "POST / HTTP/1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab" + get, answers: 1, v: VerdictClose},
		{name: "close in a pipeline", in: get + "GET / HTTP/1.1\r\nconnection: Close\r\n\r\n" + get, answers: 2, v: VerdictClose},
		{name: "HTTP/1.0", in: "GET / HTTP/1.0\r\n\r\n" + get, answers: 1, v: VerdictClose},
		{name: "HTTP/1.0 keep-alive", in: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n" + get, answers: 2, v: VerdictKeep},
		{name: "chunked after good requests", in: get + get + "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", answers: 2, v: VerdictBad},
		{name: "head of exactly the limit", in: big + strings.Repeat("a", MaxHeadSize-len(big)-4) + "\r\n\r\n", answers: 1, v: VerdictKeep},
		{name: "head one byte over the limit", in: big + strings.Repeat("a", MaxHeadSize-len(big)-3) + "\r\n\r\n", v: VerdictBad},
		{name: "unterminated head of the limit", in: big + strings.Repeat("a", MaxHeadSize-len(big)), v: VerdictBad},
		{name: "unterminated head under the limit", in: big + strings.Repeat("a", MaxHeadSize-len(big)-1), v: VerdictKeep, left: big + strings.Repeat("a", MaxHeadSize-len(big)-1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Parser
			consumed, answers, v := p.Feed([]byte(tt.in))
			if answers != tt.answers || v != tt.v {
				t.Errorf("whole: %d answers, verdict %d; want %d, %d", answers, v, tt.answers, tt.v)
			}
			if v == VerdictKeep && tt.in[consumed:] != tt.left {
				t.Errorf("whole: left %q, want %q", tt.in[consumed:], tt.left)
			}
			for _, k := range []int{1, 2, 3, 7, 64} {
				answers, v, left := feedChunks([]byte(tt.in), k)
				if answers != tt.answers || v != tt.v {
					t.Errorf("%d bytes at a time: %d answers, verdict %d; want %d, %d", k, answers, v, tt.answers, tt.v)
				}
				if v == VerdictKeep && string(left) != tt.left {
					t.Errorf("%d bytes at a time: left %q, want %q", k, left, tt.left)
				}
			}
		})
	}
}

func TestFeedAcrossReads(t *testing.T) {
	// A body skipped across reads is consumed as it comes, and answered
	// once it is complete.
	var p Parser
	head := "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n"
	consumed, answers, v := p.Feed([]byte(head + "01234"))
	if consumed != len(head)+5 || answers != 0 || v != VerdictKeep {
		t.Fatalf("first read: consumed %d, %d answers, verdict %d", consumed, answers, v)
	}
	consumed, answers, v = p.Feed([]byte("567"))
	if consumed != 3 || answers != 0 || v != VerdictKeep {
		t.Fatalf("second read: consumed %d, %d answers, verdict %d", consumed, answers, v)
	}
	consumed, answers, v = p.Feed([]byte("89" + get + "GET"))
	if consumed != 2+len(get) || answers != 2 || v != VerdictKeep {
		t.Fatalf("third read: consumed %d, %d answers, verdict %d", consumed, answers, v)
	}
	// The partial head "GET" is fed again, completed.
	consumed, answers, v = p.Feed([]byte("GET / HTTP/1.1\r\n\r\n"))
	if consumed != len("GET / HTTP/1.1\r\n\r\n") || answers != 1 || v != VerdictKeep {
		t.Fatalf("fourth read: consumed %d, %d answers, verdict %d", consumed, answers, v)
	}
}

func TestParseHead(t *testing.T) {
	tests := []struct {
		head      string
		length    int64
		closeConn bool
		ok        bool
	}{
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, false, true},
		{"GET / HTTP/1.1\r\n\r\n", 0, false, true},
		{"GET / HTTP/1.0\r\n\r\n", 0, true, true},
		{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, false, true},
		{"GET / HTTP/1.0\r\nConnection: Keep-Alive, close\r\n\r\n", 0, true, true},
		{"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 0, true, true},
		{"GET / HTTP/1.1\r\nCONNECTION:\tupgrade ,  CLOSE \r\n\r\n", 0, true, true},
		{"GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n", 0, false, true},
		{"GET / HTTP/1.1\r\nConnectiom: close\r\n\r\n", 0, false, true},
		{"POST / HTTP/1.1\r\nContent-Length: 42\r\n\r\n", 42, false, true},
		{"POST / HTTP/1.1\r\ncontent-length:\t7 \r\n\r\n", 7, false, true},
		{"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", 3, false, true},
		{"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 0, false, true},
		{"POST / HTTP/1.1\r\nContent-Length: 999999999999999999\r\n\r\n", 999999999999999999, false, true},
		{"POST / HTTP/1.1\r\nContent-Lengtx: abc\r\n\r\n", 0, false, true},
		{"POST / HTTP/1.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\n", 5, true, true},
		{"GET / HTTP/1.1\nHost: x\r\n\r\n", 0, false, true},

		{"\r\n\r\n", 0, false, false},
		{"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 0, false, false},
		{"GET / HTTP/1.1\r\n: empty name\r\n\r\n", 0, false, false},
		{"POST / HTTP/1.1\r\nContent-Length: 1000000000000000000\r\n\r\n", 0, false, false},
		{"POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", 0, false, false},
		{"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 0, false, false},
		{"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 0, false, false},
		{"POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", 0, false, false},
		{"POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", 0, false, false},
		{"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 0, false, false},
		{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 0, false, false},
		{"POST / HTTP/1.1\r\ntransfer-encoding: identity\r\n\r\n", 0, false, false},
	}
	for _, tt := range tests {
		length, closeConn, ok := parseHead([]byte(tt.head))
		if length != tt.length || closeConn != tt.closeConn || ok != tt.ok {
			t.Errorf("parseHead(%q) = %d, %t, %t; want %d, %t, %t", tt.head, length, closeConn, ok, tt.length, tt.closeConn, tt.ok)
		}
	}
}

// TestFeedAnySplit checks that how the input is split across reads does
// not change how it is framed: every chunk size, and every split into two
// reads.
func TestFeedAnySplit(t *testing.T) {
	inputs := []string{
		"\r\n\n" + get + "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello\r\n" + get + "GET / HTTP/1.1\r\nHo",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + get + "POST / HTTP/1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab" + get,
		get + "POST / HTTP/1.1\r\ncontent-length: 3\r\n\r\nabc" + "POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
	}
	for _, in := range inputs {
		var p Parser
		consumed, answers, v := p.Feed([]byte(in))
		for k := 1; k <= len(in); k++ {
			a, w, left := feedChunks([]byte(in), k)
			if a != answers || w != v {
				t.Fatalf("%q: whole: %d answers, verdict %d; %d bytes at a time: %d, %d", in, answers, v, k, a, w)
			}
			if v == VerdictKeep && string(left) != in[consumed:] {
				t.Fatalf("%q: whole left %q; %d bytes at a time left %q", in, in[consumed:], k, left)
			}
		}
		for split := range len(in) + 1 {
			var q Parser
			n, a, w := q.Feed([]byte(in[:split]))
			if w == VerdictKeep {
				rest := in[n:]
				var n2, a2 int
				n2, a2, w = q.Feed([]byte(rest))
				a += a2
				if w == VerdictKeep && rest[n2:] != in[consumed:] {
					t.Fatalf("%q split at %d: left %q, want %q", in, split, rest[n2:], in[consumed:])
				}
			}
			if a != answers || w != v {
				t.Fatalf("%q split at %d: %d answers, verdict %d; want %d, %d", in, split, a, w, answers, v)
			}
		}
	}
}

func TestBuildResponse(t *testing.T) {
	got := string(BuildResponse("gnet-bare", "Hello, World!"))
	want := "HTTP/1.1 200 OK\r\nServer: gnet-bare\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got = string(BuildResponse("x", ""))
	want = "HTTP/1.1 200 OK\r\nServer: x\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n"
	if got != want {
		t.Errorf("empty body: got %q, want %q", got, want)
	}
	if string(BadRequest) != want400 {
		t.Errorf("BadRequest is %q, want %q", BadRequest, want400)
	}
}

func TestAnswers(t *testing.T) {
	resp := []byte("R")
	var scratch []byte
	tests := []struct {
		n    int
		v    Verdict
		want string
	}{
		{0, VerdictKeep, ""},
		{0, VerdictClose, ""},
		{1, VerdictKeep, "R"},
		{1, VerdictClose, "R"},
		{3, VerdictKeep, "RRR"},
		{2, VerdictClose, "RR"},
		{0, VerdictBad, want400},
		{1, VerdictBad, "R" + want400},
		{2, VerdictBad, "RR" + want400},
	}
	for _, tt := range tests {
		out := Answers(&scratch, resp, tt.n, tt.v)
		if string(out) != tt.want {
			t.Errorf("Answers(%d, %d) = %q, want %q", tt.n, tt.v, out, tt.want)
		}
		if tt.want == "" && out != nil {
			t.Errorf("Answers(%d, %d) = %q, want nil", tt.n, tt.v, out)
		}
		if len(scratch) != 0 {
			t.Errorf("Answers(%d, %d) left scratch of length %d", tt.n, tt.v, len(scratch))
		}
	}
	// A lone answer is resp itself.
	if out := Answers(&scratch, resp, 1, VerdictKeep); &out[0] != &resp[0] {
		t.Error("a lone answer is a copy of resp")
	}
	// The scratch storage is reused from one batch to the next.
	first := Answers(&scratch, resp, 3, VerdictKeep)
	second := Answers(&scratch, resp, 2, VerdictKeep)
	if &first[0] != &second[0] {
		t.Error("the scratch storage was not reused")
	}
}
