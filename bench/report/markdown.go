package report

import (
	"fmt"
	"sort"
	"strings"
)

// The systems the report knows by name.
const (
	edgeloop = "edgeloop"
	nginx    = "nginx"
	haproxy  = "haproxy"
)

// peers are the proxies edgeloop is compared with.
var peers = []string{nginx, haproxy}

// Markdown renders r as the human-readable report (latest.md): a header
// line, one table per scenario, a summary of where edgeloop spends the
// least CPU per request, pull mode against push (when r has the app
// scenarios' rows), the profiles' top functions and the notes. The output
// depends only on r; a nil r renders as an empty Result.
func Markdown(r *Result) string {
	if r == nil {
		r = &Result{}
	}
	var b strings.Builder
	b.WriteString("# edgeloop benchmark\n\n")
	b.WriteString(header(r))
	b.WriteString("\n")
	scens := scenarios(r.Rows)
	for _, s := range scens {
		writeScenario(&b, s, r.Rows)
	}
	writeSummary(&b, scens, r.Rows)
	writePull(&b, r.Rows)
	writeProfiles(&b, r.Rows)
	if len(r.Notes) > 0 {
		b.WriteString("## Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

// header is the line under the title: date, machine, versions, settings.
func header(r *Result) string {
	parts := []string{orDash(r.Date), orDash(r.Machine)}
	if len(r.Versions) > 0 {
		parts = append(parts, "versions: "+pairs(r.Versions))
	}
	if len(r.Settings) > 0 {
		parts = append(parts, "settings: "+pairs(r.Settings))
	}
	if r.Quick {
		parts = append(parts, "**quick run**")
	}
	return strings.Join(parts, " · ") + "\n"
}

// pairs lists m as "k v, k v" in the order of its keys.
func pairs(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + " " + m[k]
	}
	return strings.Join(out, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// scenarios returns the scenarios of rows in the order they first appear.
func scenarios(rows []Row) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range rows {
		if !seen[r.Scenario] {
			seen[r.Scenario] = true
			out = append(out, r.Scenario)
		}
	}
	return out
}

// find returns the first row of system in scenario, or nil.
func find(rows []Row, scenario, system string) *Row {
	for i := range rows {
		if rows[i].Scenario == scenario && rows[i].System == system {
			return &rows[i]
		}
	}
	return nil
}

// bestPeer returns the lower CPU per request of nginx and haproxy in
// scenario, and false when neither has a positive one.
func bestPeer(rows []Row, scenario string) (float64, bool) {
	best, ok := 0.0, false
	for _, p := range peers {
		r := find(rows, scenario, p)
		if r == nil || r.CPUPerReq <= 0 {
			continue
		}
		if !ok || r.CPUPerReq < best {
			best, ok = r.CPUPerReq, true
		}
	}
	return best, ok
}

// edgeloopRatio is edgeloop's CPU per request over the best peer's in
// scenario, and false when either is missing.
func edgeloopRatio(rows []Row, scenario string) (float64, bool) {
	e := find(rows, scenario, edgeloop)
	best, ok := bestPeer(rows, scenario)
	if e == nil || e.CPUPerReq <= 0 || !ok {
		return 0, false
	}
	return e.CPUPerReq / best, true
}

// vsBestPeer is the "vs best peer" cell of row: edgeloop against the
// cheaper of nginx and haproxy, a peer against edgeloop, blank otherwise.
func vsBestPeer(rows []Row, row *Row) string {
	switch row.System {
	case edgeloop:
		if x, ok := edgeloopRatio(rows, row.Scenario); ok {
			return ratio(x)
		}
	case nginx, haproxy:
		e := find(rows, row.Scenario, edgeloop)
		if e != nil && e.CPUPerReq > 0 && row.CPUPerReq > 0 {
			return ratio(row.CPUPerReq / e.CPUPerReq)
		}
	}
	return ""
}

func ratio(x float64) string { return fmt.Sprintf("x%.2f", x) }

// writeScenario writes the heading and table of one scenario.
func writeScenario(b *strings.Builder, scenario string, rows []Row) {
	title := scenario
	for _, r := range rows {
		if r.Scenario == scenario && r.RateRPS > 0 {
			title += fmt.Sprintf(" (fixed rate %.0f rps)", r.RateRPS)
			break
		}
	}
	fmt.Fprintf(b, "## %s\n\n", cell(title))
	b.WriteString("| system | rps | p50 µs | p99 µs | p99.9 µs | CPU µs/req | vs best peer | origin conns/1k | RSS MiB | errors | non-2xx |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for i := range rows {
		r := &rows[i]
		if r.Scenario != scenario {
			continue
		}
		system := cell(r.System)
		if r.Disturbed > 0 {
			system += fmt.Sprintf(" ⚠ %d/%d disturbed", r.Disturbed, r.Runs)
		}
		// The app scenarios' origin is not the nginx origin, whose
		// accepted connections are what is counted.
		conns := fmt.Sprintf("%.2f", r.OriginConnsPer1k)
		if r.App != "" {
			conns = "-"
		}
		fmt.Fprintf(b, "| %s | %.0f | %.1f | %.1f | %.1f | %.2f | %s | %s | %.1f | %d | %d |\n",
			system, r.RPS, r.P50, r.P99, r.P999, r.CPUPerReq, vsBestPeer(rows, r),
			conns, r.RSSMB, r.Errors, r.Non2xx)
	}
	b.WriteString("\n")
}

// writeSummary says in how many scenarios edgeloop spends the least CPU
// per request of the three proxies, and where it does not.
func writeSummary(b *strings.Builder, scens []string, rows []Row) {
	var compared int
	var behind []string
	for _, s := range scens {
		x, ok := edgeloopRatio(rows, s)
		if !ok {
			continue
		}
		compared++
		if x > 1 {
			behind = append(behind, fmt.Sprintf("%s (%s)", s, ratio(x)))
		}
	}
	b.WriteString("## Summary\n\n")
	if compared == 0 {
		b.WriteString("No scenario has CPU per request for both edgeloop and nginx or haproxy.\n\n")
		return
	}
	fmt.Fprintf(b, "edgeloop spends the least CPU per request of the three proxies in %d of %d scenarios.", compared-len(behind), compared)
	if len(behind) > 0 {
		fmt.Fprintf(b, " It does not in: %s.", strings.Join(behind, ", "))
	}
	b.WriteString("\n\n")
}

// pushRef is the push row row compares with: the first app row served
// by push at the same load (closed, or the same fixed rate); nil if none.
func pushRef(rows []Row, row *Row) *Row {
	for i := range rows {
		if rows[i].App == "push" && rows[i].RateRPS == row.RateRPS {
			return &rows[i]
		}
	}
	return nil
}

// over is a ratio cell: x / y, blank unless both are positive.
func over(x, y float64) string {
	if x <= 0 || y <= 0 {
		return ""
	}
	return ratio(x / y)
}

// writePull writes the pull-mode section: every app row (Row.App) with
// its throughput and CPU per request (edgeloop's, the app's, both)
// against its push row, then the latency pull adds at a fixed rate.
func writePull(b *strings.Builder, rows []Row) {
	var app []*Row
	for i := range rows {
		if rows[i].App != "" {
			app = append(app, &rows[i])
		}
	}
	if len(app) == 0 {
		return
	}
	b.WriteString("## Pull mode\n\n")
	b.WriteString("The same app behind a second edgeloop, as its origin (push) and served by a pull pool's workers, " +
		"one pullworker process of N workers long-polling the worker API (pull). " +
		"CPU per request: edgeloop's process, the app's (the push origin, or the pullworker process) and the two together. " +
		"\"vs push\" is against the push row at the same load: closed, or the same fixed rate.\n\n")
	b.WriteString("| scenario | workers | rps | rps vs push | p50 µs | p99 µs | edgeloop CPU µs/req | app CPU µs/req | total CPU µs/req | total CPU vs push |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range app {
		name := cell(r.Scenario)
		if r.RateRPS > 0 {
			name += fmt.Sprintf(" (%.0f rps)", r.RateRPS)
		}
		if r.Disturbed > 0 {
			name += fmt.Sprintf(" ⚠ %d/%d disturbed", r.Disturbed, r.Runs)
		}
		workers := "push"
		if r.App == "pull" {
			workers = fmt.Sprint(r.PullWorkers)
		}
		var rpsVs, totalVs string
		if ref := pushRef(rows, r); ref != nil {
			rpsVs = over(r.RPS, ref.RPS)
			totalVs = over(r.CPUPerReq+r.AppCPUPerReq, ref.CPUPerReq+ref.AppCPUPerReq)
		}
		fmt.Fprintf(b, "| %s | %s | %.0f | %s | %.1f | %.1f | %.2f | %.2f | %.2f | %s |\n",
			name, workers, r.RPS, rpsVs, r.P50, r.P99, r.CPUPerReq, r.AppCPUPerReq, r.CPUPerReq+r.AppCPUPerReq, totalVs)
	}
	b.WriteString("\n")
	for _, r := range app {
		ref := pushRef(rows, r)
		if r.App != "pull" || r.RateRPS <= 0 || ref == nil {
			continue
		}
		fmt.Fprintf(b, "Added latency at a fixed %.0f rps, pull with %d workers against push: p50 %+.0f µs (%s), p99 %+.0f µs (%s).\n\n",
			r.RateRPS, r.PullWorkers, r.P50-ref.P50, over(r.P50, ref.P50), r.P99-ref.P99, over(r.P99, ref.P99))
	}
}

// writeProfiles writes the top CPU and allocation functions of every row
// that has a Profile, in the order of the rows.
func writeProfiles(b *strings.Builder, rows []Row) {
	first := true
	for _, r := range rows {
		p := r.Profile
		if p == nil {
			continue
		}
		if first {
			b.WriteString("## Profiles\n\n")
			first = false
		}
		title := r.Scenario
		if r.System != edgeloop {
			title += " (" + r.System + ")"
		}
		fmt.Fprintf(b, "### %s\n\n", cell(title))
		if p.CPUFile != "" || p.AllocFile != "" {
			fmt.Fprintf(b, "CPU profile: `%s` · alloc profile: `%s`\n\n", orDash(p.CPUFile), orDash(p.AllocFile))
		}
		writeFuncs(b, "Top CPU", p.TopCPU)
		writeFuncs(b, "Top alloc_space", p.TopAlloc)
	}
}

func writeFuncs(b *strings.Builder, title string, fs []Func) {
	if len(fs) == 0 {
		return
	}
	fmt.Fprintf(b, "%s:\n\n| function | flat%% | cum%% |\n|---|--:|--:|\n", title)
	for _, f := range fs {
		fmt.Fprintf(b, "| %s | %.1f | %.1f |\n", cell(f.Name), f.FlatPct, f.CumPct)
	}
	b.WriteString("\n")
}

// cell makes s safe inside a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}
