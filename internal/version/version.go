// Package version holds the version string every edgeloop binary reports.
//
// It imports nothing, so any package of the module may use it. Version is
// set once at link time and only read afterwards:
//
//	go build -ldflags "-X github.com/edgeloop/edgeloop/internal/version.Version=1.2.3" ./cmd/...
//
// `make build VERSION=1.2.3` does the same.
package version

// Version is the release this build reports. Builds that do not set it with
// -ldflags report the development version below.
var Version = "0.1.0-dev"
