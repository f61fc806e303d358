package bare

import "fmt"

// BuildResponse is the fixed answer to every request: a 200 with the given
// Server header and a text/plain body. Build it once; Answers reuses it.
func BuildResponse(server, body string) []byte {
	return []byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nServer: %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s",
		server, len(body), body))
}

// BadRequest answers malformed or unsupported input, before closing. It is
// shared: do not modify it.
var BadRequest = []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

// Answers returns what answers one batch of requests, framed by
// Parser.Feed: n copies of resp, then BadRequest if v is VerdictBad. It is
// nil when there is nothing to send. A lone answer is resp itself, not a
// copy; anything else is built in *scratch, whose storage is kept there
// for the next batch, so the result is only valid until the next call with
// the same scratch.
func Answers(scratch *[]byte, resp []byte, n int, v Verdict) []byte {
	switch {
	case n == 1 && v != VerdictBad:
		return resp
	case n > 0 || v == VerdictBad:
		out := (*scratch)[:0]
		for range n {
			out = append(out, resp...)
		}
		if v == VerdictBad {
			out = append(out, BadRequest...)
		}
		*scratch = out[:0]
		return out
	}
	return nil
}
