package storetest

import (
	"database/sql"
	"testing"

	_ "modernc.org/sqlite" // the "sqlite" driver
)

// OriginalSchema is the targets table exactly as the original tool and other
// programs create it, with none of pmonitor's columns. It is written out
// here rather than taken from the store's migrations, so that compatibility
// tests do not depend on what they test.
const OriginalSchema = `CREATE TABLE IF NOT EXISTS targets (
  address TEXT NOT NULL PRIMARY KEY, name TEXT NOT NULL, run BOOLEAN DEFAULT TRUE,
  running BOOLEAN DEFAULT FALSE, me BOOLEAN DEFAULT FALSE, stable BOOLEAN DEFAULT TRUE,
  responded BOOLEAN DEFAULT FALSE, sample_time INTEGER DEFAULT 0, total_count INTEGER DEFAULT 0,
  total_success INTEGER DEFAULT 0)`

// PlainSQL runs stmts on the database at path through a connection of its
// own, with default settings, as another program would.
func PlainSQL(t testing.TB, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// CreateOriginal creates (if needed) the original targets table at path and
// runs stmts on it: a database made by another program.
func CreateOriginal(t testing.TB, path string, stmts ...string) {
	t.Helper()
	PlainSQL(t, path, append([]string{OriginalSchema}, stmts...)...)
}
