package mesh

import (
	"context"
	"math"
)

// Cell states of Mesh.State, one byte per cell.
const (
	CellUp     = 'u' // the last counted probe was answered
	CellDown   = 'd' // it failed
	CellNever  = 'n' // probed, never answered yet
	CellNoData = '-' // the agent has no row or no sample for this target
	CellStale  = 's' // the agent is not running
	CellSelf   = '='
)

// Mesh is agents × targets at one moment (the /api/v1/mesh object).
type Mesh struct {
	Time   float64      `json:"time"`
	Window float64      `json:"window_seconds"`
	Nodes  []Node       `json:"nodes"`
	Rows   []int        `json:"rows"`
	Cols   []int        `json:"cols"`
	Agents []AgentState `json:"agents"`
	State  string       `json:"state"`
	RTT    Floats       `json:"rtt_ms"`
	Loss   Floats       `json:"loss"`
	Since  Floats       `json:"since"`
	// LossWindow is the span the loss was actually measured over when the
	// live counters did not yet cover the whole window.
	LossWindow float64 `json:"loss_window_seconds"`
}

// AgentState is one row's agent.
type AgentState struct {
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

// newMesh allocates a mesh of s's agents × every node.
func newMesh(s *Snapshot, at, window float64) *Mesh {
	m := &Mesh{Time: round3(at), Window: window, Nodes: s.Nodes, Rows: s.Rows, Cols: make([]int, len(s.Nodes)),
		Agents: make([]AgentState, len(s.Rows))}
	if m.Rows == nil {
		m.Rows = []int{}
	}
	if m.Nodes == nil {
		m.Nodes = []Node{}
	}
	for i := range m.Cols {
		m.Cols[i] = i
	}
	n := len(m.Rows) * len(m.Cols)
	m.RTT, m.Loss, m.Since = make(Floats, n), make(Floats, n), make(Floats, n)
	for i := 0; i < n; i++ {
		m.RTT[i], m.Loss[i], m.Since[i] = nan, nan, nan
	}
	return m
}

// liveMesh builds the mesh from the working databases' targets rows.
func liveMesh(s *Snapshot, book lossBook, window float64) *Mesh {
	m := newMesh(s, s.Time, window)
	state := make([]byte, len(m.Rows)*len(m.Cols))
	m.LossWindow = window
	for r, ni := range m.Rows {
		v := s.Views[r]
		m.Agents[r] = AgentState{State: v.State, Reason: v.Reason}
		loss, full := book.losses(v, s.Time, window)
		if !full && v.State != StateUnavailable {
			m.LossWindow = math.Min(m.LossWindow, lossCovered(book, v, s.Time))
		}
		base := r * len(m.Cols)
		for c, nj := range m.Cols {
			k := base + c
			if ni == nj {
				state[k] = CellSelf
				continue
			}
			row, ok := v.row(s.Nodes[nj].Address)
			if !ok || v.State == StateUnavailable {
				state[k] = CellNoData
				continue
			}
			state[k] = cellOf(row)
			if v.State != StateRunning {
				state[k] = CellStale
			}
			m.RTT[k] = round3(row.RTTLastMS)
			m.Loss[k] = loss[v.byAddr[row.Address]]
			if row.StateChange > 0 {
				m.Since[k] = round3(row.StateChange)
			}
		}
	}
	m.State = string(state)
	return m
}

// lossCovered is how far back the agent's loss counters reach.
func lossCovered(book lossBook, v *View, now float64) float64 {
	r := book[v.Node.Address]
	if r == nil || len(r.marks) == 0 {
		return 0
	}
	return round3(now - r.marks[0].t)
}

// cellOf applies the counting rule to a targets row.
func cellOf(r *Row) byte {
	switch {
	case r.TotalCount > 0 && r.Responded:
		return CellUp
	case r.TotalCount > 0:
		return CellDown
	case r.Sent > 0:
		return CellNever
	}
	return CellNoData
}

// staleFor is how long an agent may go without a sample before it counts
// as not running, given the probe interval (0: unknown).
func staleFor(interval float64) float64 {
	if interval <= 0 {
		interval = 10
	}
	return math.Max(3*interval, 10)
}

// pairAcc gathers one pair's samples for a historical mesh.
type pairAcc struct {
	sent, lost int
	rtt        float64
	seen       bool
}

// historyMesh rebuilds the mesh at time at from the samples and events:
// state and since from the last transition at or before at, RTT from the
// last answer within the window, loss over the window.
func historyMesh(ctx context.Context, s *Snapshot, h History, at, window, interval float64) (*Mesh, error) {
	m := newMesh(s, at, window)
	m.LossWindow = window
	stale := staleFor(interval)
	lookback := math.Max(window, stale)
	pairs := map[[2]string]*pairAcc{}
	lastSample := map[string]float64{}
	err := h.Samples(ctx, SampleFilter{From: at - lookback, To: at}, func(sm Sample) {
		k := [2]string{sm.Source, sm.Target}
		p := pairs[k]
		if p == nil {
			p = &pairAcc{rtt: nan}
			pairs[k] = p
		}
		p.seen = true
		lastSample[sm.Source] = math.Max(lastSample[sm.Source], sm.Time)
		if sm.Time <= at-window {
			return
		}
		p.sent++
		if sm.Answered {
			p.rtt = sm.RTTMS
		} else {
			p.lost++
		}
	})
	if err != nil {
		return nil, err
	}
	ps, err := h.PairStates(ctx, at)
	if err != nil {
		return nil, err
	}
	states := make(map[[2]string]PairState, len(ps))
	for _, p := range ps {
		states[[2]string{p.Source, p.Target}] = p
	}
	state := make([]byte, len(m.Rows)*len(m.Cols))
	for r, ni := range m.Rows {
		src := s.Nodes[ni].Address
		running := at-lastSample[src] <= stale
		m.Agents[r] = AgentState{State: StateStopped}
		if running {
			m.Agents[r].State = StateRunning
		}
		base := r * len(m.Cols)
		for c, nj := range m.Cols {
			k := base + c
			dst := s.Nodes[nj].Address
			if ni == nj {
				state[k] = CellSelf
				continue
			}
			key := [2]string{src, dst}
			p, sampled := pairs[key]
			st, known := states[key]
			switch {
			case known && st.Up:
				state[k] = CellUp
			case known:
				state[k] = CellDown
			case sampled:
				state[k] = CellNever
			default:
				state[k] = CellNoData
			}
			if !running && state[k] != CellNoData {
				state[k] = CellStale
			}
			if known {
				m.Since[k] = round3(st.Since)
			}
			if sampled {
				m.RTT[k] = round3(p.rtt)
				if p.sent > 0 {
					m.Loss[k] = round3(float64(p.lost) / float64(p.sent))
				}
			}
		}
	}
	m.State = string(state)
	return m, nil
}
