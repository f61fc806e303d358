# edgeloop: build, test, fuzz and benchmark. Needs Go; `make test` also
# needs a C compiler for the race detector and installs gcc when missing.

GO          ?= go
GOFMT       ?= $(shell $(GO) env GOROOT)/bin/gofmt
FUZZTIME    ?= 10m
FUZZTIME_CI ?= 30s
# `make build VERSION=1.2.3` stamps the binaries; unset, they report
# internal/version's default.
VERSION     ?=
LDFLAGS     := $(if $(VERSION),-X github.com/edgeloop/edgeloop/internal/version.Version=$(VERSION))

.PHONY: build test run bench bench-micro fuzz fuzz-ci lint clean vet fmt-check race-toolchain

# build: bin/edgeloop, bin/origin, bin/loadgen and bin/pullworker.
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/ ./cmd/...

# test: everything CI runs. vet and gofmt first; then every test under the
# race detector (fuzz seed corpora in testdata/fuzz run as regression
# tests); then the allocation and memory tests once more without -race,
# which skip under it because it changes allocation counts.
test: vet fmt-check race-toolchain
	$(GO) test -race -count=1 ./...
	$(GO) test -count=1 -run 'Alloc|Memory|GiB' ./...

# run: builds, starts bin/origin on 127.0.0.1:9000 and edgeloop on :8080
# in front of it (state under .run/), and prints where to curl. Ctrl-C
# stops both.
run: build
	@mkdir -p .run; \
	bin/origin -listen 127.0.0.1:9000 2>>.run/origin.log & opid=$$!; \
	trap 'kill $$opid 2>/dev/null' EXIT INT TERM; \
	echo "edgeloop on :8080 in front of the demo origin 127.0.0.1:9000"; \
	echo "  curl -i http://127.0.0.1:8080/            # Hello, World! through the proxy"; \
	echo "  curl -i http://127.0.0.1:8687/healthz     # admin"; \
	echo "  curl http://127.0.0.1:8687/servers        # the pool (management API)"; \
	echo "  curl -d '{\"url\":\"http://127.0.0.1:9001\"}' http://127.0.0.1:8687/servers   # add an origin"; \
	echo "Ctrl-C stops both; logs: stderr (edgeloop), .run/origin.log"; \
	bin/edgeloop -listen :8080 -admin 127.0.0.1:8687 -origin http://127.0.0.1:9000 -state .run/edgeloop.state.json

# bench: edgeloop, nginx and HAProxy side by side (bench/README.md);
# writes bench/results/latest.{json,md,svg}. BENCH_QUICK=1 takes about a
# minute, the full run about 15; PROFILE=1 adds edgeloop's profiles.
bench:
	$(GO) run ./bench/cmd/bench

# bench-micro: the Go micro-benchmarks (parser, pool), with
# allocations.
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem ./http1/ ./pool/

# fuzz: every Fuzz target of every package, FUZZTIME (default 10m) each.
fuzz:
	@$(call fuzz-all,$(FUZZTIME))

# fuzz-ci: the same, FUZZTIME_CI (default 30s) each; what .ci/run calls.
fuzz-ci:
	@$(call fuzz-all,$(FUZZTIME_CI))

# lint: vet and gofmt; staticcheck too when it is installed (never fetched).
lint: vet fmt-check
	@if command -v staticcheck >/dev/null 2>&1; then staticcheck ./...; \
	else echo "lint: staticcheck not installed, skipped"; fi

# clean: build outputs, run state, test binaries and profiles.
clean:
	rm -rf bin/ .run/
	rm -f *.test *.prof

# vet: go vet over every package.
vet:
	$(GO) vet ./...

# fmt-check: fails listing every .go file gofmt would change (tracked or
# not, ignored and vendor/ files left out; plain find outside git).
fmt-check:
	@files=$$( { git ls-files -co --exclude-standard -- '*.go' 2>/dev/null || \
		find . -name '*.go' -not -path './.git/*'; } | grep -v '^\(\./\)\{0,1\}vendor/'); \
	bad=$$(for f in $$files; do [ -f "$$f" ] && echo "$$f"; done | xargs -r $(GOFMT) -l); \
	if [ -n "$$bad" ]; then echo "gofmt -w needed on:"; echo "$$bad"; exit 1; fi

# race-toolchain: -race needs cgo, so a C compiler. Installs gcc with
# apt-get when missing and run as root; otherwise says what to install.
race-toolchain:
	@if [ "$$($(GO) env CGO_ENABLED)" != 1 ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "test: installing gcc for the race detector"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev >/dev/null; \
			[ "$$($(GO) env CGO_ENABLED)" = 1 ] || { echo "test: cgo is still off (CGO_ENABLED=0 set?); -race needs it"; exit 1; }; \
		else echo "test: -race needs a C compiler: install gcc (Debian: apt-get install gcc libc6-dev)"; exit 1; fi; \
	fi

# fuzz-all DURATION: runs each Fuzz target of each package for DURATION.
# A package whose tests do not build fails the run instead of being skipped.
define fuzz-all
set -e; \
for p in $$($(GO) list ./...); do \
	list=$$($(GO) test -list '^Fuzz' $$p) || { echo "$$list"; exit 1; }; \
	for t in $$(echo "$$list" | grep '^Fuzz' || true); do \
		echo "== $$p $$t ($(1))"; \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(1) $$p; \
	done; \
done
endef
