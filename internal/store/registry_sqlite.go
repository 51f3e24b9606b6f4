package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
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
	notify      *fileNotifier // started by the first Changes
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
	COALESCE(heartbeat, 0), COALESCE(pid, 0), COALESCE(api_url, '')`

func scanTarget(s interface{ Scan(...any) error }) (Target, error) {
	var t Target
	var hb float64
	err := s.Scan(&t.Address, &t.Name, &t.Stable, &t.Run, &t.Running, &hb, &t.PID, &t.APIURL)
	t.Heartbeat = FromEpoch(hb)
	return t, err
}

// Targets implements Registry.
func (r *SQLiteRegistry) Targets(ctx context.Context) ([]Target, error) {
	const query = `SELECT ` + targetColumns + ` FROM targets ORDER BY rowid`
	var ts []Target
	var err error
	if w, unlock := r.watching(); w != nil {
		// An agent reads through its watch connection, so that its registry
		// costs one SQLite connection, not two (a page cache, a schema,
		// prepared statements and lookaside slots, times a thousand agents
		// on one machine). A WAL reader never waits for writers, so the
		// watch connection's short busy timeout does not hold the read up.
		ts, err = queryTargets(ctx, w.conn, query)
		unlock()
	} else {
		ts, err = queryTargets(ctx, r.db, query)
	}
	if err != nil {
		return nil, fmt.Errorf("read registry %s: %w", r.path, err)
	}
	return ts, nil
}

// queryTargets runs query, which selects targetColumns, and scans every row.
func queryTargets(ctx context.Context, q queryer, query string) ([]Target, error) {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ts []Target
	for rows.Next() {
		t, err := scanTarget(rows)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, rows.Err()
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

// Replace implements Registry. The agent state of the addresses that
// remain (running, pid, heartbeat, started_time) is carried over: 'pmonitor
// init' while agents run must not make them look stopped.
func (r *SQLiteRegistry) Replace(ctx context.Context, targets []Target) error {
	targets, err := canonicalTargets(targets)
	if err != nil {
		return fmt.Errorf("replace targets in registry %s: %w", r.path, err)
	}
	return r.inTx(ctx, "replace targets", func(tx *sql.Tx) error {
		agents, err := agentStates(ctx, tx)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM targets`); err != nil {
			return err
		}
		return insertTargets(ctx, tx, targets, agents)
	})
}

// agentState is what a running agent keeps in its registry row.
type agentState struct {
	running              bool
	pid                  int64
	heartbeat, startedAt float64
}

// agentStates returns the agent state of every row that has one, by
// canonical address: a handful of rows (one per agent), whatever the
// size of the registry.
func agentStates(ctx context.Context, tx *sql.Tx) (map[string]agentState, error) {
	rows, err := tx.QueryContext(ctx, `SELECT address, COALESCE(running, FALSE), COALESCE(pid, 0),
		COALESCE(heartbeat, 0), COALESCE(started_time, 0) FROM targets
		WHERE running OR pid <> 0 OR heartbeat <> 0 OR started_time <> 0`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]agentState{}
	for rows.Next() {
		var a string
		var s agentState
		if err := rows.Scan(&a, &s.running, &s.pid, &s.heartbeat, &s.startedAt); err != nil {
			return nil, err
		}
		out[CanonicalAddress(a)] = s
	}
	return out, rows.Err()
}

// canonicalTargets returns targets with canonical addresses, refusing two
// spellings of one address.
func canonicalTargets(targets []Target) ([]Target, error) {
	out := make([]Target, len(targets))
	seen := make(map[string]bool, len(targets))
	for i, t := range targets {
		t.Address = CanonicalAddress(t.Address)
		if seen[t.Address] {
			return nil, fmt.Errorf("%w %s", ErrDuplicateTarget, t.Address)
		}
		seen[t.Address] = true
		out[i] = t
	}
	return out, nil
}

// Add implements Registry. An address is a duplicate in any spelling.
func (r *SQLiteRegistry) Add(ctx context.Context, targets ...Target) error {
	targets, err := canonicalTargets(targets)
	if err != nil {
		return fmt.Errorf("add targets in registry %s: %w", r.path, err)
	}
	return r.inTx(ctx, "add targets", func(tx *sql.Tx) error {
		for _, t := range targets {
			if _, dup, err := resolve(ctx, tx, t.Address); err != nil {
				return err
			} else if dup {
				return fmt.Errorf("%w %s", ErrDuplicateTarget, t.Address)
			}
		}
		return insertTargets(ctx, tx, targets, nil)
	})
}

// insertTargets appends targets, with the agent state that agents holds
// for their addresses. Most rows have none and take the shorter statement:
// at a million rows every bound parameter counts.
func insertTargets(ctx context.Context, tx *sql.Tx, targets []Target, agents map[string]agentState) error {
	plain, err := tx.PrepareContext(ctx, `INSERT INTO targets(address, name, stable, run) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer plain.Close()
	var withAgent *sql.Stmt
	if len(agents) > 0 {
		if withAgent, err = tx.PrepareContext(ctx, `INSERT INTO targets(address, name, stable, run, running, pid, heartbeat, started_time)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`); err != nil {
			return err
		}
		defer withAgent.Close()
	}
	for _, t := range targets {
		if a, ok := agents[t.Address]; ok {
			_, err = withAgent.ExecContext(ctx, t.Address, t.Name, t.Stable, t.Run, a.running, a.pid, a.heartbeat, a.startedAt)
		} else {
			_, err = plain.ExecContext(ctx, t.Address, t.Name, t.Stable, t.Run)
		}
		if isUniqueViolation(err) {
			return fmt.Errorf("%w %s", ErrDuplicateTarget, t.Address)
		}
		if err != nil {
			return fmt.Errorf("insert %s: %w", t.Address, err)
		}
	}
	return nil
}

// Remove implements Registry; addresses may be spelled in any form.
func (r *SQLiteRegistry) Remove(ctx context.Context, addresses ...string) error {
	return r.inTx(ctx, "remove targets", func(tx *sql.Tx) error {
		for _, a := range addresses {
			stored, ok, err := resolve(ctx, tx, a)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%w %s", ErrUnknownTarget, a)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM targets WHERE address = ?`, stored); err != nil {
				return err
			}
		}
		return nil
	})
}

// SetRun implements Registry; address may be spelled in any form.
func (r *SQLiteRegistry) SetRun(ctx context.Context, address string, run bool) error {
	return r.inTx(ctx, "set run", func(tx *sql.Tx) error {
		stored, ok, err := resolve(ctx, tx, address)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w %s", ErrUnknownTarget, address)
		}
		_, err = tx.ExecContext(ctx, `UPDATE targets SET run = ? WHERE address = ?`, run, stored)
		return err
	})
}

// SetRunning implements Registry.
func (r *SQLiteRegistry) SetRunning(ctx context.Context, address string, running bool, pid int, at time.Time) error {
	w, unlock, err := r.watchConn(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	conn, now := w.conn, Epoch(at)
	if running {
		return r.update(ctx, conn, "set running", address,
			`UPDATE targets SET running = TRUE, pid = ?, heartbeat = ?, started_time = ? WHERE address = ?`, pid, now, now, address)
	}
	return r.update(ctx, conn, "set running", address,
		`UPDATE targets SET running = FALSE, heartbeat = ? WHERE address = ?`, now, address)
}

// SetAPIURL implements Registry. It goes through the watch connection, as
// the agent's own flags do, so that it does not count as a change.
func (r *SQLiteRegistry) SetAPIURL(ctx context.Context, address, url string) error {
	w, unlock, err := r.watchConn(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	var v any
	if url != "" {
		v = url
	}
	return r.update(ctx, w.conn, "set api url", address, `UPDATE targets SET api_url = ? WHERE address = ?`, v, address)
}

// Heartbeat implements Registry.
func (r *SQLiteRegistry) Heartbeat(ctx context.Context, address string, now time.Time) error {
	w, unlock, err := r.watchConn(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	res, err := w.heartbeat.ExecContext(ctx, Epoch(now), address)
	if err != nil {
		return fmt.Errorf("heartbeat %s in registry %s: %w", address, r.path, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("heartbeat: %w %s in registry %s", ErrUnknownTarget, address, r.path)
	}
	return nil
}

var _ Notifier = (*SQLiteRegistry)(nil)

// Changes implements Notifier with inotify on the file and its -wal (see
// fileNotifier). It fails when the process or its user has no inotify
// instance left (fs.inotify.max_user_instances); the caller then polls.
func (r *SQLiteRegistry) Changes() (<-chan struct{}, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.notify == nil {
		n, err := newFileNotifier(r.path, NotifyQuiet)
		if err != nil {
			return nil, err
		}
		r.notify = n
	}
	return r.notify.c, nil
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
	if r.notify != nil {
		r.notify.refresh() // a -wal file that appeared since the last look
	}
	var v int64
	if err := w.version.QueryRowContext(ctx).Scan(&v); err != nil {
		if IsBusy(err) {
			return false, fmt.Errorf("watch registry %s: %w", r.path, err)
		}
		r.dropWatch()
		return false, fmt.Errorf("watch registry %s: %w", r.path, err)
	}
	if r.notify != nil {
		r.notify.looked(!r.watched || v != r.dataVersion)
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
		if IsBusy(err) {
			return false, fmt.Errorf("watch registry %s: %w", r.path, err)
		}
		r.dropWatch()
		return false, fmt.Errorf("watch registry %s: %w", r.path, err)
	}
	changed := !r.watched || !gen.Valid || triggers != 3 || gen.Int64 != r.generation
	r.dataVersion, r.generation, r.watched = v, gen.Int64, true
	return changed, nil
}

// WatchBusyTimeout is how long the registry's watch connection waits for
// a lock before its write (heartbeat, running flag, API URL) fails with a
// busy error (IsBusy), which the caller retries later.
const WatchBusyTimeout = 250 * time.Millisecond

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

// watching returns the watch connection, locked until unlock is called,
// if it is open; nil, nil if not (a registry that nobody watches reads
// through the pool).
func (r *SQLiteRegistry) watching() (*watchConn, func()) {
	r.mu.Lock()
	if r.watch == nil {
		r.mu.Unlock()
		return nil, nil
	}
	return r.watch, r.mu.Unlock
}

func openWatch(ctx context.Context, db *sql.DB) (*watchConn, error) {
	c, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	// The agent's own writes (heartbeat, running flag) go through this
	// connection, and its owner retries them later: waiting the full
	// BusyTimeout behind a thousand other agents' heartbeats would hold up
	// the watch (a stop request must arrive within a second) and spin in
	// SQLite's busy handler.
	if _, err := c.ExecContext(ctx, fmt.Sprintf(`PRAGMA busy_timeout = %d`, WatchBusyTimeout.Milliseconds())); err != nil {
		c.Close()
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
	n := r.notify
	r.notify = nil
	r.mu.Unlock()
	var nerr error
	if n != nil {
		nerr = n.Close()
	}
	return errors.Join(r.db.Close(), nerr)
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
	return inTx(ctx, r.db, what, "registry "+r.path, fn)
}
