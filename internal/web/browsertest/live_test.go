package browsertest

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pmonitor/pmonitor/internal/cli"
	"github.com/pmonitor/pmonitor/internal/emu"
	"github.com/pmonitor/pmonitor/internal/lab"
	"github.com/pmonitor/pmonitor/internal/testenv"
)

// envRunCLI makes the test binary behave as pmonitor: the lab runs it in
// the namespaces as 'pmonitor monitor ...', and the tests as 'pmonitor serve'.
const envRunCLI = "PMONITOR_BROWSERTEST_AS_CLI"

func TestMain(m *testing.M) {
	emu.MaybeReexec()
	if os.Getenv(envRunCLI) != "" {
		os.Exit(cli.Main())
	}
	os.Exit(m.Run())
}

var serveURL = regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+/`)

// startServe runs 'pmonitor serve ARGS' on a free loopback port until the
// test ends and returns the dashboard's URL, which serve prints at start.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), exe, append([]string{"serve", "--listen", "127.0.0.1:0", "--tick", "200ms"}, args...)...)
	cmd.Env = append(os.Environ(), envRunCLI+"=1")
	cmd.Stderr = t.Output()
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start serve: %v", err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Cancel()
		<-done
	})
	urls := make(chan string, 1)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u := serveURL.FindString(sc.Text()); u != "" {
				select {
				case urls <- u:
				default:
				}
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case u := <-urls:
		return u
	case <-done:
		t.Fatalf("serve %v exited before printing its URL", args)
	case <-time.After(20 * time.Second):
		t.Fatalf("serve %v printed no URL in 20 s", args)
	}
	return ""
}

// crossJS is true when node NAME's row and column are all down (but for the
// diagonal) in the drawn heatmap.
const crossJS = `((name) => { const c = document.getElementById('mesh-cells'); if (!c?.dataset.state) return false;
  const s = c.dataset.state, n = Number(c.dataset.cols), i = c.dataset.rowNames.split('\n').indexOf(name),
  j = c.dataset.colNames.split('\n').indexOf(name); if (i < 0 || j < 0) return false;
  for (let k = 0; k < n; k++) if (k !== j && s[i * n + k] !== 'd') return false;
  for (let k = 0; k < s.length / n; k++) if (k !== i && s[k * n + j] !== 'd') return false;
  return true; })`

// allUpJS is true when every drawn cell is up (or the diagonal).
const allUpJS = `(() => { const s = document.getElementById('mesh-cells')?.dataset.state; return !!s && /^[u=]+$/.test(s); })()`

// TestHeavyBrowserLive watches a real emulated network through 'pmonitor
// serve' in chromium: a cut node's row and column turn failed within
// interval + timeout + 2 s and recover after the restore; then the run's
// analysis database, replayed by serve, shows the cut at the moment it
// happened when the time scrubber is moved there.
func TestHeavyBrowserLive(t *testing.T) {
	testenv.Heavy(t)
	testenv.RequireRoot(t)
	const interval, timeout = 500 * time.Millisecond, 500 * time.Millisecond
	var nodes []lab.Node
	for i, name := range []string{"sat1", "sat2", "sat3", "gs1", "gs2"} {
		nodes = append(nodes, lab.Node{Name: name, Addr: netip.MustParsePrefix(fmt.Sprintf("10.77.0.%d/16", i+1)),
			Stable: strings.HasPrefix(name, "sat"), Agent: true})
	}
	l, err := lab.Start(t.Context(), lab.Config{
		Dir: t.TempDir(), Nodes: nodes, Interval: interval, Timeout: timeout,
		Env:    []string{envRunCLI + "=1"},
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("close lab: %v", err)
		}
	})
	args := []string{l.Master()}
	for _, n := range nodes {
		p, err := l.WorkingPath(n.Name)
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	url := startServe(t, args...)
	b := newBrowser(t)
	b.do("open", chromedp.Navigate(url+"#/mesh"))
	b.wait("5 × 5 mesh", `document.getElementById('mesh-cells')?.dataset.rows === '5'`)
	logWeight(t, b, "serve")
	b.wait("every pair up", allUpJS)
	b.shot("live-converged")
	// A healthy second and a half before the cut, for the replay to show.
	time.Sleep(1500 * time.Millisecond)

	bound := interval + timeout + 2*time.Second
	const victim = "sat2"
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cutAt := time.Now()
	if err := l.Cut(ctx, victim); err != nil {
		t.Fatal(err)
	}
	b.waitWithin(bound, victim+"'s cross", crossJS+fmt.Sprintf("(%q)", victim))
	t.Logf("the cut showed as a cross in the browser after %v (bound %v)", time.Since(cutAt).Round(10*time.Millisecond), bound)
	b.shot("live-cut")
	// Hold the cut a little longer, so that the replay has an outage of
	// several seconds to find.
	time.Sleep(2 * time.Second)
	restoreAt := time.Now()
	if err := l.Restore(ctx, victim); err != nil {
		t.Fatal(err)
	}
	b.waitWithin(bound, "recovery", allUpJS)
	t.Logf("the mesh recovered in the browser after %v (bound %v)", time.Since(restoreAt).Round(10*time.Millisecond), bound)

	// Every view renders from the real API.
	for _, v := range []struct{ hash, ready, shot string }{
		{"#/", `Number(document.getElementById('ch-stable')?.dataset.points) > 0 && document.querySelectorAll('#ov-events-table tbody tr').length > 0`, "live-overview"},
		{"#/pair/sat1/" + victim, `Number(document.getElementById('pair-chart')?.dataset.drawn) > 0 && document.querySelectorAll('.events tbody tr').length >= 2`, "live-pair"},
		{"#/node/" + victim, `document.getElementById('node-row')?.dataset.state.length === 5 && document.querySelectorAll('#node-events tbody tr').length > 0`, "live-node"},
		{"#/events?node=" + victim, `document.querySelectorAll('#events-table tbody tr').length >= 8`, "live-events"},
		{"#/agents", `document.querySelectorAll('#agents-table tbody tr').length === 5`, "live-agents"},
	} {
		b.do(v.shot, chromedp.Navigate(url+v.hash))
		b.wait(v.shot, v.ready)
		b.shot(v.shot)
	}
	b.noErrors()

	sum, err := l.Stop(ctx)
	if err != nil {
		t.Fatalf("stop the lab: %v", err)
	}
	replay := startServe(t, sum.Out)
	b.do("replay", chromedp.Navigate(replay+"#/mesh"))
	b.wait("replay mesh", `document.getElementById('mesh-cells')?.dataset.rows === '5' && document.getElementById('mode').textContent === 'replay'`)
	scrub := func(at time.Time) {
		t.Helper()
		sec := at.Unix()
		b.do("scrub", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const s = document.getElementById('scrub');
		  s.value = %d; s.dispatchEvent(new Event('input')); })()`, sec)))
		b.wait(fmt.Sprintf("mesh at %d", sec), `Math.abs(Number(document.getElementById('mesh-cells').dataset.time) - Number(document.getElementById('scrub').value)) < 1
		  && document.getElementById('scrub-label').textContent !== 'latest'`)
	}
	scrub(cutAt.Add(-time.Second))
	if eval[bool](b, crossJS+fmt.Sprintf("(%q)", victim)) || !eval[bool](b, allUpJS) {
		t.Errorf("replay a second before the cut: state %q, want every pair up", eval[string](b, `document.getElementById('mesh-cells').dataset.state`))
	}
	scrub(restoreAt.Add(-time.Second))
	if !eval[bool](b, crossJS+fmt.Sprintf("(%q)", victim)) {
		t.Errorf("replay during the cut: state %q, want %s's row and column down", eval[string](b, `document.getElementById('mesh-cells').dataset.state`), victim)
	}
	b.shot("replay-cut")
	b.noErrors()
}
