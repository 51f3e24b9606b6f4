package report_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/pmonitor/pmonitor/internal/report"
	"github.com/pmonitor/pmonitor/internal/store"
	"github.com/pmonitor/pmonitor/internal/store/storetest"
)

// working1 is h1's view: h2 good, h3a (stable) down, h3b (dynamic) good,
// h4 never answered.
var working1 = []string{
	`INSERT INTO targets(address, name, me, stable) VALUES ('192.168.33.1', 'host1', TRUE, TRUE)`,
	`INSERT INTO targets(address, name, stable, responded, sample_time, total_count, total_success) VALUES
	  ('192.168.44.2', 'host2', TRUE, TRUE, 1700000003, 10, 10),
	  ('192.168.55.2', 'host3', TRUE, FALSE, 1700000001, 10, 7),
	  ('192.168.55.3', 'host3', FALSE, TRUE, 1700000002.5, 4, 4),
	  ('192.168.66.4', 'host4', TRUE, FALSE, 0, 0, 0)`,
}

func TestStatusListLastOnPlainSQL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "work.db")
	storetest.CreateOriginal(t, path, working1...)
	db, err := store.OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tc := range []struct {
		stable bool
		want   report.Count
	}{{false, report.Count{Good: 2, Total: 3}}, {true, report.Count{Good: 1, Total: 2}}} {
		got, err := report.Status(ctx, db, tc.stable)
		if err != nil || got != tc.want {
			t.Errorf("Status(stable=%v) = %+v, %v; want %+v", tc.stable, got, err, tc.want)
		}
	}
	list, err := report.List(ctx, db, report.Counted)
	if err != nil {
		t.Fatal(err)
	}
	if names := rowNames(list); names != "host2 host3 host3" {
		t.Errorf("List = %s", names)
	}
	all, _ := report.List(ctx, db, report.All)
	if len(all) != 4 {
		t.Errorf("List(All) = %d rows, want 4 (every target but me)", len(all))
	}
	last, err := report.Last(ctx, db, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(last) != 2 || last[0].Address != "192.168.44.2" || last[1].Address != "192.168.55.3" {
		t.Errorf("Last(2) = %+v", last)
	}
}

// TestLastIsTheOriginalLastFive: every sampled target, newest first,
// including one that was probed but never answered.
func TestLastIsTheOriginalLastFive(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "work.db")
	storetest.CreateOriginal(t, path, append(working1,
		`INSERT INTO targets(address, name, stable, responded, sample_time, total_count, total_success) VALUES
		  ('192.168.66.5', 'host5', TRUE, FALSE, 1700000004, 0, 0)`)...)
	db, err := store.OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	last, err := report.Last(ctx, db, 5)
	if err != nil {
		t.Fatal(err)
	}
	if got := rowNames(last); got != "host5 host2 host3 host3" {
		t.Errorf("Last(5) = %s; want host5 (sampled, never answered) host2 host3 host3 (never-sampled host4 and me left out)", got)
	}
}

func rowNames(rs []report.Row) string {
	s := ""
	for i, r := range rs {
		if i > 0 {
			s += " "
		}
		s += r.Name
	}
	return s
}

func TestConsolidate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	master := filepath.Join(dir, "master.db")
	storetest.CreateOriginal(t, master, `INSERT INTO targets(address, name, stable) VALUES ('192.168.33.1','host1',TRUE),
		('192.168.44.2','host2',TRUE),('192.168.55.2','host3',TRUE),('192.168.55.3','host3',FALSE)`)
	w1 := filepath.Join(dir, "w1.db")
	storetest.CreateOriginal(t, w1, working1...)
	// w2 is a pmonitor working database with history tables.
	w2 := filepath.Join(dir, "w2.db")
	wk, err := store.OpenWorking(ctx, w2)
	if err != nil {
		t.Fatal(err)
	}
	wk.DB().Exec(`INSERT INTO targets(address, name, me) VALUES ('192.168.55.3', 'host3', TRUE)`)
	wk.DB().Exec(`INSERT INTO targets(address, name, responded, total_count, total_success, sent, received, rtt_sum_ms)
		VALUES ('192.168.33.1', 'host1', TRUE, 3, 3, 5, 3, 3.0)`)
	wk.DB().Exec(`INSERT INTO samples VALUES (1700000000, '192.168.33.1', TRUE, 1.0), (1700000001, '192.168.33.1', TRUE, 1.0)`)
	wk.DB().Exec(`INSERT INTO events(time, address, name, state) VALUES (1700000000, '192.168.33.1', 'host1', 'up')`)
	wk.Close()
	garbage := filepath.Join(dir, "garbage.db")
	os.WriteFile(garbage, []byte("this is not sqlite, not at all, really not"), 0o644)

	out := filepath.Join(dir, "analysis.db")
	sum, err := report.Consolidate(ctx, master, out, []string{w1, w2, filepath.Join(dir, "missing.db"), garbage})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Targets != 4 || sum.Skipped != 2 {
		t.Errorf("summary = %+v; want 4 targets, 2 skipped", sum)
	}
	if s := sum.Sources[1]; s.Node != "host3" || s.Rows != 1 || s.Samples != 2 || s.Events != 1 {
		t.Errorf("w2 source = %+v", s)
	}
	db, err := sql.Open("sqlite", out)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for q, want := range map[string]int{
		`SELECT COUNT(*) FROM targets`:                                                           4,
		`SELECT COUNT(*) FROM node_history WHERE source_node = 'host1'`:                          4,
		`SELECT COUNT(*) FROM node_history WHERE source_node = 'host3'`:                          1,
		`SELECT COUNT(*) FROM node_history WHERE rtt_avg_ms = 1.0`:                               1,
		`SELECT COUNT(*) FROM samples WHERE source_node = 'host3'`:                               2,
		`SELECT COUNT(*) FROM events WHERE source_address = '192.168.55.3'`:                      1,
		`SELECT COUNT(*) FROM sources WHERE error IS NOT NULL`:                                   2,
		`SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name LIKE 'node_history_%'`: 3,
	} {
		var got int
		if err := db.QueryRow(q).Scan(&got); err != nil || got != want {
			t.Errorf("%s = %d, %v; want %d", q, got, err, want)
		}
	}
	if _, err := report.Consolidate(ctx, master, out, []string{w1}); err == nil {
		t.Error("Consolidate over an existing output succeeded")
	}
}
