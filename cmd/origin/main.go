// Command origin is the bundled test origin (CONTRACT.md, "origin"): the
// demo origin of `make run` and the origin of the end-to-end tests.
//
// It arrives with issue 3. Until then it only reports its version; asked to
// serve, it says so and exits 2 rather than pretend to serve.
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
		fmt.Println("origin " + version.Version)
		return
	}
	fmt.Fprintln(os.Stderr, "origin: the test origin is not built yet (issue 3)")
	os.Exit(2)
}
