package browsertest

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// csp is as strict as the page must survive: no inline script or style.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// fixture answers the dashboard's API (internal/web/README.md) from a
// synthetic mesh, and serves the page's files from disk.
type fixture struct {
	nodes []fxNode
	dead  int
	base  float64       // epoch seconds where the history starts; live is base+fxSpan
	tick  time.Duration // stream push period; 0 pushes summaries every second and no meshes
	token string        // control token; "" turns control off

	mu  sync.Mutex
	run map[string]bool // by address
	gen int
	// streams plans the next stream connections, one entry each: a
	// positive number ends the stream after that many pushes, an HTTP
	// error status (>= 400, negated) refuses it. Later ones are served
	// normally.
	streams []int
}

func newFixture(n int) *fixture {
	f := &fixture{nodes: fxNodes(n), dead: 1, base: float64(time.Now().Unix()) - fxSpan, run: map[string]bool{}}
	for _, nd := range f.nodes {
		f.run[nd.Address] = true
	}
	return f
}

// serve starts the fixture on a loopback port for the test's lifetime.
func (f *fixture) serve(t testing.TB) string {
	t.Helper()
	static, err := fs.Sub(os.DirFS(".."), "static")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	files := http.FileServerFS(static)
	mux.Handle("GET /static/", http.StripPrefix("/static/", files))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.ServeFileFS(w, r, static, "index.html") })
	mux.HandleFunc("GET /api/v1/summary", f.summary)
	mux.HandleFunc("GET /api/v1/mesh", f.meshHandler)
	mux.HandleFunc("GET /api/v1/events", f.eventsHandler)
	mux.HandleFunc("GET /api/v1/nodes/{name}", f.node)
	mux.HandleFunc("GET /api/v1/pairs/{src}/{dst}", f.pair)
	mux.HandleFunc("GET /api/v1/agents", f.agents)
	mux.HandleFunc("POST /api/v1/agents/{addr}/{act}", f.control)
	mux.HandleFunc("GET /api/v1/stream", f.stream)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func (f *fixture) now() float64 { return f.base + fxSpan }

func (f *fixture) index(name string) int {
	for i, n := range f.nodes {
		if n.Name == name {
			return i
		}
	}
	return -1
}

func cutAt(rel float64) bool { return rel >= fxCutFrom && rel < fxCutTo || rel >= fxSpan-120 }

type goodTotal struct {
	Good  int `json:"good"`
	Total int `json:"total"`
}

// counts applies the original semantics to a mesh: total = counted pairs, good = up among them.
func counts(m fxMesh) (stable, dynamic goodTotal, running, down int) {
	n := len(m.Nodes)
	for i := range n {
		if m.Agents[i].State == "running" {
			running++
		}
		for j := range n {
			c := &dynamic
			if m.Nodes[j].Stable {
				c = &stable
			}
			switch m.State[i*n+j] {
			case 'u':
				c.Good++
				c.Total++
			case 'd':
				c.Total++
				down++
			}
		}
	}
	return
}

func (f *fixture) summaryNow(gen int) map[string]any {
	m := f.mesh(f.now(), true, gen)
	st, dy, running, down := counts(m)
	return map[string]any{
		"time": f.now(), "mode": "live", "range": map[string]float64{"from": f.base, "to": f.now()},
		"interval_seconds": 2.0, "generation": gen,
		"now": map[string]any{"stable": st, "dynamic": dy, "agents": len(f.nodes), "agents_running": running, "links_down": down},
	}
}

func (f *fixture) summary(w http.ResponseWriter, r *http.Request) {
	s := f.summaryNow(0)
	const points = 360
	sr := map[string][]float64{}
	type c struct {
		st, dy  goodTotal
		running int
	}
	var byCut [2]c
	for i, cut := range []bool{false, true} {
		m := f.mesh(f.now(), cut, 0)
		byCut[i].st, byCut[i].dy, byCut[i].running, _ = counts(m)
	}
	for k := range points {
		t := f.base + float64(k)*fxSpan/points
		cc := byCut[0]
		if cutAt(t - f.base) {
			cc = byCut[1]
		}
		st, dy, running := cc.st, cc.dy, cc.running
		for key, v := range map[string]int{"stable_good": st.Good, "stable_total": st.Total, "dynamic_good": dy.Good,
			"dynamic_total": dy.Total, "agents_running": running} {
			sr[key] = append(sr[key], float64(v))
		}
		sr["time"] = append(sr["time"], t)
	}
	s["series"] = sr
	ev := f.events()
	s["events"] = ev[:min(10, len(ev))]
	writeJSON(w, http.StatusOK, s)
}

func floatParam(r *http.Request, name string, def float64) (float64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("bad %s %q: want epoch seconds", name, v)
	}
	return x, nil
}

func (f *fixture) meshHandler(w http.ResponseWriter, r *http.Request) {
	at, err := floatParam(r, "at", f.now())
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, f.mesh(at, cutAt(at-f.base), 0))
}

func (f *fixture) eventsHandler(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	out := []fxEvent{}
	for _, e := range f.events() {
		if n := q.Get("node"); n != "" && e.Source != n && e.Target != n {
			continue
		}
		if k := q.Get("kind"); k != "" && (k == "stable") != e.Stable {
			continue
		}
		out = append(out, e)
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out})
}

func (f *fixture) node(w http.ResponseWriter, r *http.Request) {
	i := f.index(r.PathValue("name"))
	if i < 0 {
		fail(w, http.StatusNotFound, "unknown node")
		return
	}
	n := len(f.nodes)
	m := f.mesh(f.now(), true, 0)
	names := make([]string, n)
	rowS, colS := make([]byte, n), make([]byte, n)
	rowR, colR := make([]*float64, n), make([]*float64, n)
	targets := []map[string]any{}
	for j, nd := range f.nodes {
		names[j] = nd.Name
		rowS[j], rowR[j] = m.State[i*n+j], m.RTT[i*n+j]
		colS[j], colR[j] = m.State[j*n+i], m.RTT[j*n+i]
		if j != i {
			up := rowS[j] == 'u'
			targets = append(targets, map[string]any{"name": nd.Name, "address": nd.Address, "stable": nd.Stable,
				"responded": up, "sample_time": f.now() - float64(j%5), "total_count": 1800, "total_success": 1790,
				"rtt_last_ms": rowR[j], "rtt_avg_ms": rowR[j], "consecutive_failures": map[bool]int{true: 0, false: 60}[up]})
		}
	}
	var evs []fxEvent
	for _, e := range f.events() {
		if e.Source == f.nodes[i].Name || e.Target == f.nodes[i].Name {
			evs = append(evs, e)
		}
	}
	last := []map[string]any{}
	for _, t := range targets[:min(5, len(targets))] {
		last = append(last, map[string]any{"name": t["name"], "responded": t["responded"], "sample_time": t["sample_time"]})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"node":    f.nodes[i],
		"agent":   map[string]any{"state": m.Agents[i].State, "reason": m.Agents[i].Reason, "run": true, "running": m.Agents[i].State == "running", "pid": 4000 + i, "heartbeat": f.now() - 1},
		"status":  map[string]any{"all": goodTotal{n - 2, n - 1}, "stable": goodTotal{n / 2, n / 2}},
		"targets": targets, "last": last,
		"row":    map[string]any{"cols": names, "state": string(rowS), "rtt_ms": rowR},
		"column": map[string]any{"rows": names, "state": string(colS), "rtt_ms": colR},
		"events": evs,
	})
}

func (f *fixture) pair(w http.ResponseWriter, r *http.Request) {
	s, d := f.index(r.PathValue("src")), f.index(r.PathValue("dst"))
	if s < 0 || d < 0 {
		fail(w, http.StatusNotFound, "unknown pair")
		return
	}
	from, err1 := floatParam(r, "from", f.now()-3600)
	to, err2 := floatParam(r, "to", f.now())
	nb, err3 := floatParam(r, "buckets", 120)
	if err1 != nil || err2 != nil || err3 != nil || to <= from || nb < 1 || nb > 1000 {
		fail(w, http.StatusBadRequest, "bad from, to or buckets")
		return
	}
	var evs []fxEvent
	for _, e := range f.events() {
		if e.Source == f.nodes[s].Name && e.Target == f.nodes[d].Name && e.Time >= from && e.Time <= to {
			evs = append(evs, e)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"source": f.nodes[s].Name, "target": f.nodes[d].Name, "from": from, "to": to,
		"bucket_seconds": (to - from) / nb, "buckets": f.buckets(s, d, from, to, int(nb)), "events": evs})
}

func (f *fixture) agents(w http.ResponseWriter, r *http.Request) {
	control := f.token != "" && r.Header.Get("Authorization") == "Bearer "+f.token
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []map[string]any{}
	for i, nd := range f.nodes {
		running := i != f.dead && f.run[nd.Address]
		out = append(out, map[string]any{"name": nd.Name, "address": nd.Address, "stable": nd.Stable,
			"run": f.run[nd.Address], "running": running, "pid": 4000 + i, "heartbeat": f.now() - 1,
			"url": fmt.Sprintf("http://127.0.0.1:%d", 9310+i), "working": "available"})
	}
	writeJSON(w, http.StatusOK, map[string]any{"control": control, "agents": out})
}

func (f *fixture) control(w http.ResponseWriter, r *http.Request) {
	if f.token == "" {
		fail(w, http.StatusNotFound, "control is off")
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		fail(w, http.StatusForbidden, "bad token")
		return
	}
	act := r.PathValue("act")
	if act != "stop" && act != "start" {
		fail(w, http.StatusNotFound, "unknown action")
		return
	}
	f.mu.Lock()
	f.run[r.PathValue("addr")] = act == "start"
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// stream pushes a summary every tick and, when tick is set, a mesh whose
// RTTs differ every time (so the page redraws the heatmap on each push).
func (f *fixture) stream(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		fail(w, http.StatusInternalServerError, "no flusher")
		return
	}
	f.mu.Lock()
	plan := 0
	if len(f.streams) > 0 {
		plan, f.streams = f.streams[0], f.streams[1:]
	}
	f.mu.Unlock()
	if plan < 0 {
		fail(w, -plan, "stream refused by the test")
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	period := f.tick
	if period == 0 {
		period = time.Second
	}
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 300\n\n")
	fl.Flush() // the page shows "connected" as soon as the headers arrive
	tk := time.NewTicker(period)
	defer tk.Stop()
	send := func(event string, v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, strings.TrimSpace(string(b)))
	}
	for pushes := 0; plan == 0 || pushes < plan; pushes++ {
		select {
		case <-r.Context().Done():
			return
		case <-tk.C:
		}
		f.mu.Lock()
		f.gen++
		gen := f.gen
		f.mu.Unlock()
		send("summary", f.summaryNow(gen))
		if f.tick != 0 {
			send("mesh", f.mesh(f.now(), true, gen))
		}
		fl.Flush()
	}
}
