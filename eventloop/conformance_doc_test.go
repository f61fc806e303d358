package eventloop_test

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestConformanceDocPins keeps docs/conformance.md honest: every test it
// names as pinning a requirement exists, and every smuggling case it cites
// is a case of smuggle_test.go's tables, so a renamed or deleted test
// cannot leave a requirement pinned by nothing.
func TestConformanceDocPins(t *testing.T) {
	doc, err := os.ReadFile("../docs/conformance.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	start := strings.Index(text, "## The proxy")
	end := strings.Index(text, "## The parser")
	if start < 0 || end < start {
		t.Fatal("docs/conformance.md has no proxy part before its parser part")
	}
	proxy := text[start:end]

	// Test functions of this package and of http1.
	funcs := map[string]bool{}
	for _, dir := range []string{".", "../http1"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range regexp.MustCompile(`(?m)^func ((?:Test|Fuzz)\w+)\(`).FindAllStringSubmatch(string(b), -1) {
				funcs[m[1]] = true
			}
		}
	}
	named := regexp.MustCompile("`((?:Test|Fuzz)\\w+)`").FindAllStringSubmatch(proxy, -1)
	if len(named) < 30 {
		t.Fatalf("only %d tests named in the proxy part", len(named))
	}
	for _, m := range named {
		if !funcs[m[1]] {
			t.Errorf("docs/conformance.md names %s, which does not exist", m[1])
		}
	}

	var reqNames, respNames []string
	for _, c := range smuggleRequestCases {
		reqNames = append(reqNames, c.name)
	}
	for _, c := range smuggleResponseCases {
		respNames = append(respNames, c.name)
	}
	cited := 0
	for _, line := range strings.Split(proxy, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		pins := cells[len(cells)-1]
		i := strings.Index(pins, "smuggle")
		if i < 0 {
			continue
		}
		for _, part := range strings.Split(pins[i:], "; ") {
			names := reqNames
			switch {
			case strings.HasPrefix(part, "smuggle responses: "):
				part, names = strings.TrimPrefix(part, "smuggle responses: "), respNames
			case strings.HasPrefix(part, "smuggle: "):
				part = strings.TrimPrefix(part, "smuggle: ")
			case strings.HasPrefix(part, "responses: "):
				part, names = strings.TrimPrefix(part, "responses: "), respNames
			default:
				continue
			}
			n, err := splitCaseNames(part, names)
			if err != "" {
				t.Errorf("docs/conformance.md cites %q: %s", part, err)
			}
			cited += n
		}
	}
	if cited < 60 {
		t.Fatalf("only %d smuggling cases cited", cited)
	}
}

// splitCaseNames reads a ", "-separated list of case names, some of which
// hold commas themselves, by taking the longest known name at each step.
func splitCaseNames(list string, names []string) (int, string) {
	sorted := append([]string(nil), names...)
	sort.Slice(sorted, func(i, j int) bool { return len(sorted[i]) > len(sorted[j]) })
	n := 0
	for list != "" {
		found := false
		for _, name := range sorted {
			if list == name || strings.HasPrefix(list, name+", ") {
				list = strings.TrimPrefix(strings.TrimPrefix(list, name), ", ")
				found, n = true, n+1
				break
			}
		}
		if !found {
			return n, "no case starts " + list
		}
	}
	return n, ""
}
