// Command eviobare is a bare HTTP/1.1 server on github.com/tidwall/evio.
//
// It is a reference for the benchmark harness: the ceiling of an event-loop
// server on this machine. It answers every request with one fixed response,
// precomputed once, and parses no more than it needs to frame requests: the
// end of the head ("\r\n\r\n"), Content-Length (whose body it skips),
// Connection and Transfer-Encoding. Keep-alive and pipelining are supported;
// the answers to the requests that one read completes go out in one write.
// The command line, the framing, the answers and the tests of the
// behaviour on the wire are bench/internal/bare's, shared with bench/gnetbare.
//
// Usage:
//
//	eviobare [-listen 127.0.0.1:29090] [-loops 1] [-body "Hello, World!"]
package main

import (
	"context"
	"net"
	"time"

	"github.com/tidwall/evio"

	"github.com/edgeloop/edgeloop/bench/internal/bare"
)

const serverName = "evio-bare"

func main() {
	bare.Main(serverName, run)
}

// evio only stops on an action returned from one of its events, so run
// watches ctx from Tick, which evio calls on event loop 0.
const (
	// tickInterval is how often Tick looks at ctx: the bound on the delay
	// of a shutdown.
	tickInterval = 50 * time.Millisecond
	// tickerExit is the delay returned with Shutdown. evio's ticker
	// goroutine sleeps that long, then signals the poller of loop 0 once
	// more; that fails, the poller being closed by then, and the goroutine
	// ends. run waits for that before it returns so that no goroutine of
	// this server outlives it (and none writes to a descriptor number the
	// process may have reused).
	tickerExit = 100 * time.Millisecond
)

// run serves on addr until ctx is done, then shuts evio down and returns
// once every event loop has exited and every connection is closed. ready, if
// not nil, is called once with the address listened on (useful with port 0);
// from then on connections are accepted.
func run(ctx context.Context, addr string, loops int, body string, ready func(net.Addr)) error {
	if loops < 1 {
		loops = 1
	}
	resp := bare.BuildResponse(serverName, body)
	var (
		ticks     int       // only touched on loop 0
		tickerEnd time.Time // set on loop 0 with Shutdown; read after Serve returns
	)
	events := evio.Events{
		NumLoops: loops,
		Serving: func(s evio.Server) evio.Action {
			if ready != nil && len(s.Addrs) > 0 {
				ready(s.Addrs[0])
			}
			return evio.None
		},
		Tick: func() (time.Duration, evio.Action) {
			ticks++
			// Not on the first tick: evio calls it as loop 0 starts, and
			// may not be waiting for the end of its loops yet; a
			// shutdown then would go unnoticed.
			if ticks > 1 && ctx.Err() != nil {
				tickerEnd = time.Now().Add(tickerExit)
				return tickerExit, evio.Shutdown
			}
			return tickInterval, evio.None
		},
		Opened: func(c evio.Conn) ([]byte, evio.Options, evio.Action) {
			c.SetContext(&connState{})
			// The input is used during Data only (a partial head is copied
			// to the connection's stream), so evio need not copy it.
			return nil, evio.Options{ReuseInputBuffer: true}, evio.None
		},
		Data: func(c evio.Conn, in []byte) ([]byte, evio.Action) {
			st, _ := c.Context().(*connState)
			if st == nil {
				return nil, evio.Close
			}
			if len(in) == 0 {
				return nil, evio.None
			}
			data := st.is.Begin(in)
			consumed, answers, v := st.p.Feed(data)
			out := bare.Answers(&st.out, resp, answers, v)
			if v != bare.VerdictKeep {
				// evio writes out, then closes.
				return out, evio.Close
			}
			// Keep the partial head, if any, for the next read.
			st.is.End(data[consumed:])
			return out, evio.None
		},
	}
	err := evio.Serve(events, "tcp://"+addr)
	if !tickerEnd.IsZero() {
		time.Sleep(time.Until(tickerEnd) + 10*time.Millisecond)
	}
	return err
}

// connState is what a connection keeps between reads.
type connState struct {
	p   bare.Parser
	is  evio.InputStream // unconsumed input: a partial head
	out []byte           // scratch for the answers to a batch of requests
}
