package mesh

// Count is good of total (agent, target) pairs with the original
// semantics: total have answered once (total_count > 0), good answered
// their last counted probe.
type Count struct {
	Good  int `json:"good"`
	Total int `json:"total"`
}

// Now is the deployment's counts at one moment.
type Now struct {
	Stable        Count `json:"stable"`
	Dynamic       Count `json:"dynamic"`
	Agents        int   `json:"agents"`
	AgentsRunning int   `json:"agents_running"`
	LinksDown     int   `json:"links_down"`
}

// Range is the extent of the samples history.
type Range struct {
	From float64 `json:"from"`
	To   float64 `json:"to"`
}

// Summary is the /api/v1/summary object without its series and events
// (the stream's summary event).
type Summary struct {
	Time       float64  `json:"time"`
	Mode       string   `json:"mode"`
	Range      Range    `json:"range"`
	Interval   *float64 `json:"interval_seconds"`
	Now        Now      `json:"now"`
	Generation uint64   `json:"generation"`
	// RegistryError says why the registry could not be read (live mode);
	// the agents' own rows are shown meanwhile.
	RegistryError string `json:"registry_error,omitempty"`
	// Lost lists the working databases no node could be named for.
	Lost []Lost `json:"lost,omitempty"`
}

// countNow sums the original queries over every readable working database.
func countNow(s *Snapshot) Now {
	n := Now{Agents: len(s.Views)}
	for _, v := range s.Views {
		if v.State == StateRunning {
			n.AgentsRunning++
		}
		if v.State == StateUnavailable {
			continue
		}
		for i := range v.Rows {
			r := &v.Rows[i]
			c := &n.Dynamic
			if r.Stable {
				c = &n.Stable
			}
			if r.TotalCount > 0 {
				c.Total++
				if !r.Responded {
					n.LinksDown++
				}
			}
			if r.Responded {
				c.Good++
			}
		}
	}
	return n
}

// count is one view's status: all targets or only stable ones.
func (v *View) count(stableOnly bool) Count {
	var c Count
	for i := range v.Rows {
		r := &v.Rows[i]
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
