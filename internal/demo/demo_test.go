package demo

import (
	"bytes"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/lab"
	"github.com/pmonitor/pmonitor/internal/report"
)

var t0 = time.Date(2026, 11, 28, 20, 0, 0, 0, time.UTC)

func TestScheduleIsSeededAndAlternates(t *testing.T) {
	run := func(seed uint64) []string {
		s := newSchedule([]string{"gs1", "gs2"}, seed, t0, 3*time.Second)
		var log []string
		for now := t0; now.Before(t0.Add(5 * time.Minute)); now = now.Add(time.Second) {
			for _, f := range s.due(now) {
				log = append(log, now.Sub(t0).String()+" "+f.node+map[bool]string{true: " up", false: " down"}[f.up])
			}
		}
		return log
	}
	a, b := run(42), run(42)
	if !slices.Equal(a, b) || slices.Equal(a, run(43)) {
		t.Fatalf("seed 42 gives %v then %v; seed 43 must differ", a, b)
	}
	last := map[string]string{}
	for _, e := range a {
		f := strings.Fields(e)
		if last[f[1]] == f[2] || last[f[1]] == "" && f[2] != "down" {
			t.Fatalf("schedule does not alternate, starting down: %v", a)
		}
		last[f[1]] = f[2]
	}
	if len(a) < 10 {
		t.Errorf("5 minutes gave only %d flips: %v", len(a), a)
	}
	d, _ := time.ParseDuration(strings.Fields(a[0])[0])
	if d < 15*time.Second || d > 40*time.Second {
		t.Errorf("first cut after %v; want within the first up phase of 15-40s", d)
	}
}

func TestGroupEvents(t *testing.T) {
	faults := faultLog{{Node: "gs1", Down: t0, Up: t0.Add(10 * time.Second)}}
	ev := func(sec float64, agent, target string, up bool, outage time.Duration) lab.Event {
		return lab.Event{Time: t0.Add(time.Duration(sec * float64(time.Second))), Agent: agent, Target: target,
			Up: up, Outage: outage, Reason: "timeout after 1s"}
	}
	evs := []lab.Event{
		ev(-30, "sat1", "sat2", true, 0), // first answer: left out
		ev(1.5, "sat1", "gs1", false, 0),
		ev(1.8, "gs1", "sat1", false, 0), // gs1's own agent, isolated
		ev(2.0, "sat2", "gs1", false, 0),
		ev(2.1, "gs1", "sat2", false, 0),
		ev(11, "sat1", "gs1", true, 9*time.Second),
		ev(11.5, "sat2", "gs1", true, 10*time.Second),
		ev(12, "gs1", "sat1", true, 10*time.Second), // within slack after the restore
	}
	got := groupEvents(evs, faults, 5*time.Second, 4*time.Second)
	want := []string{
		"gs1 up: its agent reached 1 target again",
		"gs1 up: back for 2 agents after 9.5s outage",
		"gs1 down: its agent lost 2 targets (timeout after 1s)",
		"gs1 down: down for 2 agents (timeout after 1s)",
	}
	var texts []string
	for _, g := range got {
		texts = append(texts, g.Node+map[bool]string{true: " up: ", false: " down: "}[g.Up]+g.Text())
	}
	if !slices.Equal(texts, want) {
		t.Errorf("groups:\n%s\nwant:\n%s", strings.Join(texts, "\n"), strings.Join(want, "\n"))
	}
}

func testSnapshot() Snapshot {
	row := func(name string, up bool) report.Row {
		return report.Row{Name: name, Address: "10.77.0.9", Responded: up, TotalCount: 3}
	}
	return Snapshot{
		Time: t0.Add(83 * time.Second), Started: t0, RunDir: "runs/20261128-200000", URL: "http://127.0.0.1:9300/", Network: "pmabc12",
		Interval: "2s", Timeout: "1s", Seed: 7, Stable: report.Count{Good: 2, Total: 2}, Dynamic: report.Count{Good: 0, Total: 1},
		Running: 2, Cuts: 1,
		Nodes: []NodeState{
			{Name: "sat1", Address: "10.77.0.1", Stable: true, LinkUp: true, SeenBy: report.Count{Good: 1, Total: 1},
				Agent: AgentState{Running: true, Status: report.Count{Good: 1, Total: 2}, Targets: []report.Row{row("gs1", false)}}},
			{Name: "gs1", Address: "10.77.1.1", LinkUp: false, NextChange: t0.Add(95 * time.Second), SeenBy: report.Count{Total: 1},
				Agent: AgentState{Running: true, Targets: []report.Row{row("sat1", true)}}},
		},
		Events: []EventGroup{{Time: t0.Add(80 * time.Second), Node: "gs1", Count: 1, Reason: "timeout after 1s"}},
	}
}

func TestViews(t *testing.T) {
	s := testSnapshot()
	var line bytes.Buffer
	renderLine(&line, s)
	want := "20:01:23 +1m23s  stable 2/2  dynamic 0/1  agents 2/2  down: gs1  cuts 1  last: 20:01:20 gs1 down down for 1 agent (timeout after 1s)\n"
	if line.String() != want {
		t.Errorf("line:\n%q\nwant\n%q", line.String(), want)
	}
	var plain bytes.Buffer
	writeView(&plain, s, false)
	for _, w := range []string{
		"pairs answering  stable 2/2  dynamic 0/1   agents running 2/2   link cuts 1",
		"dashboard http://127.0.0.1:9300/  run folder runs/20261128-200000",
		"gs1   10.77.1.1  dynamic  DOWN  0/1      0 / 0       up in 12s",
		"20:01:20  gs1      down  down for 1 agent (timeout after 1s)",
	} {
		if !strings.Contains(plain.String(), w) {
			t.Errorf("view lacks %q:\n%s", w, plain.String())
		}
	}
	var tty bytes.Buffer
	renderFrame(&tty, s, true)
	if !strings.HasPrefix(tty.String(), ansiClear+ansiHome) || !strings.Contains(tty.String(), ansiRed+"DOWN"+ansiReset) {
		t.Errorf("frame lacks the escape codes: %q", tty.String())
	}
}

func TestHTTP(t *testing.T) {
	srv := httptest.NewServer(handler(testSnapshot, nil))
	defer srv.Close()
	get := func(path string) string {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %s", path, resp.Status)
		}
		return string(b)
	}
	if got := get("/healthz"); got != "ok\n" {
		t.Errorf("/healthz = %q", got)
	}
	if got := get("/api/status"); !strings.Contains(got, `"network_prefix": "pmabc12"`) || !strings.Contains(got, `"link_up": false`) {
		t.Errorf("/api/status:\n%s", got)
	}
	metrics := get("/metrics")
	for _, w := range []string{
		`pmonitor_demo_pair_up{source="sat1",target="gs1"} 0`,
		`pmonitor_demo_pair_up{source="gs1",target="sat1"} 1`,
		`pmonitor_demo_link_up{node="gs1"} 0`,
		`pmonitor_demo_pairs{kind="dynamic",state="total"} 1`,
		`pmonitor_demo_link_cuts_total 1`,
	} {
		if !strings.Contains(metrics, w) {
			t.Errorf("/metrics lacks %q:\n%s", w, metrics)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Nodes: 1, Interval: time.Second, Timeout: time.Second, Dir: "x"}, "want 2 to 100 nodes, not 1"},
		{Config{Nodes: 4, Dynamic: 5, Interval: time.Second, Timeout: time.Second, Dir: "x"}, "want 0 to 4 dynamic nodes, not 5"},
		{Config{Nodes: 4, Interval: time.Second, Timeout: time.Second, Dir: "x", Listen: "0.0.0.0:9300"}, "want a loopback address"},
		{Config{Nodes: 4, Interval: time.Second, Timeout: time.Second, Dir: "x", Listen: "9300"}, "missing port"},
	} {
		if err := tc.cfg.check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("check(%+v) = %v; want %q", tc.cfg, err, tc.want)
		}
	}
	if err := (&Config{Nodes: 4, Interval: time.Second, Timeout: time.Second, Dir: "x", Listen: "localhost:0"}).check(); err != nil {
		t.Errorf("localhost: %v", err)
	}
}

func TestSummaryText(t *testing.T) {
	s := Summary{Duration: time.Minute, Nodes: 12, Dynamic: 4, Seed: 7, Cuts: 3, Expected: 33, Detected: 33,
		StablePairs: report.Count{Good: 88, Total: 88}, DynamicPairs: report.Count{Good: 33, Total: 44},
		Recovered: 22, DownEvents: 40, Analysis: "runs/x/analysis.db", Rows: 132, Agents: 12}
	s.Detection.add(time.Second)
	s.Detection.add(3 * time.Second)
	s.Recovery.add(1500 * time.Millisecond)
	want := "Ran 1m0s with 12 nodes (8 stable, 4 dynamic), seed 7. At the end 88/88 stable and 33/44 dynamic (agent, target) pairs answered. " +
		"3 link cuts were injected; the agents detected 33 of 33 (agent, cut) pairs, mean detection latency 2s (min 1s, max 3s), " +
		"and saw restored links answer again after 1.5s on average. 40 down events were recorded in all. " +
		"Analysis database: runs/x/analysis.db (132 node_history rows from 12 agents)."
	if got := s.Text(); got != want {
		t.Errorf("Text:\n%s\nwant\n%s", got, want)
	}
}
