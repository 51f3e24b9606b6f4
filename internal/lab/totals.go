package lab

import (
	"context"
	"fmt"
	"time"
)

// CompleteAt returns when the matrix became complete: the latest first
// answer of any (agent, target) pair, taken from the agents' own up events,
// so the figure does not depend on how often anyone read the databases. ok
// is false while some agent has not had a first answer from each of the
// other nodes yet. It reads one small aggregate per agent, cheap next to
// Matrix with a thousand agents. Like WaitFor it fails when an agent
// exited before Stop.
func (l *Lab) CompleteAt(ctx context.Context) (at time.Time, ok bool, err error) {
	if err := l.earlyExit(); err != nil {
		return time.Time{}, false, err
	}
	want := len(l.cfg.Nodes) - 1
	for _, a := range l.agents {
		db, err := l.dbs.get(ctx, a.work)
		if err != nil {
			return time.Time{}, false, nil // not created yet
		}
		var n int
		var last float64
		err = db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MAX(first), 0) FROM
			(SELECT MIN(time) AS first FROM events WHERE state = 'up' GROUP BY address)`).Scan(&n, &last)
		if ctx.Err() != nil {
			return time.Time{}, false, fmt.Errorf("lab: first answers of agent %s: %w", a.key, ctx.Err())
		}
		if err != nil || n < want { // a database still being created has no events table yet
			return time.Time{}, false, nil
		}
		if t := time.Unix(0, int64(last*1e9)); t.After(at) {
			at = t
		}
	}
	return at, true, nil
}

// Sent returns how many probes all agents have sent so far, as their
// working databases say (the sum of the sent column): what was sent in
// the last quarter interval (up to 22 s) may not be written yet.
func (l *Lab) Sent(ctx context.Context) (int64, error) {
	var total int64
	for _, a := range l.agents {
		db, err := l.dbs.get(ctx, a.work)
		if err != nil {
			return total, fmt.Errorf("lab: agent %s: %w", a.key, err)
		}
		var n int64
		if err := db.QueryRowContext(ctx, `SELECT COALESCE(SUM(sent), 0) FROM targets`).Scan(&n); err != nil {
			return total, fmt.Errorf("lab: probes sent by agent %s: %w", a.key, err)
		}
		total += n
	}
	return total, nil
}
