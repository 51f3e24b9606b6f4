package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// ErrNoTargets reports a database without a targets table: a zero-byte
// file handed over for an agent that has not started yet, or a file that
// is no pmonitor database.
var ErrNoTargets = errors.New("no targets table")

// OpenReadOnly opens an existing database for reading only: it is never
// written, migrated or switched to WAL, so reports work on databases made by
// other programs and on read-only files. It fails if the file does not exist
// or holds no targets table.
func OpenReadOnly(ctx context.Context, path string) (*sql.DB, error) {
	db, err := openDB(ctx, path, readOnly)
	if err != nil {
		return nil, err
	}
	ok, err := hasTable(ctx, db, "targets")
	if err == nil && !ok {
		err = fmt.Errorf("%w (not a pmonitor database, or its agent has not started yet)", ErrNoTargets)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// ReadRegistry returns every target of the registry at path in registry
// order, reading it like OpenReadOnly: never written, never migrated, so
// it works on a registry made by another program (missing pmonitor columns
// read as zero) and on read-only files.
func ReadRegistry(ctx context.Context, path string) ([]Target, error) {
	db, err := OpenReadOnly(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("read registry: %w", err)
	}
	defer db.Close()
	have, err := SchemaColumns(ctx, db, "main", "targets")
	if err != nil {
		return nil, fmt.Errorf("read registry %s: %w", path, err)
	}
	cols := targetColumns
	// Columns that migrations add are missing from a registry made by another
	// program: read them as their defaults.
	for _, c := range []struct{ name, fallback string }{{"heartbeat", "0"}, {"pid", "0"}, {"api_url", "''"}} {
		if !have[c.name] {
			cols = strings.Replace(cols, "COALESCE("+c.name+", "+c.fallback+")", c.fallback, 1)
		}
	}
	ts, err := queryTargets(ctx, db, `SELECT `+cols+` FROM targets ORDER BY rowid`)
	if err != nil {
		return nil, fmt.Errorf("read registry %s: %w", path, err)
	}
	return ts, nil
}
