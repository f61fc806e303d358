package pool

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// The state file keeps the dynamic changes (Add, Remove, Patch) across
// restarts: a full copy of every dialed pool's servers, rewritten whole
// on each change. Health (Down, ejections) is not kept: it is measured
// again after a restart.
//
//	{"version":1,
//	 "pools":{"default":[{"id":1,"url":"http://10.0.0.1:80","weight":1,"state":"active"}]},
//	 "next_id":2}
//
// A server being removed is left out at once, so a restart does not bring
// back a server that was deleted while it drained.

const stateVersion = 1

type stateFile struct {
	Version int                      `json:"version"`
	Pools   map[string][]stateServer `json:"pools"`
	NextID  int                      `json:"next_id"`
}

type stateServer struct {
	ID     int    `json:"id"`
	URL    string `json:"url"`
	Weight int    `json:"weight"`
	State  string `json:"state"` // active or draining
}

// loadState reads and checks the state file; nil without error when the
// file does not exist. Any other problem is an error naming the file,
// which is left as it is.
func loadState(path string) (*stateFile, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pool: state file %s: %w", path, err)
	}
	var st stateFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("pool: state file %s is corrupt: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("pool: state file %s is corrupt: data after the JSON object", path)
	}
	if err := st.check(); err != nil {
		return nil, fmt.Errorf("pool: state file %s is corrupt: %w", path, err)
	}
	return &st, nil
}

// check validates what loadState decoded: the version, unique positive
// IDs, and servers Add would accept.
func (st *stateFile) check() error {
	if st.Version != stateVersion {
		return fmt.Errorf("version %d, want %d", st.Version, stateVersion)
	}
	if st.NextID < 0 {
		return fmt.Errorf("next_id %d is negative", st.NextID)
	}
	ids := map[int]bool{}
	for name, list := range st.Pools {
		addrs := map[string]bool{}
		for _, s := range list {
			if s.ID < 1 || ids[s.ID] {
				return fmt.Errorf("pool %q: server id %d is not positive or not unique", name, s.ID)
			}
			ids[s.ID] = true
			u, err := parseServerURL(s.URL)
			if err != nil {
				return fmt.Errorf("pool %q: %w", name, err)
			}
			if addrs[u.addr] {
				return fmt.Errorf("pool %q: server %s is listed twice", name, u.url)
			}
			addrs[u.addr] = true
			if s.Weight < 1 || s.Weight > maxWeight {
				return fmt.Errorf("pool %q: server %d: weight %d is outside 1-%d", name, s.ID, s.Weight, maxWeight)
			}
			if s.State != "active" && s.State != "draining" {
				return fmt.Errorf("pool %q: server %d: state %q (want active or draining)", name, s.ID, s.State)
			}
		}
	}
	return nil
}

// restore replaces the server lists of the configured dialed pools that
// st holds, and moves nextID past every ID it names; it returns the pools
// it replaced. Pools of st that the configuration no longer has (or has
// as pull pools) are ignored, and leave the file at the next write.
func (r *Registry) restore(st *stateFile) map[string]bool {
	done := map[string]bool{}
	r.nextID = max(r.nextID, st.NextID)
	for name, list := range st.Pools {
		for _, s := range list {
			r.nextID = max(r.nextID, s.ID+1)
		}
		d := r.defs[name]
		if d == nil || d.cfg.Kind != "" {
			continue
		}
		done[name] = true
		d.entries = nil
		for _, s := range list {
			u, _ := parseServerURL(s.URL) // checked by loadState
			d.entries = append(d.entries, &entry{id: s.ID, u: u, weight: s.Weight,
				drain: s.State == "draining", live: new(Live)})
		}
		slices.SortFunc(d.entries, func(a, b *entry) int { return a.id - b.id })
	}
	return done
}

// persist writes the state file from the current state, if there is one.
// Called with mu held, after a change and before it is published.
func (r *Registry) persist() error {
	if r.cfg.StateFile == "" {
		return nil
	}
	st := stateFile{Version: stateVersion, Pools: map[string][]stateServer{}, NextID: r.nextID}
	for _, name := range r.names {
		d := r.defs[name]
		if d.cfg.Kind != "" {
			continue
		}
		list := []stateServer{}
		for _, e := range d.entries {
			if e.removing {
				continue
			}
			state := "active"
			if e.drain {
				state = "draining"
			}
			list = append(list, stateServer{ID: e.id, URL: e.u.url, Weight: e.weight, State: state})
		}
		st.Pools[name] = list
	}
	b, err := json.MarshalIndent(&st, "", "  ")
	if err != nil {
		return fmt.Errorf("pool: state file %s: %w", r.cfg.StateFile, err)
	}
	if err := writeAtomic(r.cfg.StateFile, append(b, '\n')); err != nil {
		return fmt.Errorf("pool: state file %s: %w", r.cfg.StateFile, err)
	}
	return nil
}

// writeAtomic replaces path with data so that a crash leaves either the
// old file or the new one: write a temporary file beside it, sync it,
// rename it over path, and sync the directory so the rename lasts.
func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	// The new file is in place now, so the change stands: a directory
	// that cannot be synced (some file systems refuse) is not a reason to
	// roll it back.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
