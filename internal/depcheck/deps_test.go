package depcheck

import (
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// module is this module's path. TestImportRules checks it against
// `go list -m`, so a renamed module fails loudly instead of making every
// package look third-party.
const module = "github.com/edgeloop/edgeloop"

// gnetPath prefixes every gnet import path (github.com/panjf2000/gnet/v2/...).
const gnetPath = "github.com/panjf2000/gnet"

// rule says what the packages of one top-level directory of the module may
// depend on, transitively (go list -deps). The standard library is always
// allowed; so are the package's own directory tree and internal/* helpers
// (which are themselves held to the standard library, so they add nothing).
type rule struct {
	thirdParty bool     // modules other than this one and gnet
	gnet       bool     // github.com/panjf2000/gnet/...
	allOurs    bool     // every package of this module (but bench and fuzz)
	ours       []string // top-level directories of this module it may use
}

// rules mirrors DESIGN.md, "Packages and who may import whom". A directory
// not listed gets defaultRule.
var rules = map[string]rule{
	"http1": {},
	"pool":  {ours: []string{"http1"}},
	"queue": {ours: []string{"http1"}},
	// gnet pulls in modules of its own (golang.org/x/sys, zap, ...), which
	// are fine here, so eventloop may depend on any third-party module.
	"eventloop": {thirdParty: true, gnet: true, ours: []string{"http1", "pool", "queue"}},
	"mgmt":      {thirdParty: true},
	// loadgen keeps latencies in an HdrHistogram (the loadgen issue asks
	// for a well-kept port, not a hand-written one): third-party modules
	// yes, gnet and the proxy's packages no.
	"loadgen":  {thirdParty: true, ours: []string{"http1"}},
	"config":   {thirdParty: true},
	"internal": {},
	"cmd":      {thirdParty: true, gnet: true, allOurs: true},
	// bench and fuzz may use anything, gnet included: the benchmark runs a
	// bare gnet server as a comparison point (CONTRACT.md, system
	// "gnet-bare"). That cannot leak gnet into the proxy, because nothing
	// may import bench or fuzz.
	"bench": {thirdParty: true, gnet: true, allOurs: true},
	"fuzz":  {thirdParty: true, gnet: true, allOurs: true},
}

// defaultRule holds a new top-level package (ratelimit, static, ...) until
// it gets a row of its own: the standard library, third-party modules but
// gnet, http1 and internal/*.
var defaultRule = rule{thirdParty: true, ours: []string{"http1"}}

// leaves are the directories nothing outside themselves may import.
var leaves = []string{"bench", "fuzz"}

// area returns the top-level directory of one of our packages ("" for the
// module root) and whether path belongs to this module at all.
func area(path string) (string, bool) {
	if path == module {
		return "", true
	}
	rest, ok := strings.CutPrefix(path, module+"/")
	if !ok {
		return "", false
	}
	top, _, _ := strings.Cut(rest, "/")
	return top, true
}

// short names one of our packages the way DESIGN.md does (pool, cmd/origin).
func short(path string) string {
	if rest, ok := strings.CutPrefix(path, module+"/"); ok {
		return rest
	}
	return path
}

// violations lists the forbidden dependencies of package pkg. Each entry of
// deps is a line of `go list -deps -f '{{.ImportPath}} {{.Standard}}'`:
// an import path, a space, and true for the standard library. An entry
// without the flag counts as not standard, so a malformed line can only make
// the check stricter. pkg itself may appear in deps, as go list prints it.
func violations(pkg string, deps []string) []string {
	own, ours := area(pkg)
	if !ours {
		return []string{short(pkg) + " is not a package of " + module}
	}
	r, known := rules[own]
	if !known {
		r = defaultRule
	}
	var out []string
	for _, line := range deps {
		path, flag, _ := strings.Cut(strings.TrimSpace(line), " ")
		if path == "" || path == pkg || flag == "true" {
			continue
		}
		if why := forbidden(own, r, path); why != "" {
			out = append(out, short(pkg)+" depends on "+short(path)+": "+why)
		}
	}
	return out
}

// forbidden returns why package in directory own, held to rule r, may not
// depend on the non-standard package path, or "" when it may.
func forbidden(own string, r rule, path string) string {
	top, ours := area(path)
	switch {
	case !ours && (path == gnetPath || strings.HasPrefix(path, gnetPath+"/")):
		if !r.gnet {
			return "gnet stays inside eventloop (and cmd/*)"
		}
	case !ours:
		if !r.thirdParty {
			return "no third-party modules here (allowed: " + allowed(r) + ")"
		}
	case top == own || top == "internal":
		// Its own tree, and the std-only helpers anyone may use.
	case slices.Contains(leaves, top):
		return "nothing imports " + top
	case r.allOurs || slices.Contains(r.ours, top):
	default:
		return "not an allowed import (allowed: " + allowed(r) + ")"
	}
	return ""
}

// allowed describes what a rule allows, for messages.
func allowed(r rule) string {
	s := []string{"std"}
	if r.thirdParty {
		s = append(s, "third-party")
	}
	if r.gnet {
		s = append(s, "gnet")
	}
	if r.allOurs {
		s = append(s, "every package but bench and fuzz")
	}
	s = append(s, r.ours...)
	return strings.Join(append(s, "internal/*"), ", ")
}

func TestViolations(t *testing.T) {
	std := func(p string) string { return p + " true" }
	ext := func(p string) string { return p + " false" }
	our := func(p string) string { return module + "/" + p + " false" }
	pkg := func(p string) string { return module + "/" + p }
	gnet := ext("github.com/panjf2000/gnet/v2")
	gnetSub := ext("github.com/panjf2000/gnet/v2/pkg/logging")

	cases := []struct {
		name string
		pkg  string
		deps []string
		bad  []string // the dependencies that must be reported, in order
	}{
		{"http1 std only", pkg("http1"), []string{std("bytes"), std("strconv"), pkg("http1") + " false"}, nil},
		{"http1 imports pool", pkg("http1"), []string{std("bytes"), our("pool")}, []string{"pool"}},
		{"http1 imports third party", pkg("http1"), []string{ext("github.com/valyala/fasthttp")}, []string{"github.com/valyala/fasthttp"}},
		{"unflagged line is not std", pkg("http1"), []string{"fmt"}, []string{"fmt"}},
		{"http1 may use internal", pkg("http1"), []string{our("internal/version")}, nil},
		{"pool imports http1", pkg("pool"), []string{std("sync/atomic"), our("http1")}, nil},
		{"pool imports gnet", pkg("pool"), []string{our("http1"), gnet}, []string{"github.com/panjf2000/gnet/v2"}},
		{"pool imports eventloop", pkg("pool/health"), []string{our("pool"), our("eventloop")}, []string{"eventloop"}},
		{"eventloop allowed set", pkg("eventloop"), []string{gnet, gnetSub, ext("golang.org/x/sys/unix"), ext("go.uber.org/zap"), our("http1"), our("pool"), our("queue")}, nil},
		{"eventloop imports mgmt", pkg("eventloop"), []string{gnet, our("mgmt")}, []string{"mgmt"}},
		{"queue imports pool and a module", pkg("queue"), []string{our("http1"), our("pool"), ext("github.com/google/uuid")}, []string{"pool", "github.com/google/uuid"}},
		{"mgmt third party ok", pkg("mgmt"), []string{ext("github.com/prometheus/client_golang/prometheus"), std("net/http/pprof")}, nil},
		{"mgmt imports eventloop", pkg("mgmt"), []string{our("eventloop")}, []string{"eventloop"}},
		{"mgmt imports pool and http1", pkg("mgmt"), []string{our("pool"), our("http1")}, []string{"pool", "http1"}},
		{"mgmt imports gnet", pkg("mgmt"), []string{gnetSub}, []string{"github.com/panjf2000/gnet/v2/pkg/logging"}},
		{"loadgen imports pool", pkg("loadgen"), []string{our("http1"), our("pool")}, []string{"pool"}},
		{"loadgen hdrhistogram ok", pkg("loadgen"), []string{ext("github.com/HdrHistogram/hdrhistogram-go")}, nil},
		{"loadgen imports gnet", pkg("loadgen"), []string{gnet}, []string{"github.com/panjf2000/gnet/v2"}},
		{"config yaml ok", pkg("config"), []string{ext("gopkg.in/yaml.v3")}, nil},
		{"config imports http1", pkg("config"), []string{our("http1")}, []string{"http1"}},
		{"cmd imports everything", pkg("cmd/edgeloop"), []string{gnet, our("eventloop"), our("mgmt"), our("pool"), our("config"), ext("gopkg.in/yaml.v3")}, nil},
		{"cmd imports bench", pkg("cmd/edgeloop"), []string{our("eventloop"), our("bench")}, []string{"bench"}},
		{"eventloop imports fuzz", pkg("eventloop"), []string{our("fuzz/corpus")}, []string{"fuzz/corpus"}},
		{"bench imports anything", pkg("bench"), []string{gnet, our("eventloop"), our("loadgen"), our("bench/report"), ext("github.com/tidwall/evio")}, nil},
		{"fuzz imports bench", pkg("fuzz"), []string{our("bench")}, []string{"bench"}},
		{"internal std only", pkg("internal/version"), []string{std("fmt"), our("internal/other")}, nil},
		{"internal imports http1", pkg("internal/version"), []string{our("http1")}, []string{"http1"}},
		{"internal third party", pkg("internal/version"), []string{ext("golang.org/x/sys/unix")}, []string{"golang.org/x/sys/unix"}},
		{"new package default ok", pkg("ratelimit"), []string{our("http1"), ext("golang.org/x/time/rate"), our("internal/version")}, nil},
		{"new package imports pool", pkg("ratelimit"), []string{our("pool")}, []string{"pool"}},
		{"new package imports gnet", pkg("static"), []string{gnet}, []string{"github.com/panjf2000/gnet/v2"}},
		{"module root is a new package", module, []string{our("eventloop")}, []string{"eventloop"}},
		{"gnet look-alike is just third party", pkg("internal/version"), []string{ext("github.com/panjf2000/gnetx")}, []string{"github.com/panjf2000/gnetx"}},
		{"foreign package", "example.com/other", nil, []string{"example.com/other"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := violations(c.pkg, c.deps)
			if len(got) != len(c.bad) {
				t.Fatalf("violations(%s) = %q, want %d naming %q", short(c.pkg), got, len(c.bad), c.bad)
			}
			for i, dep := range c.bad {
				if !strings.Contains(got[i], dep) {
					t.Errorf("violation %d = %q, want it to name %s", i, got[i], dep)
				}
			}
		})
	}
}

// TestImportRules feeds violations the real import graph of every package
// of the module.
func TestImportRules(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not found:", err)
	}
	gomod := goCmd(t, ".", "env", "GOMOD")
	if gomod == "" || gomod == "/dev/null" || filepath.Base(gomod) != "go.mod" {
		t.Fatalf("go env GOMOD = %q: not inside the module", gomod)
	}
	root := filepath.Dir(gomod)
	if got := goCmd(t, root, "list", "-m"); got != module {
		t.Fatalf("go list -m = %q; update depcheck's module constant (and DESIGN.md) to match", got)
	}
	pkgs := strings.Fields(goCmd(t, root, "list", "-e", "./..."))
	// The check must have something to hold: a module that lost these
	// would pass vacuously.
	for _, p := range []string{module + "/http1", module + "/cmd/edgeloop"} {
		if !slices.Contains(pkgs, p) {
			t.Fatalf("go list ./... from %s lacks %s; got %q", root, p, pkgs)
		}
	}
	for _, p := range pkgs {
		out := goCmd(t, root, "list", "-e", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", p)
		deps := strings.Split(out, "\n")
		if !slices.Contains(deps, p+" false") {
			t.Errorf("go list -deps %s does not list the package itself; got %q", p, deps)
			continue
		}
		for _, v := range violations(p, deps) {
			t.Error(v)
		}
	}
}

// goCmd runs the go command in dir and returns its trimmed standard output.
func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, ee.Stderr)
		}
		t.Fatalf("go %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}
