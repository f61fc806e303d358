// Command loadgen is the bundled load generator (CONTRACT.md, "loadgen"),
// a thin flag layer over package loadgen.
//
// It arrives with the loadgen issue. Until then it only reports its
// version; asked to generate load, it says so and exits 2 rather than
// pretend to measure anything.
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
		fmt.Println("loadgen " + version.Version)
		return
	}
	fmt.Fprintln(os.Stderr, "loadgen: the load generator is not built yet (loadgen issue)")
	os.Exit(2)
}
