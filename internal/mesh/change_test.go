package mesh_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/mesh"
	"github.com/pmonitor/pmonitor/internal/mesh/meshtest"
)

// longAgo is when age says the databases were written: always the same
// time, so that aging a file that did not change does not change it.
var longAgo = time.Now().Add(-time.Hour)

// age sets the modification times of the databases (and their write-ahead
// logs) to longAgo, as if they had been written long before the next
// tick: their signatures are then trusted (change.go).
func age(t *testing.T, s *meshtest.Sim) { touch(t, s, longAgo) }

// touch sets the modification times of the databases and their logs.
func touch(t *testing.T, s *meshtest.Sim, old time.Time) {
	t.Helper()
	for _, p := range append([]string{s.Master}, s.Work...) {
		for _, f := range []string{p, p + "-wal"} {
			if err := os.Chtimes(f, old, old); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
		}
	}
}

// TestRefreshSkipsUnchanged checks that a tick reads only the working
// databases that changed, and stays right: a write is picked up at the
// next tick, its events are streamed, and an agent whose file no longer
// changes still turns stale when its heartbeat ages.
func TestRefreshSkipsUnchanged(t *testing.T) {
	ctx := context.Background()
	s, err := meshtest.New(ctx, t.TempDir(), 4, 1, t0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.Down = func(src, dst, k int) bool { return dst == 3 && k == 3 }
	round := func(k int) {
		t.Helper()
		if err := s.Round(ctx, t0.Add(time.Duration(k)*2*time.Second), time.Second); err != nil {
			t.Fatal(err)
		}
	}
	for k := range 3 {
		round(k)
	}
	age(t, s)
	l, err := mesh.OpenLive(s.Master, s.Work, "")
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(6 * time.Second)
	svc := mesh.NewLive(l, mesh.Options{Now: func() time.Time { return now }})
	defer svc.Close()
	refresh := func(wantReads, wantSkipped uint64) mesh.Update {
		t.Helper()
		upd, err := svc.Refresh(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.ReadStats(); got.Reads != wantReads || got.Skipped != wantSkipped {
			t.Fatalf("after refresh %d: %d reads, %d skipped; want %d and %d", upd.Generation, got.Reads, got.Skipped, wantReads, wantSkipped)
		}
		return upd
	}
	refresh(4, 0) // the first tick reads everything
	refresh(4, 4) // nothing changed: nothing read
	if n := svc.Summary().Now; n.AgentsRunning != 4 || n.LinksDown != 0 {
		t.Fatalf("before the fault: %+v", n)
	}

	// Round 3: every agent writes, gs1 fails for everyone.
	round(3)
	age(t, s)
	upd := refresh(8, 4)
	if len(upd.Events) != 3 {
		t.Errorf("the round's 3 down events were not streamed: %+v", upd.Events)
	}
	if n := svc.Summary().Now; n.LinksDown != 3 {
		t.Errorf("after the fault: %d links down, want 3", n.LinksDown)
	}
	if upd := refresh(8, 8); len(upd.Events) != 0 {
		t.Errorf("unchanged databases streamed events again: %+v", upd.Events)
	}

	// One agent stops: only its database is read again.
	if err := s.Stop(ctx, 0, t0.Add(7*time.Second)); err != nil {
		t.Fatal(err)
	}
	age(t, s)
	refresh(9, 11)
	if n := svc.Summary().Now; n.AgentsRunning != 3 {
		t.Errorf("after sat1 stopped: %d agents running, want 3", n.AgentsRunning)
	}

	// Time passes with no write: the others' heartbeats go stale although
	// their files are not read again.
	now = t0.Add(time.Minute)
	refresh(9, 15)
	if n := svc.Summary().Now; n.AgentsRunning != 0 {
		t.Errorf("a minute without writes: %d agents running, want 0", n.AgentsRunning)
	}

	// A write too recent to trust the signature (here: stamped after the
	// read) is read again at the next tick, and not once the file has aged.
	// (Every file is touched, so each counts as changed once more.)
	round(4)
	touch(t, s, time.Now().Add(time.Minute))
	refresh(13, 15)
	refresh(17, 15)
	age(t, s)
	refresh(21, 15)
	refresh(21, 19)
}
