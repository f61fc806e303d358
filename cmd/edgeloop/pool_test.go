package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/edgeloop/edgeloop/origin"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
	buildDir  string
)

// interrupt is what stop sends: the drain path of a real stop.
var interrupt = syscall.SIGTERM

func mkTemp() (string, error) { return os.MkdirTemp("", "edgeloop-test-") }

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binary builds cmd/edgeloop once for the tests that run it as a process.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	buildOnce.Do(func() {
		dir, err := mkTemp()
		if err != nil {
			buildErr = err
			return
		}
		buildDir = dir
		builtBin = filepath.Join(dir, "edgeloop")
		if out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// proc is an edgeloop process started by a test.
type proc struct {
	cmd           *exec.Cmd
	listen, admin string
	stderr        *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startEdgeloop runs the binary with args and waits for /healthz.
func startEdgeloop(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{listen: freeAddr(t), admin: freeAddr(t), stderr: &syncBuffer{}}
	p.cmd = exec.Command(binary(t), append([]string{"-listen", p.listen, "-admin", p.admin, "-loops", "1"}, args...)...)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	for i := 0; i < 100; i++ {
		if r, err := http.Get("http://" + p.admin + "/healthz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("edgeloop not healthy: %s", p.stderr.String())
	return nil
}

// stop ends the process with SIGTERM (then SIGKILL after 10 s).
func (p *proc) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// api calls the management API and returns the status and body.
func (p *proc) api(t *testing.T, method, path, body, contentType string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+p.admin+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, b
}

type serverObj struct {
	ID     int    `json:"id"`
	URL    string `json:"url"`
	IP     string `json:"ip"`
	Port   int    `json:"port"`
	Pool   string `json:"pool"`
	Weight int    `json:"weight"`
	State  string `json:"state"`
}

func (p *proc) servers(t *testing.T) []serverObj {
	t.Helper()
	code, b := p.api(t, "GET", "/servers", "", "")
	var list []serverObj
	if code != 200 || json.Unmarshal(b, &list) != nil {
		t.Fatalf("GET /servers: %d %s", code, b)
	}
	return list
}

func startOrigins(t *testing.T, n int) []*origin.Server {
	var os []*origin.Server
	for range n {
		o, err := origin.Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { o.Close() })
		os = append(os, o)
	}
	return os
}

// TestDynamicPool drives weldr's API against the real binary and real
// origins: an empty pool answers 503; a server added with weldr's own
// example (curl -d, a form Content-Type) takes traffic within a second;
// servers added and deleted under continuous load cost no request; a
// deleted server gets no new request; a second delete is 404; and after
// a restart the dynamically added servers are back with their IDs.
func TestDynamicPool(t *testing.T) {
	o := startOrigins(t, 3)
	state := filepath.Join(t.TempDir(), "state.json")
	p := startEdgeloop(t, "-state", state)
	if list := p.servers(t); len(list) != 0 {
		t.Fatalf("pool starts with %v", list)
	}
	if r, err := http.Get("http://" + p.listen + "/"); err != nil || r.StatusCode != 503 {
		t.Fatalf("empty pool: %v %v", r, err)
	} else {
		r.Body.Close()
	}
	code, b := p.api(t, "POST", "/servers", fmt.Sprintf(`{"url":"http://%s"}`, o[0].Addr()), "application/x-www-form-urlencoded")
	if code != 201 {
		t.Fatalf("POST /servers: %d %s", code, b)
	}
	deadline := time.Now().Add(time.Second)
	for o[0].Requests() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no traffic reached the added server within 1 s")
		}
		if r, err := http.Get("http://" + p.listen + "/"); err == nil {
			r.Body.Close()
		}
	}
	if code, _ := p.api(t, "POST", "/servers", fmt.Sprintf(`{"url":"http://%s"}`, o[0].Addr()), ""); code != 409 {
		t.Fatalf("duplicate: %d, want 409", code)
	}
	if code, _ := p.api(t, "POST", "/servers", `{"url":`, ""); code != 400 || len(p.servers(t)) != 1 {
		t.Fatalf("malformed JSON: %d; the pool must be unchanged", code)
	}

	// Continuous load: 4 keep-alive clients, bounded in time and count.
	var failed, done atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
			for i := 0; i < 200000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r, err := c.Get("http://" + p.listen + "/")
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, r.Body)
				r.Body.Close()
				if r.StatusCode != 200 {
					failed.Add(1)
				}
				done.Add(1)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	for _, x := range o[1:] {
		if code, b := p.api(t, "POST", "/servers", fmt.Sprintf(`{"url":"http://%s","weight":2}`, x.Addr()), ""); code != 201 {
			t.Fatalf("POST under load: %d %s", code, b)
		}
	}
	time.Sleep(200 * time.Millisecond)
	ip, port, _ := strings.Cut(o[0].Addr(), ":")
	if code, b := p.api(t, "DELETE", "/servers/"+ip+"/"+port, "", ""); code != 204 {
		t.Fatalf("DELETE under load: %d %s", code, b)
	}
	time.Sleep(300 * time.Millisecond) // in-flight requests on it finish
	before := o[0].Requests()
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed while servers were added and deleted", n, done.Load())
	}
	if after := o[0].Requests(); after != before {
		t.Fatalf("the deleted server got %d requests after its delete", after-before)
	}
	if o[1].Requests() == 0 || o[2].Requests() == 0 {
		t.Fatalf("added servers got %d and %d requests", o[1].Requests(), o[2].Requests())
	}
	if code, _ := p.api(t, "DELETE", "/servers/"+ip+"/"+port, "", ""); code != 404 {
		t.Fatalf("second DELETE: %d, want 404", code)
	}

	want := p.servers(t)
	if len(want) != 2 {
		t.Fatalf("after the delete: %v", want)
	}
	p.stop()
	q := startEdgeloop(t, "-state", state)
	got := q.servers(t)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after restart: %v, want %v", got, want)
	}
	if r, err := http.Get("http://" + q.listen + "/"); err != nil || r.StatusCode != 200 {
		t.Fatalf("after restart: %v %v", r, err)
	} else {
		r.Body.Close()
	}
}

// A hostname is resolved when the server is added: one that does not
// resolve is refused with 400 and the pool is unchanged; localhost is
// taken.
func TestAddResolvesHostname(t *testing.T) {
	o := startOrigins(t, 1)
	p := startEdgeloop(t, "-state", filepath.Join(t.TempDir(), "state.json"))
	if code, b := p.api(t, "POST", "/servers", `{"url":"http://no-such-host.invalid:80"}`, ""); code != 400 || !strings.Contains(string(b), "resolve") {
		t.Fatalf("unresolvable host: %d %s", code, b)
	}
	if n := len(p.servers(t)); n != 0 {
		t.Fatalf("%d servers after a refused add", n)
	}
	_, port, _ := strings.Cut(o[0].Addr(), ":")
	if code, b := p.api(t, "POST", "/servers", `{"url":"http://localhost:`+port+`"}`, ""); code != 201 {
		t.Fatalf("localhost: %d %s", code, b)
	}
	if r, err := http.Get("http://" + p.listen + "/"); err != nil || r.StatusCode != 200 {
		t.Fatalf("through localhost: %v %v", r, err)
	} else {
		r.Body.Close()
	}
}
