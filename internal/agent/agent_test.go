package agent

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
)

func TestAgentRecordsAndStopsOnRunFlag(t *testing.T) {
	ta := startAgent(t, "10.0.0.1", targets("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"), nil)
	ta.prober.setDown("10.0.0.4", true)
	// Original queries while the agent runs.
	ta.awaitSQL(t, `SELECT COUNT(*) FROM targets WHERE responded = TRUE`, 2)
	ta.awaitSQL(t, `SELECT COUNT(*) FROM targets WHERE total_count > 0`, 2)
	ta.awaitSQL(t, `SELECT COUNT(*) FROM targets WHERE me = TRUE AND name = 'n0'`, 1)
	// The dead target exists, uncounted: no failures before a first answer.
	ta.awaitSQL(t, `SELECT COUNT(*) FROM targets WHERE address = '10.0.0.4' AND total_count = 0 AND sent > 2`, 1)
	me, err := ta.reg.Lookup(context.Background(), "10.0.0.1")
	if err != nil || !me.Running || me.PID != os.Getpid() {
		t.Fatalf("registry row of the agent = %+v, %v; want running with our pid", me, err)
	}

	start := time.Now()
	if err := ta.reg.SetRun(context.Background(), "10.0.0.1", false); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ta.done:
		if err != nil {
			t.Fatalf("Run after stop request = %v", err)
		}
		t.Logf("stop latency %v", time.Since(start))
	case <-time.After(10 * time.Second):
		t.Fatal("agent ignored run = FALSE")
	}
	ta.cancel = nil
	ta.work.Close()
	me, _ = ta.reg.Lookup(context.Background(), "10.0.0.1")
	if me.Running {
		t.Error("running flag still set after a clean stop")
	}
}

func TestAgentRefusesToStartWhenNotAllowed(t *testing.T) {
	ts := targets("10.0.0.1", "10.0.0.2")
	ts[0].Run = false
	ta := startAgent(t, "10.0.0.1", ts, nil)
	if err := <-ta.done; err != ErrNotAllowed {
		t.Fatalf("Run = %v, want ErrNotAllowed", err)
	}
	ta.cancel = nil
}

func TestAgentFollowsRegistryChanges(t *testing.T) {
	ta := startAgent(t, "10.0.0.1", targets("10.0.0.1", "10.0.0.2", "10.0.0.3"), nil)
	ta.prober.awaitSend(t, "10.0.0.3", 5*time.Second)
	ctx := context.Background()
	added := time.Now()
	if err := ta.reg.Add(ctx, store.Target{Address: "10.0.0.9", Name: "new", Stable: true, Run: true}); err != nil {
		t.Fatal(err)
	}
	ta.prober.awaitSend(t, "10.0.0.9", 5*time.Second)
	t.Logf("new target probed %v after it was added (interval 200ms)", time.Since(added))
	ta.awaitSQL(t, `SELECT COUNT(*) FROM targets WHERE address = '10.0.0.9' AND total_count > 0`, 1)

	if err := ta.reg.Remove(ctx, "10.0.0.2"); err != nil {
		t.Fatal(err)
	}
	ta.awaitSQL(t, `SELECT COUNT(*) FROM targets WHERE address = '10.0.0.2'`, 0)
	// Drain, then check that no probe goes to the removed target for a round.
	ta.prober.awaitSend(t, "10.0.0.3", 5*time.Second)
	ta.prober.awaitSend(t, "10.0.0.3", 5*time.Second)
	for len(ta.prober.sends) > 0 {
		if a := <-ta.prober.sends; a.String() == "10.0.0.2" {
			t.Error("removed target still probed")
		}
	}
}

func TestAgentSurvivesRegistryOutage(t *testing.T) {
	ta := startAgent(t, "10.0.0.1", targets("10.0.0.1", "10.0.0.2"), nil)
	ta.prober.awaitSend(t, "10.0.0.2", 5*time.Second)
	ta.reg.Close()
	aside := ta.master + ".aside"
	if err := os.Rename(ta.master, aside); err != nil {
		t.Fatal(err)
	}
	// Still probing the last known list while the registry is gone.
	deadline := time.Now().Add(5 * time.Second)
	for ta.Snapshot().RegistryError == "" {
		ta.prober.awaitSend(t, "10.0.0.2", 5*time.Second)
		if time.Now().After(deadline) {
			t.Fatal("registry outage not noticed")
		}
	}
	ta.prober.awaitSend(t, "10.0.0.2", 5*time.Second)

	// Back, with a new target: picked up again.
	if err := os.Rename(aside, ta.master); err != nil {
		t.Fatal(err)
	}
	reg, err := store.OpenRegistry(context.Background(), ta.master)
	if err != nil {
		t.Fatal(err)
	}
	ta.reg = reg
	t.Cleanup(func() { reg.Close() })
	if err := reg.Add(context.Background(), store.Target{Address: "10.0.0.7", Name: "late", Stable: true, Run: true}); err != nil {
		t.Fatal(err)
	}
	ta.prober.awaitSend(t, "10.0.0.7", 15*time.Second)
	if e := ta.Snapshot().RegistryError; e != "" {
		t.Errorf("registry error still reported after recovery: %s", e)
	}
	if n := ta.Snapshot().RegistryErrs; n == 0 {
		t.Error("the outage left no count in registry_errors")
	}
}

func TestAgentRestartContinuesCounts(t *testing.T) {
	ta := startAgent(t, "10.0.0.1", targets("10.0.0.1", "10.0.0.2"), nil)
	ta.awaitSQL(t, `SELECT COUNT(*) FROM targets WHERE address = '10.0.0.2' AND total_count >= 3`, 1)
	if err := ta.stop(t); err != nil {
		t.Fatal(err)
	}
	var before int
	w, _ := store.OpenWorking(context.Background(), ta.working)
	w.DB().QueryRow(`SELECT total_count FROM targets WHERE address = '10.0.0.2'`).Scan(&before)
	w.Close()

	ta.prober.setDown("10.0.0.2", true)
	ta.start(t, "10.0.0.1", nil)
	// Answered before the restart: the first failure after it counts at once.
	ta.awaitSQL(t, `SELECT COUNT(*) FROM targets WHERE address = '10.0.0.2' AND responded = FALSE AND total_count > `+strconv.Itoa(before), 1)
	ta.awaitSQL(t, `SELECT COUNT(*) FROM events WHERE address = '10.0.0.2' AND state = 'down'`, 1)
}

// TestAgentTidiesAfterWritesAtItsPace: Config.Tidy runs after batch
// writes, never twice within TidyEvery.
func TestAgentTidiesAfterWritesAtItsPace(t *testing.T) {
	const every = 300 * time.Millisecond
	tidied := make(chan time.Time, 100)
	ta := startAgent(t, "10.0.0.1", targets("10.0.0.1", "10.0.0.2", "10.0.0.3"), func(c *Config) {
		c.Tidy = func() { tidied <- time.Now() }
		c.TidyEvery = every
	})
	var at []time.Time
	for len(at) < 3 {
		select {
		case ts := <-tidied:
			at = append(at, ts)
		case <-time.After(10 * time.Second):
			t.Fatalf("Tidy called %d times in 10 s, want 3", len(at))
		}
	}
	for i := 1; i < len(at); i++ {
		if d := at[i].Sub(at[i-1]); d < every {
			t.Errorf("Tidy calls %d and %d %v apart, want at least %v", i, i+1, d, every)
		}
	}
	ta.awaitSQL(t, `SELECT COUNT(*) FROM targets WHERE total_count > 0`, 2)
}

func TestTidyEveryDefault(t *testing.T) {
	for _, tc := range []struct{ interval, want time.Duration }{
		{time.Second, 30 * time.Second},
		{30 * time.Second, 30 * time.Second},
		{time.Minute, time.Minute},
	} {
		c := Config{Self: netip.MustParseAddr("10.0.0.1"), OpenRegistry: func(context.Context) (store.Registry, error) { return nil, nil },
			Working: &store.Working{}, Prober: newFakeProber(), Interval: tc.interval}
		if err := c.defaults(); err != nil {
			t.Fatal(err)
		}
		if c.TidyEvery != tc.want {
			t.Errorf("interval %v: TidyEvery = %v, want %v", tc.interval, c.TidyEvery, tc.want)
		}
	}
}

// cancelingRegistry cancels the agent's context on its first read of the
// target list and fails that read as a canceled query does: a SIGINT that
// lands while the agent starts.
type cancelingRegistry struct {
	store.Registry
	cancel context.CancelFunc
}

func (r cancelingRegistry) Targets(ctx context.Context) ([]store.Target, error) {
	r.cancel()
	return nil, fmt.Errorf("read registry: %w", context.Canceled)
}

// TestAgentStoppedWhileStartingIsACleanStop: a stop asked for during the
// start is a clean stop (nil), not a failure.
func TestAgentStoppedWhileStartingIsACleanStop(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg, err := store.CreateRegistry(ctx, filepath.Join(dir, "master.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if err := reg.Replace(ctx, targets("10.0.0.1", "10.0.0.2")); err != nil {
		t.Fatal(err)
	}
	w, err := store.OpenWorking(ctx, filepath.Join(dir, "work.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	a, err := New(Config{
		Self: netip.MustParseAddr("10.0.0.1"),
		OpenRegistry: func(ctx context.Context) (store.Registry, error) {
			return cancelingRegistry{Registry: reg, cancel: cancel}, nil
		},
		Working: w, Prober: newFakeProber(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Run(ctx); err != nil {
		t.Errorf("Run stopped while starting = %v, want nil (a clean stop)", err)
	}
}
