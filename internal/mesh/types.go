package mesh

import (
	"errors"
	"math"
)

// ErrNotFound reports an unknown node or pair.
var ErrNotFound = errors.New("not found")

// ErrReadOnly reports a control request to a source that cannot write.
var ErrReadOnly = errors.New("read-only")

// Modes of a Service.
const (
	ModeLive   = "live"
	ModeReplay = "replay"
)

// Agent states.
const (
	StateRunning     = "running"
	StateStopped     = "stopped"
	StateUnavailable = "unavailable"
)

// Node is a registry row as the API names it.
type Node struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Stable  bool   `json:"stable"`
}

// RegistryRow is a registry row with what the orchestrator and the agent
// say about the agent.
type RegistryRow struct {
	Node
	Run       bool
	Running   bool
	PID       int
	Heartbeat float64 // epoch seconds; 0 if none
	URL       string  // the agent's HTTP API; "" if none
}

// Row is one targets row of a working database (not the me row).
type Row struct {
	Address             string
	Name                string
	Stable              bool
	Responded           bool
	SampleTime          float64
	TotalCount          int64
	TotalSuccess        int64
	Sent                int64
	Received            int64
	RTTLastMS           float64 // NaN when none
	RTTAvgMS            float64 // NaN when none
	ConsecutiveFailures int64
	StateChange         float64 // 0 when none
}

// View is one working database as read at one moment: the agent it
// belongs to (its me row) and its targets rows.
type View struct {
	Node      Node   // from the me row
	State     string // StateRunning, StateStopped or StateUnavailable
	Reason    string // why unavailable
	Heartbeat float64
	Rows      []Row // in the database's (registry) order
	byAddr    map[string]int
}

// row returns the row of target address.
func (v *View) row(address string) (*Row, bool) {
	if v == nil {
		return nil, false
	}
	i, ok := v.byAddr[address]
	if !ok {
		return nil, false
	}
	return &v.Rows[i], true
}

func (v *View) index() {
	v.byAddr = make(map[string]int, len(v.Rows))
	for i, r := range v.Rows {
		v.byAddr[r.Address] = i
	}
}

// Snapshot is the deployment at one moment: every node in API order, what
// the registry says about each, and the working database of each agent.
type Snapshot struct {
	Time     float64
	Nodes    []Node        // stable first, then dynamic, each in registry order
	Registry []RegistryRow // aligned with Nodes (zero for a node only an agent knows)
	Rows     []int         // indices into Nodes of the agents, in Nodes order
	Views    []*View       // aligned with Rows
	Lost     []Lost        // working databases not (yet) matched to a node
	RegErr   string        // why the registry could not be read ("" if it could)
	byAddr   map[string]int
	byName   map[string]int
	rowOf    map[int]int // node index -> index into Rows
}

// Lost is a working database that no node can be named for: it could not
// be read before its me row was known. Label numbers it among serve's
// arguments, never by path.
type Lost struct {
	Label  string `json:"label"`
	Reason string `json:"reason"`
}

// NodeIndex returns the index of the node with that name (the first one
// when several rows share it) or address.
func (s *Snapshot) NodeIndex(key string) (int, bool) {
	if i, ok := s.byName[key]; ok {
		return i, true
	}
	i, ok := s.byAddr[key]
	return i, ok
}

// view returns the working database view of node i, if it is an agent.
func (s *Snapshot) view(i int) (*View, bool) {
	r, ok := s.rowOf[i]
	if !ok {
		return nil, false
	}
	return s.Views[r], true
}

// index builds the lookup maps; Nodes, Rows and Views must be set.
func (s *Snapshot) index() {
	s.byAddr = make(map[string]int, len(s.Nodes))
	s.byName = make(map[string]int, len(s.Nodes))
	for i, n := range s.Nodes {
		s.byAddr[n.Address] = i
		if _, ok := s.byName[n.Name]; !ok {
			s.byName[n.Name] = i
		}
	}
	s.rowOf = make(map[int]int, len(s.Rows))
	for r, i := range s.Rows {
		s.rowOf[i] = r
	}
}

// order puts stable nodes first, then dynamic ones, each keeping its order.
func order(rows []RegistryRow) []RegistryRow {
	out := make([]RegistryRow, 0, len(rows))
	for _, stable := range []bool{true, false} {
		for _, r := range rows {
			if r.Stable == stable {
				out = append(out, r)
			}
		}
	}
	return out
}

// nullable returns nil for NaN, else v rounded to 0.001.
func nullable(v float64) *float64 {
	if math.IsNaN(v) {
		return nil
	}
	r := math.Round(v*1000) / 1000
	return &r
}

// roundTo rounds v to n decimals.
func roundTo(v float64, n int) float64 {
	p := math.Pow(10, float64(n))
	return math.Round(v*p) / p
}
