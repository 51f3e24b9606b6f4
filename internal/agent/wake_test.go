package agent

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
	"github.com/pmonitor/pmonitor/internal/testenv"
)

// quietConfig leaves the registry's announcements as the only reason for
// the watcher to look: no poll, no safety poll, no heartbeat within a test.
func quietConfig(c *Config) {
	c.Watch, c.Recheck, c.Heartbeat = time.Hour, time.Hour, time.Hour
}

// sqlite3 runs plain SQL on the database at path in another process, as an
// orchestrator does.
func sqlite3(t *testing.T, path, query string) {
	t.Helper()
	bin := testenv.RequireCommand(t, "sqlite3", "sqlite3")
	if out, err := exec.Command(bin, "-cmd", ".timeout 5000", path, query).CombinedOutput(); err != nil {
		t.Fatalf("sqlite3 %q: %v: %s", query, err, out)
	}
}

// awaitDone waits for the agent's Run to return and returns its error.
func (ta *testAgent) awaitDone(t *testing.T, what string) error {
	t.Helper()
	select {
	case err := <-ta.done:
		ta.cancel = nil
		ta.work.Close()
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("agent ignored %s", what)
		return nil
	}
}

func TestAgentWokenByRegistryEditFromAnotherProcess(t *testing.T) {
	ta := startAgent(t, "10.0.0.1", targets("10.0.0.1", "10.0.0.2"), quietConfig)
	ta.prober.awaitSend(t, "10.0.0.2", 5*time.Second)

	// A target added by plain SQL: no pmonitor code ran, no poll is due.
	added := time.Now()
	sqlite3(t, ta.master, `INSERT INTO targets (address, name) VALUES ('10.0.0.9', 'new')`)
	ta.prober.awaitSend(t, "10.0.0.9", 5*time.Second)
	t.Logf("target added by another process probed after %v (no poll for an hour)", time.Since(added))

	stopped := time.Now()
	sqlite3(t, ta.master, `UPDATE targets SET run = FALSE WHERE address = '10.0.0.1'`)
	if err := ta.awaitDone(t, "run = FALSE set by another process"); err != nil {
		t.Fatalf("Run after stop request = %v", err)
	}
	t.Logf("stopped %v after run = FALSE", time.Since(stopped))
}

// silentRegistry is a file registry that cannot announce its changes, as
// when the user has no inotify instance left.
type silentRegistry struct{ store.Registry }

var errNoInotify = errors.New("watch master.db: inotify: too many open files (see fs.inotify.max_user_instances)")

func (silentRegistry) Changes() (<-chan struct{}, error) { return nil, errNoInotify }

func TestAgentPollsRegistryWithoutNotifier(t *testing.T) {
	var logs testenv.SyncBuffer
	ta := startAgent(t, "10.0.0.1", targets("10.0.0.1", "10.0.0.2"), func(c *Config) {
		quietConfig(c)
		c.Watch = 50 * time.Millisecond // the fallback poll
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		open := c.OpenRegistry
		c.OpenRegistry = func(ctx context.Context) (store.Registry, error) {
			r, err := open(ctx)
			if err != nil {
				return nil, err
			}
			return silentRegistry{r}, nil
		}
	})
	ta.prober.awaitSend(t, "10.0.0.2", 5*time.Second)
	if err := ta.reg.Add(context.Background(), store.Target{Address: "10.0.0.9", Name: "new", Stable: true, Run: true}); err != nil {
		t.Fatal(err)
	}
	ta.prober.awaitSend(t, "10.0.0.9", 5*time.Second)
	if err := ta.reg.SetRun(context.Background(), "10.0.0.1", false); err != nil {
		t.Fatal(err)
	}
	if err := ta.awaitDone(t, "run = FALSE while polling"); err != nil {
		t.Fatalf("Run after stop request = %v", err)
	}
	if n := logs.Count("registry changes not announced"); n != 1 {
		t.Errorf("fallback logged %d times, want once:\n%s", n, logs.String())
	}
}

func TestHeartbeatAt(t *testing.T) {
	self := netip.MustParseAddr("10.0.0.1")
	base := time.Unix(1_699_200_000, 0) // a multiple of 30, 320, 800 and 3,200 s
	const agents = 9                    // a window of 0.9 s every 30 s
	slot := heartbeatAt(base.Add(-time.Nanosecond), 30*time.Second, self, agents).Sub(base)
	if slot < 0 || slot >= 900*time.Millisecond {
		t.Fatalf("slot %v, want within the 0.9 s window", slot)
	}
	for _, tc := range []struct {
		name   string
		now    time.Time
		period time.Duration
		want   time.Time
	}{
		{"before the slot", base, 30 * time.Second, base.Add(slot)},
		{"at the slot: the next period", base.Add(slot), 30 * time.Second, base.Add(30*time.Second + slot)},
		{"late in the period", base.Add(29 * time.Second), 30 * time.Second, base.Add(30*time.Second + slot)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := heartbeatAt(tc.now, tc.period, self, agents); !got.Equal(tc.want) {
				t.Errorf("heartbeatAt(%v) = %v, want %v", tc.now.Sub(base), got.Sub(base), tc.want.Sub(base))
			}
		})
	}
	// Every agent's slot falls in the same window of each period, as wide
	// as the agents on the registry need; a large registry stretches the
	// period to 32 windows, heartbeats 100 ms apart.
	for _, tc := range []struct {
		agents         int
		period, window time.Duration
	}{
		{2, 30 * time.Second, 500 * time.Millisecond},
		{9, 30 * time.Second, 900 * time.Millisecond},
		{18, 57600 * time.Millisecond, 1800 * time.Millisecond},
		{100, 320 * time.Second, 10 * time.Second},
		{250, 800 * time.Second, 25 * time.Second},
		{1000, 3200 * time.Second, 100 * time.Second},
	} {
		if p, w := heartbeatPlan(30*time.Second, tc.agents); p != tc.period || w != tc.window {
			t.Errorf("heartbeatPlan(30s, %d) = %v, %v; want %v, %v", tc.agents, p, w, tc.period, tc.window)
		}
		for i := range 50 {
			a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
			at := heartbeatAt(base, 30*time.Second, a, tc.agents)
			if s := at.Sub(base); s < 0 || s >= tc.window {
				t.Errorf("%d agents, %v: heartbeat %v after the period's start, want within %v", tc.agents, a, s, tc.window)
			}
			if next := heartbeatAt(at, 30*time.Second, a, tc.agents); next.Sub(at) != tc.period {
				t.Errorf("%d agents, %v: heartbeats %v apart, want %v", tc.agents, a, next.Sub(at), tc.period)
			}
		}
	}
	// Short periods (tests) keep the window within a quarter period.
	if s := heartbeatAt(base, 100*time.Millisecond, self, 3).Sub(base); s < 0 || s >= 25*time.Millisecond {
		t.Errorf("100ms period: heartbeat %v after the period's start, want within 25ms", s)
	}
}
