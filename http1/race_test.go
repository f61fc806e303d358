//go:build race

package http1

// raceEnabled: the race detector changes allocation counts, so allocation
// tests skip under it and run again in `make test`'s second pass.
const raceEnabled = true
