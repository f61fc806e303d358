package bare

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
)

// Main is a bare server's main function. It parses the command line
// (-listen, default 127.0.0.1:29090; -loops, the number of event loops,
// default 1; -body, the response body, default "Hello, World!"), then
// serves with run until SIGINT or SIGTERM, logging under serverName. It
// exits 2 if -loops is less than 1 and 1 if run fails; it returns once run
// has stopped cleanly.
func Main(serverName string, run RunFunc) {
	listen := flag.String("listen", "127.0.0.1:29090", "address to listen on, host:port")
	loops := flag.Int("loops", 1, "number of event loops")
	body := flag.String("body", "Hello, World!", "response body")
	flag.Parse()
	if *loops < 1 {
		fmt.Fprintln(os.Stderr, serverName+": -loops must be at least 1")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err := run(ctx, *listen, *loops, *body, func(a net.Addr) {
		log.Printf("%s: listening on %s with %d event loop(s)", serverName, a, *loops)
	})
	if err != nil {
		log.Printf("%s: %v", serverName, err)
		stop()
		os.Exit(1)
	}
	log.Printf("%s: stopped", serverName)
}

// RunFunc is the shape of a bare server's run function: serve on addr with
// the given number of event loops, answering every request with body, until
// ctx is done; then stop, and return once every event loop has exited and
// every connection is closed. ready, if not nil, is called once with the
// address listened on (useful with port 0); from then on connections are
// accepted.
type RunFunc func(ctx context.Context, addr string, loops int, body string, ready func(net.Addr)) error
