package report

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/google/pprof/profile"
)

// ReadProfile reads a pprof profile (gzipped protobuf, as runtime/pprof and
// /debug/pprof write them) from path. Its errors name the file.
func ReadProfile(path string) (*profile.Profile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("report: %s: %w", path, err)
	}
	return p, nil
}

// TopFunctions lists the functions of p the way `pprof -top` does, for the
// sample type named sampleIndex ("cpu" for a CPU profile, "alloc_space"
// for an allocs profile). A function's flat value is what the samples
// whose leaf it is add up to; its cum value is what the samples with it
// anywhere on the stack add up to, counting each sample once even where
// the function recurses. Inlined calls count as functions of their own,
// the innermost being the leaf. Percentages are of the total over all
// samples (of absolute values, so a Delta with negative samples still
// adds up to at most 100%).
//
// The list is sorted by flat value, largest first, then by name, and cut
// to n entries when n > 0. It is an error if p has no sample type
// sampleIndex.
func TopFunctions(p *profile.Profile, sampleIndex string, n int) ([]Func, error) {
	if p == nil {
		return nil, fmt.Errorf("report: nil profile")
	}
	idx := -1
	types := make([]string, len(p.SampleType))
	for i, st := range p.SampleType {
		types[i] = st.Type
		if st.Type == sampleIndex && idx < 0 {
			idx = i
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("report: profile has no sample type %q (it has %s)", sampleIndex, strings.Join(types, ", "))
	}

	flat := map[string]int64{}
	cum := map[string]int64{}
	var total int64
	for _, s := range p.Sample {
		if idx >= len(s.Value) || s.Value[idx] == 0 {
			continue
		}
		v := s.Value[idx]
		total += max(v, -v)
		onStack := map[string]bool{}
		for i, loc := range s.Location {
			for j, name := range frames(loc) {
				if i == 0 && j == 0 {
					flat[name] += v
				}
				if !onStack[name] {
					onStack[name] = true
					cum[name] += v
				}
			}
		}
	}

	out := make([]Func, 0, len(cum))
	for name, c := range cum {
		out = append(out, Func{
			Name:    name,
			Flat:    flat[name],
			FlatPct: percent(flat[name], total),
			Cum:     c,
			CumPct:  percent(c, total),
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Flat != out[j].Flat {
			return out[i].Flat > out[j].Flat
		}
		return out[i].Name < out[j].Name
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// frames names the functions of one location, innermost (inlined) first,
// as pprof orders Location.Line. A location without symbols is named by
// its address.
func frames(loc *profile.Location) []string {
	addr := fmt.Sprintf("0x%x", loc.Address)
	if len(loc.Line) == 0 {
		return []string{addr}
	}
	names := make([]string, len(loc.Line))
	for i, l := range loc.Line {
		names[i] = addr
		if l.Function != nil && l.Function.Name != "" {
			names[i] = l.Function.Name
		}
	}
	return names
}

func percent(v, total int64) float64 {
	if total == 0 {
		return 0
	}
	return 100 * float64(v) / float64(total)
}

// Delta returns after minus before, for cumulative profiles such as
// /debug/pprof/allocs fetched before and after a run: what happened in
// between. Neither argument is changed. Samples whose values all cancel
// out are dropped. The two must have the same sample types.
func Delta(before, after *profile.Profile) (*profile.Profile, error) {
	if before == nil || after == nil {
		return nil, fmt.Errorf("report: delta of a nil profile")
	}
	if !sameTypes(before.SampleType, after.SampleType) {
		return nil, fmt.Errorf("report: delta of profiles with different sample types: %s and %s",
			typeList(before.SampleType), typeList(after.SampleType))
	}
	// Copy panics on a malformed profile; CheckValid says why instead.
	if err := before.CheckValid(); err != nil {
		return nil, fmt.Errorf("report: delta: before: %w", err)
	}
	if err := after.CheckValid(); err != nil {
		return nil, fmt.Errorf("report: delta: after: %w", err)
	}
	a := after.Copy()
	b := before.Copy()
	b.Scale(-1)
	d, err := profile.Merge([]*profile.Profile{a, b})
	if err != nil {
		return nil, fmt.Errorf("report: delta: %w", err)
	}
	d.Sample = slices.DeleteFunc(d.Sample, func(s *profile.Sample) bool {
		for _, v := range s.Value {
			if v != 0 {
				return false
			}
		}
		return true
	})
	// Merge adds the durations up and keeps the earlier time; the delta
	// covers the span between the two snapshots.
	d.TimeNanos = before.TimeNanos
	d.DurationNanos = 0
	if before.TimeNanos != 0 && after.TimeNanos > before.TimeNanos {
		d.DurationNanos = after.TimeNanos - before.TimeNanos
	}
	return d, nil
}

func sameTypes(x, y []*profile.ValueType) bool {
	return slices.EqualFunc(x, y, func(a, b *profile.ValueType) bool {
		return a.Type == b.Type && a.Unit == b.Unit
	})
}

func typeList(ts []*profile.ValueType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.Type + "/" + t.Unit
	}
	return "[" + strings.Join(s, " ") + "]"
}
