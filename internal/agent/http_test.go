package agent

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/probe"
	"github.com/pmonitor/pmonitor/internal/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fixedNow is the clock of the handler tests.
var fixedNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// handlerAgent is an agent started on temp files with a fixed clock and
// fed known results, without its loops: its state is exactly known.
func handlerAgent(t *testing.T) *Agent {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	reg, err := store.CreateRegistry(ctx, filepath.Join(dir, "master.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	ts := targets("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4")
	ts[2].Stable = false
	if err := reg.Replace(ctx, ts); err != nil {
		t.Fatal(err)
	}
	// Another program wrote a name that is not UTF-8, with a control character.
	if _, err := reg.DB().Exec(`UPDATE targets SET name = CAST(x'6261641bff6e616d65' AS TEXT) WHERE address = '10.0.0.3'`); err != nil {
		t.Fatal(err)
	}
	w, err := store.OpenWorking(ctx, filepath.Join(dir, "work.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	a, err := New(Config{
		Self:         netip.MustParseAddr("10.0.0.1"),
		OpenRegistry: func(ctx context.Context) (store.Registry, error) { return reg, nil },
		Working:      w, Prober: newFakeProber(), Interval: time.Second, Timeout: 500 * time.Millisecond,
		Now: func() time.Time { return fixedNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	all, err := reg.Targets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.start(ctx, reg, all); err != nil {
		t.Fatal(err)
	}
	for _, r := range []probe.Result{
		{Target: netip.MustParseAddr("10.0.0.2"), Status: probe.StatusReply, RTT: 1500 * time.Microsecond},
		{Target: netip.MustParseAddr("10.0.0.2"), Status: probe.StatusReply, RTT: 2500 * time.Microsecond},
		{Target: netip.MustParseAddr("10.0.0.3"), Status: probe.StatusReply, RTT: time.Millisecond},
		{Target: netip.MustParseAddr("10.0.0.3"), Status: probe.StatusTimeout, Reason: "timeout after 500ms"},
		{Target: netip.MustParseAddr("10.0.0.4"), Status: probe.StatusTimeout, Reason: "timeout after 500ms"},
	} {
		r.Sent = fixedNow
		a.onResult(r)
	}
	return a
}

// get requests path from h and returns the status code and body.
func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run 'go test ./internal/agent -run %s -update' to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (rerun with -update if the change is intended):\n%s", t.Name(), path, got)
	}
}

func TestHandlerMetricsGolden(t *testing.T) {
	code, body := get(t, handlerAgent(t).Handler(), "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d\n%s", code, body)
	}
	golden(t, "metrics.txt", body)
}

func TestHandlerStatus(t *testing.T) {
	code, body := get(t, handlerAgent(t).Handler(), "/api/status")
	if code != http.StatusOK {
		t.Fatalf("/api/status: %d\n%s", code, body)
	}
	golden(t, "status.json", body)
	var s Snapshot
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	if s.Good != 1 || s.Total != 2 || s.StableGood != 1 || s.StableTotal != 1 || len(s.Targets) != 3 {
		t.Errorf("counts good %d total %d stable %d/%d targets %d; want 1 / 2, stable 1 / 1, 3 targets",
			s.Good, s.Total, s.StableGood, s.StableTotal, len(s.Targets))
	}
}

func TestHandlerHealthz(t *testing.T) {
	code, body := get(t, handlerAgent(t).Handler(), "/healthz")
	if code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz = %d %q, want 200 ok", code, body)
	}
}

// TestMetricsTargetsSum: the target states are disjoint, so their sum is
// the target list and the original counts are sums of them.
func TestMetricsTargetsSum(t *testing.T) {
	_, body := get(t, handlerAgent(t).Handler(), "/metrics")
	sum := map[string]int{}
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, "pmonitor_targets{") {
			continue
		}
		state := line[strings.Index(line, `state="`)+7:]
		state = state[:strings.IndexByte(state, '"')]
		var v int
		if _, err := fmtSscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err != nil {
			t.Fatal(err)
		}
		sum[state] += v
		sum["all"] += v
	}
	if sum["all"] != 3 || sum["up"] != 1 || sum["down"] != 1 || sum["unanswered"] != 1 {
		t.Errorf("pmonitor_targets sums = %v; want all 3 = up 1 + down 1 + unanswered 1", sum)
	}
}

func fmtSscan(s string, v *int) (int, error) { return fmt.Sscan(s, v) }
