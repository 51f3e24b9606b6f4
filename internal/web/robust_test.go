package web_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/testenv"
)

// A missing, a corrupt and a locked working database are reported while
// the others are served.
func TestUnavailableWorkingDatabases(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	corrupt := filepath.Join(dir, "corrupt.db")
	if err := os.WriteFile(corrupt, []byte(strings.Repeat("this is not sqlite ", 300)), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, sim, _ := liveServer(t, "", missing, corrupt)
	ctx := context.Background()

	// Lock gs1's database: an exclusive lock held by another connection
	// (as a crashed writer in rollback mode would leave it).
	lock, err := sql.Open("sqlite", "file:"+sim.Work[3]+"?_pragma=busy_timeout(1000)")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	conn, err := lock.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{`PRAGMA wal_checkpoint(TRUNCATE)`, `PRAGMA journal_mode=DELETE`, `PRAGMA locking_mode=EXCLUSIVE`, `BEGIN EXCLUSIVE`} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Skipf("cannot lock the working database for the test (%s): %v", q, err)
		}
	}
	if err := srv.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	var agents struct {
		Agents []struct{ Name, Working, State, Reason string }
		Lost   []struct{ Label, Reason string }
	}
	if err := json.Unmarshal(get(h, "GET", "/api/v1/agents").Body.Bytes(), &agents); err != nil {
		t.Fatal(err)
	}
	byName := map[string]string{}
	for _, a := range agents.Agents {
		byName[a.Name] = a.Working + ": " + a.Reason
	}
	if got := byName["gs1"]; got != "unavailable: database is locked" {
		t.Errorf("gs1 = %q, want unavailable: database is locked", got)
	}
	if got := byName["sat1"]; got != "available: " {
		t.Errorf("sat1 = %q, want available", got)
	}
	lost := map[string]string{}
	for _, l := range agents.Lost {
		lost[l.Label] = l.Reason
	}
	if lost["working database 5"] != "no such file" || lost["working database 6"] != "corrupt: file is not a database" {
		t.Errorf("lost = %v", agents.Lost)
	}
	body := get(h, "GET", "/api/v1/agents").Body.String()
	if strings.Contains(body, dir) || strings.Contains(body, ".db") {
		t.Errorf("a file path reached the client: %s", body)
	}
	var m struct {
		State  string
		Agents []struct{ State, Reason string }
	}
	json.Unmarshal(get(h, "GET", "/api/v1/mesh").Body.Bytes(), &m)
	if m.State != "=unuu=uuuu=u----" || m.Agents[3].State != "unavailable" {
		t.Errorf("mesh with gs1 locked: %q %+v", m.State, m.Agents)
	}
}

// The stream starts with the whole picture and pushes new events.
func TestStream(t *testing.T) {
	srv, sim, clk := liveServer(t, "")
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/v1/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	events := make(chan [2]string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var name string
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				name = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				events <- [2]string{name, v}
			}
		}
		close(events)
	}()
	next := func() [2]string {
		select {
		case e := <-events:
			return e
		case <-ctx.Done():
			t.Fatal("no event in time")
		}
		return [2]string{}
	}
	if e := next(); e[0] != "summary" {
		t.Fatalf("first event %q, want summary", e[0])
	}
	if e := next(); e[0] != "mesh" || !strings.Contains(e[1], `"state":"=unuu=uuuu=uuuu="`) {
		t.Fatalf("second event %q %.100s, want the mesh", e[0], e[1])
	}
	// gs1 fails for everyone again: one refresh, one push of each kind.
	sim.Down = func(src, dst, k int) bool { return dst == 3 || (src == 0 && dst == 2) }
	rounds(t, sim, 10, 11)
	clk.t = t0.Add(22 * time.Second)
	if err := srv.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for len(got) < 3 {
		e := next()
		got[e[0]] = e[1]
	}
	if !strings.Contains(got["mesh"], `"state":"=undu=uduu=duuu="`) {
		t.Errorf("mesh after the cut: %s", got["mesh"][strings.Index(got["mesh"], `"state":"=`):][:40])
	}
	var evs struct {
		Events []struct{ Source, Target, State string }
	}
	json.Unmarshal([]byte(got["events"]), &evs)
	if len(evs.Events) != 3 || evs.Events[0].Target != "gs1" || evs.Events[0].State != "down" {
		t.Errorf("events pushed: %s", got["events"])
	}
}

// /metrics passes promtool's lint.
func TestMetricsPromtool(t *testing.T) {
	promtool := testenv.RequireCommand(t, "promtool", "prometheus")
	srv, _, _ := liveServer(t, "")
	rec := get(srv.Handler(), "GET", "/metrics")
	body := rec.Body.String()
	for _, want := range []string{
		`pmonitor_pair_up{source="sat1",stable="false",target="gs1"} 1`,
		`pmonitor_pair_up{source="sat2",stable="true",target="sat3"} 1`,
		`pmonitor_pair_rtt_seconds{source="sat1",target="gs1"} 0.00013`,
		`pmonitor_pair_loss_ratio{source="sat1",target="gs1"} 0.4`,
		`pmonitor_serve_agents{state="running"} 4`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, `source="sat1",stable="true",target="sat3"`) {
		t.Error("a pair that never answered is exported as down")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}
