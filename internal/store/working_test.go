package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
)

func openWorking(t *testing.T, path string) *store.Working {
	t.Helper()
	w, err := store.OpenWorking(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func TestWorkingZeroByteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "work.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	w := openWorking(t, path)
	if err := w.SetMe(context.Background(), "127.0.0.1", "h1", true, time.Now()); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := w.DB().QueryRow(`SELECT COUNT(*) FROM targets WHERE me = TRUE`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("me rows = %d, %v; want 1", n, err)
	}
}

func TestWorkingCountingRule(t *testing.T) {
	ctx := context.Background()
	w := openWorking(t, filepath.Join(t.TempDir(), "work.db"))
	must(t, w.SetMe(ctx, "127.0.0.1", "h1", true, time.Now()))
	must(t, w.SyncTargets(ctx, []store.Target{{Address: "127.0.0.2", Name: "h2", Stable: true}, {Address: "127.0.0.3", Name: "h3"}}))
	t0 := time.Unix(1_700_000_000, 500_000_000)
	// h2: fails twice before its first answer (not counted), answers, fails.
	steps := []store.Sample{
		{Address: "127.0.0.2", Time: t0, Answered: false},
		{Address: "127.0.0.2", Time: t0.Add(time.Second), Answered: false},
		{Address: "127.0.0.2", Time: t0.Add(2 * time.Second), Answered: true, RTT: 2 * time.Millisecond, Counted: true, StateChanged: true},
		{Address: "127.0.0.2", Time: t0.Add(3 * time.Second), Answered: false, Counted: true, StateChanged: true},
	}
	must(t, w.Write(ctx, store.Batch{Samples: steps, History: true, Heartbeat: t0}))
	states, err := w.States(ctx)
	must(t, err)
	h2 := states["127.0.0.2"]
	if h2.TotalCount != 2 || h2.TotalSuccess != 1 || h2.Responded || h2.Sent != 4 || h2.Received != 1 || h2.ConsecutiveFailures != 1 {
		t.Errorf("h2 = %+v; want total 2, success 1, not responded, sent 4, received 1, 1 failure", h2)
	}
	if got := h2.SampleTime.Sub(t0.Add(3 * time.Second)); got < -time.Millisecond || got > time.Millisecond {
		t.Errorf("sample_time = %v, want %v", h2.SampleTime, t0.Add(3*time.Second))
	}
	must(t, w.Write(ctx, store.Batch{Samples: []store.Sample{{Address: "127.0.0.3", Time: t0, Answered: false}}}))
	var st float64
	must(t, w.DB().QueryRow(`SELECT sample_time FROM targets WHERE address = '127.0.0.3'`).Scan(&st))
	if got := store.FromEpoch(st); got.Sub(t0).Abs() > time.Millisecond {
		t.Errorf("sample_time of a target probed but never answered = %v, want %v (the last-five query lists it)", got, t0)
	}
	states, err = w.States(ctx)
	must(t, err)
	h3 := states["127.0.0.3"]
	if h3.TotalCount != 0 || h3.Responded || h3.Answered() {
		t.Errorf("h3 never answered: %+v", h3)
	}
	if _, me := states["127.0.0.1"]; me {
		t.Error("States includes the me row")
	}
	// A stale success (an older probe answered late) counts but leaves
	// responded and sample_time alone.
	must(t, w.Write(ctx, store.Batch{Samples: []store.Sample{{Address: "127.0.0.2", Time: t0.Add(2500 * time.Millisecond),
		Answered: true, RTT: time.Millisecond, Counted: true, Stale: true}}}))
	states, _ = w.States(ctx)
	if h2 := states["127.0.0.2"]; h2.TotalCount != 3 || h2.TotalSuccess != 2 || h2.Responded || h2.ConsecutiveFailures != 1 {
		t.Errorf("after a stale answer h2 = %+v; want total 3, success 2, still not responded, 1 failure", h2)
	}
	var samples int
	must(t, w.DB().QueryRow(`SELECT COUNT(*) FROM samples`).Scan(&samples))
	if samples != 4 {
		t.Errorf("samples = %d, want 4", samples)
	}
	// Removing a target from the registry removes its row, keeps its samples.
	must(t, w.SyncTargets(ctx, []store.Target{{Address: "127.0.0.3", Name: "h3"}}))
	states, _ = w.States(ctx)
	if _, ok := states["127.0.0.2"]; ok || len(states) != 1 {
		t.Errorf("after sync: %v", states)
	}
	n, err := w.Prune(ctx, t0.Add(1500*time.Millisecond))
	must(t, err)
	if n != 2 {
		t.Errorf("pruned %d samples, want 2", n)
	}
}

// TestConcurrentReaders runs one writer against many readers in separate
// connections running the original queries: none may see "database is locked".
func TestConcurrentReaders(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "work.db")
	w := openWorking(t, path)
	must(t, w.SetMe(ctx, "127.0.0.1", "h1", true, time.Now()))
	var targets []store.Target
	for i := 0; i < 200; i++ {
		targets = append(targets, store.Target{Address: fmt.Sprintf("127.0.1.%d", i), Name: fmt.Sprintf("n%d", i), Stable: i%4 != 0})
	}
	must(t, w.SyncTargets(ctx, targets))

	const readers, batches = 4, 20
	var done atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, readers+1)
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each reader is a separate program: its own handle, default
			// settings plus the busy timeout any sane client sets.
			db, err := sql.Open("sqlite", path+"?_busy_timeout=15000")
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			for !done.Load() {
				for _, q := range []string{
					`SELECT COUNT(*) FROM targets WHERE stable = TRUE AND responded = TRUE`,
					`SELECT COUNT(*) FROM targets WHERE total_count > 0`,
				} {
					var n int
					if err := db.QueryRow(q).Scan(&n); err != nil {
						errs <- fmt.Errorf("reader: %s: %w", q, err)
						return
					}
				}
				reads.Add(1)
			}
		}()
	}
	for b := 0; b < batches; b++ {
		var batch store.Batch
		for _, tg := range targets {
			batch.Samples = append(batch.Samples, store.Sample{Address: tg.Address, Time: time.Now(), Answered: b%3 != 0, Counted: true, RTT: time.Millisecond})
		}
		batch.History = true
		if err := w.Write(ctx, batch); err != nil {
			errs <- fmt.Errorf("writer: %w", err)
			break
		}
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var total int
	must(t, w.DB().QueryRow(`SELECT total_count FROM targets WHERE address = '127.0.1.7'`).Scan(&total))
	if total != batches {
		t.Errorf("total_count = %d, want %d", total, batches)
	}
	t.Logf("%d batches of %d samples with %d concurrent reads", batches, len(targets), reads.Load())
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestWriteHistoryShapes checks that batches of every size go into the
// samples history completely and in order, whatever mix of multi-row
// INSERTs they take.
func TestWriteHistoryShapes(t *testing.T) {
	ctx := t.Context()
	w, err := store.OpenWorking(ctx, filepath.Join(t.TempDir(), "work.db"))
	must(t, err)
	defer w.Close()
	must(t, w.SyncTargets(ctx, []store.Target{{Address: "10.0.0.2", Name: "b", Stable: true}}))
	t0 := time.Unix(1_700_000_000, 0)
	next := 0 // the sample number, written as its time in seconds
	for _, n := range []int{0, 1, 3, 4, 5, 17, 21, 64, 85, 150} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			first := next
			var b store.Batch
			for range n {
				b.Samples = append(b.Samples, store.Sample{Address: "10.0.0.2", Time: t0.Add(time.Duration(next) * time.Second),
					Answered: next%2 == 0, RTT: time.Millisecond, Counted: true})
				next++
			}
			b.History = true
			must(t, w.Write(ctx, b))
			rows, err := w.DB().Query(`SELECT time, answered, rtt_ms FROM samples WHERE time >= ? ORDER BY rowid`, store.Epoch(t0.Add(time.Duration(first)*time.Second)))
			must(t, err)
			defer rows.Close()
			got := 0
			for rows.Next() {
				var at float64
				var answered bool
				var rtt sql.NullFloat64
				must(t, rows.Scan(&at, &answered, &rtt))
				i := first + got
				if want := store.Epoch(t0.Add(time.Duration(i) * time.Second)); at != want || answered != (i%2 == 0) || rtt.Valid != answered {
					t.Errorf("row %d: time %v answered %v rtt %v, want time %v answered %v", got, at, answered, rtt, want, i%2 == 0)
				}
				got++
			}
			if got != n {
				t.Errorf("%d history rows, want %d", got, n)
			}
		})
	}
}

// TestAgentConnectionsKeepSmallPageCaches: every connection of a working
// database and a registry (pools open more later) has the small page cache.
func TestAgentConnectionsKeepSmallPageCaches(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w := openWorking(t, filepath.Join(dir, "work.db"))
	reg, err := store.CreateRegistry(ctx, filepath.Join(dir, "master.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	for name, db := range map[string]*sql.DB{"working": w.DB(), "registry": reg.DB()} {
		// Two connections at once: the second is one the pool opens later.
		c1, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns := []*sql.Conn{c1}
		if name == "registry" {
			c2, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c2)
		}
		for i, c := range conns {
			var kib int
			if err := c.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&kib); err != nil {
				t.Fatal(err)
			}
			if kib != -store.PageCacheKiB {
				t.Errorf("%s connection %d: cache_size = %d, want %d", name, i+1, kib, -store.PageCacheKiB)
			}
		}
		for _, c := range conns {
			c.Close()
		}
	}
}

// TestSyncTargetsLeavesNoTempTable: SyncTargets keeps nothing in the
// connection's temp database, whose page cache (SQLite's default size, not
// PageCacheKiB) would stay allocated for the life of the agent.
func TestSyncTargetsLeavesNoTempTable(t *testing.T) {
	ctx := context.Background()
	w := openWorking(t, filepath.Join(t.TempDir(), "work.db"))
	must(t, w.SyncTargets(ctx, []store.Target{{Address: "127.0.0.2", Name: "a"}, {Address: "127.0.0.3", Name: "b"}}))
	must(t, w.SyncTargets(ctx, []store.Target{{Address: "127.0.0.3", Name: "b"}}))
	var n int
	must(t, w.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM temp.sqlite_master`).Scan(&n))
	if n != 0 {
		t.Errorf("%d objects in the temp database after SyncTargets, want 0", n)
	}
	states, err := w.States(ctx)
	must(t, err)
	if _, ok := states["127.0.0.2"]; ok || len(states) != 1 {
		t.Errorf("states after removing 127.0.0.2 = %v, want 127.0.0.3 alone", states)
	}
}
