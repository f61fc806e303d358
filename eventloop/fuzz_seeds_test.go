package eventloop_test

import (
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFuzzCorpusHoldsSuite: every case of the smuggling suite is a seed of
// the end-to-end fuzz targets, as a corpus file under testdata/fuzz (so
// `make test` replays it through FuzzProxyClient's and FuzzProxyOrigin's
// invariants too, and fuzzing starts from it). A case added to a table
// without its seed fails here; EDGELOOP_WRITE_SEEDS=1 writes them:
//
//	EDGELOOP_WRITE_SEEDS=1 go test -run TestFuzzCorpusHoldsSuite ./eventloop/
func TestFuzzCorpusHoldsSuite(t *testing.T) {
	write := os.Getenv("EDGELOOP_WRITE_SEEDS") == "1"
	check := func(target string, name string, data string, seen map[string]string) {
		slug := "suite-" + seedSlug(name)
		if prev, dup := seen[slug]; dup {
			t.Fatalf("%s: cases %q and %q share the seed name %s", target, prev, name, slug)
		}
		seen[slug] = name
		path := filepath.Join("testdata", "fuzz", target, slug)
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if write {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("%s: no seed %s for case %q, or a stale one (EDGELOOP_WRITE_SEEDS=1 go test -run TestFuzzCorpusHoldsSuite ./eventloop/)", target, path, name)
		}
	}
	seen := map[string]string{}
	for _, c := range smuggleRequestCases {
		check("FuzzProxyClient", c.name, c.send, seen)
	}
	seen = map[string]string{}
	for _, c := range smuggleResponseCases {
		check("FuzzProxyOrigin", c.name, c.response, seen)
	}
}

// seedSlug makes a file name of a case name: its words, and a hash of the
// name itself, as names may differ in case only.
func seedSlug(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	return fmt.Sprintf("%s-%08x", words(name), h.Sum32())
}

func words(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}
