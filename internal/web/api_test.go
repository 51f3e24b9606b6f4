package web_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// get serves one request and returns the recorder.
func get(h http.Handler, method, path string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// golden compares body, indented, with testdata/name (rewritten with -update).
func golden(t *testing.T, name string, body []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s: not JSON: %v\n%s", name, err, body)
	}
	got, _ := json.MarshalIndent(v, "", "  ")
	got = append(got, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", name, got)
	}
}

func TestGoldenLive(t *testing.T) {
	srv, _, _ := liveServer(t, "")
	h := srv.Handler()
	for _, tc := range []struct{ name, path string }{
		{"summary.json", "/api/v1/summary"},
		{"mesh.json", "/api/v1/mesh"},
		{"mesh_at.json", fmt.Sprintf("/api/v1/mesh?at=%.3f&window=10", at(12500*time.Millisecond))},
		{"events.json", "/api/v1/events"},
		{"events_filtered.json", "/api/v1/events?node=gs1&kind=dynamic&limit=3"},
		{"node.json", "/api/v1/nodes/sat1"},
		{"pair.json", fmt.Sprintf("/api/v1/pairs/sat1/gs1?from=%.0f&to=%.0f&buckets=5", at(0), at(20*time.Second))},
		{"agents.json", "/api/v1/agents"},
		{"sd.json", "/api/v1/sd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := get(h, "GET", tc.path)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s = %d %s", tc.path, rec.Code, rec.Body)
			}
			golden(t, tc.name, rec.Body.Bytes())
		})
	}
}

func TestGoldenReplay(t *testing.T) {
	h := replayServer(t).Handler()
	for _, tc := range []struct{ name, path string }{
		{"replay_summary.json", "/api/v1/summary"},
		{"replay_mesh.json", "/api/v1/mesh"},
		{"replay_mesh_at.json", fmt.Sprintf("/api/v1/mesh?at=%s&window=10", t0.Add(12500*time.Millisecond).UTC().Format(time.RFC3339Nano))},
		{"replay_node.json", "/api/v1/nodes/gs1"},
		{"replay_pair.json", "/api/v1/pairs/sat2/gs1?buckets=4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := get(h, "GET", tc.path)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s = %d %s", tc.path, rec.Code, rec.Body)
			}
			golden(t, tc.name, rec.Body.Bytes())
		})
	}
}

func TestBadInput(t *testing.T) {
	srv, _, _ := liveServer(t, "")
	h := srv.Handler()
	for _, tc := range []struct {
		method, path string
		code         int
		msg          string
	}{
		{"GET", "/api/v1/mesh?at=yesterday", 400, `at: "yesterday" is neither epoch seconds nor an RFC 3339 time`},
		{"GET", "/api/v1/mesh?at=NaN", 400, `at: "NaN" is out of range`},
		{"GET", "/api/v1/mesh?window=-1", 400, `window: "-1" is out of range (0 to 86400 seconds)`},
		{"GET", "/api/v1/mesh?window=soon", 400, `window: "soon" is not a duration (seconds, or like 90s)`},
		{"GET", "/api/v1/events?limit=0", 400, `limit: 0 is out of range (1 to 5000)`},
		{"GET", "/api/v1/events?limit=99999", 400, `limit: 99999 is out of range (1 to 5000)`},
		{"GET", "/api/v1/events?limit=ten", 400, `limit: "ten" is not an integer`},
		{"GET", "/api/v1/events?kind=both", 400, `kind: "both" is neither stable nor dynamic`},
		{"GET", "/api/v1/events?since=2023-13-01", 400, `since: "2023-13-01" is neither epoch seconds nor an RFC 3339 time`},
		{"GET", "/api/v1/events?node=nobody", 404, `node "nobody": not found`},
		{"GET", "/api/v1/nodes/nobody", 404, `node "nobody": not found`},
		{"GET", "/api/v1/nodes/..%2f..%2fetc%2fpasswd", 404, `node "../../etc/passwd": not found`},
		{"GET", "/api/v1/pairs/sat1/nobody", 404, `target "nobody": not found`},
		{"GET", "/api/v1/pairs/nobody/sat1", 404, `source "nobody": not found`},
		{"GET", "/api/v1/pairs/sat1/sat2?buckets=0", 400, `buckets: 0 is out of range (1 to 1000)`},
		{"GET", "/api/v1/pairs/sat1/sat2?buckets=1001", 400, `buckets: 1001 is out of range (1 to 1000)`},
		{"GET", "/api/v1/pairs/sat1/sat2?from=20&to=10", 400, `from: must be before to`},
		{"GET", "/api/v1/nothing", 404, `no such endpoint: GET /api/v1/nothing`},
		{"POST", "/api/v1/agents/10.77.0.2/stop", 404, `read-only: serve runs without --control-token-file`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			rec := get(h, tc.method, tc.path)
			var body struct{ Error string }
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("%s %s: body %q is not a JSON error", tc.method, tc.path, rec.Body)
			}
			if rec.Code != tc.code || body.Error != tc.msg {
				t.Errorf("%s %s = %d %q, want %d %q", tc.method, tc.path, rec.Code, body.Error, tc.code, tc.msg)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
}

func TestControl(t *testing.T) {
	const token = "s3cret-token-0123456789"
	srv, sim, _ := liveServer(t, token)
	h := srv.Handler()
	auth := "Bearer " + token
	for _, tc := range []struct {
		path, auth string
		code       int
	}{
		{"/api/v1/agents/10.77.0.2/stop", "", 403},
		{"/api/v1/agents/10.77.0.2/stop", "Bearer wrong", 403},
		{"/api/v1/agents/10.77.0.2/stop", token, 403}, // not a bearer header
		{"/api/v1/agents/10.9.9.9/stop", auth, 404},
		{"/api/v1/agents/10.77.0.2/explode", auth, 404},
		{"/api/v1/agents/10.77.0.2/stop", auth, 200},
	} {
		rec := get(h, "POST", tc.path, "Authorization", tc.auth)
		if rec.Code != tc.code {
			t.Errorf("POST %s (%q) = %d %s, want %d", tc.path, tc.auth, rec.Code, rec.Body, tc.code)
		}
	}
	got, err := sim.Registry().Lookup(t.Context(), "10.77.0.2")
	if err != nil || got.Run {
		t.Fatalf("after stop: %+v %v; want run = false", got, err)
	}
	if rec := get(h, "POST", "/api/v1/agents/10.77.0.2/start", "Authorization", auth); rec.Code != 200 {
		t.Fatalf("start = %d %s", rec.Code, rec.Body)
	}
	if got, _ := sim.Registry().Lookup(t.Context(), "10.77.0.2"); !got.Run {
		t.Errorf("after start: run = false")
	}
	for _, tc := range []struct {
		auth string
		want bool
	}{{"", false}, {"Bearer nope", false}, {auth, true}} {
		var body struct{ Control bool }
		json.Unmarshal(get(h, "GET", "/api/v1/agents", "Authorization", tc.auth).Body.Bytes(), &body)
		if body.Control != tc.want {
			t.Errorf("agents with %q: control = %v, want %v", tc.auth, body.Control, tc.want)
		}
	}
}

func TestHeadersAndPage(t *testing.T) {
	srv, _, _ := liveServer(t, "")
	h := srv.Handler()
	rec := get(h, "GET", "/")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "<html") {
		t.Fatalf("GET / = %d %.80s", rec.Code, rec.Body)
	}
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "default-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows inline code: %q", csp)
	}
	if rec := get(h, "GET", "/static/index.html"); rec.Code != 200 && rec.Code != 301 {
		t.Errorf("GET /static/index.html = %d", rec.Code)
	}
	rec = get(h, "GET", "/api/v1/summary", "Accept-Encoding", "gzip, deflate")
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("summary not gzipped: %v", rec.Header())
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(zr)
	var m struct{ Mode string }
	if err := json.Unmarshal(b, &m); err != nil || m.Mode != "live" {
		t.Errorf("gunzipped summary: %v %.80s", err, b)
	}
}
