package report_test

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/report"
	"github.com/pmonitor/pmonitor/internal/store"
	"github.com/pmonitor/pmonitor/internal/store/storetest"
)

func count(t *testing.T, path, query string) int {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", store.FileURI(abs, nil)) // path may hold '?'
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestConsolidateSameInputTwice: one working database named twice (another
// spelling, a symlink) is merged once.
func TestConsolidateSameInputTwice(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	master := filepath.Join(dir, "master.db")
	storetest.CreateOriginal(t, master, `INSERT INTO targets(address, name) VALUES ('192.168.33.1','host1')`)
	w1 := filepath.Join(dir, "w1.db")
	storetest.CreateOriginal(t, w1, working1...)
	link := filepath.Join(dir, "link.db")
	if err := os.Symlink(w1, link); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.db")
	other := filepath.Join(dir, ".", "sub", "..", "w1.db")
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	sum, err := report.Consolidate(ctx, master, out, []string{w1, dir + "/./w1.db", link, other})
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, out, `SELECT COUNT(*) FROM node_history`); n != 4 {
		t.Errorf("node_history rows = %d, want 4 (w1 merged once)", n)
	}
	if sum.Skipped != 3 || sum.Sources[1].Error != "same file as "+w1 {
		t.Errorf("summary = %+v; want the three other names skipped as the same file", sum)
	}
}

// TestConsolidateNamesArePlainFiles: '?' and "file:" are characters of a
// file name, never SQLite URI syntax.
func TestConsolidateNamesArePlainFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Chdir(dir)
	storetest.CreateOriginal(t, "m.db", `INSERT INTO targets(address, name) VALUES ('192.168.33.1','host1')`)
	storetest.CreateOriginal(t, filepath.Join(dir, "file:w.db"), working1...)
	before, _ := os.ReadFile("m.db")
	if _, err := report.Consolidate(ctx, "m.db", "m.db?x", []string{"file:w.db"}); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile("m.db"); !bytes.Equal(before, after) {
		t.Error("consolidate m.db 'm.db?x' changed the registry m.db")
	}
	if n := count(t, filepath.Join(dir, "m.db?x"), `SELECT COUNT(*) FROM node_history`); n != 4 {
		t.Errorf("node_history in the file named 'm.db?x' = %d rows, want 4 (from the file named 'file:w.db')", n)
	}
	if _, err := os.Stat("file:out.db.partial"); err == nil {
		t.Error("partial output left behind")
	}
}

// TestConsolidateWaitsForALockedInput: an input locked by a writer is
// waited for (up to the busy timeout), not skipped at once.
func TestConsolidateWaitsForALockedInput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	master := filepath.Join(dir, "master.db")
	storetest.CreateOriginal(t, master, `INSERT INTO targets(address, name) VALUES ('192.168.33.1','host1')`)
	w1 := filepath.Join(dir, "w1.db") // rollback journal: a writer's exclusive lock blocks readers
	storetest.CreateOriginal(t, w1, working1...)
	db, err := sql.Open("sqlite", w1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `BEGIN EXCLUSIVE`); err != nil {
		t.Fatal(err)
	}
	// The lock is held while Consolidate starts, and released a moment
	// later; whether Consolidate reached the input before or after, it
	// must merge it.
	release := time.AfterFunc(300*time.Millisecond, func() {
		conn.ExecContext(ctx, `COMMIT`)
		conn.Close()
	})
	defer release.Stop()
	sum, err := report.Consolidate(ctx, master, filepath.Join(dir, "out.db"), []string{w1})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skipped != 0 || sum.Sources[0].Rows != 4 {
		t.Errorf("summary = %+v; want the locked input waited for and merged", sum)
	}
}
