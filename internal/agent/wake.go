package agent

import (
	"hash/fnv"
	"net/netip"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
)

// registryWake decides when the watcher looks at the registry, so that an
// idle agent sleeps between real changes: at once when the registry
// announces a change (a file registry through inotify, at most once per
// store.NotifyQuiet), on a slow safety poll (Config.Recheck) otherwise,
// and every Config.Watch when the registry cannot announce changes (no
// inotify instance left): the fallback is logged once per agent.
type registryWake struct {
	changes  <-chan struct{} // nil while polling
	from     store.Registry  // the registry changes belongs to
	fellBack bool            // the fallback was logged
}

// follow subscribes to reg's announcements if it makes them and reg is not
// the registry followed already. A nil reg (unavailable) unsubscribes.
func (w *watcher) follow(reg store.Registry) {
	rw := &w.wake
	if reg == rw.from {
		return
	}
	rw.from, rw.changes = reg, nil
	n, ok := reg.(store.Notifier)
	if reg == nil || !ok {
		return
	}
	c, err := n.Changes()
	if err != nil {
		if !rw.fellBack {
			rw.fellBack = true
			w.a.log.Warn("registry changes not announced; polling it instead (raise fs.inotify.max_user_instances)",
				"err", err, "poll", w.a.cfg.Watch)
		}
		return
	}
	rw.changes = c
}

// nextWake returns how long the watcher may sleep after a look at now: to
// the next poll, heartbeat or retry, whichever comes first.
func (w *watcher) nextWake(now time.Time) time.Duration {
	a := w.a
	var at time.Time
	switch {
	case w.reg == nil:
		at = w.retryAt
	case w.wake.changes == nil:
		at = now.Add(a.cfg.Watch)
	default:
		at = now.Add(a.cfg.Recheck)
	}
	// The writes owed (heartbeat, running flag) are due at the next
	// heartbeat, or after a lock at the retry time, never earlier.
	write := w.nextHB
	if !w.busyAt.IsZero() {
		write = w.busyAt
	}
	if w.reg != nil && write.Before(at) {
		at = write
	}
	return max(at.Sub(now), 0)
}

// heartbeatAt returns when the registry heartbeat after now is due: at the
// next multiple of the heartbeat period on the wall clock, shifted by this
// agent's slot in a window shared by every agent (see heartbeatPlan).
// Every heartbeat is a commit that wakes every agent on the registry;
// spread over the whole period, a hundred agents' heartbeats would keep
// each one looking twice a second, while gathered into one window they
// cost each a few looks per period.
func heartbeatAt(now time.Time, base time.Duration, self netip.Addr, agents int) time.Time {
	period, window := heartbeatPlan(base, agents)
	var slot time.Duration
	if window > 0 {
		h := fnv.New64a()
		b, _ := self.MarshalBinary()
		h.Write(b)
		slot = time.Duration(h.Sum64() % uint64(window))
	}
	at := now.Truncate(period).Add(slot)
	for !at.After(now) {
		at = at.Add(period)
	}
	return at
}

// heartbeatSpacing is the gap between two agents' registry heartbeats
// within the shared window: at most 10 commits a second. A commit holds the
// registry's write lock for about a millisecond, but on a saturated machine
// the holder may lose its core while it holds it, for tens of
// milliseconds. A thousand agents beating 5 ms apart (200 commits a
// second), and later 20 ms apart, on a machine saturated by the end of the
// mesh's start made a lock convoy: every agent's heartbeat met a locked
// registry for 30 s, the waits and retries kept both cores busy, and the
// mesh fell apart.
const heartbeatSpacing = 100 * time.Millisecond

// heartbeatPlan returns the registry heartbeat's period and window for
// agents agents sharing one registry, given the configured period base.
// The window is heartbeatSpacing per agent (at least store.NotifyQuiet).
// A notifier signals the first commit at once and then at most once per
// store.NotifyQuiet, so every agent looks twice a second while the window
// lasts: the window's share of the period is the share of time that the
// registry keeps every agent looking. A thousand agents looking twice a
// second cost the machine most of a core (each look takes the file's POSIX
// locks, whose list holds an entry per agent), and for a hundred idle
// agents the looks of a window every 16 were 16 % of their CPU samples, so
// a large registry stretches the period to 32 windows (100 agents: a 10 s
// window every 320 s; 1,000 agents: 100 s every 53 min); a short period
// (tests) with a few agents keeps the window within a quarter of it.
// Nothing judges liveness by the registry heartbeat alone: the working
// database's me row beats at every write and at least every 30 s, and a
// second agent for the same address is refused while the registry
// heartbeat is younger than three periods and its pid lives
// (aliveElsewhere).
func heartbeatPlan(base time.Duration, agents int) (period, window time.Duration) {
	spread := max(time.Duration(agents)*heartbeatSpacing, store.NotifyQuiet)
	period = base
	if spread > store.NotifyQuiet {
		period = max(base, 32*spread)
	}
	return period, min(period/4, spread)
}
