package origin

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Handler is the origin as an http.Handler, for net/http servers and
// pull-mode workers (queue/worker, cmd/pullworker): the endpoints of the
// package documentation, with the statuses, bodies, Content-Type and
// Content-Length of the raw server.
//
// One difference: /echo cannot list the fields in the order and case
// they were received, which net/http does not keep. It lists them sorted
// by name, in canonical case (the values of one name in their order),
// with Host and Transfer-Encoding put back from r.Host and
// r.TransferEncoding, where net/http moves them.
//
// net/http's server also drops Content-Type from a 304 (the raw server
// sends one), which Handler cannot prevent.
//
// Routes match the path as sent (r.URL.EscapedPath()), whatever the
// method; the request body is read whole first, as the raw server does,
// and a body that cannot be read drops the connection
// (http.ErrAbortHandler). /slow/MS gives up when the request's context
// ends.
func Handler() http.Handler { return http.HandlerFunc(serveHTTP) }

func serveHTTP(w http.ResponseWriter, r *http.Request) {
	sum := sha256.New()
	n, err := io.Copy(sum, r.Body)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	head := r.Method == http.MethodHead
	path := r.URL.EscapedPath()
	switch {
	case path == "/":
		reply(w, 200, "text/plain", []byte("Hello, World!"), head)
	case path == "/large":
		replyBytes(w, 1<<20, head)
	case strings.HasPrefix(path, "/bytes/"):
		size, err := strconv.ParseInt(path[len("/bytes/"):], 10, 64)
		if err != nil || size < 0 {
			reply(w, 400, "text/plain", []byte("bad size\n"), head)
			return
		}
		replyBytes(w, size, head)
	case path == "/echo":
		reply(w, 200, "application/json", echoRequest(r, n, sum.Sum(nil)), head)
	case strings.HasPrefix(path, "/status/"):
		st, err := strconv.Atoi(path[len("/status/"):])
		if err != nil || st < 200 || st > 999 {
			reply(w, 400, "text/plain", []byte("status must be 200-999\n"), head)
			return
		}
		body := []byte("status " + strconv.Itoa(st) + "\n")
		if st == 204 || st == 304 {
			body = nil
		}
		reply(w, st, "text/plain", body, head)
	case strings.HasPrefix(path, "/slow/"):
		ms, err := strconv.Atoi(path[len("/slow/"):])
		if err != nil || ms < 0 || ms > 600000 {
			reply(w, 400, "text/plain", []byte("bad delay\n"), head)
			return
		}
		t := time.NewTimer(time.Duration(ms) * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
		reply(w, 200, "text/plain", []byte("slow"), head)
	default:
		reply(w, 404, "text/plain", []byte("not found\n"), head)
	}
}

// echoReply is the JSON of /echo, from either server.
type echoReply struct {
	Method     string      `json:"method"`
	Target     string      `json:"target"`
	Proto      string      `json:"proto"`
	Headers    [][2]string `json:"headers"`
	BodyLength int64       `json:"body_length"`
	BodySHA256 string      `json:"body_sha256"`
	Chunked    bool        `json:"chunked,omitempty"`
}

func echoRequest(r *http.Request, n int64, sum []byte) []byte {
	target := r.RequestURI
	if target == "" {
		target = r.URL.RequestURI()
	}
	e := echoReply{Method: r.Method, Target: target,
		Proto:   "HTTP/" + strconv.Itoa(r.ProtoMajor) + "." + strconv.Itoa(r.ProtoMinor),
		Headers: [][2]string{}, BodyLength: n, BodySHA256: hex.EncodeToString(sum),
		Chunked: len(r.TransferEncoding) > 0 && r.TransferEncoding[len(r.TransferEncoding)-1] == "chunked"}
	h := r.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if r.Host != "" {
		h["Host"] = append([]string{r.Host}, h["Host"]...)
	}
	if len(r.TransferEncoding) > 0 {
		h["Transfer-Encoding"] = []string{strings.Join(r.TransferEncoding, ", ")}
	}
	names := slices.Sorted(maps.Keys(h))
	for _, k := range names {
		for _, v := range h[k] {
			e.Headers = append(e.Headers, [2]string{k, v})
		}
	}
	b, _ := json.Marshal(e)
	return append(b, '\n')
}

// reply is the raw server's reply: Content-Type, and Content-Length but
// for 204 and 304.
func reply(w http.ResponseWriter, status int, ctype string, body []byte, head bool) {
	w.Header().Set("Content-Type", ctype)
	if status != 204 && status != 304 {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(status)
	if !head {
		_, _ = w.Write(body)
	}
}

// replyBytes is the raw server's: n bytes of a-z repeating.
func replyBytes(w http.ResponseWriter, n int64, head bool) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.WriteHeader(200)
	if !head {
		_ = writePattern(w, n)
	}
}
