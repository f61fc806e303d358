package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeloop/edgeloop/origin"
)

// writeConfig writes a YAML config for one pool "default" with servers.
func writeConfig(t *testing.T, balance string, servers map[string]int) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "pools:\n  default:\n    balance: %s\n", balance)
	b.WriteString("    health_check: {interval: 100ms, timeout: 200ms, fall: 2, rise: 2}\n    servers:\n")
	for addr, w := range servers {
		fmt.Fprintf(&b, "      - {url: http://%s, weight: %d}\n", addr, w)
	}
	p := filepath.Join(t.TempDir(), "edgeloop.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// stateOf is a server's state as GET /servers reports it.
func (p *proc) stateOf(t *testing.T, addr string) string {
	for _, s := range p.servers(t) {
		if fmt.Sprintf("%s:%d", s.IP, s.Port) == addr {
			return s.State
		}
	}
	return "absent"
}

func waitState(t *testing.T, p *proc, addr, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for p.stateOf(t, addr) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s is %s after %s, want %s", addr, p.stateOf(t, addr), within, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWeightsAndHealth: smooth weighted round robin honours 1:3 within
// 5%; an origin killed under load is marked down after fall checks with
// no failed request (GETs are retried on the other server); restarted on
// its address it is back after rise checks and takes traffic again.
func TestWeightsAndHealth(t *testing.T) {
	o := startOrigins(t, 2)
	a1 := o[0].Addr()
	p := startEdgeloop(t, "-config", writeConfig(t, "round_robin", map[string]int{a1: 1, o[1].Addr(): 3}),
		"-state", filepath.Join(t.TempDir(), "state.json"))
	c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	get := func() error {
		r, err := c.Get("http://" + p.listen + "/")
		if err != nil {
			return err
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
		if r.StatusCode != 200 {
			return fmt.Errorf("status %d", r.StatusCode)
		}
		return nil
	}
	n0, n1 := o[0].Requests(), o[1].Requests()
	for range 2000 {
		if err := get(); err != nil {
			t.Fatal(err)
		}
	}
	share := float64(o[1].Requests()-n1) / float64(o[0].Requests()-n0+o[1].Requests()-n1)
	if share < 0.75*0.95 || share > 0.75*1.05 {
		t.Fatalf("weight 3 of 4 took %.3f of the requests", share)
	}

	var failed, done atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 100000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := get(); err != nil {
				failed.Add(1)
			}
			done.Add(1)
		}
	}()
	o[0].Close()
	waitState(t, p, a1, "down", 2*time.Second)
	o1, err := origin.Start(a1)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", a1, err)
	}
	defer o1.Close()
	waitState(t, p, a1, "active", 2*time.Second)
	deadline := time.Now().Add(2 * time.Second)
	for o1.Requests() < 3 { // health probes count too: wait for traffic
		if time.Now().After(deadline) {
			t.Fatal("the restarted origin takes no traffic")
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d GETs failed while an origin died and came back", failed.Load(), done.Load())
	}
}

// slowOrigin answers every request after delay.
func slowOrigin(t *testing.T, delay time.Duration) (string, *atomic.Int64) {
	var n atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != "edgeloop-health" {
			n.Add(1)
			time.Sleep(delay)
		}
		io.WriteString(w, "ok")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), &n
}

// TestPoliciesAvoidSlowOrigin: with a fast and a 40 ms origin under 8
// concurrent clients, least_conn and p2c_ewma send the slow one far less
// than round robin's half.
func TestPoliciesAvoidSlowOrigin(t *testing.T) {
	for _, policy := range []string{"least_conn", "p2c_ewma"} {
		t.Run(policy, func(t *testing.T) {
			fast, nf := slowOrigin(t, 0)
			slow, ns := slowOrigin(t, 40*time.Millisecond)
			p := startEdgeloop(t, "-config", writeConfig(t, policy, map[string]int{fast: 1, slow: 1}),
				"-state", filepath.Join(t.TempDir(), "state.json"))
			var wg sync.WaitGroup
			end := time.Now().Add(time.Second)
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
					for i := 0; i < 10000 && time.Now().Before(end); i++ {
						if r, err := c.Get("http://" + p.listen + "/"); err == nil {
							io.Copy(io.Discard, r.Body)
							r.Body.Close()
						}
					}
				}()
			}
			wg.Wait()
			share := float64(ns.Load()) / float64(ns.Load()+nf.Load())
			t.Logf("%s: slow origin took %d of %d requests", policy, ns.Load(), ns.Load()+nf.Load())
			if share > 0.2 {
				t.Fatalf("%s sent %.2f of the requests to the slow origin", policy, share)
			}
		})
	}
}
