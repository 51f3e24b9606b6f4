package mesh_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/mesh"
)

// TestLiveThroughStoreRegistry: a live source reading the registry through
// store.Registry (as serve does for etcd) sees what the SQLite file source
// sees, and its control sets the run flag through the same interface.
func TestLiveThroughStoreRegistry(t *testing.T) {
	s := buildSim(t)
	ctx := context.Background()
	now := t0.Add(20 * time.Second)
	serve := func(l *mesh.Live) *mesh.Service {
		svc := mesh.NewLive(l, mesh.Options{Now: func() time.Time { return now }})
		t.Cleanup(func() { svc.Close() })
		if _, err := svc.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		return svc
	}
	fileLive, err := mesh.OpenLive(s.Master, s.Work, "")
	if err != nil {
		t.Fatal(err)
	}
	regLive, err := mesh.OpenLiveRegistry(s.Registry(), s.Work, "")
	if err != nil {
		t.Fatal(err)
	}
	file, reg := serve(fileLive), serve(regLive)
	fm, _ := file.Mesh(ctx, -1, 0)
	rm, err := reg.Mesh(ctx, -1, 0)
	if err != nil || rm.State != fm.State || len(rm.Nodes) != len(fm.Nodes) {
		t.Errorf("mesh through store.Registry = %q (%v), from the file %q", rm.State, err, fm.State)
	}
	if got, want := reg.Summary().Now, file.Summary().Now; got != want {
		t.Errorf("summary through store.Registry = %+v, from the file %+v", got, want)
	}
	if err := regLive.SetRun(ctx, "10.9.9.9", false); !errors.Is(err, mesh.ErrNotFound) {
		t.Errorf("SetRun of an unknown address = %v, want ErrNotFound", err)
	}
	addr := rm.Nodes[0].Address
	if err := regLive.SetRun(ctx, addr, false); err != nil {
		t.Fatal(err)
	}
	if tg, err := s.Registry().Lookup(ctx, addr); err != nil || tg.Run {
		t.Errorf("after SetRun false: %+v, %v", tg, err)
	}
	if _, err := mesh.OpenLiveRegistry(nil, nil, ""); err == nil {
		t.Error("OpenLiveRegistry(nil) works")
	}
}
