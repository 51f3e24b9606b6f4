package mesh

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Live's History reads each working database's samples and events tables;
// the agent is the database's me row.

var _ History = (*Live)(nil)

// forEach runs fn on every identified working database that has table.
func (l *Live) forEach(ctx context.Context, table string, fn func(w *workingDB, db *sql.DB, me Node) error) error {
	for _, w := range l.handles() {
		w.mu.Lock()
		db, me, has, known := w.db, *w.me, w.db != nil, w.tables[table]
		w.mu.Unlock()
		if !has {
			continue
		}
		if !known {
			// Tables never go away: remember them once seen.
			cols, err := columns(ctx, db, table)
			if err != nil || len(cols) == 0 {
				continue // an original working database keeps no history
			}
			w.mu.Lock()
			if w.db == db {
				w.tables[table] = true
			}
			w.mu.Unlock()
		}
		if err := fn(w, db, me); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue // one unreadable database does not hide the others
		}
	}
	return nil
}

// Extent implements History.
func (l *Live) Extent(ctx context.Context) (from, to float64, err error) {
	err = l.forEach(ctx, "samples", func(_ *workingDB, db *sql.DB, _ Node) error {
		var lo, hi sql.NullFloat64
		if err := db.QueryRowContext(ctx, `SELECT MIN(time), MAX(time) FROM samples`).Scan(&lo, &hi); err != nil {
			return err
		}
		if lo.Valid && (from == 0 || lo.Float64 < from) {
			from = lo.Float64
		}
		if hi.Valid && hi.Float64 > to {
			to = hi.Float64
		}
		return nil
	})
	return from, to, err
}

// Samples implements History.
func (l *Live) Samples(ctx context.Context, f SampleFilter, fn func(Sample)) error {
	return l.forEach(ctx, "samples", func(_ *workingDB, db *sql.DB, me Node) error {
		if f.Source != "" && f.Source != me.Address {
			return nil
		}
		q := `SELECT time, address, answered, rtt_ms FROM samples WHERE time > ? AND time <= ?`
		args := []any{f.From, f.To}
		if f.Target != "" {
			q += ` AND address = ?`
			args = append(args, f.Target)
		}
		rows, err := db.QueryContext(ctx, q+` ORDER BY time`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			s := Sample{Source: me.Address}
			var rtt sql.NullFloat64
			if err := rows.Scan(&s.Time, &s.Target, &s.Answered, &rtt); err != nil {
				return err
			}
			s.RTTMS = orNaN(rtt)
			fn(s)
		}
		return rows.Err()
	})
}

// Events implements History.
func (l *Live) Events(ctx context.Context, f EventFilter) ([]Event, error) {
	var out []Event
	err := l.forEach(ctx, "events", func(_ *workingDB, db *sql.DB, me Node) error {
		if f.Source != "" && f.Source != me.Address {
			return nil
		}
		where, args := eventWhere(f, me.Name == f.Node, "")
		evs, err := queryEvents(ctx, db, `SELECT rowid, time, address, name, state, reason, outage_seconds, ?, ? FROM events`+
			where, append([]any{me.Name, me.Address}, args...)...)
		out = append(out, evs...)
		return err
	})
	return newest(out, f.Limit), err
}

// eventMark is how far the stream has seen one database's events: its
// last rowid, as of the database's read version ver.
type eventMark struct {
	rowid int64
	ver   uint64
}

// eventsAfter returns the events each database recorded after the
// watermark the previous call returned for it, oldest first, and the new
// watermarks. On the first call (marks nil) it returns no event. A
// database the tick did not read again (unchanged) is not queried.
func (l *Live) eventsAfter(ctx context.Context, marks map[string]eventMark) ([]Event, map[string]eventMark) {
	next := make(map[string]eventMark, len(marks))
	var out []Event
	l.forEach(ctx, "events", func(w *workingDB, db *sql.DB, me Node) error {
		w.mu.Lock()
		ver := w.ver
		w.mu.Unlock()
		mark, ok := marks[me.Address]
		if !ok {
			next[me.Address] = eventMark{rowid: maxRowid(ctx, db), ver: ver}
			return nil
		}
		if mark.ver == ver {
			next[me.Address] = mark
			return nil
		}
		evs, err := queryEvents(ctx, db, `SELECT rowid, time, address, name, state, reason, outage_seconds, ?, ? FROM events
			WHERE rowid > ? ORDER BY rowid LIMIT 5000`, me.Name, me.Address, mark.rowid)
		m := eventMark{rowid: mark.rowid, ver: ver}
		for _, e := range evs {
			m.rowid = max(m.rowid, e.seq)
		}
		if err != nil || len(evs) == 5000 {
			m.ver = 0 // not all seen: ask again next tick
		}
		next[me.Address] = m
		out = append(out, evs...)
		return err
	})
	return out, next
}

// extentTick is Extent for the ticks: a database's span is queried again
// only when the tick read it again.
func (l *Live) extentTick(ctx context.Context) (from, to float64, err error) {
	err = l.forEach(ctx, "samples", func(w *workingDB, db *sql.DB, _ Node) error {
		w.mu.Lock()
		c, ver := w.extent, w.ver
		w.mu.Unlock()
		if !c.ok || c.ver != ver {
			var lo, hi sql.NullFloat64
			if err := db.QueryRowContext(ctx, `SELECT MIN(time), MAX(time) FROM samples`).Scan(&lo, &hi); err != nil {
				return err
			}
			c = extentCache{ver: ver, from: lo.Float64, to: hi.Float64, ok: lo.Valid && hi.Valid}
			w.mu.Lock()
			w.extent = c
			w.mu.Unlock()
		}
		if !c.ok {
			return nil // no samples yet
		}
		if from == 0 || c.from < from {
			from = c.from
		}
		to = max(to, c.to)
		return nil
	})
	return from, to, err
}

func maxRowid(ctx context.Context, db *sql.DB) int64 {
	var n sql.NullInt64
	db.QueryRowContext(ctx, `SELECT MAX(rowid) FROM events`).Scan(&n)
	return n.Int64
}

// eventWhere turns f into a WHERE clause. sourceMatches says the node
// filter already matches the source; srcCol is the analysis database's
// source column ("" for a working database).
func eventWhere(f EventFilter, sourceMatches bool, srcCol string) (string, []any) {
	var conds []string
	var args []any
	if f.Since > 0 {
		conds, args = append(conds, `time > ?`), append(args, f.Since)
	}
	if f.Until > 0 {
		conds, args = append(conds, `time <= ?`), append(args, f.Until)
	}
	if f.Target != "" {
		conds, args = append(conds, `address = ?`), append(args, f.Target)
	}
	if f.Source != "" && srcCol != "" {
		conds, args = append(conds, srcCol+`_address = ?`), append(args, f.Source)
	}
	if f.Node != "" && !sourceMatches {
		if srcCol != "" {
			conds, args = append(conds, `(name = ? OR `+srcCol+`_node = ?)`), append(args, f.Node, f.Node)
		} else {
			conds, args = append(conds, `name = ?`), append(args, f.Node)
		}
	}
	if f.Targets != nil {
		if len(f.Targets) == 0 {
			conds = append(conds, `FALSE`)
		} else {
			conds = append(conds, `address IN (`+strings.TrimSuffix(strings.Repeat("?,", len(f.Targets)), ",")+`)`)
			for _, t := range f.Targets {
				args = append(args, t)
			}
		}
	}
	q := ""
	if len(conds) > 0 {
		q = ` WHERE ` + strings.Join(conds, ` AND `)
	}
	q += ` ORDER BY time DESC`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	return q, args
}

// queryEvents runs a query whose columns are rowid, time, address, name,
// state, reason, outage_seconds, source name, source address.
func queryEvents(ctx context.Context, db *sql.DB, q string, args ...any) ([]Event, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var reason sql.NullString
		var outage sql.NullFloat64
		var src, srcAddr sql.NullString
		if err := rows.Scan(&e.seq, &e.Time, &e.TargetAddress, &e.Target, &e.State, &reason, &outage, &src, &srcAddr); err != nil {
			return out, err
		}
		e.Source, e.SourceAddress, e.Time = src.String, srcAddr.String, round3(e.Time)
		if reason.Valid && reason.String != "" {
			e.Reason = &reason.String
		}
		if outage.Valid {
			o := roundTo(outage.Float64, 3)
			e.Outage = &o
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// PairStates implements History.
func (l *Live) PairStates(ctx context.Context, at float64) ([]PairState, error) {
	var out []PairState
	err := l.forEach(ctx, "events", func(_ *workingDB, db *sql.DB, me Node) error {
		ps, err := queryPairStates(ctx, db, `SELECT ?, address, state, MAX(time) FROM events WHERE time <= ? GROUP BY address`, me.Address, at)
		out = append(out, ps...)
		return err
	})
	return out, err
}

// queryPairStates runs a query whose columns are source address, target
// address, state and time of the last event per pair. SQLite takes the bare
// column state from the row holding MAX(time).
func queryPairStates(ctx context.Context, db *sql.DB, q string, args ...any) ([]PairState, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PairState
	for rows.Next() {
		var p PairState
		var state string
		if err := rows.Scan(&p.Source, &p.Target, &state, &p.Since); err != nil {
			return out, err
		}
		p.Up = state == "up"
		out = append(out, p)
	}
	return out, rows.Err()
}

// Interval implements History from the first working database with
// samples in the minute before at.
func (l *Live) Interval(ctx context.Context, at float64) (float64, error) {
	var iv float64
	err := l.forEach(ctx, "samples", func(_ *workingDB, db *sql.DB, _ Node) error {
		if iv > 0 {
			return nil
		}
		var n, pairs int64
		var lo, hi sql.NullFloat64
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT address), MIN(time), MAX(time) FROM samples
			WHERE time > ? AND time <= ?`, at-60, at).Scan(&n, &pairs, &lo, &hi); err != nil {
			return err
		}
		iv = estimateInterval(n, pairs, hi.Float64-lo.Float64)
		return nil
	})
	return iv, err
}

// activity tells at which moments each agent was running (recorded a
// sample within stale before), by one indexed lookup per moment and
// database: an hour of a large deployment's samples is far too many rows
// to scan when serve starts.
func (l *Live) activity(ctx context.Context, times []float64, stale float64) (map[string][]bool, error) {
	active := map[string][]bool{}
	err := l.forEach(ctx, "samples", func(_ *workingDB, db *sql.DB, me Node) error {
		var lo, hi sql.NullFloat64
		if err := db.QueryRowContext(ctx, `SELECT MIN(time), MAX(time) FROM samples`).Scan(&lo, &hi); err != nil {
			return err
		}
		if !lo.Valid {
			return nil
		}
		stmt, err := db.PrepareContext(ctx, `SELECT EXISTS(SELECT 1 FROM samples WHERE time > ? AND time <= ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		a := make([]bool, len(times))
		for k, t := range times {
			if t < lo.Float64 || t-stale > hi.Float64 {
				continue
			}
			if err := stmt.QueryRowContext(ctx, t-stale, t).Scan(&a[k]); err != nil {
				return err
			}
		}
		active[me.Address] = a
		return nil
	})
	return active, err
}
