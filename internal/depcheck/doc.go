// Package depcheck holds the test that keeps DESIGN.md's import rules
// ("Packages and who may import whom"): for every package of the module it
// runs `go list -deps` and fails on a forbidden edge. Its code lives in
// deps_test.go; this file exists so the directory is a package, and it
// imports nothing, as internal/* helpers import only the standard library.
//
// When a rule must change, change the table in deps_test.go and DESIGN.md
// together, with the reason.
package depcheck
