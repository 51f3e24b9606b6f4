package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
)

// BenchmarkChanged measures one look at a file registry of 100 agents: with
// nothing committed since the last look, and after another agent's
// heartbeat (what an agent sees while the agents' heartbeat window lasts).
func BenchmarkChanged(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "master.db")
	r, err := store.CreateRegistry(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	var ts []store.Target
	for i := range 100 {
		ts = append(ts, store.Target{Address: fmt.Sprintf("10.0.0.%d", i+1), Name: fmt.Sprint(i), Run: true, Stable: true})
	}
	if err := r.Replace(ctx, ts); err != nil {
		b.Fatal(err)
	}
	other, err := store.OpenRegistry(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer other.Close()
	if _, err := r.Changed(ctx); err != nil { // the first look sees everything as new
		b.Fatal(err)
	}
	for _, beat := range []bool{false, true} {
		b.Run(fmt.Sprintf("heartbeat=%v", beat), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if beat {
					b.StopTimer()
					if err := other.Heartbeat(ctx, "10.0.0.2", time.Unix(int64(i), 0)); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				if changed, err := r.Changed(ctx); err != nil || changed {
					b.Fatalf("Changed = %v, %v; want false", changed, err)
				}
			}
		})
	}
}
