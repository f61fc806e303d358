package http1

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/textproto"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The differential target: net/http's ReadRequest reads the same bytes.
// Where both accept, they must agree on method, target, fields and
// framing. Where one refuses what the other accepts, the input must fall
// under a difference listed in docs/conformance.md, recognised below by
// strictness(); anything else is a bug in one of the two.

// netRequest is net/http's reading of b.
func netRequest(b []byte) (*http.Request, error) {
	return http.ReadRequest(bufio.NewReader(bytes.NewReader(b)))
}

// stricter maps each rule by which we refuse heads that net/http's
// ReadRequest accepts to its line in docs/conformance.md (a test checks
// the document names each one). Rules absent here are ones net/http
// enforces too: a mismatch on them is a bug.
var stricter = map[*Error]string{
	ErrBareLF:          "bare LF",
	ErrObsFold:         "obs-fold",
	ErrSpaceColon:      "whitespace before the colon",
	ErrFieldName:       "field names",
	ErrTEWithCL:        "Transfer-Encoding with Content-Length",
	ErrTEHTTP10:        "Transfer-Encoding in HTTP/1.0",
	ErrNoHost:          "missing Host",
	ErrHost:            "Host characters",
	ErrTargetForm:      "target form",
	ErrTarget:          "request-target",
	ErrCTL:             "control characters",
	ErrVersion:         "HTTP-version",
	ErrVersionMajor:    "HTTP-version",
	ErrRequestLine:     "request-line spacing",
	ErrRequestLineSize: "size limits",
	ErrHeadTooLarge:    "size limits",
	ErrTooManyField:    "size limits",
	ErrFieldValue:      "control characters",
	ErrMethod:          "method token",
}

// strictness names the documented difference that explains why we refuse
// what net/http accepts, or "" when none does.
func strictness(err error) string {
	if e, ok := err.(*Error); ok {
		return stricter[e]
	}
	return ""
}

// leniency names the documented difference that explains why we accept
// what net/http refuses, or "".
func leniency(b []byte, r *Request, netErr error) string {
	msg := netErr.Error()
	switch {
	case (strings.Contains(msg, "unsupported transfer encoding") || strings.Contains(msg, "too many transfer encodings")) && r.Body.Kind == BodyChunked:
		return "transfer codings" // net/http takes only a single "chunked"
	case strings.Contains(msg, "invalid URI") || strings.Contains(msg, "invalid URL escape") ||
		strings.Contains(msg, "invalid port") || strings.Contains(msg, "invalid character"):
		return "request-target passed through" // a proxy forwards the target as is
	case bytes.HasPrefix(b, []byte("\r\n")):
		return "empty lines before the request-line" // RFC 9112 §2.2 asks us to skip them
	}
	return ""
}

// requestDisagreement reads b with both parsers and describes a
// disagreement that no documented difference explains, or returns "".
func requestDisagreement(b []byte) string {
	var r Request
	_, err := r.Parse(b)
	if err == ErrNeedMore {
		return "" // net/http would block for more, or fail on EOF
	}
	nr, nerr := netRequest(b)
	switch {
	case err != nil && nerr == nil:
		if strictness(err) == "" {
			return fmt.Sprintf("we refuse (%v) what net/http accepts: %s", err, clip(b))
		}
	case err == nil && nerr != nil:
		if leniency(b, &r, nerr) == "" {
			return fmt.Sprintf("we accept what net/http refuses (%v): %s", nerr, clip(b))
		}
	case err == nil:
		if d := agree(b, &r, nr); d != "" {
			return d + ": " + clip(b)
		}
	}
	return ""
}

// addRequestSeeds seeds a fuzz target with every table case and the
// smuggling inputs.
func addRequestSeeds(f *testing.F) {
	for _, c := range requestCases {
		f.Add([]byte(c.in))
	}
	for _, s := range smuggling {
		f.Add([]byte(s))
	}
}

func FuzzDifferentialRequest(f *testing.F) {
	addRequestSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if d := requestDisagreement(b); d != "" {
			t.Fatal(d)
		}
	})
}

// agree compares two accepted readings of b.
func agree(b []byte, r *Request, nr *http.Request) string {
	if nr.Method != string(r.Method.Of(b)) {
		return "method " + nr.Method
	}
	if nr.RequestURI != string(r.Target.Of(b)) {
		return "target " + nr.RequestURI
	}
	if nr.ProtoMajor != int(r.Major) || nr.ProtoMinor != int(r.Minor) {
		return "version"
	}
	// Fields: net/http keeps Host aside and groups values by canonical
	// name, in order.
	want := map[string][]string{}
	for _, f := range r.Fields() {
		k := textproto.CanonicalMIMEHeaderKey(string(f.Name.Of(b)))
		// net/http keeps Host aside, moves Transfer-Encoding to its own
		// member and folds repeated Content-Length values into one.
		if k == "Host" || k == "Transfer-Encoding" || k == "Content-Length" {
			continue
		}
		want[k] = append(want[k], string(f.Value.Of(b)))
	}
	for k, vs := range want {
		if !slices.Equal(nr.Header[k], vs) {
			return "field " + k
		}
	}
	delete(nr.Header, "Content-Length")
	if len(want) != len(nr.Header) {
		return "field count"
	}
	// Framing: net/http says -1 for chunked, the length otherwise.
	switch r.Body.Kind {
	case BodyChunked:
		if nr.ContentLength != -1 || !slices.Equal(nr.TransferEncoding, []string{"chunked"}) {
			return "chunked framing"
		}
	case BodyLength:
		if nr.ContentLength != r.Body.Length {
			return "content length"
		}
	case BodyNone:
		if nr.ContentLength != 0 {
			return "no body"
		}
	}
	return ""
}

// TestDifferentialTable runs the differential over the tables, so every
// `go test` checks the documented differences still hold.
func TestDifferentialTable(t *testing.T) {
	inputs := append([]string(nil), smuggling...)
	for _, c := range requestCases {
		inputs = append(inputs, c.in)
	}
	for _, in := range inputs {
		if d := requestDisagreement([]byte(in)); d != "" {
			t.Error(d)
		}
	}
}

// clip quotes at most 200 bytes of b for a failure message.
func clip(b []byte) string {
	if len(b) > 200 {
		return strconv.Quote(string(b[:200])) + fmt.Sprintf("... (%d bytes)", len(b))
	}
	return strconv.Quote(string(b))
}

// stricterResponse maps the rules by which we refuse responses that
// net/http's ReadResponse accepts to their line in docs/conformance.md.
var stricterResponse = map[*Error]string{
	ErrBareLF:          "bare LF",
	ErrObsFold:         "obs-fold",
	ErrSpaceColon:      "whitespace before the colon",
	ErrFieldName:       "field names",
	ErrTEWithCL:        "Transfer-Encoding with Content-Length",
	ErrTEHTTP10:        "Transfer-Encoding in HTTP/1.0",
	ErrTEChunkedTwice:  "chunked twice in a response",
	ErrTEMalformed:     "malformed Transfer-Encoding in a response",
	ErrCTL:             "control characters",
	ErrVersion:         "HTTP-version",
	ErrVersionMajor:    "HTTP-version",
	ErrStatusLine:      "status-line",
	ErrRequestLineSize: "size limits",
	ErrHeadTooLarge:    "size limits",
	ErrTooManyField:    "size limits",
	ErrContentLength:   "Content-Length in a response",
	ErrCLMismatch:      "Content-Length in a response",
}

func FuzzDifferentialResponse(f *testing.F) {
	for _, c := range responseCases {
		f.Add([]byte(c.in))
	}
	for _, s := range smugglingResponses {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Response
		_, body, err := parseResp(&r, b, MethodGet)
		if err == ErrNeedMore {
			return
		}
		nr, nerr := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
		switch {
		case err != nil && nerr == nil:
			e, _ := err.(*Error)
			if stricterResponse[e] == "" {
				t.Fatalf("we refuse (%v) what net/http accepts: %s", err, clip(b))
			}
		case err == nil && nerr != nil:
			msg := nerr.Error()
			// net/http refuses codings other than a lone "chunked" and
			// reason phrases it cannot split; we frame them (RFC 9112 §6.3).
			if !strings.Contains(msg, "transfer encoding") && !strings.Contains(msg, "malformed HTTP status code") &&
				!strings.Contains(msg, "malformed HTTP response") {
				t.Fatalf("we accept what net/http refuses (%v): %s", nerr, clip(b))
			}
		case err == nil:
			if nr.StatusCode != r.Status {
				t.Fatalf("status %d vs %d: %s", nr.StatusCode, r.Status, clip(b))
			}
			if r.Status < 200 || r.Status == 204 || r.Status == 304 {
				return // net/http's framing of these is its own business
			}
			switch body.Kind {
			case BodyChunked:
				if !slices.Equal(nr.TransferEncoding, []string{"chunked"}) {
					t.Fatalf("chunked vs %v: %s", nr.TransferEncoding, clip(b))
				}
			case BodyLength:
				if nr.ContentLength != body.Length {
					t.Fatalf("length %d vs %d: %s", body.Length, nr.ContentLength, clip(b))
				}
			case BodyUntilClose:
				if nr.ContentLength != -1 || len(nr.TransferEncoding) != 0 {
					t.Fatalf("until-close vs %d %v: %s", nr.ContentLength, nr.TransferEncoding, clip(b))
				}
			}
		}
	})
}

// TestConformanceDocListsDifferences: every documented difference the
// differential targets rely on has its entry in docs/conformance.md.
func TestConformanceDocListsDifferences(t *testing.T) {
	doc, err := os.ReadFile("../docs/conformance.md")
	if err != nil {
		t.Fatal(err)
	}
	lower := strings.Join(strings.Fields(strings.ToLower(string(doc))), " ")
	for _, m := range []map[*Error]string{stricter, stricterResponse} {
		for e, key := range m {
			if !strings.Contains(lower, strings.ToLower(key)) {
				t.Errorf("docs/conformance.md does not name %q (%v)", key, e)
			}
		}
	}
	for _, key := range []string{"transfer codings", "request-target passed through", "empty lines before the request-line"} {
		if !strings.Contains(lower, key) {
			t.Errorf("docs/conformance.md does not name %q", key)
		}
	}
}
