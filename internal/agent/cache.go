package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
)

// cachedStartWait bounds the first attempt to reach the registry when a
// cached list exists.
const cachedStartWait = 2 * time.Second

// initialTargets opens the registry and reads its targets. When the
// registry cannot be reached but the working database holds the list this
// agent last applied (registry_cache), the agent starts on that list with
// no registry (nil): a partition is what it exists to measure, and the
// watcher keeps trying to reach the registry. Without a cached list it
// waits for the registry as before. (nil, nil, nil) means ctx ended.
func (a *Agent) initialTargets(ctx context.Context) (store.Registry, []store.Target, error) {
	cached, err := a.cfg.Working.RegistryCache(ctx)
	if err != nil {
		a.log.Warn("read the cached registry list", "err", err)
		cached = nil
	}
	if len(cached) == 0 {
		reg, err := a.openRegistry(ctx)
		if err != nil {
			return nil, nil, nil // ctx ended while the registry was missing
		}
		ts, err := readTargets(ctx, reg)
		if err != nil {
			reg.Close()
			return nil, nil, fmt.Errorf("agent: %w", err)
		}
		return reg, ts, nil
	}
	// With a list to fall back on, a partition must not delay probing
	// by more than a moment.
	octx, cancel := context.WithTimeout(ctx, cachedStartWait)
	defer cancel()
	reg, err := a.cfg.OpenRegistry(octx)
	if err == nil {
		ts, terr := readTargets(octx, reg)
		if terr == nil {
			return reg, ts, nil
		}
		reg.Close()
		err = terr
	}
	if ctx.Err() != nil {
		return nil, nil, nil
	}
	// The list was read from the registry before: the agent can do its job,
	// and pmonitor_registry_up says the registry is away.
	a.health.registryRead()
	a.health.setRegistryErr(err.Error())
	a.stats.registryErrors.Add(1)
	a.log.Warn("registry unavailable; probing the cached target list", "err", err, "targets", len(cached))
	return nil, cached, nil
}

// saveCache keeps the registry's list in the working database for the
// next start without a registry; failing to is not fatal.
func (a *Agent) saveCache(ctx context.Context, targets []store.Target) {
	if err := a.cfg.Working.SaveRegistryCache(ctx, targets); err != nil {
		a.log.Warn("save the registry list in the working db", "err", err)
	}
}

// readTargets reads the list after a look at the registry's change
// marker, so that the watcher's first look finds nothing new unless
// something changed since: with a thousand targets, a second full read
// and comparison was a tenth of an agent's start. The look is best
// effort: if it fails, the watcher's first look reads everything again.
func readTargets(ctx context.Context, reg store.Registry) ([]store.Target, error) {
	_, _ = reg.Changed(ctx)
	return reg.Targets(ctx)
}
