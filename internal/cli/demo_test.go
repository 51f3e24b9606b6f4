package cli

import (
	"database/sql"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pmonitor/pmonitor/internal/lab"
	"github.com/pmonitor/pmonitor/internal/mesh"
	"github.com/pmonitor/pmonitor/internal/testenv"
)

func TestDemoRunsAndCleansUp(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	out, errs, code := run(t, "demo", "--for", "15s", "--nodes", "4", "--dynamic", "1", "--interval", "1s", "--dir", dir, "--listen", "127.0.0.1:0")
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out, errs)
	}
	if !regexp.MustCompile(`dashboard on http://127\.0\.0\.1:\d+/`).MatchString(out) {
		t.Errorf("no dashboard URL in the output:\n%s", out)
	}
	m := regexp.MustCompile(`network (pm[a-z0-9]+),`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no network prefix in the output:\n%s", out)
	}
	if left, err := lab.Leftovers(m[1]); err != nil || len(left) > 0 {
		t.Errorf("left behind: %v (%v)", left, err)
	}
	if n := strings.Count(out, "\n"); n < 12 || strings.Contains(out, "\x1b[") {
		t.Errorf("want about one plain line per second (not a terminal), got %d lines:\n%s", n, out)
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*", "analysis.db"))
	if len(paths) != 1 || !strings.Contains(out, "Analysis database: "+paths[0]) {
		t.Fatalf("analysis databases %v; output:\n%s", paths, out)
	}
	db, err := sql.Open("sqlite", "file:"+paths[0]+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got := map[string]int{}
	rows, err := db.Query(`SELECT source_node, COUNT(*) FROM node_history GROUP BY source_node`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var src string
		var n int
		if err := rows.Scan(&src, &n); err != nil {
			t.Fatal(err)
		}
		got[src] = n
	}
	for _, src := range []string{"sat1", "sat2", "sat3", "gs1"} {
		if got[src] != 3 {
			t.Errorf("node_history rows from %s = %d; want 3 (all: %v)", src, got[src], got)
		}
	}
	// The run replays: serve ANALYSIS_DB shows its mesh.
	r, err := mesh.OpenReplay(t.Context(), paths[0])
	if err != nil {
		t.Fatal(err)
	}
	svc := mesh.NewReplay(r, mesh.Options{})
	defer svc.Close()
	mm, err := svc.Mesh(t.Context(), -1, 0)
	if err != nil || len(mm.Rows) != 4 || len(mm.State) != 16 || strings.Count(mm.State, "=") != 4 {
		t.Errorf("replayed mesh: %+v, %v", mm, err)
	}
}
