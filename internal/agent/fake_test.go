package agent

import (
	"context"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/probe"
	"github.com/pmonitor/pmonitor/internal/store"
)

// fakeProber answers at once: a reply for targets that are up, a timeout
// for those that are down. Every send is announced on sends.
type fakeProber struct {
	mu    sync.Mutex
	down  map[netip.Addr]bool
	sends chan netip.Addr
}

func newFakeProber() *fakeProber {
	return &fakeProber{down: map[netip.Addr]bool{}, sends: make(chan netip.Addr, 1<<16)}
}

func (f *fakeProber) Send(target netip.Addr, timeout time.Duration, done func(probe.Result)) error {
	f.mu.Lock()
	down := f.down[target]
	f.mu.Unlock()
	r := probe.Result{Target: target, Sent: time.Now(), Status: probe.StatusReply, RTT: 100 * time.Microsecond}
	if down {
		r.Status, r.Reason, r.RTT = probe.StatusTimeout, "timeout after "+timeout.String(), 0
	}
	select {
	case f.sends <- target:
	default:
	}
	go done(r)
	return nil
}

func (f *fakeProber) setDown(a string, down bool) {
	f.mu.Lock()
	f.down[netip.MustParseAddr(a)] = down
	f.mu.Unlock()
}

// awaitSend waits for a probe to addr.
func (f *fakeProber) awaitSend(t *testing.T, addr string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	want := netip.MustParseAddr(addr)
	deadline := time.After(within)
	for {
		select {
		case a := <-f.sends:
			if a == want {
				return time.Since(start)
			}
		case <-deadline:
			t.Fatalf("no probe to %s within %v", addr, within)
		}
	}
}

// testAgent is an agent on temp files with a fake prober.
type testAgent struct {
	*Agent
	master, working string
	reg             *store.SQLiteRegistry // the orchestrator's handle
	work            *store.Working
	prober          *fakeProber
	done            chan error
	cancel          context.CancelFunc
}

func startAgent(t *testing.T, self string, ts []store.Target, mutate func(*Config)) *testAgent {
	t.Helper()
	dir := t.TempDir()
	ta := &testAgent{master: filepath.Join(dir, "master.db"), working: filepath.Join(dir, "work.db"), prober: newFakeProber()}
	ctx := context.Background()
	reg, err := store.CreateRegistry(ctx, ta.master)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	if err := reg.Replace(ctx, ts); err != nil {
		t.Fatal(err)
	}
	ta.reg = reg
	ta.start(t, self, mutate)
	return ta
}

// start runs (or restarts) the agent on the test's files.
func (ta *testAgent) start(t *testing.T, self string, mutate func(*Config)) {
	t.Helper()
	ctx := context.Background()
	w, err := store.OpenWorking(ctx, ta.working)
	if err != nil {
		t.Fatal(err)
	}
	ta.work = w
	cfg := Config{
		Self: netip.MustParseAddr(self),
		OpenRegistry: func(ctx context.Context) (store.Registry, error) {
			return store.OpenRegistry(ctx, ta.master)
		},
		Working: w, Prober: ta.prober,
		Interval: 200 * time.Millisecond, Timeout: 100 * time.Millisecond, Retention: time.Hour,
		Flush: 50 * time.Millisecond, Watch: 50 * time.Millisecond, Heartbeat: 100 * time.Millisecond,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ta.Agent = a
	rctx, cancel := context.WithCancel(ctx)
	ta.cancel = cancel
	ta.done = make(chan error, 1)
	go func() { ta.done <- a.Run(rctx) }()
	t.Cleanup(func() { ta.stop(t) })
}

// stop cancels the agent and waits for Run to return.
func (ta *testAgent) stop(t *testing.T) error {
	t.Helper()
	if ta.cancel == nil {
		return nil
	}
	ta.cancel()
	ta.cancel = nil
	var err error
	select {
	case err = <-ta.done:
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not stop")
	}
	ta.work.Close()
	return err
}

// awaitSQL waits until query returns want on the working database.
func (ta *testAgent) awaitSQL(t *testing.T, query string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var got int
	for time.Now().Before(deadline) {
		if err := ta.work.DB().QueryRow(query).Scan(&got); err == nil && got == want {
			return
		}
		<-ta.prober.sends // progress happens on sends; wait for one
	}
	t.Fatalf("%s = %d, want %d", query, got, want)
}
