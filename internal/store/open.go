package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"time"

	"modernc.org/sqlite" // also registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// BusyTimeout is how long a connection waits for another writer before it
// reports SQLITE_BUSY. Writers hold the lock for milliseconds; this is a
// generous bound for hundreds of agents sharing one registry.
const BusyTimeout = 15 * time.Second

// PageCacheKiB bounds SQLite's page cache of each read-write connection
// (registries and working databases; SQLite's default is 2,000 KiB). Their
// pages stay in the kernel's page cache anyway, so a page SQLite dropped
// costs a pread, not a disk read; and a thousand agents on one machine each
// keep two connections (one per database): at 1,000 targets the default
// cache cost an agent 0.45 MB of private memory, and 64 KiB did not raise its CPU per probe
// (tools/benchmesh at 1,000 nodes: 24.4–25.2 µs, 25.9–28.8 before).
const PageCacheKiB = 64

// ErrNotExist reports that a database file that must exist does not.
var ErrNotExist = errors.New("no such file")

// openMode selects how a database file is opened.
type openMode int

const (
	readWrite         openMode = iota // create if missing, WAL, migrations
	readWriteExisting                 // as readWrite, but the file must exist
	readOnly                          // must exist; never written, never converted to WAL
	plain                             // create if missing; the file's journal mode, no migrations
)

// openDB opens the SQLite file at path. Read-write handles switch the file to
// WAL and begin every transaction IMMEDIATE, which turns lock upgrades into
// plain waits on the busy timeout instead of immediate SQLITE_BUSY errors.
func openDB(ctx context.Context, path string, mode openMode) (*sql.DB, error) {
	if path == "" {
		return nil, errors.New("empty database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", path, err)
	}
	if _, err := os.Stat(abs); err != nil {
		if (mode == readOnly || mode == readWriteExisting) && errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", path, ErrNotExist)
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("stat %s: %w", path, err)
		}
	}
	db, err := openURL(ctx, path, abs, mode, false)
	if mode == readOnly && cannotShare(err) && !exists(abs+"-wal") {
		// A WAL database that nobody writes (no -wal file), in a directory
		// this reader cannot write: SQLite cannot create the -shm file that
		// WAL readers share. With no writer there is nothing to share, and
		// the file is read as it is.
		db, err = openURL(ctx, path, abs, mode, true)
	}
	return db, err
}

// openURL opens abs with the settings of mode; immutable reads without
// any locking or shared memory (read-only handles only).
func openURL(ctx context.Context, path, abs string, mode openMode, immutable bool) (*sql.DB, error) {
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(BusyTimeout.Milliseconds()))
	switch mode {
	case plain:
	case readOnly:
		q.Set("mode", "ro")
		if immutable {
			q.Set("immutable", "1")
		}
	default:
		if mode == readWriteExisting {
			// Every connection the pool opens later, too: a registry
			// deleted or renamed under a running agent must not come back
			// as a new empty file (the agent would read no targets).
			q.Set("mode", "rw")
		}
		q.Set("_journal_mode", "WAL")
		q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", PageCacheKiB))
		q.Set("_synchronous", "NORMAL") // durable at checkpoints; a crash loses at most the last commits, never integrity
		q.Set("_txlock", "immediate")
	}
	db, err := sql.Open("sqlite", FileURI(abs, q))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// The first query reads the schema: it is what fails on a file that is
	// no database or that this process may not read.
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master`).Scan(&n); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// FileURI is the SQLite URI of the file at the absolute path abs, with
// query parameters q. Every byte of the name is escaped as needed: a file
// name holding '?', '#', '%' or starting with "file:" names that file, never
// URI options or another file.
func FileURI(abs string, q url.Values) string {
	u := url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}
	return u.String()
}

// OpenFile opens the SQLite file path, creating it if missing, with the
// busy timeout and nothing else: no WAL switch, no migrations. It is for
// files pmonitor writes once, such as the analysis database.
func OpenFile(ctx context.Context, path string) (*sql.DB, error) {
	return openDB(ctx, path, plain)
}

// IsBusy reports whether err is SQLite finding the database locked by
// another connection after its busy timeout (SQLITE_BUSY or SQLITE_LOCKED):
// a passing condition, worth another try later rather than a reopen.
func IsBusy(err error) bool {
	return hasCode(err, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
}

// cannotShare reports whether err is SQLite unable to write or create a
// file it needs beside the database (the WAL index of a read-only reader).
func cannotShare(err error) bool {
	return hasCode(err, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN)
}

// hasCode reports whether err is an SQLite error whose primary result code
// is one of codes.
func hasCode(err error, codes ...int) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && slices.Contains(codes, se.Code()&0xff)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// hasTable reports whether the database holds a table of that name.
func hasTable(ctx context.Context, q queryer, name string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, name).Scan(&n)
	return n > 0, err
}

// queryer is what *sql.DB, *sql.Conn and *sql.Tx have in common.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}
