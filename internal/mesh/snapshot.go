package mesh

import (
	"errors"
)

// buildSnapshot assembles the nodes and agents of one moment. reg is the
// registry (nil when unreadable: then the agents' own me rows name them).
func buildSnapshot(now float64, reg []RegistryRow, regErr error, dbs []*workingDB, views []*View) *Snapshot {
	s := &Snapshot{Time: now}
	if regErr != nil {
		s.RegErr = regErr.Error()
	}
	known := make(map[string]bool, len(reg))
	all := append([]RegistryRow(nil), reg...)
	for _, r := range reg {
		known[r.Address] = true
	}
	// An agent whose address is not in the registry still shows, after
	// the registry's nodes of its kind.
	for _, v := range views {
		if v.Node.Address != "" && !known[v.Node.Address] {
			known[v.Node.Address] = true
			all = append(all, RegistryRow{Node: v.Node})
		}
	}
	all = order(all)
	s.Registry = all
	s.Nodes = make([]Node, len(all))
	for i, r := range all {
		s.Nodes[i] = r.Node
	}
	s.index()
	// One view per node: the first database naming it wins; a second one
	// for the same agent is reported rather than hidden.
	viewOf := map[int]*View{}
	for i, v := range views {
		w := dbs[i]
		if v.Node.Address == "" {
			if !(w.dirScan && (errors.Is(w.err, errNoMe) || errors.Is(w.err, errNoTargets))) {
				s.Lost = append(s.Lost, Lost{Label: w.label, Reason: v.Reason})
			}
			continue
		}
		n := s.byAddr[v.Node.Address]
		if _, dup := viewOf[n]; dup {
			s.Lost = append(s.Lost, Lost{Label: w.label, Reason: "a second working database of agent " + v.Node.Name})
			continue
		}
		viewOf[n] = v
	}
	for i := range s.Nodes {
		if v, ok := viewOf[i]; ok {
			s.Rows = append(s.Rows, i)
			s.Views = append(s.Views, v)
		}
	}
	s.index()
	return s
}
