package pool

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStateRestart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	cfg := Config{
		Pools: []PoolConfig{
			noCheck("default", "", "http://cfg-a:1", "http://cfg-b:1"),
			noCheck("api", "least_conn", "http://api-a:1"),
			{Name: "jobs", Kind: "pull"},
		},
		StateFile: path,
	}
	r := newReg(t, cfg)
	// Config IDs: default 1, 2; api 3.
	added, err := r.Add("default", "http://10.0.0.9:9000", 7)
	if err != nil || added.ID != 4 {
		t.Fatalf("Add = %+v, %v", added, err)
	}
	if _, err := r.Add("api", "http://10.0.0.10", 1); err != nil {
		t.Fatal(err)
	}
	dr := Draining
	if _, err := r.Patch("default", "cfg-b", 1, nil, &dr); err != nil {
		t.Fatal(err)
	}
	if err := r.Remove("default", "cfg-a", 1); err != nil {
		t.Fatal(err)
	}
	// Removed while busy: left out of the file at once.
	busy := r.Snapshot().Server(3)
	r.Snapshot().Pool("api").Begin(busy)
	if err := r.Remove("api", "api-a", 1); err != nil {
		t.Fatal(err)
	}
	if r.Snapshot().Server(3) == nil {
		t.Fatal("a busy server left at once")
	}

	var raw struct {
		Version int                          `json:"version"`
		Pools   map[string][]json.RawMessage `json:"pools"`
		NextID  int                          `json:"next_id"`
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &raw); err != nil || raw.Version != 1 || raw.NextID != 6 || len(raw.Pools) != 2 {
		t.Fatalf("state file %s: %+v, %v", b, raw, err)
	}
	var obj map[string]any
	if err := json.Unmarshal(raw.Pools["default"][1], &obj); err != nil || len(obj) != 4 ||
		obj["id"] != 4.0 || obj["url"] != "http://10.0.0.9:9000" || obj["weight"] != 7.0 || obj["state"] != "active" {
		t.Fatalf("server object %s", raw.Pools["default"][1])
	}
	if string(raw.Pools["default"][0]) == "" || !strings.Contains(string(raw.Pools["default"][0]), `"draining"`) {
		t.Fatalf("drained server %s", raw.Pools["default"][0])
	}

	// Restart: another config for default is replaced by the file; a
	// pool the file does not know keeps its configured servers, with IDs
	// after the file's.
	cfg.Pools[0] = noCheck("default", "", "http://other:1")
	cfg.Pools = append(cfg.Pools, noCheck("new", "", "http://n:1"))
	r2 := newReg(t, cfg)
	def, _ := r2.Servers("default")
	if len(def) != 2 ||
		def[0].ID != 2 || def[0].URL != "http://cfg-b:1" || def[0].State != Draining ||
		def[1].ID != 4 || def[1].URL != "http://10.0.0.9:9000" || def[1].Weight != 7 || def[1].State != Active {
		t.Fatalf("default after restart: %+v", def)
	}
	api, _ := r2.Servers("api")
	if len(api) != 1 || api[0].ID != 5 || api[0].URL != "http://10.0.0.10:80" {
		t.Fatalf("api after restart: %+v", api)
	}
	nw, _ := r2.Servers("new")
	if len(nw) != 1 || nw[0].ID != 6 {
		t.Fatalf("new pool after restart: %+v", nw)
	}
	if s, err := r2.Add("default", "http://x:1", 1); err != nil || s.ID != 7 {
		t.Fatalf("Add after restart = %+v, %v", s, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("files left beside the state file: %v", entries)
	}
}

func TestStateMissingAndEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	r := newReg(t, Config{Pools: []PoolConfig{noCheck("default", "", "http://a:1")}, StateFile: path})
	if list, _ := r.Servers("default"); len(list) != 1 {
		t.Fatal("config servers lost without a state file")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("New wrote the state file")
	}
	if err := r.Remove("default", "a", 1); err != nil {
		t.Fatal(err)
	}
	// An emptied pool stays empty after a restart.
	r2 := newReg(t, Config{Pools: []PoolConfig{noCheck("default", "", "http://a:1")}, StateFile: path})
	if list, _ := r2.Servers("default"); len(list) != 0 {
		t.Fatalf("restored %+v", list)
	}
	if s, _ := r2.Add("default", "http://a:1", 1); s.ID != 2 {
		t.Fatalf("ID %d reused", s.ID)
	}
}

func TestStateCorrupt(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"not json", "{"},
		{"empty", ""},
		{"trailing", `{"version":1,"pools":{},"next_id":1} {}`},
		{"version", `{"version":2,"pools":{},"next_id":1}`},
		{"unknown field", `{"version":1,"pools":{},"next_id":1,"x":1}`},
		{"id", `{"version":1,"pools":{"default":[{"id":0,"url":"http://a","weight":1,"state":"active"}]},"next_id":1}`},
		{"dup id", `{"version":1,"pools":{"default":[{"id":1,"url":"http://a","weight":1,"state":"active"}],"b":[{"id":1,"url":"http://b","weight":1,"state":"active"}]},"next_id":2}`},
		{"dup url", `{"version":1,"pools":{"default":[{"id":1,"url":"http://a","weight":1,"state":"active"},{"id":2,"url":"http://a:80/","weight":1,"state":"active"}]},"next_id":3}`},
		{"url", `{"version":1,"pools":{"default":[{"id":1,"url":"http://a/b","weight":1,"state":"active"}]},"next_id":2}`},
		{"weight", `{"version":1,"pools":{"default":[{"id":1,"url":"http://a","weight":0,"state":"active"}]},"next_id":2}`},
		{"state", `{"version":1,"pools":{"default":[{"id":1,"url":"http://a","weight":1,"state":"down"}]},"next_id":2}`},
		{"next_id", `{"version":1,"pools":{},"next_id":-1}`},
		{"types", `{"version":"1","pools":{},"next_id":1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "edgeloop.state.json")
			if err := os.WriteFile(path, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-time.Hour)
			_ = os.Chtimes(path, old, old)
			_, err := New(Config{StateFile: path})
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Fatalf("New = %v, want an error naming %s", err, path)
			}
			b, _ := os.ReadFile(path)
			st, _ := os.Stat(path)
			if !bytes.Equal(b, []byte(tc.body)) || !st.ModTime().Equal(old) {
				t.Fatal("the corrupt file was changed")
			}
		})
	}
	// A directory where the file should be: an error too.
	dir := t.TempDir()
	if _, err := New(Config{StateFile: dir}); err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("New with a directory as state file = %v", err)
	}
}

func TestStateIgnoresUnknownPools(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	body := `{"version":1,"pools":{"gone":[{"id":9,"url":"http://g","weight":1,"state":"active"}],"jobs":[]},"next_id":3}`
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	r := newReg(t, Config{Pools: []PoolConfig{noCheck("default", "", "http://a"), {Name: "jobs", Kind: "pull"}}, StateFile: path})
	list, _ := r.Servers("default")
	if len(list) != 1 || list[0].ID != 10 {
		t.Fatalf("default: %+v (IDs must pass the file's)", list)
	}
}

// TestStateWriteFails: when the file cannot be written the change is
// undone and the error returned.
func TestStateWriteFails(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sub")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "state.json")
	r := newReg(t, Config{Pools: []PoolConfig{noCheck("default", "", "http://a:1", "http://b:1")}, StateFile: path, DrainTimeout: time.Hour})
	r.Start(context.Background())
	busy := r.Snapshot().Server(2)
	r.Snapshot().Pool("default").Begin(busy)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	before := r.Snapshot()
	check := func(what string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Fatalf("%s: %v, want an error naming the state file", what, err)
		}
		if r.Snapshot() != before {
			t.Fatalf("%s: a snapshot was published", what)
		}
	}
	_, err := r.Add("default", "http://c:1", 1)
	check("Add", err)
	check("Remove idle", r.Remove("default", "a", 1))
	check("Remove busy", r.Remove("default", "b", 1))
	w, dr := 9, Draining
	_, err = r.Patch("default", "a", 1, &w, &dr)
	check("Patch", err)
	r.mu.Lock()
	for _, e := range r.defs["default"].entries {
		if e.removing || e.drain || e.weight != 1 {
			t.Errorf("entry %d not rolled back: %+v", e.id, e)
		}
	}
	if n := len(r.defs["default"].entries); n != 2 || r.nextID != 3 {
		t.Errorf("%d entries, next ID %d", n, r.nextID)
	}
	r.mu.Unlock()
	// Writable again: the changes go through, with the IDs they would
	// have had.
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if s, err := r.Add("default", "http://c:1", 1); err != nil || s.ID != 3 {
		t.Fatalf("Add = %+v, %v", s, err)
	}
	if err := r.Remove("default", "b", 1); err != nil {
		t.Fatal(err)
	}
	var st stateFile
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &st); err != nil || len(st.Pools["default"]) != 2 {
		t.Fatalf("state %s, %v", b, err)
	}
}

// Origins (the -origin flags) join pool default after the state file,
// are not written to it by themselves, and one the file holds already is
// not added twice.
func TestOriginsAfterState(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	r, err := New(Config{StateFile: file, Origins: []ServerConfig{{URL: "http://127.0.0.1:9001"}}})
	if err != nil {
		t.Fatal(err)
	}
	if list, _ := r.Servers("default"); len(list) != 1 || list[0].Port != 9001 {
		t.Fatalf("servers %v", list)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("the state file was written for an -origin server: %v", err)
	}
	if _, err := r.Add("default", "http://127.0.0.1:9002", 1); err != nil {
		t.Fatal(err)
	}
	r.Close()
	r2, err := New(Config{StateFile: file, Origins: []ServerConfig{{URL: "http://127.0.0.1:9001"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if list, _ := r2.Servers("default"); len(list) != 2 {
		t.Fatalf("after restart: %v, want 9001 once and 9002", list)
	}
}
