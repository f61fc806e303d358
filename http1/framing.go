package http1

// BodyKind says how a message body is delimited (RFC 9112 §6).
type BodyKind uint8

const (
	BodyNone       BodyKind = iota // no body: the next message follows the head
	BodyLength                     // exactly Body.Length bytes
	BodyChunked                    // the chunked coding: decode with Chunked
	BodyUntilClose                 // responses only: until the origin closes
	BodyTunnel                     // 2xx to CONNECT, or 101: raw bytes both ways until a side closes
)

func (k BodyKind) String() string {
	switch k {
	case BodyNone:
		return "none"
	case BodyLength:
		return "length"
	case BodyChunked:
		return "chunked"
	case BodyUntilClose:
		return "until-close"
	case BodyTunnel:
		return "tunnel"
	}
	return "?"
}

// Body is a framing decision: the kind, and the length for BodyLength.
type Body struct {
	Kind   BodyKind
	Length int64
}

// framing is the one place that decides how a body is delimited, RFC 9112
// §6.3, in its order. status and method matter only for responses: the
// status received and the method of the request it answers.
func framing(h *Head, isRequest bool, status int, method Method) (Body, error) {
	if !isRequest {
		// §6.3 (1): HEAD responses, 1xx, 204 and 304 end at the head,
		// whatever their fields say. 101 switches protocols: what
		// follows is the new protocol's, relayed as a tunnel.
		switch {
		case status == 101:
			return Body{Kind: BodyTunnel}, nil
		case status < 200, status == 204, status == 304, method == MethodHead:
			return Body{}, nil
		// §6.3 (2): a 2xx to CONNECT makes the connection a tunnel.
		case method == MethodConnect && status < 300:
			return Body{Kind: BodyTunnel}, nil
		}
	}
	if h.Flags&FlagTE != 0 {
		return teFraming(h, isRequest)
	}
	// §6.3 (5): a valid Content-Length gives the length; an invalid one
	// was refused while parsing.
	if h.Flags&FlagContentLength != 0 {
		if h.ContentLength == 0 {
			return Body{}, nil
		}
		return Body{Kind: BodyLength, Length: h.ContentLength}, nil
	}
	// §6.3 (6): a request without either has no body; (7): a response
	// without either runs until the connection closes.
	if isRequest {
		return Body{}, nil
	}
	return Body{Kind: BodyUntilClose}, nil
}

// teFraming decides for a message with Transfer-Encoding (RFC 9112 §6.3
// (3) and (4)).
func teFraming(h *Head, isRequest bool) (Body, error) {
	t := h.te
	switch {
	// §6.1: a 1.0 recipient cannot know chunked; a 1.0 message with TE
	// has faulty framing.
	case h.Major == 1 && h.Minor == 0:
		return Body{}, ErrTEHTTP10
	// §6.3 (3): TE with CL is how smuggling starts; we refuse it in both
	// directions rather than drop the CL and guess.
	case h.Flags&FlagContentLength != 0:
		return Body{}, ErrTEWithCL
	case t.malformed:
		return Body{}, ErrTEMalformed
	// §6.1: chunked MUST NOT be applied more than once.
	case t.chunked > 1:
		return Body{}, ErrTEChunkedTwice
	case t.lastChunk:
		return Body{Kind: BodyChunked}, nil
	case !isRequest:
		// §6.3 (4): a response whose final coding is not chunked runs
		// until the connection closes.
		return Body{Kind: BodyUntilClose}, nil
	// §6.1: a server answers a coding it does not understand with 501.
	case t.unknown:
		return Body{}, ErrTEUnknown
	// §6.3 (4): in a request, a final coding other than chunked leaves
	// the length unknowable: 400 and close.
	default:
		return Body{}, ErrTENotChunked
	}
}
