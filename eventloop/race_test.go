//go:build race

package eventloop_test

// raceEnabled: the race detector changes memory use; the memory tests
// skip under it and run in make test's second pass.
const raceEnabled = true
