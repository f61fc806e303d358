package report

import (
	"strings"
	"testing"
)

// tableRow returns the line of md's table for system in the section that
// starts with heading, or "".
func tableRow(md, heading, system string) string {
	_, sec, ok := strings.Cut(md, heading+"\n")
	if !ok {
		return ""
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	for _, line := range strings.Split(sec, "\n") {
		if strings.HasPrefix(line, "| "+system+" ") {
			return line
		}
	}
	return ""
}

// cells splits a Markdown table line into its trimmed cells.
func cells(line string) []string {
	parts := strings.Split(strings.Trim(line, "|"), "|")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

func TestMarkdown(t *testing.T) {
	r := sample()
	md := Markdown(r)
	if md != Markdown(sample()) {
		t.Error("two renderings of the same result differ")
	}

	for _, want := range []string{
		"# edgeloop benchmark\n",
		// Header: versions and settings sorted by key.
		"2026-01-02T03:04:05Z · 2 CPUs, Test CPU, Linux 6.1, 24 GiB · versions: edgeloop dev, go go1.26.8, haproxy 3.0.8, nginx 1.26.3 · settings: duration 5s, repeats 3\n",
		"## small-keepalive\n",
		"## open-50pct (fixed rate 12000 rps)\n",
		"| system | rps | p50 µs | p99 µs | p99.9 µs | CPU µs/req | vs best peer | origin conns/1k | RSS MiB | errors | non-2xx |",
		"edgeloop spends the least CPU per request of the three proxies in 1 of 2 scenarios. It does not in: open-50pct (x1.25).",
		"## Profiles\n",
		"### small-keepalive\n",
		"| syscall.Syscall6 | 41.2 | 49.5 |", // %.1f of 41.25 rounds to even
		"| http1.Parse | 80.0 | 80.0 |",
		"## Notes\n\n- taskset was off\n- nginx ran one worker\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if strings.Index(md, "## small-keepalive") > strings.Index(md, "## open-50pct") {
		t.Error("scenarios not in the order of the rows")
	}

	// small-keepalive: 10 / min(12.5, 20) for edgeloop, peers over edgeloop.
	want := map[string][]string{
		"edgeloop":      {"edgeloop", "51234", "101.3", "250.0", "900.0", "10.00", "x0.80", "0.10", "12.3", "0", "0"},
		"nginx":         {"nginx", "45000", "0.0", "0.0", "0.0", "12.50", "x1.25", "0.00", "0.0", "0", "0"},
		"haproxy":       {"haproxy", "40000", "0.0", "0.0", "0.0", "20.00", "x2.00", "0.00", "0.0", "0", "0"},
		"origin-direct": {"origin-direct", "90000", "0.0", "0.0", "0.0", "5.00", "", "0.00", "0.0", "0", "0"},
	}
	for sys, w := range want {
		got := cells(tableRow(md, "## small-keepalive", sys))
		if strings.Join(got, "|") != strings.Join(w, "|") {
			t.Errorf("small-keepalive %s row = %q, want %q", sys, got, w)
		}
	}

	// open-50pct: one of three runs disturbed, errors and non-2xx shown.
	got := cells(tableRow(md, "## open-50pct (fixed rate 12000 rps)", "edgeloop"))
	if len(got) != 11 || got[0] != "edgeloop ⚠ 1/3 disturbed" || got[6] != "x1.25" || got[9] != "2" || got[10] != "7" {
		t.Errorf("open-50pct edgeloop row = %q", got)
	}
}

func TestMarkdownMissingPeers(t *testing.T) {
	r := &Result{Date: "d", Machine: "m", Rows: []Row{
		{Scenario: "alone", System: "edgeloop", CPUPerReq: 3, Runs: 1},
		{Scenario: "alone", System: "gnet-bare", CPUPerReq: 1, Runs: 1},
	}}
	md := Markdown(r)
	if got := cells(tableRow(md, "## alone", "edgeloop")); len(got) != 11 || got[6] != "" {
		t.Errorf("edgeloop without peers: vs best peer = %q, want blank", got)
	}
	if !strings.Contains(md, "No scenario has CPU per request for both edgeloop and nginx or haproxy.") {
		t.Errorf("summary for no comparable scenario missing:\n%s", md)
	}
	if strings.Contains(md, "## Profiles") || strings.Contains(md, "## Notes") {
		t.Errorf("empty sections rendered:\n%s", md)
	}
}
