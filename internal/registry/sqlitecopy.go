package registry

import (
	"context"
	"fmt"
	"os"

	"github.com/pmonitor/pmonitor/internal/store"
)

// WriteSQLite copies reg into a new SQLite registry at path, the form that
// tools reading a registry file take (consolidate copies its targets table).
// path must not exist.
func WriteSQLite(ctx context.Context, reg store.Registry, path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("copy registry: %s already exists", path)
	}
	ts, err := reg.Targets(ctx)
	if err != nil {
		return fmt.Errorf("copy registry: %w", err)
	}
	out, err := store.CreateRegistry(ctx, path)
	if err != nil {
		return fmt.Errorf("copy registry: %w", err)
	}
	defer out.Close()
	if err := out.Replace(ctx, ts); err != nil {
		return fmt.Errorf("copy registry: %w", err)
	}
	for _, t := range ts {
		if !t.Running && t.Heartbeat.IsZero() {
			continue
		}
		hb := 0.0
		if !t.Heartbeat.IsZero() {
			hb = float64(t.Heartbeat.UnixNano()) / 1e9
		}
		if _, err := out.DB().ExecContext(ctx, `UPDATE targets SET running = ?, pid = ?, heartbeat = ? WHERE address = ?`,
			t.Running, t.PID, hb, t.Address); err != nil {
			return fmt.Errorf("copy registry: %w", err)
		}
	}
	return out.Close()
}
