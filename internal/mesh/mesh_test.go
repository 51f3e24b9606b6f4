package mesh_test

import (
	"context"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/mesh"
	"github.com/pmonitor/pmonitor/internal/mesh/meshtest"
)

// t0 is the simulated start: fixed, so results are reproducible.
var t0 = time.Unix(1_700_000_000, 0)

// buildSim makes 3 satellites and 1 ground station probing each other
// every 2 s for 10 rounds; gs1 (node 3) fails for everyone in rounds 4-6
// and sat3 (node 2) never answers sat1 (node 0).
func buildSim(t *testing.T) *meshtest.Sim {
	t.Helper()
	ctx := context.Background()
	s, err := meshtest.New(ctx, t.TempDir(), 4, 1, t0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.Down = func(src, dst, k int) bool {
		return (dst == 3 && k >= 4 && k <= 6) || (src == 0 && dst == 2)
	}
	for k := 0; k < 10; k++ {
		if err := s.Round(ctx, t0.Add(time.Duration(k)*2*time.Second), time.Second); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestLiveMesh(t *testing.T) {
	s := buildSim(t)
	ctx := context.Background()
	l, err := mesh.OpenLive(s.Master, s.Work, "")
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(20 * time.Second)
	svc := mesh.NewLive(l, mesh.Options{Now: func() time.Time { return now }})
	defer svc.Close()
	if _, err := svc.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := svc.Mesh(ctx, -1, 0)
	if err != nil {
		t.Fatal(err)
	}
	// rows sat1 sat2 sat3 gs1 × cols sat1 sat2 sat3 gs1
	if want := "=unu" + "u=uu" + "uu=u" + "uuu="; m.State != want {
		t.Errorf("live state = %q, want %q", m.State, want)
	}
	at := float64(t0.Add(12*time.Second+500*time.Millisecond).UnixNano()) / 1e9
	h, err := svc.Mesh(ctx, at, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := "=und" + "u=ud" + "uu=d" + "uuu="; h.State != want {
		t.Errorf("state at %v = %q, want %q", at, h.State, want)
	}
	sum := svc.Summary()
	if sum.Now.Stable.Total != 8 || sum.Now.Dynamic.Total != 3 || sum.Now.AgentsRunning != 4 {
		t.Errorf("summary now = %+v", sum.Now)
	}
}

// TestLiveSeriesBackfill checks that a serve started on a running
// deployment charts the history it finds, then appends per tick.
func TestLiveSeriesBackfill(t *testing.T) {
	s := buildSim(t) // rounds every 2 s from t0 to t0+18s; gs1 down in rounds 4-6
	ctx := context.Background()
	l, err := mesh.OpenLive(s.Master, s.Work, "")
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(20 * time.Second)
	svc := mesh.NewLive(l, mesh.Options{Now: func() time.Time { return now }, SeriesStep: 2 * time.Second})
	defer svc.Close()
	if _, err := svc.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	ser, err := svc.Series(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Points at t0+0s, 2s, ..., 18s from the history, and t0+20s from the tick.
	if len(ser.Time) != 11 || ser.Time[0] != float64(t0.Unix()) || ser.Time[10] != float64(t0.Unix()+20) {
		t.Fatalf("series times %v, want t0 to t0+20s every 2 s", ser.Time)
	}
	// gs1 (node 3) is probed 0.75 s into each round: down from t0+8.75s to
	// the answer at t0+14.75s.
	wantDyn := []int{0, 3, 3, 3, 3, 0, 0, 0, 3, 3, 3}
	for k, w := range wantDyn {
		if ser.DynamicGood[k] != w || (k > 0 && ser.DynamicTotal[k] != 3) {
			t.Errorf("point %d (t0+%.0fs): dynamic %d/%d, want %d/3", k, ser.Time[k]-float64(t0.Unix()), ser.DynamicGood[k], ser.DynamicTotal[k], w)
		}
	}
	for k := 1; k < len(ser.Time); k++ {
		if ser.AgentsRunning[k] != 4 || ser.StableTotal[k] != 8 {
			t.Errorf("point %d: %d agents running, stable total %d; want 4 and 8", k, ser.AgentsRunning[k], ser.StableTotal[k])
		}
	}
	now = now.Add(2 * time.Second)
	if _, err := svc.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if ser, _ := svc.Series(ctx); len(ser.Time) != 12 {
		t.Errorf("a tick after the backfill: %d points, want 12", len(ser.Time))
	}
}
