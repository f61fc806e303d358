package http1

import "strconv"

// Writers that emit a head into dst and return the extended slice, in the
// style of strconv.AppendInt. They write what they are given: validating
// it is the caller's job (names and values taken from a parsed head are
// valid already).

// text is what the writers accept for names and values.
type text interface{ ~string | ~[]byte }

// AppendRequestLine writes "METHOD TARGET HTTP/1.1\r\n". The proxy speaks
// HTTP/1.1 to origins whatever the client spoke (RFC 9110 §2.5).
func AppendRequestLine[M, T text](dst []byte, method M, target T) []byte {
	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = append(dst, target...)
	return append(dst, " HTTP/1.1\r\n"...)
}

// AppendStatusLine writes "HTTP/1.1 STATUS REASON\r\n"; an empty reason
// gets the standard one for status when there is one.
func AppendStatusLine[R text](dst []byte, status int, reason R) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	if len(reason) == 0 {
		return append(append(dst, StatusText(status)...), "\r\n"...)
	}
	dst = append(dst, reason...)
	return append(dst, "\r\n"...)
}

// AppendField writes "Name: value\r\n".
func AppendField[N, V text](dst []byte, name N, value V) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// AppendContentLength writes "Content-Length: n\r\n".
func AppendContentLength(dst []byte, n int64) []byte {
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, "\r\n"...)
}

// AppendEndOfHead writes the empty line that ends a head.
func AppendEndOfHead(dst []byte) []byte { return append(dst, "\r\n"...) }

// AppendFields writes every field of h, as parsed from b.
func (h *Head) AppendFields(dst, b []byte) []byte {
	for _, f := range h.fields[:h.nfields] {
		dst = AppendField(dst, f.Name.Of(b), f.Value.Of(b))
	}
	return dst
}

// AppendTo writes the head again as parsed from b: request-line, fields
// and the empty line, in canonical form (single spaces, no OWS around
// values) but with the version received.
func (r *Request) AppendTo(dst, b []byte) []byte {
	dst = append(dst, r.Method.Of(b)...)
	dst = append(dst, ' ')
	dst = append(dst, r.Target.Of(b)...)
	dst = appendVersion(append(dst, ' '), r.Major, r.Minor)
	dst = append(dst, "\r\n"...)
	return AppendEndOfHead(r.AppendFields(dst, b))
}

// AppendTo writes the response head again as parsed from b.
func (r *Response) AppendTo(dst, b []byte) []byte {
	dst = appendVersion(dst, r.Major, r.Minor)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(r.Status), 10)
	dst = append(dst, ' ')
	dst = append(dst, r.Reason.Of(b)...)
	dst = append(dst, "\r\n"...)
	return AppendEndOfHead(r.AppendFields(dst, b))
}

func appendVersion(dst []byte, major, minor uint8) []byte {
	return append(dst, 'H', 'T', 'T', 'P', '/', '0'+major, '.', '0'+minor)
}

// StatusText is the reason phrase for the statuses a proxy sends itself
// or commonly relays; "" for others.
func StatusText(status int) string {
	switch status {
	case 100:
		return "Continue"
	case 101:
		return "Switching Protocols"
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 204:
		return "No Content"
	case 206:
		return "Partial Content"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Found"
	case 304:
		return "Not Modified"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 408:
		return "Request Timeout"
	case 411:
		return "Length Required"
	case 413:
		return "Content Too Large"
	case 414:
		return "URI Too Long"
	case 417:
		return "Expectation Failed"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	case 505:
		return "HTTP Version Not Supported"
	}
	return ""
}
