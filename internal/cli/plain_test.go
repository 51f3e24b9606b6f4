package cli

import (
	"database/sql"
	"testing"
)

const originalSchema = `CREATE TABLE IF NOT EXISTS targets (
  address TEXT NOT NULL PRIMARY KEY, name TEXT NOT NULL, run BOOLEAN DEFAULT TRUE,
  running BOOLEAN DEFAULT FALSE, me BOOLEAN DEFAULT FALSE, stable BOOLEAN DEFAULT TRUE,
  responded BOOLEAN DEFAULT FALSE, sample_time INTEGER DEFAULT 0, total_count INTEGER DEFAULT 0,
  total_success INTEGER DEFAULT 0)`

// plain creates a database with only the original columns, as another
// program would, and runs stmts on it.
func plain(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range append([]string{originalSchema}, stmts...) {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}
