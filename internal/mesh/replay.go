package mesh

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Replay is a consolidated analysis database (pmonitor consolidate, the
// end of every demo run): the registry's targets, node_history (each
// agent's final targets rows), and every agent's samples and events tagged
// with its source.
type Replay struct {
	db   *sql.DB
	snap *Snapshot // the final state, read once: the file does not change
}

var _ History = (*Replay)(nil)

// IsAnalysis reports whether the database at path is an analysis database
// (it has node_history).
func IsAnalysis(ctx context.Context, path string) (bool, error) {
	db, err := openReadOnly(ctx, path)
	if err != nil {
		return false, fmt.Errorf("%s: %s", path, reason(err))
	}
	defer db.Close()
	cols, err := columns(ctx, db, "node_history")
	if err != nil {
		return false, fmt.Errorf("%s: %s", path, reason(err))
	}
	return len(cols) > 0, nil
}

// OpenReplay opens the analysis database at path read-only.
func OpenReplay(ctx context.Context, path string) (*Replay, error) {
	db, err := openReadOnly(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %s", path, reason(err))
	}
	db.SetMaxOpenConns(2) // history queries and the stream's reads
	r := &Replay{db: db}
	for _, t := range []string{"targets", "node_history", "samples", "events"} {
		cols, err := columns(ctx, db, t)
		if err == nil && len(cols) == 0 {
			err = fmt.Errorf("no %s table: not an analysis database (pmonitor consolidate)", t)
		}
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
	}
	if r.snap, err = r.read(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return r, nil
}

// Close closes the database.
func (r *Replay) Close() error { return r.db.Close() }

// read builds the final state: registry and node_history.
func (r *Replay) read(ctx context.Context) (*Snapshot, error) {
	reg, err := readRegistry(ctx, r.db)
	if err != nil {
		return nil, err
	}
	_, end, err := r.Extent(ctx)
	if err != nil {
		return nil, err
	}
	stable := map[string]bool{}
	for _, t := range reg {
		stable[t.Address] = t.Stable
	}
	changes := map[[2]string]float64{}
	ps, err := r.PairStates(ctx, end+1)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		changes[[2]string{p.Source, p.Target}] = p.Since
	}
	rows, err := r.db.QueryContext(ctx, `SELECT COALESCE(source_node, ''), COALESCE(source_address, ''), address, node_name,
		COALESCE(stable, TRUE), COALESCE(responded, FALSE), COALESCE(sample_time, 0), COALESCE(total_count, 0),
		COALESCE(total_success, 0), COALESCE(sent, 0), COALESCE(received, 0), rtt_last_ms, rtt_avg_ms,
		COALESCE(consecutive_failures, 0) FROM node_history ORDER BY rowid`)
	if err != nil {
		return nil, fmt.Errorf("read node_history: %w", err)
	}
	defer rows.Close()
	var views []*View
	var dbs []*workingDB
	bySource := map[[2]string]*View{}
	for rows.Next() {
		var src, srcAddr string
		var row Row
		var last, avg sql.NullFloat64
		if err := rows.Scan(&src, &srcAddr, &row.Address, &row.Name, &row.Stable, &row.Responded, &row.SampleTime,
			&row.TotalCount, &row.TotalSuccess, &row.Sent, &row.Received, &last, &avg, &row.ConsecutiveFailures); err != nil {
			return nil, fmt.Errorf("read node_history: %w", err)
		}
		row.RTTLastMS, row.RTTAvgMS = orNaN(last), orNaN(avg)
		row.StateChange = changes[[2]string{srcAddr, row.Address}]
		k := [2]string{src, srcAddr}
		v := bySource[k]
		if v == nil {
			v = &View{Node: Node{Name: src, Address: srcAddr, Stable: stable[srcAddr]}, State: StateStopped}
			if srcAddr == "" {
				v.Node.Address = src // an original working database without a me row: name it by its node
			}
			bySource[k] = v
			views = append(views, v)
			dbs = append(dbs, &workingDB{})
		}
		v.Rows = append(v.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read node_history: %w", err)
	}
	for _, v := range views {
		v.index()
	}
	s := buildSnapshot(end, reg, nil, dbs, views)
	// Sources consolidate skipped are named by their position, never by path.
	if cols, _ := columns(ctx, r.db, "sources"); len(cols) > 0 {
		srows, err := r.db.QueryContext(ctx, `SELECT rowid, error FROM sources WHERE error IS NOT NULL ORDER BY rowid`)
		if err == nil {
			defer srows.Close()
			for srows.Next() {
				var n int64
				var e string
				if srows.Scan(&n, &e) == nil {
					s.Lost = append(s.Lost, Lost{Label: fmt.Sprintf("working database %d", n), Reason: "skipped by consolidate: " + reason(errors.New(e))})
				}
			}
		}
	}
	return s, nil
}

// Extent implements History.
func (r *Replay) Extent(ctx context.Context) (from, to float64, err error) {
	var lo, hi sql.NullFloat64
	if err := r.db.QueryRowContext(ctx, `SELECT MIN(time), MAX(time) FROM samples`).Scan(&lo, &hi); err != nil {
		return 0, 0, fmt.Errorf("read samples: %w", err)
	}
	if !lo.Valid {
		// No samples kept (original working databases): the final state's time.
		var t sql.NullFloat64
		r.db.QueryRowContext(ctx, `SELECT MAX(sample_time) FROM node_history`).Scan(&t)
		return t.Float64, t.Float64, nil
	}
	return lo.Float64, hi.Float64, nil
}

// Samples implements History.
func (r *Replay) Samples(ctx context.Context, f SampleFilter, fn func(Sample)) error {
	q := `SELECT time, address, answered, rtt_ms, COALESCE(source_address, '') FROM samples WHERE time > ? AND time <= ?`
	args := []any{f.From, f.To}
	if f.Source != "" {
		q += ` AND source_address = ?`
		args = append(args, f.Source)
	}
	if f.Target != "" {
		q += ` AND address = ?`
		args = append(args, f.Target)
	}
	rows, err := r.db.QueryContext(ctx, q+` ORDER BY time`, args...)
	if err != nil {
		return fmt.Errorf("read samples: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s Sample
		var rtt sql.NullFloat64
		if err := rows.Scan(&s.Time, &s.Target, &s.Answered, &rtt, &s.Source); err != nil {
			return fmt.Errorf("read samples: %w", err)
		}
		s.RTTMS = orNaN(rtt)
		fn(s)
	}
	return rows.Err()
}

// Events implements History.
func (r *Replay) Events(ctx context.Context, f EventFilter) ([]Event, error) {
	where, args := eventWhere(f, false, "source")
	evs, err := queryEvents(ctx, r.db, `SELECT rowid, time, address, name, state, reason, outage_seconds, source_node, source_address FROM events`+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return newest(evs, f.Limit), nil
}

// PairStates implements History.
func (r *Replay) PairStates(ctx context.Context, at float64) ([]PairState, error) {
	ps, err := queryPairStates(ctx, r.db, `SELECT COALESCE(source_address, ''), address, state, MAX(time) FROM events
		WHERE time <= ? GROUP BY source_address, address`, at)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return ps, nil
}

// Interval implements History from the samples of the minute before at.
func (r *Replay) Interval(ctx context.Context, at float64) (float64, error) {
	var n, pairs int64
	var lo, hi sql.NullFloat64
	if err := r.db.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT source_address || ' ' || address), MIN(time), MAX(time)
		FROM samples WHERE time > ? AND time <= ?`, at-60, at).Scan(&n, &pairs, &lo, &hi); err != nil {
		return 0, fmt.Errorf("read samples: %w", err)
	}
	return estimateInterval(n, pairs, hi.Float64-lo.Float64), nil
}
