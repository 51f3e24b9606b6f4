package report

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
)

// Row is one target of a working database, with the richer columns when
// the database has them (zero otherwise).
type Row struct {
	Name                string    `json:"name"`
	Address             string    `json:"address"`
	Stable              bool      `json:"stable"`
	Responded           bool      `json:"responded"`
	SampleTime          time.Time `json:"sample_time"`
	TotalCount          int64     `json:"total_count"`
	TotalSuccess        int64     `json:"total_success"`
	Sent                int64     `json:"sent"`
	Received            int64     `json:"received"`
	RTTLastMS           *float64  `json:"rtt_last_ms,omitempty"`
	RTTMinMS            *float64  `json:"rtt_min_ms,omitempty"`
	RTTAvgMS            *float64  `json:"rtt_avg_ms,omitempty"`
	RTTMaxMS            *float64  `json:"rtt_max_ms,omitempty"`
	ConsecutiveFailures int64     `json:"consecutive_failures"`
}

// Filter selects the rows of List.
type Filter int

const (
	// Counted is the original status list: targets that have answered once
	// (total_count > 0).
	Counted Filter = iota
	// All adds the targets still waiting for their first answer.
	All
)

// List returns the status list in registry order (rowid).
func List(ctx context.Context, db *sql.DB, f Filter) ([]Row, error) {
	where := `COALESCE(total_count, 0) > 0`
	if f == All {
		where = `COALESCE(me, FALSE) = FALSE`
	}
	return rows(ctx, db, where+` ORDER BY rowid`)
}

// Last returns the n most recently sampled targets, newest first: the
// original "last five" query (SELECT name, responded FROM targets ORDER BY
// sample_time DESC LIMIT 5), over every target that has been sampled,
// including targets that never answered (those an operator looks for);
// the agent's own row and targets never probed are left out.
func Last(ctx context.Context, db *sql.DB, n int) ([]Row, error) {
	return rows(ctx, db, fmt.Sprintf(`COALESCE(me, FALSE) = FALSE AND COALESCE(sample_time, 0) > 0
		ORDER BY sample_time DESC LIMIT %d`, n))
}

// optional columns, with the expression used when the database lacks them.
var optional = []struct{ name, fallback string }{
	{"sent", "0"}, {"received", "0"}, {"rtt_last_ms", "NULL"}, {"rtt_min_ms", "NULL"},
	{"rtt_sum_ms", "NULL"}, {"rtt_max_ms", "NULL"}, {"consecutive_failures", "0"},
}

func rows(ctx context.Context, db *sql.DB, tail string) ([]Row, error) {
	have, err := store.SchemaColumns(ctx, db, "main", "targets")
	if err != nil {
		return nil, fmt.Errorf("read targets: %w", err)
	}
	cols := []string{"address", "name", "COALESCE(stable, TRUE)", "COALESCE(responded, FALSE)",
		"COALESCE(sample_time, 0)", "COALESCE(total_count, 0)", "COALESCE(total_success, 0)"}
	for _, o := range optional {
		if have[o.name] {
			cols = append(cols, o.name)
		} else {
			cols = append(cols, o.fallback)
		}
	}
	q := `SELECT ` + strings.Join(cols, ", ") + ` FROM targets WHERE ` + tail
	rs, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read targets: %w", err)
	}
	defer rs.Close()
	var out []Row
	for rs.Next() {
		var r Row
		var st float64
		var sent, recv, fails sql.NullInt64
		var last, lo, sum, hi sql.NullFloat64
		if err := rs.Scan(&r.Address, &r.Name, &r.Stable, &r.Responded, &st, &r.TotalCount, &r.TotalSuccess,
			&sent, &recv, &last, &lo, &sum, &hi, &fails); err != nil {
			return nil, fmt.Errorf("read targets: %w", err)
		}
		r.SampleTime = store.FromEpoch(st)
		r.Sent, r.Received, r.ConsecutiveFailures = sent.Int64, recv.Int64, fails.Int64
		r.RTTLastMS, r.RTTMinMS, r.RTTMaxMS = ptr(last), ptr(lo), ptr(hi)
		if sum.Valid && r.Received > 0 {
			avg := sum.Float64 / float64(r.Received)
			r.RTTAvgMS = &avg
		}
		out = append(out, r)
	}
	return out, rs.Err()
}

func ptr(f sql.NullFloat64) *float64 {
	if !f.Valid {
		return nil
	}
	return &f.Float64
}
