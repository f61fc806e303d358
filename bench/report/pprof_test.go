package report

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// cpuProfile builds, by hand, a CPU profile with these stacks (leaf first)
// and cpu values:
//
//	inl ← parse ← handle ← main   100  (inl inlined into parse: one location)
//	rec ← rec ← rec ← handle ← main   200  (recursion)
//	parse ← handle ← main   300
//	main   400
//	handle ← rec ← handle ← main   100  (handle twice on the stack)
func cpuProfile() *profile.Profile {
	fn := map[string]*profile.Function{}
	var funcs []*profile.Function
	for i, name := range []string{"main", "handle", "parse", "inl", "rec"} {
		f := &profile.Function{ID: uint64(i + 1), Name: name, SystemName: name, Filename: "x.go"}
		fn[name] = f
		funcs = append(funcs, f)
	}
	loc := func(id uint64, names ...string) *profile.Location {
		l := &profile.Location{ID: id, Address: 0x1000 * id}
		for _, n := range names {
			l.Line = append(l.Line, profile.Line{Function: fn[n], Line: int64(id)})
		}
		return l
	}
	main := loc(1, "main")
	handle := loc(2, "handle")
	inlParse := loc(3, "inl", "parse") // innermost first
	rec := loc(4, "rec")
	parse := loc(5, "parse")
	sample := func(n, cpu int64, locs ...*profile.Location) *profile.Sample {
		return &profile.Sample{Location: locs, Value: []int64{n, cpu}}
	}
	return &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:     10000000,
		Sample: []*profile.Sample{
			sample(1, 100, inlParse, handle, main),
			sample(2, 200, rec, rec, rec, handle, main),
			sample(3, 300, parse, handle, main),
			sample(4, 400, main),
			sample(5, 100, handle, rec, handle, main),
		},
		Location: []*profile.Location{main, handle, inlParse, rec, parse},
		Function: funcs,
	}
}

func TestTopFunctions(t *testing.T) {
	p := cpuProfile()
	if err := p.CheckValid(); err != nil {
		t.Fatalf("hand-made profile: %v", err)
	}
	got, err := TopFunctions(p, "cpu", 0)
	if err != nil {
		t.Fatal(err)
	}
	const total = 1100
	pct := func(v int64) float64 { return 100 * float64(v) / total }
	want := []struct {
		name      string
		flat, cum int64
	}{
		{"main", 400, 1100},
		{"parse", 300, 400},
		{"rec", 200, 300},
		{"handle", 100, 700}, // ties with inl on flat; name breaks it
		{"inl", 100, 100},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d functions %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.name || g.Flat != w.flat || g.Cum != w.cum {
			t.Errorf("[%d] = %s flat %d cum %d, want %s flat %d cum %d", i, g.Name, g.Flat, g.Cum, w.name, w.flat, w.cum)
		}
		if math.Abs(g.FlatPct-pct(w.flat)) > 1e-9 || math.Abs(g.CumPct-pct(w.cum)) > 1e-9 {
			t.Errorf("[%d] %s: flat%% %v cum%% %v, want %v %v", i, g.Name, g.FlatPct, g.CumPct, pct(w.flat), pct(w.cum))
		}
	}

	top2, err := TopFunctions(p, "cpu", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(top2) != 2 || top2[0].Name != "main" || top2[1].Name != "parse" {
		t.Errorf("top 2 = %+v, want main, parse", top2)
	}

	// The other sample type of the same profile.
	counts, err := TopFunctions(p, "samples", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 1 || counts[0].Name != "handle" || counts[0].Flat != 5 || counts[0].Cum != 5+1+2+3 {
		t.Errorf("top samples = %+v, want handle flat 5 cum 11", counts)
	}

	if _, err := TopFunctions(p, "alloc_space", 5); err == nil || !strings.Contains(err.Error(), "alloc_space") {
		t.Errorf("unknown sample type: err = %v, want one naming alloc_space", err)
	}
}

// spinForProfile burns CPU for d so that a CPU profile catches it.
//
//go:noinline
func spinForProfile(d time.Duration) uint64 {
	x := uint64(1)
	for start := time.Now(); time.Since(start) < d; {
		for i := 0; i < 100000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	return x
}

func TestTopFunctionsRealCPUProfile(t *testing.T) {
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		t.Skipf("CPU profiling unavailable: %v", err)
	}
	sink := spinForProfile(200 * time.Millisecond)
	pprof.StopCPUProfile()
	_ = sink

	path := filepath.Join(t.TempDir(), "cpu.pb.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := ReadProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	top, err := TopFunctions(p, "cpu", 5)
	if err != nil {
		t.Fatal(err)
	}
	const name = "github.com/edgeloop/edgeloop/bench/report.spinForProfile"
	for _, f := range top {
		if f.Name == name {
			if f.Flat <= 0 || f.FlatPct <= 0 || f.Cum < f.Flat {
				t.Errorf("%s: %+v, want positive flat and cum >= flat", name, f)
			}
			return
		}
	}
	t.Errorf("%s not in the top 5: %+v", name, top)
}

func TestReadProfileNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junk.pb.gz")
	if err := os.WriteFile(path, []byte("not a profile"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadProfile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v, want one naming %s", err, path)
	}
}

// allocProfile builds an allocs-like profile with one single-frame sample
// per entry of values: function name → [alloc_objects, alloc_space].
func allocProfile(values map[string][2]int64, order ...string) *profile.Profile {
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "alloc_objects", Unit: "count"}, {Type: "alloc_space", Unit: "bytes"}},
		PeriodType: &profile.ValueType{Type: "space", Unit: "bytes"},
		Period:     512 * 1024,
	}
	for i, name := range order {
		v, ok := values[name]
		if !ok {
			continue
		}
		id := uint64(i + 1)
		f := &profile.Function{ID: id, Name: name, SystemName: name, Filename: "a.go"}
		l := &profile.Location{ID: id, Address: 0x100 * id, Line: []profile.Line{{Function: f, Line: 1}}}
		p.Function = append(p.Function, f)
		p.Location = append(p.Location, l)
		p.Sample = append(p.Sample, &profile.Sample{Location: []*profile.Location{l}, Value: []int64{v[0], v[1]}})
	}
	return p
}

// byLeaf maps each sample's leaf function to its values.
func byLeaf(t *testing.T, p *profile.Profile) map[string][2]int64 {
	t.Helper()
	out := map[string][2]int64{}
	for _, s := range p.Sample {
		name := s.Location[0].Line[0].Function.Name
		if _, dup := out[name]; dup {
			t.Fatalf("two samples with leaf %s", name)
		}
		out[name] = [2]int64{s.Value[0], s.Value[1]}
	}
	return out
}

func TestDelta(t *testing.T) {
	names := []string{"grow", "steady", "fresh"}
	before := allocProfile(map[string][2]int64{
		"grow":   {1, 100},
		"steady": {2, 200},
	}, names...)
	after := allocProfile(map[string][2]int64{
		"grow":   {3, 350},
		"steady": {2, 200},
		"fresh":  {1, 64},
	}, names...)
	before.TimeNanos, after.TimeNanos = 1_000, 5_000

	d, err := Delta(before, after)
	if err != nil {
		t.Fatal(err)
	}
	got := byLeaf(t, d)
	want := map[string][2]int64{"grow": {2, 250}, "fresh": {1, 64}}
	if len(got) != len(want) {
		t.Errorf("delta samples = %v, want %v (steady cancels out)", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("delta[%s] = %v, want %v", k, got[k], v)
		}
	}
	if d.DurationNanos != 4_000 {
		t.Errorf("delta duration = %d, want 4000", d.DurationNanos)
	}
	// The inputs are left as they were.
	if b := byLeaf(t, before); b["grow"] != [2]int64{1, 100} || len(b) != 2 {
		t.Errorf("before changed: %v", b)
	}
	if a := byLeaf(t, after); a["grow"] != [2]int64{3, 350} || len(a) != 3 {
		t.Errorf("after changed: %v", a)
	}

	top, err := TopFunctions(d, "alloc_space", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(top) != 2 || top[0].Name != "grow" || top[0].Flat != 250 || top[1].Name != "fresh" || top[1].Flat != 64 {
		t.Errorf("top of delta = %+v, want grow 250, fresh 64", top)
	}
}

func TestDeltaDifferentSampleTypes(t *testing.T) {
	allocs := allocProfile(map[string][2]int64{"grow": {1, 100}}, "grow")
	if _, err := Delta(allocs, cpuProfile()); err == nil {
		t.Error("delta of an allocs and a CPU profile: no error")
	}
}
