package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/google/pprof/profile"

	"github.com/edgeloop/edgeloop/bench/report"
)

// profile runs sc once more against edgeloop (sys: the main one, or the
// app scenarios' second one), outside the measured runs (profiling costs
// CPU), while fetching a CPU profile from the admin port's
// /debug/pprof/profile and the allocations made meanwhile (allocs after
// minus allocs before). It saves both under Out/profiles and returns their
// top functions.
func (h *harness) profile(ctx context.Context, sys *system, sc Scenario, rate float64) (*report.Profile, error) {
	admin := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/", sys.admin)
	before, err := fetchProfile(admin + "allocs")
	if err != nil {
		return nil, err
	}
	secs := int(math.Ceil(h.opt.Timing.Run.Seconds()))
	type got struct {
		p   *profile.Profile
		err error
	}
	cpuc := make(chan got, 1)
	go func() {
		p, err := fetchProfile(fmt.Sprintf("%sprofile?seconds=%d", admin, secs))
		cpuc <- got{p, err}
	}()
	time.Sleep(100 * time.Millisecond) // let the profile start first
	if _, err := h.measure(ctx, sys, sc, time.Duration(secs)*time.Second, rate); err != nil {
		return nil, err
	}
	cpu := <-cpuc
	if cpu.err != nil {
		return nil, cpu.err
	}
	after, err := fetchProfile(admin + "allocs")
	if err != nil {
		return nil, err
	}
	allocs, err := report.Delta(before, after)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(h.opt.Out, "profiles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p := &report.Profile{CPUFile: "profiles/" + sc.Name + ".cpu.pb.gz", AllocFile: "profiles/" + sc.Name + ".alloc.pb.gz"}
	for file, prof := range map[string]*profile.Profile{p.CPUFile: cpu.p, p.AllocFile: allocs} {
		var b bytes.Buffer
		if err := prof.Write(&b); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(h.opt.Out, file), b.Bytes(), 0o644); err != nil {
			return nil, err
		}
	}
	if p.TopCPU, err = report.TopFunctions(cpu.p, "cpu", 10); err != nil {
		return nil, err
	}
	if p.TopAlloc, err = report.TopFunctions(allocs, "alloc_space", 10); err != nil {
		return nil, err
	}
	return p, nil
}

// fetchProfile GETs and parses one pprof profile.
func fetchProfile(url string) (*profile.Profile, error) {
	c := http.Client{Timeout: 2 * time.Minute}
	resp, err := c.Get(url)
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("profile %s: %s: %.200s", url, resp.Status, b)
	}
	return profile.Parse(bytes.NewReader(b))
}
