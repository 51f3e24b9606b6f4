package lab_test

import (
	"context"
	"database/sql"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/cli"
	"github.com/pmonitor/pmonitor/internal/emu"
	"github.com/pmonitor/pmonitor/internal/lab"
	"github.com/pmonitor/pmonitor/internal/testenv"
)

// envRunCLI makes the test binary behave as pmonitor: the lab runs it
// inside the namespaces as 'pmonitor monitor ...'.
const envRunCLI = "PMONITOR_LAB_TEST_AS_CLI"

func TestMain(m *testing.M) {
	emu.MaybeReexec()
	if os.Getenv(envRunCLI) != "" {
		os.Exit(cli.Main())
	}
	os.Exit(m.Run())
}

// startLab starts a lab of nodes given as "name=prefix" (all stable, all
// agents) with fast probing, closed when t ends.
func startLab(t *testing.T, specs ...string) *lab.Lab {
	t.Helper()
	var nodes []lab.Node
	for _, s := range specs {
		name, p, _ := strings.Cut(s, "=")
		nodes = append(nodes, lab.Node{Name: name, Addr: netip.MustParsePrefix(p), Stable: true, Agent: true})
	}
	return startNodes(t, nodes, 500*time.Millisecond, 500*time.Millisecond, slog.LevelDebug)
}

// startNodes starts a lab of nodes whose agents are this test binary acting
// as pmonitor; it is closed when t ends. Options change the configuration.
func startNodes(t *testing.T, nodes []lab.Node, interval, timeout time.Duration, level slog.Level, opts ...func(*lab.Config)) *lab.Lab {
	t.Helper()
	testenv.RequireRoot(t)
	cfg := lab.Config{
		Dir: t.TempDir(), Nodes: nodes, Interval: interval, Timeout: timeout,
		Env:    []string{envRunCLI + "=1"},
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: level})),
	}
	for _, o := range opts {
		o(&cfg)
	}
	l, err := lab.Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return l
}

func TestConvergeCutRestoreStop(t *testing.T) {
	l := startLab(t, "a=10.77.0.1/16", "b=10.77.0.2/16", "c=10.77.0.3/16")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c := netip.MustParseAddr("10.77.0.3")

	if _, err := l.WaitFor(ctx, func(m lab.Matrix) bool { return m.Converged(3) }); err != nil {
		t.Fatalf("converge: %v", err)
	}
	for _, n := range []string{"a", "b", "c"} {
		if got, err := l.Status(ctx, n, false); err != nil || got.Good != 2 || got.Total != 2 {
			t.Errorf("status of %s = %+v, %v; want 2 / 2", n, got, err)
		}
	}

	if err := l.Cut(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	m, err := l.WaitFor(ctx, func(m lab.Matrix) bool {
		good, total := m.Seen(c)
		return good == 0 && total == 2 && m.Agents[2].Count(false).Good == 0 // c's agent lost a and b too
	})
	if err != nil {
		t.Fatalf("after cut: %v", err)
	}
	if l.LinkUp("c") {
		t.Error("LinkUp(c) after Cut = true")
	}
	for _, n := range []string{"a", "b"} {
		if got, err := l.Status(ctx, n, false); err != nil || got.Good != 1 || got.Total != 2 {
			t.Errorf("status of %s after cut = %+v, %v; want 1 / 2", n, got, err)
		}
	}
	if p := m.Pairs(false); p.Total != 6 || p.Good != 2 {
		t.Errorf("pairs after cut = %+v; want 2 of 6 (a↔b)", p)
	}

	if err := l.Restore(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitFor(ctx, func(m lab.Matrix) bool { return m.Converged(3) }); err != nil {
		t.Fatalf("after restore: %v", err)
	}
	evs, err := l.Events(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	downs, ups := map[string]int{}, map[string]int{}
	for _, e := range evs {
		if e.Address == c.String() && !e.Up {
			downs[e.Agent]++
		}
		if e.Address == c.String() && e.Up && e.Outage > 0 {
			ups[e.Agent]++
		}
	}
	for _, a := range []string{"a", "b"} {
		if downs[a] == 0 || ups[a] == 0 {
			t.Errorf("events of agent %s about c: %d down, %d up after an outage; want at least one each", a, downs[a], ups[a])
		}
	}
	if len(downs) != 2 {
		t.Errorf("agents with down events about c: %v; want a and b", downs)
	}

	prefix := l.Prefix()
	sum, err := l.Stop(ctx)
	if err != nil {
		t.Fatalf("stop: %v", err)
	}
	if sum.Out != filepath.Join(l.Dir(), lab.AnalysisFile) || len(sum.Sources) != 3 || sum.Skipped != 0 {
		t.Errorf("stop summary = %+v", sum)
	}
	checkHistory(t, sum.Out, map[string]int{"a": 2, "b": 2, "c": 2})
	if _, err := l.Stop(ctx); err == nil {
		t.Error("second Stop: no error")
	}
	if err := l.Close(); err != nil {
		t.Errorf("Close after Stop: %v", err)
	}
	checkGone(t, prefix)
}

// checkHistory checks the node_history rows per source node.
func checkHistory(t *testing.T, path string, want map[string]int) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT source_node, COUNT(*) FROM node_history GROUP BY source_node`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]int{}
	for rows.Next() {
		var n string
		var c int
		if err := rows.Scan(&n, &c); err != nil {
			t.Fatal(err)
		}
		got[n] = c
	}
	if len(got) != len(want) {
		t.Errorf("node_history per source = %v; want %v", got, want)
	}
	for n, c := range want {
		if got[n] != c {
			t.Errorf("node_history rows from %s = %d; want %d", n, got[n], c)
		}
	}
}

// checkGone fails t if a namespace or link of the run prefix remains.
func checkGone(t *testing.T, prefix string) {
	t.Helper()
	if left, err := lab.Leftovers(prefix); err != nil || len(left) > 0 {
		t.Errorf("left behind: %v (%v)", left, err)
	}
}

// TestCloseKillsAgents runs its two nodes on two bridges (one port each
// and one for the trunk): they converge across the trunk, and Close
// removes the trunk too.
func TestCloseKillsAgents(t *testing.T) {
	nodes := []lab.Node{
		{Name: "x", Addr: netip.MustParsePrefix("10.78.0.1/24"), Stable: true, Agent: true},
		{Name: "y", Addr: netip.MustParsePrefix("10.78.0.2/24"), Stable: true, Agent: true},
	}
	l := startNodes(t, nodes, 500*time.Millisecond, 500*time.Millisecond, slog.LevelDebug,
		func(c *lab.Config) { c.BridgePorts = 2 })
	if got := l.Bridges(); len(got) != 2 {
		t.Errorf("bridges %v, want two", got)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if _, err := l.WaitFor(ctx, func(m lab.Matrix) bool { return m.Converged(2) }); err != nil {
		t.Fatal(err)
	}
	prefix := l.Prefix()
	start := time.Now()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	if _, err := l.Stop(ctx); err == nil {
		t.Error("Stop after Close: no error")
	}
	checkGone(t, prefix)
}

func TestStartErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  lab.Config
		want string
	}{
		{lab.Config{}, "Dir and Nodes are required"},
		{lab.Config{Dir: "x", Nodes: []lab.Node{{Name: "a"}}}, `node a: invalid address`},
		{lab.Config{Dir: "x", Nodes: []lab.Node{
			{Name: "a", Addr: netip.MustParsePrefix("10.0.0.1/24")},
			{Name: "b", Addr: netip.MustParsePrefix("10.0.0.1/24")},
		}}, "node b: duplicate address 10.0.0.1"},
	} {
		if _, err := lab.Start(t.Context(), tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Start(%+v) = %v; want %q", tc.cfg, err, tc.want)
		}
	}
}
