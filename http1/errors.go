package http1

import "errors"

// ErrNeedMore reports that the bytes given end inside a head: call again
// with the same buffer extended by the bytes that arrive next. It is the
// only error after which parsing goes on. (Chunked.Decode needs no such
// error: it consumes what it is given and says nil.)
var ErrNeedMore = errors.New("http1: need more data")

// Error is a protocol error with the status a careful proxy answers a
// request with. Every value is a package-level sentinel, so returning one
// never allocates; compare with ==, errors.Is, or read Status.
//
// For a response from an origin the Status is what the rule would say of a
// request; the proxy answers its client 502 whatever it is.
type Error struct {
	Status int    // 400, 413, 414, 431, 501 or 505
	Msg    string // starts with "http1: "
}

func (e *Error) Error() string { return e.Msg }

// StatusOf returns the status for err: the Error's status, or 400 for any
// other non-nil error (a framing doubt is a bad request), or 0 for nil.
func StatusOf(err error) int {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 400
}

func newErr(status int, msg string) *Error { return &Error{Status: status, Msg: "http1: " + msg} }

// Start line.
var (
	ErrMethod          = newErr(400, "invalid method token")
	ErrTarget          = newErr(400, "invalid request-target")
	ErrTargetForm      = newErr(400, "request-target form not allowed for this method")
	ErrRequestLine     = newErr(400, "malformed request-line")
	ErrVersion         = newErr(400, "malformed HTTP-version")
	ErrVersionMajor    = newErr(505, "HTTP major version not supported")
	ErrStatusLine      = newErr(400, "malformed status-line")
	ErrRequestLineSize = newErr(414, "request-line too long")
)

// Line endings and field syntax.
var (
	ErrBareLF       = newErr(400, "bare LF as line ending")
	ErrCTL          = newErr(400, "control character in head")
	ErrObsFold      = newErr(400, "obsolete line folding")
	ErrFieldName    = newErr(400, "invalid field name")
	ErrSpaceColon   = newErr(400, "whitespace between field name and colon")
	ErrFieldValue   = newErr(400, "invalid field value")
	ErrHeadTooLarge = newErr(431, "header section too large")
	ErrTooManyField = newErr(431, "too many header fields")
)

// Semantics that decide framing or routing.
var (
	ErrNoHost         = newErr(400, "missing Host in HTTP/1.1 request")
	ErrDupHost        = newErr(400, "repeated Host field")
	ErrHost           = newErr(400, "invalid Host value")
	ErrTEWithCL       = newErr(400, "Transfer-Encoding with Content-Length")
	ErrContentLength  = newErr(400, "invalid Content-Length")
	ErrCLMismatch     = newErr(400, "differing Content-Length values")
	ErrTENotChunked   = newErr(400, "final transfer coding is not chunked")
	ErrTEChunkedTwice = newErr(400, "chunked applied more than once")
	ErrTEUnknown      = newErr(501, "unknown transfer coding")
	ErrTEMalformed    = newErr(400, "malformed Transfer-Encoding")
	ErrTEHTTP10       = newErr(400, "Transfer-Encoding in an HTTP/1.0 message")
)

// Chunked body.
var (
	ErrChunkSize     = newErr(400, "invalid chunk-size")
	ErrChunkTooLarge = newErr(400, "chunk-size overflows")
	ErrChunkExt      = newErr(400, "invalid chunk extension")
	ErrChunkCRLF     = newErr(400, "missing CRLF after chunk data")
	ErrChunkLine     = newErr(400, "chunk line too long")
	ErrTrailer       = newErr(400, "invalid trailer field")
	ErrTrailerSize   = newErr(431, "trailer section too large")
)
