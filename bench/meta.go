package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
)

// machine describes the machine: CPUs, model, kernel, memory.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := regexp.MustCompile(`(?m)^model name\s*:\s*(.+)$`).FindSubmatch(b); m != nil {
			model = strings.TrimSpace(string(m[1]))
		}
	}
	kernel := "Linux"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel += " " + strings.TrimSpace(string(b))
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		mem = fmt.Sprintf(", %.0f GiB", float64(statusKB(b, "MemTotal:"))/(1<<20))
	}
	return fmt.Sprintf("%d CPUs, %s, %s%s", runtime.NumCPU(), model, kernel, mem)
}

// versions of everything measured.
func (h *harness) versions() map[string]string {
	v := map[string]string{"go": runtime.Version()}
	first := func(name string, argv ...string) {
		out, _ := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		if line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n"); line != "" {
			v[name] = line
		}
	}
	first("nginx", "nginx", "-v")
	first("haproxy", "haproxy", "-v")
	first("edgeloop", filepath.Join(h.bin, "edgeloop"), "-version")
	for name, mod := range map[string]string{"gnet": "github.com/panjf2000/gnet/v2", "evio": "github.com/tidwall/evio"} {
		cmd := exec.Command("go", "list", "-m", "-f", "{{.Version}}", mod)
		cmd.Dir = h.opt.Root
		if out, err := cmd.Output(); err == nil {
			v[name] = strings.TrimSpace(string(out))
		}
	}
	// "nginx version: nginx/1.22.1", "HAProxy version 2.6.12-1 2023/... -
	// https://...", "edgeloop 0.1.0-dev": the version itself.
	v["nginx"] = strings.TrimPrefix(v["nginx"], "nginx version: nginx/")
	if f := strings.Fields(v["haproxy"]); len(f) >= 3 {
		v["haproxy"] = f[2]
	}
	v["edgeloop"] = strings.TrimPrefix(v["edgeloop"], "edgeloop ")
	return v
}
