package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/pmonitor/pmonitor/internal/lab"
	"github.com/pmonitor/pmonitor/internal/report"
)

// Snapshot is the demo's state at one moment, built from the working
// databases once a second: what the view shows and /api/status serves.
type Snapshot struct {
	Time     time.Time    `json:"time"`
	Started  time.Time    `json:"started"`
	RunDir   string       `json:"run_dir"`
	URL      string       `json:"dashboard,omitempty"` // where the dashboard is served, "" without --listen
	Network  string       `json:"network_prefix"`
	Interval string       `json:"interval"`
	Timeout  string       `json:"timeout"`
	Seed     uint64       `json:"seed"`
	Stable   report.Count `json:"stable_pairs"`  // (agent, stable target) pairs answering
	Dynamic  report.Count `json:"dynamic_pairs"` // (agent, dynamic target) pairs answering
	Running  int          `json:"agents_running"`
	Cuts     int          `json:"link_cuts"` // so far
	Nodes    []NodeState  `json:"nodes"`
	Events   []EventGroup `json:"events"` // newest first
}

// NodeState is one node of a Snapshot.
type NodeState struct {
	Name       string       `json:"name"`
	Address    string       `json:"address"`
	Stable     bool         `json:"stable"`
	LinkUp     bool         `json:"link_up"`
	NextChange time.Time    `json:"next_link_change,omitzero"` // dynamic nodes
	SeenBy     report.Count `json:"seen_by"`                   // agents seeing it answer, of those probing it
	Agent      AgentState   `json:"agent"`
}

// AgentState is a node's agent: its status and its view of every target.
type AgentState struct {
	Running      bool         `json:"running"`
	Status       report.Count `json:"status"`
	StableStatus report.Count `json:"stable_status"`
	Error        string       `json:"error,omitempty"` // its database cannot be read (yet)
	Targets      []report.Row `json:"targets"`
}

// EventGroup is what several agents recorded about one change: a node
// going down or coming back as its peers saw it, or a cut node's own agent
// losing (or reaching again) its targets.
type EventGroup struct {
	Time   time.Time     `json:"time"`
	Node   string        `json:"node"`
	Up     bool          `json:"up"`
	Own    bool          `json:"own_agent"` // the node's own agent about its targets
	Count  int           `json:"count"`     // agents that saw the node (or, Own, targets its agent lost)
	Reason string        `json:"reason,omitempty"`
	Outage time.Duration `json:"outage_ns,omitempty"` // mean, on up
}

// eventHorizon is how far back the view looks for events.
const eventHorizon = 10 * time.Minute

// maxEventGroups is how many event groups a Snapshot keeps.
const maxEventGroups = 8

// snapshot reads the lab and builds a Snapshot.
func (d *demo) snapshot(ctx context.Context) (Snapshot, error) {
	now := time.Now()
	m, err := d.lab.Matrix(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	evs, err := d.lab.Events(ctx, now.Add(-eventHorizon))
	if err != nil {
		return Snapshot{}, err
	}
	s := Snapshot{
		Time: now, Started: d.started, RunDir: d.runDir, URL: d.url, Network: d.lab.Prefix(),
		Interval: d.cfg.Interval.String(), Timeout: d.cfg.Timeout.String(), Seed: d.cfg.Seed,
		Cuts: len(d.faults),
	}
	all := m.Pairs(false)
	s.Stable = m.Pairs(true)
	s.Dynamic = report.Count{Good: all.Good - s.Stable.Good, Total: all.Total - s.Stable.Total}
	for i, n := range d.lab.Nodes() {
		ns := NodeState{
			Name: n.Name, Address: n.Addr.Addr().String(), Stable: n.Stable,
			LinkUp: d.lab.LinkUp(n.Name), NextChange: d.sched.nextChange(n.Name),
		}
		ns.SeenBy.Good, ns.SeenBy.Total = m.Seen(n.Addr.Addr())
		v := m.Agents[i] // every node runs an agent, in Nodes order
		ns.Agent = AgentState{Running: v.Running, Status: v.Count(false), StableStatus: v.Count(true), Targets: v.Rows}
		if v.Err != nil {
			ns.Agent.Error = v.Err.Error()
		}
		if v.Running {
			s.Running++
		}
		s.Nodes = append(s.Nodes, ns)
	}
	s.Events = groupEvents(evs, d.faults, 2*d.round()+2*time.Second, d.round()+time.Second)
	return s, nil
}

// groupEvents folds events into groups, newest first, at most
// maxEventGroups. First answers (up without an outage) are left out. An
// event recorded by an agent whose own link was down (or had just come
// back, within slack) belongs to that agent's group; the others to their
// target's group. Events of one group lie within window of its first one.
func groupEvents(evs []lab.Event, faults faultLog, window, slack time.Duration) []EventGroup {
	type key struct {
		node    string
		own, up bool
	}
	var groups []EventGroup
	var outages []time.Duration // sums, per group
	open := map[key]int{}
	for _, e := range evs {
		if e.Up && e.Outage == 0 {
			continue
		}
		k := key{node: e.Target, up: e.Up}
		if faults.isolated(e.Agent, e.Time, slack) {
			k = key{node: e.Agent, own: true, up: e.Up}
		}
		i, ok := open[k]
		if !ok || e.Time.Sub(groups[i].Time) > window {
			groups = append(groups, EventGroup{Time: e.Time, Node: k.node, Up: e.Up, Own: k.own, Reason: e.Reason})
			outages = append(outages, 0)
			i = len(groups) - 1
			open[k] = i
		}
		groups[i].Count++
		outages[i] += e.Outage
	}
	for i := range groups {
		if groups[i].Up {
			groups[i].Outage = outages[i] / time.Duration(groups[i].Count)
		}
	}
	out := make([]EventGroup, 0, maxEventGroups)
	for i := len(groups) - 1; i >= 0 && len(out) < maxEventGroups; i-- {
		out = append(out, groups[i])
	}
	return out
}

// Text describes the group in a few words, e.g. "seen by 11 agents (timeout after 1s)".
func (g EventGroup) Text() string {
	plural := func(n int, what string) string {
		if n == 1 {
			return "1 " + what
		}
		return fmt.Sprintf("%d %ss", n, what)
	}
	switch {
	case g.Own && g.Up:
		return fmt.Sprintf("its agent reached %s again", plural(g.Count, "target"))
	case g.Own:
		return fmt.Sprintf("its agent lost %s (%s)", plural(g.Count, "target"), g.Reason)
	case g.Up:
		return fmt.Sprintf("back for %s after %s outage", plural(g.Count, "agent"), g.Outage.Round(100*time.Millisecond))
	}
	return fmt.Sprintf("down for %s (%s)", plural(g.Count, "agent"), g.Reason)
}
