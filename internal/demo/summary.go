package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pmonitor/pmonitor/internal/report"
	"github.com/pmonitor/pmonitor/internal/store"
)

// Summary is what a demo run found. Analysis is empty if consolidation
// failed.
type Summary struct {
	RunDir   string        `json:"run_dir"`
	Analysis string        `json:"analysis,omitempty"`
	Network  string        `json:"network_prefix"`
	Seed     uint64        `json:"seed"`
	Duration time.Duration `json:"duration_ns"`
	Nodes    int           `json:"nodes"`
	Dynamic  int           `json:"dynamic"`
	Agents   int           `json:"agents_consolidated"`
	Rows     int64         `json:"node_history_rows"`

	StablePairs  report.Count `json:"stable_pairs"` // at the end
	DynamicPairs report.Count `json:"dynamic_pairs"`

	Cuts       int     `json:"link_cuts"`
	DownEvents int     `json:"down_events"`
	Expected   int     `json:"expected_detections"` // (agent, cut) pairs long enough to be seen
	Detected   int     `json:"detections"`
	Detection  latency `json:"detection"` // cut → the agent's down event
	Recovered  int     `json:"recoveries"`
	Recovery   latency `json:"recovery"` // restore → the agent's up event
	Faults     []fault `json:"faults"`
}

// latency is the mean, min and max of a set of durations.
type latency struct {
	Mean time.Duration `json:"mean_ns"`
	Min  time.Duration `json:"min_ns"`
	Max  time.Duration `json:"max_ns"`
	n    int
}

func (l *latency) add(d time.Duration) {
	if l.n == 0 || d < l.Min {
		l.Min = d
	}
	l.Max = max(l.Max, d)
	l.Mean = (l.Mean*time.Duration(l.n) + d) / time.Duration(l.n+1)
	l.n++
}

// summarize computes the summary from the last snapshot, the fault log and
// the analysis database's events.
func (d *demo) summarize(ctx context.Context, cs report.Summary, end time.Time) Summary {
	last := d.snapshotLatest()
	s := Summary{
		RunDir: d.runDir, Analysis: cs.Out, Network: d.lab.Prefix(), Seed: d.cfg.Seed,
		Duration: end.Sub(d.started).Round(time.Second), Nodes: d.cfg.Nodes, Dynamic: d.cfg.Dynamic,
		StablePairs: last.Stable, DynamicPairs: last.Dynamic, Cuts: len(d.faults), Faults: d.faults,
	}
	for _, src := range cs.Sources {
		if src.Error == "" {
			s.Agents++
			s.Rows += src.Rows
		}
	}
	if cs.Out == "" {
		return s
	}
	evs, err := readAnalysisEvents(ctx, cs.Out)
	if err != nil {
		d.cfg.Logger.Warn("demo: read events for the summary", "err", err)
		return s
	}
	addr := map[string]string{}
	var agents []string
	for _, n := range Nodes(d.cfg.Nodes, d.cfg.Dynamic) {
		addr[n.Name] = n.Addr.Addr().String()
		agents = append(agents, n.Name)
	}
	for _, e := range evs {
		if e.state == "down" {
			s.DownEvents++
		}
	}
	round := d.round()
	for _, f := range d.faults {
		upAt := f.Up
		if upAt.IsZero() {
			upAt = end
		}
		for _, a := range agents {
			if a == f.Node {
				continue
			}
			// An agent cut off itself at the time sees the node fail (or
			// come back) late or not at all: it is not a fair witness.
			slack := round + time.Second
			if upAt.Sub(f.Down) >= 2*round && !d.faults.isolated(a, f.Down, slack) && !d.faults.isolated(a, f.Down.Add(2*round), slack) {
				s.Expected++
				if t, ok := firstEvent(evs, a, addr[f.Node], "down", f.Down, upAt.Add(round)); ok {
					s.Detected++
					s.Detection.add(t.Sub(f.Down))
				}
			}
			if !f.Up.IsZero() && !d.faults.isolated(a, f.Up, slack) && !d.faults.isolated(a, f.Up.Add(2*round), slack) {
				if t, ok := firstEvent(evs, a, addr[f.Node], "up", f.Up, f.Up.Add(2*round+5*time.Second)); ok {
					s.Recovered++
					s.Recovery.add(t.Sub(f.Up))
				}
			}
		}
	}
	return s
}

// analysisEvent is one row of the analysis database's events table.
type analysisEvent struct {
	time    time.Time
	address string
	state   string
	source  string
}

func readAnalysisEvents(ctx context.Context, path string) ([]analysisEvent, error) {
	db, err := store.OpenReadOnly(ctx, path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT time, address, state, source_node FROM events ORDER BY time`)
	if err != nil {
		return nil, fmt.Errorf("read events of %s: %w", path, err)
	}
	defer rows.Close()
	var out []analysisEvent
	for rows.Next() {
		var e analysisEvent
		var t float64
		if err := rows.Scan(&t, &e.address, &e.state, &e.source); err != nil {
			return nil, fmt.Errorf("read events of %s: %w", path, err)
		}
		e.time = store.FromEpoch(t)
		out = append(out, e)
	}
	return out, rows.Err()
}

// firstEvent returns the time of source's first event about address in
// state within [from, to].
func firstEvent(evs []analysisEvent, source, address, state string, from, to time.Time) (time.Time, bool) {
	for _, e := range evs {
		if e.source == source && e.address == address && e.state == state && !e.time.Before(from) && !e.time.After(to) {
			return e.time, true
		}
	}
	return time.Time{}, false
}

// Text is the one-paragraph summary printed at the end of a run.
func (s Summary) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Ran %s with %d nodes (%d stable, %d dynamic), seed %d. ", s.Duration, s.Nodes, s.Nodes-s.Dynamic, s.Dynamic, s.Seed)
	fmt.Fprintf(&b, "At the end %d/%d stable and %d/%d dynamic (agent, target) pairs answered. ",
		s.StablePairs.Good, s.StablePairs.Total, s.DynamicPairs.Good, s.DynamicPairs.Total)
	switch {
	case s.Dynamic == 0:
		b.WriteString("Without dynamic nodes no link was cut. ")
	case s.Cuts == 0:
		b.WriteString("No link was cut yet (the first cuts come after 15 s or more). ")
	default:
		fmt.Fprintf(&b, "%d link cuts were injected; the agents detected %d of %d (agent, cut) pairs", s.Cuts, s.Detected, s.Expected)
		if s.Detected > 0 {
			fmt.Fprintf(&b, ", mean detection latency %s (min %s, max %s)", ms(s.Detection.Mean), ms(s.Detection.Min), ms(s.Detection.Max))
		}
		if s.Recovered > 0 {
			fmt.Fprintf(&b, ", and saw restored links answer again after %s on average", ms(s.Recovery.Mean))
		}
		b.WriteString(". ")
	}
	fmt.Fprintf(&b, "%d down events were recorded in all. ", s.DownEvents)
	if s.Analysis != "" {
		fmt.Fprintf(&b, "Analysis database: %s (%d node_history rows from %d agents).", s.Analysis, s.Rows, s.Agents)
	} else {
		fmt.Fprintf(&b, "No analysis database was written; the databases are in %s.", s.RunDir)
	}
	return b.String()
}

// ms rounds d for reading.
func ms(d time.Duration) time.Duration { return d.Round(10 * time.Millisecond) }
