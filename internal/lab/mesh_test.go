package lab_test

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/emu"
	"github.com/pmonitor/pmonitor/internal/lab"
	"github.com/pmonitor/pmonitor/internal/testenv"
)

// startMesh starts n nodes, all stable, each with an agent, on 10.78.0.0/16.
func startMesh(t *testing.T, n int, interval, timeout time.Duration) *lab.Lab {
	t.Helper()
	nodes, err := lab.MeshNodes(netip.MustParsePrefix("10.78.0.0/16"), n)
	if err != nil {
		t.Fatal(err)
	}
	return startNodes(t, nodes, interval, timeout, slog.LevelInfo)
}

// TestHeavyMesh20 is the end-to-end proof on a 20-node mesh: every pair
// converges; a cut node is seen failing by every other agent within about
// interval + timeout; restored, it answers again and every agent records the
// outage with its duration.
func TestHeavyMesh20(t *testing.T) {
	testenv.Heavy(t)
	const n = 20
	interval, timeout := time.Second, time.Second
	l := startMesh(t, n, interval, timeout)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()

	start := time.Now()
	if _, err := l.WaitFor(ctx, func(m lab.Matrix) bool { return m.Converged(n) }); err != nil {
		t.Fatalf("converge: %v", err)
	}
	t.Logf("%d pairs good %v after start", n*(n-1), time.Since(start).Round(time.Millisecond))

	victim := netip.MustParseAddr("10.78.0.7")
	cutAt := time.Now()
	if err := l.Cut(ctx, "n7"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitFor(ctx, func(m lab.Matrix) bool {
		good, total := m.Seen(victim)
		return total == n-1 && good == 0
	}); err != nil {
		t.Fatalf("cut not seen by every agent: %v", err)
	}
	detect := time.Since(cutAt)
	t.Logf("cut seen by all %d agents after %v (interval + timeout = %v)", n-1, detect.Round(time.Millisecond), interval+timeout)
	// Generous bound: the figure itself is measured by tools/benchmesh.
	if limit := 2 * (interval + timeout); detect > limit {
		t.Errorf("cut detected after %v, want within %v", detect, limit)
	}

	if err := l.Restore(ctx, "n7"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitFor(ctx, func(m lab.Matrix) bool { return m.Converged(n) }); err != nil {
		t.Fatalf("after restore: %v", err)
	}
	evs, err := l.Events(ctx, cutAt)
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]bool{}
	for _, e := range evs {
		if e.Address == victim.String() && e.Up && e.Outage > 0 {
			recorded[e.Agent] = true
			if e.Outage > time.Since(cutAt) {
				t.Errorf("agent %s recorded an outage of %v, longer than the test", e.Agent, e.Outage)
			}
		}
	}
	if len(recorded) != n-1 {
		t.Errorf("%d agents recorded the outage with its duration, want %d", len(recorded), n-1)
	}
}

// TestHeavyOneWayLoss drops the echo requests that n2 sends to n1: n2 must
// see n1 fail while n1 still sees n2 answer, and every other agent sees both.
func TestHeavyOneWayLoss(t *testing.T) {
	testenv.Heavy(t)
	const n = 5
	l := startMesh(t, n, 500*time.Millisecond, 500*time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if _, err := l.WaitFor(ctx, func(m lab.Matrix) bool { return m.Converged(n) }); err != nil {
		t.Fatalf("converge: %v", err)
	}
	n1, n2 := netip.MustParseAddr("10.78.0.1"), netip.MustParseAddr("10.78.0.2")
	if err := l.Host("n1").DropPings(ctx, emu.Ingress, n2); err != nil {
		t.Fatal(err)
	}
	view := func(m lab.Matrix, agent string) lab.View {
		for _, v := range m.Agents {
			if v.Node.Name == agent {
				return v
			}
		}
		t.Fatalf("no agent %s", agent)
		return lab.View{}
	}
	m, err := l.WaitFor(ctx, func(m lab.Matrix) bool {
		r, ok := view(m, "n2").Row(n1)
		return ok && r.TotalCount > 0 && !r.Responded && r.ConsecutiveFailures >= 2
	})
	if err != nil {
		t.Fatalf("n2 never saw n1 fail: %v", err)
	}
	if r, _ := view(m, "n1").Row(n2); !r.Responded || r.ConsecutiveFailures != 0 {
		t.Errorf("n1's view of n2 = %+v; want answering (the loss is n2 -> n1 only)", r)
	}
	for _, v := range m.Agents {
		if v.Node.Name == "n2" {
			continue
		}
		if c := v.Count(false); c.Good != n-1 {
			t.Errorf("agent %s sees %d/%d; want everything answering", v.Node.Name, c.Good, c.Total)
		}
	}
	if failing := m.Failing(); len(failing) != 1 {
		t.Errorf("failing pairs = %v; want exactly n2 -> n1", failing)
	} else {
		t.Logf("failing pairs: %v", failing)
	}
}

// TestHeavyMesh300 is the scaled lab in CI: 300 nodes, addresses past one
// /24, spread over two bridges and the trunk between them (150 hosts per
// bridge), every neighbour entry pinned, agents started spread out. Every
// pair converges, a node cut on the second bridge is seen failing by every
// agent, and the lab leaves nothing behind. The figures at this scale and
// beyond come from tools/benchmesh.
func TestHeavyMesh300(t *testing.T) {
	testenv.Heavy(t)
	testenv.RequireRoot(t)
	const n = 300
	interval, timeout := 10*time.Second, 2*time.Second
	nodes, err := lab.MeshNodes(netip.MustParsePrefix("10.78.0.0/16"), n)
	if err != nil {
		t.Fatal(err)
	}
	l, err := lab.Start(t.Context(), lab.Config{
		Dir: t.TempDir(), Nodes: nodes, Interval: interval, Timeout: timeout, BridgePorts: 151,
		Env: []string{envRunCLI + "=1"}, StopTimeout: 20 * time.Second,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if got := len(l.Bridges()); got != 2 {
		t.Errorf("%d bridges, want 2 of 150 hosts", got)
	}
	tm := l.Timings()
	t.Logf("hosts %v, neighbours %v, agents started over %v", tm.Hosts.Round(time.Millisecond),
		tm.Neighbors.Round(time.Millisecond), tm.LastAgent.Sub(tm.FirstAgent).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Second)
	defer cancel()

	var complete time.Time
	for {
		at, ok, err := l.CompleteAt(ctx)
		if err != nil {
			t.Fatalf("converge: %v", err)
		}
		if ok {
			complete = at
			break
		}
		time.Sleep(500 * time.Millisecond) // polling databases: no event to wait for
	}
	t.Logf("%d pairs complete %v after the first agent started", n*(n-1), complete.Sub(tm.FirstAgent).Round(time.Millisecond))

	victim := nodes[n-1] // 10.78.1.44, on the second bridge
	if l.Host(victim.Name).Bridge() == l.Host("n1").Bridge() {
		t.Errorf("%s and n1 share bridge %s", victim.Name, l.Host("n1").Bridge())
	}
	cutAt := time.Now()
	if err := l.Cut(ctx, victim.Name); err != nil {
		t.Fatal(err)
	}
	down := map[string]bool{}
	for len(down) < n-1 {
		evs, err := l.Events(ctx, cutAt)
		if err != nil {
			t.Fatalf("cut seen by %d of %d agents: %v", len(down), n-1, err)
		}
		for _, e := range evs {
			if e.Address == victim.Addr.Addr().String() && !e.Up {
				down[e.Agent] = true
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("cut of %s seen by all %d agents within %v", victim.Name, n-1, time.Since(cutAt).Round(time.Millisecond))

	prefix := l.Prefix()
	if _, err := l.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	checkGone(t, prefix)
}
