// Command edgeloop is the reverse proxy (CONTRACT.md, "edgeloop").
//
// Until issue 3 wires the event loops, the pool and the origin side
// together, this command only reports its version: asked to proxy, it says
// so and exits 2 rather than pretend to serve.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/edgeloop/edgeloop/internal/version"
)

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println("edgeloop " + version.Version)
		return
	}
	fmt.Fprintln(os.Stderr, "edgeloop: the proxy is not built yet (issue 3)")
	os.Exit(2)
}
