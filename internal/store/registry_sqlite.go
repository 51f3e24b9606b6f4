package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// SQLiteRegistry is the Registry kept in one SQLite file (the master database).
type SQLiteRegistry struct {
	path string
	db   *sql.DB

	// watch is one dedicated connection: PRAGMA data_version is per
	// connection, and the agent's own heartbeats go through it so that they
	// do not count as changes.
	file os.FileInfo // identity of the file opened, to notice it being replaced or deleted

	mu          sync.Mutex
	watch       *watchConn
	dataVersion int64
	generation  int64
	watched     bool
}

var _ Registry = (*SQLiteRegistry)(nil)

// OpenRegistry opens the existing registry at path and migrates its schema
// in place. A missing file is ErrNotExist: only CreateRegistry makes one.
func OpenRegistry(ctx context.Context, path string) (*SQLiteRegistry, error) {
	return openRegistry(ctx, path, false)
}

// CreateRegistry opens the registry at path, creating the file if needed.
func CreateRegistry(ctx context.Context, path string) (*SQLiteRegistry, error) {
	return openRegistry(ctx, path, true)
}

func openRegistry(ctx context.Context, path string, create bool) (*SQLiteRegistry, error) {
	mode := readWrite
	if !create {
		mode = readWriteExisting
	}
	db, err := openDB(ctx, path, mode)
	if err != nil {
		return nil, fmt.Errorf("open registry: %w", err)
	}
	if err := migrate(ctx, db, roleRegistry); err != nil {
		db.Close()
		return nil, fmt.Errorf("open registry %s: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open registry %s: %w", path, err)
	}
	db.SetMaxOpenConns(2) // the watch connection and one for everything else
	return &SQLiteRegistry{path: path, db: db, file: fi}, nil
}

// Path returns the file the registry lives in.
func (r *SQLiteRegistry) Path() string { return r.path }

// DB exposes the underlying handle for reports and tests.
func (r *SQLiteRegistry) DB() *sql.DB { return r.db }

const targetColumns = `address, name, COALESCE(stable, TRUE), COALESCE(run, TRUE), COALESCE(running, FALSE),
	COALESCE(heartbeat, 0), COALESCE(pid, 0)`

func scanTarget(s interface{ Scan(...any) error }) (Target, error) {
	var t Target
	var hb float64
	err := s.Scan(&t.Address, &t.Name, &t.Stable, &t.Run, &t.Running, &hb, &t.PID)
	t.Heartbeat = fromEpoch(hb)
	return t, err
}

// Targets implements Registry.
func (r *SQLiteRegistry) Targets(ctx context.Context) ([]Target, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT `+targetColumns+` FROM targets ORDER BY rowid`)
	if err != nil {
		return nil, fmt.Errorf("read registry %s: %w", r.path, err)
	}
	defer rows.Close()
	var ts []Target
	for rows.Next() {
		t, err := scanTarget(rows)
		if err != nil {
			return nil, fmt.Errorf("read registry %s: %w", r.path, err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read registry %s: %w", r.path, err)
	}
	return ts, nil
}

// Lookup implements Registry.
func (r *SQLiteRegistry) Lookup(ctx context.Context, address string) (Target, error) {
	t, err := scanTarget(r.db.QueryRowContext(ctx, `SELECT `+targetColumns+` FROM targets WHERE address = ?`, address))
	if errors.Is(err, sql.ErrNoRows) {
		return Target{}, fmt.Errorf("%w %s in registry %s", ErrUnknownTarget, address, r.path)
	}
	if err != nil {
		return Target{}, fmt.Errorf("read registry %s: %w", r.path, err)
	}
	return t, nil
}

// Replace implements Registry.
func (r *SQLiteRegistry) Replace(ctx context.Context, targets []Target) error {
	return r.inTx(ctx, "replace targets", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM targets`); err != nil {
			return err
		}
		return insertTargets(ctx, tx, targets)
	})
}

// Add implements Registry.
func (r *SQLiteRegistry) Add(ctx context.Context, targets ...Target) error {
	return r.inTx(ctx, "add targets", func(tx *sql.Tx) error {
		for _, t := range targets {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM targets WHERE address = ?`, t.Address).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return fmt.Errorf("%w %s", ErrDuplicateTarget, t.Address)
			}
		}
		return insertTargets(ctx, tx, targets)
	})
}

func insertTargets(ctx context.Context, tx *sql.Tx, targets []Target) error {
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO targets(address, name, stable, run) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, t := range targets {
		if _, err := stmt.ExecContext(ctx, t.Address, t.Name, t.Stable, t.Run); err != nil {
			if strings.Contains(err.Error(), "UNIQUE constraint") {
				return fmt.Errorf("%w %s", ErrDuplicateTarget, t.Address)
			}
			return fmt.Errorf("insert %s: %w", t.Address, err)
		}
	}
	return nil
}

// Remove implements Registry.
func (r *SQLiteRegistry) Remove(ctx context.Context, addresses ...string) error {
	return r.inTx(ctx, "remove targets", func(tx *sql.Tx) error {
		for _, a := range addresses {
			res, err := tx.ExecContext(ctx, `DELETE FROM targets WHERE address = ?`, a)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return fmt.Errorf("%w %s", ErrUnknownTarget, a)
			}
		}
		return nil
	})
}

// SetRun implements Registry.
func (r *SQLiteRegistry) SetRun(ctx context.Context, address string, run bool) error {
	return r.update(ctx, r.db, "set run", address, `UPDATE targets SET run = ? WHERE address = ?`, run, address)
}

// SetRunning implements Registry.
func (r *SQLiteRegistry) SetRunning(ctx context.Context, address string, running bool, pid int, at time.Time) error {
	w, unlock, err := r.watchConn(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	conn, now := w.conn, epoch(at)
	if running {
		return r.update(ctx, conn, "set running", address,
			`UPDATE targets SET running = TRUE, pid = ?, heartbeat = ?, started_time = ? WHERE address = ?`, pid, now, now, address)
	}
	return r.update(ctx, conn, "set running", address,
		`UPDATE targets SET running = FALSE, heartbeat = ? WHERE address = ?`, now, address)
}

// Heartbeat implements Registry.
func (r *SQLiteRegistry) Heartbeat(ctx context.Context, address string, now time.Time) error {
	w, unlock, err := r.watchConn(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	res, err := w.heartbeat.ExecContext(ctx, epoch(now), address)
	if err != nil {
		return fmt.Errorf("heartbeat %s in registry %s: %w", address, r.path, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("heartbeat: %w %s in registry %s", ErrUnknownTarget, address, r.path)
	}
	return nil
}

// Changed implements Registry with PRAGMA data_version, which costs no I/O,
// and a stat of the file: a registry deleted or replaced under a running
// agent is ErrRegistryGone, and the caller reopens it.
func (r *SQLiteRegistry) Changed(ctx context.Context) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	// Two short reads, several times a second: not worth the driver's
	// per-statement cancellation goroutine.
	ctx = context.WithoutCancel(ctx)
	fi, err := os.Stat(r.path)
	if err != nil || !os.SameFile(fi, r.file) {
		return false, fmt.Errorf("watch registry %s: %w", r.path, ErrRegistryGone)
	}
	w, unlock, err := r.watchConn(ctx)
	if err != nil {
		return false, err
	}
	defer unlock()
	var v int64
	if err := w.version.QueryRowContext(ctx).Scan(&v); err != nil {
		r.dropWatch()
		return false, fmt.Errorf("watch registry %s: %w", r.path, err)
	}
	if r.watched && v == r.dataVersion {
		return false, nil
	}
	// Something was committed; the generation says whether it matters. If a
	// program dropped the triggers (by recreating the table), every commit
	// counts as a change.
	var gen sql.NullInt64
	var triggers int
	if err := w.generation.QueryRowContext(ctx).Scan(&gen, &triggers); err != nil {
		r.dropWatch()
		return false, fmt.Errorf("watch registry %s: %w", r.path, err)
	}
	changed := !r.watched || !gen.Valid || triggers != 3 || gen.Int64 != r.generation
	r.dataVersion, r.generation, r.watched = v, gen.Int64, true
	return changed, nil
}

// watchConn is the dedicated connection and its statements, prepared once:
// they run several times a second for the life of an agent.
type watchConn struct {
	conn                           *sql.Conn
	version, generation, heartbeat *sql.Stmt
}

// watchConn returns the dedicated connection, locked until unlock is called.
func (r *SQLiteRegistry) watchConn(ctx context.Context) (*watchConn, func(), error) {
	r.mu.Lock()
	if r.watch == nil {
		w, err := openWatch(ctx, r.db)
		if err != nil {
			r.mu.Unlock()
			return nil, nil, fmt.Errorf("registry %s: %w", r.path, err)
		}
		r.watch, r.watched = w, false
	}
	return r.watch, r.mu.Unlock, nil
}

func openWatch(ctx context.Context, db *sql.DB) (*watchConn, error) {
	c, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	w := &watchConn{conn: c}
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&w.version, `PRAGMA data_version`},
		{&w.generation, `SELECT (SELECT generation FROM pmonitor_generation WHERE id = 1),
			(SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'pmonitor_gen_%')`},
		{&w.heartbeat, `UPDATE targets SET heartbeat = ? WHERE address = ?`},
	} {
		if *p.stmt, err = c.PrepareContext(ctx, p.query); err != nil {
			w.close()
			return nil, err
		}
	}
	return w, nil
}

func (w *watchConn) close() {
	for _, st := range []*sql.Stmt{w.version, w.generation, w.heartbeat} {
		if st != nil {
			st.Close()
		}
	}
	w.conn.Close()
}

// dropWatch forgets a broken watch connection; r.mu is held.
func (r *SQLiteRegistry) dropWatch() {
	if r.watch != nil {
		r.watch.close()
		r.watch, r.watched = nil, false
	}
}

// Close implements Registry.
func (r *SQLiteRegistry) Close() error {
	r.mu.Lock()
	r.dropWatch()
	r.mu.Unlock()
	return r.db.Close()
}

func (r *SQLiteRegistry) update(ctx context.Context, q queryer, what, address, query string, args ...any) error {
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s %s in registry %s: %w", what, address, r.path, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s: %w %s in registry %s", what, ErrUnknownTarget, address, r.path)
	}
	return nil
}

func (r *SQLiteRegistry) inTx(ctx context.Context, what string, fn func(*sql.Tx) error) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s in registry %s: %w", what, r.path, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return fmt.Errorf("%s in registry %s: %w", what, r.path, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s in registry %s: %w", what, r.path, err)
	}
	return nil
}
