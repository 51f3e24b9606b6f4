package agent

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/probe"
	"github.com/pmonitor/pmonitor/internal/store"
	"github.com/pmonitor/pmonitor/internal/testenv"
)

// awaitHealth polls /healthz until its status is code and its body
// contains want, and returns the /metrics text of that moment.
func awaitHealth(t *testing.T, a *Agent, code int, want string) string {
	t.Helper()
	h := a.Handler()
	deadline := time.Now().Add(10 * time.Second)
	var got int
	var body string
	for time.Now().Before(deadline) {
		if got, body = get(t, h, "/healthz"); got == code && strings.Contains(body, want) {
			_, m := get(t, h, "/metrics")
			return m
		}
		time.Sleep(20 * time.Millisecond) // health follows the agent's loops: nothing to wait on
	}
	t.Fatalf("/healthz = %d %q, want %d containing %q", got, body, code, want)
	return ""
}

func wantMetric(t *testing.T, metrics, line string) {
	t.Helper()
	if !strings.Contains(metrics, "\n"+line+"\n") {
		t.Errorf("metrics lack %q", line)
	}
}

func TestHealthRegistryNeverRead(t *testing.T) {
	for _, tc := range []struct{ name, file string }{
		{"typo", "mastr.db"},
		{"corrupt", "corrupt.db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tc.file)
			if tc.file == "corrupt.db" {
				writeBytes(t, path, bytes.Repeat([]byte("not a database "), 512))
			}
			ta := startAgent(t, "10.0.0.1", targets("10.0.0.1", "10.0.0.2"), func(c *Config) {
				c.OpenRegistry = func(ctx context.Context) (store.Registry, error) { return store.OpenRegistry(ctx, path) }
			})
			m := awaitHealth(t, ta.Agent, http.StatusServiceUnavailable, "registry never read since start: ")
			wantMetric(t, m, "pmonitor_registry_up 0")
			wantMetric(t, m, "pmonitor_healthy 0")
		})
	}
}

// failingWorking makes the writes of a working database fail on demand,
// as a full disk does.
type failingWorking struct {
	WorkingDB
	fail atomic.Bool
}

var errDiskFull = errors.New("database or disk is full (SQLITE_FULL)")

func (f *failingWorking) Write(ctx context.Context, b store.Batch) error {
	if f.fail.Load() {
		return errDiskFull
	}
	return f.WorkingDB.Write(ctx, b)
}

func TestHealthWriteFailures(t *testing.T) {
	var logs testenv.SyncBuffer
	var fw *failingWorking
	ta := startAgent(t, "10.0.0.1", targets("10.0.0.1", "10.0.0.2", "10.0.0.3"), func(c *Config) {
		fw = &failingWorking{WorkingDB: c.Working}
		c.Working = fw
		c.Flush = 10 * time.Millisecond
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	ta.awaitSQL(t, `SELECT COUNT(*) FROM targets WHERE total_count > 0`, 2)
	awaitHealth(t, ta.Agent, http.StatusOK, "ok")
	fw.fail.Store(true)
	m := awaitHealth(t, ta.Agent, http.StatusServiceUnavailable, "working database writes failing: "+errDiskFull.Error())
	wantMetric(t, m, "pmonitor_healthy 0")
	for down := true; ta.Snapshot().FlushErrors < 5; down = !down {
		ta.prober.setDown("10.0.0.3", down) // a state change writes at once
		ta.prober.awaitSend(t, "10.0.0.3", 5*time.Second)
	}
	if n := logs.Count("write working db"); n != 1 {
		t.Errorf("%d warnings for %d identical write errors, want 1:\n%s", n, ta.Snapshot().FlushErrors, logs.String())
	}
	fw.fail.Store(false)
	awaitHealth(t, ta.Agent, http.StatusOK, "ok")
	if n := logs.Count("working db writable again"); n != 1 {
		t.Errorf("recovery logged %d times, want 1", n)
	}
}

// deadProber cannot send: every Send fails.
type deadProber struct{ sends atomic.Int64 }

func (d *deadProber) Send(netip.Addr, time.Duration, func(probe.Result)) error {
	d.sends.Add(1)
	return probe.ErrClosed
}

func TestHealthNoProbeSent(t *testing.T) {
	ta := startAgent(t, "10.0.0.1", targets("10.0.0.1", "10.0.0.2"), func(c *Config) {
		c.Prober = &deadProber{}
	})
	awaitHealth(t, ta.Agent, http.StatusServiceUnavailable, "no probe sent for ")
}

// holdingProber takes probes and never ends them, like a target behind a
// timeout of an hour.
type holdingProber struct{ sends atomic.Int64 }

func (h *holdingProber) Send(netip.Addr, time.Duration, func(probe.Result)) error {
	h.sends.Add(1)
	return nil
}

// TestInFlightBounded: whatever the timeout, a target has at most
// maxInFlight probes pending; the agent skips sends beyond.
func TestInFlightBounded(t *testing.T) {
	hp := &holdingProber{}
	ta := startAgent(t, "10.0.0.1", targets("10.0.0.1", "10.0.0.2", "10.0.0.3"), func(c *Config) {
		c.Prober, c.Interval, c.Timeout = hp, 100*time.Millisecond, time.Hour
	})
	deadline := time.Now().Add(10 * time.Second)
	for ta.stats.skipped.Load() < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("no sends skipped after %d sends with a timeout of an hour", hp.sends.Load())
		}
		time.Sleep(10 * time.Millisecond) // the agent's own loop: nothing to wait on
	}
	if n := hp.sends.Load(); n > 2*maxInFlight {
		t.Errorf("%d probes in flight to 2 targets, want at most %d", n, 2*maxInFlight)
	}
	awaitHealth(t, ta.Agent, http.StatusOK, "ok") // holding back is not a failure
}

// TestRunningUsesAgentClock: the registry's running heartbeat comes from
// the agent's clock, not the wall clock.
func TestRunningUsesAgentClock(t *testing.T) {
	offset := 365 * 24 * time.Hour
	ta := startAgent(t, "10.0.0.1", targets("10.0.0.1", "10.0.0.2"), func(c *Config) {
		c.Now = func() time.Time { return time.Now().Add(offset) }
		c.Heartbeat = time.Hour
	})
	ta.prober.awaitSend(t, "10.0.0.2", 5*time.Second)
	me, err := ta.reg.Lookup(context.Background(), "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if d := me.Heartbeat.Sub(time.Now().Add(offset)); !me.Running || d < -time.Minute || d > time.Minute {
		t.Errorf("registry row %+v: heartbeat %v off the agent's clock", me, d)
	}
}

// TestScrapeDoesNotBlockReceiver: while a scrape reads the target list, the
// engine's goroutine still records results.
func TestScrapeDoesNotBlockReceiver(t *testing.T) {
	a := handlerAgent(t)
	a.mu.RLock() // a scrape in progress
	done := make(chan struct{})
	go func() {
		a.onResult(probe.Result{Target: netip.MustParseAddr("10.0.0.2"), Sent: fixedNow, Status: probe.StatusReply, RTT: time.Millisecond})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Error("a result waited for the scrape")
	}
	a.mu.RUnlock()
	<-done
	if n := a.Snapshot().Sent; n != 6 {
		t.Errorf("%d results recorded, want 6", n)
	}
}

func writeBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := writeFileBytes(path, b); err != nil {
		t.Fatal(err)
	}
}

func writeFileBytes(path string, b []byte) error { return os.WriteFile(path, b, 0o644) }

// TestLocalDropNotCounted: a timeout during which this host dropped replies
// is neither a failure of the target nor a sample.
func TestLocalDropNotCounted(t *testing.T) {
	a := handlerAgent(t)
	before := a.Snapshot()
	a.onResult(probe.Result{Target: netip.MustParseAddr("10.0.0.2"), Sent: fixedNow, Status: probe.StatusLocalDrop, Reason: "dropped"})
	after := a.Snapshot()
	if after.Targets[0] != before.Targets[0] || after.Sent != before.Sent || after.LocalDrops != 1 {
		t.Errorf("after a local drop: target %+v (was %+v), sent %d (was %d), local drops %d; want the target unchanged and 1 local drop",
			after.Targets[0], before.Targets[0], after.Sent, before.Sent, after.LocalDrops)
	}
	a.pendMu.Lock()
	n := len(a.pending.Samples)
	a.pendMu.Unlock()
	if n != 5 {
		t.Errorf("%d samples pending, want the 5 real ones", n)
	}
}
