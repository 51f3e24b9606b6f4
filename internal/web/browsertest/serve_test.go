package browsertest

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pmonitor/pmonitor/internal/mesh/meshtest"
	"github.com/pmonitor/pmonitor/internal/report"
)

// connStatesJS records every state the stream indicator takes from now on.
const connStatesJS = `(() => { window.connStates = [document.getElementById('conn').dataset.state];
  new MutationObserver(() => window.connStates.push(document.getElementById('conn').dataset.state))
    .observe(document.getElementById('conn'), { attributes: true, attributeFilter: ['data-state'] }); })()`

// TestHeavyBrowserServe opens the real 'pmonitor serve' on a deployment
// whose databases a writer updates (no agents, no root): the first load
// moves at most 300 KB, measured by the browser's Resource Timing; the
// stream indicator says connected and stays so while pushes arrive; the
// overview's chart starts with the history serve found.
func TestHeavyBrowserServe(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	dir := t.TempDir()
	const n, step = 12, 500 * time.Millisecond
	start := time.Now().Add(-2 * time.Minute)
	sim, err := meshtest.New(ctx, dir, n, 3, start)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	// Two minutes of history, one round every 2 s.
	for k := range 60 {
		if err := sim.Round(ctx, start.Add(time.Duration(k)*2*time.Second), time.Second); err != nil {
			t.Fatal(err)
		}
	}
	// From now on sat2 and sat3 fail for everyone in two rounds of every six:
	// events flow while the page is open.
	sim.Down = func(src, dst, k int) bool { return (dst == 1 || dst == 2) && k >= 60 && k%6 >= 4 }
	writer := make(chan error, 1)
	go func() { // the agents go on writing
		tk := time.NewTicker(step)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				writer <- nil
				return
			case now := <-tk.C:
				if err := sim.Round(ctx, now, step/2); err != nil && ctx.Err() == nil {
					writer <- err
					return
				}
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-writer; err != nil {
			t.Errorf("writer: %v", err)
		}
	})
	url := startServe(t, sim.Master, "--dir", dir)
	b := newBrowser(t)
	b.do("open", chromedp.Navigate(url))
	b.wait("overview", `Number(document.getElementById('ch-stable')?.dataset.points) > 0`)

	t.Run("page weight", func(t *testing.T) {
		if page := logWeight(t, b, "serve"); page > 300*1024 {
			t.Errorf("first load moved %.1f KB of page files, want <= 300 KB", page/1024)
		}
		if enc := eval[string](b, `performance.getEntriesByType('resource').find((e) => e.name.includes('uPlot.iife'))?.encodedBodySize < 30000 ? 'gzip' : 'plain'`); enc != "gzip" {
			t.Errorf("uPlot was not sent compressed")
		}
	})

	t.Run("chart backfilled", func(t *testing.T) {
		// Two minutes of history at one point per 5 s: about 24 points at
		// once, not the one or two a fresh serve has sampled itself.
		if pts := eval[int](b, `Number(document.getElementById('ch-stable').dataset.points)`); pts < 20 {
			t.Errorf("the overview chart starts with %d points, want the history's (>= 20)", pts)
		}
	})

	t.Run("stream connected", func(t *testing.T) {
		b.wait("indicator connected", `document.getElementById('conn').dataset.state === 'open' && document.getElementById('conn').textContent === 'connected'`)
		b.do("watch the indicator", chromedp.Evaluate[chromedp.Void](connStatesJS))
		gen := eval[int](b, `Number(document.getElementById('foot-time').textContent.match(/generation (\d+)/)?.[1] ?? 0)`)
		// Steady state: ten more pushes with the indicator never leaving "connected".
		b.wait("ten pushes", fmt.Sprintf(`Number(document.getElementById('foot-time').textContent.match(/generation (\d+)/)?.[1] ?? 0) >= %d`, gen+10))
		if states := eval[[]string](b, `window.connStates`); len(states) != 1 || states[0] != "open" {
			t.Errorf("the stream indicator went through %v in steady state, want only open", states)
		}
		b.shot("serve-overview")
	})

	t.Run("pushed events newest first", func(t *testing.T) {
		since := eval[float64](b, `Date.now() / 1000`)
		b.wait("events pushed", fmt.Sprintf(`[...document.querySelectorAll('#ov-events-table tbody tr')].filter((r) => Number(r.dataset.time) > %f).length >= 3`, since))
		times := eval[[]float64](b, `[...document.querySelectorAll('#ov-events-table tbody tr')].map((r) => Number(r.dataset.time))`)
		for i := 1; i < len(times); i++ {
			if times[i] > times[i-1] {
				t.Errorf("latest events not newest first: %v", times)
				break
			}
		}
	})
	b.noErrors()
}

// TestHeavyBrowserReplay opens 'pmonitor serve ANALYSIS_DB' (no root): the
// page says replay, the mesh is the end of the run (not "live"), and the
// stream indicator still reaches "connected".
func TestHeavyBrowserReplay(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	start := time.Now().Add(-time.Minute)
	sim, err := meshtest.New(ctx, dir, 6, 2, start)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	sim.Down = func(src, dst, k int) bool { return dst == 5 && k >= 10 }
	for k := range 20 {
		if err := sim.Round(ctx, start.Add(time.Duration(k)*2*time.Second), time.Second); err != nil {
			t.Fatal(err)
		}
	}
	for i := range sim.Nodes {
		if err := sim.Stop(ctx, i, start.Add(40*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "analysis.db")
	if _, err := report.Consolidate(ctx, sim.Master, out, sim.Work); err != nil {
		t.Fatal(err)
	}
	url := startServe(t, out)
	b := newBrowser(t)
	b.do("open", chromedp.Navigate(url+"#/mesh"))
	b.wait("replay mesh", `document.getElementById('mesh-cells')?.dataset.rows === '6' && document.getElementById('mode').textContent === 'replay'`)
	if when := eval[string](b, `document.getElementById('mesh-when').textContent`); !strings.HasPrefix(when, "end of the run · ") {
		t.Errorf("a replay's mesh is headed %q, want the end of the run", when)
	}
	b.wait("indicator connected", `document.getElementById('conn').dataset.state === 'open'`)
	b.shot("replay-mesh")
	b.noErrors()
}
