package mgmt

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/http/pprof"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// defaultPool is the pool the weldr-style /servers calls act on.
const defaultPool = "default"

// Weights are integers in this range (CONTRACT.md).
const (
	minWeight = 1
	maxWeight = 1000
)

// api holds what the handlers share; it is read-only after New.
type api struct {
	c       Control
	ready   func() bool
	token   [sha256.Size]byte // SHA-256 of Options.Token
	guarded bool              // a token is required
	metrics http.Handler
}

// New returns the handler of the -admin address: the management API of
// CONTRACT.md, /metrics, /healthz and /debug/pprof/. It panics when c is
// nil. Each call has its own metrics registry, so New may be called more
// than once in a process.
func New(c Control, opts Options) http.Handler {
	if c == nil {
		panic("mgmt: New needs a Control")
	}
	a := &api{c: c, ready: opts.Ready, metrics: newMetricsHandler(c)}
	if opts.Token != "" {
		a.token, a.guarded = sha256.Sum256([]byte(opts.Token)), true
	}
	mux := http.NewServeMux()
	a.routes(mux)
	return mux
}

// methods maps an HTTP method to the handler that serves it on one path.
type methods map[string]http.HandlerFunc

// routes registers every endpoint. The ServeMux's own 404 and 405 answers
// are plain text, so each path also gets a method-less pattern (less
// specific than the ones with a method) that answers 405 in JSON, and "/"
// answers 404 in JSON.
func (a *api) routes(mux *http.ServeMux) {
	a.handle(mux, "/healthz", methods{http.MethodGet: a.healthz}, false)

	// The weldr calls act on pool "default"; the /pools/{name} ones on any
	// pool. poolOf tells them apart by the {name} wildcard.
	for _, prefix := range []string{"", "/pools/{name}"} {
		a.handle(mux, prefix+"/servers", methods{
			http.MethodGet:  a.listServers,
			http.MethodPost: a.addServer,
		}, true)
		a.handle(mux, prefix+"/servers/{ip}/{port}", methods{
			http.MethodDelete: a.removeServer,
			http.MethodPatch:  a.patchServer,
		}, true)
	}
	a.handle(mux, "/pools", methods{http.MethodGet: a.listPools}, true)
	a.handle(mux, "/stats", methods{http.MethodGet: a.stats}, true)
	a.handle(mux, "/stats/detail", methods{http.MethodGet: a.detail}, true)
	a.handle(mux, "/metrics", methods{http.MethodGet: a.metrics.ServeHTTP}, true)

	// pprof's handlers take any method (symbol is POSTed to); they go on
	// this mux only. Importing net/http/pprof also registers them on
	// http.DefaultServeMux, which edgeloop never serves.
	mux.Handle("/debug/pprof/", a.guard(http.HandlerFunc(pprof.Index)))
	mux.Handle("/debug/pprof/cmdline", a.guard(http.HandlerFunc(pprof.Cmdline)))
	mux.Handle("/debug/pprof/profile", a.guard(http.HandlerFunc(pprof.Profile)))
	mux.Handle("/debug/pprof/symbol", a.guard(http.HandlerFunc(pprof.Symbol)))
	mux.Handle("/debug/pprof/trace", a.guard(http.HandlerFunc(pprof.Trace)))

	mux.Handle("/", a.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "mgmt: no endpoint "+r.URL.Path)
	})))
}

// handle registers the handlers of one path, each behind the token check
// when guarded, and the JSON 405 for the other methods.
func (a *api) handle(mux *http.ServeMux, path string, ms methods, guarded bool) {
	wrap := func(h http.Handler) http.Handler {
		if guarded {
			return a.guard(h)
		}
		return h
	}
	var allow []string
	for m, h := range ms {
		mux.Handle(m+" "+path, wrap(h))
		allow = append(allow, m)
		if m == http.MethodGet { // the mux routes HEAD to GET's handler
			allow = append(allow, http.MethodHead)
		}
	}
	slices.Sort(allow)
	allowed := strings.Join(allow, ", ")
	mux.Handle(path, wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allowed)
		writeError(w, http.StatusMethodNotAllowed,
			"mgmt: method "+r.Method+" not allowed on "+r.URL.Path+" (allowed: "+allowed+")")
	})))
}

// guard requires the bearer token when one is configured. Both sides are
// hashed before the constant-time compare, so neither the token's bytes
// nor its length leak through timing.
func (a *api) guard(h http.Handler) http.Handler {
	if !a.guarded {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.authorized(r.Header.Get("Authorization")) {
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeError(w, http.StatusUnauthorized, "mgmt: missing or wrong bearer token")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// authorized checks an Authorization header value against the token.
// RFC 9110 §11.1: the scheme name is case-insensitive.
func (a *api) authorized(header string) bool {
	scheme, tok, ok := strings.Cut(header, " ")
	tok = strings.TrimLeft(tok, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return false
	}
	got := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(got[:], a.token[:]) == 1
}

// healthz answers 200 while the proxy serves and 503 before or after.
func (a *api) healthz(w http.ResponseWriter, r *http.Request) {
	if a.ready != nil && !a.ready() {
		writeError(w, http.StatusServiceUnavailable, "mgmt: not ready")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// poolOf returns the pool a request names: {name} under /pools, else the
// default pool.
func poolOf(r *http.Request) string {
	if name := r.PathValue("name"); name != "" {
		return name
	}
	return defaultPool
}

// serverPath is the URL of one server's resource, for the Location header.
func serverPath(r *http.Request, s ServerInfo) string {
	p := "/servers/" + url.PathEscape(s.IP) + "/" + strconv.Itoa(s.Port)
	if name := r.PathValue("name"); name != "" {
		p = "/pools/" + url.PathEscape(name) + p
	}
	return p
}

// target reads {ip} and {port} from the path; the port must be 1-65535.
// On failure it has already answered with 400.
func target(w http.ResponseWriter, r *http.Request) (ip string, port int, ok bool) {
	ip, raw := r.PathValue("ip"), r.PathValue("port")
	p, err := strconv.ParseUint(raw, 10, 16)
	if err != nil || p == 0 {
		writeError(w, http.StatusBadRequest, "mgmt: bad port "+strconv.Quote(raw)+": want 1-65535")
		return "", 0, false
	}
	if ip == "" {
		writeError(w, http.StatusBadRequest, "mgmt: empty ip")
		return "", 0, false
	}
	return ip, int(p), true
}

// validWeight reports whether w is an allowed weight.
func validWeight(w int) bool { return w >= minWeight && w <= maxWeight }

// weightMessage is the complaint about a weight out of range.
func weightMessage(w int) string {
	return "mgmt: weight " + strconv.Itoa(w) + " out of range: want an integer in 1-1000"
}

func (a *api) listServers(w http.ResponseWriter, r *http.Request) {
	list, err := a.c.Servers(poolOf(r))
	if err != nil {
		writeControlError(w, err)
		return
	}
	if list == nil {
		list = []ServerInfo{} // a bare array, never null
	}
	writeJSON(w, http.StatusOK, list)
}

// addServer is POST /servers: {"url": "...", "weight": N}. Everything this
// side can check is checked before Control is called; the URL itself is
// Control's to judge.
func (a *api) addServer(w http.ResponseWriter, r *http.Request) {
	var in struct {
		URL    *string `json:"url"`
		Weight *int    `json:"weight"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	if in.URL == nil || strings.TrimSpace(*in.URL) == "" {
		writeError(w, http.StatusBadRequest, "mgmt: missing url")
		return
	}
	weight := minWeight // 0 or absent means 1
	if in.Weight != nil && *in.Weight != 0 {
		weight = *in.Weight
	}
	if !validWeight(weight) {
		writeError(w, http.StatusBadRequest, weightMessage(weight))
		return
	}
	s, err := a.c.AddServer(poolOf(r), *in.URL, weight)
	if err != nil {
		writeControlError(w, err)
		return
	}
	w.Header().Set("Location", serverPath(r, s))
	writeJSON(w, http.StatusCreated, s)
}

// removeServer is DELETE /servers/{ip}/{port}: 204 at once; the server
// drains behind the scenes.
func (a *api) removeServer(w http.ResponseWriter, r *http.Request) {
	ip, port, ok := target(w, r)
	if !ok {
		return
	}
	if err := a.c.RemoveServer(poolOf(r), ip, port); err != nil {
		writeControlError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// patchServer is PATCH /servers/{ip}/{port}: {"weight": N} and/or
// {"state": "draining"|"active"}.
func (a *api) patchServer(w http.ResponseWriter, r *http.Request) {
	ip, port, ok := target(w, r)
	if !ok {
		return
	}
	var in struct {
		Weight *int    `json:"weight"`
		State  *string `json:"state"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	if in.Weight == nil && in.State == nil {
		writeError(w, http.StatusBadRequest, "mgmt: nothing to change: want weight and/or state")
		return
	}
	if in.Weight != nil && !validWeight(*in.Weight) {
		writeError(w, http.StatusBadRequest, weightMessage(*in.Weight))
		return
	}
	if in.State != nil && *in.State != "draining" && *in.State != "active" {
		writeError(w, http.StatusBadRequest,
			"mgmt: state "+strconv.Quote(*in.State)+" cannot be set: want draining or active")
		return
	}
	s, err := a.c.PatchServer(poolOf(r), ip, port, in.Weight, in.State)
	if err != nil {
		writeControlError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (a *api) listPools(w http.ResponseWriter, r *http.Request) {
	names := a.c.PoolNames()
	if names == nil {
		names = []string{}
	}
	writeJSON(w, http.StatusOK, names)
}

// sideCounts is one side of GET /stats.
type sideCounts struct {
	Success uint64 `json:"success"`
	Failed  uint64 `json:"failed"`
}

// stats is GET /stats in weldr's shape.
func (a *api) stats(w http.ResponseWriter, r *http.Request) {
	t := a.c.Totals()
	writeJSON(w, http.StatusOK, struct {
		Client sideCounts `json:"client"`
		Server sideCounts `json:"server"`
		// Pull: the pull pools' queues, when there are any.
		Pull []PullStats `json:"pull,omitempty"`
	}{
		Client: sideCounts{t.ClientSuccess, t.ClientFailed},
		Server: sideCounts{t.ServerSuccess, t.ServerFailed},
		Pull:   a.c.Pulls(),
	})
}

func (a *api) detail(w http.ResponseWriter, r *http.Request) {
	rows := a.c.Detail()
	if rows == nil {
		rows = []ServerStats{}
	}
	writeJSON(w, http.StatusOK, rows)
}
