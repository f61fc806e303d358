package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgeloop/edgeloop/origin"
)

// Bad flags and configs: one line naming the key, exit 2, nothing started.
func TestRunRefusesBadConfig(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(cfg, []byte("timeouts:\n  client_head: soon\n"), 0o644)
	for _, args := range [][]string{
		{"-loops", "-3"},
		{"-origin", "ftp://127.0.0.1"},
		{"-config", cfg},
		{"-admin", "0.0.0.0:1"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		msg := errb.String()
		if strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "edgeloop: config: ") {
			t.Errorf("%v: %q, want one line naming the key", args, msg)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"-version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "edgeloop ") {
		t.Errorf("-version: %d %q", code, out.String())
	}
	if code := run([]string{"-check", "-config", "../../edgeloop.example.yaml"}, &out, &errb); code != 0 {
		t.Errorf("-check on the example: %d %q", code, errb.String())
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestSIGTERMDrains runs the real binary: a request in flight when
// SIGTERM arrives completes with 200, then the process exits 0.
func TestSIGTERMDrains(t *testing.T) {
	bin := binary(t)
	o, err := origin.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	listen, admin := freeAddr(t), freeAddr(t)
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-listen", listen, "-admin", admin, "-origin", "http://"+o.Addr(),
		"-loops", "1", "-state", filepath.Join(t.TempDir(), "state.json"))
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var healthy bool
	for i := 0; i < 100 && !healthy; i++ {
		if r, err := http.Get("http://" + admin + "/healthz"); err == nil {
			healthy = r.StatusCode == 200
			r.Body.Close()
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !healthy {
		t.Fatalf("not healthy: %s", stderr.String())
	}
	type result struct {
		status int
		body   string
		err    error
	}
	res := make(chan result, 1)
	go func() {
		r, err := http.Get("http://" + listen + "/slow/600")
		if err != nil {
			res <- result{err: err}
			return
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		res <- result{status: r.StatusCode, body: string(b)}
	}()
	time.Sleep(200 * time.Millisecond) // the request is at the origin
	cmd.Process.Signal(syscall.SIGTERM)
	r := <-res
	if r.err != nil || r.status != 200 || r.body != "slow" {
		t.Fatalf("in-flight request: %+v", r)
	}
	waitExit(t, cmd, &stderr)
	if !strings.Contains(stderr.String(), "client_success=1") {
		t.Fatalf("stop line: %s", stderr.String())
	}
}
