package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestPullPoolProcess runs the real binary with a pull pool: workers need
// the token, the queue shows in /stats and /metrics, and a request a
// worker holds when SIGTERM arrives is still answered: the worker API
// outlives the drain.
func TestPullPoolProcess(t *testing.T) {
	bin := binary(t)
	listen, admin, workers := freeAddr(t), freeAddr(t), freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "pull.yaml")
	os.WriteFile(cfg, []byte("listen: "+listen+"\nadmin: "+admin+"\nworker_listen: "+workers+
		"\nworker_token: s3cret\nloops: 1\nstate: "+filepath.Join(t.TempDir(), "state.json")+
		"\npools:\n  default:\n    kind: pull\n"), 0o644)
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-config", cfg)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	api := "http://" + workers
	call := func(method, path, token string, body []byte) (int, []byte) {
		req, _ := http.NewRequest(method, api+path, bytes.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("X-Worker-Id", "w1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	for i := 0; i < 100; i++ {
		if code, _ := call("GET", "/api/v1/request?wait=0s", "s3cret", nil); code == 204 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, b := call("GET", "/api/v1/request?wait=0s", "wrong", nil); code != 401 || !bytes.Contains(b, []byte(`"error"`)) {
		t.Fatalf("wrong token: %d %s", code, b)
	}
	ask := func(path string) chan result { return request("GET", "http://"+listen+path) }
	serveOne := func() string {
		code, b := call("GET", "/api/v1/request?wait=5s", "s3cret", nil)
		var j struct {
			ID  string            `json:"id"`
			Env map[string]string `json:"env"`
		}
		if code != 200 || json.Unmarshal(b, &j) != nil {
			t.Fatalf("fetch: %d %s", code, b)
		}
		return j.ID + " " + j.Env["PATH_INFO"]
	}
	answer := func(id, body string) {
		b, _ := json.Marshal(map[string]any{"id": id, "status": 200, "body": base64.StdEncoding.EncodeToString([]byte(body))})
		if code, msg := call("POST", "/api/v1/response", "s3cret", b); code != 200 {
			t.Fatalf("answer: %d %s", code, msg)
		}
	}

	first := ask("/one")
	id, path, _ := strings.Cut(serveOne(), " ")
	answer(id, "answered "+path)
	if r := <-first; r.status != 200 || r.body != "answered /one" {
		t.Fatalf("first: %+v", r)
	}
	resp, err := http.Get("http://" + admin + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Pull []struct {
			Pool     string `json:"pool"`
			Answered int    `json:"answered"`
			Workers  []struct {
				ID      string `json:"id"`
				Fetched int    `json:"fetched"`
			} `json:"workers"`
		} `json:"pull"`
	}
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if len(st.Pull) != 1 || st.Pull[0].Pool != "default" || st.Pull[0].Answered != 1 ||
		len(st.Pull[0].Workers) != 1 || st.Pull[0].Workers[0].ID != "w1" || st.Pull[0].Workers[0].Fetched != 1 {
		t.Fatalf("/stats pull: %+v", st.Pull)
	}
	resp, err = http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(metrics, []byte(`edgeloop_pull_requests_total{pool="default",result="answered"} 1`)) {
		t.Fatal("/metrics lacks the pull pool's answered count")
	}

	second := ask("/two")
	id, _, _ = strings.Cut(serveOne(), " ")
	cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond) // draining now
	answer(id, "after SIGTERM")
	if r := <-second; r.status != 200 || r.body != "after SIGTERM" {
		t.Fatalf("request held at SIGTERM: %+v", r)
	}
	waitExit(t, cmd, &stderr)
}

// result is a client's response, or its error as the body.
type result struct {
	status int
	body   string
}

// request makes one request in the background; the channel gets its
// result.
func request(method, url string) chan result {
	res := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest(method, url, nil)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			res <- result{body: err.Error()}
			return
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		res <- result{r.StatusCode, string(b)}
	}()
	return res
}

// waitExit waits for a process told to stop to exit 0 within 10 s.
func waitExit(t *testing.T, cmd *exec.Cmd, stderr *bytes.Buffer) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not exit after SIGTERM")
	}
}

// pullworkerBinary builds cmd/pullworker beside the edgeloop binary.
func pullworkerBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(filepath.Dir(binary(t)), "pullworker")
	pwOnce.Do(func() {
		if out, err := exec.Command("go", "build", "-o", bin, "../pullworker").CombinedOutput(); err != nil {
			pwErr = fmt.Errorf("build pullworker: %v\n%s", err, out)
		}
	})
	if pwErr != nil {
		t.Fatal(pwErr)
	}
	return bin
}

var (
	pwOnce sync.Once
	pwErr  error
)

// TestPullWorkerKilled kills a real worker process (SIGKILL) while it
// holds requests: the GET goes to the next worker once its lease runs
// out, the POST gets 504.
func TestPullWorkerKilled(t *testing.T) {
	bin, worker := binary(t), pullworkerBinary(t)
	listen, admin, workers := freeAddr(t), freeAddr(t), freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "pull.yaml")
	os.WriteFile(cfg, []byte("listen: "+listen+"\nadmin: "+admin+"\nworker_listen: "+workers+
		"\nloops: 1\nstate: "+filepath.Join(t.TempDir(), "state.json")+
		"\npools:\n  default:\n    kind: pull\n    lease: 2s\n"), 0o644)
	el := exec.Command(bin, "-config", cfg)
	if err := el.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { el.Process.Kill(); el.Wait() }()
	startWorker := func(id string) *exec.Cmd {
		w := exec.Command(worker, "-proxy", "http://"+workers, "-c", "2", "-wait", "2s", "-id", id)
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		return w
	}
	first := startWorker("first")
	defer func() { first.Process.Kill(); first.Wait() }()
	ask := func(method string) chan result { return request(method, "http://"+listen+"/slow/1500") }
	pulls := func() (leased, expired, requeued int) {
		resp, err := http.Get("http://" + admin + "/stats")
		if err != nil {
			return -1, -1, -1
		}
		defer resp.Body.Close()
		var st struct {
			Pull []struct {
				Leased        int `json:"leased"`
				LeasesExpired int `json:"leases_expired"`
				Requeued      int `json:"requeued"`
			} `json:"pull"`
		}
		if json.NewDecoder(resp.Body).Decode(&st) != nil || len(st.Pull) != 1 {
			return -1, -1, -1
		}
		p := st.Pull[0]
		return p.Leased, p.LeasesExpired, p.Requeued
	}
	for i := 0; ; i++ { // edgeloop up, the worker polling
		if r, err := http.Get("http://" + admin + "/healthz"); err == nil && r.StatusCode == 200 {
			r.Body.Close()
			break
		}
		if i == 100 {
			t.Fatal("edgeloop did not come up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	get, post := ask("GET"), ask("POST")
	deadline := time.Now().Add(5 * time.Second)
	for leased, _, _ := pulls(); leased != 2; leased, _, _ = pulls() {
		if time.Now().After(deadline) {
			t.Fatalf("the worker does not hold both requests (leased %d)", leased)
		}
		time.Sleep(20 * time.Millisecond)
	}
	first.Process.Kill() // SIGKILL: no answer, no goodbye
	first.Wait()
	second := startWorker("second")
	defer func() { second.Process.Kill(); second.Wait() }()
	if r := <-post; r.status != 504 {
		t.Fatalf("POST held by the killed worker: %+v, want 504", r)
	}
	if r := <-get; r.status != 200 || r.body != "slow" {
		t.Fatalf("GET held by the killed worker: %+v, want the second worker's 200", r)
	}
	if _, expired, requeued := pulls(); expired != 2 || requeued != 1 {
		t.Fatalf("leases expired %d, requeued %d; want 2 and 1", expired, requeued)
	}
}
