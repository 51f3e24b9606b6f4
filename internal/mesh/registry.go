package mesh

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
)

// readRegistry reads every row of a targets table in insertion order, with
// the columns pmonitor adds when the table has them (a registry made by
// another program has only the original ones). It serves the live registry
// and an analysis database's copy of it alike.
func readRegistry(ctx context.Context, db *sql.DB) ([]RegistryRow, error) {
	have, err := columns(ctx, db, "targets")
	if err != nil {
		return nil, fmt.Errorf("read registry: %w", err)
	}
	if len(have) == 0 {
		return nil, fmt.Errorf("read registry: %w", errNoTargets)
	}
	rows, err := db.QueryContext(ctx, `SELECT address, name, COALESCE(stable, TRUE), COALESCE(run, TRUE),
		COALESCE(running, FALSE), COALESCE(`+col(have, "pid", "0")+`, 0), COALESCE(`+col(have, "heartbeat", "0")+`, 0),
		COALESCE(`+col(have, "api_url", "''")+`, '') FROM targets ORDER BY rowid`)
	if err != nil {
		return nil, fmt.Errorf("read registry: %w", err)
	}
	defer rows.Close()
	var out []RegistryRow
	for rows.Next() {
		var r RegistryRow
		if err := rows.Scan(&r.Address, &r.Name, &r.Stable, &r.Run, &r.Running, &r.PID, &r.Heartbeat, &r.URL); err != nil {
			return nil, fmt.Errorf("read registry: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read registry: %w", err)
	}
	return out, nil
}

// storeReadTimeout bounds one read of a registry behind store.Registry (an
// etcd cluster): an unreachable one shows as an error on this tick.
const storeReadTimeout = 2 * time.Second

// readStore reads the registry through store.Registry, as readRegistry
// reads a SQLite one.
func readStore(ctx context.Context, reg store.Registry) ([]RegistryRow, error) {
	ctx, cancel := context.WithTimeout(ctx, storeReadTimeout)
	defer cancel()
	ts, err := reg.Targets(ctx)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, errors.New("registry: unreachable")
		}
		return nil, fmt.Errorf("registry: %w", err)
	}
	out := make([]RegistryRow, 0, len(ts))
	for _, t := range ts {
		r := RegistryRow{Node: Node{Name: t.Name, Address: t.Address, Stable: t.Stable},
			Run: t.Run, Running: t.Running, PID: t.PID, URL: t.APIURL}
		if !t.Heartbeat.IsZero() {
			r.Heartbeat = float64(t.Heartbeat.UnixNano()) / 1e9
		}
		out = append(out, r)
	}
	return out, nil
}

// setRun is the orchestrators' own statement (SEMANTICS.md).
func setRun(ctx context.Context, db *sql.DB, address string, run bool) error {
	res, err := db.ExecContext(ctx, `UPDATE targets SET run = ? WHERE address = ?`, run, address)
	if err != nil {
		return fmt.Errorf("set run flag of %s: %w", address, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("set run flag of %s: %w", address, ErrNotFound)
	}
	return nil
}
