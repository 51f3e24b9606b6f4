package store

import (
	"context"
	"database/sql"
	"fmt"
)

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
		err = fmt.Errorf("%s has no targets table (not a pmonitor database?)", path)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}
