package mesh

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"os"
	"sync"
	"time"
)

// staleAfter is how old a running agent's heartbeat may be: the agent
// refreshes its me row at every write and at least every 30 seconds (an
// idle agent writes only that often).
const staleAfter = 45.0

// workingDB is one working database given to serve, opened read-only on
// first use and reopened after errors. Its identity (me row) is
// remembered, so a database that becomes unreadable still names its node.
type workingDB struct {
	mu      sync.Mutex // held while reading or reopening
	path    string
	dirScan bool   // found in --dir: silent while it has no me row
	label   string // how it is named to clients while its me row is unknown
	db      *sql.DB
	cols    map[string]bool
	tables  map[string]bool // history tables known to exist in db
	file    os.FileInfo     // to notice the file being replaced
	me      *Node           // known once read
	err     error           // last error, nil when the last read worked

	// What the last successful read saw, served again while the file
	// provably did not change (change.go).
	sig     fileSig
	last    *View
	running bool   // the me row's running flag of last
	ver     uint64 // bumped by every read that may have seen new data
	extent  extentCache
}

// extentCache is the span of a database's samples as of version ver.
type extentCache struct {
	ver      uint64
	from, to float64
	ok       bool
}

func (w *workingDB) close() {
	if w.db != nil {
		w.db.Close()
		w.db, w.cols, w.tables = nil, nil, nil
	}
}

// open (re)opens the database if needed.
func (w *workingDB) open(ctx context.Context) error {
	fi, err := os.Stat(w.path)
	if err != nil {
		w.close()
		return err
	}
	if w.db != nil && os.SameFile(fi, w.file) {
		return nil
	}
	w.close()
	db, err := openReadOnly(ctx, w.path)
	if err != nil {
		return err
	}
	cols, err := columns(ctx, db, "targets")
	if err != nil {
		db.Close()
		return err
	}
	if len(cols) == 0 {
		db.Close()
		return errNoTargets
	}
	w.db, w.cols, w.file, w.tables = db, cols, fi, map[string]bool{}
	return nil
}

// read returns the database's view, or an unavailable one (with the node
// if known), and whether it read the file: a file that provably did not
// change since the last good read is not read again, only its agent's
// staleness is judged anew. now is for the staleness of the heartbeat.
func (w *workingDB) read(ctx context.Context, now float64) (*View, bool) {
	sig := statSig(w.path, time.Now())
	if w.err == nil && w.last != nil && w.db != nil && w.sig.unchanged(sig) && os.SameFile(sig.db, w.file) {
		v := *w.last
		v.State = w.agentState(w.running, v.Heartbeat, now)
		return &v, false
	}
	w.ver++
	w.sig, w.last = fileSig{}, nil
	v, err := w.readView(ctx, now)
	w.err = err
	if err == nil {
		w.sig, w.last = sig, v
	}
	if err != nil {
		if !errors.Is(err, errNoMe) && !errors.Is(err, errNoTargets) {
			w.close() // a corrupt or replaced file: start afresh next time
		}
		v = &View{State: StateUnavailable, Reason: reason(err)}
		if w.me != nil {
			v.Node = *w.me
		}
		v.index()
	}
	return v, true
}

// agentState judges the agent from its me row. An agent killed with -9
// leaves running = TRUE behind: trust it only with a fresh heartbeat (or
// none kept, as the original tool did not).
func (w *workingDB) agentState(running bool, heartbeat, now float64) string {
	if running && (!w.cols["heartbeat"] || now-heartbeat <= staleAfter) {
		return StateRunning
	}
	return StateStopped
}

func (w *workingDB) readView(ctx context.Context, now float64) (*View, error) {
	if err := w.open(ctx); err != nil {
		return nil, err
	}
	tx, err := w.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}) // me row and targets agree
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	v := &View{}
	var running bool
	err = tx.QueryRowContext(ctx, `SELECT name, address, COALESCE(stable, TRUE), COALESCE(running, FALSE), COALESCE(`+
		col(w.cols, "heartbeat", "0")+`, 0) FROM targets WHERE me = TRUE LIMIT 1`).Scan(
		&v.Node.Name, &v.Node.Address, &v.Node.Stable, &running, &v.Heartbeat)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoMe
	}
	if err != nil {
		return nil, err
	}
	me := v.Node
	w.me = &me
	w.running = running
	v.State = w.agentState(running, v.Heartbeat, now)
	avg := "NULL"
	if w.cols["rtt_sum_ms"] && w.cols["received"] {
		avg = "CASE WHEN received > 0 THEN rtt_sum_ms / received END"
	}
	rows, err := tx.QueryContext(ctx, `SELECT address, name, COALESCE(stable, TRUE), COALESCE(responded, FALSE),
		COALESCE(sample_time, 0), COALESCE(total_count, 0), COALESCE(total_success, 0),
		COALESCE(`+col(w.cols, "sent", "0")+`, 0), COALESCE(`+col(w.cols, "received", "0")+`, 0),
		`+col(w.cols, "rtt_last_ms", "NULL")+`, `+avg+`, COALESCE(`+col(w.cols, "consecutive_failures", "0")+`, 0),
		COALESCE(`+col(w.cols, "state_change_time", "0")+`, 0)
		FROM targets WHERE COALESCE(me, FALSE) = FALSE ORDER BY rowid`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var r Row
		var last, avg sql.NullFloat64
		if err := rows.Scan(&r.Address, &r.Name, &r.Stable, &r.Responded, &r.SampleTime, &r.TotalCount, &r.TotalSuccess,
			&r.Sent, &r.Received, &last, &avg, &r.ConsecutiveFailures, &r.StateChange); err != nil {
			return nil, err
		}
		r.RTTLastMS, r.RTTAvgMS = orNaN(last), orNaN(avg)
		v.Rows = append(v.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	v.index()
	return v, nil
}

func orNaN(f sql.NullFloat64) float64 {
	if !f.Valid {
		return math.NaN()
	}
	return f.Float64
}
