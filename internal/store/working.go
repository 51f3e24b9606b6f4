package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Working is an agent's working database: one targets row per probed
// target, the me row describing the agent, and the samples and events
// history. The agent is its only writer; orchestrators read it with plain SQL.
type Working struct {
	path  string
	db    *sql.DB
	stmts *writeStmts // prepared once: SQLite compiles a statement in ~100 µs
}

// OpenWorking opens (creating it if needed; a zero-byte file is fine) the
// working database at path and migrates its schema in place.
func OpenWorking(ctx context.Context, path string) (*Working, error) {
	db, err := openDB(ctx, path, readWrite)
	if err != nil {
		return nil, fmt.Errorf("open working db: %w", err)
	}
	if err := migrate(ctx, db, roleWorking); err != nil {
		db.Close()
		return nil, fmt.Errorf("open working db %s: %w", path, err)
	}
	// The agent is the only writer and never needs two connections at once;
	// one connection keeps one page cache (memory matters at 10,000 targets).
	db.SetMaxOpenConns(1)
	stmts, err := prepareWrites(ctx, db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open working db %s: %w", path, err)
	}
	return &Working{path: path, db: db, stmts: stmts}, nil
}

// Path returns the file the working database lives in.
func (w *Working) Path() string { return w.path }

// DB exposes the underlying handle for reports and tests.
func (w *Working) DB() *sql.DB { return w.db }

// Close flushes the WAL into the main file and closes the database.
func (w *Working) Close() error {
	// A checkpoint leaves a self-contained file behind for copying and for
	// readers that open it read-only.
	w.db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	w.stmts.close()
	return w.db.Close()
}

// TargetState is what the working database remembers of one target; an agent
// restarted after a crash continues from it.
type TargetState struct {
	Address             string
	Name                string
	Stable              bool
	Responded           bool
	SampleTime          time.Time
	TotalCount          int64
	TotalSuccess        int64
	Sent                int64
	Received            int64
	ConsecutiveFailures int64
	StateChange         time.Time
}

// Answered reports whether the target has answered once, which starts the
// counting rule: from then on every probe counts.
func (s TargetState) Answered() bool { return s.TotalCount > 0 || s.TotalSuccess > 0 }

// SetMe writes the row describing the agent itself (me = TRUE) and clears
// the flag on any other row.
func (w *Working) SetMe(ctx context.Context, address, name string, stable bool, now time.Time) error {
	return w.inTx(ctx, "set me row", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE targets SET me = FALSE WHERE me = TRUE AND address <> ?`, address); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO targets(address, name, stable, me, running, heartbeat) VALUES (?, ?, ?, TRUE, TRUE, ?)
			ON CONFLICT(address) DO UPDATE SET name = excluded.name, stable = excluded.stable, me = TRUE,
			running = TRUE, heartbeat = excluded.heartbeat, total_count = 0, total_success = 0, responded = FALSE`,
			address, name, stable, Epoch(now))
		return err
	})
}

// SetStopped marks the me row as no longer running.
func (w *Working) SetStopped(ctx context.Context, now time.Time) error {
	_, err := w.db.ExecContext(ctx, `UPDATE targets SET running = FALSE, heartbeat = ? WHERE me = TRUE`, Epoch(now))
	if err != nil {
		return fmt.Errorf("mark agent stopped in %s: %w", w.path, err)
	}
	return nil
}

// States returns every non-me row.
func (w *Working) States(ctx context.Context) (map[string]TargetState, error) {
	rows, err := w.db.QueryContext(ctx, `SELECT address, name, COALESCE(stable, TRUE), COALESCE(responded, FALSE),
		COALESCE(sample_time, 0), COALESCE(total_count, 0), COALESCE(total_success, 0), COALESCE(sent, 0),
		COALESCE(received, 0), COALESCE(consecutive_failures, 0), COALESCE(state_change_time, 0)
		FROM targets WHERE COALESCE(me, FALSE) = FALSE`)
	if err != nil {
		return nil, fmt.Errorf("read working db %s: %w", w.path, err)
	}
	defer rows.Close()
	states := map[string]TargetState{}
	for rows.Next() {
		var s TargetState
		var st, sc float64
		if err := rows.Scan(&s.Address, &s.Name, &s.Stable, &s.Responded, &st, &s.TotalCount, &s.TotalSuccess,
			&s.Sent, &s.Received, &s.ConsecutiveFailures, &sc); err != nil {
			return nil, fmt.Errorf("read working db %s: %w", w.path, err)
		}
		s.SampleTime, s.StateChange = FromEpoch(st), FromEpoch(sc)
		states[s.Address] = s
	}
	return states, rows.Err()
}

// SyncTargets makes the non-me rows match the registry's targets: missing
// rows are inserted (total_count = 0, responded = FALSE), names and stable
// flags follow the registry, rows of removed targets are deleted (their
// samples and events stay).
func (w *Working) SyncTargets(ctx context.Context, targets []Target) error {
	// A thousand short statements: not worth the driver's per-statement
	// cancellation goroutine (a fifth of an agent's start).
	ctx = context.WithoutCancel(ctx)
	return w.inTx(ctx, "sync targets", func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO targets(address, name, stable) VALUES (?, ?, ?)
			ON CONFLICT(address) DO UPDATE SET name = excluded.name, stable = excluded.stable
			WHERE name IS NOT excluded.name OR stable IS NOT excluded.stable`)
		if err != nil {
			return err
		}
		defer ins.Close()
		wanted := make(map[string]bool, len(targets))
		for _, t := range targets {
			if _, err := ins.ExecContext(ctx, t.Address, t.Name, t.Stable); err != nil {
				return fmt.Errorf("insert %s: %w", t.Address, err)
			}
			wanted[t.Address] = true
		}
		// The rows to delete are found here, not with a TEMP table of the
		// wanted addresses: the temp database keeps its own page cache
		// (SQLite's default size, not the connection's) for the life of
		// the connection, 150 KB of every agent at 1,000 targets.
		gone, err := unwanted(ctx, tx, wanted)
		if err != nil {
			return err
		}
		if len(gone) == 0 {
			return nil
		}
		del, err := tx.PrepareContext(ctx, `DELETE FROM targets WHERE address = ?`)
		if err != nil {
			return err
		}
		defer del.Close()
		for _, a := range gone {
			if _, err := del.ExecContext(ctx, a); err != nil {
				return fmt.Errorf("delete %s: %w", a, err)
			}
		}
		return nil
	})
}

// unwanted returns the addresses of the non-me rows that wanted lacks.
func unwanted(ctx context.Context, tx *sql.Tx, wanted map[string]bool) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT address FROM targets WHERE COALESCE(me, FALSE) = FALSE`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var gone []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, err
		}
		if !wanted[a] {
			gone = append(gone, a)
		}
	}
	return gone, rows.Err()
}

func (w *Working) inTx(ctx context.Context, what string, fn func(*sql.Tx) error) error {
	return inTx(ctx, w.db, what, w.path, fn)
}
