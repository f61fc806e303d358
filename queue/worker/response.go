package worker

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// responseWriter is the handler's http.ResponseWriter (and http.Flusher):
// it buffers the body up to the inline limit; past it, or on Flush, it
// posts the head and streams the body through a pipe.
type responseWriter struct {
	r      *runner
	ctx    context.Context    // the request's; for the answer calls
	cancel context.CancelFunc // ends the request's context: the answer cannot go
	id     string
	isHead bool // a HEAD request: the body is counted, not sent
	log    *slog.Logger

	header  http.Header
	status  int         // 0 until WriteHeader
	sent    http.Header // the header as WriteHeader found it
	buf     []byte      // the body so far while pending (HEAD: its start, to sniff)
	written int64

	state  uint8
	err    error          // stFailed: why
	pw     *io.PipeWriter // stStreaming: the body stream
	stream chan error     // stStreaming: the body POST's outcome
	closed bool           // stStreaming: pw is closed

	// pollNext: the whole answer's POST also asks for the next request
	// (?next=), which then lands in next.
	pollNext bool
	next     *job
}

const (
	stPending   uint8 = iota // nothing posted yet
	stAnswered               // the whole answer was posted (no body to stream)
	stStreaming              // the head was posted; the body goes through pw
	stFailed                 // the proxy refused the answer: writes fail with err
)

// sniffLen is how much of a body http.DetectContentType looks at.
const sniffLen = 512

// errEnded is the error of writes to a response after its stream ended.
var errEnded = errors.New("worker: the response body stream ended")

func newResponseWriter(r *runner, ctx context.Context, cancel context.CancelFunc, id string, isHead bool, log *slog.Logger) *responseWriter {
	return &responseWriter{r: r, ctx: ctx, cancel: cancel, id: id, isHead: isHead, log: log, header: http.Header{}}
}

func (w *responseWriter) Header() http.Header { return w.header }

// WriteHeader fixes the status and the header. 1xx statuses are not
// passed on (the worker API has no interim responses).
func (w *responseWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code)) // as net/http
	}
	if w.status != 0 {
		w.log.Warn("worker: superfluous WriteHeader call", "status", code)
		return
	}
	if code < 200 {
		return
	}
	if code > 599 {
		// The worker API takes 200-599 (RFC 9110 §15: 6xx-9xx are not
		// statuses); an origin sending one to a proxy gets a 502.
		w.log.Error("worker: the handler answered a status outside 200-599: sending 502", "status", code)
		code = http.StatusBadGateway
	}
	w.status = code
	w.sent = w.header.Clone()
}

// bodyAllowed: RFC 9110 §15.4.5, §15.3.5.
func (w *responseWriter) bodyAllowed() bool {
	return w.status != http.StatusNoContent && w.status != http.StatusNotModified
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.bodyAllowed() {
		return 0, http.ErrBodyNotAllowed
	}
	switch w.state {
	case stFailed:
		return 0, w.err
	case stStreaming:
		n, err := w.pw.Write(p)
		w.written += int64(n)
		return n, err
	}
	if w.isHead || w.state == stAnswered {
		// HEAD: counted for Content-Length, kept only to sniff a type.
		if len(w.buf) < sniffLen {
			w.buf = append(w.buf, p[:min(len(p), sniffLen-len(w.buf))]...)
		}
		w.written += int64(len(p))
		return len(p), nil
	}
	if int64(len(w.buf)+len(p)) <= w.r.inline {
		w.buf = append(w.buf, p...)
		w.written += int64(len(p))
		return len(p), nil
	}
	if err := w.startStream(); err != nil {
		return 0, err
	}
	n, err := w.pw.Write(p)
	w.written += int64(n)
	return n, err
}

// Flush sends what the handler gave so far: the head and, from then on,
// the body as it is written.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError is Flush for http.ResponseController.
func (w *responseWriter) FlushError() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	switch w.state {
	case stFailed:
		return w.err
	case stPending:
		if w.isHead || !w.bodyAllowed() {
			// No body will follow: the answer is complete now.
			return w.postWhole()
		}
		return w.startStream()
	}
	return nil // a stream passes each write on as it comes
}

// headers is the answer's header list: the handler's fields, sorted by
// name for a stable order, a field of several values as several pairs.
// body is the start of the body, to sniff a Content-Type from when the
// handler set none (as net/http does); length, when not negative, is the
// Content-Length to add when the handler set none.
func (w *responseWriter) headers(body []byte, length int64) [][2]string {
	keys := make([]string, 0, len(w.sent))
	for k := range w.sent {
		if !strings.HasPrefix(k, http.TrailerPrefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	h := make([][2]string, 0, len(keys)+2)
	for _, k := range keys {
		for _, v := range w.sent[k] {
			h = append(h, [2]string{k, v})
		}
	}
	if _, ok := w.sent["Content-Type"]; !ok && len(body) > 0 && w.bodyAllowed() {
		h = append(h, [2]string{"Content-Type", http.DetectContentType(body[:min(len(body), sniffLen)])})
	}
	if _, ok := w.sent["Content-Length"]; !ok && length >= 0 && w.bodyAllowed() {
		h = append(h, [2]string{"Content-Length", strconv.FormatInt(length, 10)})
	}
	return h
}

// fail records that the answer cannot go (err) and ends the request's
// context, so that a handler watching it stops.
func (w *responseWriter) fail(err error) error {
	w.state, w.err = stFailed, err
	w.cancel()
	return err
}

// postWhole posts the answer with its buffered body; none for HEAD, 204
// and 304.
func (w *responseWriter) postWhole() error {
	a := &answer{ID: w.id, Status: w.status}
	switch {
	case w.isHead:
		// What a GET would have had, when the handler wrote it all.
		length := int64(-1)
		if w.written > 0 {
			length = w.written
		}
		a.Headers = w.headers(w.buf, length)
	case !w.bodyAllowed():
		a.Headers = w.headers(nil, -1)
	default:
		a.Headers = w.headers(w.buf, -1)
		a.Body = ptr(base64.StdEncoding.EncodeToString(w.buf))
	}
	w.buf = nil
	var err error
	if w.pollNext {
		w.next, err = w.r.postAnswerNext(w.ctx, a)
	} else {
		err = w.r.postAnswer(w.ctx, a, http.StatusOK)
	}
	if err != nil {
		return w.fail(err)
	}
	w.state = stAnswered
	return nil
}

// startStream posts the head with "stream": true, then starts the body's
// POST, fed by the handler's writes through a pipe, and writes the
// buffered body into it.
func (w *responseWriter) startStream() error {
	a := &answer{ID: w.id, Status: w.status, Headers: w.headers(w.buf, -1), Stream: true}
	if err := w.r.postAnswer(w.ctx, a, http.StatusAccepted); err != nil {
		return w.fail(err)
	}
	pr, pw := io.Pipe()
	w.pw, w.stream, w.state = pw, make(chan error, 1), stStreaming
	go func() {
		err := w.r.postStream(w.ctx, w.id, pr)
		// Whatever the handler still writes has nowhere to go; a
		// handler watching its context learns that the client is gone.
		pr.CloseWithError(errEnded)
		if err != nil {
			w.cancel()
		}
		w.stream <- err
	}()
	buf := w.buf
	w.buf = nil
	if len(buf) > 0 {
		if _, err := pw.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// endStream closes the body stream (with cause, when not nil: the proxy
// then cuts the client's response) and waits for the body POST.
func (w *responseWriter) endStream(cause error) error {
	if cause != nil {
		w.pw.CloseWithError(cause)
	} else {
		w.pw.Close()
	}
	return <-w.stream
}

// finish answers after the handler returned.
func (w *responseWriter) finish() {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	var err error
	switch w.state {
	case stPending:
		err = w.postWhole()
	case stStreaming:
		err = w.endStream(nil)
	case stFailed:
		err = w.err
	}
	logAnswer(w.log, err)
}

// abort answers after the handler panicked: 500 when nothing went out
// yet; a stream is cut, which the client sees as a truncated response.
func (w *responseWriter) abort(cause error) {
	switch w.state {
	case stPending:
		w.status, w.sent, w.buf, w.written = http.StatusInternalServerError, http.Header{}, nil, 0
		body := []byte(http.StatusText(http.StatusInternalServerError) + "\n")
		if !w.isHead {
			w.buf = body
		} else {
			w.written = int64(len(body))
		}
		w.sent.Set("Content-Type", "text/plain; charset=utf-8")
		logAnswer(w.log, w.postWhole())
	case stStreaming:
		err := w.endStream(cause)
		if err != nil && !errors.Is(err, cause) && !gone(err) {
			w.log.Debug("worker: the cut stream ended", "err", err)
		}
	}
}
