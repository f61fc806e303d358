package http1

// Response is a parsed response head; its spans point into the buffer
// given to Parse. Reuse one per origin connection with Reset.
type Response struct {
	Head
	Status int  // 100-999
	Reason Span // may be empty
}

// Reset readies r for the next response, keeping its Limits.
func (r *Response) Reset() {
	r.reset()
	r.Status, r.Reason = 0, Span{}
}

// Parse parses the response head at the start of b, with the contract of
// Request.Parse: the head's length, ErrNeedMore, or an *Error (for which
// a proxy answers its client 502 and closes the origin connection).
// The body's framing depends on the request: ask Framing.
func (r *Response) Parse(b []byte) (int, error) {
	if n, err, ok := r.settled(); ok {
		return n, err
	}
	return r.record(r.parse(b))
}

func (r *Response) parse(b []byte) (int, error) {
	if r.phase == phaseStart {
		if r.pos == 0 && r.scan == 0 {
			r.ContentLength = -1
		}
		if err := r.statusLine(b); err != nil {
			return 0, err
		}
	}
	return r.moreFields(b, false)
}

// Framing decides how the body of the parsed response is delimited, given
// the method of the request it answers (RFC 9112 §6.3).
func (r *Response) Framing(request Method) (Body, error) {
	return framing(&r.Head, false, r.Status, request)
}

// statusLine finds and parses status-line = HTTP-version SP status-code
// SP [ reason-phrase ] (RFC 9112 §4). The status line shares the request
// line's length limit.
func (r *Response) statusLine(b []byte) error {
	cr, err := r.line(b, r.Limits.requestLine()+2, ErrRequestLineSize)
	if err != nil {
		return err
	}
	start, end := 0, cr
	r.pos = cr + 2
	line := b[start:end]
	if len(line) < 12 || line[8] != ' ' {
		// "HTTP/1.1 200" is the shortest: we accept a missing SP before
		// an empty reason, as nginx and HAProxy do (RFC 9112 §4 asks
		// recipients to accept an empty reason).
		return badLine(line, ErrStatusLine)
	}
	if err := r.version(line[:8]); err != nil {
		return err
	}
	d := line[9:12]
	if !isDigit(d[0]) || !isDigit(d[1]) || !isDigit(d[2]) || d[0] == '0' {
		return badLine(line, ErrStatusLine) // RFC 9110 §15: 3DIGIT, 100-999
	}
	r.Status = int(d[0]-'0')*100 + int(d[1]-'0')*10 + int(d[2]-'0')
	if len(line) > 12 {
		if line[12] != ' ' {
			return badLine(line, ErrStatusLine)
		}
		// RFC 9112 §4: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
		for _, c := range line[13:] {
			if !valueChar[c] {
				return ErrCTL
			}
		}
		r.Reason = span(start+13, end)
	}
	r.phase, r.fieldsStart = phaseFields, r.pos
	return nil
}
