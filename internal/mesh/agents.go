package mesh

// AgentInfo is one registry node and its agent (an /api/v1/agents entry).
type AgentInfo struct {
	Name      string   `json:"name"`
	Address   string   `json:"address"`
	Stable    bool     `json:"stable"`
	Run       bool     `json:"run"`
	Running   bool     `json:"running"`
	PID       int      `json:"pid"`
	Heartbeat *float64 `json:"heartbeat"`
	URL       *string  `json:"url"`
	Working   string   `json:"working"` // available, unavailable, or none (no working database)
	State     string   `json:"state"`   // running, stopped, unavailable, or none
	Reason    string   `json:"reason,omitempty"`
}

// Agents lists every node with what is known of its agent, in API order.
func (s *Service) Agents() []AgentInfo {
	snap := s.Snapshot()
	out := make([]AgentInfo, 0, len(snap.Nodes))
	for i, n := range snap.Nodes {
		d := agentDetail(snap, i, s.mode)
		a := AgentInfo{Name: n.Name, Address: n.Address, Stable: n.Stable, Run: d.Run, Running: d.Running, PID: d.PID,
			Heartbeat: d.Heartbeat, URL: d.URL, State: d.State, Reason: d.Reason, Working: "none"}
		switch d.State {
		case StateUnavailable:
			a.Working = "unavailable"
		case StateRunning, StateStopped:
			a.Working = "available"
		}
		out = append(out, a)
	}
	return out
}
