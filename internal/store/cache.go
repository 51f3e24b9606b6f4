package store

import (
	"context"
	"database/sql"
	"fmt"
)

// registryCacheSchema is the agent's copy of the registry's target list,
// kept in its working database so that an agent cut off from a remote
// registry keeps probing, and a restarted one starts probing, the last list
// it saw. Created on first use: it is the agent's private table.
const registryCacheSchema = `CREATE TABLE IF NOT EXISTS registry_cache (
  position INTEGER PRIMARY KEY,  -- registry (insertion) order
  address  TEXT NOT NULL,
  name     TEXT NOT NULL,
  stable   BOOLEAN NOT NULL,
  run      BOOLEAN NOT NULL
)`

// SaveRegistryCache replaces the cached registry list with targets.
func (w *Working) SaveRegistryCache(ctx context.Context, targets []Target) error {
	ctx = context.WithoutCancel(ctx) // see SyncTargets
	return w.inTx(ctx, "save registry cache", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, registryCacheSchema); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM registry_cache`); err != nil {
			return err
		}
		st, err := tx.PrepareContext(ctx, `INSERT INTO registry_cache(position, address, name, stable, run) VALUES (?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for i, t := range targets {
			if _, err := st.ExecContext(ctx, i, t.Address, t.Name, t.Stable, t.Run); err != nil {
				return err
			}
		}
		return nil
	})
}

// RegistryCache returns the cached registry list in registry order; none
// if the agent never saved one.
func (w *Working) RegistryCache(ctx context.Context) ([]Target, error) {
	ok, err := hasTable(ctx, w.db, "registry_cache")
	if err != nil || !ok {
		return nil, err
	}
	rows, err := w.db.QueryContext(ctx, `SELECT address, name, stable, run FROM registry_cache ORDER BY position`)
	if err != nil {
		return nil, fmt.Errorf("read registry cache in %s: %w", w.path, err)
	}
	defer rows.Close()
	var ts []Target
	for rows.Next() {
		var t Target
		if err := rows.Scan(&t.Address, &t.Name, &t.Stable, &t.Run); err != nil {
			return nil, fmt.Errorf("read registry cache in %s: %w", w.path, err)
		}
		ts = append(ts, t)
	}
	return ts, rows.Err()
}
