package mesh

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/pmonitor/pmonitor/internal/store"
)

// busyTimeout is short: serve reads every database once a second and must
// not stall every client on one locked file. A lock is reported and retried
// on the next tick.
const busyTimeout = 200

// openReadOnly opens the SQLite file at path for reading only: never
// written, migrated or switched to WAL.
func openReadOnly(ctx context.Context, path string) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, errors.New("is a directory")
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("_busy_timeout", fmt.Sprint(busyTimeout))
	u := url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1) // one reader per file: one page cache, no contention with ourselves
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// reason turns an error about a database into a short text for clients:
// it never carries the file's path.
func reason(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "no such file"
	case errors.Is(err, os.ErrPermission) || strings.Contains(s, "permission denied"):
		return "permission denied"
	case strings.Contains(s, "locked") || strings.Contains(s, "SQLITE_BUSY"):
		return "database is locked"
	case strings.Contains(s, "not a database") || strings.Contains(s, "malformed") || strings.Contains(s, "corrupt"):
		return "corrupt: file is not a database"
	case errors.Is(err, errNoTargets):
		return "not a pmonitor database (no targets table)"
	case errors.Is(err, errNoMe):
		return "no agent has written it yet (no me row)"
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return "read timed out"
	case strings.Contains(s, "is a directory"):
		return "is a directory"
	case strings.Contains(s, "unable to open"):
		return "unable to open database file"
	}
	return "unreadable database"
}

var (
	errNoTargets = errors.New("no targets table")
	errNoMe      = errors.New("no me row")
)

// columns returns the column names of table; empty if there is none.
func columns(ctx context.Context, db *sql.DB, table string) (map[string]bool, error) {
	return store.SchemaColumns(ctx, db, "main", table)
}

// col is c when the table has it, else the fallback expression.
func col(have map[string]bool, c, fallback string) string {
	if have[c] {
		return c
	}
	return fallback
}
