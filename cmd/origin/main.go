// Command origin is the bundled test origin (CONTRACT.md, "origin"):
//
//	origin [-listen ADDR]
//
// Endpoints are listed in package origin's documentation. SIGTERM or
// SIGINT closes it, exit 0; a bad flag or an address it cannot listen on
// is one line and exit 2.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/edgeloop/edgeloop/origin"
)

func main() {
	fs := flag.NewFlagSet("origin", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	listen := fs.String("listen", "127.0.0.1:9000", "address to listen on")
	if err := fs.Parse(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "origin: "+err.Error())
		os.Exit(2)
	}
	s, err := origin.Start(*listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "origin: -listen: "+err.Error())
		os.Exit(2)
	}
	fmt.Fprintln(os.Stderr, "origin: listening on http://"+s.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	_ = s.Close()
}
