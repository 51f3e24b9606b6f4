package agent

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
	"github.com/pmonitor/pmonitor/internal/testenv"
)

// A registry locked by another writer (a thousand agents' heartbeats, or an
// orchestrator's long transaction) is alive: the agent keeps its handle,
// tries its heartbeat again a little later, keeps reporting it up, and still obeys
// a stop once the lock is gone. Reopening it on every lock added a write and
// a full read per agent, and that turned contention into collapse.
func TestAgentKeepsRegistryWhileLockedByOthers(t *testing.T) {
	var logs testenv.SyncBuffer
	var opens atomic.Int32
	ta := startAgent(t, "10.0.0.1", targets("10.0.0.1", "10.0.0.2"), func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		open := c.OpenRegistry
		c.OpenRegistry = func(ctx context.Context) (store.Registry, error) {
			opens.Add(1)
			return open(ctx)
		}
	})
	ta.prober.awaitSend(t, "10.0.0.2", 5*time.Second)

	// Another program holds the write lock until the agent has met it
	// twice (heartbeats every 100 ms, each waiting store.WatchBusyTimeout).
	ctx := context.Background()
	release := holdWriteLock(t, ta.reg)
	base := ta.stats.registryErrors.Load()
	deadline := time.Now().Add(10 * time.Second)
	for ta.stats.registryErrors.Load() < base+2 {
		if time.Now().After(deadline) {
			t.Fatal("the agent never met the lock")
		}
		time.Sleep(20 * time.Millisecond) // polling a counter: no event to await
	}
	if !ta.health.registryUp() {
		t.Errorf("registry reported down while briefly locked: %s", ta.health.registryErr())
	}
	release()

	if err := ta.reg.SetRun(ctx, "10.0.0.1", false); err != nil {
		t.Fatal(err)
	}
	if err := ta.awaitDone(t, "run = FALSE after the lock"); err != nil {
		t.Fatalf("Run after stop request = %v", err)
	}
	if n := opens.Load(); n != 1 {
		t.Errorf("registry opened %d times, want once (a lock is not an outage)", n)
	}
	if n := logs.Count("registry unavailable"); n != 0 {
		t.Errorf("%d 'registry unavailable' warnings for a lock:\n%s", n, logs.String())
	}
	if n := logs.Count("registry busy"); n == 0 {
		t.Errorf("no debug line about the busy registry:\n%s", logs.String())
	}
	me, err := ta.reg.Lookup(ctx, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if me.Running {
		t.Error("running still TRUE after a clean stop")
	}
}

// A lock held past Config.BusyGrace shows as the registry down
// (pmonitor_registry_up 0) with one warning, and one line when the lock is
// gone: not a pair of lines at every try (a thousand agents wrote 266,000
// of them in ten minutes).
func TestAgentReportsRegistryLockedForGood(t *testing.T) {
	var logs testenv.SyncBuffer
	ta := startAgent(t, "10.0.0.1", targets("10.0.0.1", "10.0.0.2"), func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		c.BusyGrace = 100 * time.Millisecond
	})
	ta.prober.awaitSend(t, "10.0.0.2", 5*time.Second)
	release := holdWriteLock(t, ta.reg)
	base := ta.stats.registryErrors.Load()
	locked := time.Now()
	deadline := locked.Add(20 * time.Second)
	for ta.health.registryUp() || ta.stats.registryErrors.Load() < base+3 {
		if time.Now().After(deadline) {
			t.Fatalf("registry still up while locked for good:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond) // polling health: no event to await
	}
	if n := logs.Count("registry locked by another program"); n != 1 {
		t.Errorf("%d warnings while locked, want 1:\n%s", n, logs.String())
	}
	if n := logs.Count("registry available again"); n != 0 {
		t.Errorf("%d recoveries logged while still locked:\n%s", n, logs.String())
	}
	// Tries come a second or two apart, whatever the heartbeat period
	// (100 ms here): a locked registry is not hammered.
	if n, most := ta.stats.registryErrors.Load()-base, uint64(time.Since(locked)/time.Second)+2; n > most {
		t.Errorf("%d tries in %v of lock, want at most %d", n, time.Since(locked).Round(time.Millisecond), most)
	}
	release()
	for !ta.health.registryUp() {
		if time.Now().After(deadline) {
			t.Fatalf("registry still down after the lock was released:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := logs.Count("registry available again"); n != 1 {
		t.Errorf("%d recoveries logged, want 1:\n%s", n, logs.String())
	}
}

// holdWriteLock takes the registry's write lock as another program would
// (BEGIN IMMEDIATE on a connection of its own) and returns the function
// that commits and releases it.
func holdWriteLock(t *testing.T, reg *store.SQLiteRegistry) (release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := reg.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	return func() {
		if _, err := conn.ExecContext(ctx, `COMMIT`); err != nil {
			t.Fatal(err)
		}
	}
}
