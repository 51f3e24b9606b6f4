package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
	"github.com/pmonitor/pmonitor/internal/store/storetest"
)

func TestSQLiteRegistryConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Registry {
		r, err := store.CreateRegistry(context.Background(), filepath.Join(t.TempDir(), "master.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	})
}

func TestRegistryMadeByAnotherProgram(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "master.db")
	storetest.CreateOriginal(t, path,
		`INSERT INTO targets(address, name, stable) VALUES ('127.0.0.5', 'b', FALSE), ('127.0.0.4', 'a', TRUE)`)
	r, err := store.OpenRegistry(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ts, err := r.Targets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || ts[0].Address != "127.0.0.5" || ts[0].Stable || !ts[0].Run {
		t.Fatalf("targets = %+v", ts)
	}
	if err := r.SetRunning(ctx, "127.0.0.4", true, 7, time.Now()); err != nil {
		t.Fatal(err)
	}
	// The original query still works after the migration.
	var run bool
	if err := r.DB().QueryRow(`SELECT run FROM targets WHERE address = ?`, "127.0.0.4").Scan(&run); err != nil || !run {
		t.Fatalf("original query: run=%v err=%v", run, err)
	}
	// A second open (another agent) migrates nothing and fails nothing.
	r2, err := store.OpenRegistry(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	r2.Close()
}

func TestOpenRegistryMissing(t *testing.T) {
	_, err := store.OpenRegistry(context.Background(), filepath.Join(t.TempDir(), "none.db"))
	if err == nil {
		t.Fatal("OpenRegistry on a missing file succeeded")
	}
}

func TestChangedSeesOtherWriters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "master.db")
	r, err := store.CreateRegistry(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Changed(ctx)
	storetest.PlainSQL(t, path, `INSERT INTO targets(address, name) VALUES ('127.0.0.8', 'x')`)
	ch, err := r.Changed(ctx)
	if err != nil || !ch {
		t.Fatalf("Changed after another connection's write = %v, %v; want true", ch, err)
	}
}

func TestChangedIgnoresHeartbeatsOfOthers(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "master.db")
	r, err := store.CreateRegistry(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Replace(ctx, []store.Target{{Address: "127.0.0.1", Name: "a", Run: true}, {Address: "127.0.0.2", Name: "b", Run: true}}); err != nil {
		t.Fatal(err)
	}
	r.Changed(ctx)
	for _, tc := range []struct {
		stmt string
		want bool
	}{
		{`UPDATE targets SET heartbeat = 123, running = TRUE WHERE address = '127.0.0.2'`, false},
		{`UPDATE targets SET run = FALSE WHERE address = '127.0.0.1'`, true},
		{`UPDATE targets SET stable = FALSE WHERE address = '127.0.0.2'`, true},
		{`INSERT INTO targets(address, name) VALUES ('127.0.0.3', 'c')`, true},
		{`DELETE FROM targets WHERE address = '127.0.0.3'`, true},
		{`DROP TRIGGER pmonitor_gen_update`, true},
		// Without the trigger every commit counts: safe, if slower.
		{`UPDATE targets SET heartbeat = 124 WHERE address = '127.0.0.2'`, true},
	} {
		storetest.PlainSQL(t, path, tc.stmt)
		if got, err := r.Changed(ctx); err != nil || got != tc.want {
			t.Errorf("after %s: Changed = %v, %v; want %v", tc.stmt, got, err, tc.want)
		}
	}
}

// TestRowsSpelledByAnotherProgram: a registry written with plain SQL may
// spell an address in any form; stop, start, remove and add still find it.
func TestRowsSpelledByAnotherProgram(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "master.db")
	storetest.CreateOriginal(t, path,
		`INSERT INTO targets(address, name) VALUES ('::ffff:127.0.0.5', 'a'), ('0:0:0::1', 'b'), ('127.0.0.6', 'c')`)
	r, err := store.OpenRegistry(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.SetRun(ctx, "127.0.0.5", false); err != nil {
		t.Errorf("SetRun 127.0.0.5 on a row spelled ::ffff:127.0.0.5: %v", err)
	}
	var run bool
	if err := r.DB().QueryRow(`SELECT run FROM targets WHERE address = '::ffff:127.0.0.5'`).Scan(&run); err != nil || run {
		t.Errorf("run of ::ffff:127.0.0.5 = %v, %v; want false", run, err)
	}
	if err := r.Add(ctx, store.Target{Address: "::1", Name: "dup", Run: true}); !errors.Is(err, store.ErrDuplicateTarget) {
		t.Errorf("Add ::1 beside a row spelled 0:0:0::1: err = %v, want ErrDuplicateTarget", err)
	}
	if err := r.Remove(ctx, "::1", "127.0.0.5"); err != nil {
		t.Errorf("Remove ::1 127.0.0.5: %v", err)
	}
	ts, _ := r.Targets(ctx)
	if len(ts) != 1 || ts[0].Address != "127.0.0.6" {
		t.Errorf("after Remove: %+v; want only 127.0.0.6", ts)
	}
}

// TestWatchedRegistryKeepsOneConnection: once an agent watches the registry
// (Changed), its reads go through the watch connection: one SQLite
// connection (page cache, schema, statements) per agent, not two.
func TestWatchedRegistryKeepsOneConnection(t *testing.T) {
	ctx := context.Background()
	r, err := store.CreateRegistry(ctx, filepath.Join(t.TempDir(), "master.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Add(ctx, store.Target{Address: "127.0.0.2", Run: true}, store.Target{Address: "127.0.0.3", Run: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Changed(ctx); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		ts, err := r.Targets(ctx)
		if err != nil || len(ts) != 2 {
			t.Fatalf("Targets = %v, %v", ts, err)
		}
		if err := r.Heartbeat(ctx, "127.0.0.2", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if n := r.DB().Stats().OpenConnections; n != 1 {
		t.Errorf("%d connections open, want 1", n)
	}
	// Its own reads do not count as changes.
	if changed, err := r.Changed(ctx); err != nil || changed {
		t.Errorf("Changed after own reads and heartbeats = %v, %v; want false", changed, err)
	}
}
