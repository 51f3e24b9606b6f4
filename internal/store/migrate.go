package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
)

//go:embed schema/*.sql
var schemaFS embed.FS

// role names a kind of database; each role has its own list of migrations,
// tracked in pmonitor_migrations so that one file could even serve both.
type role string

const (
	roleRegistry role = "registry"
	roleWorking  role = "working"
)

// column is one column that a migration adds to an existing table.
type column struct{ name, decl string }

// migration is one schema step. Steps are idempotent, because a registry
// made by another program may already hold some of what they create.
type migration func(ctx context.Context, tx *sql.Tx) error

// registryColumns extend the registry's targets table.
var registryColumns = []column{
	{"heartbeat", "REAL DEFAULT 0"},    // epoch seconds, refreshed by the running agent
	{"pid", "INTEGER DEFAULT 0"},       // process id of the agent that set running
	{"started_time", "REAL DEFAULT 0"}, // when that agent started
}

// registryURLColumns came later, in a step of their own: registries already
// at the earlier version still get them.
var registryURLColumns = []column{
	{"api_url", "TEXT"}, // the running agent's HTTP API (http://host:port), NULL when it has none
}

// workingColumns extend the working database's targets table.
var workingColumns = []column{
	{"sent", "INTEGER DEFAULT 0"},     // probes sent, before the first answer too
	{"received", "INTEGER DEFAULT 0"}, // answers received, before the first answer too
	{"rtt_last_ms", "REAL"},
	{"rtt_min_ms", "REAL"},
	{"rtt_max_ms", "REAL"},
	{"rtt_sum_ms", "REAL DEFAULT 0"}, // average = rtt_sum_ms / received
	{"consecutive_failures", "INTEGER DEFAULT 0"},
	{"state_change_time", "REAL DEFAULT 0"}, // epoch seconds of the last up/down transition
	{"heartbeat", "REAL DEFAULT 0"},         // me row: epoch seconds, refreshed by the agent
}

func migrations(r role) []migration {
	switch r {
	case roleRegistry:
		return []migration{execFile("schema/targets.sql"), addColumns("targets", registryColumns), execFile("schema/generation.sql"),
			addColumns("targets", registryURLColumns)}
	case roleWorking:
		return []migration{execFile("schema/targets.sql"), addColumns("targets", workingColumns), execFile("schema/history.sql")}
	}
	return nil
}

func execFile(name string) migration {
	return func(ctx context.Context, tx *sql.Tx) error {
		b, err := schemaFS.ReadFile(name)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, string(b))
		return err
	}
}

// addColumns adds the columns that table lacks.
func addColumns(table string, cols []column) migration {
	return func(ctx context.Context, tx *sql.Tx) error {
		have, err := columns(ctx, tx, table)
		if err != nil {
			return err
		}
		for _, c := range cols {
			if have[c.name] {
				continue
			}
			if _, err := tx.ExecContext(ctx, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", table, c.name, c.decl)); err != nil {
				return fmt.Errorf("add column %s.%s: %w", table, c.name, err)
			}
		}
		return nil
	}
}

// columns returns the set of column names of table.
func columns(ctx context.Context, q queryer, table string) (map[string]bool, error) {
	return SchemaColumns(ctx, q, "main", table)
}

// SchemaColumns returns the set of column names of table in schema ("main",
// or the name of an attached database); empty if there is no such table.
func SchemaColumns(ctx context.Context, q interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}, schema, table string) (map[string]bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM pragma_table_info(?, ?)`, table, schema)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		have[n] = true
	}
	return have, rows.Err()
}

// migrate brings db to the latest schema of role r. Many agents may start at
// once: the quick check runs outside a transaction, the real one inside an
// IMMEDIATE transaction that serializes them.
func migrate(ctx context.Context, db *sql.DB, r role) error {
	steps := migrations(r)
	if v, err := schemaVersion(ctx, db, r); err == nil && v >= len(steps) {
		return nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate %s schema: %w", r, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS pmonitor_migrations (role TEXT PRIMARY KEY, version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate %s schema: %w", r, err)
	}
	v, err := schemaVersion(ctx, tx, r)
	if err != nil {
		return fmt.Errorf("migrate %s schema: %w", r, err)
	}
	for i := v; i < len(steps); i++ {
		if err := steps[i](ctx, tx); err != nil {
			return fmt.Errorf("migrate %s schema to version %d: %w", r, i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO pmonitor_migrations(role, version) VALUES (?, ?)
		ON CONFLICT(role) DO UPDATE SET version = excluded.version`, string(r), len(steps)); err != nil {
		return fmt.Errorf("migrate %s schema: %w", r, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate %s schema: %w", r, err)
	}
	return nil
}

func schemaVersion(ctx context.Context, q queryer, r role) (int, error) {
	ok, err := hasTable(ctx, q, "pmonitor_migrations")
	if err != nil || !ok {
		return 0, err
	}
	var v int
	err = q.QueryRowContext(ctx, `SELECT version FROM pmonitor_migrations WHERE role = ?`, string(r)).Scan(&v)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	return v, err
}
