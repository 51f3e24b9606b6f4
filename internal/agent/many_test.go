package agent

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
	"github.com/pmonitor/pmonitor/internal/testenv"
)

// warnCounter is a slog handler that counts warnings and errors: any of them
// here would be a lock error or a failed write.
type warnCounter struct {
	n       atomic.Int64
	polling atomic.Int64 // agents that fell back to polling the registry
	mu      sync.Mutex
	last    string
}

func (w *warnCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnCounter) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "registry changes not announced") {
		// 200 agents in one process outnumber the default 128 inotify
		// instances: those beyond poll, as they should.
		w.polling.Add(1)
		return nil
	}
	w.n.Add(1)
	w.mu.Lock()
	w.last = r.Message
	r.Attrs(func(a slog.Attr) bool { w.last += " " + a.String(); return true })
	w.mu.Unlock()
	return nil
}
func (w *warnCounter) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnCounter) WithGroup(string) slog.Handler      { return w }

// TestHeavyManyAgentsShareOneRegistry runs 200 agents on one registry (each with
// its own connections, as separate processes would have) while readers run
// the original queries on the registry and the working databases, then stops
// them all through the run flag. No lock error may surface anywhere.
func TestHeavyManyAgentsShareOneRegistry(t *testing.T) {
	testenv.Heavy(t)
	const n = 200
	ctx := context.Background()
	dir := t.TempDir()
	master := filepath.Join(dir, "master.db")
	reg, err := store.CreateRegistry(ctx, master)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	var ts []store.Target
	for i := 0; i < n; i++ {
		ts = append(ts, store.Target{Address: fmt.Sprintf("10.1.%d.%d", i/250, i%250+1), Name: fmt.Sprintf("node%d", i), Stable: i%5 != 0, Run: true})
	}
	if err := reg.Replace(ctx, ts); err != nil {
		t.Fatal(err)
	}

	warns := &warnCounter{}
	prober := newFakeProber()
	type running struct {
		a    *Agent
		done chan error
		path string
	}
	agents := make([]running, n)
	for i := range agents {
		path := filepath.Join(dir, fmt.Sprintf("work%d.db", i))
		w, err := store.OpenWorking(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		a, err := New(Config{
			Self:         netip.MustParseAddr(ts[i].Address),
			OpenRegistry: func(ctx context.Context) (store.Registry, error) { return store.OpenRegistry(ctx, master) },
			Working:      w, Prober: prober,
			Interval: 2 * time.Second, Timeout: time.Second, Retention: time.Hour,
			Logger: slog.New(warns),
		})
		if err != nil {
			t.Fatal(err)
		}
		agents[i] = running{a: a, done: make(chan error, 1), path: path}
		go func() { agents[i].done <- a.Run(ctx) }()
	}

	// Readers: the orchestrator's queries, in their own connections.
	var stop atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	readErrs := make(chan error, 16)
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := r; !stop.Load(); i = (i + 7) % n {
				for _, q := range []struct{ path, query string }{
					{agents[i].path, `SELECT COUNT(*) FROM targets WHERE stable = TRUE AND responded = TRUE`},
					{agents[i].path, `SELECT COUNT(*) FROM targets WHERE total_count > 0`},
					{master, `SELECT COUNT(*) FROM targets WHERE run = TRUE`},
				} {
					db, err := sql.Open("sqlite", q.path+"?_busy_timeout=15000")
					if err == nil {
						var c int
						err = db.QueryRow(q.query).Scan(&c)
						db.Close()
					}
					if err != nil {
						readErrs <- fmt.Errorf("%s on %s: %w", q.query, q.path, err)
						return
					}
					reads.Add(1)
				}
			}
		}()
	}

	// Wait for a full round everywhere: every agent sees all 199 others.
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; i < n; {
		if s := agents[i].a.Snapshot(); s.Total == n-1 {
			i++
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent %d did not complete a round: %+v", i, agents[i].a.Snapshot().Total)
		}
		<-prober.sends
	}

	// Stop them all through the registry, as an orchestrator does.
	start := time.Now()
	orch, err := sql.Open("sqlite", master+"?_busy_timeout=15000")
	if err != nil {
		t.Fatal(err)
	}
	defer orch.Close()
	for _, tg := range ts {
		if _, err := orch.Exec(`UPDATE targets SET run = ? WHERE address = ?`, false, tg.Address); err != nil {
			t.Fatalf("orchestrator stop: %v", err)
		}
	}
	for i := range agents {
		select {
		case err := <-agents[i].done:
			if err != nil {
				t.Errorf("agent %d: %v", i, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("agent %d did not stop", i)
		}
	}
	t.Logf("200 agents stopped %v after the first stop request; %d reads by orchestrators; %d agents polled the registry (no inotify instance left)",
		time.Since(start), reads.Load(), warns.polling.Load())
	stop.Store(true)
	wg.Wait()
	close(readErrs)
	for err := range readErrs {
		t.Error(err)
	}
	if n := warns.n.Load(); n > 0 {
		t.Errorf("%d warnings from agents, last: %s", n, warns.last)
	}
	var still []string
	rows, err := orch.Query(`SELECT address FROM targets WHERE running = TRUE`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a string
		rows.Scan(&a)
		still = append(still, a)
	}
	rows.Close()
	if len(still) != 0 {
		t.Errorf("agents still marked running after a clean stop: %v", still)
	}
}
