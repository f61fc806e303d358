// Package fuzz holds long fuzz runs and the curated corpus: inputs worth
// keeping across packages (every crash ever fixed, real-world heads) and
// the harness that fuzzes the proxy end to end.
//
// The parsers' own Fuzz targets live beside them (http1's *_test.go, seeds
// in http1/testdata/fuzz/) and run as regression tests in every `go test`;
// `make fuzz` and `make fuzz-ci` find every Fuzz target of every package.
//
// Imports: anything. Nothing may import it (internal/depcheck enforces it).
//
// Filled by the fuzz issue; until then this package holds only this doc.
package fuzz
