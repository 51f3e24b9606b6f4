// Package storetest is the conformance suite every Registry implementation
// passes: the SQLite one now, a distributed one later.
package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
)

// Run runs the suite; open returns a fresh, empty registry for each subtest.
func Run(t *testing.T, open func(t *testing.T) store.Registry) {
	ctx := context.Background()
	seed := []store.Target{
		{Address: "127.0.0.1", Name: "h1", Stable: true, Run: true},
		{Address: "127.0.0.3", Name: "h3", Stable: false, Run: true},
		{Address: "127.0.0.2", Name: "h3", Stable: true, Run: true}, // one node, two addresses
	}
	addrs := func(ts []store.Target) []string {
		var a []string
		for _, t := range ts {
			a = append(a, t.Address)
		}
		return a
	}

	t.Run("ReplaceKeepsInsertionOrder", func(t *testing.T) {
		r := open(t)
		must(t, r.Replace(ctx, seed))
		got, err := r.Targets(ctx)
		must(t, err)
		if want := []string{"127.0.0.1", "127.0.0.3", "127.0.0.2"}; !reflect.DeepEqual(addrs(got), want) {
			t.Errorf("Targets = %v, want %v", addrs(got), want)
		}
		if got[1].Stable || !got[2].Stable || got[2].Name != "h3" {
			t.Errorf("flags or names lost: %+v", got)
		}
	})

	t.Run("ReplaceIsAllOrNothing", func(t *testing.T) {
		r := open(t)
		must(t, r.Replace(ctx, seed))
		bad := []store.Target{{Address: "127.0.0.9", Name: "x"}, {Address: "127.0.0.9", Name: "y"}}
		if err := r.Replace(ctx, bad); !errors.Is(err, store.ErrDuplicateTarget) {
			t.Fatalf("Replace with duplicates: err = %v, want ErrDuplicateTarget", err)
		}
		got, _ := r.Targets(ctx)
		if len(got) != len(seed) {
			t.Errorf("after failed Replace: %v, want the seed intact", addrs(got))
		}
	})

	t.Run("ReplaceKeepsAgentState", func(t *testing.T) {
		// 'pmonitor init' while agents run: the agents of the addresses
		// that remain are still running, with their pid and heartbeat.
		r := open(t)
		must(t, r.Replace(ctx, seed))
		must(t, r.SetRunning(ctx, "127.0.0.1", true, 4242, time.Now()))
		hb := time.Now().Add(time.Second).Truncate(time.Millisecond)
		must(t, r.Heartbeat(ctx, "127.0.0.1", hb))
		must(t, r.SetRunning(ctx, "127.0.0.3", true, 4343, time.Now()))
		must(t, r.Replace(ctx, []store.Target{
			{Address: "127.0.0.2", Name: "h2", Stable: true, Run: true},
			{Address: "127.0.0.1", Name: "renamed", Stable: false, Run: true},
			{Address: "127.0.0.3", Name: "h3", Stable: true, Run: true},
		}))
		h1, err := r.Lookup(ctx, "127.0.0.1")
		must(t, err)
		if !h1.Running || h1.PID != 4242 || h1.Heartbeat.Sub(hb).Abs() > time.Millisecond || h1.Name != "renamed" || h1.Stable {
			t.Errorf("after Replace h1 = %+v; want running, pid 4242, heartbeat %v, the new name and flags", h1, hb)
		}
		h3, _ := r.Lookup(ctx, "127.0.0.3")
		if !h3.Running || h3.PID != 4343 {
			t.Errorf("after Replace h3 = %+v; want running, pid 4343", h3)
		}
		if h2, _ := r.Lookup(ctx, "127.0.0.2"); h2.Running || h2.PID != 0 || !h2.Heartbeat.IsZero() {
			t.Errorf("after Replace h2 = %+v; want no agent state", h2)
		}
		// An address that left the registry takes its agent state with it.
		must(t, r.Replace(ctx, seed[:1]))
		must(t, r.Add(ctx, store.Target{Address: "127.0.0.3", Name: "back", Run: true}))
		if h3, _ := r.Lookup(ctx, "127.0.0.3"); h3.Running || h3.PID != 0 {
			t.Errorf("a removed and re-added target kept its agent state: %+v", h3)
		}
	})

	t.Run("AddRemove", func(t *testing.T) {
		r := open(t)
		must(t, r.Replace(ctx, seed))
		must(t, r.Add(ctx, store.Target{Address: "::1", Name: "v6", Stable: true, Run: true}))
		if err := r.Add(ctx, store.Target{Address: "127.0.0.1", Name: "again"}); !errors.Is(err, store.ErrDuplicateTarget) {
			t.Errorf("Add duplicate: err = %v, want ErrDuplicateTarget", err)
		}
		if err := r.Remove(ctx, "127.0.0.3", "10.9.9.9"); !errors.Is(err, store.ErrUnknownTarget) {
			t.Errorf("Remove unknown: err = %v, want ErrUnknownTarget", err)
		}
		got, _ := r.Targets(ctx)
		if want := []string{"127.0.0.1", "127.0.0.3", "127.0.0.2", "::1"}; !reflect.DeepEqual(addrs(got), want) {
			t.Errorf("after Add and failed Remove: %v, want %v", addrs(got), want)
		}
		must(t, r.Remove(ctx, "127.0.0.3"))
		got, _ = r.Targets(ctx)
		if want := []string{"127.0.0.1", "127.0.0.2", "::1"}; !reflect.DeepEqual(addrs(got), want) {
			t.Errorf("after Remove: %v, want %v", addrs(got), want)
		}
	})

	t.Run("AnySpellingOfAnAddress", func(t *testing.T) {
		r := open(t)
		must(t, r.Replace(ctx, seed))
		if err := r.Add(ctx, store.Target{Address: "::ffff:127.0.0.1", Name: "again", Run: true}); !errors.Is(err, store.ErrDuplicateTarget) {
			t.Errorf("Add ::ffff:127.0.0.1 beside 127.0.0.1: err = %v, want ErrDuplicateTarget", err)
		}
		must(t, r.Add(ctx, store.Target{Address: "0:0::1", Name: "v6", Run: true}))
		if err := r.Add(ctx, store.Target{Address: "::1", Name: "v6 again", Run: true}); !errors.Is(err, store.ErrDuplicateTarget) {
			t.Errorf("Add ::1 beside 0:0::1: err = %v, want ErrDuplicateTarget", err)
		}
		must(t, r.SetRun(ctx, "::ffff:127.0.0.3", false))
		if h3, _ := r.Lookup(ctx, "127.0.0.3"); h3.Run {
			t.Errorf("stop ::ffff:127.0.0.3 left run set: %+v", h3)
		}
		must(t, r.Remove(ctx, "::FFFF:7f00:2"))
		got, _ := r.Targets(ctx)
		if want := []string{"127.0.0.1", "127.0.0.3", "::1"}; !reflect.DeepEqual(addrs(got), want) {
			t.Errorf("after Remove ::FFFF:7f00:2: %v, want %v (addresses stored canonically)", addrs(got), want)
		}
	})

	t.Run("RunAndRunningFlags", func(t *testing.T) {
		r := open(t)
		must(t, r.Replace(ctx, seed))
		must(t, r.SetRun(ctx, "127.0.0.3", false))
		must(t, r.SetRunning(ctx, "127.0.0.1", true, 4242, time.Now()))
		if err := r.SetRun(ctx, "10.9.9.9", false); !errors.Is(err, store.ErrUnknownTarget) {
			t.Errorf("SetRun unknown: err = %v, want ErrUnknownTarget", err)
		}
		h3, err := r.Lookup(ctx, "127.0.0.3")
		must(t, err)
		if h3.Run {
			t.Errorf("run flag not cleared: %+v", h3)
		}
		h1, err := r.Lookup(ctx, "127.0.0.1")
		must(t, err)
		if !h1.Running || h1.PID != 4242 || time.Since(h1.Heartbeat) > time.Minute {
			t.Errorf("running not recorded: %+v", h1)
		}
		hb := time.Now().Add(time.Second).Truncate(time.Millisecond)
		must(t, r.Heartbeat(ctx, "127.0.0.1", hb))
		h1, _ = r.Lookup(ctx, "127.0.0.1")
		if d := h1.Heartbeat.Sub(hb); d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("heartbeat = %v, want %v", h1.Heartbeat, hb)
		}
		if _, err := r.Lookup(ctx, "10.9.9.9"); !errors.Is(err, store.ErrUnknownTarget) {
			t.Errorf("Lookup unknown: err = %v, want ErrUnknownTarget", err)
		}
	})

	t.Run("APIURL", func(t *testing.T) {
		// A running agent advertises where it serves its API.
		r := open(t)
		must(t, r.Replace(ctx, seed))
		must(t, r.SetRunning(ctx, "127.0.0.1", true, 4242, time.Now()))
		must(t, r.SetAPIURL(ctx, "127.0.0.1", "http://127.0.0.1:9310"))
		h1, err := r.Lookup(ctx, "127.0.0.1")
		must(t, err)
		if h1.APIURL != "http://127.0.0.1:9310" {
			t.Errorf("api url = %q, want http://127.0.0.1:9310", h1.APIURL)
		}
		if ch, _ := r.Changed(ctx); !ch {
			t.Errorf("first Changed = false")
		}
		must(t, r.SetAPIURL(ctx, "127.0.0.1", ""))
		if ch, _ := r.Changed(ctx); ch {
			t.Errorf("own api url reported as a change")
		}
		if h1, _ = r.Lookup(ctx, "127.0.0.1"); h1.APIURL != "" {
			t.Errorf("api url not cleared: %q", h1.APIURL)
		}
		if err := r.SetAPIURL(ctx, "10.9.9.9", "http://x"); !errors.Is(err, store.ErrUnknownTarget) {
			t.Errorf("SetAPIURL unknown: err = %v, want ErrUnknownTarget", err)
		}
	})

	t.Run("Changed", func(t *testing.T) {
		r := open(t)
		must(t, r.Replace(ctx, seed))
		if ch, err := r.Changed(ctx); err != nil || !ch {
			t.Fatalf("first Changed = %v, %v; want true", ch, err)
		}
		if ch, err := r.Changed(ctx); err != nil || ch {
			t.Fatalf("Changed without writes = %v, %v; want false", ch, err)
		}
		must(t, r.Heartbeat(ctx, "127.0.0.1", time.Now()))
		if ch, _ := r.Changed(ctx); ch {
			t.Errorf("own heartbeat reported as a change")
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
