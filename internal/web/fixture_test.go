package web_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/mesh"
	"github.com/pmonitor/pmonitor/internal/mesh/meshtest"
	"github.com/pmonitor/pmonitor/internal/report"
	"github.com/pmonitor/pmonitor/internal/web"
)

// t0 is the simulated start: fixed, so the goldens are reproducible.
var t0 = time.Unix(1_700_000_000, 0)

func at(d time.Duration) float64 { return float64(t0.Add(d).UnixNano()) / 1e9 }

// newSim makes 3 satellites and 1 ground station; in its rounds gs1
// fails for everyone in rounds 4-6 and sat3 never answers sat1.
func newSim(t *testing.T) *meshtest.Sim {
	t.Helper()
	s, err := meshtest.New(context.Background(), t.TempDir(), 4, 1, t0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.Down = func(src, dst, k int) bool { return (dst == 3 && k >= 4 && k <= 6) || (src == 0 && dst == 2) }
	return s
}

// rounds runs rounds [from, to) of s, one every 2 s from t0.
func rounds(t *testing.T, s *meshtest.Sim, from, to int) {
	t.Helper()
	for k := from; k < to; k++ {
		if err := s.Round(context.Background(), t0.Add(time.Duration(k)*2*time.Second), time.Second); err != nil {
			t.Fatal(err)
		}
	}
}

// clock is a settable time for the service.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// liveServer serves the simulation live: ticks at t0+9s (after round 4)
// and t0+20s (after round 9), so that the loss window has two marks.
func liveServer(t *testing.T, token string, extra ...string) (*web.Server, *meshtest.Sim, *clock) {
	t.Helper()
	ctx := context.Background()
	sim := newSim(t)
	l, err := mesh.OpenLive(sim.Master, append(append([]string(nil), sim.Work...), extra...), "")
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t0.Add(9 * time.Second)}
	svc := mesh.NewLive(l, mesh.Options{Now: clk.now, SeriesStep: time.Second})
	t.Cleanup(func() { svc.Close() })
	srv := web.New(web.Config{Service: svc, ControlToken: token})
	rounds(t, sim, 0, 5)
	if err := srv.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	rounds(t, sim, 5, 10)
	clk.t = t0.Add(20 * time.Second)
	if err := srv.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	return srv, sim, clk
}

// replayServer consolidates the simulation (every agent stopped) and
// serves the analysis database.
func replayServer(t *testing.T) *web.Server {
	t.Helper()
	ctx := context.Background()
	sim := newSim(t)
	rounds(t, sim, 0, 10)
	for i := range sim.Nodes {
		if err := sim.Stop(ctx, i, t0.Add(20*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "analysis.db")
	if _, err := report.Consolidate(ctx, sim.Master, out, sim.Work); err != nil {
		t.Fatal(err)
	}
	r, err := mesh.OpenReplay(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	svc := mesh.NewReplay(r, mesh.Options{})
	t.Cleanup(func() { svc.Close() })
	return web.New(web.Config{Service: svc})
}
