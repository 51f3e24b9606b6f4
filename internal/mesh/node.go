package mesh

import (
	"context"
	"slices"
)

// NodeDetail is one node: its agent, its status list and counts, its row
// and column of the mesh, its events (the /api/v1/nodes/{name} object).
type NodeDetail struct {
	Node    Node        `json:"node"`
	Agent   AgentDetail `json:"agent"`
	Status  NodeStatus  `json:"status"`
	Targets []TargetRow `json:"targets"`
	Last    []LastRow   `json:"last"`
	Row     MeshLine    `json:"row"`
	Column  MeshLine    `json:"column"`
	Events  []Event     `json:"events"`
}

// AgentDetail is what the registry and the working database say of a
// node's agent.
type AgentDetail struct {
	State     string   `json:"state"` // running, stopped, unavailable, or none (no working database)
	Reason    string   `json:"reason,omitempty"`
	Run       bool     `json:"run"`
	Running   bool     `json:"running"`
	PID       int      `json:"pid"`
	Heartbeat *float64 `json:"heartbeat"`
	URL       *string  `json:"url"`
}

// NodeStatus is the original status queries on the node's working database.
type NodeStatus struct {
	All    Count `json:"all"`
	Stable Count `json:"stable"`
}

// TargetRow is one row of the node's status list.
type TargetRow struct {
	Name                string   `json:"name"`
	Address             string   `json:"address"`
	Stable              bool     `json:"stable"`
	Responded           bool     `json:"responded"`
	SampleTime          float64  `json:"sample_time"`
	TotalCount          int64    `json:"total_count"`
	TotalSuccess        int64    `json:"total_success"`
	RTTLastMS           *float64 `json:"rtt_last_ms"`
	RTTAvgMS            *float64 `json:"rtt_avg_ms"`
	ConsecutiveFailures int64    `json:"consecutive_failures"`
}

// LastRow is one answer of the original "last five" query.
type LastRow struct {
	Name       string  `json:"name"`
	Responded  bool    `json:"responded"`
	SampleTime float64 `json:"sample_time"`
}

// MeshLine is a node's row (as sender: Cols) or column (as target: Rows).
type MeshLine struct {
	Cols  []string `json:"cols,omitempty"`
	Rows  []string `json:"rows,omitempty"`
	State string   `json:"state"`
	RTT   Floats   `json:"rtt_ms"`
}

// NodeEvents is how many events NodeDetail carries.
const NodeEvents = 50

// Node returns the node named key (or with that address), ErrNotFound if
// there is none.
func (s *Service) Node(ctx context.Context, key string) (*NodeDetail, error) {
	snap := s.Snapshot()
	i, ok := snap.NodeIndex(key)
	if !ok {
		return nil, ErrNotFound
	}
	m, err := s.Mesh(ctx, -1, 0)
	if err != nil {
		return nil, err
	}
	n := snap.Nodes[i]
	d := &NodeDetail{Node: n, Agent: agentDetail(snap, i, s.mode), Targets: []TargetRow{}, Last: []LastRow{}}
	if v, ok := snap.view(i); ok {
		d.Status = NodeStatus{All: v.count(false), Stable: v.count(true)}
		for _, r := range v.Rows {
			d.Targets = append(d.Targets, TargetRow{Name: r.Name, Address: r.Address, Stable: r.Stable, Responded: r.Responded,
				SampleTime: round3(r.SampleTime), TotalCount: r.TotalCount, TotalSuccess: r.TotalSuccess,
				RTTLastMS: nullable(r.RTTLastMS), RTTAvgMS: nullable(r.RTTAvgMS), ConsecutiveFailures: r.ConsecutiveFailures})
		}
		// SELECT name, responded FROM targets ORDER BY sample_time DESC LIMIT 5
		last := slices.Clone(v.Rows)
		slices.SortStableFunc(last, func(a, b Row) int {
			switch {
			case a.SampleTime > b.SampleTime:
				return -1
			case a.SampleTime < b.SampleTime:
				return 1
			}
			return 0
		})
		for _, r := range last[:min(5, len(last))] {
			d.Last = append(d.Last, LastRow{Name: r.Name, Responded: r.Responded, SampleTime: round3(r.SampleTime)})
		}
	}
	d.Row, d.Column = meshLines(m, i)
	d.Events, err = s.Events(ctx, EventFilter{Node: n.Name, Limit: NodeEvents}, "")
	if err != nil {
		return nil, err
	}
	return d, nil
}

// meshLines cuts node i's row and column out of m.
func meshLines(m *Mesh, i int) (row, col MeshLine) {
	row = MeshLine{Cols: []string{}, RTT: Floats{}}
	col = MeshLine{Rows: []string{}, RTT: Floats{}}
	var rs, cs []byte
	for r, ni := range m.Rows {
		for c, nj := range m.Cols {
			k := r*len(m.Cols) + c
			if ni == i {
				row.Cols = append(row.Cols, m.Nodes[nj].Name)
				rs = append(rs, m.State[k])
				row.RTT = append(row.RTT, m.RTT[k])
			}
			if nj == i {
				col.Rows = append(col.Rows, m.Nodes[ni].Name)
				cs = append(cs, m.State[k])
				col.RTT = append(col.RTT, m.RTT[k])
			}
		}
	}
	row.State, col.State = string(rs), string(cs)
	return row, col
}

func agentDetail(snap *Snapshot, i int, mode string) AgentDetail {
	r := snap.Registry[i]
	a := AgentDetail{State: "none", Run: r.Run, Running: r.Running, PID: r.PID}
	if r.Heartbeat > 0 {
		hb := round3(r.Heartbeat)
		a.Heartbeat = &hb
	}
	if r.URL != "" && mode == ModeLive {
		u := r.URL
		a.URL = &u
	}
	if v, ok := snap.view(i); ok {
		a.State, a.Reason = v.State, v.Reason
		// The agent beats in its working database at every write and in the
		// registry less often: show the newer.
		if v.Heartbeat > 0 && (a.Heartbeat == nil || v.Heartbeat > *a.Heartbeat) {
			hb := round3(v.Heartbeat)
			a.Heartbeat = &hb
		}
	}
	return a
}
