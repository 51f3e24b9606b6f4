package lab

import (
	"net/netip"
	"time"

	"github.com/pmonitor/pmonitor/internal/report"
)

// Matrix is who sees whom at one moment: every agent's view of its
// targets, as its working database says.
type Matrix struct {
	Time   time.Time
	Agents []View // in Nodes order
}

// View is one agent's view of its targets.
type View struct {
	Node    Node         // the agent's node
	Running bool         // its process has not exited
	Rows    []report.Row // every target it probes (report.All), in registry order
	Err     error        // why Rows could not be read (e.g. not created yet); nil when fine
}

// Count applies the original status queries to the view's rows: good
// targets answered their last counted probe, total ones have answered once.
func (v View) Count(stableOnly bool) report.Count {
	var c report.Count
	for _, r := range v.Rows {
		if stableOnly && !r.Stable {
			continue
		}
		if r.TotalCount > 0 {
			c.Total++
		}
		if r.Responded {
			c.Good++
		}
	}
	return c
}

// Row returns the view's row for the target at addr.
func (v View) Row(addr netip.Addr) (report.Row, bool) {
	for _, r := range v.Rows {
		if a, err := netip.ParseAddr(r.Address); err == nil && a == addr {
			return r, true
		}
	}
	return report.Row{}, false
}

// Seen reports how many agents see the target at addr answering (their
// last counted probe was answered) among the agents that probe it.
func (m Matrix) Seen(addr netip.Addr) (good, total int) {
	for _, v := range m.Agents {
		if r, ok := v.Row(addr); ok {
			total++
			if r.Responded {
				good++
			}
		}
	}
	return good, total
}

// Pairs sums Count over the agents: how many (agent, target) pairs answer
// among those that have answered once.
func (m Matrix) Pairs(stableOnly bool) report.Count {
	var c report.Count
	for _, v := range m.Agents {
		vc := v.Count(stableOnly)
		c.Good += vc.Good
		c.Total += vc.Total
	}
	return c
}

// Failing lists the pairs that do not answer, as "agent→target" (node
// names), plus "agent: error" for unreadable views. Empty means every agent
// sees every target answering.
func (m Matrix) Failing() []string {
	var out []string
	for _, v := range m.Agents {
		if v.Err != nil || v.Rows == nil {
			out = append(out, v.Node.Name+": no data yet")
			continue
		}
		for _, r := range v.Rows {
			if !r.Responded {
				out = append(out, v.Node.Name+"→"+r.Name)
			}
		}
	}
	return out
}

// Converged reports whether every agent sees every other node answering:
// all nodes but its own address in its rows, none failing.
func (m Matrix) Converged(nodes int) bool {
	for _, v := range m.Agents {
		if len(v.Rows) != nodes-1 {
			return false
		}
	}
	return len(m.Failing()) == 0
}
