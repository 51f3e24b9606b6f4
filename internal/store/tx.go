package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// inTx runs fn in one transaction of db (IMMEDIATE for read-write handles,
// see openDB) and commits it; on any error nothing of fn lands. Errors read
// "what in where: cause".
func inTx(ctx context.Context, db *sql.DB, what, where string, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s in %s: %w", what, where, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return fmt.Errorf("%s in %s: %w", what, where, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s in %s: %w", what, where, err)
	}
	return nil
}

// isUniqueViolation reports whether err is SQLite refusing a row whose
// primary key or unique column is already taken. It reads the extended
// result code, never the message, which other layers may reword.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return true
	}
	return false
}
