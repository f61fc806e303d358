package eventloop

import (
	"github.com/edgeloop/edgeloop/http1"
	"github.com/panjf2000/gnet/v2"
)

// body tracks one message body as it streams through: how much of it is
// still to come, and for chunked bodies the decoder that finds its end.
// Bodies are never held whole: each call forwards what is buffered now.
type body struct {
	kind      http1.BodyKind
	remaining int64 // BodyLength: bytes still to come
	dechunk   bool  // write only chunk data (to an HTTP/1.0 client)
	limit     int64 // >0: at most this many data bytes (413 above)
	seen      int64 // data bytes so far
	framing   int64 // chunked: wire bytes that were not data (sizes, extensions, CRLFs, trailers)
	chunks    http1.Chunked
}

// start begins a body of the given framing.
func (bd *body) start(b http1.Body, dechunk bool, limit int64) {
	bd.kind, bd.remaining, bd.dechunk, bd.limit, bd.seen, bd.framing = b.Kind, b.Length, dechunk, limit, 0, 0
	if b.Kind == http1.BodyChunked {
		bd.chunks.Reset()
	}
}

// done reports whether the whole body has passed (a close-delimited body
// ends only when its connection does).
func (bd *body) done() bool {
	switch bd.kind {
	case http1.BodyNone:
		return true
	case http1.BodyLength:
		return bd.remaining == 0
	case http1.BodyChunked:
		return bd.chunks.Done()
	}
	return false
}

// errTooLarge reports a body over its limit.
var errTooLarge = &http1.Error{Status: 413, Msg: "eventloop: body larger than allowed"}

// A chunked body's framing is bounded by its data: at most
// framingAllowance bytes plus framingPerByte per data byte. Each chunk
// line may be 4 KiB (mostly extensions), so without it a body within
// MaxBodyBytes could be thousands of times larger on the wire, and
// MaxBodyBytes would bound neither the transfer nor the work (Node.js
// bounded chunk extensions for the same reason, CVE-2024-22019). Honest
// bodies stay far below: 1-byte chunks cost 5 bytes of framing each, and
// a 4 KiB chunk about 8.
const (
	framingAllowance = 64 << 10
	framingPerByte   = 8
)

var errFraming = &http1.Error{Status: 413, Msg: "eventloop: chunk framing out of proportion to the data"}

// forward writes to dst the part of buf that belongs to the body and
// returns how many bytes of buf it took. Bytes after the body's end are
// left for the next message.
func (bd *body) forward(buf []byte, dst gnet.Conn) (int, error) {
	switch bd.kind {
	case http1.BodyLength:
		n := min(int64(len(buf)), bd.remaining)
		if n > 0 {
			_, _ = dst.Write(buf[:n])
			bd.remaining -= n
		}
		return int(n), nil
	case http1.BodyChunked:
		return bd.forwardChunked(buf, dst)
	case http1.BodyUntilClose, http1.BodyTunnel:
		if len(buf) > 0 {
			_, _ = dst.Write(buf)
		}
		return len(buf), nil
	}
	return 0, nil
}

// forwardChunked passes a chunked body on as it came (chunked stays
// chunked) or, to an HTTP/1.0 client, as its data alone.
func (bd *body) forwardChunked(buf []byte, dst gnet.Conn) (int, error) {
	n := 0
	for n < len(buf) && !bd.chunks.Done() {
		k, data, err := bd.chunk(buf[n:])
		if bd.dechunk && len(data) > 0 {
			_, _ = dst.Write(data)
		}
		n += k
		if err != nil {
			return n, err
		}
	}
	if !bd.dechunk && n > 0 {
		_, _ = dst.Write(buf[:n])
	}
	return n, nil
}

// chunk decodes the next piece of a chunked body at the start of buf: it
// returns the bytes it took and the data among them, and counts both
// against the body's limit and the framing allowance (an error says
// which was passed; the data is still the body's).
func (bd *body) chunk(buf []byte) (int, []byte, error) {
	k, data, err := bd.chunks.Decode(buf)
	if err != nil {
		return 0, nil, err
	}
	bd.seen += int64(len(data))
	bd.framing += int64(k - len(data))
	if bd.limit > 0 && bd.seen > bd.limit {
		return k, data, errTooLarge
	}
	if bd.framing > framingAllowance+framingPerByte*bd.seen {
		return k, data, errFraming
	}
	return k, data, nil
}
