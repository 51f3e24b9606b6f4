package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// cellPoint is where the centre of a heatmap cell is on the screen.
const cellPoint = `((r, c) => { const cv = document.getElementById('mesh-cells'); const b = cv.getBoundingClientRect();
  const s = b.width / Number(cv.dataset.cols); return [b.left + (c + 0.5) * s, b.top + (r + 0.5) * s]; })`

// TestHeavyBrowserDashboard walks every view of the dashboard over a
// 12-node fixture mesh, light and dark, and saves a screenshot of each.
func TestHeavyBrowserDashboard(t *testing.T) {
	f := newFixture(12)
	f.token = "s3cret"
	url := f.serve(t)
	b := newBrowser(t)
	n := len(f.nodes)

	b.do("open", chromedp.Navigate(url+"/"))
	b.wait("page ready", `document.body.dataset.ready === '1' && document.getElementById('mesh-cells')?.dataset.state`)

	t.Run("overview", func(t *testing.T) {
		rows := eval[string](b, `document.getElementById('mesh-cells').dataset.rows`)
		cols := eval[string](b, `document.getElementById('mesh-cells').dataset.cols`)
		state := eval[string](b, `document.getElementById('mesh-cells').dataset.state`)
		if rows != fmt.Sprint(n) || cols != fmt.Sprint(n) || len(state) != n*n {
			t.Fatalf("mesh drew %s × %s cells, state of %d; want %d × %d", rows, cols, len(state), n, n)
		}
		want := f.mesh(f.now(), true, 0).State
		if state != want {
			t.Errorf("mesh state drawn %q, want %q", state, want)
		}
		// The dead node is a cross: its row not running, its column down.
		for j := range n {
			if j != f.dead && (state[f.dead*n+j] != 's' || state[j*n+f.dead] != 'd') {
				t.Errorf("dead node %d: row cell %c, column cell %c; want s and d", j, state[f.dead*n+j], state[j*n+f.dead])
			}
		}
		for _, id := range []string{"ch-stable", "ch-dynamic", "ch-agents"} {
			pts := eval[string](b, fmt.Sprintf(`document.getElementById(%q).dataset.points`, id))
			if pts != "360" {
				t.Errorf("chart %s has %s points, want 360", id, pts)
			}
		}
		if got := eval[int](b, `document.querySelectorAll('#ov-events-table tbody tr').length`); got != 10 {
			t.Errorf("latest events shows %d rows, want 10", got)
		}
		b.shot("overview-light")
	})

	t.Run("page weight", func(t *testing.T) {
		if page := logWeight(t, b, "fixture"); page > 300*1024 {
			t.Errorf("the page's own files weigh %.1f KB on first load, want <= 300 KB", page/1024)
		}
	})

	t.Run("mesh hover and click", func(t *testing.T) {
		b.do("mesh view", chromedp.Navigate(url+"/#/mesh"))
		b.wait("mesh view", `location.hash === '#/mesh' && document.getElementById('mesh-cells')?.dataset.rows === '12'`)
		xy := eval[[]float64](b, cellPoint+`(2, 5)`)
		b.do("hover", chromedp.MouseEvent("mouseMoved", xy[0], xy[1]))
		b.wait("tooltip", `!document.getElementById('mesh-tip').hidden`)
		pair := eval[string](b, `document.getElementById('mesh-tip').dataset.pair`)
		if want := f.nodes[2].Name + "→" + f.nodes[5].Name; pair != want {
			t.Errorf("tooltip shows %q, want %q", pair, want)
		}
		text := eval[string](b, `document.getElementById('mesh-tip').textContent`)
		for _, w := range []string{"state", "up", "RTT", "ms", "loss", "since"} {
			if !strings.Contains(text, w) {
				t.Errorf("tooltip %q lacks %q", text, w)
			}
		}
		b.shot("mesh-hover-light")
		b.do("click", chromedp.MouseClickXY(xy[0], xy[1]))
		b.wait("pair view", fmt.Sprintf(`location.hash === '#/pair/%s/%s'`, f.nodes[2].Name, f.nodes[5].Name))
	})

	t.Run("pair", func(t *testing.T) {
		b.wait("pair chart drawn", `Number(document.getElementById('pair-chart')?.dataset.drawn) > 0`)
		if got := eval[string](b, `document.getElementById('pair-chart').dataset.buckets`); got != "240" {
			t.Errorf("pair chart has %s buckets, want 240", got)
		}
		if got := eval[int](b, `Number(document.getElementById('pair-chart').dataset.medianSegments)`); got < 100 {
			t.Errorf("pair chart drew %d median segments, want most of 240", got)
		}
		if got := eval[int](b, `document.querySelectorAll('#pair-table tbody tr').length`); got != 240 {
			t.Errorf("pair table has %d rows, want 240", got)
		}
		// The smoke is a step per bucket that answered; the minute with no
		// probe is a gap (4 buckets of 15 s).
		steps, gaps, lost := paired(t, b)
		if gaps != 4 || lost != 0 || steps != 240-gaps {
			t.Errorf("pair chart: %d band steps, %d gaps, %d lost buckets; want 236, 4 and 0", steps, gaps, lost)
		}
		b.shot("pair-light")
		// The dead node's pair: an outage shaded, transitions listed.
		b.do("dead pair", chromedp.Navigate(fmt.Sprintf("%s/#/pair/%s/%s?t=%d", url, f.nodes[0].Name, f.nodes[f.dead].Name, int(f.base+fxCutFrom))))
		b.wait("dead pair drawn", `location.hash.includes('?t=') && Number(document.getElementById('pair-chart')?.dataset.drawn) > 0`)
		// The hour around the cut holds its down and up and the live cut's down.
		if got := eval[int](b, `document.querySelectorAll('.events tbody tr').length`); got != 3 {
			t.Errorf("dead pair lists %d transitions around the cut, want 3", got)
		}
		// The 600 s cut and the last 120 s are lost buckets, shaded, with no smoke.
		if steps, gaps, lost := paired(t, b); lost < 40 || steps+gaps+lost != 240 {
			t.Errorf("dead pair: %d band steps, %d gaps, %d lost buckets shaded; want the cut's 40 or more lost of 240", steps, gaps, lost)
		}
		b.shot("pair-outage-light")
	})

	t.Run("node", func(t *testing.T) {
		name := f.nodes[3].Name
		b.do("node view", chromedp.Navigate(url+"/#/node/"+name))
		b.wait("node view", `document.getElementById('node-row')`)
		row := eval[string](b, `document.getElementById('node-row').dataset.state`)
		col := eval[string](b, `document.getElementById('node-col').dataset.state`)
		m := f.mesh(f.now(), true, 0)
		if row != m.State[3*n:4*n] {
			t.Errorf("node row %q, want %q", row, m.State[3*n:4*n])
		}
		if len(col) != n || col[f.dead] != 's' {
			t.Errorf("node column %q: want %d cells with the dead agent's 's'", col, n)
		}
		if got := eval[int](b, `document.querySelectorAll('#node-last i').length`); got != 5 {
			t.Errorf("last five shows %d cells", got)
		}
		if got := eval[int](b, `document.querySelectorAll('#node-events tbody tr').length`); got != 3 {
			t.Errorf("node events: %d rows, want 3", got)
		}
		b.shot("node-light")
	})

	t.Run("events", func(t *testing.T) {
		b.do("events view", chromedp.Navigate(url+"/#/events"))
		b.wait("events", `document.querySelectorAll('#events-table tbody tr').length > 0`)
		all := eval[int](b, `document.querySelectorAll('#events-table tbody tr').length`)
		if want := len(f.events()); all != want {
			t.Errorf("events view shows %d events, want %d", all, want)
		}
		b.do("failing only", chromedp.Click(chromedp.ID("f-failing")))
		b.wait("down only", `[...document.querySelectorAll('#events-table tbody tr')].every((r) => r.dataset.state === 'down')`)
		b.do("failing off", chromedp.Click(chromedp.ID("f-failing")))
		b.do("node filter", chromedp.Navigate(url+"/#/events?node="+f.nodes[0].Name))
		b.wait("node filter", fmt.Sprintf(`(() => { const r = [...document.querySelectorAll('#events-table tbody tr')];
		  return r.length === 3 && r.every((x) => x.dataset.source === %q || x.dataset.target === %q); })()`, f.nodes[0].Name, f.nodes[0].Name))
		b.do("first event link", chromedp.Click(chromedp.CSS(`#events-table tbody tr a[href^="#/pair/"]`)))
		b.wait("pair from event", `location.hash.startsWith('#/pair/') && Number(document.getElementById('pair-chart')?.dataset.drawn) > 0`)
		b.do("events", chromedp.Navigate(url+"/#/events"))
		b.wait("events", `document.querySelectorAll('#events-table tbody tr').length > 3`)
		b.shot("events-light")
	})

	t.Run("agents", func(t *testing.T) {
		b.do("agents view", chromedp.Navigate(url+"/#/agents"))
		b.wait("agents", `document.querySelectorAll('#agents-table tbody tr').length === 12`)
		if got := eval[int](b, `document.querySelectorAll('#agents-table button').length`); got != 0 {
			t.Errorf("read-only agents table shows %d buttons", got)
		}
		b.do("with token", chromedp.Navigate(url+"/#token=s3cret"))
		b.wait("control on", `location.hash === '#/agents' && document.getElementById('agents-table')?.dataset.control === 'true'`)
		if eval[string](b, `location.href`) != url+"/#/agents" {
			t.Errorf("the token stayed in the address bar")
		}
		addr := f.nodes[4].Address
		b.do("stop", chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[data-addr=%q]`, addr))))
		b.wait("stopped", fmt.Sprintf(`document.querySelector('button[data-addr=%q]')?.dataset.act === 'start'`, addr))
		f.mu.Lock()
		run := f.run[addr]
		f.mu.Unlock()
		if run {
			t.Errorf("stop did not reach the server")
		}
		b.shot("agents-control-light")
	})

	t.Run("scrubber", func(t *testing.T) {
		b.do("mesh view", chromedp.Navigate(url+"/#/mesh"))
		b.wait("mesh", `document.getElementById('mesh-cells')?.dataset.rows === '12'`)
		at := int(f.base + 600) // before the cut: nobody down
		b.do("scrub", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const s = document.getElementById('scrub');
		  s.value = %d; s.dispatchEvent(new Event('input')); })()`, at)))
		b.wait("past mesh", fmt.Sprintf(`Number(document.getElementById('mesh-cells').dataset.time) === %d`, at))
		if st := eval[string](b, `document.getElementById('mesh-cells').dataset.state`); strings.ContainsAny(st, "ds") {
			t.Errorf("mesh before the cut shows down or stopped cells: %q", st)
		}
		b.shot("mesh-past-light")
		b.do("live", chromedp.Click(chromedp.ID("scrub-live")))
		b.wait("live mesh", `document.getElementById('mesh-cells').dataset.state.includes('d')`)
	})

	t.Run("export", func(t *testing.T) {
		dl := filepath.Join(b.dir, "downloads")
		if err := os.MkdirAll(dl, 0o755); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		defer cancel()
		if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dl, EventsEnabled: ptrBool(true),
		}); err != nil {
			t.Fatalf("allow downloads: %v", err)
		}
		for _, tc := range []struct{ button, ext string }{{"x-csv", ".csv"}, {"x-json", ".json"}, {"x-png", ".png"}} {
			path := download(t, b, tc.button)
			if filepath.Ext(path) != tc.ext {
				t.Errorf("%s saved %s", tc.button, path)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			switch tc.ext {
			case ".csv":
				lines := strings.Split(strings.TrimSpace(string(data)), "\r\n")
				if len(lines) != n*n+1 || lines[0] != "source,target,state,rtt_ms,loss,since" {
					t.Errorf("CSV has %d lines, header %q; want %d lines", len(lines), lines[0], n*n+1)
				}
			case ".json":
				if !strings.HasPrefix(string(data), "[") || !strings.Contains(string(data), `"state": "agent not running"`) {
					t.Errorf("JSON export: %.200s", data)
				}
			case ".png":
				if !strings.HasPrefix(string(data), "\x89PNG") || len(data) < 1000 {
					t.Errorf("PNG export: %d bytes, header %q", len(data), data[:min(8, len(data))])
				}
			}
		}
	})

	t.Run("dark", func(t *testing.T) {
		b.dark(true)
		for _, v := range []struct{ hash, ready, name string }{
			{"#/", `document.getElementById('ch-stable')?.dataset.points`, "overview-dark"},
			{"#/mesh", `document.getElementById('mesh-cells')?.dataset.rows === '12'`, "mesh-dark"},
			{fmt.Sprintf("#/pair/%s/%s", f.nodes[0].Name, f.nodes[f.dead].Name), `Number(document.getElementById('pair-chart')?.dataset.drawn) > 0`, "pair-dark"},
			{"#/node/" + f.nodes[0].Name, `document.getElementById('node-row')`, "node-dark"},
		} {
			b.do(v.name, chromedp.Navigate(url+"/"+v.hash))
			b.wait(v.name, v.ready)
			b.shot(v.name)
		}
		b.dark(false)
	})
	b.noErrors()
}

// paired returns what the pair chart drew: the buckets with an RTT band,
// the empty ones (gaps), and the ones shaded because every probe was lost.
func paired(t *testing.T, b *browser) (steps, gaps, lost int) {
	t.Helper()
	v := eval[[]int](b, `(() => { const d = document.getElementById('pair-chart').dataset;
	  return [Number(d.bandSteps), Number(d.gaps), Number(d.lostShaded)]; })()`)
	return v[0], v[1], v[2]
}

// logWeight logs what the first load moved over the wire, from the Resource
// Timing API (transferSize: headers and body as sent, compressed when the
// server compresses), and returns the page's own share in bytes. The
// stream never completes, so it is not counted.
func logWeight(t *testing.T, b *browser, server string) float64 {
	t.Helper()
	w := eval[map[string]float64](b, `(() => {
	  const r = { page: 0, api: 0, files: 0, body: 0 };
	  for (const e of [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]) {
	    if (e.name.includes('/api/v1/')) r.api += e.transferSize;
	    else { r.page += e.transferSize; r.body += e.decodedBodySize; r.files++; }
	  }
	  return r; })()`)
	t.Logf("first load from %s: page %.1f KB over the wire (%.1f KB decoded) in %.0f files, API %.1f KB",
		server, w["page"]/1024, w["body"]/1024, w["files"], w["api"]/1024)
	return w["page"]
}

// download clicks an export button and returns the path of the saved file,
// once the browser reports the download complete.
func download(t *testing.T, b *browser, button string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	progress := chromedp.BrowserEvents(ctx, cdpbrowser.DownloadProgress)
	b.do(button, chromedp.Click(chromedp.ID(button)))
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("%s: waiting for the download: %v", button, err)
		}
		switch ev.State {
		case cdpbrowser.DownloadProgressStateCompleted:
			if ev.FilePath != "" {
				return ev.FilePath
			}
			name := strings.Fields(eval[string](b, `document.body.dataset.lastExport`))[0]
			return filepath.Join(b.dir, "downloads", name)
		case cdpbrowser.DownloadProgressStateCanceled:
			t.Fatalf("%s: download canceled", button)
		}
	}
	t.Fatalf("%s: no download", button)
	return ""
}
