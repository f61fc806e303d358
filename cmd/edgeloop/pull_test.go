package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	type result struct {
		status int
		body   string
	}
	ask := func(path string) chan result {
		res := make(chan result, 1)
		go func() {
			r, err := http.Get("http://" + listen + path)
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
