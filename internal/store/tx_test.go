package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
)

func TestIsUniqueViolation(t *testing.T) {
	ctx := context.Background()
	db, err := openDB(ctx, filepath.Join(t.TempDir(), "x.db"), readWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE t (k TEXT PRIMARY KEY, u TEXT UNIQUE, n TEXT NOT NULL); INSERT INTO t VALUES ('a', 'x', '')`); err != nil {
		t.Fatal(err)
	}
	exec := func(q string) error { _, err := db.Exec(q); return err }
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"primary key", exec(`INSERT INTO t VALUES ('a', 'y', '')`), true},
		{"unique", exec(`INSERT INTO t VALUES ('b', 'x', '')`), true},
		{"wrapped", fmt.Errorf("insert: %w", exec(`INSERT INTO t VALUES ('a', 'z', '')`)), true},
		{"not null", exec(`INSERT INTO t VALUES ('c', 'z', NULL)`), false},
		{"lookalike text", errors.New("UNIQUE constraint failed: t.k"), false},
		{"nil", nil, false},
	} {
		if got := isUniqueViolation(tc.err); got != tc.want {
			t.Errorf("%s: isUniqueViolation(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
